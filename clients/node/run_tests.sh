#!/usr/bin/env bash
# CTest entry (clients_node_test): installs node_modules if needed, starts sandbox + bridge, runs `node --test` and
# the example. The client loads proto/ at run time, so there is nothing to generate.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/node/run_tests.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure_node_modules.sh"
. "$here/../testing/start_stack.sh"
node --test "$here/test/"
echo "--- example.js"
node "$here/example.js" "$BRIDGE_ADDRESS" | tee "$STACK_DIR/example.out"
grep -q 'first alice: {"Tag_Profile_IM_Nick":' "$STACK_DIR/example.out"
grep -q "first nobody: failed: NOT_FOUND" "$STACK_DIR/example.out"
grep -qF "third: refused: INVALID_ARGUMENT: " "$STACK_DIR/example.out"
grep -qF "field requests[2].tags" "$STACK_DIR/example.out"
