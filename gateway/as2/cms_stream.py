"""CMS (RFC 5652) for large AS2 messages, streamed: EnvelopedData decrypted and CompressedData (RFC 3274)
inflated from one file to another in chunks, and a detached SignedData verified against digests computed by the
caller while it read the content. Memory stays bounded whatever the content size.

The small parts (recipient infos, algorithm identifiers, the signature) are loaded with asn1crypto; the
cryptography is done with ``cryptography`` (RSA key transport PKCS#1 v1.5 or OAEP; AES-CBC, 3DES-CBC, RC2-CBC,
RC4 content encryption as pyas2lib supports; RSA PKCS#1 v1.5 and PSS signatures). Failures raise pyas2lib's
exceptions, which carry the MDN disposition modifier (``decryption-failed``, ``authentication-failed``,
``decompression-failed``).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers import algorithms as decrepit
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gateway.as2 import compat as _compat
from gateway.as2.ber import CONTEXT, SEQUENCE, UNIVERSAL, BerError, BerReader, Readable

_compat.install()
from pyas2lib.exceptions import DecompressionError, DecryptionError, IntegrityError  # noqa: E402

ENVELOPED_DATA = "1.2.840.113549.1.7.3"
COMPRESSED_DATA = "1.2.840.113549.1.9.16.1.9"
SIGNED_DATA = "1.2.840.113549.1.7.2"
DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "md5": hashes.MD5, "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


def _oid(reader: BerReader) -> str:
    return str(core.ObjectIdentifier.load(reader.element()).dotted)


def _content_info(reader: BerReader, expected: str, what: str) -> None:
    """Read a ContentInfo's SEQUENCE header, its content type (must be ``expected``) and the [0] wrapper."""
    reader.expect(UNIVERSAL, SEQUENCE, "a CMS ContentInfo")
    if _oid(reader) != expected:
        raise BerError(f"{what} not found in the CMS structure")
    reader.expect(CONTEXT, 0, "the content of the ContentInfo")


# -- EnvelopedData -----------------------------------------------------------------------------------------------


def load_private_key(pem: bytes, password: str | None) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password.encode() if password else None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("our AS2 decryption key is not an RSA key")
    return key


def _key_candidates(infos: cms.RecipientInfos, cert: x509.Certificate | None) -> list[cms.KeyTransRecipientInfo]:
    """Key-transport recipient infos, the ones naming our certificate first."""
    mine: list[cms.KeyTransRecipientInfo] = []
    others: list[cms.KeyTransRecipientInfo] = []
    for info in infos:
        if info.name != "ktri":
            continue
        ktri = info.chosen
        rid = ktri["rid"]
        ours = (
            cert is not None
            and rid.name == "issuer_and_serial_number"
            and rid.chosen["serial_number"].native == cert.serial_number
        )
        (mine if ours else others).append(ktri)
    return mine + others


def _unwrap_key(ktri: cms.KeyTransRecipientInfo, key: rsa.RSAPrivateKey) -> bytes:
    alg = ktri["key_encryption_algorithm"]
    name = alg["algorithm"].native
    encrypted = ktri["encrypted_key"].native
    if name in ("rsaes_pkcs1v15", "rsa"):
        return key.decrypt(encrypted, asym.PKCS1v15())
    if name == "rsaes_oaep":
        params = alg["parameters"]
        hname = params["hash_algorithm"]["algorithm"].native if params.native else "sha1"
        mgf = params["mask_gen_algorithm"]["parameters"]["algorithm"].native if params.native else "sha1"
        return key.decrypt(encrypted, asym.OAEP(asym.MGF1(DIGESTS[mgf]()), DIGESTS[hname](), None))
    raise ValueError(f"unsupported key encryption algorithm {name}")


