"""Submodel element writes by idShortPath: POST, PUT, PATCH, DELETE, `$metadata`, File attachments."""

from __future__ import annotations

import pytest

from tests.support.app import AppClient

from .helpers import (
    SM_ID,
    assert_idta_error,
    assert_refused_or_still_valid,
    assert_refused_unchanged,
    assert_uploaded,
    collection,
    element_url,
    etag_of,
    every_element_submodel,
    get_json,
    prop,
    snapshot,
    submodel_url,
    upload,
)

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4


# ---------------------------------------------------------------- POST


async def test_post_top_level_element_returns_it_with_201(loaded_client: AppClient) -> None:
    element = prop("Added", "42", "xs:int")
    response = await loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=element)
    assert response.status == 201, await response.text()
    assert await response.json() == element
    assert await get_json(loaded_client, element_url(SM_ID, "Added")) == element
    paths = await get_json(loaded_client, f"{submodel_url(SM_ID)}/$path")
    assert paths[-1] == "Added"


async def test_post_of_a_taken_id_short_is_409_and_changes_nothing(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=prop("Speed", "1"))
    await assert_idta_error(response, 409, "Speed")
    nested = await loaded_client.post(element_url(SM_ID, "Maintenance"), json=prop("IntervalDays", "1"))
    await assert_idta_error(nested, 409, "Maintenance.IntervalDays")
    assert await snapshot(loaded_client) == before


@pytest.mark.parametrize(
    ("parent", "element", "new_path"),
    [
        ("Maintenance", prop("Owner", "A. Smith"), "Maintenance.Owner"),
        ("Maintenance.Records", collection(None, prop("Note", "fourth")), "Maintenance.Records[3]"),
        ("Maintenance.Records[1]", prop("Hours", "7", "xs:int"), "Maintenance.Records[1].Hours"),
        ("Motor", prop("Voltage", "400", "xs:int"), "Motor.Voltage"),
        ("MeasuredBy", prop("Method", "PT100"), "MeasuredBy.Method"),
        ("Readings", prop(None, "22.5", "xs:double"), "Readings[2]"),
    ],
)
async def test_post_into_a_container_adds_the_element_there(
    loaded_client: AppClient, parent: str, element: dict[str, object], new_path: str
) -> None:
    response = await loaded_client.post(element_url(SM_ID, parent), json=element)
    assert response.status == 201, await response.text()
    assert await response.json() == element
    assert await get_json(loaded_client, element_url(SM_ID, new_path)) == element


# ---------------------------------------------------------------- PUT, PATCH, DELETE


async def test_put_replaces_an_element_with_204(loaded_client: AppClient) -> None:
    replacement = prop("Speed", "3000", "xs:long")
    response = await loaded_client.put(element_url(SM_ID, "Speed"), json=replacement)
    assert response.status == 204, await response.text()
    assert await get_json(loaded_client, element_url(SM_ID, "Speed")) == replacement


async def test_put_replaces_a_list_item(loaded_client: AppClient) -> None:
    item = collection(None, prop("Note", "rewritten"))
    response = await loaded_client.put(element_url(SM_ID, "Maintenance.Records[1]"), json=item)
    assert response.status == 204, await response.text()
    assert await get_json(loaded_client, element_url(SM_ID, "Maintenance.Records[1]")) == item


async def test_put_of_a_new_path_creates_the_element_with_201(loaded_client: AppClient) -> None:
    element = prop("Owner", "B. Jones")
    response = await loaded_client.put(element_url(SM_ID, "Maintenance.Owner"), json=element)
    assert response.status == 201, await response.text()
    assert await response.json() == element
    assert await get_json(loaded_client, element_url(SM_ID, "Maintenance.Owner")) == element


@pytest.mark.parametrize(
    ("method", "path", "element", "status", "fragment"),
    [
        # POST into a wrong place (`path` is the parent).
        ("POST", "Speed", prop("Child", "x"), 400, "Property"),
        ("POST", "Maintenance.Records", prop(None, "x"), 400, "Maintenance.Records"),
        ("POST", "Readings", prop("Named", "1.0", "xs:double"), 400, "Readings"),
        ("POST", "Nowhere", prop("Child", "x"), 404, "Nowhere"),
        ("POST", "Maintenance.Records[9]", prop("Child", "x"), 404, "Records[9]"),
        ("POST", "Maintenance", prop(None, "x"), 400, "idShort"),
        # PUT that cannot apply at `path`.
        ("PUT", "Speed", prop("Other", "1", "xs:int"), 400, "Other"),
        ("PUT", "Maintenance.Records[7]", collection(None), 404, "Records[7]"),
        ("PUT", "Missing.Child", prop("Child", "x"), 404, "Missing"),
        ("PUT", "Speed", {"modelType": "Property", "idShort": "Speed"}, 400, "valueType"),
    ],
)
async def test_post_or_put_that_cannot_apply_is_refused_and_changes_nothing(
    loaded_client: AppClient, method: str, path: str, element: dict[str, object], status: int, fragment: str
) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.request(method, element_url(SM_ID, path), json=element)
    await assert_refused_unchanged(loaded_client, response, before, status, fragment, what=f"{method} {path}")


