"""SFTP pull throughput: the gateway's SFTP client (paramiko) next to OpenSSH's ``sftp`` command-line client,
on the same files, from the same loopback OpenSSH server, in the same run.

    .venv/bin/python bench/sftp.py                 # 1,000 small files and one 500 MB file
    .venv/bin/python bench/sftp.py --small 200 --big-mb 50 --repeat 1

Both clients download to local files (the gateway streams each file as the inbound flow does, 1 MiB reads); the
gateway lists with a poll and reuses one connection for the whole poll, as in production. Prints files/s and MB/s
for each, and the ratio gateway / OpenSSH (above 1: the gateway is faster). Best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.transports.sftp import SftpInbound, SftpSettings
from tests.support.sshd import SshServer

SMALL = (
    b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *260105*0900*U*00401*000000001*0*P*>~\r\n"
    b"GS*OW*SENDER*RECEIVER*20260105*0900*1*X*004010~\r\n"
)


def make_files(root: Path, small: int, big_mb: int) -> None:
    (root / "small").mkdir(parents=True)
    (root / "big").mkdir()
    body = SMALL * 16  # about 2.6 KB, the size of a typical 940 or 856
    old = time.time() - 3600
    for n in range(small):
        p = root / "small" / f"order-{n:05d}.edi"
        p.write_bytes(body + b"ST*940*%05d~\r\n" % n)
        os.utime(p, (old, old))
    chunk = os.urandom(1 << 20)
    with open(root / "big" / "big.bin", "wb") as f:
        for _ in range(big_mb):
            f.write(chunk)
    os.utime(root / "big" / "big.bin", (old, old))


def gateway_pull(server: SshServer, folder: str, dest: Path) -> tuple[int, int, float]:
    settings = SftpSettings(
        host="127.0.0.1",
        port=server.port,
        username=server.user,
        private_key=server.client_key.read_text(),
        host_key=server.host_key_pub.read_text(),
        inbound_dir=folder,
        min_age_seconds=0,
        timeout_seconds=60,
    )
    inbound = SftpInbound(settings, channel="bench/sftp")
    t0 = time.perf_counter()
    items, _ = inbound.poll()
    total = 0
    for item in items:
        with item.open() as src, open(dest / item.name, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
                total += len(chunk)
    inbound.close()
    return len(items), total, time.perf_counter() - t0


def cli_pull(server: SshServer, folder: str, dest: Path, base: Path) -> tuple[int, int, float]:
    known = base / "known_hosts"
    known.write_text(f"[127.0.0.1]:{server.port} {server.host_key_pub.read_text()}")
    batch = base / "batch"
    batch.write_text(f"lcd {dest}\nget {folder}/*\n")
    cmd = [
        "sftp", "-q", "-b", str(batch), "-P", str(server.port), "-i", str(server.client_key),
        "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
        f"{server.user}@127.0.0.1",
    ]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    files = list(dest.iterdir())
    return len(files), sum(f.stat().st_size for f in files), elapsed


def best(fn, repeat: int, scratch: Path) -> tuple[int, int, float]:  # type: ignore[no-untyped-def]
    results = []
    for _ in range(repeat):
        dest = Path(tempfile.mkdtemp(dir=scratch))
        results.append(fn(dest))
        shutil.rmtree(dest)
    return min(results, key=lambda r: r[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=1000, help="number of small files (default 1000)")
    ap.add_argument("--big-mb", type=int, default=500, help="size of the large file in MiB (default 500)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-sftp-"))
    server = SshServer.start(base / "sshd")
    try:
        make_files(server.root, args.small, args.big_mb)
        scratch = base / "scratch"
        scratch.mkdir()
        print(f"OpenSSH server on 127.0.0.1:{server.port}; paramiko client vs OpenSSH sftp CLI; best of {args.repeat}")
        print(f"{'case':<28}{'client':<10}{'files':>7}{'MB':>10}{'seconds':>10}{'files/s':>10}{'MB/s':>10}")
        for label, folder in ((f"{args.small} small files", "small"), (f"one {args.big_mb} MiB file", "big")):
            rates = {}
            for client, fn in (
                ("gateway", lambda d, f=folder: gateway_pull(server, f, d)),
                ("openssh", lambda d, f=folder: cli_pull(server, f, d, base)),
            ):
                files, size, secs = best(fn, args.repeat, scratch)
                mb = size / 1e6
                rates[client] = (files / secs, mb / secs)
                rate = f"{files / secs:>10.1f}{mb / secs:>10.1f}"
                print(f"{label:<28}{client:<10}{files:>7}{mb:>10.1f}{secs:>10.2f}{rate}")
            key = 0 if folder == "small" else 1
            unit = "files/s" if folder == "small" else "MB/s"
            ratio = rates["gateway"][key] / rates["openssh"][key]
            print(f"{'':<28}ratio gateway/openssh ({unit}): {ratio:.2f}")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
