#!/usr/bin/env bash
# CTest entry (clients_python_test): generates the stubs into BUILD_DIR/python/gen, starts sandbox + bridge, runs the
# unittest suite and the example with Debian's /usr/bin/python3.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/python/run_tests.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${1:?usage: run_tests.sh BUILD_DIR}
gen="$build_dir/python/gen"
rm -rf "$gen"
"$here/generate.sh" "$gen" >/dev/null
. "$here/../testing/start_stack.sh"
export PYTHONPATH="$gen:$here" PYTHONDONTWRITEBYTECODE=1
/usr/bin/python3 -m unittest discover -s "$here/tests" -v
echo "--- example.py"
/usr/bin/python3 "$here/example.py" "$BRIDGE_ADDRESS" | tee "$STACK_DIR/example.out"
grep -q "first alice: {'Tag_Profile_IM_Nick'" "$STACK_DIR/example.out"
grep -q "first nobody: failed: NOT_FOUND" "$STACK_DIR/example.out"
grep -qF "third: refused: INVALID_ARGUMENT: " "$STACK_DIR/example.out"
grep -qF "field requests[2].tags" "$STACK_DIR/example.out"
