"""The oscrypto trap (gateway/as2/compat.py): pyas2lib must work on this machine's OpenSSL from a plain install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.as2 import compat

PROBE = r"""
import ctypes.util, json, sys
import gateway.as2  # installs the hook, as every gateway module that uses pyas2lib does
from gateway.as2 import compat
from pyas2lib import as2
from oscrypto import asymmetric, symmetric
from oscrypto._openssl import _libcrypto_cffi as lc
key = asymmetric.generate_pair("rsa", bit_size=2048)
sig = asymmetric.rsa_pkcs1v15_sign(key[1], b"data", "sha256")
asymmetric.rsa_pkcs1v15_verify(key[0], sig, b"data", "sha256")
iv, ct = symmetric.aes_cbc_pkcs7_encrypt(b"k" * 32, b"secret", None)
assert symmetric.aes_cbc_pkcs7_decrypt(b"k" * 32, ct, iv) == b"secret"
print(json.dumps({"version": lc.version_string, "info": list(lc.version_info), "patched": sorted(compat.patched)}))
"""


def probe() -> dict:
    import json

    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pyas2lib_works_in_a_fresh_interpreter_through_gateway_as2():
    got = probe()
    parsed = compat.parse_version(got["version"])
    assert parsed is not None and list(parsed) == got["info"]
    if any(n >= 10 for n in parsed[:3] if isinstance(n, int)) and parsed[0] >= 3:
        # the version oscrypto 1.3.0 cannot read: the hook must have rewritten the module
        assert (
            "oscrypto._openssl._libcrypto_cffi" in got["patched"]
            or "oscrypto._openssl._libcrypto_ctypes" in got["patched"]
        )


def test_importing_gateway_alone_is_enough_whatever_imports_pyas2lib_next():
    code = "import gateway, pyas2lib.as2, oscrypto.asymmetric; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_installed_oscrypto_still_has_the_expression_we_replace_or_reads_versions_itself():
    """If oscrypto changes, this says whether the hook is still needed (it then loads modules unmodified)."""
    import importlib.util

    spec = importlib.util.find_spec("oscrypto._openssl._libcrypto_cffi")
    assert spec is not None and spec.origin
    src = Path(spec.origin).read_text(encoding="utf-8")
    assert compat.BROKEN in src or compat.FIXED in src or "\\d+" in src


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OpenSSL 3.0.19 27 Jan 2026", (3, 0, 19)),
        ("OpenSSL 3.5.10 1 Jul 2026", (3, 5, 10)),
        ("OpenSSL 1.1.1w  11 Sep 2023", (1, 1, 1, "w")),
        ("OpenSSL 3.0.2 15 Mar 2022", (3, 0, 2)),
        ("LibreSSL 3.3.6", (3, 3, 6)),
    ],
)
def test_version_expression(text, expected):
    assert compat.parse_version(text) == expected


def test_unfixed_expression_fails_on_two_digit_patch_numbers():
    """Documents the trap itself: the original expression reads nothing from 3.0.19."""
    import re

    original = eval(compat.BROKEN)
    assert re.search(original, "OpenSSL 3.0.19 27 Jan 2026") is None
    assert re.search(eval(compat.FIXED), "OpenSSL 3.0.19 27 Jan 2026").group(1) == "3.0.19"
