"""Reads a TensorBoard log directory with TensorBoard's own reader (EventAccumulator) and prints
every scalar as JSON: {"tag": [[step, value, wall_time], ...], ...}. The C++ tests compare this
with the run's metrics.jsonl."""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator

acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
out = {}
for tag in acc.Tags()["scalars"]:
    out[tag] = [[e.step, e.value, e.wall_time] for e in acc.Scalars(tag)]
print(json.dumps(out))
