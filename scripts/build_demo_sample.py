"""Rebuild the demo twin shipped in `titan_core/sample/` from the published IDTA JSON files.

    python scripts/build_demo_sample.py DIR_WITH_THE_IDTA_FILES

Not needed to run Titan or its tests: the result is committed. It records exactly how the IDTA
files (CC BY 4.0) were changed, so the changes listed in `titan_core/sample/NOTICE.md` can be
checked and redone. The published files break small meta-model rules (empty idShorts and values,
idShorts on list items, repeated languages); the sample must pass the strict check, because
clients such as basyx-client refuse to read what breaks it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

DEMO = "https://example.com/titan-demo"
SHELL_ID = f"{DEMO}/aas/proximity-switch-IPS001-4711"
ASSET_ID = f"{DEMO}/asset/proximity-switch-IPS001-4711"
OUTPUT = Path(__file__).resolve().parents[1] / "titan_core" / "sample" / "demo-environment.json"

# (IDTA file, the demo submodel id) in the order the shell lists them.
SOURCES = (
    ("IDTA_02006-3-0_Template_Digital_Nameplate.json", f"{DEMO}/sm/nameplate"),
    ("IDTA_02003_Sample_TechnicalData.json", f"{DEMO}/sm/technical-data"),
    ("IDTA_02002-1-0_Template_ContactInformation.json", f"{DEMO}/sm/contact-information"),
    ("IDTA_02023__Template_CarbonFootprint.json", f"{DEMO}/sm/carbon-footprint"),
)
_ID_SHORT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_LANG_STRING_LISTS = ("description", "displayName", "preferredName", "shortName", "definition")

# Values of the demo asset (an inductive proximity switch, the product of the Technical Data
# sample), by idShortPath; list items by index. They replace the templates' placeholders.
VALUES: dict[str, dict[str, Any]] = {
    f"{DEMO}/sm/nameplate": {
        "URIOfTheProduct": "https://example.com/titan-demo/products/IPS001/4711",
        "ManufacturerName": [{"language": "en", "text": "Manufacturer AG"}],
        "ManufacturerProductDesignation": [
            {"language": "en", "text": "IPS001 inductive proximity switch"},
            {"language": "de", "text": "IPS001 induktiver Näherungsschalter"},
        ],
        "ManufacturerProductRoot": [{"language": "en", "text": "proximity switch"}],
        "ManufacturerProductFamily": [{"language": "en", "text": "IPS"}],
        "ManufacturerProductType": "IPS001",
        "OrderCodeOfManufacturer": "12345",
        "ProductArticleNumberOfManufacturer": "12345",
        "SerialNumber": "4711",
        "YearOfConstruction": "2025",
        "DateOfManufacture": "2025-03-15",
        "CompanyLogo": f"{DEMO}/files/companyLogo.png",
        "Markings[0].MarkingFile": f"{DEMO}/files/ce-marking.png",
        "Markings[0].IssueDate": "2025-03-15",
        "Markings[0].ExpiryDate": "2030-03-14",
        "AssetSpecificProperties.ArbitraryProperty": "shipped with the Titan-AAS demo",
        "AssetSpecificProperties.ArbitraryFile": f"{DEMO}/files/datasheet.pdf",
        "AssetSpecificProperties.GuidelineSpecificProperties[0].GuidelineForConformityDeclaration": (
            "2014/30/EU"
        ),
        "AssetSpecificProperties.GuidelineSpecificProperties[0].ArbitraryProperty": "EMC",
        "AssetSpecificProperties.GuidelineSpecificProperties[0].ArbitraryFile": (
            f"{DEMO}/files/declaration-of-conformity.pdf"
        ),
    },
    f"{DEMO}/sm/technical-data": {
        "GeneralInformation.CompanyLogo": f"{DEMO}/files/companyLogo.jpg",
        "GeneralInformation.ProductImages[0].ImageFile": f"{DEMO}/files/product_front.jpg",
        "GeneralInformation.ProductImages[1].ImageFile": f"{DEMO}/files/product_back.jpg",
    },
    f"{DEMO}/sm/contact-information": {
        "ContactInformation.Email.EmailAddress": "service@manufacturer-ag.example.com",
        "ContactInformation.IPCommunication__00__.AddressOfAdditionalLink": (
            "https://example.com/titan-demo/chat"
        ),
        "ContactInformation.NameOfContact": [{"language": "en", "text": "Service desk"}],
        "ContactInformation.Company": [{"language": "en", "text": "Manufacturer AG"}],
    },
    f"{DEMO}/sm/carbon-footprint": {
        "ProductCarbonFootprints[0].PcfCalculationMethods[0]": "GHG Protocol",
        "ProductCarbonFootprints[0].PcfCO2eq": "2.63",
        "ProductCarbonFootprints[0].ReferenceImpactUnitForCalculation": "piece",
        "ProductCarbonFootprints[0].QuantityOfMeasureForCalculation": "1",
        "ProductCarbonFootprints[0].LifeCyclePhases[0]": "A1-A3",
        "ProductCarbonFootprints[0].ExplanatoryStatement": f"{DEMO}/files/pcf-statement.pdf",
        "ProductCarbonFootprints[0].PublicationDate": "2025-03-15T00:00:00Z",
        "ProductCarbonFootprints[0].ExpirationDate": "2030-03-14T00:00:00Z",
        "ProductOrSectorSpecificCarbonFootprints[0].PcfCalculationMethods[0]": "EN 15804",
        "ProductOrSectorSpecificCarbonFootprints[0].ProductOrSectorSpecificRule.PcfRuleOperator": "IBU",
        "ProductOrSectorSpecificCarbonFootprints[0].ProductOrSectorSpecificRule.PcfRuleName": "PCR A",
        "ProductOrSectorSpecificCarbonFootprints[0].ProductOrSectorSpecificRule.PcfRuleVersion": "1.3",
        "ProductOrSectorSpecificCarbonFootprints[0].ProductOrSectorSpecificRule.PcfRuleOnlineReference": (
            f"{DEMO}/files/pcr-a.pdf"
        ),
        "ProductOrSectorSpecificCarbonFootprints[0].ExternalPcfApi.PcfApiEndpoint": (
            "https://example.com/titan-demo/pcf"
        ),
        "ProductOrSectorSpecificCarbonFootprints[0].ExternalPcfApi.PcfApiQuery": "product=IPS001",
        "ProductOrSectorSpecificCarbonFootprints[0].PcfInformation.ArbitraryContent": "demo values",
    },
}


def repair(node: Any, *, in_list: bool = False) -> Any:
    """The node with the published files' rule breaks fixed (see NOTICE.md for the list)."""
    if isinstance(node, list):
        return [repair(item) for item in node]
    if not isinstance(node, dict):
        return node
    fixed: dict[str, Any] = {}
    for key, value in node.items():
        if key in _LANG_STRING_LISTS or (key == "value" and node.get("modelType") == "MultiLanguageProperty"):
            value = _unique_languages(value)
        child_in_list = node.get("modelType") == "SubmodelElementList" and key == "value"
        value = [repair(item, in_list=True) for item in value] if child_in_list else repair(value)
        if value in ("", [], None):
            continue  # optional fields: absent, not empty
        fixed[key] = value
    if in_list:
        fixed.pop("idShort", None)  # AASd-120: list items have no idShort
    elif "idShort" in fixed and not _ID_SHORT.fullmatch(fixed["idShort"]):
        fixed["idShort"] = re.sub(r"[^A-Za-z0-9_]+", "_", fixed["idShort"]).strip("_")  # "IEC CDD"
    if "qualifiers" in fixed:
        # AASd-129: template qualifiers (SMT/Cardinality) belong to templates; the demo is an instance.
        fixed["qualifiers"] = [q for q in fixed["qualifiers"] if q.get("kind") != "TemplateQualifier"]
        if not fixed["qualifiers"]:
            del fixed["qualifiers"]
    if fixed.get("modelType") == "DataSpecificationIec61360" and not _has_english(fixed.get("definition")):
        # AASc-3a-008: an IEC 61360 concept needs an English definition; the preferred name stands in.
        english = [name for name in fixed.get("preferredName", []) if name["language"].startswith("en")]
        fixed["definition"] = [*fixed.get("definition", []), *english[:1]]
    if "supplementalSemanticIds" in fixed and "semanticId" not in fixed:
        del fixed["supplementalSemanticIds"]  # AASd-118
    if fixed.get("modelType") == "SubmodelElementList" and fixed.get("typeValueListElement") in (
        "Property",
        "Range",
    ):
        item_types = {item.get("valueType") for item in fixed.get("value", [])} - {None}
        if "valueTypeListElement" not in fixed and len(item_types) == 1:
            fixed["valueTypeListElement"] = item_types.pop()  # AASd-109
    return fixed


