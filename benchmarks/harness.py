"""The benchmark harness: timing, peak memory, ratios, verdicts and the results file.

Everything here is plain logic that the suite (``suite.py``) and the command
(``run.py``) share, and that ``tests/test_benchmarks_harness.py`` checks without
timing anything.

Method, in short:

- a *time* is the median of repeated calls after warm-up calls; on CUDA the device is
  synchronised before the clock starts and before it stops;
- a *ratio* is a ratio of two medians measured in the same run, with the two calls
  interleaved (A, B, A, B, ...) so that a change in the machine's load hits both;
- a *peak extra memory* is the highest memory in use during one call minus the memory
  in use just before it (the call's output included). On CUDA it is
  ``torch.cuda.max_memory_allocated`` minus ``torch.cuda.memory_allocated``. On CPU it
  is the process's resident set: freed heap memory is first returned to the system
  (``malloc_trim``), the kernel's high-water mark is reset (``/proc/self/clear_refs``)
  and read back after the call (``VmHWM``), which is exact to one 4 KiB page; where that
  is not available a thread samples the resident set every millisecond instead.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import gc
import math
import os
import platform
import statistics
import threading
import time
from typing import Callable

__all__ = [
    "SCHEMA_VERSION",
    "median",
    "ratio",
    "verdict",
    "make_target",
    "loglog_slope",
    "crossover",
    "time_calls",
    "time_interleaved",
    "calibrate_repeats",
    "PeakMemory",
    "peak_extra_memory",
    "matmul_rate",
    "environment",
    "validate_results",
    "merge_results",
    "render_markdown",
    "format_seconds",
    "format_bytes",
]

SCHEMA_VERSION = 1

# The comparison operators a target may use, with their meaning for the verdict.
_OPS = {
    "<=": lambda value, threshold: value <= threshold,
    "<": lambda value, threshold: value < threshold,
    ">=": lambda value, threshold: value >= threshold,
    ">": lambda value, threshold: value > threshold,
}


# --------------------------------------------------------------------------- numbers


def median(samples) -> float:
    """The median of a non-empty sequence of numbers.

    >>> median([3.0, 1.0, 2.0])
    2.0
    >>> median([4.0, 1.0, 2.0, 3.0])
    2.5
    """
    values = [float(s) for s in samples]
    if not values:
        raise ValueError("`samples` is empty: at least one measurement is needed.")
    if any(math.isnan(v) for v in values):
        raise ValueError("`samples` contains NaN.")
    return float(statistics.median(values))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or the
    denominator is not positive.

    >>> ratio(3.0, 1.5)
    2.0
    >>> ratio(None, 1.0) is None, ratio(1.0, 0.0) is None
    (True, True)
    """
    if numerator is None or denominator is None:
        return None
    if not denominator > 0:
        return None
    return float(numerator) / float(denominator)


def verdict(value: float | None, op: str, threshold: float) -> str:
    """``"met"``, ``"missed"`` or ``"not measured"`` for ``value op threshold``.

    >>> verdict(1.1, "<=", 1.15), verdict(1.2, "<=", 1.15), verdict(None, ">=", 20)
    ('met', 'missed', 'not measured')
    """
    if op not in _OPS:
        raise ValueError(f"`op` must be one of {', '.join(_OPS)}; got {op!r}.")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    return "met" if _OPS[op](float(value), float(threshold)) else "missed"


def make_target(target_id: str, description: str, value: float | None, op: str, threshold: float,
                unit: str = "x", note: str = "") -> dict:
    """One row of the targets table, with its verdict.

    >>> make_target("t", "a ratio", 25.0, ">=", 20)["status"]
    'met'
    """
    return {
        "id": target_id,
        "description": description,
        "value": None if value is None else float(value),
        "op": op,
        "threshold": float(threshold),
        "unit": unit,
        "status": verdict(value, op, threshold),
        "note": note,
    }


def loglog_slope(xs, ys) -> float:
    """Least-squares slope of ``log y`` against ``log x``: the exponent p in y ~ x^p.

    >>> round(loglog_slope([1, 2, 4, 8], [3, 6, 12, 24]), 6)
    1.0
    >>> round(loglog_slope([1, 2, 4], [1, 4, 16]), 6)
    2.0
    """
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError("`xs` and `ys` need at least two points (and as many of each) to fit a slope.")
    if any(not (x > 0 and y > 0) for x, y in zip(xs, ys)):
        raise ValueError("`xs` and `ys` must be positive to take logarithms.")
    pairs = [(math.log(x), math.log(y)) for x, y in zip(xs, ys)]
    mean_x = sum(p[0] for p in pairs) / len(pairs)
    mean_y = sum(p[1] for p in pairs) / len(pairs)
    sxx = sum((p[0] - mean_x) ** 2 for p in pairs)
    if sxx == 0:
        raise ValueError("`xs` must hold at least two different values.")
    sxy = sum((p[0] - mean_x) * (p[1] - mean_y) for p in pairs)
    return sxy / sxx


