"""Hot reload: partner file edits apply to a running gateway; invalid edits are rejected, the last good kept."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from gateway.partners.reload import PartnerFolder
from gateway.runtime import Gateway
from gateway.settings import load_settings
from gateway.store.models import MessageStatus
from tests.support.gateway_home import drop, make_home, settled_message, wait_for

SUMMIT = """\
id: summit-supply
name: Summit Supply
role: supplier
identity:
  interchange_ids:
    - {qualifier: "12", id: "4405197800"}
our_ids:
  - {qualifier: "01", id: "999999999"}
channels:
  - {name: inbox, type: folder, direction: inbound, path: channels/summit-supply/inbound}
  - {name: outbox, type: folder, direction: outbound, path: channels/summit-supply/outbound}
documents:
  - {set_id: "856", direction: inbound, version: "004060"}
"""


@pytest.fixture
def gateway(tmp_path):
    home = make_home(tmp_path)
    settings = load_settings(
        home / "config" / "gateway.yaml",
        folder={"min_age_seconds": 0.2, "sweep_seconds": 1},
        partners_reload_seconds=30,  # the watchdog events drive these tests; the sweep is the fallback
    )
    gw = Gateway(settings)
    gw.start()
    yield gw
    gw.stop()


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def test_new_partner_is_picked_up_without_restart(gateway, corpus):
    assert gateway.registry.get("summit-supply") is None
    write_atomically(gateway.settings.partners_path / "summit-supply.yaml", SUMMIT)
    wait_for(lambda: gateway.registry.get("summit-supply"), timeout=10)
    inbox = gateway.settings.data_path / "channels" / "summit-supply" / "inbound"
    wait_for(inbox.is_dir, timeout=5)
    src = corpus / "856" / "node-x12-856-004060.edi"
    drop(src, inbox)
    msg = settled_message(gateway, src.name)
    assert msg.status == MessageStatus.acked, msg.reason
    assert msg.partner_id == "summit-supply"


def test_invalid_edit_is_rejected_logged_and_the_last_good_version_kept(gateway, repo_root, caplog):
    path = gateway.settings.partners_path / "harbor-3pl.yaml"
    good = path.read_text()
    with caplog.at_level(logging.ERROR, logger="gateway"):
        write_atomically(path, good.replace("role: warehouse", "role: warehouse\ncolour: blue"))
        wait_for(lambda: [r for r in caplog.records if r.getMessage() == "partners.rejected"], timeout=10)
    rejected = next(r for r in caplog.records if r.getMessage() == "partners.rejected")
    problem = rejected.fields["problem"]  # type: ignore[attr-defined]
    assert problem.startswith(f"{path}:") and "colour: unknown key 'colour'" in problem
    assert gateway.registry.get("harbor-3pl") is not None  # last good version in force
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    drop(src, gateway.settings.data_path / "channels" / "harbor-3pl" / "inbound")
    assert settled_message(gateway, src.name).status == MessageStatus.acked
    # fixing the file applies it
    write_atomically(path, good.replace("Harbor 3PL Warehousing", "Harbor 3PL (renamed)"))
    wait_for(lambda: gateway.registry.get("harbor-3pl").name == "Harbor 3PL (renamed)", timeout=10)


def test_changed_channel_moves_the_poll_and_removed_partner_stops(gateway, repo_root):
    path = gateway.settings.partners_path / "harbor-3pl.yaml"
    write_atomically(path, path.read_text().replace("channels/harbor-3pl/inbound", "channels/harbor-3pl/inbound-2"))
    new_inbox = gateway.settings.data_path / "channels" / "harbor-3pl" / "inbound-2"

    def harbor_inboxes():
        return [p.channel.path for p in gateway.pollers if p.channel.partner_id == "harbor-3pl"]

    # wait for the registration itself: the folder is created inside the reload, before its poller is registered
    wait_for(lambda: harbor_inboxes() == [new_inbox], timeout=10)
    assert new_inbox.is_dir()
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    drop(src, new_inbox)
    assert settled_message(gateway, src.name).status == MessageStatus.acked
    path.unlink()
    wait_for(lambda: gateway.registry.get("harbor-3pl") is None, timeout=3)  # the deletion event, not the sweep
    # the registry is swapped first, the channels are stopped right after it in the same reload: wait for that
    wait_for(lambda: not harbor_inboxes(), timeout=3)
    assert "poll:harbor-3pl/inbox" not in gateway.scheduler.job_ids()
    assert {p.channel.partner_id for p in gateway.pollers} == {"acme-retail", "alink-carrier"}


def test_work_in_flight_survives_reloads(gateway, repo_root, tmp_path):
    """Files keep flowing to a final state while the partner's channels are restarted over and over."""
    path = gateway.settings.partners_path / "harbor-3pl.yaml"
    good = path.read_text()
    src = repo_root / "samples" / "x12" / "856" / "harbor-3pl-crossdock.edi"
    inbox = gateway.settings.data_path / "channels" / "harbor-3pl" / "inbound"
    names = []
    for i in range(6):
        names.append(f"asn-{i}.edi")
        unique = tmp_path / names[-1]  # its own ISA13: the same interchange twice would be a duplicate
        unique.write_bytes(src.read_bytes().replace(b"000000091", f"{900 + i:09d}".encode()))
        drop(unique, inbox, names[-1])
        extra = f"  - {{name: extra-{i}, type: folder, direction: outbound, path: channels/harbor-3pl/x{i}}}\n"
        write_atomically(path, good.replace("documents:", extra + "documents:"))
        assert gateway.reload_partners() or gateway.registry.get("harbor-3pl").channels[-1].name == f"extra-{i}"
    for name in names:
        assert settled_message(gateway, name).status == MessageStatus.acked


def test_duplicate_id_in_a_new_file_is_rejected_and_the_established_partner_kept(tmp_path, repo_root):
    folder = tmp_path / "partners"
    shutil.copytree(repo_root / "partners", folder)
    pf = PartnerFolder(folder)
    first = pf.refresh()
    assert first.changed and len(first.partners) == 3
    (folder / "aaa-copy.yaml").write_text((folder / "harbor-3pl.yaml").read_text())  # sorts first, same ids
    r = pf.refresh()
    assert not r.changed and len(r.partners) == 3
    assert [p.file for p in r.problems] == [str(folder / "aaa-copy.yaml")]
    assert "already used by" in r.problems[0].message
    assert pf.refresh().problems == []  # reported once per edit, not at every sweep
    assert [p.file for p in pf.problems] == [str(folder / "aaa-copy.yaml")]  # still the current state


def test_a_rejected_edit_with_a_literal_password_never_logs_it(gateway, caplog):
    path = gateway.settings.partners_path / "alink-carrier.yaml"
    text = path.read_text().replace(
        "documents:",
        "  - {name: hook, type: webhook, direction: inbound, secret: Tr0ub4dor-and-3}\ndocuments:",
    )
    with caplog.at_level(logging.DEBUG, logger="gateway"):
        write_atomically(path, text)
        wait_for(lambda: [r for r in caplog.records if r.getMessage() == "partners.rejected"], timeout=10)
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "literal secret is not allowed" in logged
    assert "Tr0ub4dor" not in logged
