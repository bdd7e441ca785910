#!/usr/bin/env bash
# Builds the container image with podman and runs it as production would: read-only, as UID 10001, every capability
# dropped, no new privileges; then makes a lookup through it against the sandbox upstream and stops it with SIGTERM.
#
#   bash tests/image/run.sh             # needs podman, runc and debootstrap (Debian packages)
#   bash tests/image/run.sh --install   # installs them first (apt-get; root or sudo)
#
# No registry is reachable here, so the base image is bootstrapped locally: `debootstrap --variant=minbase bookworm`
# (the recipe of the official debian images) from the host's Debian mirror, imported as BASE_IMAGE. The tarball is
# cached (CACHE_DIR) and the imported base and the built image are kept, so a rerun only rebuilds what changed.
# The sandbox and the CLI are the host's builds (SANDBOX_BINARY, CLI_BINARY; default: build/ of this tree); the
# container shares the host's network namespace (--network host) and talks to them on 127.0.0.1.
#
# Exit status: 0 passed; 1 failed; 77 skipped (podman, runc or debootstrap missing; CTest's SKIP_RETURN_CODE).
# Environment: IMAGE (default localhost/portrait-bridge:dev), BASE_IMAGE (localhost/portrait-bridge-base:bookworm),
# CACHE_DIR (default ~/.cache/portrait-bridge), SANDBOX_BINARY, CLI_BINARY, STOP_TIMEOUT_SECONDS (default 30).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
IMAGE="${IMAGE:-localhost/portrait-bridge:dev}"
BASE_IMAGE="${BASE_IMAGE:-localhost/portrait-bridge-base:bookworm}"
CACHE_DIR="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/portrait-bridge}"
SANDBOX_BINARY="${SANDBOX_BINARY:-$repo/build/bridge/portrait-sandbox}"
CLI_BINARY="${CLI_BINARY:-$repo/build/clients/portrait-cli}"
# podman stop's wait before SIGKILL: above the bridge's drain delay plus grace as configured below.
STOP_TIMEOUT_SECONDS="${STOP_TIMEOUT_SECONDS:-30}"
SKIP=77
tools=(podman runc debootstrap)

log() { printf '== %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--install" ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  # uidmap, fuse-overlayfs and slirp4netns are what podman needs beyond its own package, rootless included.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    podman runc debootstrap uidmap fuse-overlayfs slirp4netns
  shift
fi
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed (bash tests/image/run.sh --install installs ${tools[*]})"
    exit "$SKIP"
  fi
done

# This sandbox's quirks: crun fails on its hybrid cgroup layout (runc works), and podman's default open-files limit
# is above what a container may raise here, so both limits are set explicitly (the bridge needs far fewer).
pm() { podman --runtime runc "$@"; }
limits=(--ulimit nofile=1024:4096 --ulimit nproc=1024:4096)

# --- the base image -------------------------------------------------------------------------------------------------
# The host's Debian mirrors (deb822 "URIs:" or one-line "deb URL"), so the bootstrap works wherever apt does.
mirror_of() { # $1: "debian" or "debian-security"; prints nothing when no source names one
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
    grep -oE "https?://[^ ]+/$1/?( |\$)" | head -n1 | tr -d ' ' | sed 's:/$::' || true
}
if ! pm image exists "$BASE_IMAGE"; then
  tarball="$CACHE_DIR/bookworm-minbase.tar"
  if [ ! -s "$tarball" ]; then
    mirror="$(mirror_of debian)"
    mirror="${mirror:-http://deb.debian.org/debian}"
    security="$(mirror_of debian-security)"
    security="${security:-http://deb.debian.org/debian-security}"
    log "bootstrapping Debian 12 minbase from $mirror into $tarball"
    mkdir -p "$CACHE_DIR"
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    nice debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $CACHE_DIR/debootstrap.log"
    # The official images' apt sources (updates and security too) and their size trims.
    rm -f "$rootfs/etc/apt/sources.list"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: %s\n\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: %s\n' \
      "$mirror" /usr/share/keyrings/debian-archive-keyring.gpg "$security" /usr/share/keyrings/debian-archive-keyring.gpg \
      >"$rootfs/etc/apt/sources.list.d/debian.sources"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
  fi
  log "importing $tarball as $BASE_IMAGE"
  pm import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$BASE_IMAGE" >/dev/null
fi

# --- the image ------------------------------------------------------------------------------------------------------
version="$(sed -nE 's/^project\(portrait_bridge VERSION ([0-9.]+).*/\1/p' "$repo/CMakeLists.txt")"
# The commit, marked -dirty when the tree has uncommitted changes (the build context holds them).
revision="$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$revision" != unknown ] && ! git -C "$repo" diff --quiet HEAD; then revision="$revision-dirty"; fi
log "building $IMAGE from $BASE_IMAGE (version $version, revision $revision)"
# --network host: the RUN steps reach the Debian mirror as the host does. --pull=never: the bases are local.
# The labels go as --label too: buildah 1.28 (Debian 12's podman) reuses a cached LABEL step whose ARG values
# changed, so a rebuild that reproduces the same binary would keep the previous revision (seen here).
build_started=$SECONDS
nice podman --runtime runc build "${limits[@]}" --network host --pull=never \
  --build-arg BUILD_BASE="$BASE_IMAGE" --build-arg RUNTIME_BASE="$BASE_IMAGE" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --label org.opencontainers.image.version="$version" --label org.opencontainers.image.revision="$revision" \
  -t "$IMAGE" -f "$repo/Dockerfile" "$repo"
