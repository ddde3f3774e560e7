"""File values and package parts: on import a File (or thumbnail) naming a part of the package becomes a
stored attachment; on export a stored attachment becomes a part the File value names.

Titan keeps a File's content as an attachment keyed by the element's idShortPath (a thumbnail by the
path ""), and the File's value is the file name as a relative URI. In a package the value is the
absolute part name (`/aasx/files/manual.pdf`), as AASX Package Explorer writes it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pyecma376_2.package_model import normalize_part_name

from titan_core.exchange.aasx import PackageContent, PackagePart
from titan_core.model.elements import iter_elements
from titan_core.model.paths import format_id_short_path
from titan_core.store.records import Attachment, Kind

FILES_FOLDER = "/aasx/files/"


@dataclass(frozen=True)
class ImportedFile:
    """A part of a package to be stored as the attachment of `path` in the identifiable `identifier`."""

    kind: Kind
    identifier: str
    path: str
    attachment: Attachment


def file_slots(kind: Kind, document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(attachment path, the dict holding the value, the value's key) for every File and thumbnail."""
    if kind == "shell":
        thumbnail = (document.get("assetInformation") or {}).get("defaultThumbnail")
        if isinstance(thumbnail, dict):
            yield "", thumbnail, "path"
    elif kind == "submodel":
        for path, element in iter_elements(document):
            if element.get("modelType") == "File":
                yield format_id_short_path(path), element, "value"


def take_package_files(package: PackageContent) -> list[ImportedFile]:
    """The attachments the environment's File values point to, rewriting those values to file names.

    A value that names no part of the package (an external URL, a missing part) is left as it is.
    """
    found: list[ImportedFile] = []
    for section, kind in (("assetAdministrationShells", "shell"), ("submodels", "submodel")):
        for document in package.environment.get(section) or ():
            if not isinstance(document, dict) or not isinstance(document.get("id"), str):
                continue
            for path, holder, key in file_slots(kind, document):  # type: ignore[arg-type]
                part = _part_named(package, holder.get(key))
                if part is None:
                    continue
                file_name = unquote(posixpath.basename(part.name)) or "file"
                content_type = holder.get("contentType") or part.content_type
                holder[key] = quote(file_name, safe="/")
                found.append(
                    ImportedFile(kind, document["id"], path, Attachment(content_type, file_name, part.data))  # type: ignore[arg-type]
                )
    return found


def _part_named(package: PackageContent, value: Any) -> PackagePart | None:
    if not isinstance(value, str) or not value:
        return None
    target = value
    if target.startswith("file:"):
        target = urlsplit(target).path
    elif urlsplit(target).scheme:
        return None
    if not target.startswith("/"):
        target = "/" + target
    key = normalize_part_name(posixpath.normpath(target))
    return package.parts.get(key)


class PartNamer:
    """Unique part names under /aasx/files/ for exported attachments (two Files may share a file name)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def name_for(self, file_name: str) -> str:
        base = quote(posixpath.basename(file_name.replace("\\", "/")) or "file", safe="-_~!$&'()*+,;=:@")
        if base.endswith("."):
            base += "_"
        candidate = FILES_FOLDER + base
        counter = 1
        while candidate.lower() in self._taken:
            counter += 1
            candidate = f"{FILES_FOLDER}{counter}/{base}"
        self._taken.add(candidate.lower())
        return candidate