async def test_patch_element_changes_the_given_fields_and_keeps_the_rest(loaded_client: AppClient) -> None:
    before = await get_json(loaded_client, element_url(SM_ID, "Speed"))
    description = [{"language": "en", "text": "Nominal speed"}]
    response = await loaded_client.patch(element_url(SM_ID, "Speed"), json={"description": description})
    assert response.status == 204, await response.text()
    assert await get_json(loaded_client, element_url(SM_ID, "Speed")) == {
        **before,
        "description": description,
    }


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"modelType": "Range"}, "modelType"),
        ({"idShort": "Renamed"}, "idShort"),
        ({"value": "not a number"}, "value type"),
        ([1, 2], "object"),
    ],
)
async def test_patch_element_that_breaks_it_is_refused(
    loaded_client: AppClient, changes: object, fragment: str
) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.patch(element_url(SM_ID, "Speed"), json=changes)
    await assert_idta_error(response, 400, fragment)
    assert await snapshot(loaded_client) == before


async def test_delete_element_removes_it_and_later_list_items_move_up(loaded_client: AppClient) -> None:
    response = await loaded_client.delete(element_url(SM_ID, "Maintenance.Records[0]"))
    assert response.status == 204, await response.text()
    notes = await get_json(loaded_client, element_url(SM_ID, "Maintenance.Records/$value"))
    assert notes == [{"Note": "second"}, {"Note": "third", "Hours": 12}]

    assert (await loaded_client.delete(element_url(SM_ID, "Speed"))).status == 204
    await assert_idta_error(await loaded_client.get(element_url(SM_ID, "Speed")), 404, "Speed")
    await assert_idta_error(await loaded_client.delete(element_url(SM_ID, "Speed")), 404, "Speed")


async def test_deleting_the_last_item_of_a_list_leaves_it_valid(loaded_client: AppClient) -> None:
    for _ in range(2):
        assert (await loaded_client.delete(element_url(SM_ID, "Readings[0]"))).status == 204
    readings = await get_json(loaded_client, element_url(SM_ID, "Readings"))
    assert "value" not in readings
    # The submodel as stored must still be valid: PUT it back unchanged.
    document = await get_json(loaded_client, f"{submodel_url(SM_ID)}?extent=withBlobValue")
    assert (await loaded_client.put(submodel_url(SM_ID), json=document)).status == 204


# ---------------------------------------------------------------- $metadata of an element


async def test_element_metadata_patch_changes_descriptive_fields(loaded_client: AppClient) -> None:
    metadata = await get_json(loaded_client, element_url(SM_ID, "Speed/$metadata"))
    assert "value" not in metadata and metadata["valueType"] == "xs:int"
    response = await loaded_client.patch(
        element_url(SM_ID, "Speed/$metadata"), json={"category": "PARAMETER"}
    )
    assert response.status == 204, await response.text()
    element = await get_json(loaded_client, element_url(SM_ID, "Speed"))
    assert element["category"] == "PARAMETER" and element["value"] == "1500"


