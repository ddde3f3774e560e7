"""AAS XML environments read through aas-core3.0's xmlization behind a parser that refuses DTDs.

AAS XML needs no DTD, so every document type declaration is refused: that rules out external
entities (XXE) and entity expansion (billion laughs) before an entity is ever defined.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import IO, Any

import defusedxml
import defusedxml.ElementTree
from aas_core3 import jsonization, xmlization

from titan_core.errors import TitanError
from titan_core.exchange.limits import DEFAULT_LIMITS, ImportLimits, PackageRefused

NAMESPACE = xmlization.NAMESPACE


def read_xml_environment(
    stream: IO[bytes], source: str, *, part: str = "", limits: ImportLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The environment of an AAS XML document as Part 2 JSON (a jsonable dict).

    Raises `PackageRefused` for a DTD, an entity or nesting beyond the limit, `TitanError` (400) when
    the XML is malformed or not an AAS environment, both naming `source` and `part`.
    """
    where = f"{source}: part {part}" if part else source
    events = defusedxml.ElementTree.iterparse(stream, events=("start", "end"), forbid_dtd=True)
    try:
        environment = xmlization.environment_from_iterparse(
            _cleared(_depth_limited(events, source, part, limits.max_xml_depth))
        )
    except defusedxml.DTDForbidden:
        raise PackageRefused(
            source,
            part,
            "xml-no-dtd",
            "the XML declares a DTD; AAS XML needs none (external entities and "
            "entity expansion are not accepted)",
        ) from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        raise PackageRefused(
            source, part, "xml-no-entities", "the XML defines or references entities"
        ) from None
    except ET.ParseError as exc:
        raise PackageRefused(source, part, "xml-well-formed", f"not well-formed XML: {exc}") from None
    except xmlization.DeserializationException as exc:
        raise TitanError(
            f"{where}: not a valid AAS XML environment: {exc.cause} at {exc.path}", status=400
        ) from None
    except RecursionError:
        raise PackageRefused(
            source, part, "max-nesting", "the XML is nested too deeply to be processed"
        ) from None
    document: dict[str, Any] = jsonization.to_jsonable(environment)  # type: ignore[assignment]
    return document


def _depth_limited(
    events: Iterator[tuple[str, Any]], source: str, part: str, max_depth: int
) -> Iterator[tuple[str, Any]]:
    depth = 0
    for event, element in events:
        if event == "start":
            depth += 1
            if depth > max_depth:
                raise PackageRefused(
                    source, part, "max-nesting", f"XML elements nest deeper than {max_depth} levels"
                )
        else:
            depth -= 1
        yield event, element


def _cleared(events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    # What aas-core's own stream reader does: a finished element is no longer needed once consumed.
    for event, element in events:
        yield event, element
        if event == "end":
            element.clear()
