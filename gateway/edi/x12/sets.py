"""The transaction sets of one functional group, as the analysis keeps them: :class:`TransactionList`.

A file may hold hundreds of thousands of transaction sets, and the analysis is held from reading to the 997/999.
One :class:`~gateway.edi.x12.model.Transaction` object per set, with its ST02 string and first-segment int, is about
200 bytes a set (20 MB at 100,000 sets, more in RSS). Most sets are plain: no issue, SE01 equal to the counted
segments, SE02 equal to ST02, ST02 all digits. Once a group holds :data:`COMPACT_FROM` sets, the analysis keeps them
in a :class:`TransactionList`: a plain set as one row of columns (arrays: about 30 bytes), read back as a
:class:`Transaction` equal to the one the analysis made, built each time it is read; any other set (issues, errors,
odd control numbers) as the object the analysis made. A smaller group's sets stay a plain list of objects.

A set built from its row is read-only (:class:`StoredTransaction`): changing it would change nothing stored, so it
raises instead. Code that changes a set after the analysis (the declared-documents check adds its issue) takes it
with :meth:`TransactionList.hold`, which keeps that object from then on.

Readers see a ``Sequence[Transaction]``: ``len``, iteration, indexing, slices (as lists), truthiness.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import overload

from gateway.edi.x12.model import NO_ISSUES, Transaction

# a group's sets are a plain list of objects up to this many, then a TransactionList: a small file's sets are read
# a dozen times by the flow (acknowledgement, lineage, summaries, declared sets), and each read of a row builds an
# object (2% more instructions per one-set file, bench/results/mem101.txt); a few objects per group cost nothing
COMPACT_FROM = 32
MAX_CONTROL_DIGITS = 18  # ST02 as an int64 (X12 allows 4 to 9 characters)
MAX_NAMES = 0xFFFF  # set ids, specification keys and ST03 values of one group (array 'H' codes)


class StoredTransaction(Transaction):
    """A transaction set built from its stored row (see the module): read-only. A copy of it
    (``dataclasses.replace``, ``copy.copy``) is a plain, changeable :class:`Transaction`."""

    __slots__ = ()

    def __new__(cls, *args: object, **kwargs: object) -> Transaction:  # type: ignore[misc]
        if not args and not kwargs:  # copy.copy, pickle: the state is set on the new object afterwards
            return object.__new__(Transaction)
        return Transaction(*args, **kwargs)  # type: ignore[arg-type]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot set {name!r}: this transaction set is stored compactly; take it with "
                             "Group.transactions.hold(index) to change it")


class TransactionList(Sequence[Transaction]):
    """A group's transaction sets: plain ones as rows of columns, the others as the objects the analysis made."""

    __slots__ = (
        "_codes",
        "_control",
        "_count",
        "_first",
        "_held",
        "_names",
        "_ref",
        "_set_id",
        "_spec",
        "_width",
    )

    def __init__(self, transactions: Sequence[Transaction] = ()) -> None:
        self._held: dict[int, Transaction] = {}  # index -> the object (sets not plain, the set being read, held)
        self._names: list[str | None] = [None]  # the distinct set ids, spec keys and ST03 values; code 0 is None
        self._codes: dict[str | None, int] = {None: 0}
        self._set_id = array("H")
        self._spec = array("H")
        self._ref = array("H")
        self._control = array("q")  # ST02 as a number ...
        self._width = array("B")  # ... and its width (leading zeros)
        self._count = array("q")  # segments counted (SE01 equals it)
        self._first = array("q")  # file ordinal of ST
        for t in transactions:
            self.append(t)
            self.pack(len(self._count) - 1)

    # -- writing (the analysis) --------------------------------------------------------------------------------
    def append(self, tx: Transaction) -> None:
        """Add a set as an object (the set being read); :meth:`pack` stores it as a row once it is complete."""
        self._held[len(self._count)] = tx
        for column in (self._set_id, self._spec, self._ref, self._control, self._width, self._count, self._first):
            column.append(0)

    def pack(self, index: int) -> bool:
        """Store set ``index`` as a row if it is plain (see the module); whether it was."""
        tx = self._held.get(index)
        if tx is None:
            return True
        control = tx.control_number
        count = tx.segment_count
        if (tx.issues is not NO_ISSUES or tx.error_count or tx.trailer_control_number != control
                or tx.declared_count != str(count) or not (control.isascii() and control.isdigit())
                or len(control) > MAX_CONTROL_DIGITS or not 0 <= count < 1 << 62
                or not 0 <= tx.first_segment < 1 << 62):
            return False
        codes = (self._code(tx.set_id), self._code(tx.spec), self._code(tx.implementation_reference))
        if None in codes:
            return False
        self._set_id[index], self._spec[index], self._ref[index] = codes  # type: ignore[assignment]
        self._control[index] = int(control)
        self._width[index] = len(control)
        self._count[index] = count
        self._first[index] = tx.first_segment
        del self._held[index]
        return True

    def _code(self, name: str | None) -> int | None:
        code = self._codes.get(name)
        if code is None:
            if len(self._names) > MAX_NAMES:
                return None
            code = self._codes[name] = len(self._names)
            self._names.append(name)
        return code

    def hold(self, index: int) -> Transaction:
        """Set ``index`` as an object that may be changed (kept as such from now on)."""
        index = self._index(index)
        tx = self._held.get(index)
        if tx is None:
            tx = self._held[index] = self._make(index, Transaction)
        return tx

    # -- reading -----------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._count)

    @overload
    def __getitem__(self, index: int) -> Transaction: ...

    @overload
    def __getitem__(self, index: slice) -> list[Transaction]: ...

    def __getitem__(self, index: int | slice) -> Transaction | list[Transaction]:
        if isinstance(index, slice):
            return [self._get(i) for i in range(*index.indices(len(self._count)))]
        return self._get(self._index(index))

    def __iter__(self) -> Iterator[Transaction]:
        held = self._held
        for i in range(len(self._count)):
            tx = held.get(i)
            yield tx if tx is not None else self._make(i)

    def __repr__(self) -> str:
        return f"TransactionList({list(self)!r})"

    def held_count(self) -> int:
        """How many sets are kept as objects (the others as rows)."""
        return len(self._held)

    def control_numbers(self, stop: int | None = None) -> Iterator[str]:
        """ST02 of the sets (up to ``stop``), without building the sets."""
        held = self._held
        for i in range(len(self._count) if stop is None else stop):
            tx = held.get(i)
            yield tx.control_number if tx is not None else str(self._control[i]).zfill(self._width[i])

    def _index(self, index: int) -> int:
        n = len(self._count)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("transaction set index out of range")
        return index

    def _get(self, index: int) -> Transaction:
        tx = self._held.get(index)
        return tx if tx is not None else self._make(index)

    def _make(self, i: int, kind: type[Transaction] = StoredTransaction) -> Transaction:
        names = self._names
        control = str(self._control[i]).zfill(self._width[i])
        count = self._count[i]
        tx = Transaction(names[self._set_id[i]] or "", control, names[self._spec[i]], count, str(count), control,
                         names[self._ref[i]], NO_ISSUES, self._first[i], 0)
        if kind is not Transaction:
            tx.__class__ = kind
        return tx


def changeable(sets: Sequence[Transaction], index: int) -> Transaction:
    """Set ``index`` of a group's sets, as an object that may be changed (:meth:`TransactionList.hold`)."""
    return sets.hold(index) if isinstance(sets, TransactionList) else sets[index]
