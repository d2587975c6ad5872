"""`make bench`: run the benchmark suite and write RESULTS.md and results.json.

Usage (from the repository root):
    python -m benchmarks.run [--device cpu|cuda] [--quick] [--sections a,b,...] [--threads N]
                             [--output-dir DIR] [--merge]

--quick runs every section at small sizes in seconds (a smoke test, not a measurement);
the files it writes say so. The course section (executing every notebook and building
the book) is skipped by --quick unless --sections names it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__" and not __package__:
    # Run as a file (`python benchmarks/run.py`): run it as the module `benchmarks.run`
    # instead, with the repository root importable in that process.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    sys.exit(subprocess.call([sys.executable, "-m", "benchmarks.run", *sys.argv[1:]],
                             env={**os.environ, "PYTHONPATH": path}))

from benchmarks import harness, suite  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark lenakernel: speed and memory.")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the attention and smoothing inputs live (default: cpu)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in seconds")
    parser.add_argument("--sections", default=None,
                        help=f"comma-separated subset of {','.join(suite.SECTIONS)} (default: all)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (default 0: torch's own choice, one per core)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sections of the results.json already in --output-dir and "
                             "replace only the sections run now")
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks"),
                        help="where RESULTS.md and results.json go (default: benchmarks/)")
    args = parser.parse_args(argv)
    if args.sections is None:
        sections = [s for s in suite.SECTIONS if not (args.quick and s == "course")]
    else:
        sections = [s.strip() for s in args.sections.split(",") if s.strip()]
        unknown = sorted(set(sections) - set(suite.SECTIONS))
        if unknown:
            parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(suite.SECTIONS)}")
    args.sections = sections
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no CUDA device is available to torch here.", file=sys.stderr)
            return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    run = suite.Run(device=args.device, quick=args.quick, log=lambda line: print(line, flush=True))
    results = run.run(args.sections)
    problems = harness.validate_results(results)
    if problems:
        print("results do not match the schema: " + "; ".join(problems), file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge and (out / "results.json").exists():
        results = harness.merge_results(json.loads((out / "results.json").read_text()), results, args.sections)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "RESULTS.md").write_text(harness.render_markdown(results))
    met = sum(t["status"] == "met" for t in results["targets"])
    print(f"{met} of {len(results['targets'])} targets met; wrote {out / 'RESULTS.md'} and {out / 'results.json'} "
          f"in {results['meta']['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