def crossover(ns, ratios) -> float | None:
    """The n where ``ratios`` (time of method A / time of method B) first falls
    through 1, interpolated linearly in (log n, log ratio); ``None`` if it never does.

    Returns ``ns[0]`` when A is already faster at the smallest n.

    >>> round(crossover([10, 100, 1000], [4.0, 2.0, 0.5]), 1)
    316.2
    >>> crossover([10, 100], [2.0, 1.5]) is None
    True
    """
    points = list(zip(ns, ratios))
    if not points:
        return None
    if points[0][1] <= 1:
        return float(points[0][0])
    for (n0, r0), (n1, r1) in zip(points, points[1:]):
        if r0 > 1 >= r1:
            # Straight line in log-log between the two bracketing points.
            t = math.log(r0) / (math.log(r0) - math.log(r1))
            return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0))))
    return None


# --------------------------------------------------------------------------- timing


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_calls(fn: Callable[[], object], *, repeats: int, warmup: int = 1, device: str = "cpu") -> list[float]:
    """Seconds taken by ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls.

    >>> samples = time_calls(lambda: sum(range(100)), repeats=3)
    >>> len(samples), all(s >= 0 for s in samples)
    (3, True)
    """
    return time_interleaved({"f": fn}, repeats=repeats, warmup=warmup, device=device)["f"]


def time_interleaved(fns: dict, *, repeats: int, warmup: int = 1, device: str = "cpu") -> dict:
    """Time several functions in turns (A, B, A, B, ...): the samples of each.

    Interleaving keeps a ratio honest on a shared machine: a burst of load from
    elsewhere slows both sides of the comparison, not just one.

    >>> out = time_interleaved({"a": lambda: None, "b": lambda: None}, repeats=2)
    >>> sorted(out), [len(v) for v in out.values()]
    (['a', 'b'], [2, 2])
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1; got {repeats}.")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    _sync(device)
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - start)
    return samples


def calibrate_repeats(seconds_per_call: float, budget: float, lo: int = 3, hi: int = 25) -> int:
    """How many timed repeats fit in ``budget`` seconds, clamped to ``[lo, hi]``.

    >>> calibrate_repeats(0.01, 1.0), calibrate_repeats(10.0, 1.0), calibrate_repeats(0.2, 1.0)
    (25, 3, 5)
    """
    if seconds_per_call <= 0:
        return hi
    return int(max(lo, min(hi, math.floor(budget / seconds_per_call))))


# --------------------------------------------------------------------------- memory


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _trim_heap() -> None:
    """Give freed heap memory back to the system, so reuse shows up as new RSS."""
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _read_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_high_water_mark() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return _read_status_kib("VmHWM") is not None


class PeakMemory:
    """Context manager measuring the peak extra memory of the code inside it.

    After the block, ``peak_bytes`` holds the highest memory in use minus the memory
    in use on entry, and ``method`` says how it was measured.

    >>> import numpy as np
    >>> with PeakMemory("cpu") as mem:
    ...     block = np.ones(8_000_000)          # 64 MB, touched
    >>> del block
    >>> mem.peak_bytes > 50e6
    True
    """

    def __init__(self, device: str = "cpu", interval: float = 0.001):
        self.device = device
        self.interval = interval
        self.peak_bytes: int | None = None
        self.method = ""

    def __enter__(self):
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            self.method = "torch.cuda.max_memory_allocated"
            return self
        _trim_heap()
        self._base = None
        if _reset_high_water_mark():
            self._base = _read_status_kib("VmRSS") * 1024
            self.method = "VmHWM"
            return self
        import psutil

        self._process = psutil.Process()
        self._base = self._process.memory_info().rss
        self._peak = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.method = f"RSS sampled every {self.interval * 1e3:g} ms"
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            self._stop.wait(self.interval)

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
            self.peak_bytes = int(torch.cuda.max_memory_allocated() - self._base)
        elif self.method == "VmHWM":
            self.peak_bytes = int(_read_status_kib("VmHWM") * 1024 - self._base)
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._process.memory_info().rss)
            self.peak_bytes = int(self._peak - self._base)
        self.peak_bytes = max(self.peak_bytes, 0)
        return False


def peak_extra_memory(fn: Callable[[], object], device: str = "cpu") -> int:
    """Peak extra bytes in use during one call of ``fn()`` (its output included).

    >>> import numpy as np
    >>> peak_extra_memory(lambda: np.ones(4_000_000).sum()) > 25e6   # 32 MB array
    True
    """
    with PeakMemory(device) as mem:
        result = fn()
        del result
    return mem.peak_bytes


def memory_method(device: str = "cpu") -> dict:
    """How peak memory is measured on ``device``, and its resolution, in words."""
    if device.startswith("cuda"):
        return {
            "method": "torch.cuda.max_memory_allocated() minus torch.cuda.memory_allocated() "
                      "before the call (peak statistics reset first)",
            "resolution_bytes": 512,
        }
    if _reset_high_water_mark():
        return {
            "method": "resident set size: malloc_trim(0), reset the peak with /proc/self/clear_refs, "
                      "then VmHWM minus VmRSS before the call",
            "resolution_bytes": os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096,
        }
    return {
        "method": "resident set size sampled by a thread every 1 ms (psutil); a peak shorter "
                  "than the interval can be missed",
        "resolution_bytes": None,
    }


# --------------------------------------------------------------------------- machine


def matmul_rate(device: str = "cpu", size: int | None = None, repeats: int = 7) -> dict:
    """The machine's float32 matrix-multiply rate in GFLOP/s (2 size^3 per product)."""
    import torch

    if size is None:
        size = 4096 if device.startswith("cuda") else 2048
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    samples = time_calls(lambda: a @ b, repeats=repeats, warmup=2, device=device)
    seconds = median(samples)
    return {"size": size, "seconds": seconds, "samples": samples, "gflops": 2 * size**3 / seconds / 1e9}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(device: str = "cpu") -> dict:
    """Versions, threads, processor and date for the results file."""
    import numpy
    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__}
    for name in ("scipy", "lenakernel"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "unknown")
        except ImportError:
            pass
    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "device": device,
        "device_name": _cpu_name(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }
    if device.startswith("cuda"):
        info["device_name"] = torch.cuda.get_device_name()
        info["host_cpu"] = _cpu_name()
    return info


