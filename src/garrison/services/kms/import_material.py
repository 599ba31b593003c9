"""What imported key material must look like, by key spec: the checks of
GetParametersForImport's wrapping choice and of ImportKeyMaterial's unwrapped bytes.

AWS's "Importing key material" guide is the specification. importing.py calls
`check_importable` from CreateKey (which key specs can be created with Origin
EXTERNAL), `check_wrapping` from GetParametersForImport, and
`canonical_material` after unwrapping: it returns the bytes Garrison stores for
the key (the form the rest of KMS reads for that key spec) or raises AWS's error.

    key spec                          material imported            stored as
    SYMMETRIC_DEFAULT                 32 random bytes              the same bytes
    HMAC_224/256/384/512              28/32/48/64 random bytes     the same bytes
    RSA_2048/3072/4096                PKCS #8 DER private key      canonical PKCS #8 DER
    ECC_NIST_P256/P384/P521,
    ECC_SECG_P256K1                   PKCS #8 DER private key      canonical PKCS #8 DER

AWS's guide names no way to import ECC_NIST_EDWARDS25519 or ML_DSA_* material,
and SM2 keys exist in China Regions only: CreateKey refuses those EXTERNAL.
Wrapping: an RSA private key is too long for RSA-OAEP, so it needs an
RSA_AES_KEY_WRAP_* algorithm; RSA-OAEP under a 2048-bit wrapping key cannot
carry ECC_NIST_P521 material (241 bytes > 214 or 190). The canonical form is
deterministic for one key, so the HMAC digest importing.py keeps recognises
a re-import of the same key whatever its original encoding.
"""

from __future__ import annotations

from garrison.crypto.asymmetric import (
    ASYMMETRIC_SPECS,
    HMAC_KEY_BYTES,
    KeyMaterialError,
    canonical_private_key,
    rsa_oaep_max_plaintext,
)
from garrison.crypto.wrapping import WRAPPING_KEY_SPECS
from garrison.services.kms.domain import SYMMETRIC_DEFAULT
from garrison.services.kms.errors import (
    IncorrectKeyMaterialException,
    UnsupportedOperationException,
)

SYMMETRIC_MATERIAL_BYTES = 32
RSA_SPECS = frozenset({"RSA_2048", "RSA_3072", "RSA_4096"})
ECC_SPECS = frozenset({"ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"})
IMPORTABLE_SPECS = frozenset({SYMMETRIC_DEFAULT, *HMAC_KEY_BYTES, *RSA_SPECS, *ECC_SPECS})
SM2 = "SM2"
# The longest canonical material per key spec (PKCS #8 with the public key for ECC),
# what an RSAES_OAEP_* wrapping must be able to carry.
_LONGEST_MATERIAL = {
    SYMMETRIC_DEFAULT: SYMMETRIC_MATERIAL_BYTES,
    **HMAC_KEY_BYTES,
    "ECC_NIST_P256": 138,
    "ECC_NIST_P384": 185,
    "ECC_NIST_P521": 241,
    "ECC_SECG_P256K1": 135,
}
_RSA_AES = ("RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256")


def check_importable(key_spec: str) -> None:
    """CreateKey with Origin EXTERNAL: refuse key specs whose material cannot be imported.

    A key spec KMS does not know at all is left to CreateKey's own validation.
    """
    if key_spec in IMPORTABLE_SPECS:
        return
    if key_spec == SM2:
        raise UnsupportedOperationException(
            "SM2 keys, and imported SM2 key material, are offered in China Regions only."
        )
    if key_spec in ASYMMETRIC_SPECS:
        raise UnsupportedOperationException(
            f"Key material cannot be imported into {key_spec} KMS keys: Origin EXTERNAL "
            "applies to symmetric encryption (SYMMETRIC_DEFAULT), HMAC, RSA and ECC "
            "(ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1) KMS keys."
        )


def check_wrapping(key_spec: str, wrapping_algorithm: str, wrapping_key_spec: str) -> None:
    """GetParametersForImport: refuse a wrapping choice that cannot carry this key's material."""
    if wrapping_algorithm in _RSA_AES:
        return  # AES key wrap with padding carries material of any length
    if key_spec in RSA_SPECS:
        raise UnsupportedOperationException(
            f"The {wrapping_algorithm} wrapping algorithm cannot wrap RSA private key "
            f"material. To import the key material of an {key_spec} KMS key, use an RSA_AES "
            f"wrapping algorithm ({' or '.join(_RSA_AES)})."
        )
    longest = _LONGEST_MATERIAL.get(key_spec)
    bits = WRAPPING_KEY_SPECS.get(wrapping_key_spec)
    if longest is None or bits is None:
        return
    if longest > rsa_oaep_max_plaintext(bits // 8, wrapping_algorithm):
        raise UnsupportedOperationException(
            f"The {wrapping_algorithm} wrapping algorithm with an {wrapping_key_spec} wrapping "
            f"key cannot wrap {key_spec} key material directly. Use a longer wrapping key "
            f"spec or an RSA_AES wrapping algorithm ({' or '.join(_RSA_AES)})."
        )


def canonical_material(key_spec: str, material: bytes) -> bytes:
    """The material to store for a key of `key_spec`, or IncorrectKeyMaterialException."""
    if key_spec == SYMMETRIC_DEFAULT:
        return _exact_length(key_spec, material, SYMMETRIC_MATERIAL_BYTES, "symmetric encryption")
    if key_spec in HMAC_KEY_BYTES:
        return _exact_length(key_spec, material, HMAC_KEY_BYTES[key_spec], "HMAC")
    if key_spec in RSA_SPECS or key_spec in ECC_SPECS:
        try:
            return canonical_private_key(key_spec, material)
        except KeyMaterialError as exc:
            raise IncorrectKeyMaterialException(
                "The key material in the request is invalid for a KMS key with key spec "
                f"{key_spec}: {exc}"
            ) from None
    raise UnsupportedOperationException(f"Key material cannot be imported into {key_spec} keys.")


def _exact_length(key_spec: str, material: bytes, size: int, kind: str) -> bytes:
    if len(material) != size:
        raise IncorrectKeyMaterialException(
            f"The key material in the request is invalid: {kind} key material for a KMS key "
            f"with key spec {key_spec} is {size * 8} bits ({size} bytes)."
        )
    return material
