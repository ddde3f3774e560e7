"""Safe import: hostile packages and XML are refused naming the file, the part and the rule; real ones are not."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from titan_core.exchange.aasx import read_aasx
from titan_core.exchange.limits import ImportLimits, PackageRefused
from titan_core.exchange.xml import read_xml_environment

from .packages import (
    BILLION_LAUGHS,
    ENVIRONMENT,
    XXE,
    build_zip,
    environment_xml,
    hostile_packages,
    package,
    package_entries,
)

HOSTILE = hostile_packages()
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_package_is_refused_naming_file_and_rule(name: str) -> None:
    data, rule = HOSTILE[name]
    with pytest.raises(PackageRefused) as refused:
        read_aasx(io.BytesIO(data), "upload.aasx")
    assert refused.value.rule == rule
    assert str(refused.value).startswith("upload.aasx: ")
    assert f"rule '{rule}'" in str(refused.value)


def test_a_refusal_names_the_part() -> None:
    with pytest.raises(PackageRefused) as refused:
        read_aasx(io.BytesIO(HOSTILE["zip bomb"][0]), "bomb.aasx")
    assert refused.value.part == "aasx/files/zeros.bin"
    assert "bomb.aasx: part aasx/files/zeros.bin: refused by rule 'max-compression-ratio'" in str(
        refused.value
    )


@pytest.mark.parametrize("document", [XXE, BILLION_LAUGHS], ids=["XXE", "billion laughs"])
def test_xml_with_a_dtd_is_refused_before_any_entity_is_defined(document: str) -> None:
    with pytest.raises(PackageRefused) as refused:
        read_xml_environment(io.BytesIO(document.encode()), "env.xml")
    assert refused.value.rule == "xml-no-dtd"


def test_xml_nested_beyond_the_limit_is_refused() -> None:
    level = "<submodelElementCollection><idShort>c</idShort><value>"
    deep = (
        '<environment xmlns="https://admin-shell.io/aas/3/0"><submodels><submodel><id>urn:x</id>'
        "<submodelElements>"
        + level * 120
        + "</value></submodelElementCollection>" * 120
        + "</submodelElements></submodel></submodels></environment>"
    )
    with pytest.raises(PackageRefused) as refused:
        read_xml_environment(io.BytesIO(deep.encode()), "deep.xml", limits=ImportLimits(max_xml_depth=200))
    assert refused.value.rule == "max-nesting"


def test_too_many_parts_are_refused() -> None:
    data = package(ENVIRONMENT, *[(f"aasx/files/{index}.txt", b"x") for index in range(10)])
    with pytest.raises(PackageRefused) as refused:
        read_aasx(io.BytesIO(data), "many.aasx", limits=ImportLimits(max_parts=8))
    assert refused.value.rule == "max-parts"


def test_more_uncompressed_bytes_than_allowed_are_refused() -> None:
    data = package(ENVIRONMENT, ("aasx/files/big.bin", os.urandom(4096)))
    with pytest.raises(PackageRefused) as refused:
        read_aasx(io.BytesIO(data), "big.aasx", limits=ImportLimits(max_uncompressed_bytes=2048))
    assert refused.value.rule == "max-uncompressed-size"


def test_a_real_100_mb_package_is_not_mistaken_for_a_bomb(tmp_path: Path) -> None:
    # Photos and PDFs barely compress: 100 MB of random bytes is the honest stand-in.
    path = tmp_path / "large.aasx"
    entries = [
        *package_entries(environment_xml(ENVIRONMENT)),
        ("aasx/files/scan.bin", os.urandom(100 * 1024 * 1024)),
    ]
    path.write_bytes(build_zip(entries, compression=zipfile.ZIP_STORED))
    content = read_aasx(str(path), str(path))
    assert len(content.parts["/aasx/files/scan.bin"].data) == 100 * 1024 * 1024


def test_highly_compressible_small_parts_are_accepted() -> None:
    # A 500 KB XML part of repeated text compresses ~1:300; below the ratio floor that is normal.
    data = package(ENVIRONMENT, ("aasx/files/log.txt", b"a" * 500_000))
    assert read_aasx(io.BytesIO(data), "small.aasx").parts["/aasx/files/log.txt"].data == b"a" * 500_000


@pytest.mark.slow  # starts `titan` as a process: not in `make test-fast`
@pytest.mark.parametrize("name", ["zip bomb", "path traversal", "duplicate parts", "XXE", "truncated zip"])
def test_titan_load_refuses_a_hostile_package_and_stores_nothing(name: str, tmp_path: Path) -> None:
    data, rule = HOSTILE[name]
    path = tmp_path / "hostile.aasx"
    path.write_bytes(data)
    good = tmp_path / "good.aasx"
    good.write_bytes(package(ENVIRONMENT))
    database = tmp_path / "titan.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "titan_core",
            "load",
            "--database-url",
            f"sqlite+aiosqlite:///{database}",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout
    assert f"titan load: {path}: refused:" in result.stderr and f"rule '{rule}'" in result.stderr
    assert result.stderr.count(str(path)) == 1, result.stderr  # the path is not printed twice
    assert "Traceback" not in result.stderr
    assert "0 created, 0 updated, 0 unchanged, 1 refused" in result.stdout
