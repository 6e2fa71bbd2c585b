"""torchrun with 2 CPU processes (gloo): the joint stage runs under DistributedDataParallel (~15 s)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from protoecg.bundle import load_bundle
from protoecg.training.toydata import make_toy_ptbxl, write_ptbxl_dir


def test_torchrun_two_processes(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    cli = Path(sys.executable).parent / "protoecg"
    if not torchrun.exists() or not cli.exists():
        pytest.skip("torchrun / protoecg entry points not installed in this environment")
    data_dir = write_ptbxl_dir(make_toy_ptbxl(80, seed=1), tmp_path / "ptbxl")
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", str(cli), "train", "--ptbxl", str(data_dir),
           "--out", str(run), "--preset", "tiny", "--threads", "1", "--boot", "10", "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # both ranks trained the joint stage on half of the training set each
    assert proc.stderr.count("joint epoch 1/1") == 2
    b = load_bundle(run)
    assert b.metrics["test"]["n_test"] == 8
    assert b.predict(make_toy_ptbxl(4, seed=9).signals).probs.shape == (4, 71)
    shutil.rmtree(run)
