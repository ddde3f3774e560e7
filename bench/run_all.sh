#!/usr/bin/env bash
# Every benchmark, one after the other: the REST run (ceiling, Titan, BaSyx) and the scale run.
# Results: bench/results/*.json, tables on stdout. Usage: bash bench/run_all.sh [PYTHON]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-$here/../.venv/bin/python}"
bash "$here/setup.sh"
"$python" "$here/run_rest.py"
"$python" "$here/scale.py"
