"""Mamba block: pure-torch parallel scan == naive sequential recurrence; mamba_ssm weight layout; causality."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from avanomaly.models.mamba import MIN_PARALLEL_LEN, Mamba, mamba_ssm_available


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def naive_mamba(m: Mamba, x: torch.Tensor) -> torch.Tensor:
    """Step-by-step reference written from the Mamba equations (one time step at a time, explicit conv taps)."""
    B, L, _ = x.shape
    xz = x @ m.in_proj.weight.T
    u_all, z_all = xz.chunk(2, dim=-1)
    A = -torch.exp(m.A_log)
    w = m.conv1d.weight[:, 0]  # (Di, d_conv)
    h = torch.zeros(B, m.d_inner, m.d_state, dtype=x.dtype)
    ys = []
    for t in range(L):
        conv = m.conv1d.bias.clone().expand(B, -1).clone()
        for k in range(m.d_conv):  # tap k looks back d_conv-1-k steps
            src = t - (m.d_conv - 1 - k)
            if src >= 0:
                conv = conv + w[:, k] * u_all[:, src]
        u = F.silu(conv)  # (B, Di)
        dbc = u @ m.x_proj.weight.T
        dt, Bt, Ct = torch.split(dbc, [m.dt_rank, m.d_state, m.d_state], dim=-1)
        dt = F.softplus(dt @ m.dt_proj.weight.T + m.dt_proj.bias)  # (B, Di)
        h = torch.exp(dt[..., None] * A) * h + dt[..., None] * Bt[:, None, :] * u[..., None]
        y = (h * Ct[:, None, :]).sum(-1) + m.D * u
        ys.append((y * F.silu(z_all[:, t])) @ m.out_proj.weight.T)
    return torch.stack(ys, dim=1)


@pytest.mark.parametrize("L", [1, 3, 4, 13, 32])
def test_parallel_scan_equals_naive_recurrence_float64(L):
    torch.manual_seed(L)
    m = Mamba(d_model=8, d_state=4, d_conv=4, expand=2).double()
    with torch.no_grad():  # make the dynamics non-trivial (larger steps, random A)
        m.A_log.add_(torch.rand_like(m.A_log))
        m.dt_proj.bias.add_(1.0)
    x = torch.randn(2, L, 8, dtype=torch.float64)
    with torch.no_grad():
        ref = naive_mamba(m, x)
        par = m(x)
        m.scan = "sequential"
        seq = m(x)
    assert par.shape == (2, L, 8)
    assert torch.allclose(par, ref, atol=1e-5, rtol=0)
    assert torch.allclose(seq, ref, atol=1e-10, rtol=0)


def test_parallel_and_sequential_gradients_agree():
    torch.manual_seed(0)
    m = Mamba(d_model=8, d_state=4).double()
    x = torch.randn(2, 11, 8, dtype=torch.float64, requires_grad=True)
    grads = []
    for scan in ("parallel", "sequential"):
        m.scan = scan
        m.zero_grad()
        x.grad = None
        (m(x) ** 2).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-8)


def test_causal():
    torch.manual_seed(1)
    m = Mamba(d_model=8).eval()
    x = torch.randn(1, 16, 8)
    with torch.no_grad():
        y = m(x)
        x2 = x.clone()
        x2[:, 9:] = torch.randn(1, 7, 8)
        y2 = m(x2)
    assert torch.allclose(y[:, :9], y2[:, :9], atol=1e-6) and not torch.allclose(y[:, 9:], y2[:, 9:])


def test_weight_layout_is_mamba_ssm():
    """Names and shapes of mamba_ssm.Mamba(d_model=16, d_state=8, d_conv=4, expand=2) (mamba_simple.py)."""
    m = Mamba(d_model=16, d_state=8, d_conv=4, expand=2)
    di, r = 32, 1  # d_inner = expand * d_model; dt_rank = ceil(d_model / 16)
    expected = {"A_log": (di, 8), "D": (di,), "in_proj.weight": (2 * di, 16), "conv1d.weight": (di, 1, 4),
                "conv1d.bias": (di,), "x_proj.weight": (r + 2 * 8, di), "dt_proj.weight": (di, r),
                "dt_proj.bias": (di,), "out_proj.weight": (16, di)}
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == expected
    assert torch.allclose(F.softplus(m.dt_proj.bias), F.softplus(m.dt_proj.bias).clamp(1e-3, 1e-1), atol=1e-6)


def test_scan_runs_in_float32_under_bfloat16():
    torch.manual_seed(2)
    m = Mamba(d_model=8).eval()
    x = torch.randn(1, 20, 8)
    with torch.no_grad():
        ref = m(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = m(x)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    assert (y.float() - ref).abs().max() < 0.05 * ref.abs().max()


@pytest.mark.skipif(not (torch.cuda.is_available() and mamba_ssm_available()), reason="needs CUDA and mamba_ssm")
def test_cuda_kernels_match_pure_torch():
    torch.manual_seed(0)
    m = Mamba(d_model=32).cuda()
    x = torch.randn(2, 50, 32, device="cuda")
    with torch.no_grad():
        fast = m(x)
        ref = m._forward_torch(x)
    assert torch.allclose(fast, ref, atol=1e-3)


def test_without_mambapy_the_parallel_scan_names_its_extra_and_the_loop_still_works(monkeypatch):
    """mambapy is optional (the ``mambapy`` extra): building a parallel-scan block without it is a
    MissingDependencyError with the pip line; the sequential scan needs nothing."""
    import sys

    from avanomaly.errors import MissingDependencyError
    from avanomaly.models.mamba import MAMBAPY_EXTRA

    monkeypatch.setitem(sys.modules, "mambapy", None)
    monkeypatch.setitem(sys.modules, "mambapy.pscan", None)
    with pytest.raises(MissingDependencyError, match=rf"avanomaly\[{MAMBAPY_EXTRA}\]"):
        Mamba(8, use_cuda_kernels=False)
    x = torch.randn(1, 2 * MIN_PARALLEL_LEN, 8)
    assert Mamba(8, scan="sequential", use_cuda_kernels=False)(x).shape == x.shape
