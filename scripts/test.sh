#!/usr/bin/env bash
# Installs and starts every server the tests need, then runs the whole test suite.
# Usage: scripts/test.sh            (from anywhere; needs root or sudo for apt-get)
# Servers: PostgreSQL on 127.0.0.1:5432 (the store suite runs against it and SQLite), a
# private Postfix → Dovecot pair on 127.0.0.1 (scripts/mail-servers.sh) for the mail tests, a
# private Synapse homeserver on 127.0.0.1:8008 (scripts/synapse.sh) for the Matrix tests,
# mastodon-mock on 127.0.0.1:3000 (scripts/mastodon-mock.sh) for the Mastodon tests, the X
# API fixture on 127.0.0.1:3100 (scripts/x-fixture.sh; it verifies OAuth 1.0a signatures with
# oauthlib) for the X connector's tests, and a private Bluesky PDS with an in-memory PLC on
# 127.0.0.1:2583 (scripts/bluesky-pds.sh) for the Bluesky tests.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

start_postgres() {
  if pg_ready; then return; fi
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "== installing PostgreSQL"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
  echo "== starting PostgreSQL"
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$version" ]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 50); do pg_ready && break; sleep 0.2; done
  pg_ready || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
  # Local tests connect as postgres without a password.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    echo "cannot connect to PostgreSQL as postgres on 127.0.0.1 (trust auth expected)" >&2
    exit 1
  fi
}

if ! command -v cargo >/dev/null; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi

start_postgres
./scripts/mail-servers.sh start
./scripts/synapse.sh start
./scripts/mastodon-mock.sh start
./scripts/x-fixture.sh start
./scripts/bluesky-pds.sh start
# Matrix tests: the homeserver (server name "localhost") and its config, whose
# registration_shared_secret lets a test create users (or: scripts/synapse.sh register NAME PASS).
export PASSERELLE_TEST_SYNAPSE=http://127.0.0.1:8008
export PASSERELLE_TEST_SYNAPSE_CONFIG="$PWD/.run/synapse/homeserver.yaml"
# Mastodon tests: mastodon-mock (in memory, seeded token mock_token).
export PASSERELLE_TEST_MASTODON=http://127.0.0.1:3000
export PASSERELLE_TEST_X=http://127.0.0.1:3100
# Bluesky tests: the PDS; each test makes its own *.test accounts.
export PASSERELLE_TEST_BLUESKY=http://127.0.0.1:2583
export PASSERELLE_TEST_POSTGRES="${PASSERELLE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
unset DATABASE_URL

echo "== cargo test"
cargo test --locked --lib --bins --tests
