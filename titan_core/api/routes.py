"""Registers the whole Part 2 API at one path prefix ("" for the root, or the alias prefix)."""

from __future__ import annotations

from aiohttp import web

from titan_core.api import concept_descriptions, elements, packages, serialization, shells, submodels


def add_api_routes(router: web.UrlDispatcher, prefix: str) -> None:
    # Literal segments ($metadata, …) are registered before the {placeholders} they would match.
    shells.add_routes(router, prefix)
    submodels.add_collection_routes(router, prefix)
    for one in (
        f"{prefix}/submodels/{{submodelIdentifier}}",
        f"{prefix}/shells/{{aasIdentifier}}/submodels/{{submodelIdentifier}}",
    ):
        submodels.add_item_routes(router, one)
        elements.add_routes(router, one)
    concept_descriptions.add_routes(router, prefix)
    serialization.add_routes(router, prefix)
    packages.add_routes(router, prefix)
