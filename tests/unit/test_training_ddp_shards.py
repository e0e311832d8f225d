"""2-process CPU DDP (gloo) training streamed from a shard store (issue 25), launched as a user would: a script
whose second rank Lightning starts by re-running it; each rank streams its own shards."""

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
    import os, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_shards import fill_cache
    from test_training import tiny_cfg
    from avanomaly.data.shards import cache_to_shards
    from avanomaly.training.train import train

    if os.environ.get("LOCAL_RANK", "0") == "0":  # rank 0 writes the stores before it starts rank 1
        cache_to_shards(fill_cache({tmp!r} + "/train", n=6, prefix="t"), {tmp!r} + "/train_store", clips_per_shard=2)
        cache_to_shards(fill_cache({tmp!r} + "/val", n=2, seed=2, prefix="v"), {tmp!r} + "/val_store")
    cfg = tiny_cfg({out!r}, "trainer.devices=2", "trainer.strategy=ddp", "stage1.windows_per_epoch=32",
                   "stage2.windows_per_epoch=32", "data.shards=" + {tmp!r} + "/train_store",
                   "data.val_shards=" + {tmp!r} + "/val_store", "data.streaming=true")
    res = train(cfg)
    print("RANK_DONE", res.model_path)
    """
)


@pytest.mark.slow
def test_two_process_cpu_ddp_trains_from_shards(tmp_path):
    out = tmp_path / "run"
    script = tmp_path / "ddp_shards.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(__file__), out=str(out), tmp=str(tmp_path)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PL_DISABLE_FORK="1")
    for var in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    assert proc.stdout.count("RANK_DONE") == 2
    rows = read_metrics(out / "metrics.csv")
    assert [(r["stage"], r["epoch"]) for r in rows] == [("stage1", "0"), ("stage1", "1"), ("stage2", "0"),
                                                         ("stage2", "1")]
    # 32 windows/epoch over 2 ranks (16 each, from disjoint shards) x batch 8 = 2 optimizer steps per epoch
    ckpt = torch.load(out / "stage2" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert (out / "model.pt").is_file()
