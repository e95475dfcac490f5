"""Mapping benchmark: canonical records per second X12 -> canonical and canonical -> X12 for a large generated
856 and 940, and CSV rows per second with peak memory while reading a large CSV (default 1 GB).

Peers measured in the same run: the X12 reader alone (segments, no mapping) for the X12 direction, and pandas
reading the same CSV without building records. Peak RSS is measured in a fresh child process per CSV size, so a
flat memory profile shows as the same peak for the small and the large file.

    .venv/bin/python bench/mapping.py     # 856 x 2000 sets, 940/945 x 5000, 214 x 10000, CSV 100 MB and 1 GB
    .venv/bin/python bench/mapping.py --csv-mb 200 --sets 500
"""

from __future__ import annotations

import argparse
import gc
import io
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.edi.x12.reader import X12Reader
from gateway.mapping import from_canonical, iter_canonical, to_canonical
from gateway.mapping.csvio import columns_of, iter_rows, read_csv

ISA = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~\n"


def make_856(sets: int, packs: int = 10) -> bytes:
    out = [ISA, "GS*SH*SENDER*RECEIVER*20240101*1200*1*X*004010~\n"]
    for n in range(1, sets + 1):
        seg = [f"BSN*00*SHIP{n:08d}*20240101*1200", "HL*1**S", "TD1*CTN*10****G*120.5*LB", "TD5**2*ABCD*M*GROUND",
               f"REF*BM*BOL{n:08d}", "DTM*011*20240101*0800*ET", "N1*ST*STORE 7*92*0007", "N3*1 MAIN ST",
               "N4*SPRINGFIELD*IL*62701*US", "HL*2*1*O", f"PRF*PO{n:08d}***20231230"]
        hl = 2
        for p in range(packs):
            hl += 1
            pack = hl
            seg += [f"HL*{pack}*2*P", f"MAN*GM*00{n:08d}{p:010d}"]
            hl += 1
            seg += [f"HL*{hl}*{pack}*I", f"LIN*{p + 1}*UP*0{n:05d}{p:05d}*VN*V-{p}", "SN1**12*EA**12"]
        seg.append(f"CTT*{hl}")
        out.append(f"ST*856*{n:04d}~\n" + "".join(s + "~\n" for s in seg) + f"SE*{len(seg) + 2}*{n:04d}~\n")
    out += [f"GE*{sets}*1~\n", "IEA*1*000000001~\n"]
    return "".join(out).encode()


def make_940(sets: int, lines: int = 10) -> bytes:
    out = [ISA, "GS*OW*SENDER*RECEIVER*20240101*1200*1*X*004010~\n"]
    for n in range(1, sets + 1):
        seg = [f"W05*N*ORD{n:08d}*PO{n:08d}", "N1*ST*STORE 7*9*0007", "N3*1 MAIN ST", "N4*SPRINGFIELD*IL*62701",
               "G62*10*20240105", "W66*PP*M***GROUND****ABCD"]
        for ln in range(1, lines + 1):
            seg += [f"LX*{ln}", f"W01*{ln}*CA*0{n:05d}{ln:05d}*VN*V{ln}", f"G69*ITEM {ln}"]
        seg.append(f"W76*{lines * 5}*100*LB")
        out.append(f"ST*940*{n:04d}~\n" + "".join(s + "~\n" for s in seg) + f"SE*{len(seg) + 2}*{n:04d}~\n")
    out += [f"GE*{sets}*1~\n", "IEA*1*000000001~\n"]
    return "".join(out).encode()


def make_945(sets: int, lines: int = 10) -> bytes:
    out = [ISA, "GS*SW*SENDER*RECEIVER*20240101*1200*1*X*004010~\n"]
    for n in range(1, sets + 1):
        seg = [f"W06*F*ORD{n:08d}*20240105*SHIP{n:08d}**PO{n:08d}", "N1*ST*STORE 7*9*0007", "N3*1 MAIN ST",
               "N4*SPRINGFIELD*IL*62701", "G62*10*20240105", "W27*M*ABCD*GROUND*PP"]
        for ln in range(1, lines + 1):
            seg += [f"LX*{ln}", f"W12*CC*{ln + 4}*{ln + 4}*0*CA**VN*V{ln}*LOT{ln}", f"G69*ITEM {ln}",
                    f"N9*LV*LPN{n:06d}{ln:03d}"]
        seg.append(f"W03*{lines * 5}*100*LB")
        out.append(f"ST*945*{n:04d}~\n" + "".join(s + "~\n" for s in seg) + f"SE*{len(seg) + 2}*{n:04d}~\n")
    out += [f"GE*{sets}*1~\n", "IEA*1*000000001~\n"]
    return "".join(out).encode()


