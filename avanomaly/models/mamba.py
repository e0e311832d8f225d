"""Mamba (selective state-space) block with one weight layout and two implementations.

The parameters are named and shaped exactly as in ``mamba_ssm.Mamba`` (v1/v2 ``mamba_simple.Mamba``):
``in_proj``, ``conv1d``, ``x_proj``, ``dt_proj``, ``A_log``, ``D``, ``out_proj``; a state_dict of this
module loads into ``mamba_ssm.Mamba(d_model, d_state, d_conv, expand)`` and back.

* CUDA path: when ``mamba_ssm`` imports and the input is on CUDA, the fused kernel
  ``mamba_ssm.ops.selective_scan_interface.mamba_inner_fn`` is called with these weights.
* Pure-torch path (CPU, or no mamba_ssm): causal depthwise conv + selective scan. The scan
  ``h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t`` is computed with mambapy's Blelloch parallel scan
  (``scan="parallel"``, O(log L) sequential steps) or a plain loop (``scan="sequential"``, reference).

The block is causal: output t depends on inputs <= t.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DT_MIN = 1e-3  # range of the initial step sizes (log-uniform), as in mamba_ssm
DT_MAX = 1e-1
DT_INIT_FLOOR = 1e-4
MIN_PARALLEL_LEN = 4  # the parallel scan needs >= 2 up-sweep levels; shorter sequences use the loop
#: the avanomaly extra that installs mambapy (the pure-torch parallel scan)
MAMBAPY_EXTRA = "mambapy"

try:  # optional CUDA kernels: mamba_inner_fn also needs causal_conv1d's kernel
    import causal_conv1d  # noqa: F401
    from mamba_ssm.ops.selective_scan_interface import mamba_inner_fn as _mamba_inner_fn
except Exception:  # noqa: BLE001 - any import failure means "not available"
    _mamba_inner_fn = None


def mamba_ssm_available() -> bool:
    return _mamba_inner_fn is not None


def _pscan():
    """mambapy's parallel scan (optional: the ``mambapy`` extra); MissingDependencyError with the pip line."""
    from avanomaly.utils import require_module

    return require_module("mambapy.pscan", MAMBAPY_EXTRA, "the Mamba block's parallel scan (no CUDA kernels)").pscan


class Mamba(nn.Module):
    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, dt_rank="auto",
                 conv_bias: bool = True, bias: bool = False, scan: str = "parallel", use_cuda_kernels: bool = True):
        super().__init__()
        if scan not in ("parallel", "sequential"):
            raise ValueError(f"scan must be 'parallel' or 'sequential', got {scan!r}")
        self.d_model, self.d_state, self.d_conv, self.expand = d_model, d_state, d_conv, expand
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.scan = scan
        self.use_cuda_kernels = use_cuda_kernels
        if scan == "parallel" and not (use_cuda_kernels and mamba_ssm_available()):
            _pscan()  # fail when the model is built, not at its first long-enough input

        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1,
                                bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        self._init_dt()

    def _init_dt(self) -> None:
        # same initialisation as mamba_ssm: dt_proj weight ~ U(+-rank^-0.5), softplus(bias) log-uniform in [DT_MIN, DT_MAX]
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(DT_MAX) - math.log(DT_MIN)) + math.log(DT_MIN))
        dt = dt.clamp(min=DT_INIT_FLOOR)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, L, d_model) -> (B, L, d_model)
        if x.is_cuda and self.use_cuda_kernels and _mamba_inner_fn is not None:
            return self._forward_cuda(x)
        return self._forward_torch(x)

    def _forward_cuda(self, x: torch.Tensor) -> torch.Tensor:
        xz = torch.einsum("ed,bld->bel", self.in_proj.weight, x)  # (B, 2*Di, L), layout mamba_ssm expects
        if self.in_proj.bias is not None:
            xz = xz + self.in_proj.bias[None, :, None]
        A = -torch.exp(self.A_log.float())
        return _mamba_inner_fn(xz, self.conv1d.weight, self.conv1d.bias, self.x_proj.weight, self.dt_proj.weight,
                               self.out_proj.weight, self.out_proj.bias, A, None, None, self.D.float(),
                               delta_bias=self.dt_proj.bias.float(), delta_softplus=True)  # (B, L, d_model)

    def _forward_torch(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        xz = self.in_proj(x)  # (B, L, 2*Di)
        u, z = xz.chunk(2, dim=-1)  # (B, L, Di) each
        u = F.silu(self.conv1d(u.transpose(1, 2))[..., :L].transpose(1, 2))  # causal depthwise conv, (B, L, Di)
        dbc = self.x_proj(u)  # (B, L, R + 2N)
        dt, Bm, Cm = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(self.dt_proj(dt))  # (B, L, Di)
        A = -torch.exp(self.A_log.to(u.dtype))  # (Di, N)
        y = selective_scan(u, dt, A, Bm, Cm, self.D.to(u.dtype), parallel=self.scan == "parallel")  # (B, L, Di)
        return self.out_proj(y * F.silu(z))  # (B, L, d_model)


def selective_scan(u, dt, A, Bm, Cm, D, parallel: bool = True):
    """y_t = C_t . h_t + D u_t,  h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t,  h_{-1} = 0.

    u, dt: (B, L, Di); A: (Di, N); Bm, Cm: (B, L, N); D: (Di,) -> y (B, L, Di).
    The scan runs in at least float32 (under bf16/fp16 autocast too), like mamba_ssm's kernel; y has u's dtype.
    """
    out_dtype = u.dtype
    work = torch.promote_types(u.dtype, torch.float32)
    u, dt, A, Bm, Cm, D = (t.to(work) for t in (u, dt, A, Bm, Cm, D))
    dA = torch.exp(dt.unsqueeze(-1) * A)  # (B, L, Di, N)
    dBu = dt.unsqueeze(-1) * Bm.unsqueeze(2) * u.unsqueeze(-1)  # (B, L, Di, N)
    if parallel and u.shape[1] >= MIN_PARALLEL_LEN:
        h = _pscan()(dA, dBu)  # (B, L, Di, N)
    else:
        h = _sequential_scan(dA, dBu)
    y = (h @ Cm.unsqueeze(-1)).squeeze(-1)  # (B, L, Di)
    return (y + D * u).to(out_dtype)


def _sequential_scan(dA, dBu):
    # dA, dBu: (B, L, Di, N) -> h (B, L, Di, N)
    h = torch.zeros_like(dBu[:, 0])
    hs = []
    for t in range(dBu.shape[1]):
        h = dA[:, t] * h + dBu[:, t]
        hs.append(h)
    return torch.stack(hs, dim=1)
