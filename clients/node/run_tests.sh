#!/usr/bin/env bash
# CTest entry (clients_node_test): installs node_modules if needed (npm ci, which also generates the TypeScript
# types), regenerates the types from PROTO_DIR, type-checks (tsc), starts sandbox + bridge, runs `node --test` and
# the example.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/node/run_tests.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure_node_modules.sh"
# Serialised with the install: the buf curl test may run npm ci at the same time.
(flock 9; cd "$here" && npm run --silent generate-types && npm run --silent typecheck) 9>"$here/.npm-install.lock"
. "$here/../testing/start_stack.sh"
node --test "$here/test/"
echo "--- example.js"
node "$here/example.js" "$BRIDGE_ADDRESS" | tee "$STACK_DIR/example.out"
grep -q '^alice: {"Tag_Profile_IM_Nick":' "$STACK_DIR/example.out"
grep -q "^nobody: failed: NOT_FOUND" "$STACK_DIR/example.out"
grep -q '^stream first alice: {"Tag_Profile_IM_Nick":' "$STACK_DIR/example.out"
grep -qF "stream third: refused: INVALID_ARGUMENT: " "$STACK_DIR/example.out"
grep -qF "field requests[2].tags" "$STACK_DIR/example.out"
