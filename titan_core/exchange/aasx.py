"""AASX packages (Part 5 on OPC, ECMA-376-2): read safely and write, through pyecma376-2.

Reading: the ZIP directory is checked against the safe-import limits, the package's own XML parts
(content types, relationships) are parsed once with DTDs refused before pyecma376-2 (which parses them
with lxml) sees them, then the AAS spec parts (XML or JSON) are read and the parts their File values
and thumbnails point to are loaded. Writing: an origin part, one XML (or JSON) spec part, the files
as supplementary parts, and the thumbnail, laid out as AASX Package Explorer and BaSyx do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

import defusedxml
import defusedxml.ElementTree
from pyecma376_2.package_model import (
    RELATIONSHIP_TYPE_THUMBNAIL,
    OPCRelationship,
    OPCTargetMode,
    normalize_part_name,
)
from pyecma376_2.zip_package import ZipPackageReader, ZipPackageWriter

from titan_core.errors import BadRequest, TitanError
from titan_core.exchange.limits import DEFAULT_LIMITS, ImportLimits, PackageRefused, open_checked_zip
from titan_core.exchange.xml import read_xml_environment
from titan_core.json_text import loads_json

AASX_MEDIA_TYPE = "application/asset-administration-shell-package+xml"
# Relationship types of Part 5; packages written by older tools use the www. spelling.
_REL_ORIGIN = "http://admin-shell.io/aasx/relationships/aasx-origin"
_REL_SPEC = "http://admin-shell.io/aasx/relationships/aas-spec"
_REL_SUPPL = "http://admin-shell.io/aasx/relationships/aas-suppl"
_REL_THUMBNAIL = RELATIONSHIP_TYPE_THUMBNAIL
_OLD = "http://www.admin-shell.io/aasx/relationships/"

ORIGIN_PART = "/aasx/aasx-origin"
SECTIONS = ("assetAdministrationShells", "submodels", "conceptDescriptions")


@dataclass(frozen=True)
class PackagePart:
    name: str
    content_type: str
    data: bytes


@dataclass
class PackageContent:
    """What a package holds: its environment (Part 2 JSON, spec parts merged) and its other parts."""

    environment: dict[str, Any]
    # Every part that is not packaging (relationships, content types, origin, spec), by normalised name.
    parts: dict[str, PackagePart]
    thumbnail: str | None  # part name of the package thumbnail


def read_aasx(file: str | IO[bytes], source: str, *, limits: ImportLimits = DEFAULT_LIMITS) -> PackageContent:
    """The content of the package `file` (a path or a seekable binary file); `source` names it in errors."""
    with open_checked_zip(file, source, limits) as archive:
        for name in archive.namelist():
            lowered = name.lower()
            if lowered.endswith(".rels") or lowered == "[content_types].xml":
                _check_packaging_xml(archive.read(name), source, name)
    if not isinstance(file, str):
        file.seek(0)
    try:
        reader = ZipPackageReader(file)
    except Exception as exc:  # lxml and zipfile errors from pyecma376-2's own parsing
        raise PackageRefused(source, "", "opc-structure", f"not a readable OPC package: {exc}") from None
    with reader:
        try:
            spec_parts = _spec_parts(reader)
        except KeyError as exc:
            raise PackageRefused(
                source, "", "opc-structure", f"a relationship points to a missing part: {exc}"
            ) from None
        if not spec_parts:
            raise PackageRefused(
                source,
                "",
                "aasx-spec-part",
                "no AAS spec part (relationship aasx-origin → aas-spec) was found",
            )
        environment: dict[str, Any] = {}
        for part in spec_parts:
            document = _read_spec_part(reader, part, source, limits)
            for section in SECTIONS:
                if document.get(section):
                    environment.setdefault(section, []).extend(document[section])
        packaging = {normalize_part_name(name) for name in (ORIGIN_PART, *spec_parts)}
        parts: dict[str, PackagePart] = {}
        for name, content_type in reader.list_parts():
            key = normalize_part_name(name)
            if key in packaging:
                continue
            with reader.open_part(name) as stream:
                parts[key] = PackagePart(name, content_type or "application/octet-stream", stream.read())
        thumbnails = reader.get_related_parts_by_type()[_REL_THUMBNAIL]
    return PackageContent(environment, parts, thumbnails[0] if thumbnails else None)


def _check_packaging_xml(data: bytes, source: str, part: str) -> None:
    try:
        defusedxml.ElementTree.fromstring(data, forbid_dtd=True)
    except defusedxml.DTDForbidden:
        raise PackageRefused(source, part, "xml-no-dtd", "the packaging XML declares a DTD") from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise PackageRefused(source, part, "xml-no-entities", "the packaging XML defines entities") from None
    except Exception as exc:
        raise PackageRefused(source, part, "xml-well-formed", f"not well-formed XML: {exc}") from None


def _spec_parts(reader: ZipPackageReader) -> list[str]:
    root = reader.get_related_parts_by_type()
    origins = root[_REL_ORIGIN] + root[_OLD + "aasx-origin"]
    result: list[str] = []
    for origin in origins:
        related = reader.get_related_parts_by_type(origin)
        result.extend(related[_REL_SPEC] + related[_OLD + "aas-spec"])
    return result


def _read_spec_part(reader: ZipPackageReader, part: str, source: str, limits: ImportLimits) -> dict[str, Any]:
    content_type = reader.get_content_type(part).split(";")[0].strip().lower()
    with reader.open_part(part) as stream:
        if content_type in ("text/xml", "application/xml") or part.lower().endswith(".xml"):
            return read_xml_environment(stream, source, part=part, limits=limits)
        if content_type == "application/json" or part.lower().endswith(".json"):
            data = stream.read()
            try:
                document = loads_json(data.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                raise TitanError(
                    f"{source}: part {part}: not UTF-8 text (byte {exc.start})", status=400
                ) from None
            except (json.JSONDecodeError, BadRequest) as exc:
                raise TitanError(f"{source}: part {part}: not valid JSON: {exc}", status=400) from None
            except RecursionError:
                raise PackageRefused(source, part, "max-nesting", "the JSON is nested too deeply") from None
            if not isinstance(document, dict):
                raise TitanError(f"{source}: part {part}: the JSON is not an environment object", status=400)
            return document
    raise PackageRefused(
        source,
        part,
        "aasx-spec-part",
        f"the spec part has content type {content_type!r}; XML or JSON is read",
    )


class AasxWriter:
    """Writes a package part by part, so neither the environment nor the files are held in memory whole.

    Supplementary files and the thumbnail first (`add_file`), then the spec part (`spec_stream`), then
    `close()` writes the relationships. ZIP entries are written one at a time, hence this order.
    """

    def __init__(self, out: IO[bytes], *, spec_format: str = "xml") -> None:
        self._writer = ZipPackageWriter(out)
        self._spec_name = f"/aasx/data.{spec_format}"
        self._spec_type = "text/xml" if spec_format == "xml" else "application/json"
        self._suppl: list[str] = []
        self._thumbnail: str | None = None
        with self._writer.open_part(ORIGIN_PART, "text/plain") as origin:
            origin.write(b"Intentionally empty.")

    def add_file(self, part: PackagePart, *, thumbnail: bool = False) -> None:
        with self._writer.open_part(part.name, part.content_type) as stream:
            stream.write(part.data)
        self._suppl.append(part.name)
        if thumbnail and self._thumbnail is None:
            self._thumbnail = part.name

    def write_spec(self, chunks: Iterable[str]) -> None:
        with self._writer.open_part(self._spec_name, self._spec_type) as part:
            for chunk in chunks:
                part.write(chunk.encode("utf-8"))

    def open_spec(self) -> IO[bytes]:
        """The spec part as a binary stream to write UTF-8 into; close it before `close()`."""
        return self._writer.open_part(self._spec_name, self._spec_type)

    def close(self) -> None:
        internal = OPCTargetMode.INTERNAL
        root = [OPCRelationship("r1", _REL_ORIGIN, ORIGIN_PART, internal)]
        if self._thumbnail is not None:
            root.append(OPCRelationship("r2", _REL_THUMBNAIL, self._thumbnail, internal))
        self._writer.write_relationships(root)
        self._writer.write_relationships(
            [OPCRelationship("r1", _REL_SPEC, self._spec_name, internal)], ORIGIN_PART
        )
        if self._suppl:
            self._writer.write_relationships(
                [
                    OPCRelationship(f"r{index}", _REL_SUPPL, name, internal)
                    for index, name in enumerate(self._suppl, start=1)
                ],
                self._spec_name,
            )
        self._writer.close()
