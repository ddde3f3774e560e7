"""Safe-import rules for packages: checked on the ZIP directory before any part is read or parsed.

A ZIP declares each entry's uncompressed size; zipfile never reads past it (and fails the CRC check
when the data is longer), so checking the declared sizes bounds what decompression can produce.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from typing import IO

from titan_core.errors import TitanError
from titan_core.settings import Settings

MiB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """The bounds a package must stay within (settings `import_*`, docs/configuration.md).

    The ratio applies only to parts larger than `ratio_floor_bytes`: a small text part compressing
    1:300 is normal, a gigabyte of zeros is the bomb. Defaults let a real 100 MB package of PDFs and
    images through (ratio ~1) while refusing the classic bombs (ratio > 1,000).
    """

    max_uncompressed_bytes: int = 2048 * MiB
    max_parts: int = 10_000
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * MiB
    max_xml_depth: int = 200

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportLimits:
        return cls(
            max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
            max_parts=settings.import_max_parts,
            max_ratio=float(settings.import_max_compression_ratio),
            max_xml_depth=settings.import_max_xml_depth,
        )


DEFAULT_LIMITS = ImportLimits()


class PackageRefused(TitanError):
    """A package (or XML document) broke a safe-import rule: names the file, the part and the rule."""

    def __init__(self, source: str, part: str, rule: str, detail: str) -> None:
        where = f"{source}: part {part}" if part else source
        super().__init__(f"{where}: refused by rule '{rule}': {detail}", status=400, code="PackageRefused")
        self.source = source
        self.part = part
        self.rule = rule


def open_checked_zip(file: str | IO[bytes], source: str, limits: ImportLimits) -> zipfile.ZipFile:
    """Open `file` (a path or binary file object) as a ZIP and check every rule on its directory."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise PackageRefused(
            source, "", "zip-structure", f"not a readable ZIP archive (truncated or damaged: {exc})"
        ) from None
    try:
        check_archive(archive, source, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def check_archive(archive: zipfile.ZipFile, source: str, limits: ImportLimits) -> None:
    entries = archive.infolist()
    if len(entries) > limits.max_parts:
        raise PackageRefused(
            source, "", "max-parts", f"{len(entries)} entries; at most {limits.max_parts} are accepted"
        )
    seen: dict[str, str] = {}
    total = 0
    for entry in entries:
        name = entry.filename
        _check_name(source, name)
        # OPC part names compare case-insensitively; two entries of one name would let a reader pick either.
        key = name.lower()
        if key in seen:
            raise PackageRefused(
                source,
                name,
                "unique-part-names",
                f"collides with the entry {seen[key]!r} (names compare case-insensitively)",
            )
        seen[key] = name
        if entry.flag_bits & 0x1:
            raise PackageRefused(source, name, "no-encryption", "the entry is encrypted")
        total += entry.file_size
        if total > limits.max_uncompressed_bytes:
            raise PackageRefused(
                source,
                name,
                "max-uncompressed-size",
                f"the entries unpack to more than {limits.max_uncompressed_bytes} bytes",
            )
        if entry.file_size > limits.ratio_floor_bytes:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_ratio:
                raise PackageRefused(
                    source,
                    name,
                    "max-compression-ratio",
                    f"{entry.compress_size} bytes unpack to {entry.file_size} (ratio {ratio:.0f}:1; at most "
                    f"{limits.max_ratio:.0f}:1 for parts over {limits.ratio_floor_bytes} bytes): a zip bomb",
                )


def _check_name(source: str, name: str) -> None:
    """Refuse entry names that could escape the package when unpacked or that OPC forbids."""
    problem = ""
    if "\x00" in name:
        problem = "contains a NUL character"
    elif "\\" in name:
        problem = "contains a backslash"
    elif name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        problem = "is absolute"
    elif any(segment in ("..", ".") for segment in name.split("/")):
        problem = "has a '.' or '..' segment"
    elif posixpath.normpath(name).startswith(".."):
        problem = "escapes the package"
    if problem:
        raise PackageRefused(source, repr(name), "part-name", f"the entry name {problem}")
