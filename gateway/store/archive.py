"""Content-addressed archive of payload bytes: every received byte is written here before anything parses it.

Blobs are keyed by the SHA-256 of their *uncompressed* bytes and stored at ``<root>/<ab>/<cd>/<sha256>.gz``,
gzip-compressed unless the bytes do not compress: when zlib (level 1) shrinks the first 64 KB by less than 5%
(encrypted or already compressed bodies), the file holds :data:`RAW_MAGIC` followed by the bytes as they are. A
gzip file always starts with ``1f 8b``, so the first bytes tell the two formats apart. Writes stream (memory does
not grow with the payload), go to a temporary file in the same folder, are fsynced, then renamed into place, so a
blob is either complete or absent. Identical payloads are stored once.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import socket
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gateway.errors import NotFoundError, StoreError
from gateway.failpoints import FailPoints

CHUNK = 1 << 20
SAMPLE = 64 * 1024  # bytes tried with zlib level 1 to decide whether to compress
MIN_SAVING = 0.05  # store uncompressed when the sample shrinks by less than this
RAW_MAGIC = b"\x00gateway-archive-raw\n"  # first bytes of a blob stored uncompressed (never gzip's 1f 8b)
GZIP_MAGIC = b"\x1f\x8b"
_HEX = frozenset("0123456789abcdef")
INCOMING = ".incoming-"  # temporary files: ``.incoming-<host>-<pid>-<random>.gz`` in the archive root
STALE_INCOMING_SECONDS = 3600.0  # another host's temporary file this old is left over from a crash


@dataclass(frozen=True, slots=True)
class Blob:
    key: str  # the sha256 hex digest
    size: int  # uncompressed bytes

    @property
    def sha256(self) -> str:
        return self.key


def compresses(sample: bytes) -> bool:
    """Whether gzip is worth it: zlib level 1 on (the start of) the data saves at least MIN_SAVING."""
    sample = sample[:SAMPLE]
    return len(zlib.compress(sample, 1)) < len(sample) * (1 - MIN_SAVING)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """A process ``pid`` runs on this host (one that is not ours to signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
class _ChunkReader(io.RawIOBase):
    """A read-only stream over an iterable of byte strings (so :meth:`Archive.put_stream` can take a generator)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class Archive:
    def __init__(self, root: Path, *, failpoints: FailPoints | None = None) -> None:
        self.root = Path(root)
        self.failpoints = failpoints or FailPoints()
        self._prefix = f"{INCOMING}{socket.gethostname().replace('-', '_')[:40]}-{os.getpid()}-"
        self._root_ready = False

    def clean_incoming(self, *, stale_seconds: float = STALE_INCOMING_SECONDS) -> list[Path]:
        """Remove temporary files a crash left behind (run at start): this host's whose process is gone, and any
        older than ``stale_seconds`` (another host sharing the archive, or an older name). Returns what went."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        host = socket.gethostname().replace("-", "_")[:40]
        now = time.time()
        for path in self.root.glob(f"{INCOMING}*"):
            parts = path.name[len(INCOMING) :].split("-")
            mine = len(parts) >= 3 and parts[0] == host and parts[1].isdigit()
            try:
                stale = now - path.stat().st_mtime > stale_seconds
                if (mine and not pid_alive(int(parts[1]))) or (not mine and stale) or (
                    mine and int(parts[1]) == os.getpid() and stale
                ):
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError(f"cannot clean the archive's temporary file {path}: {exc.strerror}") from exc
        return removed

    def path_for(self, key: str) -> Path:
        if len(key) != 64 or not set(key) <= _HEX:
            raise NotFoundError(f"not an archive key: {key!r}")
        return self.root / key[:2] / key[2:4] / f"{key}.gz"

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def put_stream(self, source: BinaryIO) -> Blob:
        """Archive everything readable from ``source``; returns its key (sha256) and size."""
        if not self._root_ready:  # once per process: a mkdir per payload is a system call for nothing
            self.root.mkdir(parents=True, exist_ok=True)
            self._root_ready = True
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=self._prefix, suffix=".gz", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as raw:
                chunk = source.read(CHUNK)
                while chunk and len(chunk) < SAMPLE and (more := source.read(CHUNK)):
                    chunk += more  # short reads (sockets, pipes): decide on a full sample
                if compresses(chunk):
                    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
                        while chunk:
                            digest.update(chunk)
                            size += len(chunk)
                            gz.write(chunk)
                            chunk = source.read(CHUNK)
                else:
                    raw.write(RAW_MAGIC)
                    while chunk:
                        digest.update(chunk)
                        size += len(chunk)
                        raw.write(chunk)
                        chunk = source.read(CHUNK)
                raw.flush()
                os.fsync(raw.fileno())
            self.failpoints.hit("archive.before_rename")
            key = digest.hexdigest()
            final = self.path_for(key)
            if final.is_file():
                tmp.unlink()
            else:
                try:
                    os.replace(tmp, final)
                except FileNotFoundError:  # the first blob of its <ab>/<cd> folder
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, final)
                _fsync_dir(final.parent)
            return Blob(key=key, size=size)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write to the archive at {self.root}: {exc.strerror}") from exc
        except BaseException:  # the source failed (a generator raising): no half-written temporary file stays
            tmp.unlink(missing_ok=True)
            raise

    def put_bytes(self, data: bytes) -> Blob:
        return self.put_stream(io.BytesIO(data))

    def put_chunks(self, chunks: Iterable[bytes]) -> Blob:
        """Archive the concatenation of ``chunks`` (a generator is fine: nothing is held in memory)."""
        return self.put_stream(io.BufferedReader(_ChunkReader(chunks), CHUNK))

    def put_file(self, path: Path) -> Blob:
        with open(path, "rb") as fp:
            return self.put_stream(fp)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Stream the original bytes back."""
        path = self.path_for(key)
        if not path.is_file():
            raise NotFoundError(f"payload {key} is not in the archive (purged or never stored)")
        with open(path, "rb") as fp:
            head = fp.read(len(RAW_MAGIC))
            if head == RAW_MAGIC:
                yield fp
                return
            if not head.startswith(GZIP_MAGIC):
                raise StoreError(f"archive file {path} is neither gzip nor an uncompressed blob (damaged?)")
            fp.seek(0)
            with gzip.GzipFile(fileobj=fp, mode="rb") as gz:
                yield gz  # type: ignore[misc]

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as fp:
            return fp.read()

    def copy_to(self, key: str, dest: BinaryIO) -> None:
        with self.open(key) as fp:
            shutil.copyfileobj(fp, dest, CHUNK)

    def delete(self, key: str) -> bool:
        try:
            self.path_for(key).unlink()
            return True
        except FileNotFoundError:
            return False
