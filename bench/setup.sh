#!/usr/bin/env bash
# Installs what the benchmarks need beyond Titan's own venv: wrk (Debian) and the BaSyx comparison venv.
# Idempotent; run as root (apt-get). Usage: bash bench/setup.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v wrk >/dev/null; then
    apt-get update
    apt-get install -y wrk
fi
if [ ! -x "$here/.venv-basyx/bin/python" ]; then
    python3.11 -m venv "$here/.venv-basyx"
fi
"$here/.venv-basyx/bin/pip" install --quiet -r "$here/requirements-basyx.txt"
echo "wrk: $(command -v wrk); basyx venv: $here/.venv-basyx"
