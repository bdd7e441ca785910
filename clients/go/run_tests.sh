#!/usr/bin/env bash
# CTest entry (clients_go_test): generates the stubs into BUILD_DIR/go/gopath, builds offline in GOPATH mode over
# /usr/share/gocode, starts sandbox + bridge, runs `go test` and the example.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/go/run_tests.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build_dir=${1:?usage: run_tests.sh BUILD_DIR}
gopath="$build_dir/go/gopath"
"$here/generate.sh" "$gopath" >/dev/null
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$build_dir/go/cache" GOFLAGS= GOPROXY=off
go vet portraitbridge/client portraitbridge/example
go build -o "$build_dir/go/example" portraitbridge/example
. "$here/../testing/start_stack.sh"
go test -count=1 -v portraitbridge/client
echo "--- example"
"$build_dir/go/example" "$BRIDGE_ADDRESS" | tee "$STACK_DIR/example.out"
grep -q "first alice: map\[Tag_Profile_IM_BirthDay:" "$STACK_DIR/example.out"
grep -q "first nobody: failed: NOT_FOUND" "$STACK_DIR/example.out"
grep -qF "third: refused: INVALID_ARGUMENT: " "$STACK_DIR/example.out"
grep -qF "field requests[2].tags" "$STACK_DIR/example.out"
