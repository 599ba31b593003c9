"""The compatibility matrices (docs/compatibility/<service>.md) checked against the truth.

`check_matrix` asserts what every service's matrix promises: each operation of
the pinned model is listed once, "supported" is exactly what the provider
serves, a supported operation names the test that proves it, and every test a
matrix names exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^\| (\w+) \| (supported|planned) \| ([^|]*) \|", re.MULTILINE)
_TEST_REF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def check_matrix(
    service: str, served: Iterable[str], supported_proof: str | None = None
) -> list[tuple[str, str, str]]:
    """Check docs/compatibility/`service`.md; returns its rows (name, status, proof).

    `supported_proof`: text every supported operation's proof must contain.
    """
    text = (ROOT / "docs" / "compatibility" / f"{service}.md").read_text()
    rows: list[tuple[str, str, str]] = _ROW.findall(text)
    names = [name for name, _, _ in rows]
    model = botocore.session.get_session().get_service_model(service)
    assert sorted(names) == sorted(model.operation_names)
    assert len(set(names)) == len(names)
    assert {name for name, status, _ in rows if status == "supported"} == set(served)
    if supported_proof is not None:
        for name, status, proof in rows:
            if status == "supported":
                assert supported_proof in proof, name
    refs = _TEST_REF.findall(text)
    assert len(refs) >= len(set(served))
    for path, test in set(refs):
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{path}::{test}"
    return rows
