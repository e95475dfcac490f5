"""CLI start-up: median wall time of ten runs of `gateway --version`, `gateway --help` and `gateway x12 --help`,
against the interpreter's own start-up (`python -c pass`) measured in the same run.

usage: .venv/bin/python bench/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

GATEWAY = Path(sys.executable).with_name("gateway")


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    ref = median_seconds([sys.executable, "-c", "pass"], args.runs)
    print(f"{'python -c pass (reference)':32} {ref * 1000:7.1f} ms")
    for argv in (["--version"], ["--help"], ["x12", "--help"], ["messages", "search", "--help"]):
        m = median_seconds([str(GATEWAY), *argv], args.runs)
        print(f"{'gateway ' + ' '.join(argv):32} {m * 1000:7.1f} ms  ({m / ref:4.1f}x the interpreter)")


if __name__ == "__main__":
    main()
