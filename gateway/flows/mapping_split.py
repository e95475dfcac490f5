"""The mapping of one large interchange on two cores: a forked child maps every other block of transaction sets
while this process maps the others, and this process takes the child's results in file order.

The mapping step of a 10,000-set interchange is most of its CPU (the engine, the canonical JSON of each record,
its keys), and the gateway's Python runs on one core at a time. :func:`split_mapped` forks a child that reads the
same archived bytes and maps the sets of odd blocks (:data:`BLOCK` sets each: 0-based ordinals ``i`` with
``(i // BLOCK) % 2 == 1``); this process maps the even ones, skipping the child's without building their segments
(:func:`gateway.mapping.x12.iter_transactions`' ``want``). Both read the same bytes with the same reader, so they
agree on every set's ordinal. What the child computes for a set is what the caller's ``work`` function returns
(in the mapping step: the entry's JSON text, the record's keys, the error's description), sent back through a
pipe one block at a time; everything that writes (the archive, the store) stays in this process, in the same
order as when it maps alone, so the output and the step's transaction are the same.

Bounded: the child is at most a pipe's buffer ahead (:data:`PIPE_BYTES`; when it is full, the child waits to
write); this process holds one of its blocks at a time. Safe: the child writes nothing but the pipe and
ends with ``os._exit`` (no clean-up of what it inherited: the store's connections, the archive's files); if this
process dies (kill -9), the child's next write fails and it exits; if the child dies, hangs (:data:`WAIT`) or
reads otherwise, :class:`SplitFailed` is raised and the caller maps the file alone, from the start. On Linux the
child also gets SIGKILL when this process dies (``PR_SET_PDEATHSIG``), wherever it is.

The child is forked from a process with other threads (pollers, the scheduler): it touches no lock they may hold
(no logging, no store, no archive method: both sources are opened before the fork).
"""

from __future__ import annotations

import fcntl
import gc
import os
import pickle
import select
import signal
import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, BinaryIO

from gateway.mapping.spec import MappingSpec
from gateway.mapping.x12 import TransactionData, iter_transactions, map_transaction, mapping_for

BLOCK = 50  # transaction sets per block (the child maps every other block)
PIPE_BYTES = 1 << 20  # the pipe's buffer: what the child may have mapped ahead (about 4 blocks of 856s)
WAIT = 120.0  # seconds without a block from the child before it is given up (the caller maps alone)
_HEAD = struct.Struct("!I")

# Python 3.12+ warns of forking a process that has threads; the child touches none of their locks (see above), so
# that warning only is silenced, for the process (pytest replaces the filters in each test: pyproject.toml has the
# same entry for the suite, which turns warnings into errors)
warnings.filterwarnings("ignore", message=r"This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to "
                        "deadlocks in the child", category=DeprecationWarning)

Opener = Callable[[], Any]  # a context manager giving the archived bytes (Archive.open(key))
Work = Callable[[TransactionData, Any], Any]  # (set, its record or MappingError) -> what the caller needs, picklable


class SplitFailed(Exception):
    """The child did not deliver (died, hung, or its sets did not match this process's): map alone instead."""


def available() -> bool:
    return hasattr(os, "fork")


def _no_hit(name: str) -> None:
    return None


