"""metasim.train / evaluate / load_checkpoint against the command-line tool: the same config and
seed give the same checkpoint bytes and summary figures, the evaluation the same JSON, and the
checkpoint's arrays load into NumPy with the values the tool's run holds."""

import json
import os
import struct
import subprocess

import numpy as np
import pytest

import metasim

CLI = os.environ["METASIM_CLI"]


def cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.parametrize(
    "config,sets",
    [
        ({"iterations": 4, "meta_batch": 3, "log_every": 2}, []),
        (None, ["iterations=3", "meta_batch=2", "algorithm=reptile"]),
        (
            {"algorithm": "ppo", "env": "CartPole-v1", "n_envs": 4, "n_steps": 32,
             "batch_size": 64, "n_epochs": 2, "total_timesteps": 256, "eval": {"episodes": 3}},
            ["seed=5"],
        ),
        (
            {"algorithm": "rl2", "task_family": "tabular-mdp", "model": {"hidden": 8},
             "meta_batch": 8, "ppo": {"minibatches": 2}, "mdp": {"episodes": 2}, "iterations": 3},
            ["seed=4"],
        ),
    ],
)
def test_train_and_evaluate_match_the_tool(tmp_path, config, sets):
    summary = metasim.train(config, tmp_path / "py", sets=sets)
    args = ["train", "--quiet", "--out", str(tmp_path / "cli")]
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
        args += ["--config", str(tmp_path / "config.json")]
    for s in sets:
        args += ["--set", s]
    cli(*args)
    assert (tmp_path / "py" / "checkpoint").read_bytes() == (tmp_path / "cli" / "checkpoint").read_bytes()
    on_disk = json.loads((tmp_path / "py" / "summary.json").read_text())
    assert summary["headline"] == on_disk["headline"]
    assert summary["iterations"] == on_disk["iterations"]
    cli_summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["headline"]["value"] == cli_summary["headline"]["value"]

    ev = metasim.evaluate(tmp_path / "py", seed=11)
    ev_cli = json.loads(cli("eval", "--run", str(tmp_path / "py"), "--seed", "11", "--json"))
    for d in (ev, ev_cli):
        d.pop("seconds")
    assert ev == ev_cli

    header, arrays = metasim.load_checkpoint(tmp_path / "py" / "checkpoint")
    assert header["config"] == json.loads((tmp_path / "py" / "config.json").read_text())
    want_header, want = read_checkpoint(tmp_path / "cli" / "checkpoint")
    assert header == want_header
    assert sorted(arrays) == sorted(want) and arrays
    for name, values in arrays.items():
        assert values.dtype == np.float64
        np.testing.assert_array_equal(values, want[name])


def read_checkpoint(path):
    """The checkpoint format read directly (host/checkpoint.hpp): a magic line, a JSON line
    {"header", "arrays": [[name, size], ...]}, then the arrays' little-endian doubles."""
    with open(path, "rb") as f:
        assert f.readline().startswith(b"metasim-checkpoint 1")
        meta = json.loads(f.readline())
        arrays = {n: np.array(struct.unpack(f"<{k}d", f.read(8 * k))) for n, k in meta["arrays"]}
    return meta["header"], arrays


def test_continual_evaluation_from_python(tmp_path):
    config = {"algorithm": "oml", "model": {"hidden": [16, 16]}, "iterations": 3, "eval": {"every": 0}}
    metasim.train(config, tmp_path / "oml")
    ev = metasim.evaluate(tmp_path / "oml", runs=2, learner="iid", epochs=2, tasks=4, seed=3)
    ev_cli = json.loads(cli("eval", "--run", str(tmp_path / "oml"), "--runs", "2", "--learner", "iid",
                            "--epochs", "2", "--tasks", "4", "--seed", "3", "--json"))
    for d in (ev, ev_cli):
        d.pop("seconds")
    assert ev == ev_cli
    assert ev["kind"] == "continual" and len(ev["mse_after_functions"]) == 4
    with pytest.raises(TypeError, match="runs"):
        metasim.evaluate(tmp_path / "oml", runs=1.5)
    with pytest.raises(ValueError, match="learner"):
        metasim.evaluate(tmp_path / "oml", learner="replay")


def test_resume_and_tensorboard_from_python(tmp_path):
    metasim.train({"iterations": 2, "meta_batch": 2}, tmp_path / "run", tensorboard=tmp_path / "tb")
    s = metasim.train(None, tmp_path / "run", sets=["iterations=4"], resume=True,
                      tensorboard=tmp_path / "tb")
    assert s["iterations"] == 4
    assert len([f for f in os.listdir(tmp_path / "tb") if "tfevents" in f]) == 1


def test_bad_input_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="inner.lr"):
        metasim.train({"inner": {"lr": -1}}, tmp_path / "bad")
    assert not (tmp_path / "bad" / "checkpoint").exists()
    with pytest.raises(ValueError, match="out"):
        metasim.train({})
    with pytest.raises(TypeError, match="config"):
        metasim.train(3, tmp_path / "x")
    metasim.train({"iterations": 1, "meta_batch": 2}, tmp_path / "ok")
    with pytest.raises(ValueError, match="episodes"):
        metasim.evaluate(tmp_path / "ok", episodes=3)  # a supervised run takes no episodes
    with pytest.raises(TypeError, match="tasks"):
        metasim.evaluate(tmp_path / "ok", tasks="many")
    with pytest.raises(ValueError, match="checkpoint"):
        metasim.load_checkpoint(tmp_path / "ok" / "config.json")
