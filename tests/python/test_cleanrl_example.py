"""The CleanRL-style PyTorch PPO example (examples/python/cleanrl_ppo.py): its tensors share
metasim's buffers (observations, rewards and flags as tensors over the same memory, actions
passed to metasim as the policy's tensor), and with CleanRL's CartPole hyperparameters (4 envs,
5e5 steps) it reaches a mean return of at least 475 in its last iteration's episodes, as CleanRL's
own ppo.py does on Gymnasium's CartPole."""

import json
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import torch

import metasim

SOURCE = pathlib.Path(os.environ.get("METASIM_SOURCE_DIR", pathlib.Path(__file__).parents[2]))


def test_tensors_share_metasims_buffers():
    env = metasim.make_vec("CartPole-v1", num_envs=8)
    obs, _ = env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.from_numpy(obs)
    assert t.data_ptr() == obs.__array_interface__["data"][0]
    before = t.clone()
    actions = torch.ones(8, dtype=torch.int32)
    env.step(actions)  # the tensor itself, through DLPack
    assert not torch.equal(before, t)  # the step wrote into the memory the tensor views
    np.testing.assert_array_equal(t.numpy(), env.step(actions)[0])
    try:
        env.step(torch.ones(8, dtype=torch.int64))
    except ValueError as e:
        assert "must be int32, got int64" in str(e)
    else:
        raise AssertionError("an int64 tensor was taken (it would need a copy)")


def test_cleanrl_style_ppo_reaches_475():
    out = subprocess.run(
        [sys.executable, str(SOURCE / "examples" / "python" / "cleanrl_ppo.py"), "--quiet"],
        check=True, capture_output=True, text=True, timeout=600,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    print(summary)
    assert summary["steps"] >= 499_000 and summary["backend"] == "cpu"
    assert summary["final_mean_return"] >= 475
