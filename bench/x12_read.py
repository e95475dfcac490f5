"""Benchmark the X12 reader and validator on a large, realistic 856 (ship notices), against pyx12.

Usage::

    .venv/bin/python bench/x12_read.py                 # 64 MB file, RSS measured on a 1 GB file
    .venv/bin/python bench/x12_read.py --size-mb 50 --rss-mb 0 --no-pyx12   # quick run

The input is generated (seeded, streamed to a temporary file, deleted afterwards): one interchange per 2,000
transaction sets, a group per interchange, each 856 a shipment with 1-3 orders, each order 1-4 cartons, each
carton 1-5 items (HL S/O/P/I hierarchy with TD1, TD5, REF, DTM, N1 loops, PRF, MAN, LIN, SN1, PID), the way a
warehouse system sends them (``*`` element separator, ``~`` terminator followed by a newline).

Reported, in one run and on the same file:

* ``split``: a bare tokenizer (``bytes.split`` on the terminator, then on the element separator), the ceiling;
* ``reader``: :class:`gateway.edi.x12.X12Reader` (one ``Segment`` per segment, elements split);
* ``analyze``: :func:`gateway.edi.x12.analyze`, reader + envelope + full transaction set validation;
* ``pyx12``: pyx12's ``X12Reader`` (``pyx12.x12file``) iterated to the end;
* peak RSS of ``analyze`` on a file of ``--rss-mb`` MB (and on the small file, to show memory stays flat),
  each in a fresh subprocess (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

Targets (issue 3): reader >= 10x pyx12, analyze >= 20 MB/s, peak RSS < 200 MB for the 1 GB file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SETS_PER_INTERCHANGE = 2000
CITIES = [("CHICAGO", "IL", "60601"), ("MEMPHIS", "TN", "38118"), ("ROCHESTER", "NY", "14607"),
          ("GENOA", "IL", "60135"), ("TALLAHASSEE", "FL", "32308"), ("RENO", "NV", "89502")]
ITEMS = ["WIDGET BLUE 12OZ", "GADGET RED LARGE", "SPROCKET 3/8 IN", "CABLE USB-C 2M", "MUG CERAMIC WHITE"]


def _isa(control: int) -> str:
    return (f"ISA*00*          *00*          *ZZ*WAREHOUSE01    *ZZ*RETAILER02     *260401*1200*U*00401*"
            f"{control:09d}*0*P*>~\n")


def _shipment(rng: random.Random, control: str) -> list[str]:
    segs = [f"ST*856*{control}", f"BSN*00*{rng.randrange(10**8, 10**9)}*20260401*1200*0001",
            "DTM*011*20260401*1200"]
    hl = 1
    segs += ["HL*1**S", f"TD1*CTN25*{rng.randint(1, 20)}****G*{rng.randint(1, 900)}.5*LB",
             "TD5*B*2*UPSN*M*UPS GROUND", f"REF*BM*{rng.randrange(10**7, 10**8)}",
             f"REF*CN*1Z{rng.randrange(10**15, 10**16)}"]
    for qual in ("SF", "ST"):
        city, state, zipc = rng.choice(CITIES)
        segs += [f"N1*{qual}*ACME {city} DC*92*{rng.randint(1, 99):02d}", f"N3*{rng.randint(1, 9999)} MAIN ST",
                 f"N4*{city}*{state}*{zipc}*US"]
    for _order in range(rng.randint(1, 3)):
        hl += 1
        order_hl = hl
        segs += [f"HL*{order_hl}*1*O", f"PRF*PO{rng.randrange(10**6, 10**7)}***20260329",
                 f"REF*IA*{rng.randrange(10**5, 10**6)}"]
        for _pack in range(rng.randint(1, 4)):
            hl += 1
            pack_hl = hl
            segs += [f"HL*{pack_hl}*{order_hl}*P", f"MAN*GM*00{rng.randrange(10**17, 10**18)}"]
            for line in range(1, rng.randint(2, 6)):
                hl += 1
                segs += [f"HL*{hl}*{pack_hl}*I", f"LIN*{line}*UP*{rng.randrange(10**11, 10**12)}*VN*SKU"
                         f"{rng.randint(1000, 9999)}", f"SN1**{rng.randint(1, 48)}*EA",
                         f"PID*F****{rng.choice(ITEMS)}"]
    segs.append(f"CTT*{hl}")
    segs.append(f"SE*{len(segs) + 1}*{control}")
    return segs


def generate(path: Path, size_mb: float, seed: int = 856) -> int:
    """Write a valid multi-interchange 856 file of at least ``size_mb`` MB; return the transaction set count."""
    rng = random.Random(seed)
    target = int(size_mb * 1024 * 1024)
    written = 0
    sets = 0
    interchange = 0
    with path.open("w", encoding="ascii", newline="") as fh:
        while written < target:
            interchange += 1
            parts = [_isa(interchange), f"GS*SH*WAREHOUSE01*RETAILER02*20260401*1200*{interchange}*X*004010~\n"]
            for n in range(1, SETS_PER_INTERCHANGE + 1):
                parts.append("~\n".join(_shipment(rng, f"{n:04d}")) + "~\n")
            parts.append(f"GE*{SETS_PER_INTERCHANGE}*{interchange}~\nIEA*1*{interchange:09d}~\n")
            chunk = "".join(parts)
            fh.write(chunk)
            written += len(chunk)
            sets += SETS_PER_INTERCHANGE
    return sets


# ---------------------------------------------------------------------------------------------------- runners
def run_split(path: Path) -> int:
    count = 0
    tail = b""
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            parts = (tail + block).split(b"~")
            tail = parts.pop()
            for seg in parts:
                seg.strip().split(b"*")
            count += len(parts)
    return count


def run_reader(path: Path) -> int:
    from gateway.edi.x12 import X12Reader

    count = 0
    with path.open("rb") as fh:
        for seg in X12Reader(fh):
            seg.elements  # noqa: B018 - split the elements like the other readers do
            count += 1
    return count


def run_analyze(path: Path) -> int:
    from gateway.edi.x12 import analyze

    with path.open("rb") as fh:
        a = analyze(fh)
    if not a.valid:
        raise SystemExit(f"generated file is not valid: {[i.describe() for i in a.errors[:5]]}")
    return a.segment_count


def run_pyx12(path: Path) -> int:
    import pyx12.x12file

    count = 0
    with path.open("r", encoding="ascii") as fh:
        for _seg in pyx12.x12file.X12Reader(fh):
            count += 1
    return count


def timed(fn: Callable[[Path], int], path: Path, repeat: int) -> tuple[float, float, int]:
    """Best (CPU seconds, wall seconds, segments) of ``repeat`` runs. Rates use CPU time of this process, which
    other work on a shared machine disturbs far less than wall time; both are printed."""
    best = (float("inf"), float("inf"))
    count = 0
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        count = fn(path)
        best = min(best, (time.process_time() - cpu, time.perf_counter() - wall))
    return best[0], best[1], count


def peak_rss_mb(path: Path) -> tuple[float, float, int]:
    """Run ``analyze`` on ``path`` in a fresh interpreter; return (peak RSS MB, baseline RSS MB, segments)."""
    code = (
        "import resource, sys, json\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from gateway.edi.x12 import analyze\n"
        "analyze(b'ISA')\n"  # import and load the specifications before measuring the baseline
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "with open(sys.argv[1], 'rb') as fh:\n"
        "    a = analyze(fh)\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps([peak, base, a.segment_count, a.valid]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    peak, base, segments, valid = json.loads(out.stdout)
    if not valid:
        raise SystemExit(f"{path} did not validate")
    return peak / 1024, base / 1024, segments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=64, help="size of the throughput file (>= 50)")
    parser.add_argument("--rss-mb", type=float, default=1024, help="size of the peak-memory file (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs for our readers")
    parser.add_argument("--no-pyx12", action="store_true", help="skip pyx12 (about 1 MB/s)")
    parser.add_argument("--dir", default=None, help="directory for the temporary files")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="x12bench-", dir=args.dir) as tmp:
        path = Path(tmp) / "bench-856.x12"
        t0 = time.perf_counter()
        sets = generate(path, args.size_mb)
        size = path.stat().st_size
        mb = size / 1e6
        print(f"generated {mb:.1f} MB, {sets} transaction sets 856 in {time.perf_counter() - t0:.1f} s "
              f"(python {sys.version.split()[0]})")
        results: dict[str, tuple[float, float, int]] = {}
        for name, fn, rep in (("split", run_split, args.repeat), ("reader", run_reader, args.repeat),
                              ("analyze", run_analyze, args.repeat), ("pyx12", run_pyx12, 1)):
            if name == "pyx12" and args.no_pyx12:
                continue
            seconds, wall, count = timed(fn, path, rep)
            results[name] = (seconds, wall, count)
            print(f"  {name:<8} {mb / seconds:8.1f} MB/s  {seconds:7.2f} s CPU  {wall:7.2f} s wall  {count} segments")
        seg_counts = {c for _, _, c in results.values()}
        if len(seg_counts) != 1:
            print(f"  note: segment counts differ between readers: { {k: v[2] for k, v in results.items()} }")
        r = results
        if "pyx12" in r:
            print(f"reader / pyx12 = {r['pyx12'][0] / r['reader'][0]:.1f}x   (target >= 10x)")
            print(f"analyze / pyx12 = {r['pyx12'][0] / r['analyze'][0]:.1f}x")
        print(f"reader / split ceiling = {r['split'][0] / r['reader'][0]:.2f}")
        print(f"analyze = {mb / r['analyze'][0]:.1f} MB/s   (target >= 20 MB/s)")
        peak, base, _ = peak_rss_mb(path)
        print(f"peak RSS analyze {mb:.0f} MB file: {peak:.0f} MB (after imports: {base:.0f} MB)")
        if args.rss_mb:
            path.unlink()
            big = Path(tmp) / "bench-856-big.x12"
            generate(big, args.rss_mb)
            big_mb = big.stat().st_size / 1e6
            t0 = time.perf_counter()
            peak, base, segments = peak_rss_mb(big)
            seconds = time.perf_counter() - t0
            print(f"peak RSS analyze {big_mb:.0f} MB file: {peak:.0f} MB (after imports: {base:.0f} MB; "
                  f"{segments} segments, {big_mb / seconds:.1f} MB/s incl. start-up)   (target < 200 MB)")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(this process peaked at {own:.0f} MB; pid {os.getpid()})")


if __name__ == "__main__":
    main()
