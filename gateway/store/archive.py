"""Content-addressed archive of payload bytes: every received byte is written here before anything parses it.

Blobs are keyed by the SHA-256 of their *uncompressed* bytes and stored at ``<root>/<ab>/<cd>/<sha256>.gz``,
gzip-compressed unless the bytes do not compress: when zlib (level 1) shrinks the first 64 KB by less than 5%
(encrypted or already compressed bodies), the file holds :data:`RAW_MAGIC` followed by the bytes as they are. A
gzip file always starts with ``1f 8b``, so the first bytes tell the two formats apart. Writes stream (memory does
not grow with the payload), go to a temporary file in the archive root, are fsynced, then renamed into place and
the folder fsynced, so a blob is either complete or absent, and durable once ``put_*`` returns (a folder created
for it is fsynced into its parent too). Identical payloads are stored once.

Small payloads take a shorter path: one that fits in one file-system block with the raw marker
(:data:`BLOCK`, 4 KB: a 997, most single-transaction files) is stored raw without trying to compress it, since
the file occupies a whole block either way; one up to 64 KB read whole is compressed once (gzip level 6) and
kept compressed if that saves 5% (up to 1 MB: the same, after the 64 KB level-1 trial). Reading a small blob
back decompresses it in one call instead of through a :class:`gzip.GzipFile`. A payload this process has just
written (the last :data:`RECENT_BLOBS`, each up to :data:`RECENT_MAX`, :data:`RECENT_BYTES` in all: the inbound
flow reads a file back for its envelope and its mapping right after archiving it) is read from memory, the same
bytes, until ``delete``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import os
import re
import shutil
import socket
import threading
import time
import zlib
from collections import OrderedDict
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
BLOCK = 4096  # a payload this small (with RAW_MAGIC) takes one file-system block however it is stored
SMALL_READ = 256 * 1024  # a stored blob up to this size is read whole and decompressed in one call
SMALL_INFLATE = 4 * 1024 * 1024  # ... unless it inflates beyond this (then it streams, as large ones do)
_KEY = re.compile(r"[0-9a-f]{64}")
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
RECENT_BLOBS = 256  # small payloads just written, kept in memory for the reads that follow (see Archive.open)
RECENT_MAX = 64 * 1024  # ... each up to this size
RECENT_BYTES = 4 * 1024 * 1024  # ... and this much in all
INCOMING = ".incoming-"  # temporary files: ``.incoming-<host>-<pid>-<n>.gz`` in the archive root
STALE_INCOMING_SECONDS = 3600.0  # another host's temporary file this old is left over from a crash


@dataclass(frozen=True, slots=True)
class Blob:
    key: str  # the sha256 hex digest
    size: int  # uncompressed bytes

    @property
    def sha256(self) -> str:
        return self.key


def compresses(sample: bytes | bytearray) -> bool:
    """Whether gzip is worth it: zlib level 1 on (the start of) the data saves at least MIN_SAVING."""
    sample = sample[:SAMPLE]
    return len(zlib.compress(sample, 1)) < len(sample) * (1 - MIN_SAVING)


def _fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _gzip(data: bytes | bytearray) -> bytes:
    """``data`` as one gzip member (level 6, mtime 0), in one call."""
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def pid_alive(pid: int) -> bool:
    """A process ``pid`` runs on this host (one that is not ours to signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _inflate(data: bytes) -> bytes | None:
    """A one-member gzip file's bytes decompressed in one call; None when it is more (several members, or it
    inflates beyond SMALL_INFLATE: let GzipFile stream it)."""
    z = zlib.decompressobj(31)
    try:
        out = z.decompress(data, SMALL_INFLATE)
    except zlib.error:
        return None  # GzipFile raises the error the caller knows
    return out if z.eof and not z.unused_data else None


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
        self._root = str(self.root)
        self.failpoints = failpoints or FailPoints()
        self._prefix = f"{INCOMING}{socket.gethostname().replace('-', '_')[:40]}-"  # then <pid>-<n>.gz
        self._serial = itertools.count()
        self._root_ready = False
        # key -> bytes of the last small payloads written: the inbound flow reads a payload back twice right after
        # archiving it (envelope, mapping); content-addressed blobs never change, and delete() forgets them
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._recent_bytes = 0

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
        return Path(self._path_for(key))

    def _path_for(self, key: str) -> str:
        if len(key) != 64 or _KEY.fullmatch(key) is None:
            raise NotFoundError(f"not an archive key: {key!r}")
        return f"{self._root}/{key[:2]}/{key[2:4]}/{key}.gz"

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path_for(key))

    def _temporary(self) -> tuple[int, str]:
        """A new temporary file in the archive root (created exclusively: never another writer's)."""
        if not self._root_ready:  # once per process: a mkdir per payload is a system call for nothing
            self.root.mkdir(parents=True, exist_ok=True)
            self._root_ready = True
        while True:
            name = f"{self._root}/{self._prefix}{os.getpid()}-{next(self._serial)}.gz"  # a forked child: its pid
            try:
                return os.open(name, _TMP_FLAGS, 0o600), name
            except FileExistsError:  # left by an earlier process of the same pid: take the next number
                continue

    def put_stream(self, source: BinaryIO) -> Blob:
        """Archive everything readable from ``source``; returns its key (sha256) and size."""
        head = bytearray()
        try:
            while len(head) < CHUNK:  # short reads (sockets, pipes): a full chunk, or all when less
                more = source.read(CHUNK - len(head))
                if not more:
                    break
                head += more
        except OSError as exc:  # as when the reads were made with the temporary file open
            raise StoreError(f"cannot write to the archive at {self.root}: {exc.strerror}") from exc
        if len(head) < CHUNK:
            return self._put_whole(head)  # all of it is here: compressed (or not) at once
        fd, tmp = self._temporary()
        try:
            try:
                digest, size = self._stream(fd, bytes(head), source)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.failpoints.hit("archive.before_rename")
            key = digest.hexdigest()
            self._place(tmp, key)
            return Blob(key=key, size=size)
        except OSError as exc:
            _unlink(tmp)
            raise StoreError(f"cannot write to the archive at {self.root}: {exc.strerror}") from exc
        except BaseException:  # the source failed (a generator raising): no half-written temporary file stays
            _unlink(tmp)
            raise

    def _put_whole(self, data: bytes | bytearray) -> Blob:
        """Archive a payload held whole (less than a :data:`CHUNK`): written, fsynced, placed, remembered."""
        fd, tmp = self._temporary()
        try:
            try:
                _write_all(fd, self._small(data))
                os.fsync(fd)
            finally:
                os.close(fd)
            self.failpoints.hit("archive.before_rename")
            key = hashlib.sha256(data).hexdigest()
            self._place(tmp, key)
            if len(data) <= RECENT_MAX:  # only once durable in its place
                self._remember(key, bytes(data))
            return Blob(key=key, size=len(data))
        except OSError as exc:
            _unlink(tmp)
            raise StoreError(f"cannot write to the archive at {self.root}: {exc.strerror}") from exc
        except BaseException:
            _unlink(tmp)
            raise

    @staticmethod
    def _small(data: bytes | bytearray) -> bytes | bytearray:
        """The stored form of a payload read whole: raw when it fits one block or gzip saves under 5%."""
        if len(data) + len(RAW_MAGIC) > BLOCK and (len(data) <= SAMPLE or compresses(data)):  # larger: trial
            packed = _gzip(data)  # first (up to a CHUNK of encrypted bytes is not compressed at level 6 for nothing)
            if len(packed) < len(data) * (1 - MIN_SAVING):
                return packed
        return RAW_MAGIC + data

    @staticmethod
    def _stream(fd: int, chunk: bytes, source: BinaryIO) -> tuple[Any, int]:
        """Write ``chunk`` and the rest of ``source`` to ``fd``, gzip-compressed when the first chunk compresses."""
        digest = hashlib.sha256()
        size = 0
        with open(fd, "wb", closefd=False) as raw:
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
        return digest, size

    def _place(self, tmp: str, key: str) -> None:
        """Rename the fsynced temporary file to its key's path and make the rename durable (``key``: a digest
        this archive computed, so its path is built without checking it)."""
        folder = f"{self._root}/{key[:2]}/{key[2:4]}"
        final = f"{folder}/{key}.gz"
        made: list[str] = []
        if os.path.isfile(final):  # stored before: this copy goes (the folder is fsynced in case that blob's
            os.unlink(tmp)  # writer died between its rename and its own folder fsync)
        else:
            try:
                os.replace(tmp, final)
            except FileNotFoundError:  # the first blob of its <ab>/<cd> folder
                made = self._make_folder(folder)
                os.replace(tmp, final)
        _fsync_dir(folder)
        for parent in made:  # after the folder: on a journaling file system its fsync has committed these too
            _fsync_dir(parent)

    def _make_folder(self, folder: str) -> list[str]:
        """Create ``<ab>/<cd>``; returns the folders whose entries changed (to fsync, so the blob's path
        survives a crash): ``<ab>``, and the root when ``<ab>`` was made too."""
        parent = os.path.dirname(folder)
        made = [parent]
        try:
            os.mkdir(folder)
        except FileNotFoundError:
            try:
                os.mkdir(parent)
                made.append(self._root)
            except FileExistsError:
                pass
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
        except FileExistsError:
            pass  # another writer made it meanwhile: fsync its parent all the same (it may not have yet)
        return made

    def put_bytes(self, data: bytes) -> Blob:
        if len(data) < CHUNK:
            return self._put_whole(data)
        return self.put_stream(io.BytesIO(data))

    def put_chunks(self, chunks: Iterable[bytes]) -> Blob:
        """Archive the concatenation of ``chunks`` (a generator is fine: nothing is held in memory beyond the
        first :data:`CHUNK`; less than that is joined and archived as one payload read whole)."""
        it = iter(chunks)
        head = bytearray()
        for chunk in it:
            head += chunk
            if len(head) >= CHUNK:
                rest = io.BufferedReader(_ChunkReader(itertools.chain([bytes(head)], it)), CHUNK)
                return self.put_stream(rest)
        return self._put_whole(head)

    def _remember(self, key: str, data: bytes) -> None:
        with self._recent_lock:
            recent = self._recent
            old = recent.pop(key, None)
            self._recent_bytes += len(data) - (len(old) if old is not None else 0)
            recent[key] = data
            while len(recent) > RECENT_BLOBS or self._recent_bytes > RECENT_BYTES:
                self._recent_bytes -= len(recent.popitem(last=False)[1])

    def _recalled(self, key: str) -> bytes | None:
        with self._recent_lock:
            return self._recent.get(key)

    def put_file(self, path: Path) -> Blob:
        with open(path, "rb") as fp:
            return self.put_stream(fp)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """Stream the original bytes back (a small payload this process has just written: from memory)."""
        path = self._path_for(key)
        recent = self._recalled(key)
        if recent is not None:
            yield io.BytesIO(recent)
            return
        try:
            fp = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError(f"payload {key} is not in the archive (purged or never stored)") from None
        with fp:
            small = os.fstat(fp.fileno()).st_size <= SMALL_READ
            head = fp.read(SMALL_READ + 1) if small else fp.read(len(RAW_MAGIC))
            if head.startswith(RAW_MAGIC):
                if small:
                    yield io.BytesIO(head[len(RAW_MAGIC):])
                else:
                    fp.seek(len(RAW_MAGIC))
                    yield fp
                return
            if not head.startswith(GZIP_MAGIC):
                raise StoreError(f"archive file {path} is neither gzip nor an uncompressed blob (damaged?)")
            if small and (data := _inflate(head)) is not None:
                yield io.BytesIO(data)
                return
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
        path = self._path_for(key)
        with self._recent_lock:
            forgotten = self._recent.pop(key, None)
            self._recent_bytes -= len(forgotten) if forgotten is not None else 0
        try:
            os.unlink(path)
            return True
        except FileNotFoundError:
            return False
