"""Asset links without a server: derived from a shell, posted by a client, asked for in a lookup."""

from __future__ import annotations

import base64
import json

import pytest
from titan_plugin_discovery.links import (
    GLOBAL_ASSET_ID,
    MAX_SEARCHED_LINKS,
    derived_links,
    posted_links,
    query_links,
    searched_links,
)

from titan_core.plugin_api import BadRequest


def encoded(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def test_a_shell_yields_its_global_asset_id_then_its_specific_asset_ids_once_each() -> None:
    serial = {
        "name": "serialNumber",
        "value": "4711",
        "externalSubjectId": {
            "type": "ExternalReference",
            "keys": [{"type": "GlobalReference", "value": "x"}],
        },
    }
    shell = {"assetInformation": {"assetKind": "Instance", "globalAssetId": "urn:pump:1",
                                  "specificAssetIds": [serial, {"name": "serialNumber", "value": "4711"}]}}  # fmt: skip

    links = derived_links(shell)

    assert [link.key for link in links] == [(GLOBAL_ASSET_ID, "urn:pump:1"), ("serialNumber", "4711")]
    assert links[0].body == {"name": "globalAssetId", "value": "urn:pump:1"}
    assert links[1].body == serial


def test_a_shell_without_asset_ids_yields_no_link() -> None:
    assert derived_links({"assetInformation": {"assetKind": "Type"}}) == []
    assert derived_links({"id": "urn:no-info"}) == []


def test_posted_links_are_verified_against_the_meta_model_and_name_the_bad_item() -> None:
    good = {"name": "partNumber", "value": "P-1"}

    assert [link.key for link in posted_links([good])] == [("partNumber", "P-1")]
    with pytest.raises(BadRequest, match=r"item 1 is not a SpecificAssetId: .*'value' is missing"):
        posted_links([good, {"name": "serialNumber"}])
    with pytest.raises(BadRequest, match=r"item 0 is not a valid SpecificAssetId: \.name: .*empty"):
        posted_links([{"name": "", "value": "v"}])
    with pytest.raises(BadRequest, match="expected a JSON array of SpecificAssetIds"):
        posted_links(good)


def test_global_asset_id_is_one_name_in_any_case() -> None:
    assert searched_links([{"name": "GLOBALASSETID", "value": "urn:a"}]) == [(GLOBAL_ASSET_ID, "urn:a")]
    assert query_links([encoded({"name": "globalassetid", "value": "urn:a"})]) == [(GLOBAL_ASSET_ID, "urn:a")]


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ("not+base64", "is not the base64url encoding of a JSON object"),
        (encoded(["a"]), "must be a JSON object"),
        (encoded({"name": "a"}), "member 'value' must be a string of 1 to 2048 characters, got null"),
        (encoded({"name": "n" * 65, "value": "v"}), "member 'name' must be a string of 1 to 64 characters"),
    ],
)
def test_a_bad_asset_ids_value_is_refused_saying_what_is_accepted(segment: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        query_links([segment])


def test_a_search_takes_a_bounded_number_of_links() -> None:
    links = [{"name": "n", "value": str(number)} for number in range(MAX_SEARCHED_LINKS + 1)]

    assert len(searched_links(links[:MAX_SEARCHED_LINKS])) == MAX_SEARCHED_LINKS
    with pytest.raises(BadRequest, match=f"at most {MAX_SEARCHED_LINKS} asset links"):
        searched_links(links)
    with pytest.raises(BadRequest, match=f"at most {MAX_SEARCHED_LINKS} asset links"):
        query_links([encoded(link) for link in links])
