"""Valid requests for every route the app serves, built from the route's path template and the twins
of `twins.py`, and the status each answers when the caller is allowed."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aas_core3 import jsonization, xmlization
from aiohttp import FormData

from titan_core.api.openapi import served_operations
from titan_core.app import create_app
from titan_core.exchange.aasx import AasxWriter
from titan_core.plugins import get_plugin_manager
from titan_core.settings import Settings

from .twins import CD_ID, SHELL_ID, SM_ID, b64, prop, shell, submodel

NEW_PREFIX = "https://example.com/ids/new/"
# Routes open to everyone, authentication on or off.
PUBLIC = {"/", "/docs", "/health", "/ready", "/description", "/openapi.json"}
# Operational routes served at the root only, not below the API's alias prefix (guarded all the same).
ROOT_ONLY = {"/metrics"}
# Routes that name no twin: lists and feeds, which a scoped principal gets filtered.
UNNAMED = {
    "/shells", "/shells/$reference", "/submodels", "/submodels/$metadata", "/submodels/$value",
    "/submodels/$reference", "/submodels/$path", "/concept-descriptions", "/serialization", "/events",
    "/packages",
}  # fmt: skip
# The AASX package the twins' fixture stores: it holds the shell SHELL_ID, so its routes name that twin.
PACKAGE_ID = "package-line-1"


@dataclass(frozen=True)
class RouteRequest:
    method: str
    template: str
    url: str
    body: Callable[[], dict[str, Any]]

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD")

    @property
    def names_a_twin(self) -> bool:
        return "{" in self.template and ("Identifier}" in self.template or "{packageId}" in self.template)

    @property
    def success(self) -> int:
        """The status an allowed caller gets (the same as with authentication off)."""
        if "/invoke" in self.template or "/operation-" in self.template:
            return 501
        if self.method == "DELETE" and self.template.endswith("/attachment"):
            return 200  # the OpenAPI's status for this DELETE alone
        return {"GET": 200, "POST": 201}.get(self.method, 204)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def served_routes() -> list[tuple[str, str]]:
    """(METHOD, path template) of every route of an app with the core's plugins, alias prefix aside."""
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:")
    app = create_app(settings, plugin_manager=get_plugin_manager(settings, load_entry_points=False))
    return sorted(
        {(method.upper(), path) for path, method, _ in served_operations(app)}, key=lambda r: (r[1], r[0])
    )


def route_request(method: str, template: str) -> RouteRequest:
    values = {
        "aasIdentifier": b64(SHELL_ID),
        "submodelIdentifier": b64(SM_ID),
        "cdIdentifier": b64(CD_ID),
        "idShortPath": _element(method, template),
        "handleId": "handle-1",
        "packageId": b64(PACKAGE_ID),
    }
    url = re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)
    return RouteRequest(method, template, url, lambda: _body(method, template))


def _element(method: str, template: str) -> str:
    if template.endswith("/attachment"):
        return "Manual"
    if "/invoke" in template or "/operation-" in template:
        return "Run"
    if (method == "POST" and template.endswith("{idShortPath}")) or template.endswith("{idShortPath}/$path"):
        return "Nested"
    return "Temperature"


def _upload(content: bytes, name: str) -> FormData:
    form = FormData()
    form.add_field("file", content, filename=name, content_type="application/octet-stream")
    form.add_field("fileName", name)
    return form


def package_bytes(environment: dict[str, Any]) -> bytes:
    """An AASX package of `environment` (Part 2 JSON), as Titan writes one."""
    out = io.BytesIO()
    writer = AasxWriter(out)
    writer.write_spec([xmlization.to_str(jsonization.environment_from_jsonable(environment))])
    writer.close()
    return out.getvalue()


def _package_form(environment: dict[str, Any]) -> FormData:
    form = FormData()
    form.add_field(
        "file", package_bytes(environment), filename="new.aasx", content_type="application/octet-stream"
    )
    form.add_field("fileName", "new.aasx")
    return form


def _body(method: str, template: str) -> dict[str, Any]:
    """The request's body as client keyword arguments (`json=` or `data=`), or none."""
    if method in ("GET", "DELETE"):
        return {}
    if template.endswith("/thumbnail") or template.endswith("/attachment"):
        return {"data": _upload(b"new content", "new.bin")}
    if "/invoke" in template:
        return {"json": {"inputArguments": []}}
    tail = template.split("}")[-1]
    if template == "/packages":
        return {"data": _package_form({"assetAdministrationShells": [shell(NEW_PREFIX + "packaged", SM_ID)]})}
    if template == "/packages/{packageId}":
        return {
            "data": _package_form(
                {"assetAdministrationShells": [{**shell(SHELL_ID, SM_ID), "idShort": "Packed"}]}
            )
        }
    if template == "/shells":
        return {"json": shell(NEW_PREFIX + "shell", SM_ID)}
    if template == "/submodels":
        return {"json": submodel(NEW_PREFIX + "submodel")}
    if template == "/concept-descriptions":
        return {"json": {"modelType": "ConceptDescription", "id": NEW_PREFIX + "cd", "idShort": "New"}}
    if template == "/concept-descriptions/{cdIdentifier}":
        return {"json": {"modelType": "ConceptDescription", "id": CD_ID, "idShort": "Renamed"}}
    if template == "/shells/{aasIdentifier}":
        return {"json": {**shell(SHELL_ID, SM_ID), "idShort": "Renamed"}}
    if tail == "/asset-information":
        return {"json": {"assetKind": "Instance", "globalAssetId": NEW_PREFIX + "asset"}}
    if tail == "/submodel-refs":
        return {
            "json": {"type": "ModelReference", "keys": [{"type": "Submodel", "value": NEW_PREFIX + "sm"}]}
        }
    if tail == "/submodel-elements":
        return {"json": prop("Added", "1")}
    if template.endswith("{idShortPath}/$value"):
        return {"json": 30.5}
    if template.endswith("/$value"):
        return {"json": {"Temperature": 30.5}}
    if template.endswith("/$metadata"):
        return {"json": {"category": "PARAMETER"}}
    if template.endswith("{idShortPath}") and method == "POST":
        return {"json": prop("Added", "1")}
    if template.endswith("{idShortPath}"):
        return {"json": prop("Temperature", "30.5", "xs:double")}
    if template.endswith("{submodelIdentifier}") and method == "PATCH":
        return {"json": {"idShort": "Patched"}}
    if template.endswith("{submodelIdentifier}"):
        return {"json": {**submodel(SM_ID), "idShort": "Renamed"}}
    raise AssertionError(f"no request body known for {method} {template}: teach tests/security/routes.py")
