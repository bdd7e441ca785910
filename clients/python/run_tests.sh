#!/usr/bin/env bash
# CTest entry (clients_python_test): builds the portraitbridge wheel offline (stubs generated from PROTO_DIR at build
# time), installs it into BUILD_DIR/python/site, starts sandbox + bridge, runs the unittest suite and the example with
# Debian's /usr/bin/python3 against the installed package.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/python/run_tests.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${1:?usage: run_tests.sh BUILD_DIR}
export PROTO_DIR=${PROTO_DIR:-$here/../../proto}
work="$build_dir/python"
rm -rf "$work"
mkdir -p "$work"
# pip builds a local directory in place: build a copy, so that the source tree gets no build/ or egg-info.
cp -r "$here" "$work/src"
rm -rf "$work/src/build" "$work/src"/src/*.egg-info
/usr/bin/python3 -m pip wheel --no-build-isolation --no-index --no-deps --quiet -w "$work/dist" "$work/src"
# --no-deps: the wheel's dependencies (grpcio, protobuf) are Debian's python3-grpcio and python3-protobuf.
/usr/bin/python3 -m pip install --no-index --no-deps --quiet --disable-pip-version-check --root-user-action=ignore \
  --target "$work/site" "$work"/dist/portraitbridge-*.whl
. "$here/../testing/start_stack.sh"
export PYTHONPATH="$work/site" PORTRAIT_CLIENT_SITE="$work/site" PYTHONDONTWRITEBYTECODE=1
cd "$STACK_DIR"  # not the source tree, whose src/portraitbridge has no stubs
/usr/bin/python3 -m unittest discover -s "$here/tests" -v
echo "--- example.py"
/usr/bin/python3 "$here/example.py" "$BRIDGE_ADDRESS" | tee "$STACK_DIR/example.out"
grep -q "^alice: {'Tag_Profile_IM_Nick'" "$STACK_DIR/example.out"
grep -q "^nobody: failed: NOT_FOUND" "$STACK_DIR/example.out"
grep -q "stream first alice: {'Tag_Profile_IM_Nick'" "$STACK_DIR/example.out"
grep -qF "stream third: refused: INVALID_ARGUMENT: " "$STACK_DIR/example.out"
grep -qF "field requests[2].tags" "$STACK_DIR/example.out"