def make_214(sets: int, stops: int = 4) -> bytes:
    out = [ISA, "GS*QM*SENDER*RECEIVER*20240101*1200*1*X*004010~\n"]
    for n in range(1, sets + 1):
        seg = [f"B10*PRO{n:08d}*SHIP{n:08d}*ABCD", f"L11*PO{n:08d}*PO", "N1*SH*ACME DC*93*0001",
               "N4*MEMPHIS*TN*38118*US"]
        for ln in range(1, stops + 1):
            seg += [f"LX*{ln}", f"AT7*X{ln % 7}*NS***2024010{ln}*1345*LT", "MS1*CHICAGO*IL", "MS2*ABCD*7843",
                    f"L11*{ln:02d}*QN", "AT8*G*L*2038*13"]
        out.append(f"ST*214*{n:04d}~\n" + "".join(s + "~\n" for s in seg) + f"SE*{len(seg) + 2}*{n:04d}~\n")
    out += [f"GE*{sets}*1~\n", "IEA*1*000000001~\n"]
    return "".join(out).encode()


def bench_x12(name: str, data: bytes, set_id: str) -> None:
    """Times are CPU seconds of this process (best of two runs): other work on a shared machine disturbs them far
    less than wall time. The reader alone on the same bytes is the reference measured in the same run."""
    t_read = t_in = t_out = t_stream = float("inf")
    segments = 0
    records: list = []
    written = b""
    collections = _Collections()
    for _ in range(2):
        t0 = time.process_time()
        segments = sum(1 for _ in X12Reader(data))
        t_read = min(t_read, time.process_time() - t0)
        records = []
        t0 = time.process_time()
        streamed = sum(1 for _ in iter_canonical(data))
        t_stream = min(t_stream, time.process_time() - t0)
        with collections:
            t0 = time.process_time()
            records = to_canonical(data)
            t_in = min(t_in, time.process_time() - t0)
        assert streamed == len(records)
        assert not any(isinstance(r, Exception) for r in records), "generated data must map"
        t0 = time.process_time()
        written = from_canonical(records, set_id=set_id)
        t_out = min(t_out, time.process_time() - t0)
    n = len(records)
    print(f"{name}: {n} records, {segments} segments, {len(data) / 1e6:.1f} MB (CPU time, best of 2)")
    print(f"  peer  X12 reader only        {segments / t_read:>12,.0f} segments/s  ({t_read:.2f} s)")
    print(f"  X12 -> canonical             {n / t_in:>12,.0f} records/s   ({t_in:.2f} s, "
          f"{segments / t_in:,.0f} segments/s; {t_in / t_read:.1f}x the reader's time)")
    print(f"    streamed (server)          {n / t_stream:>12,.0f} records/s   ({t_stream:.2f} s: each record dropped "
          f"before the next, as the mapping step writes them; the list above keeps all {n}: "
          f"{collections.text()} while building it)")
    print(f"  canonical -> X12             {n / t_out:>12,.0f} records/s   ({t_out:.2f} s, "
          f"{len(written) / 1e6:.1f} MB written; {t_out / t_read:.1f}x the reader's time)")


