import gzip
import hashlib
import io

import pytest

from gateway.errors import NotFoundError
from gateway.store.archive import Archive


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
    # stored compressed on disk
    assert gzip.decompress(a.path_for(blob.key).read_bytes()) == payload


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
