#!/usr/bin/env bash
# Create or refresh the project venv (.venv at the repository root) with the core and every
# first-party plugin that exists, all editable, with their test extras.
#
# Why a fingerprint instead of make's timestamps: a plugin directory that appears (or vanishes)
# must trigger a reinstall, and git does not keep file times. The fingerprint covers every
# pyproject.toml that is installed, this script and the Python version; when it matches the
# stamp, nothing is installed and the script returns in well under a second.
set -euo pipefail

cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
STAMP="$VENV/.titan-install-stamp"
INSTALLED="$VENV/.titan-installed-projects"

# The distributions to install: the core first, then each first-party plugin directory with a
# pyproject.toml, then the third-party examples (examples/*/: not shipped, but their tests run in
# `make test`). New plugins are picked up here, so the Makefile never needs an edit for them.
projects=(.)
for dir in titan_plugin_ws titan_plugin_mqtt plugins/*/ examples/*/; do
  dir="${dir%/}"
  if [[ -f "$dir/pyproject.toml" ]]; then
    projects+=("./$dir")
  fi
done

fingerprint() {
  {
    "$VENV/bin/python" --version 2>&1
    for project in "${projects[@]}"; do
      echo "== $project"
      cat "$project/pyproject.toml"
    done
    cat "$0"
  } | sha256sum | cut -d' ' -f1
}

# A venv whose interpreter no longer runs (Python upgraded or moved) is rebuilt, not patched.
if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "bootstrap: $VENV is broken; recreating it"
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "bootstrap: creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi

# The AsyncAPI parser the test suite checks docs/asyncapi*.yaml with (tools/asyncapi, Node.js):
# `npm ci` from its lock file, again only when the lock file changes. Without npm, Python work
# still goes on; tests/test_asyncapi_documents.py then fails and says how to get it.
install_asyncapi_parser() {
  local tool=tools/asyncapi stamp=tools/asyncapi/node_modules/.titan-lock-sha256 lock
  lock="$(sha256sum "$tool/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "bootstrap: npm not found; the AsyncAPI document tests need Node.js >= 18 and npm" >&2
    return 0
  fi
  echo "bootstrap: installing the AsyncAPI parser into $tool/node_modules (npm ci)"
  (cd "$tool" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  echo "$lock" >"$stamp"
}
install_asyncapi_parser

wanted="$(fingerprint)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted" ]]; then
  echo "bootstrap: $VENV is up to date (${projects[*]})"
  exit 0
fi

# Install with the `test` extra where a project declares one (asking for a missing extra only
# makes pip warn, which would hide a typo in a real one). Also note each distribution's name.
requirements=()
names=()
for project in "${projects[@]}"; do
  read -r name has_test < <("$VENV/bin/python" - "$project/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as handle:
    meta = tomllib.load(handle).get("project", {})
print(meta.get("name", "?"), "test" in meta.get("optional-dependencies", {}))
PY
  )
  if [[ -z "${name:-}" ]]; then
    echo "bootstrap: cannot read $project/pyproject.toml" >&2
    exit 1
  fi
  names+=("$name")
  if [[ "$has_test" == "True" ]]; then
    requirements+=(-e "${project}[test]")
  else
    requirements+=(-e "$project")
  fi
done

# pip's editable builds leave <name>.egg-info beside the sources, and those folders are on sys.path:
# after a distribution is renamed (titan-core became titan-aas) the old one still announces the same
# entry points, and every plugin then fails as "already taken". pip writes them anew on install.
find . -maxdepth 4 -name '*.egg-info' -type d -not -path "./$VENV/*" -prune -exec rm -rf {} +

# A plugin directory that was removed or renamed must not stay installed: its entry point would
# still load, and local runs would differ from CI's fresh venv.
if [[ -f "$INSTALLED" ]]; then
  gone=()
  while read -r old; do
    [[ -z "$old" || " ${names[*]} " == *" $old "* ]] || gone+=("$old")
  done <"$INSTALLED"
  if [[ ${#gone[@]} -gt 0 ]]; then
    echo "bootstrap: uninstalling projects that are gone: ${gone[*]}"
    "$VENV/bin/python" -m pip uninstall --yes --quiet "${gone[@]}"
  fi
fi

echo "bootstrap: installing ${projects[*]} into $VENV"
# One pip call, so the resolver sees every project's requirements together.
"$VENV/bin/python" -m pip install --no-input --progress-bar off "${requirements[@]}"

# Written last: an interrupted install leaves no stamp and is redone next time.
printf '%s\n' "${names[@]}" >"$INSTALLED"
echo "$wanted" >"$STAMP"
echo "bootstrap: done"
