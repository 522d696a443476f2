#!/usr/bin/env bash
# Fuzzes the pure code the bot runs on outside input, each target for a fixed time:
#   mail   raw mail → understanding, sender verdict, decision (seeded with the mail corpus)
#   chat   chat line → command and answer (seeded with every command example)
#   dates  dates typed in chat or found in mail
#   config bot.toml text → loaded and validated config
# Reports executions and crashes per target, and copies every crash into
# fuzz/regressions/<target>/, which tests/fuzz_regressions.rs replays in the test suite.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET…]]   (default 60 s, every target). Needs
# a nightly toolchain; installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets="${*:-mail chat dates config}"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzzing needs a nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Seed corpora (not committed: fuzz/corpus is rebuilt from the repository's own files).
mkdir -p fuzz/corpus/{mail,chat,dates,config}
find tests/fixtures/mail-corpus tests/fixtures/mail-requests -name '*.eml' -print0 |
  while IFS= read -r -d '' f; do cp "$f" "fuzz/corpus/mail/$(echo "$f" | tr '/' '_')"; done
python3 - <<'PY'
import glob, tomllib, hashlib
def put(target, text):
    name = hashlib.sha1(text.encode()).hexdigest()[:16]
    open(f"fuzz/corpus/{target}/{name}", "w").write(text)
for path in glob.glob("commands/*.toml"):
    spec = tomllib.load(open(path, "rb"))
    for lang in ("fr", "en"):
        for example in spec.get("examples", {}).get(lang, []):
            put("chat", example)
for text in ["12 mars 2027", "du 3 au 14 mars", "2027-03-12", "demain", "next monday",
             "le 1er mai", "jusqu'au 15 janvier", "from 3 to 14 March 2027", "31/02/2027"]:
    put("dates", text)
put("config", open("bot.toml").read())
PY

mkdir -p fuzz/regressions
printf '%-8s %12s %8s\n' target executions crashes
for target in $targets; do
  log="fuzz/corpus/$target.log"
  rm -rf "fuzz/artifacts/$target"   # findings of earlier runs are already in fuzz/regressions
  # A crash stops the run with a non-zero status: it is reported, not fatal to the script.
  (cd fuzz && cargo +nightly fuzz run -s none "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096) >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
  crashes=0
  mkdir -p "fuzz/regressions/$target"
  for crash in fuzz/artifacts/"$target"/crash-* fuzz/artifacts/"$target"/oom-* fuzz/artifacts/"$target"/timeout-*; do
    [ -e "$crash" ] || continue
    crashes=$((crashes + 1))
    cp "$crash" "fuzz/regressions/$target/"
  done
  printf '%-8s %12s %8s\n' "$target" "${execs:-?}" "$crashes"
done
echo "logs: fuzz/corpus/<target>.log; crashes copied to fuzz/regressions/<target>/"
