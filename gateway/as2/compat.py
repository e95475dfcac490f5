"""Make oscrypto (used by pyas2lib for all its CMS work) load on current OpenSSL 3.x.

The trap: oscrypto 1.3.0, the newest release on the package index, finds the version of libcrypto with the
regular expression ``\\b(\\d\\.\\d\\.\\d[a-z]*)\\b``. OpenSSL's version string ``OpenSSL 3.0.19 27 Jan 2026`` has a
two-digit patch number, the expression does not match (``3.0.1`` is followed by ``9``, not by a word boundary),
and ``import oscrypto.asymmetric`` fails with ``LibraryNotFoundError: Error detecting the version of libcrypto``.
Every OpenSSL from 3.0.10 on is affected. The fix (``\\d+\\.\\d+\\.\\d+``) exists only on oscrypto's development
branch, and the project installs from the package index only.

What :func:`install` does, and nothing more: it puts an import hook in front of ``sys.meta_path`` for exactly the
two modules that hold the expression (``oscrypto._openssl._libcrypto_cffi`` and ``_libcrypto_ctypes``). The hook
loads the installed file's source, replaces that one expression with the corrected one, and compiles the result
(never writing bytecode, so the installed package is untouched). If the expected expression is not in the
source (a newer oscrypto fixed it, or changed the code), the module loads unmodified. The hook must be in place
before oscrypto's backend is first imported; ``gateway.as2`` installs it on import, before it imports pyas2lib.

``tests/as2/test_compat.py`` fails if this stops working (it imports pyas2lib in a fresh interpreter through
``gateway.as2`` and runs a sign/verify and encrypt/decrypt round trip).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from types import CodeType, ModuleType
from typing import Any

TARGETS = frozenset({"oscrypto._openssl._libcrypto_cffi", "oscrypto._openssl._libcrypto_ctypes"})
# the expression exactly as it is written in oscrypto 1.3.0's source, and its replacement
BROKEN = r"'\\b(\\d\\.\\d\\.\\d[a-z]*)\\b'"
FIXED = r"'\\b(\\d+\\.\\d+\\.\\d+[a-z]*)\\b'"
VERSION_RE = re.compile(r"\b(\d+\.\d+\.\d+[a-z]*)\b")  # what FIXED means, for parse_version()

# names of the modules the hook rewrote in this process (for tests and diagnostics)
patched: set[str] = set()


def parse_version(version_string: str) -> tuple[int | str, ...] | None:
    """The version oscrypto derives from an OpenSSL version string once fixed (``3.0.19`` -> ``(3, 0, 19)``)."""
    m = VERSION_RE.search(version_string)
    if not m:
        return None
    parts = re.sub(r"(\d)([a-z]+)", r"\1.\2", m.group(1)).split(".")
    return tuple(int(p) if p.isdigit() else p for p in parts)


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path).decode("utf-8")
        if BROKEN in source:
            source = source.replace(BROKEN, FIXED)
            patched.add(fullname)
        code: CodeType = compile(source, path, "exec", dont_inherit=True)
        return code


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname not in TARGETS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader) or not spec.origin:
            return spec  # not a plain source install: leave it to the normal machinery
        spec.loader = _PatchingLoader(fullname, spec.origin)
        return spec


_FINDER = _Finder()


def install() -> None:
    """Put the hook in place (idempotent). Call before oscrypto's OpenSSL backend is imported."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
