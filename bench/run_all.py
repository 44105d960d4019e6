#!/usr/bin/env python3
"""Run every benchmark under bench/ in turn, each with its default arguments (`make bench`).

Which files count as benchmarks: `bench/bench_*.py` and `bench/*_load.py`, in name order,
plus any file named in EXTRA below (for a script that fits neither pattern). Files whose
name starts with `_` and this runner itself are never run. Each script runs in its own
process with the same Python (the project's venv under `make bench`) and the repository
root as its working directory; its output goes straight through. A script that exits
non-zero is reported, the others still run, and the runner exits 1 at the end.

    .venv/bin/python bench/run_all.py              # all of them
    .venv/bin/python bench/run_all.py --list       # only say which would run
    .venv/bin/python bench/run_all.py gateway      # only those whose file name contains "gateway"

Figures are recorded by hand in docs/benchmarks.md; machine-readable results go to
bench/results/ (not committed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

PATTERNS = ("bench_*.py", "*_load.py")
EXTRA: tuple[str, ...] = ()   # more scripts by file name, e.g. ("ussd_soak.py",)


def discover() -> list[Path]:
    """The benchmark scripts, each once, in file-name order."""
    found = {path for pattern in PATTERNS for path in BENCH.glob(pattern)}
    found |= {BENCH / name for name in EXTRA}
    me = Path(__file__).resolve()
    return sorted((p for p in found if p.resolve() != me and not p.name.startswith("_")),
                  key=lambda p: p.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks under bench/ in turn.")
    parser.add_argument("only", nargs="*",
                        help="run only scripts whose file name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = parser.parse_args(argv)

    scripts = [p for p in discover() if not args.only or any(w in p.name for w in args.only)]
    missing = [p for p in scripts if not p.is_file()]
    if missing:
        print(f"run_all: EXTRA names missing files: {', '.join(p.name for p in missing)}")
        return 1
    if args.list or not scripts:
        for path in scripts:
            print(path.relative_to(ROOT))
        if not scripts:
            print("run_all: no benchmark scripts found")
        return 0

    outcomes: list[tuple[str, int, float]] = []
    for path in scripts:
        print(f"\n=== {path.relative_to(ROOT)} ===", flush=True)
        began = time.monotonic()
        try:
            code = subprocess.run([sys.executable, str(path)], cwd=ROOT, check=False).returncode
        except KeyboardInterrupt:
            print("\nrun_all: interrupted")
            return 130
        outcomes.append((path.name, code, time.monotonic() - began))

    print("\n=== summary ===")
    for name, code, seconds in outcomes:
        print(f"  {'ok    ' if code == 0 else f'FAILED ({code})'}  {name}  {seconds:.0f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
