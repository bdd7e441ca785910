#!/usr/bin/env bash
# CTest entry (clients_buf_curl_test): runs every `buf curl` block of clients/README.md (the mirrors of its grpcurl
# commands, found by their `<!-- buf-curl: NAME -->` markers) against the real bridge and sandbox, and checks what
# each printed. Blocks run with bash -eo pipefail in a scratch directory whose proto/ is the repository's, with
# BRIDGE set and buf (clients/node/node_modules/.bin) first on PATH.
#   BRIDGE_BINARY=... SANDBOX_BINARY=... clients/testing/buf_curl_test.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
clients=$(cd "$here/.." && pwd)
readme="$clients/README.md"
"$clients/node/ensure_node_modules.sh"
export PATH="$clients/node/node_modules/.bin:$PATH"
. "$here/start_stack.sh"

work="$STACK_DIR/work"
mkdir -p "$work/blocks"
ln -s "$(cd "$clients/../proto" && pwd)" "$work/proto"

# Extract each marked block to blocks/NAME.sh.
awk -v dir="$work/blocks" '
  /^<!-- buf-curl: [a-z0-9-]+ -->$/ { name = $3; want = 1; next }
  want && /^```sh$/ { inside = 1; want = 0; file = dir "/" name ".sh"; printf "" > file; next }
  inside && /^```$/ { inside = 0; close(file); next }
  inside { print >> file }
' "$readme"

failures=0
fail() { echo "FAIL [$1]: $2" >&2; failures=$((failures + 1)); }

# run NAME [BRIDGE]: runs blocks/NAME.sh; sets $out, $err, $rc.
run() {
  local name=$1 bridge=${2:-$BRIDGE_ADDRESS}
  if [ ! -s "$work/blocks/$name.sh" ]; then
    fail "$name" "no '<!-- buf-curl: $name -->' block in $readme"
    out= err= rc=255
    return
  fi
  echo "=== $name (BRIDGE=$bridge)"
  sed 's/^/  | /' "$work/blocks/$name.sh"
  set +e
  (cd "$work" && BRIDGE=$bridge bash -eo pipefail "$work/blocks/$name.sh") >"$work/$name.out" 2>"$work/$name.err"
  rc=$?
  set -e
  out=$(cat "$work/$name.out")
  err=$(cat "$work/$name.err")
  echo "  exit $rc; stdout:"; sed 's/^/  > /' "$work/$name.out" | head -60
  [ -s "$work/$name.err" ] && { echo "  stderr:"; sed 's/^/  ! /' "$work/$name.err" | head -30; }
  return 0
}
expect() {  # expect NAME DESCRIPTION COMMAND...
  local name=$1 what=$2
  shift 2
  if "$@"; then echo "  ok: $what"; else fail "$name" "$what"; fi
}
contains() { grep -qF -- "$2" <<<"$1"; }

run list-services
expect list-services "exit 0" test "$rc" -eq 0
for service in portraitbridge.profile.v1.ProfileService grpc.health.v1.Health \
               grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection; do
  expect list-services "lists $service" contains "$out" "$service"
done

run list-methods
expect list-methods "exit 0" test "$rc" -eq 0
expect list-methods "lists GetProfiles" contains "$out" "portraitbridge.profile.v1.ProfileService/GetProfiles"
expect list-methods "lists BatchGetProfiles" contains "$out" "portraitbridge.profile.v1.ProfileService/BatchGetProfiles"
expect list-methods "lists Health/Check" contains "$out" "grpc.health.v1.Health/Check"

run health
expect health "exit 0" test "$rc" -eq 0
expect health "two SERVING answers" test "$(jq -s 'map(select(.status == "SERVING")) | length' <<<"$out")" -eq 2

run bidi-file
expect bidi-file "exit 0" test "$rc" -eq 0
results=$(jq -s '[.[] | .requestId as $id | .results[] | . + {requestId: $id}]' <<<"$out" 2>/dev/null || echo '[]')
result() { jq -c --arg a "$1" '.[] | select(.account == $a)' <<<"$results"; }
expect bidi-file "both requests complete" \
  test "$(jq -s 'map(select(.requestComplete == true)) | length' <<<"$out")" -eq 2
