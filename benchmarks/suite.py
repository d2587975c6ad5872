"""The benchmark suite: what `make bench` measures, section by section.

Each section adds measurements, targets and notes to a :class:`Run`. A section that
fails (a package function missing or raising) is recorded as a note and the run goes
on, so a partial package still gives a results file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import harness as H
from . import models, nw_fresh, peers

__all__ = ["SIZES", "SECTIONS", "Run", "bare_linear_attention", "nw_memory_note"]

ROOT = Path(__file__).resolve().parent.parent

# Problem sizes: the real run and a smoke run (--quick) that finishes in seconds.
SIZES = {
    "full": {
        "heads": 4,
        "d": 64,
        "n_target": 8192,
        "noncausal_ns": [512, 1024, 2048, 4096, 8192, 16384, 32768],
        "softmax_ns": [512, 1024, 2048, 4096, 8192],
        "chunked_ns": [512, 1024, 2048, 4096, 8192, 16384, 32768],
        "prefix_sum_ns": [512, 1024, 2048, 4096, 8192],
        "recurrent_ns": [512, 1024, 2048, 4096, 8192],
        "training_ns": [1024, 2048, 4096, 8192, 16384, 32768],
        "memory_fit_from": 2048,
        "crossover_ds": [32, 64, 128],
        "crossover_ns": [16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
        "nw_n": 1_000_000,
        "nw_m": 10_000,
        "nw_exact_every": 40,
        "nw_bandwidth": 0.05,
        "nw_features": 256,
        "small_n": 16,
        "small_d": 32,
        "small_nw_n": 50,
        "decode_tokens": 2000,
        "budget": 1.5,
    },
    "quick": {
        "heads": 4,
        "d": 64,
        "n_target": 512,
        "noncausal_ns": [128, 256, 512],
        "softmax_ns": [128, 256, 512],
        "chunked_ns": [128, 256, 512],
        "prefix_sum_ns": [128, 256, 512],
        "recurrent_ns": [128, 256, 512],
        "training_ns": [128, 256, 512],
        "memory_fit_from": 128,
        "crossover_ds": [32, 64],
        "crossover_ns": [16, 64, 256],
        "nw_n": 20_000,
        "nw_m": 200,
        "nw_exact_every": 4,
        "nw_bandwidth": 0.05,
        "nw_features": 64,
        "small_n": 16,
        "small_d": 32,
        "small_nw_n": 50,
        "decode_tokens": 50,
        "budget": 0.05,
    },
}

SECTIONS = ("noncausal", "causal", "training", "softmax", "nw", "ends", "crossover", "course")

# The environment `make execute` runs the notebooks in (NB_ENV in the Makefile).
NOTEBOOK_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def bare_linear_attention(q, k, v, eps: float = 1e-6):
    """The bare torch expression phi(Q) (phi(K)^T V) / (phi(Q) z), with phi = elu + 1.

    The yardstick for ``lk.linear_attention``: three products and the normaliser,
    with no validation and no conversion.

    >>> q = k = v = torch.ones(2, 3)
    >>> bare_linear_attention(q, k, v)
    tensor([[1.0000, 1.0000, 1.0000],
            [1.0000, 1.0000, 1.0000]])
    """
    fq = F.elu(q) + 1
    fk = F.elu(k) + 1
    kv = fk.mT @ v
    z = fk.sum(-2, keepdim=True)
    return (fq @ kv) / (fq @ z.mT + eps)


def _qkv(n: int, d: int, heads: int, device: str, seed: int = 0, dtype=torch.float32):
    # (batch, heads, n, d): SDPA picks its fused (flash) kernel on CPU only for 4-D inputs;
    # with 3-D inputs it falls back to the unfused form that holds the n x n matrix.
    generator = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, heads, n, d, generator=generator, dtype=dtype).to(device) for _ in range(3))
    return q, k, v


class Run:
    """Everything one `make bench` run measures, and the methods that measure it."""

    def __init__(self, device: str = "cpu", quick: bool = False, log=print):
        self.device = device
        self.quick = quick
        self.size = SIZES["quick" if quick else "full"]
        self.log = log
        self.measurements: list[dict] = []
        self.targets: list[dict] = []
        self.notes: list[str] = []
        self.crossover: list[dict] = []
        self.course: dict = {}
        import lenakernel

        self.lk = lenakernel

    # ----------------------------------------------------------------- measuring

    def bench_group(self, group: dict, *, budget: float | None = None, lo: int = 3, hi: int = 25,
                    memory: bool = True) -> dict:
        """Time the functions of ``group`` (name -> (params, fn)) in turns; record each.

        One untimed warm-up call of each also sizes the number of repeats, so that the
        group takes about ``budget`` seconds (between ``lo`` and ``hi`` repeats).
        """
        budget = self.size["budget"] if budget is None else budget
        fns = {name: fn for name, (_, fn) in group.items()}
        first = H.time_interleaved(fns, repeats=1, warmup=0, device=self.device)
        repeats = H.calibrate_repeats(sum(s[0] for s in first.values()), budget, lo, hi)
        samples = H.time_interleaved(fns, repeats=repeats, warmup=0, device=self.device)
        records = {}
        for name, (params, fn) in group.items():
            peak = H.peak_extra_memory(fn, self.device) if memory else None
            records[name] = self.record(name, params, samples[name], peak)
        return records

    def record(self, name: str, params: dict, samples, peak_bytes=None, **extra) -> dict:
        item = {
            "name": name,
            "params": dict(params),
            "seconds": H.median(samples) if samples else None,
            "samples": [float(s) for s in samples] if samples else [],
            "peak_bytes": None if peak_bytes is None else int(peak_bytes),
        }
        item.update(extra)
        self.measurements.append(item)
        self.log(f"  {name:<38} {H._params_text(params):<28} {H.format_seconds(item['seconds']):>10} "
                 f"x{len(item['samples']):<3} {H.format_bytes(item['peak_bytes']):>11}")
        return item

    def target(self, *args, **kwargs) -> dict:
        row = H.make_target(*args, **kwargs)
        row["section"] = getattr(self, "section", None)
        self.targets.append(row)
        self.log(f"  target {row['id']}: {row['value'] if row['value'] is None else round(row['value'], 4)} "
                 f"{row['op']} {row['threshold']:g} -> {row['status']}")
        return row

    def find(self, name: str, **params) -> dict | None:
        for item in reversed(self.measurements):
            if item["name"] == name and all(item["params"].get(k) == v for k, v in params.items()):
                return item
        return None

    def seconds(self, name: str, **params) -> float | None:
        item = self.find(name, **params)
        return None if item is None else item["seconds"]

    # ----------------------------------------------------------------- sections

    def noncausal(self) -> None:
        """Non-causal linear attention against the bare expression and SDPA; softmax curves."""
        lk, s = self.lk, self.size
        heads, d = s["heads"], s["d"]
        softmax_ns = set(s["softmax_ns"])
        for n in s["noncausal_ns"]:
            q, k, v = _qkv(n, d, heads, self.device)
            params = {"n": n, "d": d, "heads": heads}
            self.bench_group({
                "noncausal/lk.linear_attention": (params, lambda: lk.linear_attention(q, k, v)),
                "noncausal/bare expression": (params, lambda: bare_linear_attention(q, k, v)),
            }, lo=5, hi=41)
            if n in softmax_ns:
                self.bench_group({
                    "noncausal/sdpa": (params, lambda: F.scaled_dot_product_attention(q, k, v)),
                }, lo=3, hi=15)
        n = s["n_target"]
        lin = self.seconds("noncausal/lk.linear_attention", n=n)
        self.target("linear_vs_expression",
                    f"non-causal `linear_attention`, n = {n}: time / bare torch expression",
                    H.ratio(lin, self.seconds("noncausal/bare expression", n=n)), "<=", 1.15)
        self.target("linear_vs_sdpa",
                    f"non-causal `linear_attention`, n = {n}: speed-up over SDPA",
                    H.ratio(self.seconds("noncausal/sdpa", n=n), lin), ">=", 20)

    def softmax(self) -> None:
        """``lk.softmax_attention`` without weights against SDPA: time and memory."""
        lk, s = self.lk, self.size
        heads, d = s["heads"], s["d"]
        for n in s["softmax_ns"]:
            q, k, v = _qkv(n, d, heads, self.device)
            params = {"n": n, "d": d, "heads": heads}
            self.bench_group({
                "softmax/lk.softmax_attention": (params, lambda: lk.softmax_attention(q, k, v)),
                "softmax/sdpa": (params, lambda: F.scaled_dot_product_attention(q, k, v)),
            }, lo=3, hi=15)
        n = s["n_target"]
        mine = self.find("softmax/lk.softmax_attention", n=n)
        self.target("softmax_vs_sdpa", f"`softmax_attention` (no weights), n = {n}: time / SDPA",
                    H.ratio(mine["seconds"], self.seconds("softmax/sdpa", n=n)), "<=", 1.5)
        full = heads * n * n * 4
        self.target("softmax_memory", f"`softmax_attention` (no weights), n = {n}: peak extra memory / "
                    f"the {H.format_bytes(full)} of the full {heads}×n×n float32 matrix",
                    H.ratio(mine["peak_bytes"], full), "<", 1.0,
                    note=f"peak {H.format_bytes(mine['peak_bytes'])}")

    def causal(self) -> None:
        """The causal forms: chunk-wise, prefix sum and recurrence."""
        lk, s = self.lk, self.size
        heads, d = s["heads"], s["d"]
        forms = {"chunked": s["chunked_ns"], "prefix_sum": s["prefix_sum_ns"], "recurrent": s["recurrent_ns"]}
        all_ns = sorted(set().union(*forms.values()))
        for n in all_ns:
            q, k, v = _qkv(n, d, heads, self.device)
            params = {"n": n, "d": d, "heads": heads}
            group = {}
            for method, ns in forms.items():
                if n in ns:
                    group[f"causal/{method}"] = (params, lambda m=method: lk.linear_attention(
                        q, k, v, causal=True, method=m))
            if n in s["softmax_ns"]:
                group["causal/sdpa"] = (params, lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
            self.bench_group(group, lo=3, hi=25)
        n = s["n_target"]
        chunked = self.find("causal/chunked", n=n)
        self.target("chunked_vs_recurrent", f"causal, n = {n}: chunk-wise speed-up over the recurrence",
                    H.ratio(self.seconds("causal/recurrent", n=n), chunked["seconds"]), ">=", 10)
        self.target("chunked_vs_prefix_sum", f"causal, n = {n}: chunk-wise speed-up over the prefix sum",
                    H.ratio(self.seconds("causal/prefix_sum", n=n), chunked["seconds"]), ">=", 3)
        chunked["gflops"] = heads * models.chunked_causal_ops(n, d, d, 64) / chunked["seconds"] / 1e9
        self._chunked_rate(n, d, heads)
        fit = [(m["params"]["n"], m["peak_bytes"]) for m in self.measurements
               if m["name"] == "causal/chunked" and m["params"]["n"] >= s["memory_fit_from"] and m["peak_bytes"]]
        slope = H.loglog_slope(*zip(*fit)) if len(fit) >= 2 else None
        span = f"n = {fit[0][0]}…{fit[-1][0]}" if fit else "no points"
        self.target("chunked_memory_slope", f"causal chunk-wise: log-log slope of peak extra memory in n ({span})",
                    slope, "<=", 1.1, unit="")

    def _chunked_rate(self, n: int, d: int, heads: int, chunk: int = 64) -> None:
        """The chunk-wise rate as a fraction of the matmul rate, and what bounds it.

        The call, a square matmul of the run's size, the form's four batched products
        alone and its elu+1 features alone are timed in turns: the matmul rate measured at
        the start of the run met another moment's load, and in the group above each call
        follows calls of the slow forms (a prefix sum that sweeps a GiB through memory).
        """
        lk = self.lk
        q, k, v = _qkv(n, d, heads, self.device)
        size = self.matmul["size"]
        generator = torch.Generator().manual_seed(1)
        a, b = (torch.randn(size, size, generator=generator).to(self.device) for _ in range(2))
        fq, fk = lk.elu_plus_one(q), lk.elu_plus_one(k)
        # The products on the blocks of chunks the call works on, each block contiguous.
        block = lk.linear._block_tokens(heads, chunk, n, q.device)
        blocks = [[x[..., start:start + block, :].reshape(-1, chunk, d) for x in (fq, fk, v)]
                  for start in range(0, n, block)]

        def products():  # C x C scores, scores @ V, each chunk's state, the state's readout
            for fq_c, fk_c, v_c in blocks:
                torch.bmm(torch.bmm(fq_c, fk_c.mT), v_c)
                torch.bmm(fq_c, torch.bmm(fk_c.mT, v_c))

        fns = {"call": lambda: lk.linear_attention(q, k, v, causal=True), "matmul": lambda: a @ b,
               "products": products, "features": lambda: (lk.elu_plus_one(q), lk.elu_plus_one(k))}
        samples = H.time_interleaved(fns, repeats=3 if self.quick else 9, warmup=1, device=self.device)
        params = {"n": n, "d": d, "heads": heads}
        ops = heads * models.chunked_causal_ops(n, d, d, chunk)
        call = self.record("causal/chunked, in turns with the matmul", params, samples["call"])
        call["gflops"] = ops / call["seconds"] / 1e9
        matmul = self.record(f"causal/matmul {size}x{size}, in turns", {"size": size}, samples["matmul"])
        matmul["gflops"] = 2 * size**3 / matmul["seconds"] / 1e9
        alone = self.record("causal/chunked's products alone", params, samples["products"])
        alone["gflops"] = ops / alone["seconds"] / 1e9
        features = self.record("causal/elu+1 of q and k alone", params, samples["features"])
        self.target("chunked_matmul_fraction",
                    f"causal chunk-wise, n = {n}: achieved rate / the machine's matmul rate, timed in turns",
                    H.ratio(call["gflops"], matmul["gflops"]), ">=", 1 / 3, unit="",
                    note=f"{call['gflops']:.1f} against {matmul['gflops']:.1f} GFLOP/s; "
                         f"F = 2nHC(d+d_v) + 4nHdd_v, C = {chunk}")
        self.notes.append(
            f"What bounds the causal chunk-wise rate (n = {n}, C = {chunk}, timed in turns): the call runs at "
            f"{call['gflops']:.1f} GFLOP/s by F, {H.ratio(call['gflops'], matmul['gflops']):.2f} of a "
            f"{size}x{size} matmul's {matmul['gflops']:.1f} GFLOP/s. Its four batched products alone "
            f"((C x d)(d x C), (C x C)(C x d_v), (d x C)(C x d_v), (C x d)(d x d_v) per chunk) take "
            f"{H.format_seconds(alone['seconds'])}, {alone['gflops']:.1f} GFLOP/s "
            f"({H.ratio(alone['gflops'], matmul['gflops']):.2f} of the matmul rate: small products), "
            f"{H.ratio(alone['seconds'], call['seconds']):.0%} of the call; the elu+1 features of q and k "
            f"alone take {H.format_seconds(features['seconds'])} "
            f"({H.ratio(features['seconds'], call['seconds']):.0%}; each feature, an exp, takes the time "
            f"of {features['seconds'] * matmul['gflops'] * 1e9 / (2 * heads * n * d):.0f} matmul flops), "
            f"and the rest (mask, sums, running state, division, dispatch) "
            f"{H.ratio(call['seconds'] - alone['seconds'] - features['seconds'], call['seconds']):.0%}. "
            f"The call works a block of chunks at a time (features included), so its products run "
            f"on data in cache."
        )

    def training(self) -> None:
        """Forward + backward (loss = sum of squares): causal against a peer, non-causal, forward alone."""
        lk, s = self.lk, self.size
        heads, d = s["heads"], s["d"]
        peer_name, peer = peers.causal_peer()
        self.notes.append(
            f"Training rows: loss = sum of squared outputs, gradients with respect to q, k and v by "
            f"`torch.autograd.grad` (nothing kept between calls); elu+1, float32. The causal peer is {peer_name}, "
            "with elu+1 features and the normaliser as its `CausalLinearAttention` layer computes them. "
            "\"before\" is the chunk-wise form under plain autograd (the package before its chunk-wise backward).")

        def training_step(attention):
            def step():
                out = attention(q, k, v)
                return torch.autograd.grad((out * out).sum(), (q, k, v))
            return step

        def before(q, k, v):  # the chunk-wise forward, differentiated by autograd
            fq, fk = lk.elu_plus_one(q), lk.elu_plus_one(k)
            num, den = lk.linear._chunked(fq, fk, v, 64)
            return num / (den + 1e-6)

        for n in s["training_ns"]:
            q, k, v = (x.requires_grad_() for x in _qkv(n, d, heads, self.device))
            params = {"n": n, "d": d, "heads": heads}
            self.bench_group({
                "training/causal lk.linear_attention": (params, training_step(
                    lambda q, k, v: lk.linear_attention(q, k, v, causal=True))),
                "training/causal peer": (params, training_step(peer)),
                "training/noncausal lk.linear_attention": (params, training_step(lk.linear_attention)),
                "training/causal before (autograd)": (params, training_step(before)),
                "training/causal forward only": (params, lambda: lk.linear_attention(
                    q.detach(), k.detach(), v.detach(), causal=True)),
            }, lo=7 if n <= 4096 else 3, hi=15)  # short calls: more repeats, a steadier median
        ns = s["training_ns"]
        mine = {n: self.find("training/causal lk.linear_attention", n=n) for n in ns}

        def worst(other, key="seconds"):
            ratios = {n: H.ratio(mine[n][key], self.find(other, n=n)[key]) for n in ns}
            known = [r for r in ratios.values() if r is not None]
            text = ", ".join(f"n = {n}: {r:.3g}" for n, r in ratios.items() if r is not None)
            return (max(known) if known else None), text

        span = f"n = {ns[0]}…{ns[-1]}"
        value, text = worst("training/causal peer")
        self.target("training_vs_peer", f"causal fwd+bwd, {span}: time / {peer_name}, worst n", value, "<=", 1.0,
                    note=text)
        value, text = worst("training/noncausal lk.linear_attention")
        self.target("training_vs_noncausal", f"causal fwd+bwd, {span}: time / non-causal fwd+bwd, worst n",
                    value, "<=", 1.2, note=text)
        value, text = worst("training/causal forward only", "peak_bytes")
        self.target("training_memory_vs_forward",
                    f"causal fwd+bwd, {span}: peak extra memory / the forward's alone, worst n",
                    value, "<=", 1.5, note=text)
        fit = [(n, mine[n]["peak_bytes"]) for n in ns if n >= s["memory_fit_from"] and mine[n]["peak_bytes"]]
        slope = H.loglog_slope(*zip(*fit)) if len(fit) >= 2 else None
        self.target("training_memory_slope",
                    f"causal fwd+bwd: log-log slope of peak extra memory in n (n = {fit[0][0]}…{fit[-1][0]})",
                    slope, "<=", 1.1, unit="")
        value, text = worst("training/causal before (autograd)")
        self.notes.append(f"Causal fwd+bwd time / the same before the chunk-wise backward: {text}.")
        self.notes.append(
            "What bounds causal / non-causal fwd+bwd: in units of 2 B H n d d_v flops of matrix products "
            "(d = d_v = r = C = 64 here), the causal form does 4 forwards (within-chunk weights and their "
            "product with V, chunk states, their read-out) and 10 backwards (within chunks: A, A^T g, dA, dA b, "
            "dA^T a; across chunks: the states, g S^T, a^T [g, h] per chunk, P v, P^T b; the forward keeps "
            "each block's starting state, so no extra pass computes block totals), 14 in all; the non-causal "
            "form 2 + 4 = 6. At equal rates causal would take 2.3x as long; it comes out near 1x because the non-causal form's products are few "
            "but its autograd passes over n x d tensors (and their memory) are not.")
        # Peak memory in units of one input-sized tensor (B x H x n x d floats), which is what
        # bounds the memory ratio: fwd+bwd must hold the output, dL/dout and the three
        # gradients at once (5 units), the forward alone its output (1 unit).
        units = []
        for n in ns:
            size = heads * n * d * 4
            both, alone = mine[n]["peak_bytes"], self.find("training/causal forward only", n=n)["peak_bytes"]
            if both and alone:
                units.append(f"n = {n}: {both / size:.3g} vs {alone / size:.3g} "
                             f"(beyond what each must hold: {both / size - 5:.3g} vs {alone / size - 1:.3g})")
        self.notes.append(
            "Causal fwd+bwd peak extra memory against the forward's alone, in units of one input-sized "
            f"tensor (B x H x n x d floats): {', '.join(units)}. What each must hold: fwd+bwd the output, "
            "dL/dout and the three gradients at once (5 units), the forward its output (1 unit); so the "
            "ratio of peaks cannot fall below 5 / (the forward's peak in units). Beyond that, the backward "
            "holds one block's work buffers (512 tokens from n = 1024, about ten input-sized rows each), "
            "and the forward keeps the elu+1 features of q and k (2 units) and each block's starting state "
            "for it, so the backward needs no second pass of exponentials. Below 32 MiB per tensor (n < 32768 here) glibc serves "
            "allocations from its heap (its mmap threshold rises to the size last freed), and "
            "freed-but-kept heap pages add to the resident peak: with MALLOC_MMAP_THRESHOLD_=131072 (a "
            "fixed threshold) the fwd+bwd peak at n = 8192 measured 6.0 units against 8.9 by default.")

    def nw(self) -> None:
        """Nadaraya-Watson at a million points: exact (all pairs, blocked) and random features."""
        lk, s = self.lk, self.size
        n, m, h, features = s["nw_n"], s["nw_m"], s["nw_bandwidth"], s["nw_features"]
        every = s["nw_exact_every"]
        x, y, x_query = nw_fresh.problem(n, m)
        y_std = float(np.std(y))

        # The exact smoother: timed, and its memory read, in a fresh process (see nw_fresh.py).
        with tempfile.TemporaryDirectory() as tmp:
            saved = Path(tmp) / "exact.npy"
            command = [sys.executable, "-m", "benchmarks.nw_fresh", "--n", str(n), "--m", str(m),
                       "--every", str(every), "--bandwidth", str(h), "--repeats", "2" if self.quick else "3",
                       "--threads", str(torch.get_num_threads()), "--save", str(saved)]
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                raise RuntimeError(f"the exact smoother's run failed: {done.stderr.strip().splitlines()[-1:]}")
            fresh = json.loads(done.stdout.strip().splitlines()[-1])
            exact = np.load(saved)
        queries = fresh["queries"]
        exact_item = self.record("nw/exact", {"n": n, "m": queries, "bandwidth": h}, fresh["samples"],
                                 fresh["peak_bytes"], seconds_full_m=H.median(fresh["samples"]) * m / queries,
                                 peak_bytes_each=fresh["peak_bytes_each"],
                                 peak_bytes_fewer_queries=fresh["peak_bytes_fewer_queries"],
                                 fewer_queries=fresh["fewer_queries"])

        if self.device != "cpu":
            x, y, x_query = (torch.from_numpy(a).to(self.device) for a in (x, y, x_query))
        rff_params = {"n": n, "m": m, "bandwidth": h, "num_features": features, "kind": "stratified"}
        kept = {}

        def rff_call():
            kept["rff"] = lk.rff_nadaraya_watson(x, y, x_query, bandwidth=h, num_features=features, seed=0,
                                                 kind="stratified")

        rff_item = self.bench_group({"nw/rff": (rff_params, rff_call)}, budget=self.size["budget"] * 4,
                                    lo=3, hi=7)["nw/rff"]
        rms = float(np.sqrt(np.mean((_to_numpy(kept["rff"])[::every] - exact) ** 2))) / y_std
        rff_item["rms_over_std"] = rms
        self.target("nw_memory", f"exact `nadaraya_watson`, n = {n:,}: peak extra memory",
                    exact_item["peak_bytes"], "<", 2**30, unit="bytes",
                    note=f"on {queries} queries, in a fresh process")
        self.target("nw_rff_speedup",
                    f"`rff_nadaraya_watson` ({features} stratified features), m = {m:,}: "
                    "speed-up over the exact all-pairs smoother",
                    H.ratio(exact_item["seconds_full_m"], rff_item["seconds"]), ">=", 10,
                    note=f"exact timed on {queries} of the {m:,} queries, scaled by {m // queries}")
        self.target("nw_rff_rms", f"`rff_nadaraya_watson` ({features} stratified features): RMS difference "
                    f"from the exact smoother / std(y), over {queries} queries", rms, "<", 0.01, unit="")

        self.notes.append(nw_memory_note(fresh, every=every, m=m, bandwidth=h))
        self.notes.append(
            f"Random features: {features} stratified frequencies (`kind=\"stratified\"`: one draw per "
            f"equal-probability slice of N(0, 1), scaled by 1/h), seed 0; RMS difference from the exact "
            f"smoother / std(y) = {rms:.3g} over {queries} queries.")

    def ends(self) -> None:
        """Both ends of the size range: calls at n = 16, token-by-token decoding, exact N-W by windows."""
        self._small_calls()
        self._decoding()
        self._nw_windows()

    def _small_calls(self) -> None:
        lk, s = self.lk, self.size
        n, d, heads = s["small_n"], s["small_d"], s["heads"]
        q, k, v = _qkv(n, d, heads, self.device)
        params = {"n": n, "d": d, "heads": heads}
        group = self.bench_group({
            "small/lk.linear_attention": (params, lambda: lk.linear_attention(q, k, v)),
            "small/lk.softmax_attention": (params, lambda: lk.softmax_attention(q, k, v)),
            "small/sdpa": (params, lambda: F.scaled_dot_product_attention(q, k, v)),
        }, budget=self.size["budget"] / 2, lo=101, hi=2001, memory=False)
        sdpa = group["small/sdpa"]["seconds"]
        # What bounds linear attention: the same mathematics in bare torch, nothing checked
        # (timed in a group of its own, so it does not change the interleaving above).
        bounds = self.bench_group({
            "small/bare linear attention": (params, lambda: bare_linear_attention(q, k, v)),
            "small/sdpa, beside the bare expression": (params, lambda: F.scaled_dot_product_attention(q, k, v)),
        }, budget=self.size["budget"] / 4, lo=101, hi=2001, memory=False)
        bare_seconds = bounds["small/bare linear attention"]["seconds"]
        bare = H.ratio(bare_seconds, bounds["small/sdpa, beside the bare expression"]["seconds"])
        notes = {"linear_attention": f"bound: the bare torch expression (elu+1 features, two products, "
                                     f"one division; nothing checked) takes {bare_seconds * 1e6:.3g} µs, "
                                     f"×{bare:.3g} SDPA's time beside it"
                 if bare is not None else ""}
        for name in ("linear_attention", "softmax_attention"):
            self.target(f"small_{name}_vs_sdpa", f"`{name}`, n = {n}, d = {d}: time per call / SDPA",
                        H.ratio(group[f"small/lk.{name}"]["seconds"], sdpa), "<=", 4, note=notes.get(name, ""))
        x, y, _ = nw_fresh.problem(s["small_nw_n"], 1)
        xq = np.linspace(0.0, 1.0, 5)
        item = self.bench_group({
            "small/lk.nadaraya_watson": ({"n": len(x), "m": len(xq)},
                                         lambda: lk.nadaraya_watson(x, y, xq, bandwidth=0.1)),
        }, budget=self.size["budget"] / 4, lo=101, hi=2001, memory=False)["small/lk.nadaraya_watson"]
        self.target("small_nw_call", f"`nadaraya_watson`, {len(x)} points, {len(xq)} queries (NumPy): "
                    "time per call", item["seconds"] * 1e6, "<", 40, unit="µs")

    def _decoding(self) -> None:
        lk, s = self.lk, self.size
        heads, d, tokens = s["heads"], s["d"], s["decode_tokens"]
        q, k, v = (t[0].transpose(0, 1).contiguous() for t in _qkv(tokens, d, heads, self.device))

        def package():
            state = lk.LinearAttentionState(d, d, batch_shape=(heads,))
            for t in range(tokens):
                state.step(q[t], k[t], v[t])

        def bare():  # state update + readout, elu + 1 features, nothing checked
            state = q.new_zeros(heads, d, d)
            normaliser = q.new_zeros(heads, d)
            for t in range(tokens):
                fq, fk = F.elu(q[t]) + 1, F.elu(k[t]) + 1
                state = state + fk.unsqueeze(-1) * v[t].unsqueeze(-2)
                normaliser = normaliser + fk
                (fq.unsqueeze(-2) @ state).squeeze(-2) / ((fq * normaliser).sum(-1, keepdim=True) + 1e-6)

        params = {"tokens": tokens, "d": d, "heads": heads}
        group = self.bench_group({"decode/LinearAttentionState.step": (params, package),
                                  "decode/bare torch step": (params, bare)}, lo=3, hi=9, memory=False)
        step, bare_step = group["decode/LinearAttentionState.step"], group["decode/bare torch step"]
        self.target("decode_step_vs_bare", f"`LinearAttentionState.step`, {heads} heads, d = {d}, {tokens} "
                    "float32 tokens: time / a bare torch step", H.ratio(step["seconds"], bare_step["seconds"]),
                    "<=", 1.3, note=f"{step['seconds'] / tokens * 1e6:.0f} µs per token")

    def _nw_windows(self) -> None:
        """Exact 1-D N-W at n = 10**6, m = 10**4, as `nadaraya_watson` dispatches it, against all pairs."""
        from lenakernel import smoothing
        from lenakernel.kernels import KERNELS
        from lenakernel.sorted_window import window_radius

        lk, s = self.lk, self.size
        n, m, h0 = s["nw_n"], s["nw_m"], s["nw_bandwidth"]
        x, y, x_query = nw_fresh.problem(n, m)
        xs = torch.from_numpy(np.sort(x))
        # The suite's bandwidth (1/20 of the data's range) for a compact kernel and the
        # Gaussian, and the Gaussian at 1/200 of the range (as in scripts/nw_at_scale.py).
        for kernel, h in (("epanechnikov", h0), ("gaussian", h0), ("gaussian", h0 / 10)):
            label = f"{kernel}, h = {h:g}"
            points = torch.from_numpy(x_query)
            radius, _ = window_radius(xs, points, kernel, torch.tensor(h, dtype=torch.float64))
            visited = float((torch.searchsorted(xs, points + radius, right=True)
                             - torch.searchsorted(xs, points - radius)).double().mean() / n)
            log_kernel = KERNELS[kernel].log_of_squared
            moments = smoothing._moments_pay(torch.from_numpy(x), points, log_kernel, False, False, h, False)
            windows = smoothing._sorted_windows_pay(torch.from_numpy(x), points, log_kernel, False, False, h)
            how = "box moments" if moments else "sorted windows" if windows else "all pairs"
            params = {"n": n, "m": m, "bandwidth": h, "kernel": kernel}
            item = self.bench_group({f"nw/nadaraya_watson, {label}": (
                params, lambda: lk.nadaraya_watson(x, y, x_query, kernel=kernel, bandwidth=h))},
                lo=3, hi=5)[f"nw/nadaraya_watson, {label}"]
            item["seconds_full_m"] = item["seconds"]  # all m queries are timed now
            item["fraction_of_pairs_in_windows"] = visited
            item["path"] = how
            self.target(f"nw_1d_{kernel}_{h:g}", f"exact `nadaraya_watson` ({label}), n = {n:,}, m = {m:,}: time",
                        item["seconds"], "<", 2, unit="s",
                        note=f"{how}, all {m:,} queries; a query's window holds {visited:.3g} of the points "
                             "on average (data on [0, 1])")
            self.target(f"nw_1d_{kernel}_{h:g}_memory", f"exact `nadaraya_watson` ({label}), n = {n:,}: "
                        "peak extra memory", item["peak_bytes"], "<", 2**30, unit="bytes")
            # Against the all-pairs blocked form on fewer queries (>= 64, so it dispatches), in turns.
            few = x_query[::max(1, m // 84)]

            def all_pairs():  # the same public call with the fast 1-D paths switched off
                saved, smoothing.SORTED_WINDOW_MIN_PAIRS = smoothing.SORTED_WINDOW_MIN_PAIRS, float("inf")
                try:
                    return lk.nadaraya_watson(x, y, few, kernel=kernel, bandwidth=h)
                finally:
                    smoothing.SORTED_WINDOW_MIN_PAIRS = saved

            pair = self.bench_group({
                f"nw/1-D dispatch vs all pairs, {label}: dispatch": (
                    {"n": n, "m": len(few), "kernel": kernel, "bandwidth": h},
                    lambda: lk.nadaraya_watson(x, y, few, kernel=kernel, bandwidth=h)),
                f"nw/1-D dispatch vs all pairs, {label}: all pairs": (
                    {"n": n, "m": len(few), "kernel": kernel, "bandwidth": h},
                    all_pairs),
            }, lo=3, hi=5, memory=False)
            self.target(f"nw_1d_{kernel}_{h:g}_speedup", f"exact N-W ({label}), n = {n:,}, {len(few)} queries: "
                        "speed-up of `nadaraya_watson` over the all-pairs form",
                        H.ratio(pair[f"nw/1-D dispatch vs all pairs, {label}: all pairs"]["seconds"],
                                pair[f"nw/1-D dispatch vs all pairs, {label}: dispatch"]["seconds"]), ">=", 0.9,
                        note="both sides are the public call; 0.9: equal within the timing noise when the "
                             "dispatch keeps all pairs")

    def crossovers(self) -> None:
        """Where non-causal linear attention overtakes softmax attention, for several d."""
        lk, s = self.lk, self.size
        heads = s["heads"]
        for d in s["crossover_ds"]:
            ratios_lk, ratios_sdpa = [], []
            for n in s["crossover_ns"]:
                q, k, v = _qkv(n, d, heads, self.device)
                params = {"n": n, "d": d, "heads": heads}
                group = self.bench_group({
                    "crossover/lk.linear_attention": (params, lambda: lk.linear_attention(q, k, v)),
                    "crossover/lk.softmax_attention": (params, lambda: lk.softmax_attention(q, k, v)),
                    "crossover/sdpa": (params, lambda: F.scaled_dot_product_attention(q, k, v)),
                }, budget=self.size["budget"] / 3, lo=5, hi=101, memory=False)
                lin = group["crossover/lk.linear_attention"]["seconds"]
                ratios_lk.append(lin / group["crossover/lk.softmax_attention"]["seconds"])
                ratios_sdpa.append(lin / group["crossover/sdpa"]["seconds"])
            self.crossover.append({
                "d": d,
                "ns": list(s["crossover_ns"]),
                "ratio_linear_over_softmax": ratios_lk,
                "ratio_linear_over_sdpa": ratios_sdpa,
                "n_star_measured": H.crossover(s["crossover_ns"], ratios_lk),
                "n_star_measured_sdpa": H.crossover(s["crossover_ns"], ratios_sdpa),
                "n_star_model": models.crossover_model(d),
            })

    def course_times(self) -> None:
        """Execute copies of every notebook, then build the book from copies, timed."""
        errors = []
        with tempfile.TemporaryDirectory(prefix="lenakernel-bench-") as tmp:
            tmp = Path(tmp)
            shutil.copytree(ROOT / "book", tmp / "book")
            for name in ("_config.yml", "_toc.yml"):
                shutil.copy2(ROOT / name, tmp / name)
            if (ROOT / "benchmarks" / "results.json").exists():
                (tmp / "benchmarks").mkdir()
                shutil.copy2(ROOT / "benchmarks" / "results.json", tmp / "benchmarks" / "results.json")
            notebooks = {}
            # As `make execute`: the kernels run single-threaded (NB_ENV in the Makefile).
            saved_env = {name: os.environ.get(name) for name in NOTEBOOK_ENV}
            os.environ.update(NOTEBOOK_ENV)
            try:
                for path in sorted((tmp / "book").glob("*.ipynb")):
                    start = time.perf_counter()
                    done = _execute_notebook(path)
                    if done.returncode != 0:  # a failing notebook is a result too
                        errors.append(f"{path.name} failed: {done.stderr.strip().splitlines()[-1:]}")
                    notebooks[path.name] = time.perf_counter() - start
                    self.log(f"  notebook {path.name:<40} {H.format_seconds(notebooks[path.name]):>10}")
            finally:
                for name, value in saved_env.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
            # As `make book`, into a temporary directory.
            build = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(tmp), "--path-output",
                     str(tmp / "out"), "-W", "-n", "--keep-going", "--all"]
            start = time.perf_counter()
            done = subprocess.run(build, capture_output=True, text=True)
            build_seconds = time.perf_counter() - start
            if done.returncode != 0:
                warnings = [line for line in done.stdout.splitlines() + done.stderr.splitlines()
                            if "WARNING" in line or "ERROR" in line]
                errors.append(f"book build exited {done.returncode} with {len(warnings)} warnings/errors")
        self.log(f"  book build {H.format_seconds(build_seconds):>10}")
        total = sum(notebooks.values())
        self.course = {"notebooks": notebooks, "notebooks_total_seconds": total,
                       "build_seconds": build_seconds, "errors": errors}
        self.target("notebooks_total", f"the course: executing all {len(notebooks)} notebooks", total,
                    "<", 180, unit="s")
        self.target("book_build", "the course: building the book (execution off)", build_seconds, "<", 60, unit="s")

    # ----------------------------------------------------------------- the whole run

    def run(self, sections=SECTIONS) -> dict:
        start = time.perf_counter()
        meta = H.environment(self.device)
        self.log(f"lenakernel benchmarks on {meta['device_name']} ({self.device}), "
                 f"{meta['torch_threads']} torch threads{' — quick' if self.quick else ''}")
        self.matmul = H.matmul_rate(self.device, size=512 if self.quick else None,
                                    repeats=3 if self.quick else 7)
        self.log(f"  float32 matmul rate: {self.matmul['gflops']:.1f} GFLOP/s")
        runners = {"noncausal": self.noncausal, "causal": self.causal, "training": self.training,
                   "softmax": self.softmax,
                   "nw": self.nw, "ends": self.ends, "crossover": self.crossovers, "course": self.course_times}
        for section in sections:
            if section == "course" and self.device != "cpu":
                self.notes.append("The course's notebooks and book build run on the CPU; not timed in a "
                                  f"--device {self.device} run.")
                continue
            self.log(f"[{section}]")
            self.section = section
            try:
                runners[section]()
            except Exception:  # noqa: BLE001 - one failing section must not lose the others
                last = traceback.format_exc().strip().splitlines()[-1]
                self.notes.append(f"Section `{section}` did not finish: {last}")
                self.log(f"  section {section} failed: {last}")
        meta.update({
            "quick": self.quick,
            "sections": list(sections),
            "dtype": "float32 (Nadaraya-Watson: float64)",
            "heads": self.size["heads"],
            "d": self.size["d"],
            "matmul": self.matmul,
            "memory": H.memory_method(self.device),
            "wall_seconds": time.perf_counter() - start,
            "load_average_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        })
        self.notes.insert(0, (
            f"Attention inputs: {self.size['heads']} heads, d = d_v = {self.size['d']} unless a row says "
            "otherwise, float32, standard normal entries (seed 0), one batch. Every form of causal linear "
            "attention, the recurrence included, was timed at full length with all heads: nothing is "
            "extrapolated there."))
        return {
            "schema_version": H.SCHEMA_VERSION,
            "meta": meta,
            "measurements": self.measurements,
            "targets": self.targets,
            "crossover": self.crossover,
            "course": self.course,
            "notes": self.notes,
        }


def _to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def nw_memory_note(fresh: dict, *, every: int, m: int, bandwidth: float) -> str:
    """The results' note on the exact smoother: how it was timed, and its peak memory.

    The peak is compared between the calls on all the timed queries and the call on a
    fifth of them. It is said to grow only if even the smallest peak on all the queries
    exceeds the peak on fewer by half: with two threads the allocator's layout, and so
    the peak, varies from call to call by about that much.
    """
    queries, fewer = fresh["queries"], fresh["fewer_queries"]
    each, few = fresh["peak_bytes_each"], fresh["peak_bytes_fewer_queries"]
    text = (f"Nadaraya-Watson: x ~ Uniform(0, 1), y = sin(2πx) + 0.3 ε, bandwidth {bandwidth}, float64. The "
            f"exact smoother ran in a fresh process (as a user's script would) on every {every}th of the "
            f"{m:,} queries ({queries} queries, the same work per query), and its time was scaled by "
            f"{m // queries}: a linear extrapolation in m, exact for a smoother that treats each query alone. "
            f"Its peak extra memory on {queries} queries was {H.format_bytes(min(each))} to "
            f"{H.format_bytes(max(each))} over the {len(each)} timed calls "
            f"({', '.join(H.format_bytes(b) for b in each)}; the target uses the largest), and "
            f"{H.format_bytes(few)} on {fewer} queries")
    if min(each) > 1.5 * few:
        return text + (f": even the smallest peak on {queries} queries is ×{min(each) / few:.3g} that on "
                       f"{fewer}, so the peak grows with the number of queries.")
    return text + (f": with ×{queries / fewer:.3g} the queries, the peaks stay within the spread from call to "
                   f"call (the smallest on {queries} queries is ×{min(each) / few:.3g} that on {fewer}): "
                   "no growth with the number of queries is seen.")


def _execute_notebook(path: Path) -> subprocess.CompletedProcess:
    """Execute one notebook in place as `make execute` does: scripts/execute_notebooks.py."""
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "execute_notebooks.py"), str(path)],
                          capture_output=True, text=True)
