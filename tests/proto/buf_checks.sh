#!/usr/bin/env bash
# CTest entry (proto_buf_checks, label proto): the schema checks CI runs on every commit.
#   1. buf lint: STANDARD and COMMENTS rules (buf.yaml at the repository root; proto/google/ is not linted).
#   2. buf breaking: proto/ as it is now against proto/ in the previous commit (HEAD~1: on main after a merge, main
#      before the merge), FILE rules (buf.yaml). Skipped, saying why, when there is nothing to compare with: no git
#      history (a source tree without .git, a shallow clone of depth 1, the first commit) or a previous commit without
#      proto/portraitbridge (the package did not exist yet: the one-time rename from tencentcloud.chat.profile.v1).
#      It fails only when buf finds a break.
#   tests/proto/buf_checks.sh [REPO_DIR]     (REPO_DIR defaults to this checkout; BUF=path overrides buf)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${1:-$here/../..}" && pwd)
if [ -z "${BUF:-}" ]; then
  # buf comes from npm (@bufbuild/buf), pinned in clients/node/package-lock.json beside the buf curl tests' use.
  "$here/../../clients/node/ensure_node_modules.sh" || exit 1
  BUF="$here/../../clients/node/node_modules/.bin/buf"
fi
cd "$repo" || exit 1
failures=0

echo "=== buf lint ($repo)"
if "$BUF" lint; then
  echo "ok: buf lint found nothing"
else
  echo "FAIL: buf lint (above)" >&2
  failures=$((failures + 1))
fi

echo "=== buf breaking against the previous commit"
if [ ! -e .git ]; then
  echo "skipped: $repo is not a git checkout, there is no previous commit to compare with"
elif ! command -v git >/dev/null || ! git_error=$(git rev-parse --is-inside-work-tree 2>&1 >/dev/null); then
  # A checkout that git cannot read (git missing, "dubious ownership") must not pass as one without history.
  echo "FAIL: $repo is a git checkout but git cannot read it: ${git_error:-git is not installed}" >&2
  failures=$((failures + 1))
elif ! previous=$(git rev-parse --verify --quiet 'HEAD~1^{commit}'); then
  if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "skipped: shallow clone without the previous commit (git fetch --deepen=1 to compare)"
  else
    echo "skipped: HEAD is the first commit, there is no previous commit to compare with"
  fi
elif ! git cat-file -e "$previous:proto/portraitbridge" 2>/dev/null; then
  echo "skipped: the previous commit (${previous:0:12}) has no proto/portraitbridge, so there is no earlier" \
       "version of this package to compare with"
else
  echo "against ${previous:0:12}: $(git log -1 --format=%s "$previous" | cut -c1-100)"
  # subdir=proto: the previous commit's proto/ is read as the module whatever buf.yaml it had (none, before this
  # check existed), so file paths match.
  if "$BUF" breaking proto --against ".git#ref=$previous,subdir=proto"; then
    echo "ok: no breaking change against ${previous:0:12}"
  else
    echo "FAIL: buf breaking found changes that break callers of the previous schema (above)" >&2
    failures=$((failures + 1))
  fi
fi

if ((failures)); then
  echo "$failures schema check(s) failed" >&2
  exit 1
fi
echo "schema checks passed"