async def test_element_metadata_patch_cannot_change_the_value(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.patch(element_url(SM_ID, "Speed/$metadata"), json={"value": "1"})
    await assert_idta_error(response, 400, "value")
    response = await loaded_client.patch(element_url(SM_ID, "Maintenance/$metadata"), json={"value": []})
    await assert_idta_error(response, 400, "value")
    assert await snapshot(loaded_client) == before


# ---------------------------------------------------------------- File attachments


async def test_file_attachment_upload_download_and_delete(loaded_client: AppClient) -> None:
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    await assert_idta_error(await loaded_client.get(attachment), 404, "Manual")

    await assert_uploaded(loaded_client, attachment, PDF, "guide.pdf", "application/pdf")
    element = await get_json(loaded_client, element_url(SM_ID, "Manual"))
    assert element["value"] == "guide.pdf" and element["contentType"] == "application/pdf"

    deleted = await loaded_client.delete(attachment)
    assert deleted.status == 200, await deleted.text()  # the OpenAPI's status for this route (not 204)
    await assert_idta_error(await loaded_client.get(attachment), 404, "Manual")
    await assert_idta_error(await loaded_client.delete(attachment), 404, "Manual")


async def test_attachment_of_a_nested_file_and_its_removal_with_the_element(loaded_client: AppClient) -> None:
    file_element = {"modelType": "File", "idShort": "Photo", "contentType": "image/png"}
    assert (
        await loaded_client.post(element_url(SM_ID, "Maintenance.Records[2]"), json=file_element)
    ).status == 201
    attachment = f"{element_url(SM_ID, 'Maintenance.Records[2].Photo')}/attachment"
    assert (await loaded_client.put(attachment, data=upload(b"png!", "photo.png", "image/png"))).status == 204
    assert await (await loaded_client.get(attachment)).read() == b"png!"

    # Deleting the list item deletes the attachments below it; a new File there starts empty.
    assert (await loaded_client.delete(element_url(SM_ID, "Maintenance.Records[2]"))).status == 204
    new_item = collection(None, file_element)
    assert (await loaded_client.post(element_url(SM_ID, "Maintenance.Records"), json=new_item)).status == 201
    await assert_idta_error(await loaded_client.get(attachment), 404)


async def test_attachment_on_an_element_that_is_no_file_is_refused(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    attachment = f"{element_url(SM_ID, 'Speed')}/attachment"
    await assert_idta_error(await loaded_client.put(attachment, data=upload(b"x", "x.bin")), 400, "File")
    await assert_idta_error(await loaded_client.get(attachment), 400, "File")
    missing = f"{element_url(SM_ID, 'NoSuchFile')}/attachment"
    await assert_idta_error(await loaded_client.put(missing, data=upload(b"x", "x.bin")), 404, "NoSuchFile")
    assert await snapshot(loaded_client) == before


async def test_attachment_upload_with_a_path_in_the_file_name_is_refused(loaded_client: AppClient) -> None:
    before = await snapshot(loaded_client)
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    for name in ("../../etc/passwd", "a/../../b.pdf", "nul\x00.pdf"):
        response = await loaded_client.put(attachment, data=upload(b"x", name))
        await assert_idta_error(response, 400, "fileName")
    assert await snapshot(loaded_client) == before


async def test_attachment_write_changes_the_etag(loaded_client: AppClient) -> None:
    before = await etag_of(loaded_client, submodel_url(SM_ID))
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    assert (
        await loaded_client.put(attachment, data=upload(PDF, "guide.pdf", "application/pdf"))
    ).status == 204
    assert await etag_of(loaded_client, submodel_url(SM_ID)) != before


async def test_submodel_put_that_drops_a_file_drops_its_attachment(loaded_client: AppClient) -> None:
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    assert (
        await loaded_client.put(attachment, data=upload(PDF, "guide.pdf", "application/pdf"))
    ).status == 204
    without_file = every_element_submodel()
    without_file["submodelElements"] = [
        e for e in without_file["submodelElements"] if e["idShort"] != "Manual"
    ]
    assert (await loaded_client.put(submodel_url(SM_ID), json=without_file)).status == 204
    # A File created again at the same path must not bring back the old content.
    assert (await loaded_client.put(submodel_url(SM_ID), json=every_element_submodel())).status == 204
    await assert_idta_error(await loaded_client.get(attachment), 404, "Manual")


async def test_attachment_upload_never_makes_the_submodel_invalid(loaded_client: AppClient) -> None:
    """Whatever an upload is named and typed, what is stored passes the meta-model (a PUT of it succeeds)."""
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    for file_name, content_type in (
        ("Prüf bericht €.pdf", "application/pdf"),
        ('quote"d.pdf', "application/pdf"),
        ("plain.pdf", "not a media type"),
    ):
        response = await loaded_client.put(attachment, data=upload(b"D", file_name, content_type))
        stored_url = f"{submodel_url(SM_ID)}?extent=withBlobValue"
        await assert_refused_or_still_valid(
            loaded_client, response, stored_url, f"upload {file_name!r} {content_type!r}"
        )


async def test_an_uploaded_file_name_is_stored_as_a_uri_and_downloaded_under_its_own_name(
    loaded_client: AppClient,
) -> None:
    attachment = f"{element_url(SM_ID, 'Manual')}/attachment"
    response = await loaded_client.put(
        attachment, data=upload(PDF, 'Prüf "bericht" €.pdf', "application/pdf")
    )
    assert response.status == 204, await response.text()
    stored = await get_json(loaded_client, element_url(SM_ID, "Manual"))
    assert stored["value"] == "Pr%C3%BCf%20%22bericht%22%20%E2%82%AC.pdf"
    download = await loaded_client.get(attachment)
    assert download.status == 200
    assert download.headers["Content-Disposition"] == (
        'attachment; filename="Pr_f _bericht_ _.pdf"; '
        "filename*=UTF-8''Pr%C3%BCf%20%22bericht%22%20%E2%82%AC.pdf"
    )


async def test_an_upload_with_an_invalid_media_type_is_refused_with_the_rule(
    loaded_client: AppClient,
) -> None:
    before = await snapshot(loaded_client)
    response = await loaded_client.put(
        f"{element_url(SM_ID, 'Manual')}/attachment", data=upload(PDF, "a.pdf", "not a media type")
    )
    await assert_idta_error(response, 400, "Manual", "not a media type", "RFC 2046")
    assert await snapshot(loaded_client) == before


TEMPLATE_QUALIFIER = [
    {"kind": "TemplateQualifier", "type": "Cardinality", "valueType": "xs:string", "value": "One"}
]


async def test_structural_writes_keep_submodel_level_rules(loaded_client: AppClient) -> None:
    """AASd-129: a TemplateQualifier on an element is only allowed in a submodel of kind Template."""
    template = every_element_submodel()
    template["kind"] = "Template"
    template["submodelElements"][1]["qualifiers"] = TEMPLATE_QUALIFIER
    writes: list[tuple[str, str, object, dict[str, object]]] = [
        (
            "POST",
            f"{submodel_url(SM_ID)}/submodel-elements",
            {**prop("Tq", "x"), "qualifiers": TEMPLATE_QUALIFIER},
            {},
        ),
        ("PATCH", element_url(SM_ID, "Speed/$metadata"), {"qualifiers": TEMPLATE_QUALIFIER}, {}),
        ("PATCH", element_url(SM_ID, "Speed"), {"qualifiers": TEMPLATE_QUALIFIER}, {}),
        ("PATCH", submodel_url(SM_ID), {"kind": "Instance"}, template),
        ("PATCH", f"{submodel_url(SM_ID)}/$metadata", {"kind": "Instance"}, template),
    ]
    for method, url, body, start in writes:
        assert (
            await loaded_client.put(submodel_url(SM_ID), json=start or every_element_submodel())
        ).status == 204
        before = await snapshot(loaded_client)
        response = await loaded_client.request(method, url, json=body)
        assert response.status == 400, f"{method} {url} {body}: {response.status} {await response.text()}"
        await assert_idta_error(response, 400, "AASd-129")
        assert await snapshot(loaded_client) == before


async def test_a_template_submodel_takes_template_qualifiers_from_element_and_submodel_writes(
    loaded_client: AppClient,
) -> None:
    template = every_element_submodel()
    template["kind"] = "Template"
    assert (await loaded_client.put(submodel_url(SM_ID), json=template)).status == 204
    qualified = {**prop("Tq", "x"), "qualifiers": TEMPLATE_QUALIFIER}
    response = await loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=qualified)
    assert response.status == 201, await response.text()
    # The elements of a PATCH are checked under the stored kind (Template), though the body has none.
    elements = [*template["submodelElements"], qualified]
    response = await loaded_client.patch(submodel_url(SM_ID), json={"submodelElements": elements})
    assert response.status == 204, await response.text()
    stored = await get_json(loaded_client, submodel_url(SM_ID))
    assert [element["idShort"] for element in stored["submodelElements"]] == [e["idShort"] for e in elements]
    assert stored["submodelElements"][-1]["qualifiers"] == TEMPLATE_QUALIFIER
    # A TemplateQualifier nested below the top level is no AASd-129 matter (aas-core checks the top level).
    nested = collection("Box", {**prop("Inner", "x"), "qualifiers": TEMPLATE_QUALIFIER})
    assert (await loaded_client.put(submodel_url(SM_ID), json=every_element_submodel())).status == 204
    response = await loaded_client.post(f"{submodel_url(SM_ID)}/submodel-elements", json=nested)
    assert response.status == 201, await response.text()
    (inner,) = (await get_json(loaded_client, element_url(SM_ID, "Box")))["value"]
    assert (inner["idShort"], inner["qualifiers"]) == ("Inner", TEMPLATE_QUALIFIER)