expect bidi-file "alice: Nick is a string" \
  test "$(result alice | jq -r '.items[] | select(.tag == "Tag_Profile_IM_Nick") | .stringValue | type')" = string
# proto3 JSON writes 64-bit integers as strings; the schema's integers are 32-bit, so they come out as numbers.
expect bidi-file "alice: BirthDay is a uintValue, a JSON number" \
  test "$(result alice | jq -r '.items[] | select(.tag == "Tag_Profile_IM_BirthDay") | .uintValue | type')" = number
expect bidi-file "nobody: tencentCode is a JSON number" test "$(result nobody | jq -r '.tencentCode | type')" = number
expect bidi-file "alice answers request 'first'" test "$(result alice | jq -r .requestId)" = first
expect bidi-file "bob answers request 'second'" test "$(result bob | jq -r .requestId)" = second
expect bidi-file "nobody: partial failure 40003 / NOT_FOUND" \
  test "$(result nobody | jq -r '"\(.tencentCode) \(.resultCode) \(.status.code)"')" = \
       "40003 RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND 5"
expect bidi-file "nobody: ErrorInfo TENCENT_40003 decoded" \
  test "$(result nobody | jq -r '.status.details[0] | "\(."@type") \(.reason) \(.metadata.tencent_code)"')" = \
       "type.googleapis.com/google.rpc.ErrorInfo TENCENT_40003 40003"

# The unary BatchGetProfiles: one result per account, in request order, numbers as JSON numbers.
run batch-get
expect batch-get "exit 0" test "$rc" -eq 0
expect batch-get "results in request order" test "$(jq -r '[.results[].account] | join(",")' <<<"$out")" = alice,nobody
expect batch-get "alice: resultCode RESULT_CODE_OK, BirthDay a JSON number" \
  test "$(jq -r '.results[0] | "\(.resultCode) \(.items[] | select(.tag == "Tag_Profile_IM_BirthDay") | .uintValue | type)"' \
    <<<"$out")" = "RESULT_CODE_OK number"
expect batch-get "nobody: tencentCode 40003 as a JSON number, ErrorInfo TENCENT_40003" \
  test "$(jq -r '.results[1] | "\(.tencentCode) \(.tencentCode | type) \(.status.details[0].reason)"' <<<"$out")" = \
       "40003 number TENCENT_40003"

