# Shared by the scripts that run a test server in the background (synapse.sh, mastodon-mock.sh,
# x-fixture.sh, bluesky-pds.sh): the pid file, stop, status and the command line. The script
# that sources it sets LABEL (for messages), PIDFILE, URL, CMDLINE_MARK (a piece of the
# server's command line, so a recycled pid is never taken for it) and defines healthy and start.

# The server's pid, when the pid file names a live process that is this server.
pid() {
  local p
  [ -f "$PIDFILE" ] || return 1
  p=$(cat "$PIDFILE")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF "$CMDLINE_MARK" || return 1
  echo "$p"
}

# Asks the server to stop, waits up to 10 s, then kills it.
stop() {
  local p
  p=$(pid) || { rm -f "$PIDFILE"; return 0; }
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
  rm -f "$PIDFILE"
}

status() {
  local p
  if p=$(pid); then
    if healthy; then echo "$LABEL running (pid $p), healthy at $URL"; else echo "$LABEL running (pid $p), not healthy at $URL"; fi
  else
    echo "$LABEL not running"
    return 3
  fi
}

# start (the default), stop or status, from the script's first argument.
run_command() {
  case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
}
