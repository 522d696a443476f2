#!/usr/bin/env bash
# Installs (when missing), configures and starts a private Postfix → Dovecot pair on loopback
# for the mail tests: SMTP on 127.0.0.1:2525 (no auth from 127.0.0.0/8), LMTP on 2424, IMAP on
# 1143 (plain, password login). Mailboxes (password "secret"): bot, intake, alice, bob and carol, all
# @example.test. Everything lives under .run/mail; nothing of the system's own config is used.
# Usage: scripts/mail-servers.sh start|stop
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="$PWD/.run/mail"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install() {
  if command -v postfix >/dev/null && command -v dovecot >/dev/null && [ -e /usr/lib/dovecot/lmtp ]; then return; fi
  echo "== installing Postfix and Dovecot"
  as_root apt-get update -qq
  echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-lmtpd postfix >/dev/null
}

stop() {
  [ -f "$RUN/dovecot.conf" ] && as_root doveadm -c "$RUN/dovecot.conf" stop 2>/dev/null || true
  [ -d "$RUN/postfix" ] && as_root script -qc "postfix -c $RUN/postfix stop" /dev/null >/dev/null 2>&1 || true
}

start() {
  install
  stop
  id vmail >/dev/null 2>&1 || as_root useradd --system --no-create-home --shell /usr/sbin/nologin vmail
  local uid gid
  uid=$(id -u vmail); gid=$(id -g vmail)
  as_root rm -rf "$RUN"
  mkdir -p "$RUN/home/bot" "$RUN/home/intake" "$RUN/home/alice" "$RUN/home/bob" "$RUN/home/carol" "$RUN/home/dana" "$RUN/dovecot-run" "$RUN/postfix" "$RUN/postfix-queue" "$RUN/postfix-data"
  as_root chown -R vmail:vmail "$RUN/home"
  cat > "$RUN/users" <<USERS
bot@example.test:{PLAIN}secret:$uid:$gid::$RUN/home/bot
intake@example.test:{PLAIN}secret:$uid:$gid::$RUN/home/intake
alice@example.test:{PLAIN}secret:$uid:$gid::$RUN/home/alice
bob@example.test:{PLAIN}secret:$uid:$gid::$RUN/home/bob
carol@example.test:{PLAIN}secret:$uid:$gid::$RUN/home/carol
dana@example.test:{PLAIN}secret:$uid:$gid::$RUN/home/dana
USERS
  cat > "$RUN/dovecot.conf" <<CONF
base_dir = $RUN/dovecot-run
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = $uid
last_valid_uid = $uid
log_path = $RUN/dovecot.log
passdb {
  driver = passwd-file
  args = $RUN/users
}
userdb {
  driver = passwd-file
  args = $RUN/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 1143
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = 2424
  }
}
protocol lmtp {
  postmaster_address = postmaster@example.test
}
CONF
  cp /etc/postfix/master.cf "$RUN/postfix/master.cf"
  # No port-25 listener; one on 127.0.0.1:2525; nothing chrooted.
  sed -i -e 's/^smtp \{1,\}inet .*/#&/' "$RUN/postfix/master.cf"
  echo "127.0.0.1:2525 inet n - n - - smtpd" >> "$RUN/postfix/master.cf"
  awk 'BEGIN{OFS=" "} /^[a-z0-9.:]+ +(unix|inet|fifo|pass|unix-dgram) / { if ($5 == "y" || $5 == "-") $5 = "n" } { print }' "$RUN/postfix/master.cf" > "$RUN/postfix/master.cf.new"
  mv "$RUN/postfix/master.cf.new" "$RUN/postfix/master.cf"
  cat > "$RUN/postfix/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $RUN/postfix-queue
data_directory = $RUN/postfix-data
mail_owner = postfix
myhostname = localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
virtual_mailbox_domains = example.test
virtual_transport = lmtp:inet:127.0.0.1:2424
smtputf8_enable = no
maillog_file_prefixes = $RUN
maillog_file = $RUN/postfix.log
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
CONF
  as_root chown postfix "$RUN/postfix-data"
  as_root script -qc "postfix -c $RUN/postfix post-install create-missing" /dev/null >/dev/null 2>&1 || true
  as_root dovecot -c "$RUN/dovecot.conf"
  if ! as_root script -qc "postfix -c $RUN/postfix start" /dev/null > "$RUN/postfix-start.out" 2>&1; then
    cat "$RUN/postfix-start.out" >&2
    exit 1
  fi
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/1143) 2>/dev/null && break
    sleep 0.1
  done
  (exec 3<>/dev/tcp/127.0.0.1/2525) 2>/dev/null || { echo "Postfix did not start" >&2; cat "$RUN/postfix.log" >&2 || true; exit 1; }
  (exec 3<>/dev/tcp/127.0.0.1/1143) 2>/dev/null || { echo "Dovecot did not start" >&2; cat "$RUN/dovecot.log" >&2 || true; exit 1; }
  echo "== mail servers up: SMTP 127.0.0.1:2525, IMAP 127.0.0.1:1143"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
