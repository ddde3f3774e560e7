"""Asset links: what a shell's assetInformation yields, what clients send, and how both are checked.

An asset link is a (name, value) pair; the global asset id is the link named "globalAssetId"
(Constraint AASd-116 reserves that name, case-insensitively). A link is served as a SpecificAssetId
(its `externalSubjectId`, `semanticId` and so on kept as given), but matched on name and value only.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from aas_core3 import jsonization, verification

from titan_core.plugin_api import BadRequest

GLOBAL_ASSET_ID = "globalAssetId"
# The limits of the AssetLink schema (Part 2 API schemas, V3.1).
MAX_NAME_LENGTH = 64
MAX_VALUE_LENGTH = 2048
# Links one search may ask for together (all must match): each is one more probe of the index.
MAX_SEARCHED_LINKS = 32
_EXAMPLE = '{"name": "serialNumber", "value": "4711"}'


@dataclass(frozen=True)
class AssetLink:
    """One link: `name` and `value` for matching, `body` the SpecificAssetId served for it."""

    name: str
    value: str
    body: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.value)


def match_name(name: str) -> str:
    """The name a link is stored and matched under: "globalAssetId" in any case is one name."""
    return GLOBAL_ASSET_ID if name.lower() == GLOBAL_ASSET_ID.lower() else name


def derived_links(shell: Any) -> list[AssetLink]:
    """The links of a shell as stored by the repository: its globalAssetId, then its specificAssetIds.

    The repository verified the shell, so nothing is refused here; anything without a string name
    and value is skipped rather than guessed at.
    """
    information = shell.get("assetInformation") if isinstance(shell, dict) else None
    if not isinstance(information, dict):
        return []
    links: list[AssetLink] = []
    global_asset_id = information.get("globalAssetId")
    if isinstance(global_asset_id, str) and global_asset_id:
        links.append(
            AssetLink(GLOBAL_ASSET_ID, global_asset_id, {"name": GLOBAL_ASSET_ID, "value": global_asset_id})
        )
    for specific in information.get("specificAssetIds") or ():
        if isinstance(specific, dict):
            name, value = specific.get("name"), specific.get("value")
            if isinstance(name, str) and isinstance(value, str) and name and value:
                links.append(AssetLink(match_name(name), value, specific))
    return _unique(links)


def posted_links(body: Any) -> list[AssetLink]:
    """The body of `POST /lookup/shells/{aasIdentifier}`: a JSON array of SpecificAssetIds, each verified
    against the meta-model (aas-core3); BadRequest naming the first bad item and what is wrong."""
    if not isinstance(body, list):
        raise BadRequest(f"expected a JSON array of SpecificAssetIds like [{_EXAMPLE}], got {_kind(body)}")
    links: list[AssetLink] = []
    for index, item in enumerate(body):
        try:
            instance = jsonization.specific_asset_id_from_jsonable(item)
        except jsonization.DeserializationException as error:
            raise BadRequest(f"item {index} is not a SpecificAssetId: {error.path}: {error.cause}") from None
        for problem in verification.verify(instance):
            raise BadRequest(f"item {index} is not a valid SpecificAssetId: {problem.path}: {problem.cause}")
        # As the client sent it, in the meta-model's member order (aas-core3's serialisation).
        jsonable = jsonization.to_jsonable(instance)
        assert isinstance(jsonable, MutableMapping)  # an instance of a class serialises to an object
        links.append(AssetLink(match_name(instance.name), instance.value, dict(jsonable)))
    return _unique(links)


def searched_links(body: Any) -> list[tuple[str, str]]:
    """The body of `POST /lookup/shellsByAssetLink`: a JSON array of AssetLinks ({name, value})."""
    if not isinstance(body, list):
        raise BadRequest(f"expected a JSON array of AssetLinks like [{_EXAMPLE}], got {_kind(body)}")
    _check_count(len(body))
    return [_checked_pair(item, f"item {index}") for index, item in enumerate(body)]


def query_links(segments: list[str]) -> list[tuple[str, str]]:
    """The `assetIds` query values of `GET /lookup/shells`: each the base64url of a JSON SpecificAssetId."""
    _check_count(len(segments))
    return [_checked_pair(_decoded(segment), f"assetIds value {_shorten(segment)!r}") for segment in segments]


def _check_count(count: int) -> None:
    if count > MAX_SEARCHED_LINKS:
        raise BadRequest(
            f"a search takes at most {MAX_SEARCHED_LINKS} asset links (all of which must match), got {count}"
        )


def _decoded(segment: str) -> Any:
    try:
        raw = base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise BadRequest(
            f"assetIds value {_shorten(segment)!r} is not the base64url encoding of a JSON object like "
            f"{_EXAMPLE}"
        ) from None


def _checked_pair(item: Any, where: str) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be a JSON object like {_EXAMPLE}, got {_kind(item)}")
    pair: list[str] = []
    for member, limit in (("name", MAX_NAME_LENGTH), ("value", MAX_VALUE_LENGTH)):
        content = item.get(member)
        if not isinstance(content, str) or not content or len(content) > limit:
            raise BadRequest(
                f"{where}: member {member!r} must be a string of 1 to {limit} characters, got {_kind(content)}"
            )
        pair.append(content)
    return (match_name(pair[0]), pair[1])


def _unique(links: list[AssetLink]) -> list[AssetLink]:
    """The links in order, each (name, value) once: a repeated link finds the same shell."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for link in links:
        if link.key not in seen:
            seen.add(link.key)
            kept.append(link)
    return kept


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
