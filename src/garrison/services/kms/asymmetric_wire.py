"""Wire shapes of the asymmetric and HMAC key operations (the provider's part for them).

GetPublicKey, Sign, Verify, GenerateMac, VerifyMac, GenerateDataKeyPair(WithoutPlaintext)
and DeriveSharedSecret: the request dict (model member names, validated by the
pipeline) onto `AsymmetricUseCases`, and the response dict back. `KmsProvider`
registers `handlers()` and lists the members each honours in its `HANDLED` table;
RSA Encrypt/Decrypt stay in the provider, which dispatches on the key spec.
"""

from __future__ import annotations

from collections.abc import Callable

from garrison.api import Call, Request, Response
from garrison.services.kms.service import KmsService


class AsymmetricHandlers:
    def __init__(self, kms: KmsService) -> None:
        self.use_cases = kms.asymmetric

    def handlers(self) -> dict[str, Callable[[Call, Request], Response | None]]:
        return {
            "GetPublicKey": self.get_public_key,
            "Sign": self.sign,
            "Verify": self.verify,
            "GenerateMac": self.generate_mac,
            "VerifyMac": self.verify_mac,
            "GenerateDataKeyPair": self.generate_data_key_pair,
            "GenerateDataKeyPairWithoutPlaintext": self.generate_data_key_pair_without_plaintext,
            "DeriveSharedSecret": self.derive_shared_secret,
        }

    def get_public_key(self, call: Call, r: Request) -> Response:
        info = self.use_cases.get_public_key(call, r["KeyId"])
        out: Response = {
            "KeyId": info.key_arn,
            "PublicKey": info.public_key,
            "CustomerMasterKeySpec": info.key_spec,
            "KeySpec": info.key_spec,
            "KeyUsage": info.key_usage,
        }
        for member, values in (
            ("EncryptionAlgorithms", info.encryption_algorithms),
            ("SigningAlgorithms", info.signing_algorithms),
            ("KeyAgreementAlgorithms", info.key_agreement_algorithms),
        ):
            if values:
                out[member] = list(values)
        return out

    def sign(self, call: Call, r: Request) -> Response:
        arn, signature = self.use_cases.sign(
            call,
            r["KeyId"],
            r["Message"],
            message_type=r.get("MessageType"),
            signing_algorithm=r["SigningAlgorithm"],
            dry_run=bool(r.get("DryRun")),
        )
        return {"KeyId": arn, "Signature": signature, "SigningAlgorithm": r["SigningAlgorithm"]}

    def verify(self, call: Call, r: Request) -> Response:
        arn = self.use_cases.verify(
            call,
            r["KeyId"],
            r["Message"],
            r["Signature"],
            message_type=r.get("MessageType"),
            signing_algorithm=r["SigningAlgorithm"],
            dry_run=bool(r.get("DryRun")),
        )
        return {"KeyId": arn, "SignatureValid": True, "SigningAlgorithm": r["SigningAlgorithm"]}

    def generate_mac(self, call: Call, r: Request) -> Response:
        arn, mac = self.use_cases.generate_mac(
            call, r["KeyId"], r["Message"], r["MacAlgorithm"], dry_run=bool(r.get("DryRun"))
        )
        return {"Mac": mac, "MacAlgorithm": r["MacAlgorithm"], "KeyId": arn}

    def verify_mac(self, call: Call, r: Request) -> Response:
        arn = self.use_cases.verify_mac(
            call,
            r["KeyId"],
            r["Message"],
            r["MacAlgorithm"],
            r["Mac"],
            dry_run=bool(r.get("DryRun")),
        )
        return {"KeyId": arn, "MacValid": True, "MacAlgorithm": r["MacAlgorithm"]}

    def _data_key_pair(self, call: Call, r: Request, *, with_plaintext: bool) -> Response:
        pair = self.use_cases.generate_data_key_pair(
            call,
            r["KeyId"],
            r["KeyPairSpec"],
            with_plaintext=with_plaintext,
            encryption_context=r.get("EncryptionContext"),
            recipient=r.get("Recipient"),
            dry_run=bool(r.get("DryRun")),
        )
        out: Response = {
            "PrivateKeyCiphertextBlob": pair.private_ciphertext,
            "PublicKey": pair.public_key,
            "KeyId": pair.key_arn,
            "KeyPairSpec": r["KeyPairSpec"],
            "KeyMaterialId": pair.material_id,
        }
        if with_plaintext:
            out["PrivateKeyPlaintext"] = pair.private_plaintext
        return out

    def generate_data_key_pair(self, call: Call, r: Request) -> Response:
        return self._data_key_pair(call, r, with_plaintext=True)

    def generate_data_key_pair_without_plaintext(self, call: Call, r: Request) -> Response:
        return self._data_key_pair(call, r, with_plaintext=False)

    def derive_shared_secret(self, call: Call, r: Request) -> Response:
        arn, secret, origin = self.use_cases.derive_shared_secret(
            call,
            r["KeyId"],
            r["KeyAgreementAlgorithm"],
            r["PublicKey"],
            recipient=r.get("Recipient"),
            dry_run=bool(r.get("DryRun")),
        )
        return {
            "KeyId": arn,
            "SharedSecret": secret,
            "KeyAgreementAlgorithm": r["KeyAgreementAlgorithm"],
            "KeyOrigin": origin,
        }
