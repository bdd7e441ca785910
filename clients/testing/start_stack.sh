#!/usr/bin/env bash
# Starts the sandbox upstream and the real bridge on loopback, each on port 0, for the client tests.
#
# Source it (`. clients/testing/start_stack.sh`) with BRIDGE_BINARY and SANDBOX_BINARY set. It exports
#   STACK_DIR            a fresh temporary directory (logs, port files, key files)
#   SANDBOX_PORT         the sandbox's HTTP port
#   BRIDGE_PORT          the bridge's gRPC port (key matches the sandbox's)
#   BRIDGE_ADDRESS       127.0.0.1:$BRIDGE_PORT
#   BAD_KEY_BRIDGE_PORT  a second bridge whose secret key the sandbox rejects (70009 -> FAILED_PRECONDITION)
#   BAD_KEY_BRIDGE_ADDRESS
#   PORTRAIT_TEST_SUITE_RUN  this run's marker (tests/support/test_run_id.sh), inherited by every process started
# and installs an EXIT trap that stops every process it started and removes STACK_DIR.
: "${BRIDGE_BINARY:?set BRIDGE_BINARY to the portrait-bridge binary}"
: "${SANDBOX_BINARY:?set SANDBOX_BINARY to the portrait-sandbox binary}"

# Every process started from here on carries this run's marker, which the suite's cleanup check looks for.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/support" && pwd)/test_run_id.sh"
PORTRAIT_TEST_SUITE_RUN=$(portrait_test_run_id)
export PORTRAIT_TEST_SUITE_RUN

STACK_DIR=$(mktemp -d /tmp/portrait-clients-XXXXXX)
export STACK_DIR
_stack_pids=()

# Alive and not yet a zombie (kill -0 succeeds on an exited child that has not been waited for).
_stack_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

stop_stack() {
  local pid
  for pid in "${_stack_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${_stack_pids[@]}"; do
    for _ in $(seq 100); do _stack_alive "$pid" || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  _stack_pids=()
  if [ -n "${KEEP_STACK_DIR:-}" ]; then echo "stack logs kept in $STACK_DIR" >&2; else rm -rf "$STACK_DIR"; fi
}
trap stop_stack EXIT

# Waits for a port file written as "PORT\n"; prints the port. $2 is the log to show on failure.
_wait_port() {
  local file=$1 log=$2 pid=$3
  for _ in $(seq 200); do
    if [ -s "$file" ] && [ "$(tail -c1 "$file" | od -An -c | tr -d ' ')" = '\n' ]; then
      tr -d '\n' <"$file"; return 0
    fi
    if ! _stack_alive "$pid"; then break; fi
    sleep 0.05
  done
  echo "start_stack: no port in $file; log:" >&2; cat "$log" >&2; return 1
}

printf 'portrait-clients-test-key\n' >"$STACK_DIR/secret_key"
printf 'not-the-sandbox-key\n' >"$STACK_DIR/wrong_secret_key"

"$SANDBOX_BINARY" --listen=127.0.0.1:0 --port_file="$STACK_DIR/sandbox.port" --sdkappid=1400000000 \
  --admin_identifier=administrator --secret_key_file="$STACK_DIR/secret_key" >"$STACK_DIR/sandbox.log" 2>&1 &
_stack_pids+=($!)
SANDBOX_PORT=$(_wait_port "$STACK_DIR/sandbox.port" "$STACK_DIR/sandbox.log" $!) || exit 1
export SANDBOX_PORT

# Starts a bridge in this shell (not in a command substitution, whose subshell would keep the pid from the EXIT
# trap) and sets the variable named by $3 to its port. $1 names its files, $2 is the key file.
_start_bridge() {
  local name=$1 key=$2 port
  "$BRIDGE_BINARY" --listen_address=127.0.0.1:0 --port_file="$STACK_DIR/$name.port" --metrics_address= \
    --sdkappid=1400000000 --admin_identifier=administrator --secret_key_file="$key" \
    --base_url="http://127.0.0.1:$SANDBOX_PORT" --log_level=warning --shutdown_drain_delay_ms=0 >"$STACK_DIR/$name.log" 2>&1 &
  _stack_pids+=($!)
  port=$(_wait_port "$STACK_DIR/$name.port" "$STACK_DIR/$name.log" $!) || return 1
  printf -v "$3" '%s' "$port"
}
_start_bridge bridge "$STACK_DIR/secret_key" BRIDGE_PORT || exit 1
_start_bridge bad_key_bridge "$STACK_DIR/wrong_secret_key" BAD_KEY_BRIDGE_PORT || exit 1
export BRIDGE_PORT BAD_KEY_BRIDGE_PORT
export BRIDGE_ADDRESS="127.0.0.1:$BRIDGE_PORT" BAD_KEY_BRIDGE_ADDRESS="127.0.0.1:$BAD_KEY_BRIDGE_PORT"
