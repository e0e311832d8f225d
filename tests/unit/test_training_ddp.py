"""2-process CPU DDP (gloo) training of a tiny config, launched the way a user would (a script; Lightning
starts the second rank by re-running it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from avanomaly.training.callbacks import read_metrics

SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_training import tiny_cfg
    from avanomaly.training.testing import synthetic_clips
    from avanomaly.training.train import train_on_clips

    cfg = tiny_cfg({out!r}, "trainer.devices=2", "trainer.strategy=ddp", "stage1.windows_per_epoch=32",
                   "stage2.windows_per_epoch=32")
    train = synthetic_clips(6, 30, seed=1, crop_size=16)
    val = synthetic_clips(2, 30, seed=2, crop_size=16, prefix="v")
    res = train_on_clips(cfg, train, val)
    print("RANK_DONE", res.model_path)
    """
)


@pytest.mark.slow
def test_two_process_cpu_ddp_trains(tmp_path):
    out = tmp_path / "run"
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(__file__), out=str(out)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PL_DISABLE_FORK="1")
    for var in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    assert proc.stdout.count("RANK_DONE") == 2  # both ranks finished (rank 1 returns without exporting)
    rows = read_metrics(out / "metrics.csv")
    assert [(r["stage"], r["epoch"]) for r in rows] == [("stage1", "0"), ("stage1", "1"), ("stage2", "0"),
                                                         ("stage2", "1")]
    # 32 windows/epoch over 2 ranks x batch 8 = 2 optimizer steps per epoch and rank
    ckpt = torch.load(out / "stage2" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert (out / "model.pt").is_file()
