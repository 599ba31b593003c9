"""The ciphertext blob: round trip, the header, and every way a blob can fail to open."""

from __future__ import annotations

import pytest

from garrison.services.kms.ciphertext import (
    HEADER_BYTES,
    MIN_BLOB_BYTES,
    SALT_BYTES,
    MaterialCipher,
    canonical_context,
    new_material,
    read_header,
)
from garrison.services.kms.errors import CIPHERTEXT_MESSAGE, InvalidCiphertextException

KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER = "11111111-2222-3333-4444-555555555555"
MATERIAL = bytes(range(32))


def cipher(version: int = 1, material: bytes = MATERIAL, key_id: str = KEY) -> MaterialCipher:
    return MaterialCipher(key_id, version, material)


def test_round_trip_with_and_without_context() -> None:
    c = cipher()
    for ec in (None, {}, {"purpose": "test", "tenant": "ä"}):
        blob = c.seal(b"attack at dawn", ec)
        assert c.open(blob, ec) == b"attack at dawn"


def test_header_names_key_and_version() -> None:
    blob = cipher(version=7).seal(b"x", None)
    header = read_header(blob)
    assert header.key_id == KEY and header.version == 7
    assert blob[0] == 0x01
    assert len(blob) == HEADER_BYTES + SALT_BYTES + 12 + 1 + 16


def test_blobs_differ_every_time() -> None:
    c = cipher()
    assert c.seal(b"same", None) != c.seal(b"same", None)


def test_no_plaintext_in_the_blob() -> None:
    assert b"attack at dawn" not in cipher().seal(b"attack at dawn", None)


@pytest.mark.parametrize(
    "wrong",
    [
        {},
        {"purpose": "test"},
        {"purpose": "test", "tenant": "b"},
        {"purpose": "TEST", "tenant": "a"},
    ],
)
def test_wrong_context_is_refused(wrong: dict[str, str]) -> None:
    c = cipher()
    blob = c.seal(b"p", {"purpose": "test", "tenant": "a"})
    with pytest.raises(InvalidCiphertextException) as exc:
        c.open(blob, wrong)
    assert exc.value.message == CIPHERTEXT_MESSAGE  # the same words whatever went wrong


def test_every_altered_byte_is_refused() -> None:
    c = cipher()
    blob = c.seal(b"plaintext", {"a": "1"})
    for i in range(len(blob)):
        altered = bytearray(blob)
        altered[i] ^= 0x01
        with pytest.raises(InvalidCiphertextException):
            c.open(bytes(altered), {"a": "1"})


@pytest.mark.parametrize("cut", [0, 1, HEADER_BYTES, MIN_BLOB_BYTES - 1])
def test_truncated_blob_is_refused(cut: int) -> None:
    blob = cipher().seal(b"", None) if cut >= MIN_BLOB_BYTES else cipher().seal(b"x", None)
    with pytest.raises(InvalidCiphertextException):
        read_header(blob[:cut])
    with pytest.raises(InvalidCiphertextException):
        cipher().open(blob[:cut], None)


def test_unknown_format_is_refused() -> None:
    blob = bytearray(cipher().seal(b"x", None))
    blob[0] = 0x7F  # 0x01: UUID key ids, 0x02: multi-Region (mrk-) key ids
    with pytest.raises(InvalidCiphertextException):
        read_header(bytes(blob))


def test_multi_region_key_ids_have_their_own_format() -> None:
    """A multi-Region key id (mrk- and 32 hex) is named in format 0x02; related keys
    in other Regions share the id and the material, so they open the blob."""
    mrk = "mrk-" + "0123456789abcdef" * 2
    blob = cipher(key_id=mrk, version=3).seal(b"x", {"a": "b"})
    assert blob[0] == 0x02
    header = read_header(blob)
    assert header.key_id == mrk and header.version == 3
    assert cipher(key_id=mrk, version=3).open(blob, {"a": "b"}) == b"x"
    # a UUID whose 16 bytes equal the mrk's cannot open it: the format byte differs
    same_bytes = "01234567-89ab-cdef-0123-456789abcdef"
    with pytest.raises(InvalidCiphertextException):
        cipher(key_id=same_bytes, version=3).open(blob, {"a": "b"})
    with pytest.raises(ValueError):
        cipher(key_id="mrk-abc").seal(b"x", None)


def test_other_version_or_key_or_material_cannot_open() -> None:
    blob = cipher(version=1).seal(b"x", None)
    for other in (cipher(version=2), cipher(key_id=OTHER), cipher(material=new_material())):
        with pytest.raises(InvalidCiphertextException):
            other.open(blob, None)


def test_header_swapped_to_another_version_is_refused() -> None:
    v1, v2 = cipher(version=1), cipher(version=2, material=MATERIAL)
    blob = bytearray(v1.seal(b"x", None))
    blob[17:21] = (2).to_bytes(4, "big")  # claim version 2, same material: still fails
    with pytest.raises(InvalidCiphertextException):
        v2.open(bytes(blob), None)


def test_canonical_context_is_order_independent_and_unambiguous() -> None:
    assert canonical_context({"a": "1", "b": "2"}) == canonical_context({"b": "2", "a": "1"})
    assert canonical_context(None) == canonical_context({})
    # pairs that would collide if simply concatenated
    assert canonical_context({"ab": "c"}) != canonical_context({"a": "bc"})
    assert canonical_context({"a": "", "b": ""}) != canonical_context({"a": "b", "": ""})


def test_material_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        MaterialCipher(KEY, 1, b"short")
    assert len(new_material()) == 32
