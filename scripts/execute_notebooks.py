"""Re-execute notebooks in place, top to bottom, the way `make execute` promises.

No per-cell timing metadata is recorded and widget state is stored, so the static book
can show the widgets and two runs in a row give byte-identical text outputs.

Usage: python scripts/execute_notebooks.py book/01-nadaraya-watson.ipynb [...]
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(notebook, path)
    return elapsed


def main(paths: list[str]) -> None:
    total = 0.0
    for name in paths:
        elapsed = execute(Path(name))
        total += elapsed
        print(f"{name}: {elapsed:.1f} s", flush=True)
    print(f"all notebooks: {total:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