# --------------------------------------------------------------------------- results file

_META_KEYS = ("date", "device", "device_name", "torch_threads", "versions", "matmul", "memory", "quick")
_MEASUREMENT_KEYS = ("name", "params", "seconds", "samples", "peak_bytes")
_TARGET_KEYS = ("id", "description", "value", "op", "threshold", "unit", "status")


def validate_results(results: dict) -> list[str]:
    """Problems with a results dictionary, as sentences; empty when it is valid.

    >>> validate_results({"schema_version": 1})[:1]
    ['missing key `meta`']
    """
    problems = []
    for key in ("schema_version", "meta", "measurements", "targets", "crossover", "course", "notes"):
        if key not in results:
            problems.append(f"missing key `{key}`")
    if problems:
        return problems
    if results["schema_version"] != SCHEMA_VERSION:
        problems.append(f"schema_version is {results['schema_version']!r}, expected {SCHEMA_VERSION}")
    for key in _META_KEYS:
        if key not in results["meta"]:
            problems.append(f"meta is missing `{key}`")
    gflops = results["meta"].get("matmul", {}).get("gflops")
    if not (isinstance(gflops, (int, float)) and gflops > 0):
        problems.append("meta.matmul.gflops must be a positive number")
    for i, item in enumerate(results["measurements"]):
        for key in _MEASUREMENT_KEYS:
            if key not in item:
                problems.append(f"measurements[{i}] is missing `{key}`")
        seconds = item.get("seconds")
        if seconds is not None and not seconds > 0:
            problems.append(f"measurements[{i}] ({item.get('name')}) has seconds <= 0")
        if seconds is not None and item.get("samples") and abs(median(item["samples"]) - seconds) > 1e-12:
            problems.append(f"measurements[{i}] ({item.get('name')}): seconds is not the median of samples")
    for i, item in enumerate(results["targets"]):
        for key in _TARGET_KEYS:
            if key not in item:
                problems.append(f"targets[{i}] is missing `{key}`")
        if all(k in item for k in ("value", "op", "threshold", "status")):
            if verdict(item["value"], item["op"], item["threshold"]) != item["status"]:
                problems.append(f"targets[{i}] ({item['id']}): status does not follow from value")
    return problems


