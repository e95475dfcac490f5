"""kill -9 of ``gateway serve`` while a large interchange is mapped on two cores (gateway/flows/mapping_split.py):
the forked child does not outlive it, and a restart maps the message once; a child killed on its own leaves the
server to map the file alone, once."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.apikeys import create_key
from tests.support.gateway_home import drop, wait_for
from tests.support.serve import ServeProcess

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from e2e import Templates  # noqa: E402

SETS = 2200  # about 2.2 MB: mapped split (MappingStep's SPLIT_BYTES is 2 MB)


@pytest.fixture
def key(home, db_env):
    return create_key(home, name="crash-split", role="viewer", env=db_env)


@pytest.fixture(scope="module")
def large_file(tmp_path_factory):
    t = Templates()
    path = tmp_path_factory.mktemp("large") / "large-split.edi"
    path.write_bytes(t.interchange("856", 7, [t.body_856(n) for n in range(1, SETS + 1)]))
    assert path.stat().st_size >= 2 << 20
    return path


def _get(url: str, key: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"X-API-Key": key}, timeout=30)


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (the mapping child is forked by an inbound worker thread)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _mapped_once(server: ServeProcess, key: str, inbox: Path, name: str) -> dict:
    def settled():
        try:
            return _settled()
        except httpx.TimeoutException:  # a busy server on a loaded machine: ask again
            return None

    def _settled():
        items = _get(server.url, key, "/api/messages").json()["items"]
        inbound = [m for m in items if m["direction"] == "inbound" and m["status"] == "acked"]
        if not inbound or (inbox / name).exists():
            return None
        detail = _get(server.url, key, f"/api/messages/{inbound[0]['id']}").json()
        return detail if "mapping.done" in [e["name"] for e in detail["timeline"]] else None

    detail = wait_for(settled, timeout=600, interval=0.5)
    names = [e["name"] for e in detail["timeline"]]
    assert names.count("mapping.done") == 1 and names.count("ack.generated") == 1, names
    done = next(e for e in detail["timeline"] if e["name"] == "mapping.done")
    assert done["detail"]["records"] == SETS
    items = _get(server.url, key, "/api/messages").json()["items"]
    assert len([m for m in items if m["direction"] == "inbound"]) == 1, items
    assert len([m for m in items if m["direction"] == "outbound"]) == 1, items  # one 997
    return detail


@pytest.mark.parametrize("point", ["mapping.split_child=hang", "mapping.split_started=hang"])
def test_kill_9_while_split_mapping_ends_the_child_and_a_restart_maps_once(home, repo_root, key, db_env,
                                                                         large_file, point):
    """The child stuck (anywhere: it gets SIGKILL with its parent), or waiting to write to a server that stopped
    reading (its write fails); then the restart recovers the acked, unmapped message and maps it once."""
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    first = ServeProcess(home, env={**db_env, "GATEWAY_FAILPOINTS": point})
    try:
        first.wait_healthy(timeout=60)
        drop(large_file, inbox)
        children = wait_for(lambda: _children(first.proc.pid), timeout=240, interval=0.2)  # the mapping child
        time.sleep(1.0)  # it maps its first blocks, then hangs or waits to write
        assert any(_alive(pid) for pid in children)
        first.proc.kill()
        assert first.wait_exit(timeout=30) == -9
    finally:
        first.stop()
    wait_for(lambda: not any(_alive(pid) for pid in children) or None, timeout=30, interval=0.2)
    second = ServeProcess(home, env=db_env)
    try:
        second.wait_healthy(timeout=300)  # start-up recovery maps the file before /api/health answers
        _mapped_once(second, key, inbox, large_file.name)
    finally:
        second.stop()


def test_a_killed_child_leaves_the_server_to_map_alone_once(home, repo_root, key, db_env, large_file):
    inbox = home / "var" / "channels" / "harbor-3pl" / "inbound"
    server = ServeProcess(home, env={**db_env, "GATEWAY_FAILPOINTS": "mapping.split_child=kill"})
    try:
        server.wait_healthy(timeout=60)
        drop(large_file, inbox)
        _mapped_once(server, key, inbox, large_file.name)
        assert "mapping.split_failed" in server.output()
    finally:
        server.stop()