# An invalid request is refused in-band: its own response carries the status; the stream goes on and ends OK.
run invalid-request
expect invalid-request "exit 0 (the stream ends OK)" test "$rc" -eq 0
refused=$(jq -c 'select(.requestId == "bad")' <<<"$out" 2>/dev/null || true)
expect invalid-request "one response for the refused request" test "$(jq -s length <<<"$refused")" -eq 1
expect invalid-request "refused request: complete, no results, request_index 1" \
  test "$(jq -r '"\(.requestComplete) \(.results // [] | length) \(.requestIndex)"' <<<"$refused")" = "true 0 1"
expect invalid-request "refused request: requestIndex is a JSON number" \
  test "$(jq -r '.requestIndex | type' <<<"$refused")" = number
expect invalid-request "refused request: status code 3 (INVALID_ARGUMENT)" \
  test "$(jq -r .status.code <<<"$refused")" = 3
expect invalid-request "refused request: a google.rpc.BadRequest, decoded in place" \
  test "$(jq -r '.status.details[0]."@type"' <<<"$refused")" = type.googleapis.com/google.rpc.BadRequest
expect invalid-request "refused request: field violation requests[1].tags" \
  test "$(jq -r '[.status.details[0].fieldViolations[].field] | join(",")' <<<"$refused")" = "requests[1].tags"
for pair in first:alice third:bob; do
  expect invalid-request "request '${pair%%:*}' still answered (${pair#*:})" \
    test "$(jq -rs --arg id "${pair%%:*}" \
      'map(select(.requestId == $id)) | "\(map(.results // [] | .[].account) | join(",")) \(any(.requestComplete)) \(map(.status.code // 0) | add)"' \
      <<<"$out" 2>/dev/null)" = "${pair#*:} true 0"
done

# A failure of the whole stream (more than max_accounts_per_stream accounts) still ends it, details in the trailer.
run stream-error
expect stream-error "exit 24 (8 x INVALID_ARGUMENT)" test "$rc" -eq 24
expect stream-error "code invalid_argument" test "$(jq -r .code <<<"$err" 2>/dev/null)" = invalid_argument
expect stream-error "a google.rpc.BadRequest detail" \
  test "$(jq -r '.details[0].type' <<<"$err" 2>/dev/null)" = google.rpc.BadRequest

run stream-error-decoded
# pipefail passes buf curl's status (24) through the pipe; the decoded text is what matters.
expect stream-error-decoded "exit 24 (buf curl's, through pipefail)" test "$rc" -eq 24
expect stream-error-decoded "names google.rpc.BadRequest" contains "$out" "google.rpc.BadRequest"
expect stream-error-decoded "decodes field requests[0].accounts" contains "$out" 'field: "requests[0].accounts"'

# The same decoding on the wrong-key bridge (not a README block: it needs that second bridge): FAILED_PRECONDITION
# with ErrorInfo TENCENT_70009.
echo "=== wrong secret key"
set +e
buf curl --protocol grpc --http2-prior-knowledge -d '{"accounts": ["alice"], "tags": ["Tag_Profile_IM_Nick"]}' \
  "http://$BAD_KEY_BRIDGE_ADDRESS/portraitbridge.profile.v1.ProfileService/GetProfiles" \
  >"$work/bad_key.out" 2>"$work/bad_key.err"
rc=$?
set -e
cat "$work/bad_key.err"
expect bad-key "exit 72 (8 x FAILED_PRECONDITION)" test "$rc" -eq 72
expect bad-key "an ErrorInfo detail" test "$(jq -r '.details[0].type' "$work/bad_key.err")" = google.rpc.ErrorInfo
decoded=$(jq -r '.details[0].value | . + (("=" * ((4 - length % 4) % 4)) // "")' "$work/bad_key.err" | base64 -d |
          (cd "$work" && protoc -I proto --decode=google.rpc.ErrorInfo google/rpc/error_details.proto))
echo "$decoded"
expect bad-key "reason TENCENT_70009" contains "$decoded" 'reason: "TENCENT_70009"'
expect bad-key "metadata tencent_code=70009" grep -qzE 'key: "tencent_code"[[:space:]]+value: "70009"' <<<"$decoded"

# grpcurl decodes details by looking their types up through reflection: check the bridge serves them.
echo "=== reflection serves the detail types grpcurl needs"
for symbol in google.rpc.BadRequest google.rpc.ErrorInfo google.rpc.RetryInfo; do
  reply=$(buf curl --protocol grpc --http2-prior-knowledge -d "{\"file_containing_symbol\": \"$symbol\"}" \
    "http://$BRIDGE_ADDRESS/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
  expect reflection "$symbol resolves" test "$(jq -r 'has("fileDescriptorResponse")' <<<"$reply")" = true
done

# What grpcurl describe shows comes from the FileDescriptorProto reflection answers with: it carries the proto
# comments (source info). Asked through v1, which grpcurl and buf curl try first.
echo "=== reflection serves the proto comments (grpcurl describe portraitbridge.profile.v1.BatchGetProfilesRequest)"
reply=$(buf curl --protocol grpc --http2-prior-knowledge \
  -d '{"file_containing_symbol": "portraitbridge.profile.v1.BatchGetProfilesRequest"}' \
  "http://$BRIDGE_ADDRESS/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
described=$(jq -r '.fileDescriptorResponse.fileDescriptorProto[0]' <<<"$reply" | base64 -d |
            protoc --decode=google.protobuf.FileDescriptorProto google/protobuf/descriptor.proto 2>&1 || true)
{ grep -A3 -F 'leading_comments: " One batch lookup' <<<"$described" || true; } | sed 's/^/  > /'
expect describe "profile.proto answered" contains "$described" 'name: "portraitbridge/profile/v1/profile.proto"'
expect describe "BatchGetProfilesRequest's comment" \
  contains "$described" 'leading_comments: " One batch lookup: the same tags for every account.\n"'
expect describe "its accounts field's comment" contains "$described" 'leading_comments: " Tencent UserIDs: each non-empty'

if ((failures)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all buf curl checks passed"
