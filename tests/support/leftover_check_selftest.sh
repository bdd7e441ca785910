#!/usr/bin/env bash
# Proves that the suite's cleanup check (check_no_leftover_processes.sh) can fail, and only for its own run: a real
# portrait-sandbox marked with one run id is reported (and killed) by the check of that run, and not seen by the
# check of another run.
#   SANDBOX_BINARY=... tests/support/leftover_check_selftest.sh
set -euo pipefail
: "${SANDBOX_BINARY:?set SANDBOX_BINARY to the portrait-sandbox binary}"
here=$(cd "$(dirname "$0")" && pwd)
check="$here/check_no_leftover_processes.sh"
dir=$(mktemp -d /tmp/portrait-leftover-selftest-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Ids no real run has: this script's pid and the time, so concurrent self-tests differ too.
leaked_run="selftest-$$-$(date +%s%N)"
other_run="selftest-other-$$-$(date +%s%N)"
PORTRAIT_TEST_SUITE_RUN=$leaked_run PORTRAIT_SANDBOX_SECRET_KEY=selftest "$SANDBOX_BINARY" --listen=127.0.0.1:0 \
  --port_file="$dir/port" >"$dir/sandbox.log" 2>&1 &
leaked=$!
pids+=("$leaked")
for _ in $(seq 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { cat "$dir/sandbox.log" >&2; fail "the sandbox did not start"; }

if "$check" "$other_run" >"$dir/other.out" 2>&1; then
  echo "ok: another run's check does not see it"
else
  cat "$dir/other.out" >&2
  fail "the check of another run reported this run's sandbox"
fi
if "$check" "$leaked_run" >"$dir/leaked.out" 2>&1; then
  cat "$dir/leaked.out" >&2
  fail "the check passed while a sandbox of its run was alive (pid $leaked)"
fi
cat "$dir/leaked.out"
grep -qE "^ *$leaked .*portrait-sandbox" "$dir/leaked.out" || fail "the check did not name the sandbox (pid $leaked)"
wait "$leaked" 2>/dev/null || true  # Killed by the check: reap it.
if ! "$check" "$leaked_run" >"$dir/after.out" 2>&1; then
  cat "$dir/after.out" >&2
  fail "the check still fails once the leftover is gone"
fi
echo "ok: the check failed naming pid $leaked, killed it, and passes now"
