"""Schema migrations without alembic in the serving process: the head read from the migration files, a store at
head left alone without importing alembic, pending migrations applied by a child process, and a serving gateway
(default configuration: no AS2, no webhooks, no RabbitMQ, no XML) that loads none of the heavy optional modules."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store.db import create_db_engine
from gateway.store.migrate import at_head, head_revision, script_head, upgrade

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("alembic", "mako", "pyas2lib", "oscrypto", "asn1crypto", "cryptography", "httpx", "pika", "lxml")


def test_the_head_read_from_the_files_is_alembics_head():
    assert script_head() == head_revision()


def test_two_heads_in_the_files_are_an_error(tmp_path):
    for name, rev, down in (("a.py", "0001", None), ("b.py", "0002", "0001"), ("c.py", "0003", "0001")):
        (tmp_path / name).write_text(f'revision = "{rev}"\ndown_revision = {json.dumps(down) if down else None}\n')
    with pytest.raises(RuntimeError, match=r"one head revision, found \['0002', '0003'\]"):
        script_head(tmp_path)


def test_at_head_only_when_the_store_is_at_the_files_head(store):
    engine = store.engine
    assert at_head(engine)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = '0017'"))
    assert not at_head(engine)
    upgrade(engine)  # alembic applies 0019 again: its statements replace what they create
    assert at_head(engine)


def test_a_new_store_is_not_at_head_and_upgrade_brings_it_there(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert not at_head(engine)
    upgrade(engine)
    assert at_head(engine)
    engine.dispose()


def _python(code: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_DATA_DIR=str(home / "var"), GATEWAY_MAPPINGS_DIR=str(ROOT / "mappings"),
               GATEWAY_DATABASE_URL=f"sqlite:///{home / 'var' / 'gateway.db'}")
    return env


def test_upgrade_of_a_store_at_head_imports_no_alembic(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'g.db'}")
    upgrade(engine)
    engine.dispose()
    code = ("import sys; from gateway.store.db import create_db_engine; from gateway.store.migrate import upgrade; "
            f"upgrade(create_db_engine({str('sqlite:///' + str(tmp_path / 'g.db'))!r})); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))")
    assert _python(code, tmp_path, dict(os.environ)).strip() == "[]"


def test_pending_migrations_are_applied_by_a_child_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'child.db'}"
    code = ("import sys; from gateway.store.migrate import upgrade_in_child; "
            f"ok = upgrade_in_child({url!r}); bad = upgrade_in_child('nosuchscheme://x'); "
            "print(ok, bad, sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))")
    # the child failed on the bad URL: the caller then migrates in-process and reports the error
    assert _python(code, tmp_path, dict(os.environ)).strip() == "True False []"
    engine = create_db_engine(url)
    assert at_head(engine)
    engine.dispose()


def test_a_serving_gateway_with_the_default_configuration_loads_no_heavy_optional_module(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(ROOT / "config", home / "config")
    shutil.copytree(ROOT / "partners", home / "partners")
    code = (
        "import sys\n"
        "from gateway.cli.serve import migrate_apart\n"
        "from gateway.settings import load_settings\n"
        "settings = load_settings()\n"
        "migrate_apart(settings.database)\n"
        "from gateway.api.app import create_app\n"
        "from gateway.runtime import Gateway\n"
        "from gateway.store.migrate import at_head\n"
        "gw = Gateway(settings)\n"
        "create_app(gw, manage_runtime=True)\n"
        "print(at_head(gw.engine))\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
        "gw.engine.dispose()\n"
    )
    out = _python(code, home, _env(home)).split("\n")
    assert out[:2] == ["True", "[]"], out


def test_sqlite_connections_bound_sqlites_own_memory(tmp_path):
    from gateway.store.db import SQLITE_SOFT_HEAP_LIMIT

    engine = create_db_engine(f"sqlite:///{tmp_path / 'heap.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar() == SQLITE_SOFT_HEAP_LIMIT
    engine.dispose()