def _has_english(strings: Any) -> bool:
    return any(string["language"].startswith("en") for string in strings or ())


def _unique_languages(strings: Any) -> Any:
    if not isinstance(strings, list):
        return strings
    seen: set[str] = set()
    kept = []
    for string in strings:
        text = str(string.get("text", "")).strip().strip('"')
        if string.get("language") in seen or not text:
            continue
        seen.add(string["language"])
        kept.append({**string, "text": text})
    return kept


def set_value(elements: list[dict[str, Any]], path: str, value: Any) -> None:
    """Set the `value` of the element at `path` (`A.B[0].C`); fails loudly on a wrong path."""
    node: dict[str, Any] = {"value": elements}
    for step in path.replace("[", ".[").split("."):
        children = node.get("value") or []
        if step.startswith("["):
            node = children[int(step[1:-1])]
        else:
            node = next(child for child in children if child.get("idShort") == step)
    node["value"] = value


def retarget_references(node: Any, old: str, new: str) -> Any:
    """Model references into the template's submodel point at the demo submodel instead."""
    if isinstance(node, list):
        return [retarget_references(item, old, new) for item in node]
    if isinstance(node, dict):
        if node.get("type") == "Submodel" and node.get("value") == old:
            return {**node, "value": new}
        return {key: retarget_references(value, old, new) for key, value in node.items()}
    return node


