"""django-pyas2 as an independent AS2 peer on loopback (recipe: interop/as2-peer/run_peer.sh, adapted).

Set up on first use from the package index into ``.cache/as2peer/`` at the repository root (:data:`PEER_HOME`,
gitignored, reused by later runs; never under ``var/``, which is the gateway's own data folder): a
virtualenv with django-pyas2 1.2.3, two identities made with the openssl command line, a Django project with
sqlite. django-pyas2's own copy of oscrypto gets the same version-expression fix as the recipe applies (that is
the peer's environment, not ours). The peer runs with ``manage.py runserver`` on a free port and is stopped by
its process id.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.sshd import free_port

HERE = Path(__file__).parent / "django_peer"
PEER_HOME = Path(__file__).resolve().parents[2] / ".cache" / "as2peer"  # test data, not the gateway's var/
KEYPASS = "peerpass"
PEER_VERSION = "django-pyas2==1.2.3"


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, stdin: bytes | None = None):
    out = subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=600)
    if out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout.decode()[-2000:]}\n{out.stderr.decode()[-3000:]}")
    return out.stdout.decode()


class DjangoPeer:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.py = base / "venv" / "bin" / "python"
        self.project = base / "peer"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/pyas2/as2receive"

    def cert(self, name: str) -> bytes:
        return (self.base / "certs" / name).read_bytes()

    def ensure(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if not (self.base / "venv" / ".ready").exists():
            shutil.rmtree(self.base / "venv", ignore_errors=True)
            _run([sys.executable, "-m", "venv", str(self.base / "venv")])
            _run([str(self.py), "-m", "pip", "install", "-q", "--disable-pip-version-check", PEER_VERSION, "requests"])
            _run([str(self.py), "-c", _PATCH_OSCRYPTO])
            (self.base / "venv" / ".ready").write_text(PEER_VERSION)
        certs = self.base / "certs"
        certs.mkdir(exist_ok=True)
        for who, cn in (("peer", "PEERSERVER"), ("gateway", "GATEWAY")):
            if not (certs / f"{who}.pem").exists():
                _run(
                    [
                        "openssl",
                        "req",
                        "-x509",
                        "-newkey",
                        "rsa:2048",
                        "-sha256",
                        "-days",
                        "730",
                        "-subj",
                        f"/CN={cn}/O=as2peer-test",
                        "-addext",
                        "keyUsage=critical,digitalSignature,keyEncipherment",
                        "-keyout",
                        f"{who}.key",
                        "-out",
                        f"{who}.crt",
                        "-passout",
                        f"pass:{KEYPASS}",
                    ],
                    cwd=certs,
                )
                (certs / f"{who}.pem").write_bytes(
                    (certs / f"{who}.key").read_bytes() + (certs / f"{who}.crt").read_bytes()
                )
        if not (self.project / "manage.py").exists():
            self.project.mkdir(parents=True, exist_ok=True)
            _run([str(self.base / "venv" / "bin" / "django-admin"), "startproject", "peer", str(self.project)])
            settings = self.project / "peer" / "settings.py"
            settings.write_text(settings.read_text() + _SETTINGS)
            urls = self.project / "peer" / "urls.py"
            text = urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
            text = text.replace(
                "path('admin/', admin.site.urls),",
                "path('admin/', admin.site.urls),\n    path('pyas2/', include('pyas2.urls')),",
            )
            text = text.replace(
                'path("admin/", admin.site.urls),',
                'path("admin/", admin.site.urls),\n    path("pyas2/", include("pyas2.urls")),',
            )
            assert "pyas2.urls" in text, "could not add pyas2 to the peer's urls.py"
            urls.write_text(text)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DJANGO_"))}
        env.update({"AS2PEER_BASE": str(self.base), "KEYPASS": KEYPASS, "PEER_MDN_URL": self.url}, **extra)
        return env

    def manage(self, *args: str, stdin: bytes | None = None, **env: str) -> str:
        return _run([str(self.py), "manage.py", *args], cwd=self.project, env=self.env(**env), stdin=stdin)

    def configure(
        self, gateway_url: str, mdn_mode: str, *, compress: bool = False, content_type: str = "application/EDI-X12"
    ) -> None:
        """(Re)write the peer's partner record for us: where to send, which MDN, compression, content type."""
        self.manage("migrate", "-v", "0")
        self.manage(
            "shell",
            stdin=(HERE / "setup_partners.py").read_bytes(),
            GATEWAY_URL=gateway_url,
            PEER_MDN_MODE=mdn_mode,
            PEER_COMPRESS="1" if compress else "0",
            PEER_CONTENT_TYPE=content_type,
        )

    def start(self, port: int | None = None) -> None:
        """Run the peer on ``port`` (a free one by default; the same one again to bring a stopped peer back)."""
        self.port = port or free_port()
        self.log = self.base / f"peer-{self.port}.log"
        with open(self.log, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [str(self.py), "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
                cwd=self.project,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError("django-pyas2 did not start: " + (self.base / f"peer-{self.port}.log").read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def send(self, payload: Path) -> None:
        """``manage.py sendas2message PEERSERVER GATEWAY <file>``: the peer sends to us."""
        outbox = self.base / "peer_data" / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        shutil.copy(payload, outbox / payload.name)
        self.manage("sendas2message", "PEERSERVER", "GATEWAY", f"outbox/{payload.name}")

    def report(self) -> list[dict]:
        out = self.manage("shell", stdin=(HERE / "report.py").read_bytes())
        return [json.loads(line[7:]) for line in out.splitlines() if line.startswith("REPORT ")]


_PATCH_OSCRYPTO = r"""
import glob, sys
for f in glob.glob(sys.prefix + "/lib/python3*/site-packages/oscrypto/_openssl/_libcrypto_c*.py"):
    s = open(f).read()
    old = r"'\\b(\\d\\.\\d\\.\\d[a-z]*)\\b'"
    new = r"'\\b(\\d+\\.\\d+\\.\\d+[a-z]*)\\b'"
    if old in s:
        open(f, "w").write(s.replace(old, new))
"""

_SETTINGS = """

# --- added by tests/as2/django_peer.py ---
import os as _os
INSTALLED_APPS += ["pyas2"]
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
MEDIA_ROOT = _os.path.join(_os.environ["AS2PEER_BASE"], "peer_data")
PYAS2 = {"MDN_URL": _os.environ.get("PEER_MDN_URL", "")}
"""
