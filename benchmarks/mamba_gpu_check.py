"""Compare avanomaly's Mamba block against mamba_ssm on CUDA (same weights, both implementations).

    python benchmarks/mamba_gpu_check.py [--d-model 128] [--length 256] [--batch 4]

Checks (1) our module's CUDA path (mamba_ssm's fused kernel) vs our pure-torch scan, (2) mamba_ssm.Mamba
loaded with our state_dict vs our pure-torch scan, forward and input gradients; prints timings.
Prints "SKIP: ..." and exits 0 when CUDA or mamba_ssm is missing.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

FWD_TOL = 2e-3  # fp32 kernel vs fp32 parallel scan (different summation order)
GRAD_TOL = 5e-3


def _time(fn, reps: int = 20) -> float:
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / reps * 1e3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("SKIP: CUDA is not available")
        return 0
    try:
        from mamba_ssm import Mamba as RefMamba
    except Exception as exc:  # noqa: BLE001
        print(f"SKIP: mamba_ssm does not import ({type(exc).__name__}: {exc})")
        return 0
    from avanomaly.models.mamba import Mamba, mamba_ssm_available

    torch.manual_seed(0)
    ours = Mamba(args.d_model).cuda()
    ref = RefMamba(d_model=args.d_model, d_state=ours.d_state, d_conv=ours.d_conv, expand=ours.expand).cuda()
    ref.load_state_dict(ours.state_dict())  # same names and shapes, or this raises
    x = torch.randn(args.batch, args.length, args.d_model, device="cuda", requires_grad=True)

    def run(fn):
        x.grad = None
        y = fn(x)
        y.square().mean().backward()
        return y.detach(), x.grad.detach().clone()

    y_torch, g_torch = run(ours._forward_torch)
    y_ref, g_ref = run(ref)
    ok = True
    rows = [("mamba_ssm.Mamba (loaded state_dict)", y_ref, g_ref)]
    if mamba_ssm_available():
        rows.append(("avanomaly Mamba, CUDA path", *run(ours)))
    for name, y, g in rows:
        dy = (y - y_torch).abs().max().item()
        dg = (g - g_torch).abs().max().item() / max(g_torch.abs().max().item(), 1e-12)
        good = dy < FWD_TOL and dg < GRAD_TOL
        ok &= good
        print(f"{name:40s} max|dy|={dy:.2e} rel max|dgrad|={dg:.2e} {'OK' if good else 'MISMATCH'}")
    with torch.no_grad():
        print(f"forward ms: pure-torch {_time(lambda: ours._forward_torch(x)):.2f}, "
              f"mamba_ssm {_time(lambda: ref(x)):.2f}  (B={args.batch}, L={args.length}, d={args.d_model})")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
