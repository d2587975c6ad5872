"""The benchmark harness's logic: medians, ratios, verdicts, fits, the results schema.

Nothing here asserts a speed: the one end-to-end test runs `benchmarks/run.py --quick`
on two small sections and checks only that it writes a valid results file.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import harness as H
from benchmarks import models, run, suite

ROOT = Path(__file__).resolve().parent.parent
positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)


# ------------------------------------------------------------------ median and ratio

@settings(max_examples=50, deadline=None)
@given(st.lists(positive, min_size=1, max_size=30))
def test_median_matches_numpy(samples):
    assert H.median(samples) == pytest.approx(float(np.median(samples)))


@settings(max_examples=50, deadline=None)
@given(st.lists(positive, min_size=1, max_size=30), positive)
def test_median_ignores_order_and_one_outlier(samples, outlier):
    base = H.median(samples + [1e9])
    assert H.median(list(reversed(samples)) + [1e9]) == base
    assert min(samples) <= base <= 1e9


def test_median_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="empty"):
        H.median([])
    with pytest.raises(ValueError, match="NaN"):
        H.median([1.0, math.nan])


def test_ratio():
    assert H.ratio(6.0, 2.0) == 3.0
    assert H.ratio(None, 2.0) is None
    assert H.ratio(1.0, None) is None
    assert H.ratio(1.0, 0.0) is None


# ------------------------------------------------------------------ verdicts

@pytest.mark.parametrize("value, op, threshold, expected", [
    (1.15, "<=", 1.15, "met"),
    (1.151, "<=", 1.15, "missed"),
    (20.0, ">=", 20, "met"),
    (19.9, ">=", 20, "missed"),
    (0.99, "<", 1, "met"),
    (1.0, "<", 1, "missed"),
    (2.0, ">", 1, "met"),
    (None, "<", 1, "not measured"),
    (math.nan, "<", 1, "not measured"),
])
def test_verdict(value, op, threshold, expected):
    assert H.verdict(value, op, threshold) == expected


def test_verdict_rejects_unknown_operator():
    with pytest.raises(ValueError, match="`op`"):
        H.verdict(1.0, "==", 1.0)


def test_make_target_carries_its_verdict():
    row = H.make_target("x", "a thing", 0.5, "<", 1.0, unit="", note="why")
    assert row["status"] == "met" and row["note"] == "why" and row["value"] == 0.5


# ------------------------------------------------------------------ fits and crossover

@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=-3, max_value=3), st.floats(min_value=1e-3, max_value=1e3))
def test_loglog_slope_recovers_a_power_law(power, scale):
    xs = [2.0**k for k in range(1, 7)]
    ys = [scale * x**power for x in xs]
    assert H.loglog_slope(xs, ys) == pytest.approx(power, abs=1e-9)


def test_loglog_slope_rejects_bad_input():
    with pytest.raises(ValueError, match="two points"):
        H.loglog_slope([1.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        H.loglog_slope([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="different"):
        H.loglog_slope([2.0, 2.0], [1.0, 3.0])


def test_crossover_interpolates_in_log_log():
    # ratio = (n / 100)^-1 crosses 1 at exactly n = 100.
    ns = [10, 50, 200, 1000]
    assert H.crossover(ns, [100 / n for n in ns]) == pytest.approx(100.0)
    assert H.crossover(ns, [0.5] * 4) == 10.0  # faster from the start
    assert H.crossover(ns, [2.0] * 4) is None  # never faster
    assert H.crossover([], []) is None


def test_calibrate_repeats_is_clamped():
    assert H.calibrate_repeats(1e-6, 1.0, 3, 25) == 25
    assert H.calibrate_repeats(100.0, 1.0, 3, 25) == 3
    assert H.calibrate_repeats(0.1, 1.0, 3, 25) == 10
    assert H.calibrate_repeats(0.0, 1.0, 3, 25) == 25


# ------------------------------------------------------------------ timing and memory (no speeds asserted)

def test_time_interleaved_calls_in_turns():
    order = []
    samples = H.time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                 repeats=3, warmup=1)
    assert order == ["a", "b"] * 4
    assert {k: len(v) for k, v in samples.items()} == {"a": 3, "b": 3}
    assert all(s >= 0 for v in samples.values() for s in v)
    with pytest.raises(ValueError, match="repeats"):
        H.time_interleaved({"a": lambda: None}, repeats=0)


def test_peak_memory_sees_a_large_allocation_and_not_a_small_one():
    big = H.peak_extra_memory(lambda: np.ones(16_000_000))  # 128 MB, touched
    assert big >= 100e6
    small = H.peak_extra_memory(lambda: np.ones(10))
    assert small < 16e6


def test_sampling_fallback_measures_too(monkeypatch):
    monkeypatch.setattr(H, "_reset_high_water_mark", lambda: False)

    def hold():
        block = np.ones(16_000_000)
        import time
        time.sleep(0.05)  # longer than the 1 ms sampling interval
        return block

    with H.PeakMemory("cpu") as mem:
        hold()
    assert mem.method.startswith("RSS sampled")
    assert mem.peak_bytes >= 100e6


# ------------------------------------------------------------------ operation counts

def test_operation_counts_are_consistent():
    n, d = 8192, 64
    # Linear attention is linear in n, softmax quadratic.
    assert models.linear_attention_ops(2 * n, d) == pytest.approx(2 * models.linear_attention_ops(n, d))
    assert models.softmax_attention_ops(2 * n, d) == pytest.approx(4 * models.softmax_attention_ops(n, d), rel=1e-3)
    # The model's crossover is where the two counts meet, and it sits near d.
    for d in (32, 64, 128):
        n_star = models.crossover_model(d)
        assert models.softmax_attention_ops(n_star, d) == pytest.approx(models.linear_attention_ops(n_star, d))
        assert d - 1 < n_star < d + 2
    # Chunk-wise causal: the intra-chunk and inter-chunk halves are equal when C = d = d_v.
    assert models.chunked_causal_ops(n, 64, 64, 64) == 2 * (2 * n * 64 * 128)


def test_bare_expression_is_linear_attention():
    import torch

    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 7, 3, generator=generator, dtype=torch.float64) for _ in range(3))
    fq, fk = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    weights = fq @ fk.mT
    expected = (weights @ v) / (weights.sum(-1, keepdim=True) + 1e-6)
    assert torch.allclose(suite.bare_linear_attention(q, k, v), expected)


# ------------------------------------------------------------------ schema and rendering

def _minimal_results():
    return {
        "schema_version": H.SCHEMA_VERSION,
        "meta": {"date": "2026-01-01T00:00:00+00:00", "device": "cpu", "device_name": "test cpu",
                 "torch_threads": 2, "cpu_count": 2, "versions": {"torch": "x"}, "quick": True,
                 "matmul": {"size": 8, "seconds": 1e-6, "samples": [1e-6], "gflops": 1.0},
                 "memory": {"method": "VmHWM", "resolution_bytes": 4096}, "wall_seconds": 1.0},
        "measurements": [{"name": "a", "params": {"n": 8}, "seconds": 2.0, "samples": [1.0, 2.0, 3.0],
                          "peak_bytes": 4096}],
        "targets": [H.make_target("t", "a target", 2.0, "<=", 3.0)],
        "crossover": [{"d": 32, "n_star_measured": 100.0, "n_star_measured_sdpa": None, "n_star_model": 33.0}],
        "course": {"notebooks": {"a.ipynb": 1.0}, "errors": []},
        "notes": ["a note"],
    }


def test_validate_accepts_a_well_formed_file():
    assert H.validate_results(_minimal_results()) == []


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r.pop("targets"), "missing key `targets`"),
    (lambda r: r["meta"].pop("matmul"), "meta is missing `matmul`"),
    (lambda r: r["measurements"][0].update(seconds=5.0), "not the median"),
    (lambda r: r["targets"][0].update(status="missed"), "status does not follow"),
    (lambda r: r.update(schema_version=99), "schema_version"),
])
def test_validate_names_the_problem(breakage, message):
    results = _minimal_results()
    breakage(results)
    assert any(message in p for p in H.validate_results(results))


def test_render_markdown_has_every_section():
    text = H.render_markdown(_minimal_results())
    for piece in ("# Benchmark results", "## Targets", "a target", "## Crossover", "## The course",
                  "## Every measurement", "a note", "quick smoke run", "1.0 GFLOP/s"):
        assert piece in text


def test_formatting():
    assert H.format_seconds(0.5) == "500 ms"
    assert H.format_bytes(2**30) == "1.00 GiB"
    assert H.format_bytes(10) == "10 B"


# ------------------------------------------------------------------ the command

def test_parse_args():
    args = run.parse_args(["--quick"])
    assert "course" not in args.sections and args.device == "cpu"
    assert run.parse_args(["--sections", "nw, course"]).sections == ["nw", "course"]
    with pytest.raises(SystemExit):
        run.parse_args(["--sections", "nonsense"])


def test_quick_run_writes_valid_files(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--sections", "noncausal,causal",
         "--output-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert H.validate_results(results) == []
    assert results["meta"]["quick"] is True
    names = {m["name"] for m in results["measurements"]}
    assert {"noncausal/lk.linear_attention", "causal/chunked", "causal/recurrent"} <= names
    assert {t["id"] for t in results["targets"]} >= {"linear_vs_expression", "chunked_vs_prefix_sum"}
    assert "quick smoke run" in (tmp_path / "RESULTS.md").read_text()


def test_recurrent_peer_has_the_papers_gradient():
    """The fallback peer (the paper's recurrence and its Algorithm 1 gradient) is exact."""
    from benchmarks import peers

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 5, 3, generator=g, dtype=torch.float64).requires_grad_() for _ in range(3))
    assert torch.autograd.gradcheck(peers._RecurrentProduct.apply, (q, k, v))
    masked = (q @ k.mT).tril() @ v
    assert torch.allclose(peers._RecurrentProduct.apply(q, k, v), masked)


def test_training_section_merges_into_stored_results(tmp_path):
    env = {**os.environ, "LENAKERNEL_BENCH_CACHE": str(tmp_path / "cache"), "FAST_TRANSFORMERS_KERNEL": ""}
    for sections in ("noncausal", "training"):
        done = subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--sections", sections, "--merge",
             "--output-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
        )
        assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert H.validate_results(results) == []
    names = {m["name"] for m in results["measurements"]}
    assert {"noncausal/lk.linear_attention", "training/causal lk.linear_attention", "training/causal peer",
            "training/causal forward only"} <= names
    assert {t["id"] for t in results["targets"]} >= {"linear_vs_expression", "training_vs_peer",
                                                      "training_memory_slope"}
    assert [run["sections"] for run in results["meta"]["merged_runs"]] == [["training"]]
    assert "re-run" in (tmp_path / "RESULTS.md").read_text()
