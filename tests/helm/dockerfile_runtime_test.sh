#!/usr/bin/env bash
# Checks the Dockerfile's runtime package list against what the built binary really links.
#
#   bash tests/helm/dockerfile_runtime_test.sh /path/to/build/bridge/portrait-bridge
#
# What "needed" means: the DT_NEEDED libraries of the binary and of the project's own shared
# libraries it loads from the build tree (e.g. libportrait_proto.so, which the Dockerfile copies
# from the build stage). Each is resolved through `ldd` and mapped to its Debian package with
# `dpkg -S`. Transitive libraries (libcurl's nghttp2, libgrpc's c-ares and re2, ...) are not listed:
# apt installs them as dependencies of the packages that are, and the Dockerfile's own
# `ldd | grep 'not found'` step fails the image build if anything is still missing.
#
# Fails when
#   - a needed library is not found, or comes from neither a Debian package nor the build tree;
#   - a needed package is missing from RUNTIME_PACKAGES (base-image packages excepted: libc6,
#     libstdc++6 and libgcc-s1 are Essential or priority-required in every minbase Debian: debian:12-slim,
#     the default runtime base, and the base tests/image/run.sh bootstraps; listing them would only pin
#     what is already there);
#   - RUNTIME_PACKAGES lists a package that provides none of the needed libraries (ca-certificates
#     excepted: it is data for the HTTPS upstream, not a library).
# Prints "N passed, N failed" last.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dockerfile="${DOCKERFILE:-$repo/Dockerfile}"
binary="${1:-}"
base_image_packages=(libc6 libstdc++6 libgcc-s1)
# The image is built from the default preset; a sanitizer build (the asan and tsan presets) also links the
# sanitizers' runtimes, which the image never needs.
sanitizer_runtime='^lib(asan|ubsan|tsan|lsan)\.so'
non_library_packages=(ca-certificates)

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if [ -z "$binary" ] || [ ! -f "$binary" ]; then
  fail "usage: $0 BINARY (got '${binary}': not a file)"
  finish
fi
binary="$(readlink -f "$binary")"
for tool in ldd dpkg; do
  command -v "$tool" >/dev/null || { fail "$tool is required"; finish; }
done

needed_of() { # DT_NEEDED sonames of an ELF file
  if command -v readelf >/dev/null; then
    readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p'
  else
    objdump -p "$1" | awk '$1 == "NEEDED" { print $2 }'
  fi
}

# The build tree: the nearest ancestor of the binary that holds CMakeCache.txt.
build_root="$(dirname "$binary")"
while [ "$build_root" != "/" ] && [ ! -f "$build_root/CMakeCache.txt" ]; do build_root="$(dirname "$build_root")"; done
[ -f "$build_root/CMakeCache.txt" ] || build_root="$(dirname "$binary")"

# --- the runtime list from the Dockerfile (one ARG line) ---
runtime_line="$(grep -E '^ARG RUNTIME_PACKAGES=' "$dockerfile" || true)"
if [ -z "$runtime_line" ] || [ "$(grep -cE '^ARG RUNTIME_PACKAGES=' "$dockerfile")" -ne 1 ]; then
  fail "expected exactly one 'ARG RUNTIME_PACKAGES=\"...\"' line in $dockerfile"
  finish
