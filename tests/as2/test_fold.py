"""RFC 5322 header folding of outbound MIME header blocks (gateway.as2.mime.fold_header_block)."""

from __future__ import annotations

from gateway.as2.mime import fold_header_block


def unfold(head: bytes) -> bytes:
    return head.replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")


def test_long_lines_fold_at_spaces_and_unfold_to_the_original():
    head = (
        b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg="sha256";'
        b' boundary="===============5476023366371355063=="\r\nContent-Disposition: attachment'
    )
    folded = fold_header_block(head)
    assert folded != head and unfold(folded) == head
    assert all(len(line) <= 76 for line in folded.split(b"\r\n"))
    assert folded.split(b"\r\n")[0].startswith(b"Content-Type: multipart/signed;")


def test_quoted_strings_and_unbreakable_lines_are_kept():
    quoted = b'Content-Disposition: attachment; filename="' + b"a b " * 30 + b'"'
    folded = fold_header_block(quoted)
    assert unfold(folded) == quoted and b'"' + b"a b " * 30 + b'"' in folded  # no break inside the quotes
    long_word = b"X-Long: " + b"y" * 100
    assert fold_header_block(long_word) == long_word
    short = b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: binary"
    assert fold_header_block(short) == short