def _decryptor(alg: algos.EncryptionAlgorithm, key: bytes) -> tuple[Any, int, str]:
    """(decryptor, padding block size in bits or 0, pyas2lib-style algorithm name)."""
    if alg["algorithm"].native == "rc4":
        return Cipher(decrepit.ARC4(key), mode=None).decryptor(), 0, "rc4_128_cbc"
    cipher = alg.encryption_cipher
    iv = alg.encryption_iv
    if cipher == "aes":
        if len(key) != alg.key_length:
            raise ValueError("the content-encryption key has the wrong length")
        return Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor(), 128, f"aes_{len(key) * 8}_cbc"
    if cipher == "tripledes":
        if len(key) not in (16, 24):
            raise ValueError("the content-encryption key has the wrong length")
        return Cipher(decrepit.TripleDES(key), modes.CBC(iv)).decryptor(), 64, "tripledes_192_cbc"
    if cipher == "rc2":
        return Cipher(decrepit.RC2(key), modes.CBC(iv)).decryptor(), 64, "rc2_128_cbc"
    raise ValueError(f"unsupported content encryption algorithm {alg['algorithm'].native}")


def decrypt(src: Readable, out: IO[bytes], key: rsa.RSAPrivateKey, cert: x509.Certificate | None) -> str:
    """Decrypt the EnvelopedData read from ``src`` into ``out``; returns the content-encryption algorithm."""
    reader = BerReader(src)
    try:
        _content_info(reader, ENVELOPED_DATA, "Encrypted data")
        reader.expect(UNIVERSAL, SEQUENCE, "EnvelopedData")
        reader.element()  # version
        element = reader.element()
        if element[0] == 0xA0:  # originatorInfo [0] IMPLICIT: certificates we do not need
            element = reader.element()
        infos = cms.RecipientInfos.load(element)
        reader.expect(UNIVERSAL, SEQUENCE, "EncryptedContentInfo")
        reader.element()  # content type of the encrypted content
        alg = algos.EncryptionAlgorithm.load(reader.element())
        content = reader.expect(CONTEXT, 0, "the encrypted content")
    except (BerError, ValueError) as exc:
        raise DecryptionError(f"Failed to decrypt the payload: {exc}") from exc
    failure: Exception | None = None
    for ktri in _key_candidates(infos, cert):
        try:
            decryptor, block, name = _decryptor(alg, _unwrap_key(ktri, key))
            break
        except Exception as exc:
            failure = exc
    else:
        raise DecryptionError("Failed to decrypt the payload: Could not extract decryption key.") from failure
    unpadder = padding.PKCS7(block).unpadder() if block else None
    try:
        for chunk in reader.octets(content):
            data = decryptor.update(chunk)
            out.write(unpadder.update(data) if unpadder else data)
        tail = decryptor.finalize()
        out.write(unpadder.update(tail) + unpadder.finalize() if unpadder else tail)
    except (BerError, ValueError) as exc:
        raise DecryptionError(f"Failed to decrypt the payload: {exc or 'invalid padding'}") from exc
    return name


# -- CompressedData ----------------------------------------------------------------------------------------------


def inflate(src: Readable, out: IO[bytes], limit: int) -> int:
    """Inflate the CompressedData read from ``src`` into ``out``, at most ``limit`` bytes; returns the size."""
    reader = BerReader(src)
    inflater = zlib.decompressobj()
    size = 0
    try:
        _content_info(reader, COMPRESSED_DATA, "Compressed data")
        reader.expect(UNIVERSAL, SEQUENCE, "CompressedData")
        reader.element()  # version
        reader.element()  # compression algorithm (zlib is the only one defined)
        reader.expect(UNIVERSAL, SEQUENCE, "EncapsulatedContentInfo")
        reader.element()  # content type
        reader.expect(CONTEXT, 0, "the compressed content")
        string = reader.header()
        for chunk in reader.octets(string):
            while chunk:
                data = inflater.decompress(chunk, limit + 1 - size)
                size += len(data)
                if size > limit:
                    raise DecompressionError(
                        f"the compressed payload expands past the size limit of {limit} bytes", "decompression-failed"
                    )
                out.write(data)
                chunk = inflater.unconsumed_tail
        data = inflater.flush()
        size += len(data)
        out.write(data)
    except (BerError, ValueError) as exc:
        raise DecompressionError(f"the compressed part is not valid CMS: {exc}") from exc
    except zlib.error as exc:
        raise DecompressionError(f"the compressed payload is corrupt: {exc}") from exc
    if size > limit:
        raise DecompressionError(f"the compressed payload expands past the size limit of {limit} bytes")
    return size


