"""Benchmark loading partner files and the hot-reload latency.

Usage::

    .venv/bin/python bench/partners_load.py               # 500 partner files, 20 reloads
    .venv/bin/python bench/partners_load.py --files 2000 --reloads 50

Reported, in one run on the same generated files (a folder of partner files shaped like the shipped examples,
each with folder, SFTP and webhook channels and three documents):

* peers, parsing only (no validation, no line numbers): ``yaml.safe_load`` (pure Python, what most code
  calls) and ``yaml.load(..., CSafeLoader)`` (libyaml);
* ``load``: :func:`gateway.partners.loader.load_partner_set` (parse once with libyaml keeping the node tree for
  line numbers, pydantic validation, cross-file id checks), with its ratio to each peer;
* ``refresh (nothing changed)``: :meth:`PartnerFolder.refresh` when no file changed (what each 5 s sweep costs);
* ``refresh (one file changed)``: the same after touching one file;
* ``reload latency``: in a started :class:`gateway.runtime.Gateway`, from writing a new partner file (atomic
  rename) to the registry containing it, median and maximum over ``--reloads`` runs (watchdog event path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from gateway.partners.loader import load_partner_set, partner_files  # noqa: E402
from gateway.partners.reload import PartnerFolder  # noqa: E402

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII/ueBnRFXxokKAnMFodbEz/On3P2pvH1KFVoD9tSdOb"


def partner_text(n: int) -> str:
    return f"""\
id: partner-{n:05d}
name: Partner {n}
role: supplier
identity:
  interchange_ids:
    - {{qualifier: ZZ, id: "P{n:05d}"}}
  application_ids: ["P{n:05d}"]
channels:
  - {{name: inbox, type: folder, direction: inbound, path: channels/partner-{n:05d}/inbound}}
  - {{name: outbox, type: folder, direction: outbound, path: channels/partner-{n:05d}/outbound}}
  - name: sftp
    type: sftp
    direction: both
    host: sftp{n}.example
    username: hub
    private_key: {{secret: P{n:05d}_KEY}}
    host_key: {HOST_KEY}
    inbound_dir: /out
    outbound_dir: /in
    poll: 5m
  - {{name: hook, type: webhook, direction: outbound, url: "https://p{n}.example/edi", secret: {{secret: H{n}}}}}
documents:
  - {{set_id: "940", direction: inbound, version: "004010"}}
  - {{set_id: "945", direction: outbound, ack: {{expect_ack_within: 4h}}}}
  - {{set_id: "856", direction: outbound, code_tables: {{uom: {{CA: case, EA: each}}}}}}
acknowledgements: {{send: auto, ta1: on_request}}
retry: {{attempts: 5, backoff: 30s}}
"""


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def reload_latency(base: Path, reloads: int) -> list[float]:
    from gateway.runtime import Gateway
    from gateway.settings import load_settings

    home = base / "home"
    (home / "partners").mkdir(parents=True)
    (home / "config").mkdir()
    (home / "config" / "gateway.yaml").write_text("data_dir: var\nlog_level: WARNING\n")
    settings = load_settings(home / "config" / "gateway.yaml", partners_reload_seconds=60)
    gw = Gateway(settings)
    gw.start()
    out = []
    try:
        for i in range(reloads):
            path = home / "partners" / f"partner-{i:05d}.yaml"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(partner_text(i))
            t0 = time.perf_counter()
            tmp.replace(path)
            while gw.registry.get(f"partner-{i:05d}") is None:
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("reload did not happen within 30 s")
                time.sleep(0.002)
            out.append(time.perf_counter() - t0)
    finally:
        gw.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--reloads", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folder = base / "partners"
        folder.mkdir()
        for n in range(args.files):
            (folder / f"partner-{n:05d}.yaml").write_text(partner_text(n))
        files = partner_files(folder)

        t_yaml = timed(lambda: [yaml.safe_load(f.read_text()) for f in files])
        t_cyaml = timed(lambda: [yaml.load(f.read_text(), Loader=yaml.CSafeLoader) for f in files])
        loaded, problems = load_partner_set(files)
        assert len(loaded) == args.files and not problems, problems[:3]
        t_load = timed(lambda: load_partner_set(files))
        pf = PartnerFolder(folder)
        pf.refresh()
        t_idle = timed(pf.refresh, repeat=5)
        target = files[len(files) // 2]

        def touch_and_refresh() -> None:
            os.utime(target, ns=(time.time_ns(), time.time_ns()))
            r = pf.refresh()
            assert not r.changed  # same content: nothing to apply, but the file was re-read

        t_one = timed(touch_and_refresh, repeat=5)
        lat = reload_latency(base, args.reloads) if args.reloads else []

    n = args.files
    print(f"partner files: {n}")
    print(f"peer yaml.safe_load         {t_yaml * 1000:8.1f} ms  {t_yaml / n * 1e6:7.0f} us/file")
    print(f"peer yaml CSafeLoader       {t_cyaml * 1000:8.1f} ms  {t_cyaml / n * 1e6:7.0f} us/file")
    print(
        f"load (validate + lines)     {t_load * 1000:8.1f} ms  {t_load / n * 1e6:7.0f} us/file"
        f"  = {t_load / t_yaml:.2f}x safe_load, {t_load / t_cyaml:.2f}x CSafeLoader"
    )
    print(f"refresh, nothing changed    {t_idle * 1000:8.2f} ms")
    print(f"refresh, one file changed   {t_one * 1000:8.2f} ms")
    if lat:
        print(
            f"reload latency (write -> registry), {len(lat)} runs: median {statistics.median(lat) * 1000:.0f} ms, "
            f"max {max(lat) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