class _Collections:
    """Garbage collections per generation and their time while the block runs (last run): keeping every record
    of a large file in a list makes the collector walk them again and again; streaming them does not."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.counts[info["generation"]] += 1
            self.seconds += time.perf_counter() - self._start

    def __enter__(self) -> None:
        self.counts, self.seconds = [0, 0, 0], 0.0
        gc.callbacks.append(self._callback)

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def text(self) -> str:
        return f"collections gen0/1/2 {'/'.join(map(str, self.counts))}, {self.seconds:.2f} s wall in the collector"


def make_csv(path: Path, megabytes: int) -> int:
    columns = columns_of("order")
    rows = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(",".join(columns) + "\n")
        order = 0
        while fh.tell() < megabytes * 1_000_000:
            order += 1
            block = []
            for line in range(1, 11):
                values = {c: "" for c in columns}
                values.update(order_number=f"{order:09d}", purchase_order=f"PO{order:09d}", purpose="new",
                              requested_ship_date="2024-01-05", carrier_scac="ABCD", ship_to_name="STORE 7",
                              ship_to_id="0007", ship_to_address="1 MAIN ST", ship_to_city="SPRINGFIELD",
                              ship_to_state="IL", ship_to_postal_code="62701", line_number=str(line),
                              upc=f"0{order % 99999:05d}{line:05d}", vendor_part=f"V-{line}", quantity="12",
                              uom="CA", description=f"ITEM {line} BLUE WIDGET")
                block.append(",".join(values[c] for c in columns))
            fh.write("\n".join(block) + "\n")
            rows += 10
    return rows


def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the parent's peak: it survives fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_csv(path: str, mode: str) -> None:
    t0 = time.perf_counter()
    if mode == "records":
        count = sum(1 for _ in read_csv(path, "order", chunksize=20_000))
    else:
        count = sum(1 for _ in iter_rows(path, chunksize=20_000))
    elapsed = time.perf_counter() - t0
    peak_mb = peak_rss_mb()
    print(f"{count} {elapsed:.3f} {peak_mb:.1f}")


def bench_csv(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for mb in sizes:
            path = Path(tmp) / f"orders-{mb}.csv"
            rows = make_csv(path, mb)
            size = path.stat().st_size / 1e6
            print(f"CSV {size:,.0f} MB, {rows:,} rows (one per line item, 10 lines per order)")
            for mode, label in (("rows", "peer  pandas rows only"), ("records", "CSV -> canonical records")):
                out = subprocess.run([sys.executable, __file__, "--child-csv", str(path), mode], capture_output=True,
                                     text=True, check=True, timeout=3600).stdout.split()
                count, elapsed, peak = int(out[0]), float(out[1]), float(out[2])
                unit = "records" if mode == "records" else "rows"
                print(f"  {label:<28} {rows / elapsed:>12,.0f} rows/s  ({count:,} {unit}, {elapsed:.1f} s, "
                      f"peak RSS {peak:,.0f} MB)")
            path.unlink()


def bench_csv_write(orders: int) -> None:
    from gateway.canonical import Order
    records = [Order.model_validate({"order_number": f"{n:09d}", "purpose": "new", "lines": [
        {"line_number": str(i), "quantity": "12", "uom": "CA", "product": {"upc": f"{n:06d}{i:05d}"}}
        for i in range(1, 11)]}) for n in range(orders)]
    from gateway.mapping.csvio import write_csv
    t0 = time.perf_counter()
    rows = write_csv(records, io.StringIO(), "order")
    elapsed = time.perf_counter() - t0
    print(f"canonical -> CSV: {rows / elapsed:,.0f} rows/s ({rows:,} rows, {elapsed:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=int, default=2000, help="856 transaction sets (940: 2.5x as many)")
    parser.add_argument("--csv-mb", type=int, default=1024, help="size of the large CSV in MB")
    parser.add_argument("--only", choices=["x12", "csv"], help="run one part")
    parser.add_argument("--child-csv", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_csv:
        child_csv(*args.child_csv)
        return
    if args.only != "csv":
        bench_x12("856 (S/O/P/I, 10 packs per set)", make_856(args.sets), "856")
        bench_x12("940 (10 lines per set)", make_940(int(args.sets * 2.5)), "940")
        bench_x12("945 (10 lines per set)", make_945(int(args.sets * 2.5)), "945")
        bench_x12("214 (4 stops per set)", make_214(args.sets * 5), "214")
    if args.only != "x12":
        bench_csv_write(20_000)
        bench_csv(sorted({max(1, args.csv_mb // 10), args.csv_mb}))


if __name__ == "__main__":
    main()
