"""The peer that causal linear attention's training rows are compared with.

fast-transformers (Katharopoulos et al. 2020, the linear transformer's own library) ships a
C++ CPU kernel for the causal product sum_{j<=i} (q_i . k_j) v_j with its own backward.
The bench uses it when it can be imported; otherwise it falls back to the paper's causal
recurrence and the gradient the paper derives for it (its Algorithm 1), written here as
token loops in torch. Either way the peer computes what fast-transformers'
``CausalLinearAttention`` layer computes: elu+1 features, the causal product, and the
normaliser 1 / (phi(q_i) . sum_{j<=i} phi(k_j) + eps).

Building the kernel (only its CPU causal product, against the installed torch), from an
unpacked source tree of ``pytorch-fast-transformers`` (the sdist, or a git clone)::

    python -m benchmarks.peers --build path/to/pytorch-fast-transformers

The compiled module goes to ``~/.cache/lenakernel-bench/fast_transformers`` (or
``$LENAKERNEL_BENCH_CACHE``), where the bench finds it. Setting ``FAST_TRANSFORMERS_KERNEL``
to a compiled ``causal_product_cpu*.so`` also works.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = ["causal_peer", "build_fast_transformers"]

CACHE = Path(os.environ.get("LENAKERNEL_BENCH_CACHE", Path.home() / ".cache" / "lenakernel-bench")) / "fast_transformers"


def _load_kernel():
    """fast-transformers' compiled CPU causal product, or None."""
    try:
        from fast_transformers.causal_product import causal_product_cpu  # an installed package

        return causal_product_cpu
    except ImportError:
        pass
    candidates = [os.environ.get("FAST_TRANSFORMERS_KERNEL", "")] + sorted(str(p) for p in CACHE.glob(
        "causal_product_cpu*.so"))
    for path in candidates:
        if path and Path(path).exists():
            spec = importlib.util.spec_from_file_location("causal_product_cpu", path)
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except ImportError:  # built against another torch
                continue
            return module
    return None


def _kernel_product(kernel):
    class CausalProduct(torch.autograd.Function):
        """fast-transformers' CausalDotProduct: its kernel forwards and backwards."""

        @staticmethod
        def forward(ctx, q, k, v):
            ctx.save_for_backward(q, k, v)
            out = torch.zeros(q.shape[:-1] + v.shape[-1:], dtype=q.dtype, device=q.device)
            kernel.causal_dot_product(q, k, v, out)
            return out

        @staticmethod
        def backward(ctx, grad_out):
            q, k, v = ctx.saved_tensors
            grads = [torch.zeros_like(x) for x in (q, k, v)]
            kernel.causal_dot_backward(q, k, v, grad_out.contiguous(), *grads)
            return tuple(grads)

    return CausalProduct.apply


class _RecurrentProduct(torch.autograd.Function):
    """sum_{j<=i} (q_i . k_j) v_j by the paper's recurrence, and its gradient (Algorithm 1).

    Forward: S_i = S_{i-1} + k_i v_i^T, out_i = S_i^T q_i. Backward: dq_i = S_i g_i (the
    same sweep), then a reverse sweep with R_i = R_{i+1} + q_i g_i^T gives dk_i = R_i v_i and
    dv_i = R_i^T k_i. Each sweep holds one d x d_v state: O(n) time, O(1) extra memory.
    """

    @staticmethod
    def forward(ctx, q, k, v):
        ctx.save_for_backward(q, k, v)
        state = q.new_zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))
        out = q.new_empty(q.shape[:-1] + v.shape[-1:])
        for i in range(q.shape[-2]):
            state += k[..., i, :, None] * v[..., i, None, :]
            out[..., i, :] = (q[..., i, None, :] @ state)[..., 0, :]
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v = ctx.saved_tensors
        grad_q, grad_k, grad_v = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        state = q.new_zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))
        for i in range(q.shape[-2]):
            state += k[..., i, :, None] * v[..., i, None, :]
            grad_q[..., i, :] = (state @ grad_out[..., i, :, None])[..., 0]
        state.zero_()
        for i in range(q.shape[-2] - 1, -1, -1):
            state += q[..., i, :, None] * grad_out[..., i, None, :]
            grad_k[..., i, :] = (state @ v[..., i, :, None])[..., 0]
            grad_v[..., i, :] = (k[..., i, None, :] @ state)[..., 0, :]
        return grad_q, grad_k, grad_v


def causal_peer():
    """(name, fn): the best peer available here; ``fn(q, k, v)`` is causal linear attention, elu+1."""
    kernel = _load_kernel()
    product = _kernel_product(kernel) if kernel is not None else _RecurrentProduct.apply
    name = ("fast-transformers (C++ CPU kernel)" if kernel is not None
            else "the paper's recurrence and its gradient (torch loops)")

    def attention(q, k, v, eps=1e-6):
        fq, fk = F.elu(q) + 1, F.elu(k) + 1  # as fast-transformers' elu_feature_map
        normaliser = 1 / ((fq * fk.cumsum(-2)).sum(-1) + eps)
        return product(fq, fk, v) * normaliser[..., None]

    return name, attention


def build_fast_transformers(source: str | Path, build_dir: str | Path = CACHE) -> Path:
    """Compile fast-transformers' CPU causal product from its source tree; return the module path."""
    from torch.utils.cpp_extension import load

    cpp = Path(source) / "fast_transformers" / "causal_product" / "causal_product_cpu.cpp"
    if not cpp.exists():
        raise FileNotFoundError(f"no {cpp}: give the root of a pytorch-fast-transformers source tree")
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    # The flags of its setup.py (-fopenmp -ffast-math), at -O3.
    module = load(name="causal_product_cpu", sources=[str(cpp)], extra_cflags=["-O3", "-fopenmp", "-ffast-math"],
                  extra_ldflags=["-fopenmp"], build_directory=str(build_dir), verbose=False)
    return Path(module.__file__)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True, help="root of a pytorch-fast-transformers source tree")
    print(build_fast_transformers(parser.parse_args().build))