def build(source_dir: Path) -> dict[str, Any]:
    submodels: list[dict[str, Any]] = []
    concept_descriptions: dict[str, dict[str, Any]] = {}
    for name, demo_id in SOURCES:
        environment = json.loads((source_dir / name).read_text(encoding="utf-8"))
        submodel = environment["submodels"][0]
        for path, value in VALUES.get(demo_id, {}).items():
            set_value(submodel["submodelElements"], path, value)
        submodel = retarget_references(submodel, submodel["id"], demo_id)
        submodel = {**repair(submodel), "id": demo_id, "kind": "Instance"}
        submodels.append(submodel)
        for description in environment.get("conceptDescriptions") or ():
            concept_descriptions.setdefault(description["id"], repair(description))
    shell = {
        "modelType": "AssetAdministrationShell",
        "id": SHELL_ID,
        "idShort": "ProximitySwitchIPS001",
        "description": [
            {
                "language": "en",
                "text": "Titan-AAS demo twin: an inductive proximity switch, serial number 4711",
            },
            {"language": "de", "text": "Titan-AAS-Demo: ein induktiver Näherungsschalter, Seriennummer 4711"},
        ],
        "assetInformation": {
            "assetKind": "Instance",
            "globalAssetId": ASSET_ID,
            "specificAssetIds": [{"name": "serialNumber", "value": "4711"}],
        },
        "submodels": [
            {"type": "ModelReference", "keys": [{"type": "Submodel", "value": submodel["id"]}]}
            for submodel in submodels
        ],
    }
    return {
        "assetAdministrationShells": [shell],
        "submodels": submodels,
        "conceptDescriptions": list(concept_descriptions.values()),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    OUTPUT.write_text(json.dumps(build(Path(argv[0])), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
