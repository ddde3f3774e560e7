"""The checks of element writes: element verification in place, list and submodel rules, File values.

Element writes verify only what they change, not the whole submodel; these functions name each
violation by its idShortPath and check the rules that involve an element's surroundings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aas_core3 import verification

from titan_core.errors import BadRequest, InvalidModel, Violation
from titan_core.model.elements import find_element
from titan_core.model.paths import PathSegment, format_id_short_path
from titan_core.model.verify import parse_and_verify
from titan_core.store.records import Attachment

Path = tuple[PathSegment, ...]


def file_value_of(attachment: Attachment, where: str) -> str:
    """The File value (PathType) an upload stores: its file name percent-encoded into a relative URI.

    Raises `BadRequest` naming `where` when the name or the media type would break the meta-model:
    PathType must be a URI (RFC 2396), contentType a media type (RFC 2046). The original name is
    kept with the content, for Content-Disposition.
    """
    value = quote(attachment.file_name, safe="/")
    violations = [
        Violation(where, f"contentType {attachment.content_type!r}: {error.cause}")
        for error in verification.verify_content_type(attachment.content_type)
    ] + [
        Violation(where, f"file name {attachment.file_name!r} (as a URI {value!r}): {error.cause}")
        for error in verification.verify_path_type(value)
    ]
    if violations:
        raise BadRequest(
            "the upload cannot be stored as a valid File: send the 'file' part with a media type such as "
            "application/pdf, and a file name of at most 2000 characters once percent-encoded",
            violations,
        )
    return value


def require_file(element: dict[str, Any], text_path: str) -> None:
    if element.get("modelType") != "File":
        raise BadRequest(
            f"element {text_path!r} is a {element.get('modelType')}, not a File: only File elements have attachments"
        )


def child_path(document: dict[str, Any], parent_path: Path | None, element: dict[str, Any]) -> Path:
    base: Path = parent_path or ()
    if base:
        parent = find_element(document, base)
        if parent.get("modelType") == "SubmodelElementList":
            return (*base, len(parent.get("value") or []) - 1)
    return (*base, element["idShort"])


def verify_list_parent(document: dict[str, Any], parent_path: Path | None) -> None:
    """List rules (item types, no idShort on items) involve the children: verify the list itself."""
    if not parent_path:
        return
    parent = find_element(document, parent_path)
    if parent.get("modelType") == "SubmodelElementList":
        verify_element(parent, format_id_short_path(parent_path))


def verify_submodel_rules(document: dict[str, Any], path: Path, element: dict[str, Any]) -> None:
    """The Submodel's own rules about its top-level elements (only AASd-129), for one element placed at `path`.

    Cheap dict checks instead of verifying the whole submodel on every element write.
    """
    if len(path) == 1:
        check_template_qualifiers(document, element, format_id_short_path(path))


def check_template_qualifiers(submodel: dict[str, Any], element: dict[str, Any], where: str) -> None:
    """Constraint AASd-129 as aas-core3.0 checks it: TemplateQualifiers on top-level elements of Templates only."""
    if submodel.get("kind", "Instance") == "Template":
        return
    if any(qualifier.get("kind") == "TemplateQualifier" for qualifier in element.get("qualifiers") or ()):
        raise InvalidModel(
            "The submodel would violate a constraint of the AAS meta-model; nothing was changed",
            [
                Violation(
                    where,
                    "Constraint AASd-129: a qualifier of kind TemplateQualifier is allowed only on elements "
                    f"of a submodel whose kind is Template (this one's is {submodel.get('kind', 'Instance')}); "
                    "use kind ConceptQualifier or ValueQualifier, or make the submodel a Template",
                )
            ],
        )


def verify_element(element: Any, where: str) -> dict[str, Any]:
    """Verify one element strictly; violations name their place by idShortPath, not body position."""
    try:
        return parse_and_verify("submodel_element", element).jsonable
    except InvalidModel as error:
        error.violations = [
            Violation(join(where, violation.path), violation.message) for violation in error.violations
        ]
        if not error.violations:
            error.message = f"{where}: {error.message}"
        raise


def join(where: str, relative: str) -> str:
    if not relative:
        return where
    return f"{where}{relative}" if relative.startswith("[") else f"{where}.{relative}"


def new_child_label(parent_path: Path | None, element: Any) -> str:
    id_short = element.get("idShort") if isinstance(element, dict) else None
    base = format_id_short_path(parent_path) if parent_path else ""
    if isinstance(id_short, str):
        return f"{base}.{id_short}" if base else id_short
    return f"{base}[new item]" if base else "(new element)"
