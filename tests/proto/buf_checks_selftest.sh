#!/usr/bin/env bash
# CTest entry (proto_buf_checks_selftest, label proto): buf_checks.sh can fail. Runs it on scratch git
# repositories holding this checkout's buf.yaml and proto/: a first commit, a shallow clone and a tree without .git
# (skipped, pass), a previous commit without proto/portraitbridge (skipped, pass), a compatible change (pass), a
# renumbered field and a deleted message (buf breaking fails), an uncommented field (buf lint fails), a .git that git
# cannot read (fails).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_repo=$(cd "$here/../.." && pwd)
"$source_repo/clients/node/ensure_node_modules.sh"
export BUF="$source_repo/clients/node/node_modules/.bin/buf"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
schema=proto/portraitbridge/profile/v1/profile.proto

failures=0
fail() { echo "FAIL [$1]: $2" >&2; failures=$((failures + 1)); }
# check NAME WANT_RC WANT_TEXT REPO: runs buf_checks.sh on REPO, expects its exit status and a line of its output.
check() {
  local name=$1 want_rc=$2 want=$3 repo=$4 rc=0
  echo "=== $name"
  "$here/buf_checks.sh" "$repo" >"$scratch/$name.out" 2>&1 || rc=$?
  sed 's/^/  | /' "$scratch/$name.out"
  if [ "$rc" -ne "$want_rc" ]; then fail "$name" "exit $rc, want $want_rc"; fi
  if ! grep -qF -- "$want" "$scratch/$name.out"; then fail "$name" "no line with '$want'"; fi
}
git_() { git -C "$1" -c user.name=selftest -c user.email=selftest@portraitbridge.dev "${@:2}"; }
commit() { git_ "$1" add -A && git_ "$1" commit -qm "$2"; }

repo=$scratch/repo
mkdir -p "$repo"
git_ "$repo" init -q
cp "$source_repo/buf.yaml" "$repo/"
cp -r "$source_repo/proto" "$repo/"
commit "$repo" first
check first-commit 0 "HEAD is the first commit" "$repo"

# A compatible change (a new field) passes.
sed -i 's/^  repeated string tags = 2;$/&\n  \/\/ A new field: compatible.\n  string note = 3;/' "$repo/$schema"
grep -q 'string note = 3;' "$repo/$schema"
commit "$repo" "add a field"
compatible=$(git_ "$repo" rev-parse HEAD)
check compatible-change 0 "ok: no breaking change" "$repo"

# CI's usual checkout: a clone of depth 1 has no HEAD~1.
git clone -q --depth 1 "file://$repo" "$scratch/shallow"
check shallow-clone 0 "skipped: shallow clone" "$scratch/shallow"

# A renumbered field breaks callers.
sed -i 's/^  repeated string accounts = 1;$/  repeated string accounts = 7;/' "$repo/$schema"
grep -q 'accounts = 7;' "$repo/$schema"
commit "$repo" "renumber a field"
check renumbered-field 1 'Previously present field "1" with name "accounts" on message "BatchGetProfilesRequest" was deleted' "$repo"

# A deleted message too (and only the commit before counts: the renumbering is now in the past).
git_ "$repo" revert --no-edit HEAD >/dev/null
sed -i '/^\/\/ One profile field.$/,/^}$/d; s/^  repeated ProfileItem items = 2;$/  reserved 2;/' "$repo/$schema"
commit "$repo" "delete ProfileItem"
check deleted-message 1 'Previously present message "ProfileItem" was deleted' "$repo"

# An uncommented field fails lint (working tree, not committed; its commit compared with the one before passes).
git_ "$repo" reset -q --hard "$compatible"
sed -i '/^  \/\/ The account, as sent.$/d' "$repo/$schema"
check uncommented-field 1 'Field "account" should have a non-empty comment' "$repo"

# The package's first commit: the previous one has no proto/portraitbridge (the rename from tencentcloud).
renamed=$scratch/renamed
mkdir -p "$renamed/proto/tencentcloud/chat/profile/v1"
git_ "$renamed" init -q
sed 's/^package portraitbridge.profile.v1;$/package tencentcloud.chat.profile.v1;/' "$source_repo/$schema" \
  >"$renamed/proto/tencentcloud/chat/profile/v1/profile.proto"
cp -r "$source_repo/proto/google" "$renamed/proto/"
commit "$renamed" "old package"
rm -r "$renamed/proto/tencentcloud"
cp "$source_repo/buf.yaml" "$renamed/"
cp -r "$source_repo/proto" "$renamed/"
commit "$renamed" "new package"
check package-rename 0 "no earlier version of this package to compare with" "$renamed"

# No .git: nothing to compare with. A .git that git cannot read is a failure, not a pass without history.
mkdir -p "$scratch/tree"
cp -r "$source_repo/buf.yaml" "$source_repo/proto" "$scratch/tree/"
check no-git 0 "is not a git checkout" "$scratch/tree"
mkdir "$scratch/tree/.git"
check unreadable-git 1 "git cannot read it" "$scratch/tree"

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "buf_checks.sh passes and fails as it should"