log "built in $((SECONDS - build_started)) s"

label() { pm image inspect --format "{{index .Labels \"org.opencontainers.image.$1\"}}" "$IMAGE"; }
[ "$(label version)" = "$version" ] || die "label version is '$(label version)', expected $version"
[ "$(label revision)" = "$revision" ] || die "label revision is '$(label revision)', expected $revision"
[ "$(label title)" = "portrait-bridge" ] || die "label title is '$(label title)'"

# --- run it against the sandbox -------------------------------------------------------------------------------------
for binary in "$SANDBOX_BINARY" "$CLI_BINARY"; do
  [ -x "$binary" ] || die "$binary is not built (cmake --build build --target portrait-sandbox portrait-cli)"
done
# The sandbox carries this test run's marker, which the suite's leftover check looks for (as the bridge does,
# through the container's environment).
. "$repo/tests/support/test_run_id.sh"
PORTRAIT_TEST_SUITE_RUN="$(portrait_test_run_id)"
export PORTRAIT_TEST_SUITE_RUN
run_dir="$(mktemp -d /tmp/portrait-image-test-XXXXXX)"
container="portrait-image-test-$$"
sandbox_pid=
cleanup() {
  pm rm --force --time 0 "$container" >/dev/null 2>&1 || true
  if [ -n "$sandbox_pid" ]; then kill -TERM "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$run_dir/secret_key"
"$SANDBOX_BINARY" --listen=127.0.0.1:0 --port_file="$run_dir/sandbox.port" --sdkappid=1400000000 \
  --admin_identifier=administrator --secret_key_file="$run_dir/secret_key" >"$run_dir/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 100); do [ -s "$run_dir/sandbox.port" ] && break; sleep 0.1; done
[ -s "$run_dir/sandbox.port" ] || die "the sandbox did not start: $(cat "$run_dir/sandbox.log")"
sandbox_port="$(cat "$run_dir/sandbox.port")"

# The bridge writes its port file into a writable mount owned by its UID; the key is mounted read-only, as a
# Kubernetes Secret is. Ports: gRPC 0 (the kernel picks one; read from the port file), metrics a free one.
mkdir "$run_dir/out" && chown 10001:10001 "$run_dir/out" "$run_dir/secret_key" && chmod 0400 "$run_dir/secret_key"
metrics_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log "starting $IMAGE read-only as 10001:10001, no capabilities, against the sandbox on 127.0.0.1:$sandbox_port"
pm run --detach --name "$container" "${limits[@]}" --network host \
  --read-only --user 10001:10001 --cap-drop ALL --security-opt no-new-privileges \
  --volume "$run_dir/secret_key:/etc/portrait-bridge/secret_key:ro" --volume "$run_dir/out:/run/portrait-bridge" \
  --env PORTRAIT_TEST_SUITE_RUN \
  --env PORTRAIT_BRIDGE_SDKAPPID=1400000000 --env PORTRAIT_BRIDGE_ADMIN_IDENTIFIER=administrator \
  --env PORTRAIT_BRIDGE_SECRET_KEY_FILE=/etc/portrait-bridge/secret_key \
  --env PORTRAIT_BRIDGE_BASE_URL="http://127.0.0.1:$sandbox_port" \
  --env PORTRAIT_BRIDGE_LISTEN_ADDRESS=127.0.0.1:0 --env PORTRAIT_BRIDGE_PORT_FILE=/run/portrait-bridge/port \
  --env PORTRAIT_BRIDGE_METRICS_ADDRESS="127.0.0.1:$metrics_port" \
  --env PORTRAIT_BRIDGE_SHUTDOWN_DRAIN_DELAY_MS=500 --env PORTRAIT_BRIDGE_SHUTDOWN_GRACE_SECONDS=5 \
  "$IMAGE" >/dev/null
for _ in $(seq 100); do
  [ -s "$run_dir/out/port" ] && break
  [ "$(pm inspect --format '{{.State.Running}}' "$container")" = true ] || break
  sleep 0.1
done
[ -s "$run_dir/out/port" ] || die "the bridge did not start in the container: $(pm logs "$container" 2>&1)"
port="$(cat "$run_dir/out/port")"

# What the kernel says about the running bridge, not what was asked for.
pid="$(pm inspect --format '{{.State.Pid}}' "$container")"
status="$(cat "/proc/$pid/status")"
[ "$(awk '/^Uid:/ { print $2 }' <<<"$status")" = 10001 ] || die "the bridge does not run as UID 10001: $(grep ^Uid: <<<"$status")"
[ "$(awk '/^CapEff:/ { print $2 }' <<<"$status")" = 0000000000000000 ] || die "the bridge has capabilities: $(grep ^Cap <<<"$status")"
[ "$(awk '/^NoNewPrivs:/ { print $2 }' <<<"$status")" = 1 ] || die "no_new_privs is not set"
# Even root inside (owner of /, so no capability needed) cannot write to the root filesystem.
if pm exec --user 0 "$container" touch /probe 2>/dev/null; then die "the root filesystem is writable"; fi
log "running as UID 10001, CapEff 0, no_new_privs, read-only root; serving on 127.0.0.1:$port"

# A lookup through the container: alice's nick is "Alice" in the sandbox.
answer="$("$CLI_BINARY" get --target="127.0.0.1:$port" --tags=Tag_Profile_IM_Nick --output=jsonl --deadline=30s alice)" ||
  die "the lookup failed: $answer"
echo "$answer"
python3 -c '
import json, sys
row = json.loads(sys.stdin.read())
assert row["account"] == "alice" and row["ok"] and row["fields"]["Tag_Profile_IM_Nick"] == "Alice", row
' <<<"$answer" || die "unexpected answer: $answer"
metrics="$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")" || die "the metrics port does not answer"
grep -q '^portrait_bridge_' <<<"$metrics" || die "no portrait_bridge_ series on the metrics port"

# SIGTERM (the image's STOPSIGNAL) through podman stop: the bridge drains and exits 0 before the stop timeout.
log "podman stop (SIGTERM, then SIGKILL after $STOP_TIMEOUT_SECONDS s)"
stop_started=$SECONDS
pm stop --time "$STOP_TIMEOUT_SECONDS" "$container" >/dev/null
stopped_after=$((SECONDS - stop_started))
exit_code="$(pm inspect --format '{{.State.ExitCode}}' "$container")"
logs="$(pm logs "$container" 2>&1)"
[ "$exit_code" = 0 ] || die "the container exited $exit_code after $stopped_after s; logs: $logs"
grep -q '"draining"' <<<"$logs" || die "no 'draining' line in the logs: $logs"
grep -q '"stopped"' <<<"$logs" || die "no 'stopped' line in the logs: $logs"
log "stopped on SIGTERM after $stopped_after s, exit 0, drained:"
grep -E '"(draining|stopped)"' <<<"$logs"
echo "PASSED"
