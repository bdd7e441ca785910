#!/usr/bin/env bash
# Makes the Go module portraitbridge.dev/go (clients/go) buildable offline with Debian 12's Go packages only:
#   profile/v1/*.pb.go  generated from proto/ by protoc-gen-go and protoc-gen-go-grpc (module=portraitbridge.dev/go)
#   vendor/             the packages the module imports, copied from /usr/share/gocode (golang-google-grpc-dev,
#                       golang-google-protobuf-dev, golang-google-genproto-dev, ...), with vendor/modules.txt
#                       written from go.mod's requirements
# Then `go build -mod=vendor ./...` (Go uses vendor/ by itself when go.mod says go >= 1.14) needs no network and no
# module cache: in vendor mode Go reads no go.mod of a dependency, so the go.mod files of grpc's own dependencies
# (envoy, udpa, ... which Debian does not ship) are never needed. Nothing it writes is committed.
#   clients/go/generate.sh [MODULE_DIR]   (default: clients/go itself; the tests use a copy in the build tree)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=${PROTO_DIR:-$here/../../proto}
module_dir=$(cd "${1:-$here}" && pwd)
gocode=/usr/share/gocode/src
module=$(awk '$1 == "module" {print $2}' "$module_dir/go.mod")

rm -rf "$module_dir/profile" "$module_dir/vendor"
protoc -I "$proto_dir" --go_out="$module_dir" --go_opt=module="$module" \
  --go-grpc_out="$module_dir" --go-grpc_opt=module="$module" \
  "$proto_dir/portraitbridge/profile/v1/profile.proto"

# Which packages the module needs (tests included), found in GOPATH mode over a GOPATH that holds the module
# under its own path and Debian's /usr/share/gocode.
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/$(dirname "$module")"
ln -s "$module_dir" "$gopath/src/$module"
packages=$(cd "$gopath/src/$module" && GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= \
  go list -deps -test -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./... | grep -v "^$module\(/\|$\)" | sort -u)

# The module of a package: the nearest directory above it with a go.mod (Debian keeps module layouts intact).
module_of() {
  local dir=$gocode/$1
  while [ "$dir" != "$gocode" ]; do
    [ -f "$dir/go.mod" ] && { echo "${dir#"$gocode"/}"; return; }
    dir=$(dirname "$dir")
  done
  echo "generate.sh: no go.mod above $gocode/$1" >&2
  return 1
}

declare -A module_packages=()
for package in $packages; do
  owner=$(module_of "$package")
  module_packages[$owner]+="$package "
  mkdir -p "$module_dir/vendor/$package"
  # The package's own files only (its subdirectories are other packages); -L: Debian links some files.
  find -L "$gocode/$package" -maxdepth 1 -type f ! -name '*_test.go' -exec cp -L {} "$module_dir/vendor/$package/" \;
done

modules_txt=$module_dir/vendor/modules.txt
: >"$modules_txt"
for owner in $(printf '%s\n' "${!module_packages[@]}" | sort); do
  version=$(awk -v m="$owner" '$1 == m {print $2}' "$module_dir/go.mod")
  if [ -z "$version" ]; then
    echo "generate.sh: go.mod does not require $owner, which the build needs: add it (Debian's version)" >&2
    exit 1
  fi
  go_version=$(awk '$1 == "go" {print $2}' "$gocode/$owner/go.mod")
  printf '# %s %s\n## explicit%s\n' "$owner" "$version" "${go_version:+; go $go_version}" >>"$modules_txt"
  printf '%s\n' ${module_packages[$owner]} | sort >>"$modules_txt"
done
echo "$module_dir"