def format_seconds(seconds: float | None) -> str:
    """Seconds with a unit chosen for reading.

    >>> format_seconds(0.0123), format_seconds(2.5), format_seconds(3.2e-5), format_seconds(None)
    ('12.3 ms', '2.50 s', '32 µs', '—')
    """
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def format_bytes(count: float | None) -> str:
    """Bytes in binary units.

    >>> format_bytes(3 * 2**20), format_bytes(1536), format_bytes(None)
    ('3.00 MiB', '1.50 KiB', '—')
    """
    if count is None:
        return "—"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= size:
            return f"{count / size:.2f} {unit}"
    return f"{int(count)} B"


def _format_value(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "s":
        return format_seconds(value)
    if unit == "bytes":
        return format_bytes(value)
    if unit == "x":
        return f"{value:.3g}×"
    return f"{value:.3g}{(' ' + unit) if unit else ''}"


def _format_threshold(target: dict) -> str:
    return f"{target['op']} {_format_value(target['threshold'], target['unit'])}"


def _loads(values) -> str:
    return "—" if not values else ", ".join(f"{v:.2f}" for v in values)


def _params_text(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _note_subject(note: str) -> str:
    """What a note is about: its words before the first colon (the whole note if none)."""
    return note.split(":", 1)[0]


def merge_results(old: dict, new: dict, sections) -> dict:
    """``old`` with the given sections replaced by those of ``new`` (a run of those sections only).

    A measurement belongs to the section its name starts with (``"training/..."``); a target
    to the section recorded in it, or else the one its id starts with (``"training_..."``).
    Ratios never mix the two runs: each target compares measurements of one run. The
    meta data keep the old run's and list each merged run with its date and load.

    >>> old = {"meta": {"date": "a"}, "measurements": [{"name": "x/1"}, {"name": "y/1"}],
    ...        "targets": [{"id": "y_t"}], "notes": ["n"], "crossover": [], "course": {}}
    >>> new = {"meta": {"date": "b", "load_average": [1, 1, 1]}, "measurements": [{"name": "y/2"}],
    ...        "targets": [{"id": "y_u", "section": "y"}], "notes": ["n", "m"], "crossover": [], "course": {}}
    >>> merged = merge_results(old, new, ["y"])
    >>> [m["name"] for m in merged["measurements"]], [t["id"] for t in merged["targets"]], merged["notes"]
    (['x/1', 'y/2'], ['y_u'], ['n', 'm'])
    >>> merged["meta"]["merged_runs"][0]["sections"]
    ['y']
    >>> len(merge_results(merged, new, ["y"])["meta"]["merged_runs"])  # run again: one entry
    1
    >>> again = dict(new, notes=["n", "m: 2"])
    >>> merge_results(dict(merged, notes=["n", "m: 1"]), again, ["y"])["notes"]  # the newer note on m
    ['n', 'm: 2']
    """
    sections = list(sections)

    def ours(name, section=None, sep="/"):
        return section in sections if section else any(name.startswith(s + sep) for s in sections)

    merged = dict(old)
    merged["measurements"] = [m for m in old["measurements"] if not ours(m["name"])] + new["measurements"]
    merged["targets"] = ([t for t in old["targets"] if not ours(t["id"], t.get("section"), "_")]
                         + new["targets"])
    # A note opens with its subject ("Training rows: ..."); the new run's note on a subject
    # replaces the old run's, so a section run again leaves no stale numbers behind.
    new_subjects = {_note_subject(n) for n in new["notes"]}
    merged["notes"] = ([n for n in old["notes"] if _note_subject(n) not in new_subjects]
                       + list(new["notes"]))
    if "crossover" in sections:
        merged["crossover"] = new["crossover"]
    if "course" in sections:
        merged["course"] = new["course"]
    meta = dict(old["meta"])
    nm = new["meta"]
    # An earlier merged run whose sections are all run again has no rows left: drop its entry.
    earlier = [run for run in meta.get("merged_runs", []) if not set(run["sections"]) <= set(sections)]
    meta["merged_runs"] = earlier + [{
        "sections": sections, "date": nm.get("date"), "device_name": nm.get("device_name"),
        "cpu_count": nm.get("cpu_count"), "load_average": nm.get("load_average"),
        "load_average_end": nm.get("load_average_end"), "wall_seconds": nm.get("wall_seconds"),
        "torch_threads": nm.get("torch_threads"), "matmul": nm.get("matmul")}]
    merged["meta"] = meta
    return merged


def render_markdown(results: dict) -> str:
    """The RESULTS.md text for a results dictionary."""
    meta = results["meta"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`) from `benchmarks/results.json`; "
        "do not edit by hand. How it measures: `benchmarks/README.md`.",
        "",
        f"- date: {meta['date']}" + ("  (**quick smoke run, not the real sizes**)" if meta.get("quick") else ""),
        f"- device: {meta['device']} ({meta['device_name']}), {meta.get('cpu_count')} logical CPUs, "
        f"torch threads: {meta['torch_threads']}",
        f"- load average (1, 5, 15 min) at start: {_loads(meta.get('load_average'))}; at the end: "
        f"{_loads(meta.get('load_average_end'))} (other work on the machine slows calls unevenly)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- float32 matmul rate, measured in this run: **{meta['matmul']['gflops']:.1f} GFLOP/s** "
        f"({meta['matmul']['size']}×{meta['matmul']['size']} square product, median of "
        f"{len(meta['matmul']['samples'])})",
        f"- peak memory: {meta['memory']['method']} (resolution: "
        f"{format_bytes(meta['memory']['resolution_bytes'])})",
        f"- whole run: {format_seconds(meta.get('wall_seconds'))}",
    ]
    for run in meta.get("merged_runs", []):
        lines.append(
            f"- sections {', '.join(run['sections'])} were re-run on {run['date']} and merged in "
            f"({run.get('device_name')}, {run.get('cpu_count')} logical CPUs, torch threads: "
            f"{run.get('torch_threads')}, float32 matmul rate {((run.get('matmul') or {}).get('gflops') or 0):.1f} "
            f"GFLOP/s; load average at start {_loads(run.get('load_average'))}, at the end "
            f"{_loads(run.get('load_average_end'))}; {format_seconds(run.get('wall_seconds'))}); "
            "their ratios compare measurements of that run only")
    lines += [
        "",
        "Every time is a median of repeated calls after a warm-up; every ratio compares two medians "
        "from this run, timed in turns.",
        "",
        "## Targets",
        "",
        "| target | measured | required | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for target in results["targets"]:
        mark = {"met": "met", "missed": "**missed**"}.get(target["status"], target["status"])
        note = f" ({target['note']})" if target.get("note") else ""
        lines.append(
            f"| {target['description']}{note} | {_format_value(target['value'], target['unit'])} | "
            f"{_format_threshold(target)} | {mark} |"
        )
    if results["crossover"]:
        lines += [
            "",
            "## Crossover: where linear attention overtakes softmax attention",
            "",
            "Measured n* interpolates the time ratio in log-log; the model solves the operation "
            "counts of `benchmarks/README.md` for equality.",
            "",
            "| d | measured n* vs `lk.softmax_attention` | measured n* vs SDPA | operation-count model n* |",
            "| --- | --- | --- | --- |",
        ]
        for row in results["crossover"]:
            smallest = row.get("ns", [None])[0]

            def cell(x):
                if x is None:
                    return "not reached"
                return f"≤ {x:.0f} (faster from the first n)" if x == smallest else f"{x:.0f}"
            lines.append(f"| {row['d']} | {cell(row['n_star_measured'])} | {cell(row.get('n_star_measured_sdpa'))} "
                         f"| {row['n_star_model']:.0f} |")
    course = results["course"]
    if course:
        lines += ["", "## The course", ""]
        if course.get("notebooks"):
            lines += ["| notebook | execution time |", "| --- | --- |"]
            for name, seconds in course["notebooks"].items():
                lines.append(f"| {name} | {format_seconds(seconds)} |")
        if course.get("errors"):
            lines += ["", "Problems: " + "; ".join(course["errors"])]
    lines += ["", "## Every measurement", "",
              "| measurement | parameters | time (median) | repeats | peak extra memory |",
              "| --- | --- | --- | --- | --- |"]
    for item in results["measurements"]:
        lines.append(
            f"| {item['name']} | {_params_text(item['params'])} | {format_seconds(item['seconds'])} | "
            f"{len(item['samples'] or [])} | {format_bytes(item['peak_bytes'])} |"
        )
    if results["notes"]:
        lines += ["", "## What was measured, honestly", ""]
        lines += [f"- {note}" for note in results["notes"]]
    lines.append("")
    return "\n".join(lines)
