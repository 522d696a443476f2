#!/usr/bin/env bash
# Installs (when missing), configures and starts a private Synapse homeserver on loopback for the
# Matrix tests: client API on http://127.0.0.1:8008 (no TLS, no federation), server name
# "localhost", SQLite, registration closed except through the shared secret, every rate limit
# raised so a bot under test is never answered 429. Synapse lives in a virtualenv under
# .run/synapse/venv (pip, pinned version); config, database, media, logs and pid file all live
# under .run/synapse; nothing of the system's own config is used.
# Usage: scripts/synapse.sh start|stop|status
#        scripts/synapse.sh register NAME PASSWORD [--admin]   (succeeds if NAME already exists)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/service.sh
. scripts/service.sh
LABEL="Synapse"
CMDLINE_MARK="synapse.app.homeserver"
RUN="$PWD/.run/synapse"
VENV="$RUN/venv"
CONFIG="$RUN/homeserver.yaml"
PIDFILE="$RUN/homeserver.pid"
LOG="$RUN/homeserver.log"
URL="http://127.0.0.1:8008"
SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

installed() {
  [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c 'import sys, importlib.metadata as m, synapse; sys.exit(m.version("matrix-synapse") != sys.argv[1])' "$SYNAPSE_VERSION" 2>/dev/null
}

install() {
  if installed; then return; fi
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "== installing python3-venv"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  echo "== installing Synapse $SYNAPSE_VERSION into $VENV"
  mkdir -p "$RUN"
  # A venv left half-made by an interrupted run is made again.
  [ -x "$VENV/bin/pip" ] || { rm -rf "$VENV"; python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
  installed || { echo "Synapse $SYNAPSE_VERSION did not install into $VENV" >&2; exit 1; }
}

# The pid in the pid file, if that process is still our homeserver.
healthy() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" - "$URL/health" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 and r.read().strip() == b"OK" else 1)
PY
}

port_taken() { (exec 3<>/dev/tcp/127.0.0.1/8008) 2>/dev/null; }

configure() {
  if [ ! -f "$CONFIG" ]; then
    echo "== generating $CONFIG"
    (cd "$RUN" && "$VENV/bin/python" -m synapse.app.homeserver --server-name localhost \
      --config-path "$CONFIG" --data-directory "$RUN" --generate-config --report-stats=no >/dev/null)
    rm -f "$RUN/localhost.log.config" # replaced by log.config below
  fi
  cat > "$RUN/log.config" <<CONF
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: $LOG
    encoding: utf8
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
CONF
  # The generated file keeps its secrets (signing key, macaroon, registration shared secret);
  # everything else the tests depend on is (re)written here on every start.
  "$VENV/bin/python" - "$CONFIG" "$RUN" <<'PY'
import os, sys, yaml
path, run = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = yaml.safe_load(f)
if not c.get("registration_shared_secret"):
    sys.exit(f"{path} has no registration_shared_secret; delete it to have it generated again")
def high():  # a fresh dict each time, so the yaml has no anchors
    return {"per_second": 10000, "burst_count": 100000}
c.update({
    "server_name": "localhost",
    "pid_file": f"{run}/homeserver.pid",
    "listeners": [{
        "port": 8008, "tls": False, "type": "http", "x_forwarded": False,
        "bind_addresses": ["127.0.0.1"],
        "resources": [{"names": ["client"], "compress": False}],
    }],
    "database": {"name": "sqlite3", "args": {"database": f"{run}/homeserver.db"}},
    "media_store_path": f"{run}/media_store",
    "log_config": f"{run}/log.config",
    "signing_key_path": f"{run}/localhost.signing.key",
    "report_stats": False,
    "trusted_key_servers": [],
    "suppress_key_server_warning": True,
    "presence": {"enabled": False},
    "enable_registration": False,
    "default_room_version": "11",
    # Rate limits: every one Synapse knows (synapse/config/ratelimiting.py), raised.
    "rc_message": high(),
    "rc_registration": high(),
    "rc_registration_token_validity": high(),
    "rc_login": {"address": high(), "account": high(), "failed_attempts": high()},
    "rc_admin_redaction": high(),
    "rc_joins": {"local": high(), "remote": high()},
    "rc_joins_per_room": high(),
    "rc_key_requests": high(),
    "rc_3pid_validation": high(),
    "rc_invites": {"per_room": high(), "per_user": high(), "per_issuer": high()},
    "rc_third_party_invite": high(),
    "rc_media_create": high(),
    "rc_presence": {"per_user": high()},
    "rc_delayed_event_mgmt": high(),
    "rc_room_creation": high(),
    "rc_reports": high(),
    "rc_user_directory": high(),
    "rc_profile": high(),
    "rc_federation": {"window_size": 1000, "sleep_limit": 100000, "sleep_delay": 1,
                      "reject_limit": 100000, "concurrent": 1000},
    "federation_rr_transactions_per_room_per_second": 10000,
    "remote_media_download_per_second": "1G",
    "remote_media_download_burst_count": "10G",
})
with open(path + ".new", "w") as f:
    yaml.safe_dump(c, f, sort_keys=False)
os.replace(path + ".new", path)
PY
}

wait_healthy() {
  for _ in $(seq 1 150); do
    healthy && return 0
    # Gone for good once the pid file is written and its process has exited.
    if [ -s "$PIDFILE" ] && ! pid >/dev/null; then break; fi
    sleep 0.2
  done
  healthy && return 0
  if pid >/dev/null; then
    echo "Synapse did not answer OK on $URL/health within 30 s." >&2
  else
    echo "Synapse exited while starting." >&2
  fi
  echo "--- last lines of $LOG:" >&2
  tail -n 20 "$LOG" >&2 2>/dev/null || true
  echo "--- $RUN/console.log (stdout and stderr of this start):" >&2
  tail -n 30 "$RUN/console.log" >&2 2>/dev/null || true
  exit 1
}

start() {
  install
  if pid >/dev/null; then
    wait_healthy
    echo "== Synapse already up: $URL"
    return
  fi
  if port_taken; then
    echo "127.0.0.1:8008 is taken by a process that is not this checkout's Synapse ($PIDFILE)" >&2
    exit 1
  fi
  configure
  rm -f "$PIDFILE"
  # Own session, so a ^C in the terminal that ran the tests does not stop it; the shell writes
  # the pid, then becomes the homeserver.
  # shellcheck disable=SC2016 # $$, $0 and $@ are the inner shell's
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PIDFILE" \
    "$VENV/bin/python" -m synapse.app.homeserver --config-path "$CONFIG" \
    > "$RUN/console.log" 2>&1 < /dev/null &
  wait_healthy
  echo "== Synapse $SYNAPSE_VERSION up: $URL (server name localhost, config $CONFIG)"
}

register() {
  [ $# -ge 2 ] || { echo "usage: $0 register NAME PASSWORD [--admin]" >&2; exit 2; }
  local name=$1 password=$2 admin=--no-admin out
  case "${3:-}" in
    --admin) admin=--admin ;;
    "") ;;
    *) echo "usage: $0 register NAME PASSWORD [--admin]" >&2; exit 2 ;;
  esac
  healthy || { echo "Synapse is not running at $URL; run $0 start" >&2; exit 1; }
  # --exists-ok: an existing account is left as it is (password and admin flag unchanged).
  if ! out=$("$VENV/bin/register_new_matrix_user" -c "$CONFIG" -u "$name" -p "$password" "$admin" --exists-ok "$URL" 2>&1); then
    echo "registering $name failed:" >&2
    echo "$out" >&2
    exit 1
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  register) shift; register "$@" ;;
  *) echo "usage: $0 start|stop|status|register NAME PASSWORD [--admin]" >&2; exit 2 ;;
esac
