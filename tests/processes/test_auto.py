"""``inbound_processes: auto`` (or 0): one process per usable core, at most four (gateway/cores.py), the default of the
shipped config/gateway.yaml (the library's own default stays 1). Cores are counted from the CPU affinity and the
cgroup v2 quota (a real process with its affinity cut to one core; cgroup files written in a temporary folder laid
out as /sys/fs/cgroup is), and a real ``gateway serve`` on the shipped setting starts that many processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cores import AUTO_MAX_PROCESSES, auto_processes, quota_cores, usable_cores
from gateway.errors import ConfigError
from gateway.processes.supervisor import WorkerProcesses
from gateway.settings import Settings, load_settings
from tests.processes.test_worker_processes import database, env, live_nodes
from tests.support.gateway_home import REPO, make_home, wait_for
from tests.support.serve import ServeProcess


def test_the_shipped_configuration_says_auto_and_the_library_default_is_one(tmp_path):
    shipped = load_settings(REPO / "config" / "gateway.yaml", home=tmp_path)
    assert shipped.inbound_processes == "auto"
    assert shipped.processes == auto_processes() == min(usable_cores(), AUTO_MAX_PROCESSES)
    assert Settings(home=tmp_path).processes == 1  # a gateway made by a script or a test: one process
    pinned = make_home(tmp_path / "home")  # the suite's homes: one process unless a test asks for more
    assert load_settings(pinned / "config" / "gateway.yaml").processes == 1


@pytest.mark.parametrize("value", ["auto", "0", 0])
def test_auto_and_zero_resolve_to_one_process_per_usable_core(tmp_path, monkeypatch, value):
    if isinstance(value, str):
        monkeypatch.setenv("GATEWAY_INBOUND_PROCESSES", value)
        settings = Settings(home=tmp_path)
    else:
        settings = Settings(home=tmp_path, inbound_processes=value)
    assert settings.processes == auto_processes()
    assert settings.folders_shared is (settings.processes > 1)  # several processes share every inbox
    monkeypatch.setenv("GATEWAY_INBOUND_PROCESSES", "3")
    assert Settings(home=tmp_path).processes == 3  # a number is taken as it is, whatever the cores


@pytest.mark.parametrize("value", ["-1", "17", "many", "AUTO", "2.5"])
def test_other_values_are_refused(tmp_path, value):
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(f"inbound_processes: {value}\n")
    with pytest.raises(ConfigError, match="inbound_processes"):
        load_settings(cfg)


def test_auto_is_capped():
    assert [auto_processes(cores=n) for n in (1, 2, 3, 4, 8, 64)] == [1, 2, 3, 4, 4, 4]
    assert auto_processes(cores=0) == 1


def test_cores_follow_the_cpu_affinity():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    one = min(os.sched_getaffinity(0))
    code = (
        "import os; from gateway.cores import usable_cores, auto_processes; "
        f"os.sched_setaffinity(0, {{{one}}}); print(usable_cores(), auto_processes())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.stdout.split() == ["1", "1"]


def write_cpu_max(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.max").write_text(text + "\n")


def test_cores_follow_the_cgroup_quota_of_the_group_and_its_parents(tmp_path):
    root = tmp_path / "cgroup"
    write_cpu_max(root, "max 100000")
    write_cpu_max(root / "kube" / "pod", "max 100000")
    assert quota_cores("0::/kube/pod", root) is None  # no quota anywhere
    write_cpu_max(root / "kube", "300000 100000")  # a parent's limit counts
    assert quota_cores("0::/kube/pod", root) == 3
    write_cpu_max(root / "kube" / "pod", "150000 100000")  # 1.5 cores: one whole core
    assert quota_cores("0::/kube/pod", root) == 1
    write_cpu_max(root / "kube" / "pod", "50000 100000")  # half a core: still one process
    assert quota_cores("0::/kube/pod", root) == 1
    assert quota_cores("0::/", root) is None
    assert quota_cores("0::/missing/group", root) is None
    assert quota_cores("4:cpu,cpuacct:/docker/abc", root) is None  # cgroup v1: not read


def test_workers_are_told_the_resolved_count_not_auto(tmp_path):
    settings = Settings(home=tmp_path, inbound_processes="auto")
    workers = WorkerProcesses(settings, parent="p", count=settings.processes - 1)
    told = Settings(**workers._settings)  # what the worker builds its settings from (the shares' modulus)
    assert told.inbound_processes == settings.processes


def test_serve_on_auto_starts_one_process_per_core(tmp_path):
    expected = auto_processes()
    home = make_home(tmp_path / "home")
    with database("sqlite", home) as url:
        serve = ServeProcess(home, env=env(url, GATEWAY_INBOUND_PROCESSES="auto"))
        try:
            serve.wait_healthy(timeout=60)
            wait_for(lambda: len(live_nodes(url)) == expected, timeout=60, interval=0.2)
            started = next(
                json.loads(line)
                for line in serve.log.read_text().splitlines()
                if '"event": "gateway.started"' in line and '"worker"' not in line
            )
        finally:
            serve.stop()
        assert started["processes"] == expected