# -- detached SignedData -----------------------------------------------------------------------------------------


def normalize_digest(name: str) -> str:
    return name.lower().replace("-", "")


def signer_digests(signature: bytes) -> list[str]:
    """The digest algorithms the signers of a detached signature used (what the content must be hashed with)."""
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].dotted != SIGNED_DATA:
            raise IntegrityError("Signed data not found in ASN.1 ")
        names = [normalize_digest(s["digest_algorithm"]["algorithm"].native) for s in info["content"]["signer_infos"]]
    except IntegrityError:
        raise
    except Exception as exc:
        raise IntegrityError(f"Failed to verify message signature: the signature is not valid CMS: {exc}") from exc
    unsupported = [n for n in names if n not in DIGESTS]
    if unsupported or not names:
        raise IntegrityError(f"Failed to verify message signature: unsupported digest {unsupported or 'none'}")
    return names


def hashers(names: Iterable[str]) -> dict[str, Any]:
    return {n: hashlib.new(n) for n in names}


def _load_cert(data: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)


def verify(signature: bytes, digests: dict[str, bytes], certificate: bytes) -> str:
    """Verify every signer of ``signature`` over content whose digests are ``digests`` (algorithm -> digest) with
    the partner's ``certificate``; returns the digest algorithm (of the last signer, as pyas2lib does)."""
    info = cms.ContentInfo.load(signature)
    public = _load_cert(certificate).public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise IntegrityError("Failed to verify message signature: the partner's certificate is not RSA")
    name = ""
    for signer in info["content"]["signer_infos"]:
        name = normalize_digest(signer["digest_algorithm"]["algorithm"].native)
        digest, algorithm = digests[name], DIGESTS[name]()
        signed, prehashed = digest, True
        if signer["signed_attrs"]:
            values = [a["values"] for a in signer["signed_attrs"] if a["type"].native == "message_digest"]
            if not values or values[0][0].native != digest:
                raise IntegrityError("Failed to verify message signature: Message Digest does not match.")
            signed, prehashed = signer["signed_attrs"].untag().dump(), False
        try:
            public.verify(
                signer["signature"].native,
                signed,
                _signature_padding(signer, name),
                Prehashed(algorithm) if prehashed else algorithm,
            )
        except Exception as exc:
            raise IntegrityError(f"Failed to verify message signature: {exc or 'bad signature'}") from exc
    return name


def _signature_padding(signer: Any, digest: str) -> asym.AsymmetricPadding:
    algo = signer["signature_algorithm"]
    kind = algo.signature_algo
    if kind == "rsassa_pkcs1v15":
        return asym.PKCS1v15()
    if kind == "rsassa_pss":
        params = algo["parameters"]
        mgf = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        return asym.PSS(asym.MGF1(DIGESTS[normalize_digest(mgf)]()), params["salt_length"].native)
    raise IntegrityError(f"Failed to verify message signature: unsupported signature algorithm {kind}")


def first_valid(signature: bytes, digests: Sequence[dict[str, bytes]], certificate: bytes) -> tuple[str, int]:
    """Try the digests of each content form (exact bytes, then canonical line ends); (algorithm, form index)."""
    error: IntegrityError | None = None
    for i, d in enumerate(digests):
        try:
            return verify(signature, d, certificate), i
        except IntegrityError as exc:
            error = error or exc
    assert error is not None
    raise error
