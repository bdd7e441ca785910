#!/usr/bin/env bash
# CTest entry (clients_go_test): copies the module to BUILD_DIR/go/module, generates its stubs and vendor/ there
# (generate.sh), builds it offline in module mode (vendor/, GOPROXY=off, GOFLAGS=-mod=vendor), starts sandbox +
# bridge, runs `go test` and the example.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/go/run_tests.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${1:?usage: run_tests.sh BUILD_DIR}
module="$build_dir/go/module"
rm -rf "$module"
mkdir -p "$module"
cp -r "$here/go.mod" "$here/portraitclient" "$here/example" "$module/"
"$here/generate.sh" "$module" >/dev/null
# Module mode, offline: no module cache, no proxy, no GOPATH; everything comes from vendor/.
export GO111MODULE=on GOFLAGS=-mod=vendor GOPROXY=off GOSUMDB=off GOCACHE="$build_dir/go/cache"
export GOPATH="$build_dir/go/gopath-unused" GOMODCACHE="$build_dir/go/modcache-unused"
cd "$module"
go vet ./...
go build -o "$build_dir/go/example" ./example
. "$here/../testing/start_stack.sh"
go test -count=1 -v ./portraitclient
echo "--- example"
"$build_dir/go/example" "$BRIDGE_ADDRESS" | tee "$STACK_DIR/example.out"
grep -q "^alice: map\[Tag_Profile_IM_BirthDay:" "$STACK_DIR/example.out"
grep -q "^nobody: failed: NOT_FOUND" "$STACK_DIR/example.out"
grep -q "^stream first alice: map\[Tag_Profile_IM_BirthDay:" "$STACK_DIR/example.out"
grep -qF "stream third: refused: INVALID_ARGUMENT: " "$STACK_DIR/example.out"
grep -qF "field requests[2].tags" "$STACK_DIR/example.out"
