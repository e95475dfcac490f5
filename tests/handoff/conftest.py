"""Hand-off fixtures: a gateway home with a hand-off file, the RabbitMQ broker, generated inbound 940s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gateway.runtime import Gateway
from gateway.settings import load_settings
from tests.support import rabbitmq
from tests.support.gateway_home import make_home
from tests.support.services import unavailable

REPO = Path(__file__).resolve().parents[2]
SAMPLE_940 = REPO / "samples" / "x12" / "940" / "acme-retail-new-order.edi"
SAMPLE_CSV = REPO / "samples" / "csv" / "coastal-grocers-orders.csv"

CSV_PARTNER = """\
id: coastal-grocers
name: Coastal Grocers (CSV orders)
role: retailer
identity:
  interchange_ids: [{qualifier: ZZ, id: COASTALCSV}]
channels:
  - {name: inbox, type: folder, direction: inbound, path: channels/coastal-grocers/inbound}
documents:
  - {format: csv, record: order, direction: inbound}
  - {format: xml, record: order, direction: inbound}
"""

CARRIER_214 = """\
id: scac-carrier
name: A carrier sending 214s (the edinet sample's envelope)
role: carrier
identity:
  interchange_ids: [{qualifier: "02", id: SCAC}]
our_ids: [{qualifier: ZZ, id: MGCTLYST}]
channels:
  - {name: inbox, type: folder, direction: inbound, path: channels/scac-carrier/inbound}
  - {name: outbox, type: folder, direction: outbound, path: channels/scac-carrier/outbound}
documents:
  - {set_id: "214", direction: inbound, version: "004030"}
"""


@pytest.fixture
def broker() -> Iterator[rabbitmq.Scratch]:
    reason = rabbitmq.reachable()
    if reason:
        unavailable(reason)
    with rabbitmq.scratch() as s:
        yield s


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = make_home(tmp_path)
    (h / "partners" / "coastal-grocers.yaml").write_text(CSV_PARTNER)
    (h / "partners" / "scac-carrier.yaml").write_text(CARRIER_214)
    return h


def write_handoff(home: Path, config: dict) -> Path:
    path = home / "config" / "handoff.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_gateway(home: Path, **overrides: object) -> Gateway:
    settings = load_settings(
        home / "config" / "gateway.yaml",
        folder={"min_age_seconds": 0.2, "sweep_seconds": 1},
        handoff_sweep_seconds=0.5,
        **overrides,
    )
    gw = Gateway(settings)
    gw.start()
    return gw


def numbered_940(n: int) -> bytes:
    """The ACME sample 940 with its own interchange, group and set control numbers and order number."""
    text = SAMPLE_940.read_text()
    text = re.sub(r"(\*U\*00401\*)\d{9}", lambda m: f"{m.group(1)}{n:09d}", text)
    text = re.sub(r"(IEA\*\d+\*)\d{9}", lambda m: f"{m.group(1)}{n:09d}", text)
    text = re.sub(r"(GS\*OW\*[^*]*\*[^*]*\*\d+\*\d+\*)\d+", lambda m: f"{m.group(1)}{n}", text)
    text = re.sub(r"(GE\*\d+\*)\d+", lambda m: f"{m.group(1)}{n}", text)
    text = text.replace("W05*N*18061923*", f"W05*N*ORD{n:06d}*")
    return text.encode()


def write_940s(inbox: Path, count: int, start: int = 1) -> list[Path]:
    inbox.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, start + count):
        final = inbox / f"order-{n:05d}.edi"
        tmp = inbox / f".order-{n:05d}.edi.part"
        tmp.write_bytes(numbered_940(n))
        tmp.rename(final)
        paths.append(final)
    return paths
