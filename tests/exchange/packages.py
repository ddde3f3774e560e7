"""Builders of AASX packages for tests: a well-formed one, and the hostile variants safe import refuses."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from aas_core3 import jsonization, xmlization

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="text/xml"/>'
    '<Default Extension="json" ContentType="application/json"/>'
    '<Default Extension="bin" ContentType="application/octet-stream"/>'
    '<Override PartName="/aasx/aasx-origin" ContentType="text/plain"/>'
    "</Types>"
)


def _rels(*targets: tuple[str, str]) -> str:
    items = "".join(
        f'<Relationship Id="r{index}" Type="http://admin-shell.io/aasx/relationships/{kind}" Target="{target}"/>'
        for index, (kind, target) in enumerate(targets, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{items}</Relationships>'
    )


def environment_xml(environment: dict[str, Any]) -> str:
    return xmlization.to_str(jsonization.environment_from_jsonable(environment))


def package_entries(spec: str | bytes, *, spec_name: str = "aasx/data.xml") -> list[tuple[str, bytes]]:
    data = spec.encode() if isinstance(spec, str) else spec
    return [
        ("[Content_Types].xml", CONTENT_TYPES.encode()),
        ("_rels/.rels", _rels(("aasx-origin", "/aasx/aasx-origin")).encode()),
        ("aasx/aasx-origin", b"Intentionally empty."),
        ("aasx/_rels/aasx-origin.rels", _rels(("aas-spec", "/" + spec_name)).encode()),
        (spec_name, data),
    ]


def build_zip(entries: list[tuple[str, bytes]], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


def package(environment: dict[str, Any], *extra: tuple[str, bytes]) -> bytes:
    return build_zip(package_entries(environment_xml(environment)) + list(extra))


SUBMODEL = {"modelType": "Submodel", "id": "urn:test:sm:1", "idShort": "One"}
ENVIRONMENT = {"submodels": [SUBMODEL]}

XXE = (
    '<?xml version="1.0"?><!DOCTYPE environment [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<environment xmlns="https://admin-shell.io/aas/3/0"><submodels><submodel><idShort>&x;</idShort>'
    "<id>urn:x</id></submodel></submodels></environment>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + ']><environment xmlns="https://admin-shell.io/aas/3/0"><submodels><submodel><idShort>&lol9;</idShort>'
    "<id>urn:x</id></submodel></submodels></environment>"
)


def hostile_packages() -> dict[str, tuple[bytes, str]]:
    """name -> (package bytes, the rule its refusal must name)."""
    valid = package(ENVIRONMENT)
    bomb = package(ENVIRONMENT, ("aasx/files/zeros.bin", bytes(20 * 1024 * 1024)))
    duplicate = build_zip([*package_entries(environment_xml(ENVIRONMENT)), ("aasx/data.xml", b"<x/>")])
    collision = build_zip([*package_entries(environment_xml(ENVIRONMENT)), ("AASX/DATA.xml", b"<x/>")])
    return {
        "zip bomb": (bomb, "max-compression-ratio"),
        "path traversal": (package(ENVIRONMENT, ("../../evil.txt", b"x")), "part-name"),
        "absolute part name": (package(ENVIRONMENT, ("/etc/evil", b"x")), "part-name"),
        "backslash part name": (package(ENVIRONMENT, ("..\\evil.txt", b"x")), "part-name"),
        "duplicate parts": (duplicate, "unique-part-names"),
        "case-colliding parts": (collision, "unique-part-names"),
        "XXE": (build_zip(package_entries(XXE)), "xml-no-dtd"),
        "billion laughs": (build_zip(package_entries(BILLION_LAUGHS)), "xml-no-dtd"),
        "truncated zip": (valid[: len(valid) // 2], "zip-structure"),
        "not a zip": (b"hello, not a package", "zip-structure"),
        "DTD in relationships": (
            build_zip(
                [
                    (
                        name,
                        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                        + data[data.index(b"?>") + 2 :],
                    )
                    if name == "_rels/.rels"
                    else (name, data)
                    for name, data in package_entries(environment_xml(ENVIRONMENT))
                ]
            ),
            "xml-no-dtd",
        ),
    }