fi
read -r -a listed <<<"$(sed -E 's/^ARG RUNTIME_PACKAGES="([^"]*)".*/\1/' <<<"$runtime_line")"
echo "Dockerfile RUNTIME_PACKAGES: ${listed[*]}"
if grep -qE '\$\{?RUNTIME_PACKAGES\}?' <(sed -n '/^FROM \${RUNTIME_BASE}/,$p' "$dockerfile"); then
  pass "the runtime stage (FROM \${RUNTIME_BASE}) installs \${RUNTIME_PACKAGES}"
else
  fail "the runtime stage (FROM \${RUNTIME_BASE}) does not install \${RUNTIME_PACKAGES}"
fi
# Reproducible and air-gapped builds: every base defaults to a digest, and no "# syntax=" line (BuildKit would
# pull a frontend image for it).
for base in BUILD_BASE RUNTIME_BASE; do
  if grep -qE "^ARG $base=[^ ]+@sha256:[0-9a-f]{64}\$" "$dockerfile"; then
    pass "$base defaults to an image pinned by digest"
  else
    fail "$base is not an 'ARG $base=image@sha256:<64 hex>' line"
  fi
done
if grep -qiE '^# *syntax *=' "$dockerfile"; then
  fail "the Dockerfile has a '# syntax=' line (BuildKit pulls a frontend image for it)"
else
  pass "no '# syntax=' line"
fi

# --- resolve the needed libraries ---
ldd_out="$(ldd "$binary" 2>&1)" || { fail "ldd $binary failed: $ldd_out"; finish; }
resolve() { # soname -> path, via ldd of the binary (which covers everything it loads)
  # ldd prints most libraries as "soname => path", and the dynamic loader (needed directly once a library uses
  # thread-local storage) as its bare path.
  awk -v so="$1" '($1 == so && $2 == "=>") { print $3 } (substr($1, 1, 1) == "/" && $1 ~ ("/" so "$")) { print $1 }' \
    <<<"$ldd_out" | head -n1
}
package_of() { # path -> Debian package, trying the /usr-merged spellings dpkg may have recorded
  local p="$1" real candidates c out
  real="$(readlink -f "$p")"
  candidates=("$p" "/usr$p" "${p#/usr}" "$real" "/usr$real" "${real#/usr}")
  for c in "${candidates[@]}"; do
    out="$(dpkg -S "$c" 2>/dev/null | head -n1)" && [ -n "$out" ] && { echo "${out%%:*}"; return 0; }
  done
  return 1
}

declare -A need_pkg=()     # package -> sonames
declare -A seen=()
project_libs=()
queue=("$binary")
while ((${#queue[@]})); do
  elf="${queue[0]}"
  queue=("${queue[@]:1}")
  for so in $(needed_of "$elf"); do
    [ -n "${seen[$so]:-}" ] && continue
    seen[$so]=1
    if [[ "$so" =~ $sanitizer_runtime ]]; then
      echo "skip: $so is a sanitizer runtime (a sanitizer build, not the image's)"
      continue
    fi
    path="$(resolve "$so")"
    if [ -z "$path" ] || [ "$path" = "not" ]; then
      fail "$so (needed by $(basename "$elf")) is not found by ldd"
      continue
    fi
    if [[ "$(readlink -f "$path")" == "$build_root"/* ]]; then
      project_libs+=("$so")
      queue+=("$(readlink -f "$path")") # its own needs count too
      continue
    fi
    if pkg="$(package_of "$path")"; then
      need_pkg[$pkg]="${need_pkg[$pkg]:-}${need_pkg[$pkg]:+ }$so"
    else
      fail "$so => $path belongs to no Debian package and is not in the build tree $build_root"
    fi
  done
done

echo "project libraries (copied from the build stage by the Dockerfile's ldd step): ${project_libs[*]:-none}"
if ((${#project_libs[@]})); then
  if grep -q 'ldd build/bridge/portrait-bridge' "$dockerfile" && grep -q 'COPY --from=build /out/lib/' "$dockerfile"; then
    pass "the Dockerfile copies the project libraries (${project_libs[*]}) from the build stage"
  else
    fail "the binary loads project libraries (${project_libs[*]}) but the Dockerfile does not copy them"
  fi
fi

in_list() { local x="$1"; shift; local y; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }

for pkg in $(printf '%s\n' "${!need_pkg[@]}" | sort); do
  if in_list "$pkg" "${base_image_packages[@]}"; then
    echo "skip: $pkg (${need_pkg[$pkg]}) is in the base image"
  elif in_list "$pkg" "${listed[@]}"; then
    pass "needed $pkg (${need_pkg[$pkg]}) is in RUNTIME_PACKAGES"
  else
    fail "needed $pkg (${need_pkg[$pkg]}) is missing from RUNTIME_PACKAGES"
  fi
done
for pkg in "${listed[@]}"; do
  if in_list "$pkg" "${non_library_packages[@]}"; then
    echo "skip: $pkg is listed for its data, not a library"
  elif [ -n "${need_pkg[$pkg]:-}" ]; then
    :
  else
    fail "RUNTIME_PACKAGES lists $pkg, which provides none of the libraries the binary needs"
  fi
done
finish
