"""GET /metrics scraped like Prometheus does, after real files went through the real flows."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import PROCESS
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.apikeys import ApiKeys
from tests.partners.keys import write_certificate
from tests.partners.test_health import AS2CO
from tests.support.api_server import ApiServer
from tests.support.gateway_home import drop, make_home, wait_for


def scrape(url: str, **kw) -> dict[tuple[str, tuple], float]:
    r = httpx.get(f"{url}/metrics", timeout=10, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    out = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def gw(tmp_path, database_url):
    home = make_home(tmp_path)
    write_certificate(home / "partners" / "as2co" / "cert.pem", days_valid=12)
    (home / "partners" / "as2co.yaml").write_text(AS2CO)
    settings = load_settings(
        home / "config" / "gateway.yaml", database_url=database_url,
        folder={"min_age_seconds": 0.1, "sweep_seconds": 0.5},
    )  # fmt: skip
    g = Gateway(settings)
    g.start()
    yield g
    g.stop()


def test_metrics_show_what_was_just_processed(gw, repo_root):
    with ApiServer(gw) as server:
        before = scrape(server.url)
        inbox = gw.settings.data_path / "channels" / "harbor-3pl" / "inbound"
        drop(repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi", inbox)
        (inbox / "junk.edi").write_bytes(b"this is not X12 at all\n")

        def finished():
            ms = gw.store.list_messages(limit=10).items
            return len([m for m in ms if m.status in ("acked", "failed", "sent")]) >= 3 and ms

        wait_for(finished, timeout=15)
        after = scrape(server.url)

    assert value(after, "gateway_messages", direction="inbound", partner="harbor-3pl", set="856", status="acked") == 1
    assert value(after, "gateway_messages", direction="outbound", partner="harbor-3pl", set="997", status="sent") == 1
    failed = [k for k, v in after.items() if k[0] == "gateway_messages" and ("status", "failed") in k[1] and v == 1]
    assert failed, "the junk file is counted as failed"

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("gateway_message_events_total", event="message.acked", status="acked") == 1
    assert delta("gateway_processing_seconds_count", direction="inbound", outcome="acked") == 1
    assert delta("gateway_processing_seconds_bucket", direction="inbound", outcome="acked", le="+Inf") == 1
    assert delta("gateway_delivery_attempts_total", channel="harbor-3pl/outbox", outcome="sent") == 1
    assert delta("gateway_ack_outcomes_total", direction="inbound", kind="997", result="A") == 1
    days = value(after, "gateway_certificate_days_to_expiry", owner="as2co", channel="as2", certificate="cert.pem")
    assert 11 < days <= 12
    assert value(after, "gateway_partners") == 4
    # the 856's records wait in the default pull inbox: nothing handed off until a client confirms them
    assert delta("gateway_handoff_lag_seconds_count", partner="harbor-3pl") == 0
    assert value(after, "gateway_worklist_items", kind="failed") == 1  # the junk file, on the worklist
    assert value(after, "gateway_worklist_items", kind="quarantined") == 0


def test_handoff_lag_is_observed_when_a_pull_client_confirms_and_when_a_push_delivers(gw, repo_root):
    token = ApiKeys(gw.engine).create("erp", "operator")[1]
    auth = {"Authorization": f"Bearer {token}"}
    channels = gw.settings.data_path / "channels"
    lag = "gateway_handoff_lag_seconds"
    with ApiServer(gw) as server:
        before = scrape(server.url)
        drop(repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi", channels / "harbor-3pl" / "inbound")
        items = wait_for(lambda: httpx.get(f"{server.url}/api/inbox", headers=auth, timeout=10).json()["items"],
                         timeout=20)
        ids = [e["event_id"] for e in items]
        r = httpx.post(f"{server.url}/api/inbox/confirm", json={"ids": ids}, headers=auth, timeout=10)
        assert r.status_code == 200 and r.json()["confirmed"] == ids, r.text
        after = scrape(server.url)

    def delta(name):
        return value(after, name, partner="harbor-3pl") - value(before, name, partner="harbor-3pl")

    assert delta(f"{lag}_count") == len(ids) >= 1  # one per record confirmed
    assert 0 < delta(f"{lag}_sum") < 60 * len(ids)  # arrival -> confirmation, in seconds

    # a push destination (a folder): observed once the sweep has delivered the record
    gw.handoff.config_file.write_text(
        "destinations:\n  - {name: drop, type: folder, path: handoff-drop, format: json}\nroutes:\n  - {to: [drop]}\n"
    )
    assert gw.handoff.reload()

    def pushed() -> float:
        return PROCESS.get_sample_value(f"{lag}_count", {"partner": "acme-retail"}) or 0.0

    start = pushed()
    drop(repo_root / "samples" / "x12" / "940" / "acme-retail-new-order.edi", channels / "acme-retail" / "inbound")
    wait_for(lambda: pushed() > start, timeout=20)  # observed right after the sweep recorded the delivery
    assert pushed() - start == len(list((gw.settings.data_path / "handoff-drop").rglob("*.json"))) == 1  # one order


def test_metrics_can_require_a_key(tmp_path):
    home = make_home(tmp_path)
    gw = Gateway(load_settings(home / "config" / "gateway.yaml", metrics_require_key=True))
    token = ApiKeys(gw.engine).create("prometheus", "viewer")[1]
    try:
        with ApiServer(gw) as server:
            assert httpx.get(f"{server.url}/metrics", timeout=5).status_code == 401
            assert scrape(server.url, headers={"Authorization": f"Bearer {token}"})
    finally:
        gw.stop()
