"""The exact Nadaraya-Watson smoother at scale, timed in a fresh process.

Run by ``suite.py`` as ``python -m benchmarks.nw_fresh ARGS``; prints one JSON object.

Why a fresh process: glibc's allocator adapts to the allocations it has seen (its
threshold for returning big blocks to the system moves), so the peak memory of a call
depends on what the process did before. A user's script that loads data and calls the
smoother starts fresh; so does this measurement. The peak is read on a fifth of the
queries (the warm-up call) and on every timed call with all of them, to show whether it
grows with the number of queries.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import lenakernel as lk
from benchmarks import harness as H


def problem(n: int, m: int, seed: int = 0):
    """x ~ Uniform(0, 1), y = sin(2 pi x) + 0.3 noise, m evenly spaced queries."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, n)
    y = np.sin(2 * np.pi * x) + 0.3 * rng.normal(size=n)
    return x, y, np.linspace(0.0, 1.0, m)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--m", type=int, required=True)
    parser.add_argument("--every", type=int, required=True)
    parser.add_argument("--bandwidth", type=float, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--save", required=True, help="where to save the predictions (.npy)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    # The all-pairs smoother, in blocks of queries: the exact method in any input dimension,
    # which random features are measured against. In one dimension sorting the points gives
    # faster exact paths (sorted windows, box moments); section `ends` times those.
    lk.smoothing.SORTED_WINDOW_MIN_PAIRS = float("inf")
    x, y, x_query = problem(args.n, args.m)
    sub = x_query[::args.every]
    small = sub[: max(1, len(sub) // 5)]
    with H.PeakMemory("cpu") as mem_small:
        lk.nadaraya_watson(x, y, small, bandwidth=args.bandwidth)  # also the warm-up
    kept = {}

    def call():
        kept["out"] = lk.nadaraya_watson(x, y, sub, bandwidth=args.bandwidth)

    # Every timed call is also a memory measurement (reading VmHWM costs nothing inside the
    # timed region); with two threads the allocator's layout, and so the peak, varies from
    # call to call: the largest is reported, and all are kept.
    samples, peaks = [], []
    for _ in range(args.repeats):
        with H.PeakMemory("cpu") as mem:
            samples += H.time_calls(call, repeats=1, warmup=0)
        peaks.append(mem.peak_bytes)
    np.save(args.save, kept["out"])
    print(json.dumps({
        "samples": samples,
        "peak_bytes": max(peaks),
        "peak_bytes_each": peaks,
        "queries": len(sub),
        "peak_bytes_fewer_queries": mem_small.peak_bytes,
        "fewer_queries": len(small),
        "y_std": float(np.std(y)),
    }))


if __name__ == "__main__":
    main()