def _mine(index: int) -> bool:
    return (index // BLOCK) % 2 == 0


def _childs(index: int) -> bool:
    return (index // BLOCK) % 2 == 1


def split_mapped(open_source: Opener, overrides: Any, *, file: str | None, root: Any, work: Work,
                 stack: ExitStack, hit: Callable[[str], None] | None = None
                 ) -> Iterator[tuple[TransactionData, Any]]:
    """``(set, record or MappingError)`` for the sets mapped here and ``(set, work(set, item))`` (a tuple, done by
    the child) for the others, in file order (``work`` must return a tuple). ``stack`` closes the sources and
    stops the child when the caller is done (or gives up). ``hit``: fail points (``mapping.split_started`` here
    once the child runs, ``mapping.split_child`` in the child after its first block)."""
    hit = hit or _no_hit
    mine_src: BinaryIO = stack.enter_context(open_source())
    child_src: BinaryIO = stack.enter_context(open_source())
    child = _Child.start(child_src, overrides, file=file, root=root, work=work, hit=hit)
    stack.callback(child.stop)
    hit("mapping.split_started")
    specs: dict[tuple[str, str], MappingSpec | None] = {}
    block: list[tuple[int, Any]] = []
    at = 0
    for tx in iter_transactions(mine_src, want=_mine):
        if tx.skipped:
            if at >= len(block):
                block, at = child.next_block(), 0
            index, result = block[at] if at < len(block) else (-1, None)
            if index != tx.index:
                raise SplitFailed(f"the child's set {index} came where set {tx.index} is")
            at += 1
            yield tx, result
            continue
        key = (tx.set_id, tx.version)
        if key not in specs:
            specs[key] = mapping_for(tx.set_id, tx.version, "in", overrides, root)
        yield tx, map_transaction(tx, overrides, file=file, root=root, spec=specs[key])
    if at < len(block) or child.next_block(final=True):
        raise SplitFailed("the child mapped sets this process did not read")


class _Child:
    """The forked child, and its blocks read off the pipe (in the caller's thread: a reader thread's allocations
    went to another malloc arena, which the 100 MB file's run grew by several MB)."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self.fd = fd
        self.done = False

    @classmethod
    def start(cls, src: BinaryIO, overrides: Any, *, file: str | None, root: Any, work: Work,
              hit: Callable[[str], None]) -> _Child:
        die_with_parent = _die_with_parent()  # looked up before the fork (the child imports nothing)
        parent = os.getpid()
        r, w = os.pipe()
        try:
            pid = os.fork()  # (Python 3.12+'s warning about threads is silenced above)
        except OSError as exc:  # no memory or process slot for a child: the caller maps alone
            os.close(r)
            os.close(w)
            raise SplitFailed(f"no mapping child: {exc}") from exc
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(r)
                die_with_parent()
                if os.getppid() == parent:  # else the parent died before the line above
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    gc.freeze()  # what it inherited is never collected (nor finalised) here
                    _child_main(src, w, overrides, file=file, root=root, work=work, hit=hit)
                    code = 0
            finally:
                os._exit(code)
        os.close(w)
        _widen(r)
        return cls(pid, r)

    def next_block(self, final: bool = False) -> list[tuple[int, Any]]:
        """The child's next block; at the end (``final``), [] once the child said it is done."""
        head = self._read(_HEAD.size)
        got = pickle.loads(self._read(_HEAD.unpack(head)[0]))  # noqa: S301 - our own child's bytes, a pipe
        if got == "end":
            if not final:
                raise SplitFailed("the mapping child ended before this process's last set")
            self.done = True
            return []
        if got == "fail":
            raise SplitFailed("the mapping child stopped on an error")
        return list(got)

    def _read(self, n: int) -> bytes:
        parts = []
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        while n:
            if not poller.poll(WAIT * 1000):
                raise SplitFailed(f"no block from the mapping child for {WAIT:.0f} s")
            got = os.read(self.fd, min(n, 1 << 20))
            if not got:
                raise SplitFailed("the mapping child ended before its last block")
            parts.append(got)
            n -= len(got)
        return b"".join(parts)

    def stop(self) -> None:
        """End the child (at once unless it has said it is done) and reap it."""
        if not self.done:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.fd)


_PRCTL: list[Any] = []


def _die_with_parent() -> Callable[[], None]:
    """A function making the calling (child) process get SIGKILL when its parent dies (Linux ``prctl``
    ``PR_SET_PDEATHSIG``), so that a child stuck anywhere does not outlive a killed server; elsewhere a no-op (the
    child then ends at its next write to the closed pipe)."""
    if not _PRCTL:
        try:
            import ctypes

            prctl = ctypes.CDLL(None, use_errno=True).prctl
            _PRCTL.append(lambda: prctl(1, signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - not Linux
            _PRCTL.append(lambda: None)
    fn: Callable[[], None] = _PRCTL[0]
    return fn


def _widen(fd: int) -> None:
    """A pipe of up to :data:`PIPE_BYTES` (Linux; else the system's), so the child can map ahead while this
    process maps its own blocks: what it has mapped waits in the kernel's pipe buffer, not in this process."""
    try:
        with open("/proc/sys/fs/pipe-max-size") as fp:
            size = min(PIPE_BYTES, int(fp.read()))
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (OSError, ValueError):  # pragma: no cover - not Linux, or a smaller limit: the child waits more often
        pass


def _send(fd: int, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEAD.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _child_main(src: BinaryIO, fd: int, overrides: Any, *, file: str | None, root: Any, work: Work,
                hit: Callable[[str], None]) -> None:
    specs: dict[tuple[str, str], MappingSpec | None] = {}
    block: list[tuple[int, Any]] = []
    number = -1
    sent = 0
    try:
        for tx in iter_transactions(src, want=_childs):
            if tx.skipped:
                continue
            if tx.index // BLOCK != number:
                if block:
                    _send(fd, block)
                    sent += 1
                    if sent == 1:
                        hit("mapping.split_child")
                block, number = [], tx.index // BLOCK
            key = (tx.set_id, tx.version)
            if key not in specs:
                specs[key] = mapping_for(tx.set_id, tx.version, "in", overrides, root)
            item = map_transaction(tx, overrides, file=file, root=root, spec=specs[key])
            block.append((tx.index, work(tx, item)))
        if block:
            _send(fd, block)
    except BrokenPipeError:  # the parent is gone (or gave up)
        return
    except BaseException:
        try:
            _send(fd, "fail")
        except OSError:
            pass
        raise
    _send(fd, "end")
