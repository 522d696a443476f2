#!/usr/bin/env bash
# Installs (when missing) and starts mastodon-mock, a third-party Mastodon API server (PyPI,
# pinned), on loopback for the Mastodon tests: http://127.0.0.1:3000, in-memory database (every
# start is a fresh instance), seeded account @testuser with the access token "mock_token", fault
# injection at /api/v1/_mock/faults. It lives in a virtualenv under .run/mastodon/venv; its pid
# and log files live under .run/mastodon.
# Usage: scripts/mastodon-mock.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/service.sh
. scripts/service.sh
LABEL="mastodon-mock"
RUN="$PWD/.run/mastodon"
VENV="$RUN/venv"
PIDFILE="$RUN/mastodon-mock.pid"
LOG="$RUN/mastodon-mock.log"
URL="http://127.0.0.1:3000"
MOCK_VERSION="0.6.1"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

installed() {
  [ -x "$VENV/bin/mastodon_mock" ] &&
    "$VENV/bin/python" -c 'import sys, importlib.metadata as m; sys.exit(m.version("mastodon-mock") != sys.argv[1])' "$MOCK_VERSION" 2>/dev/null
}

install() {
  if installed; then return; fi
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "== installing python3-venv"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  echo "== installing mastodon-mock $MOCK_VERSION into $VENV"
  mkdir -p "$RUN"
  # A venv left half-made by an interrupted run is made again.
  [ -x "$VENV/bin/pip" ] || { rm -rf "$VENV"; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "mastodon-mock==$MOCK_VERSION"
  installed || { echo "mastodon-mock $MOCK_VERSION did not install into $VENV" >&2; exit 1; }
}

# The pid in the pid file, if that process is still our mock.
healthy() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$URL/health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 and r.read().strip() == b"OK" else 1)
PY
}

port_taken() { (exec 3<>/dev/tcp/127.0.0.1/3000) 2>/dev/null; }

wait_healthy() {
  for _ in $(seq 1 150); do
    healthy && return 0
    pid >/dev/null || break
    sleep 0.2
  done
  healthy && return 0
  if pid >/dev/null; then
    echo "mastodon-mock did not answer OK on $URL/health within 30 s." >&2
  else
    echo "mastodon-mock exited while starting." >&2
  fi
  echo "--- last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2 2>/dev/null || true
  exit 1
}

start() {
  install
  if pid >/dev/null; then
    wait_healthy
    echo "== mastodon-mock already up: $URL"
    return
  fi
  if port_taken; then
    echo "127.0.0.1:3000 is taken by a process that is not this checkout's mastodon-mock ($PIDFILE)" >&2
    exit 1
  fi
  # Own session, so a ^C in the terminal that ran the tests does not stop it; the shell writes
  # the pid, then becomes the server.
  # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    "$VENV/bin/mastodon_mock" serve --in-memory --host 127.0.0.1 --port 3000 \
    > "$LOG" 2>&1 < /dev/null &
  # The pid file is written by the child: wait for it before asking whether it runs.
  for _ in $(seq 1 50); do [ -s "$PIDFILE" ] && break; sleep 0.1; done
  wait_healthy
  echo "== mastodon-mock $MOCK_VERSION up: $URL (token mock_token)"
}

CMDLINE_MARK="mastodon_mock serve"
run_command "$@"
