#!/usr/bin/env bash
# Starts the X API fixture for the X connector's tests: scripts/x-fixture/server.py on
# http://127.0.0.1:3100, an in-memory stand-in for the X API v2 endpoints the connector calls that
# verifies each request's OAuth 1.0a signature with oauthlib (PyPI, pinned version, in a
# virtualenv under .run/x-fixture/venv). Log and pid file live under .run/x-fixture. It knows one
# set of keys: its defaults (the ones tests/x.rs uses), or X_FIXTURE_CONSUMER_KEY,
# X_FIXTURE_CONSUMER_SECRET, X_FIXTURE_ACCESS_TOKEN, X_FIXTURE_ACCESS_SECRET.
# Usage: scripts/x-fixture.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/service.sh
. scripts/service.sh
LABEL="X fixture"
RUN="$PWD/.run/x-fixture"
VENV="$RUN/venv"
PIDFILE="$RUN/server.pid"
LOG="$RUN/server.log"
SERVER="$PWD/scripts/x-fixture/server.py"
PORT=3100
URL="http://127.0.0.1:$PORT"
OAUTHLIB_VERSION="${OAUTHLIB_VERSION:-4.0.1}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

installed() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c 'import sys, importlib.metadata as m, oauthlib; sys.exit(m.version("oauthlib") != sys.argv[1])' "$OAUTHLIB_VERSION" 2>/dev/null
}

install() {
  if installed; then return; fi
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "== installing python3-venv"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  echo "== installing oauthlib $OAUTHLIB_VERSION into $VENV"
  mkdir -p "$RUN"
  # A venv left half-made by an interrupted run is made again.
  [ -x "$VENV/bin/pip" ] || { rm -rf "$VENV"; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "oauthlib==$OAUTHLIB_VERSION"
  installed || { echo "oauthlib $OAUTHLIB_VERSION did not install into $VENV" >&2; exit 1; }
}

# The pid in the pid file, if that process is still this checkout's fixture.
healthy() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$URL/_fixture/health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start() {
  install
  if pid >/dev/null; then
    echo "== X fixture already up: $URL"
    return
  fi
  if port_taken; then
    echo "127.0.0.1:$PORT is taken by a process that is not this checkout's X fixture ($PIDFILE)" >&2
    exit 1
  fi
  mkdir -p "$RUN"
  rm -f "$PIDFILE"
  # Own session, so a ^C in the terminal that ran the tests does not stop it.
  # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    "$VENV/bin/python" "$SERVER" --host 127.0.0.1 --port "$PORT" \
    >> "$LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do
    healthy && break
    if [ -s "$PIDFILE" ] && ! pid >/dev/null; then break; fi
    sleep 0.1
  done
  if ! healthy; then
    echo "The X fixture did not start; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    exit 1
  fi
  echo "== X fixture up: $URL (oauthlib $OAUTHLIB_VERSION, log $LOG)"
}

CMDLINE_MARK="$SERVER"
run_command "$@"
