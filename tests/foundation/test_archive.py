import gzip
import hashlib
import io
import os
import socket

import pytest

from gateway.errors import NotFoundError, StoreError
from gateway.store.archive import (
    BLOCK,
    CHUNK,
    INCOMING,
    RAW_MAGIC,
    RECENT_BLOBS,
    RECENT_BYTES,
    RECENT_MAX,
    SMALL_INFLATE,
    SMALL_READ,
    Archive,
    compresses,
)


@pytest.mark.parametrize(
    "payload",
    [b"", b"ISA*00*~\r\n", "ISA*ü…\r\n".encode(), bytes(range(256)) * 4000],
    ids=["empty", "crlf", "utf8", "binary-1MB"],
)
def test_round_trip_exact_bytes(tmp_path, payload):
    a = Archive(tmp_path)
    blob = a.put_bytes(payload)
    assert blob.key == hashlib.sha256(payload).hexdigest()
    assert blob.size == len(payload)
    assert a.read_bytes(blob.key) == payload
    # stored gzip-compressed on disk when it compresses, else as it is after the raw marker
    stored = a.path_for(blob.key).read_bytes()
    if len(payload) > 1000:
        assert compresses(payload) and gzip.decompress(stored) == payload
    else:
        assert not compresses(payload) and stored == RAW_MAGIC + payload


def test_identical_payloads_are_stored_once_and_no_temp_files_remain(tmp_path):
    a = Archive(tmp_path)
    k1 = a.put_bytes(b"same").key
    k2 = a.put_stream(io.BytesIO(b"same")).key
    assert k1 == k2
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [a.path_for(k1)]


def test_unknown_key_is_not_found(tmp_path):
    a = Archive(tmp_path)
    with pytest.raises(NotFoundError):
        a.read_bytes("0" * 64)
    with pytest.raises(NotFoundError):
        a.read_bytes("../../etc/passwd")


def test_incompressible_bytes_are_stored_uncompressed_and_read_back_exactly(tmp_path):
    a = Archive(tmp_path)
    noise = os.urandom(3 * 1024 * 1024 + 17)  # like an encrypted AS2 body; spans several write chunks
    gzipped = gzip.compress(os.urandom(50_000))  # a payload that itself starts with gzip's magic bytes
    for payload in (noise, gzipped):
        blob = a.put_stream(io.BytesIO(payload))
        assert blob.size == len(payload) and blob.key == hashlib.sha256(payload).hexdigest()
        stored = a.path_for(blob.key).read_bytes()
        assert stored == RAW_MAGIC + payload
        assert a.read_bytes(blob.key) == payload
        out = io.BytesIO()
        a.copy_to(blob.key, out)
        assert out.getvalue() == payload


def test_blobs_written_gzip_by_earlier_versions_still_read(tmp_path):
    a = Archive(tmp_path)
    payload = os.urandom(1000)  # would be stored raw today
    key = hashlib.sha256(payload).hexdigest()
    a.path_for(key).parent.mkdir(parents=True)
    a.path_for(key).write_bytes(gzip.compress(payload, mtime=0))
    assert a.read_bytes(key) == payload
    assert a.put_bytes(payload).key == key and a.path_for(key).read_bytes()[:2] == b"\x1f\x8b"  # stored once


def test_a_damaged_archive_file_is_a_store_error(tmp_path):
    key = Archive(tmp_path).put_bytes(b"ISA*00*~" * 1000).key
    a = Archive(tmp_path)  # another process (the writer keeps its last small payloads in memory: see below)
    a.path_for(key).write_bytes(b"not an archive file")
    with pytest.raises(StoreError, match="neither gzip"):
        a.read_bytes(key)


