"""Where the test data lives (`tests/data/`, shipped with the repository) and how tests list it.

Tests never read data from outside the repository. Listing a data set that turns out empty (or
smaller than the test expects) raises at collection, so a parametrised test fails loudly instead
of quietly collecting zero cases.
"""

from __future__ import annotations

from pathlib import Path

TEST_DATA = Path(__file__).resolve().parent.parent / "data"

# Published IDTA submodel templates, CC BY 4.0 (tests/data/idta/NOTICE.md).
IDTA_DIR = TEST_DATA / "idta"
# A sample of the aas-core3.0-testgen corpus, MIT (tests/data/aas-core-testgen-sample/NOTICE.md).
TESTGEN_DIR = TEST_DATA / "aas-core-testgen-sample" / "ContainedInEnvironment"


class MissingTestData(LookupError):
    """A data set the tests are parametrised over is missing or smaller than expected."""


def data_files(
    directory: Path, pattern: str = "*.json", *, recursive: bool = False, at_least: int = 1
) -> list[Path]:
    """The files in `directory` matching `pattern`, sorted; raises if there are fewer than `at_least`.

    `recursive=True` searches subdirectories too (`rglob`).
    """
    found = sorted(directory.rglob(pattern) if recursive else directory.glob(pattern))
    if len(found) < at_least:
        raise MissingTestData(
            f"expected at least {at_least} files matching {pattern!r} in {directory}, found {len(found)}; "
            "the test data ships in tests/data/ (see the NOTICE.md there)"
        )
    return found


def data_file(directory: Path, name: str) -> Path:
    """One named data file; raises if it is not there."""
    path = directory / name
    if not path.is_file():
        raise MissingTestData(f"test data file {path} is missing; the test data ships in tests/data/")
    return path
