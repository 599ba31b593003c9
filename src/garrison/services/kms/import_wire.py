"""Wire shapes of the imported-key-material operations (the provider's part for them).

GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial: the
request dict (model member names, validated by the pipeline) onto
`ImportUseCases`, and the response dict back. `KmsProvider` registers
`handlers()` and lists the members each honours in its `HANDLED` table.
"""

from __future__ import annotations

from collections.abc import Callable

from garrison.api import Call, Request, Response
from garrison.services.kms.service import KmsService


class ImportHandlers:
    def __init__(self, kms: KmsService) -> None:
        self.use_cases = kms.importing

    def handlers(self) -> dict[str, Callable[[Call, Request], Response | None]]:
        return {
            "GetParametersForImport": self.get_parameters_for_import,
            "ImportKeyMaterial": self.import_key_material,
            "DeleteImportedKeyMaterial": self.delete_imported_key_material,
        }

    def get_parameters_for_import(self, call: Call, r: Request) -> Response:
        params = self.use_cases.get_parameters_for_import(
            call,
            r["KeyId"],
            wrapping_algorithm=r["WrappingAlgorithm"],
            wrapping_key_spec=r["WrappingKeySpec"],
        )
        return {
            "KeyId": params.key_arn,
            "ImportToken": params.import_token,
            "PublicKey": params.public_key,
            "ParametersValidTo": params.valid_to,
        }

    def import_key_material(self, call: Call, r: Request) -> Response:
        key, material_id = self.use_cases.import_key_material(
            call,
            r["KeyId"],
            import_token=r["ImportToken"],
            encrypted_key_material=r["EncryptedKeyMaterial"],
            valid_to=r.get("ValidTo"),
            expiration_model=r.get("ExpirationModel"),
            import_type=r.get("ImportType"),
            key_material_description=r.get("KeyMaterialDescription"),
            key_material_id=r.get("KeyMaterialId"),
        )
        return {"KeyId": key.arn, "KeyMaterialId": material_id}

    def delete_imported_key_material(self, call: Call, r: Request) -> Response:
        key, material_id = self.use_cases.delete_imported_key_material(
            call, r["KeyId"], key_material_id=r.get("KeyMaterialId")
        )
        out: Response = {"KeyId": key.arn}
        if material_id:
            out["KeyMaterialId"] = material_id
        return out