def test_small_payloads_just_written_are_read_back_from_memory_until_deleted(tmp_path):
    a = Archive(tmp_path)
    small, large = b"ISA*00*~" * 1000, os.urandom(RECENT_MAX + 1)
    k_small, k_large = a.put_bytes(small).key, a.put_chunks([large[:10], large[10:]]).key
    a.path_for(k_small).write_bytes(b"not an archive file")  # the bytes it wrote are those it reads
    a.path_for(k_large).write_bytes(b"not an archive file")
    assert a.read_bytes(k_small) == small
    with pytest.raises(StoreError, match="neither gzip"):  # a large payload is always read from its file
        a.read_bytes(k_large)
    assert a.delete(k_small)
    with pytest.raises(NotFoundError):
        a.read_bytes(k_small)
    for i in range(RECENT_BLOBS):  # only the last RECENT_BLOBS are kept
        a.put_bytes(b"%d" % i)
    first = a.put_bytes(b"first").key
    a.path_for(first).write_bytes(b"not an archive file")
    for i in range(RECENT_BLOBS):
        a.put_bytes(b"again %d" % i)
    with pytest.raises(StoreError, match="neither gzip"):
        a.read_bytes(first)
    sizes = []
    for i in range(2 * RECENT_BYTES // RECENT_MAX):  # and at most RECENT_BYTES in all
        a.put_bytes(os.urandom(RECENT_MAX - i))
        sizes.append(a._recent_bytes)
    assert max(sizes) <= RECENT_BYTES and a._recent_bytes == sum(len(v) for v in a._recent.values())


def test_chunks_are_archived_as_one_payload_whatever_their_sizes(tmp_path):
    a = Archive(tmp_path)
    for parts in ([], [b""], [b"a", b"", b"bc"], [b"x" * (CHUNK - 1), b"yy", b"z" * 5000], [b"q" * (3 * CHUNK)]):
        blob = a.put_chunks(iter(parts))
        whole = b"".join(parts)
        assert blob.size == len(whole) and blob.key == hashlib.sha256(whole).hexdigest()
        assert Archive(tmp_path).read_bytes(blob.key) == whole


def test_short_reads_still_decide_on_a_full_sample(tmp_path):
    class Trickle(io.BytesIO):
        def read(self, n=-1):
            return super().read(min(n, 100) if n and n > 0 else 100)

    a = Archive(tmp_path)
    payload = b"ISA*00*          *00*~GS*SH*~ST*856*0001~\r\n" * 5000
    blob = a.put_stream(Trickle(payload))
    assert gzip.decompress(a.path_for(blob.key).read_bytes()) == payload


def test_a_payload_that_fits_one_block_is_stored_raw_even_when_it_compresses(tmp_path):
    a = Archive(tmp_path)
    small = b"ISA*00*          *00*~GS*FA*~ST*997*0001~\r\n" * 80  # 3.5 KB: gzip would save, the disk would not
    big = small * 2
    assert compresses(small) and len(RAW_MAGIC + small) <= BLOCK < len(big)
    assert a.path_for(a.put_bytes(small).key).read_bytes() == RAW_MAGIC + small
    assert gzip.decompress(a.path_for(a.put_bytes(big).key).read_bytes()) == big
    assert a.read_bytes(a.put_bytes(small).key) == small and a.read_bytes(a.put_bytes(big).key) == big


def test_a_small_blob_that_inflates_a_lot_is_streamed_back_exactly(tmp_path):
    a = Archive(tmp_path)
    zeros = bytes(3 * SMALL_INFLATE)  # a few KB on disk, more than a small read may inflate to in one call
    blob = a.put_bytes(zeros)
    assert a.path_for(blob.key).stat().st_size < SMALL_READ
    with a.open(blob.key) as fp:
        assert isinstance(fp, gzip.GzipFile)  # streamed, not inflated in one call
        assert fp.read() == zeros
    payload = b"ISA*00*~" * 2000
    with a.open(a.put_bytes(payload).key) as fp:
        assert not isinstance(fp, gzip.GzipFile) and fp.read() == payload  # small: inflated at once


def test_temporary_files_are_named_by_host_pid_and_number_and_never_reuse_a_leftover(tmp_path):
    a = Archive(tmp_path)
    host = socket.gethostname().replace("-", "_")[:40]
    leftover = tmp_path / f"{INCOMING}{host}-{os.getpid()}-0.gz"  # an earlier process with our pid crashed
    leftover.write_bytes(b"half a payload")
    blob = a.put_bytes(b"ISA*00*~")
    assert leftover.read_bytes() == b"half a payload"  # not taken over, not removed by a put
    assert a.read_bytes(blob.key) == b"ISA*00*~"
    assert sorted(p.name for p in tmp_path.glob(f"{INCOMING}*")) == [leftover.name]
    os.utime(leftover, (0, 0))
    assert a.clean_incoming() == [leftover]  # our own pid, but stale: a crash's leftover


def test_a_stored_payload_is_put_again_without_a_second_copy_and_a_missing_folder_is_made(tmp_path):
    a = Archive(tmp_path)
    key = a.put_bytes(b"x" * 5000).key
    folder = a.path_for(key).parent
    assert folder.parent.parent == tmp_path
    a.path_for(key).unlink()
    folder.rmdir()
    folder.parent.rmdir()  # both <ab> and <cd> gone: made again, in order
    assert a.put_bytes(b"x" * 5000).key == key and a.read_bytes(key) == b"x" * 5000
    assert a.put_bytes(b"x" * 5000).key == key
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [a.path_for(key)]


def test_incompressible_bytes_read_whole_are_tried_on_a_sample_before_compressing(tmp_path):
    a = Archive(tmp_path)
    for payload in (os.urandom(200_000), os.urandom(20_000)):  # over and under the 64 KB sample, read whole
        blob = a.put_stream(io.BytesIO(payload))
        assert a.path_for(blob.key).read_bytes() == RAW_MAGIC + payload and a.read_bytes(blob.key) == payload
    mixed = b"ISA*00*~" * 10_000 + os.urandom(100_000)  # the sample compresses: so does the whole, enough
    blob = a.put_bytes(mixed)
    assert gzip.decompress(a.path_for(blob.key).read_bytes()) == mixed
