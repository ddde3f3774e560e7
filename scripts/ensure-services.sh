#!/usr/bin/env bash
# Make sure everything the test suite talks to is there before pytest starts:
#   1. the OS packages it needs (installed with apt-get when we are root, as CI is);
#   2. PostgreSQL (127.0.0.1:5432, database `test`), Redis (127.0.0.1:6379) and Mosquitto
#      (127.0.0.1:1883) answering; any that is down is started with the machine's own command.
# Why: tests never mock these services, so a missing one must be fixed here, or reported in one
# clear line, rather than surface as a hundred connection errors.
# A service whose TITAN_TEST_POSTGRES / TITAN_TEST_REDIS / TITAN_TEST_MQTT is set is left alone:
# whoever points the suite at another server runs that server.
set -euo pipefail

WAIT_SECONDS="${TITAN_SERVICE_WAIT_SECONDS:-60}"
HOST=127.0.0.1

# Debian packages the suite needs. The services' own packages are listed because the tests also
# start throwaway instances of them (initdb, redis-server, mosquitto). Add more here when tests
# need them (e.g. chromium for browser tests, wrk for load tests).
OS_PACKAGES=(
  postgresql
  redis-server
  mosquitto
  mosquitto-clients
  # The WebSocket console's browser test drives Debian's Chromium (never a downloaded one).
  chromium
  # The REST benchmark's load generator (bench/, not the tests; cheap to have).
  wrk
)

say() { echo "ensure-services: $*"; }
fail() {
  echo "ensure-services: ERROR: $*" >&2
  exit 1
}
is_root() { [[ "$(id -u)" -eq 0 ]]; }

ensure_os_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "no dpkg here; not checking OS packages (${OS_PACKAGES[*]})"
    return 0
  fi
  local missing=() package
  for package in "${OS_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)" != "installed" ]]; then
      missing+=("$package")
    fi
  done
  # Node.js and npm (the AsyncAPI parser in tools/asyncapi, installed by scripts/bootstrap.sh) are
  # checked by command, not by package: a Node.js from NodeSource bundles npm in its `nodejs`
  # package, and Debian's `npm` package would conflict with it.
  if ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
  fi
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  if ! is_root; then
    fail "missing OS packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
  fi
  say "installing OS packages: ${missing[*]}"
  # One update per run, only when something is missing: it is the slow part.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

port_open() {
  # bash's /dev/tcp; `timeout` because a filtered port would otherwise hang the connect.
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

postgres_ready() {
  pg_isready -q -h "$HOST" -p 5432 -U postgres -d postgres
}
redis_ready() {
  [[ "$(redis-cli -h "$HOST" -p 6379 ping 2>/dev/null)" == "PONG" ]]
}
mosquitto_ready() {
  # A real MQTT exchange, not just an open port: a null message to a topic nobody reads.
  mosquitto_pub -h "$HOST" -p 1883 -t titan/ensure-services -n -q 0 >/dev/null 2>&1
}

start_postgres() {
  local version
  # Version directories are plain numbers (15, 16), so ls is safe here.
  # shellcheck disable=SC2012
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  [[ -n "$version" ]] || fail "no cluster configuration under /etc/postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
}
start_redis() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}
start_mosquitto() {
  # /run is a tmpfs: after a reboot the pid file's directory may be gone.
  mkdir -p /run/mosquitto
  chown mosquitto: /run/mosquitto 2>/dev/null || true
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
}

# ensure_service NAME PORT OVERRIDE_VARIABLE LOG_HINT: NAME_ready / start_NAME are the functions above.
ensure_service() {
  local name="$1" port="$2" override="$3" log_hint="$4"
  if [[ -n "${!override:-}" ]]; then
    say "$name: $override is set; leaving that server to you"
    return 0
  fi
  if "${name}_ready"; then
    say "$name: answering on $HOST:$port"
    return 0
  fi
  if ! port_open "$port"; then
    is_root || fail "$name is not running on $HOST:$port and only root may start it here; start it, or set $override"
    say "$name: not running; starting it"
    "start_${name}" || fail "$name did not start; see $log_hint"
  fi
  local tries=$((WAIT_SECONDS * 5))
  while ((tries-- > 0)); do
    if "${name}_ready"; then
      say "$name: answering on $HOST:$port"
      return 0
    fi
    sleep 0.2
  done
  fail "$name does not answer on $HOST:$port after ${WAIT_SECONDS}s; see $log_hint"
}

ensure_test_database() {
  [[ -z "${TITAN_TEST_POSTGRES:-}" ]] || return 0
  # The suite's maintenance database; a fresh server may only have `postgres`.
  if ! psql -h "$HOST" -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
    say "postgres: creating database test"
    psql -h "$HOST" -U postgres -d postgres -qc 'CREATE DATABASE test' ||
      fail "cannot create database test as user postgres (trust auth on $HOST:5432 expected)"
  fi
}

ensure_os_packages
ensure_service postgres 5432 TITAN_TEST_POSTGRES "/var/log/postgresql/"
ensure_test_database
ensure_service redis 6379 TITAN_TEST_REDIS "/var/log/redis/ci.log"
ensure_service mosquitto 1883 TITAN_TEST_MQTT "/var/log/mosquitto/mosquitto.log"
