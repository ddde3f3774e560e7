"""A throwaway Titan for a benchmark: fresh SQLite database in a temp dir, files loaded with `titan load`,
`titan serve` on a free port; plus the URL forms the benchmarks request (base64url ids, idShortPaths)."""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from procs import ManagedServer, free_port, run_checked

# The IDTA files ship with the tests (tests/data/idta, CC BY 4.0); TITAN_BENCH_DATA points elsewhere.
IDTA_DATA = Path(
    os.environ.get("TITAN_BENCH_DATA", Path(__file__).resolve().parents[1] / "tests" / "data" / "idta")
)
NAMEPLATE_FILE = IDTA_DATA / "IDTA_02006-3-0_Template_Digital_Nameplate.json"
HANDOVER_FILE = IDTA_DATA / "IDTA_02004-2-0_Example_HandoverDocumentation.json"
NAMEPLATE_ID = "https://admin-shell.io/idta/SubmodelTemplate/DigitalNameplate/3/0"
HANDOVER_ID = "https://admin-shell.io/idta/SubmodelTemplate/HandoverDocumentation/2/0"
# Properties (xs:string) whose $value the write benchmark PATCHes.
NAMEPLATE_PROPERTY = "SerialNumber"
HANDOVER_PROPERTY = "Documents[0].DocumentVersions[0].StatusValue"


def encode_id(identifier: str) -> str:
    """Unpadded base64url of the UTF-8 identifier, as Part 2 paths carry it."""
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def submodel_url(base: str, submodel_id: str) -> str:
    return f"{base}/submodels/{encode_id(submodel_id)}"


def submodel_value_url(base: str, submodel_id: str) -> str:
    return f"{submodel_url(base, submodel_id)}/$value"


def element_value_url(base: str, submodel_id: str, id_short_path: str) -> str:
    # '[' and ']' are not allowed raw in a URL path; the server decodes the percent-escapes.
    quoted = urllib.parse.quote(id_short_path, safe=".")
    return f"{submodel_url(base, submodel_id)}/submodel-elements/{quoted}/$value"


def submodel_bytes_like_titan(path: Path, index: int = 0) -> bytes:
    """The compact JSON of a file's submodel as aas-core3.0 writes it: the ceiling's payload when no
    Titan runs (when it does, the benchmark serves the bytes Titan itself answered with)."""
    from aas_core3 import jsonization

    document = json.loads(path.read_text(encoding="utf-8"))
    submodel = jsonization.submodel_from_jsonable(document["submodels"][index])
    return json.dumps(jsonization.to_jsonable(submodel), separators=(",", ":"), ensure_ascii=False).encode()


class TitanInstance:
    """Titan on SQLite in its own temp dir. `load()` before `start()`; `stop()` keeps the database."""

    def __init__(
        self, python: str = sys.executable, workdir: Path | None = None, log_name: str = "titan"
    ) -> None:
        self.python = python
        self._tempdir = tempfile.TemporaryDirectory(prefix="titan-bench-") if workdir is None else None
        self.workdir = workdir or Path(self._tempdir.name)  # type: ignore[union-attr]
        self.database_url = f"sqlite+aiosqlite:///{self.workdir / 'titan.sqlite3'}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / f"{log_name}.log"
        self.server: ManagedServer | None = None

    def _env(self) -> dict[str, str]:
        return dict(os.environ, TITAN_DATABASE_URL=self.database_url)

    def load(self, files: Sequence[Path], *, lenient: bool = True) -> float:
        """`titan load` the files in one process; returns the seconds it took (start-up included)."""
        command = [self.python, "-m", "titan_core", "load", *(["--lenient"] if lenient else [])]
        command += [str(path) for path in files]
        started = time.perf_counter()
        output = run_checked(command, env=self._env())
        seconds = time.perf_counter() - started
        with (self.workdir / "load.log").open("a") as log:
            log.write(f"$ {' '.join(command)}\n{output}\n")
        return seconds

    def start(self) -> ManagedServer:
        command = [
            self.python,
            "-m",
            "titan_core",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database-url",
            self.database_url,
        ]
        self.server = ManagedServer(
            name="titan",
            command=command,
            ready_url=f"{self.base_url}/submodels?limit=1",
            log_path=self.log_path,
            env=self._env(),
        ).start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def cleanup(self) -> None:
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def __enter__(self) -> TitanInstance:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
