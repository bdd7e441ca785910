#!/usr/bin/env bash
# Helm chart tests for helm/portrait-bridge: lint, render, Kubernetes-schema validation, values-schema
# rejections, and the contract with the bridge (ports, health service names, drain timing, budget split,
# config checksum). Works from any cwd; needs npm (helm comes from .ci/helm-tools, node packages from
# `npm ci` here when node_modules is missing). Prints "N passed, N failed" last; non-zero on any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
chart="$repo/helm/portrait-bridge"
all_features="$here/values-all-features.yaml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

# ---- tools ----
if ! helm="$(bash "$repo/.ci/helm-tools")" || [ ! -x "$helm" ]; then
  fail "could not install helm with .ci/helm-tools"
  finish
fi
echo "helm: $helm ($("$helm" version --short 2>/dev/null))"
if [ ! -d "$here/node_modules/kubernetes-models" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "npm ci in $here"
  # --prefer-offline: use the npm cache when it has the packages; engines warnings (node 22 wanted,
  # node 20 works) are silenced by loglevel=error.
  if ! (cd "$here" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1); then
    cat "$work/npm.log"
    fail "npm ci in tests/helm"
    finish
  fi
fi

# Minimal values: the two values without defaults.
required=(--set config.sdkappid=1400000000 --set secret.existingSecret=tencent-chat-key)
render() { "$helm" template pb "$chart" --namespace profiles "$@"; }
q() { node "$here/query.mjs" "$@"; }
expect_eq() { # description actual expected
  if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', want '$3'"; fi
}

# ---- lint ----
if out="$("$helm" lint --strict "$chart" "${required[@]}" 2>&1)"; then pass "helm lint --strict (defaults + required values)"; else echo "$out"; fail "helm lint --strict (defaults)"; fi
if out="$("$helm" lint --strict "$chart" -f "$all_features" 2>&1)"; then pass "helm lint --strict (values-all-features.yaml)"; else echo "$out"; fail "helm lint --strict (all features)"; fi

# Defaults alone must not render: sdkappid and the secret have no safe default.
if out="$(render 2>&1)"; then fail "helm template with no values should fail"; else
  grep -q "config.sdkappid is required" <<<"$out" && pass "defaults alone fail with a clear sdkappid message" || { echo "$out"; fail "no sdkappid message"; }
fi

# ---- render + validate against Kubernetes schemas ----
if render "${required[@]}" >"$work/default.yaml" 2>"$work/err"; then pass "helm template (defaults + required values)"; else cat "$work/err"; fail "helm template (defaults)"; finish; fi
if render -f "$all_features" --api-versions monitoring.coreos.com/v1/ServiceMonitor >"$work/all.yaml" 2>"$work/err"; then
  pass "helm template (all features, ServiceMonitor CRD served)"
else cat "$work/err"; fail "helm template (all features)"; finish; fi
for f in default all; do
  if node "$here/validate.mjs" "$work/$f.yaml" >"$work/validate-$f.log" 2>&1; then
    pass "kubernetes-models validation of the $f render: $(tail -n1 "$work/validate-$f.log")"
  else
    cat "$work/validate-$f.log"
    fail "kubernetes-models validation of the $f render"
  fi
done
expect_eq "default render kinds" "$(q "$work/default.yaml" 'docs.map(o => o.kind).sort().join(",")')" \
  "ConfigMap,Deployment,Pod,PodDisruptionBudget,Service,ServiceAccount"
expect_eq "all-features render kinds" "$(q "$work/all.yaml" 'docs.map(o => o.kind).sort().join(",")')" \
  "AuthorizationPolicy,ConfigMap,Deployment,HorizontalPodAutoscaler,NetworkPolicy,PeerAuthentication,Pod,PodDisruptionBudget,Secret,Service,ServiceAccount,ServiceMonitor"

# ---- ServiceMonitor gate: enabled AND the CRD is served ----
render -f "$all_features" >"$work/all-nocrd.yaml" 2>/dev/null
expect_eq "no ServiceMonitor without monitoring.coreos.com/v1 in the cluster" "$(q "$work/all-nocrd.yaml" 'kinds("ServiceMonitor").length')" "0"
expect_eq "ServiceMonitor scrapes the metrics port" "$(q "$work/all.yaml" 'kind("ServiceMonitor").spec.endpoints[0].port')" "metrics"

# ---- the contract with the bridge ----
D='kind("Deployment").spec.template.spec'
C="$D.containers[0]"
expect_eq "liveness: gRPC probe, port 50051, overall health" "$(q "$work/default.yaml" "JSON.stringify($C.livenessProbe.grpc)")" '{"port":50051,"service":""}'
expect_eq "readiness: gRPC probe on the ProfileService" "$(q "$work/default.yaml" "JSON.stringify($C.readinessProbe.grpc)")" '{"port":50051,"service":"tencentcloud.chat.profile.v1.ProfileService"}'
expect_eq "startup probe: gRPC, port 50051" "$(q "$work/default.yaml" "$C.startupProbe.grpc.port")" "50051"
expect_eq "container port grpc" "$(q "$work/default.yaml" "$C.ports.map(p => p.name + ':' + p.containerPort).join(',')")" "grpc:50051,metrics:9464"
expect_eq "listen_address matches the probe port" "$(q "$work/default.yaml" 'config().listen_address')" "0.0.0.0:50051"
expect_eq "metrics_address" "$(q "$work/default.yaml" 'config().metrics_address')" "0.0.0.0:9464"
expect_eq "Service grpc port: name, appProtocol" "$(q "$work/default.yaml" 'kind("Service").spec.ports.filter(p => p.name === "grpc").map(p => p.port + "/" + p.appProtocol + "/" + p.targetPort).join()')" "50051/grpc/grpc"
expect_eq "Service metrics port: name, appProtocol" "$(q "$work/default.yaml" 'kind("Service").spec.ports.filter(p => p.name === "metrics").map(p => p.port + "/" + p.appProtocol).join()')" "9464/http"
expect_eq "--config points at the mounted config.json" "$(q "$work/default.yaml" "$C.args.join(' ') + ' ' + $C.volumeMounts.find(m => m.name === 'config').mountPath")" "--config=/etc/portrait-bridge/config/config.json /etc/portrait-bridge/config"
expect_eq "secret_key_file is the mounted Secret key" "$(q "$work/default.yaml" "config().secret_key_file + ' ' + $D.volumes.find(v => v.name === 'secret-key').secret.secretName")" "/etc/portrait-bridge/secret/secret-key tencent-chat-key"
expect_eq "secret key never in the ConfigMap or env" "$(q "$work/all.yaml" "(kind('ConfigMap').data['config.json'].includes('trial-only') || JSON.stringify($C.env || []).includes('SECRET_KEY'))")" "false"
expect_eq "config.json keys are all bridge keys" "$(q "$work/all.yaml" "Object.keys(config()).filter(k => !['listen_address','metrics_address','sdkappid','admin_identifier','secret_key_file','region','base_url','ca_bundle','usersig_validity_seconds','attempt_timeout_ms','max_accounts_per_call','max_accounts_per_stream','max_inflight_accounts_per_stream','bytes_tags','upstream_calls_per_second','upstream_burst','coalesce_wait_ms','max_pending_accounts','retry_max_attempts','retry_initial_backoff_ms','retry_max_backoff_ms','retry_budget_ratio','cache_ttl_ms','cache_max_entries','cache_negative_ttl_ms','shutdown_grace_seconds','log_level','log_format','tls_cert_file','tls_key_file','tls_client_ca_file'].includes(k)).join(',') || 'none unknown'")" "none unknown"
new_keys='["coalesce_wait_ms","max_pending_accounts","retry_max_attempts","retry_initial_backoff_ms","retry_max_backoff_ms","retry_budget_ratio","cache_ttl_ms","cache_max_entries","cache_negative_ttl_ms"].map(k => k + "=" + JSON.stringify(config()[k])).join(" ")'
expect_eq "default config.json: coalescer, retry and cache keys at the bridge's defaults" "$(q "$work/default.yaml" "$new_keys")" \
  "coalesce_wait_ms=2 max_pending_accounts=100000 retry_max_attempts=3 retry_initial_backoff_ms=50 retry_max_backoff_ms=1000 retry_budget_ratio=0.2 cache_ttl_ms=0 cache_max_entries=200000 cache_negative_ttl_ms=1000"
expect_eq "all-features config.json: coalescer, retry and cache (on) keys from the values" "$(q "$work/all.yaml" "$new_keys")" \
  "coalesce_wait_ms=5 max_pending_accounts=20000 retry_max_attempts=5 retry_initial_backoff_ms=100 retry_max_backoff_ms=2000 retry_budget_ratio=0.5 cache_ttl_ms=60000 cache_max_entries=200000 cache_negative_ttl_ms=5000"
expect_eq "upstream_burst omitted when burstPerReplica is null (bridge default)" "$(q "$work/default.yaml" "'upstream_burst' in config()")" "false"
expect_eq "all-features memory limit sized for its cache" "$(q "$work/all.yaml" "$C.resources.limits.memory")" "384Mi"
expect_eq "sdkappid renders as an integer" "$(q "$work/default.yaml" 'config().sdkappid')" "1400000000"
expect_eq "helm test pod checks both health services" "$(q "$work/default.yaml" 'kind("Pod").spec.initContainers.concat(kind("Pod").spec.containers).map(c => c.args.filter(a => a.startsWith("-service=")).join("") || "-service=(overall)").join(" ")')" "-service=(overall) -service=tencentcloud.chat.profile.v1.ProfileService"
expect_eq "helm test pod targets the Service's gRPC port" "$(q "$work/default.yaml" 'kind("Pod").spec.containers[0].args[0]')" "-addr=pb-portrait-bridge.profiles.svc:50051"

# ---- security ----
expect_eq "pod securityContext" "$(q "$work/default.yaml" "JSON.stringify($D.securityContext)")" '{"runAsNonRoot":true,"runAsUser":10001,"runAsGroup":10001,"fsGroup":10001,"seccompProfile":{"type":"RuntimeDefault"}}'
expect_eq "container securityContext" "$(q "$work/default.yaml" "[$C.securityContext.runAsNonRoot, $C.securityContext.readOnlyRootFilesystem, $C.securityContext.allowPrivilegeEscalation, $C.securityContext.capabilities.drop.join(), $C.securityContext.seccompProfile.type].join(' ')")" "true true false ALL RuntimeDefault"
docker_uid="$(sed -n 's/^USER \([0-9]*\).*/\1/p' "$repo/Dockerfile")"
expect_eq "Dockerfile USER matches the chart's runAsUser" "$docker_uid" "$(q "$work/default.yaml" "String($D.securityContext.runAsUser)")"
expect_eq "ServiceAccount token not mounted" "$(q "$work/default.yaml" "kind('ServiceAccount').automountServiceAccountToken + ' ' + $D.automountServiceAccountToken")" "false false"
expect_eq "topology spread over zone and hostname" "$(q "$work/default.yaml" "$D.topologySpreadConstraints.map(t => t.topologyKey).join(',')")" "topology.kubernetes.io/zone,kubernetes.io/hostname"
expect_eq "resources set" "$(q "$work/default.yaml" "Boolean($C.resources.requests.cpu && $C.resources.requests.memory && $C.resources.limits.memory)")" "true"

# ---- drain timing: terminationGracePeriodSeconds > preStop sleep + shutdown_grace_seconds ----
for f in default all; do
  tgps="$(q "$work/$f.yaml" "$D.terminationGracePeriodSeconds")"
  grace="$(q "$work/$f.yaml" 'config().shutdown_grace_seconds')"
  prestop="$(q "$work/$f.yaml" "(l => l ? (l.sleep ? l.sleep.seconds : Number(l.exec.command[1])) : 0)($C.lifecycle && $C.lifecycle.preStop)")"
  if [ "$tgps" -gt $((grace + prestop)) ]; then pass "$f: terminationGracePeriodSeconds $tgps > preStop $prestop + shutdown_grace_seconds $grace"
  else fail "$f: terminationGracePeriodSeconds $tgps <= preStop $prestop + shutdown_grace_seconds $grace"; fi
done
render "${required[@]}" --set shutdown.graceSeconds=60 >"$work/g.yaml" 2>/dev/null
expect_eq "computed grace follows shutdown.graceSeconds (5 + 60 + 5)" "$(q "$work/g.yaml" "$D.terminationGracePeriodSeconds")" "70"
render "${required[@]}" --set shutdown.preStopSleepSeconds=0 >"$work/g0.yaml" 2>/dev/null
expect_eq "preStopSleepSeconds=0 drops the preStop hook" "$(q "$work/g0.yaml" "String($C.lifecycle)")" "undefined"

# ---- upstream budget split ----
budget() { render "${required[@]}" "$@" 2>/dev/null | q - 'config().upstream_calls_per_second'; }
expect_eq "200/s, autoscaling max 4 -> 50 per replica" "$(budget --set autoscaling.enabled=true --set autoscaling.maxReplicas=4)" "50"
expect_eq "200/s, replicaCount 3 -> floor 66" "$(budget --set replicaCount=3)" "66"
expect_eq "autoscaling ignores replicaCount (max 7, replicas 2) -> 28" "$(budget --set autoscaling.enabled=true --set autoscaling.maxReplicas=7 --set replicaCount=2)" "28"
expect_eq "1000/s, replicaCount 1 -> 1000" "$(budget --set upstream.totalCallsPerSecond=1000 --set replicaCount=1)" "1000"
expect_eq "replicaCount 0 (scaled down) -> the whole budget" "$(budget --set replicaCount=0)" "200"
expect_eq "all features (HPA max 4) -> 50" "$(q "$work/all.yaml" 'config().upstream_calls_per_second')" "50"
expect_eq "Deployment has no replicas under the HPA" "$(q "$work/all.yaml" 'String(kind("Deployment").spec.replicas)')" "undefined"

# ---- config checksum rolls the pods ----
checksum() { render "${required[@]}" "$@" 2>/dev/null | q - 'kind("Deployment").spec.template.metadata.annotations["checksum/config"]'; }
base_sum="$(checksum)"
[[ "$base_sum" =~ ^[0-9a-f]{64}$ ]] && pass "checksum/config is a sha256 ($base_sum)" || fail "checksum/config missing: '$base_sum'"
[ "$(checksum --set config.logLevel=debug)" != "$base_sum" ] && pass "checksum/config changes with log level" || fail "checksum/config unchanged after a config change"
[ "$(checksum --set replicaCount=4)" != "$base_sum" ] && pass "checksum/config changes with the per-replica budget" || fail "checksum/config unchanged after a budget change"
[ "$(checksum --set podAnnotations.x=y)" = "$base_sum" ] && pass "checksum/config stable for non-config changes" || fail "checksum/config changed without a config change"

# ---- values that must be rejected ----
reject() { # description expected-message-fragment helm-args...
  local desc="$1" msg="$2"; shift 2
  if out="$(render "$@" 2>&1)"; then fail "accepted: $desc"
  elif grep -qF -- "$msg" <<<"$out"; then pass "rejected: $desc"
  else echo "$out" | head -5; fail "rejected without the expected message '$msg': $desc"; fi
}
reject "unknown top-level key" "additional properties 'replicas' not allowed" "${required[@]}" --set replicas=3
reject "unknown nested key" "additional properties 'tagg' not allowed" "${required[@]}" --set image.tagg=1
reject "unknown probe key" "additional properties 'port' not allowed" "${required[@]}" --set probes.liveness.port=1
reject "negative replicaCount" "/replicaCount" "${required[@]}" --set replicaCount=-1
reject "unknown region" "/upstream/region" "${required[@]}" --set upstream.region=mars
reject "port 70000" "/ports/grpc" "${required[@]}" --set ports.grpc=70000
reject "service port 0" "/service/grpcPort" "${required[@]}" --set service.grpcPort=0
reject "sdkappid 0" "/config/sdkappid" "${required[@]}" --set config.sdkappid=0
reject "sdkappid above uint32" "/config/sdkappid" "${required[@]}" --set config.sdkappid=4294967296
reject "log level trace" "/config/logLevel" "${required[@]}" --set config.logLevel=trace
reject "log format xml" "/config/logFormat" "${required[@]}" --set config.logFormat=xml
reject "root UID" "/podSecurity/runAsUser" "${required[@]}" --set podSecurity.runAsUser=0
reject "attempt timeout under Tencent's 3 s" "/upstream/attemptTimeoutMs" "${required[@]}" --set upstream.attemptTimeoutMs=3000
reject "bytes tag that is not a custom tag" "/config/bytesTags" "${required[@]}" --set 'config.bytesTags={Tag_Profile_IM_Nick}'
reject "retry maxAttempts 0" "/upstream/retry/maxAttempts" "${required[@]}" --set upstream.retry.maxAttempts=0
reject "retry maxAttempts 11" "/upstream/retry/maxAttempts" "${required[@]}" --set upstream.retry.maxAttempts=11
reject "retry initialBackoffMs 0" "/upstream/retry/initialBackoffMs" "${required[@]}" --set upstream.retry.initialBackoffMs=0
reject "retry maxBackoffMs above 600000" "/upstream/retry/maxBackoffMs" "${required[@]}" --set upstream.retry.maxBackoffMs=600001
reject "retry budgetRatio above 10" "/upstream/retry/budgetRatio" "${required[@]}" --set upstream.retry.budgetRatio=10.5
reject "retry budgetRatio negative" "/upstream/retry/budgetRatio" "${required[@]}" --set upstream.retry.budgetRatio=-0.1
reject "unknown retry key" "additional properties 'attempts' not allowed" "${required[@]}" --set upstream.retry.attempts=2
reject "coalesceWaitMs above 1000" "/config/coalesceWaitMs" "${required[@]}" --set config.coalesceWaitMs=1001
reject "maxPendingAccounts below 100" "/config/maxPendingAccounts" "${required[@]}" --set config.maxPendingAccounts=99
reject "cache ttlMs above 7 days" "/cache/ttlMs" "${required[@]}" --set cache.ttlMs=604800001
reject "cache ttlMs negative" "/cache/ttlMs" "${required[@]}" --set cache.ttlMs=-1
reject "cache maxEntries 0" "/cache/maxEntries" "${required[@]}" --set cache.maxEntries=0
reject "cache negativeTtlMs above 1 h" "/cache/negativeTtlMs" "${required[@]}" --set cache.negativeTtlMs=3600001
reject "unknown cache key" "additional properties 'enabled' not allowed" "${required[@]}" --set cache.enabled=true
reject "retry maxBackoffMs < initialBackoffMs" "must be >= upstream.retry.initialBackoffMs" "${required[@]}" --set upstream.retry.initialBackoffMs=500 --set upstream.retry.maxBackoffMs=100
reject "maxReplicas < minReplicas" "must be >= autoscaling.minReplicas" "${required[@]}" --set autoscaling.enabled=true --set autoscaling.minReplicas=5 --set autoscaling.maxReplicas=3
reject "budget share below 1 call/s" "gives 0 calls/s per replica" "${required[@]}" --set upstream.totalCallsPerSecond=3 --set replicaCount=4
reject "terminationGracePeriodSeconds not above the drain" "must be greater than" "${required[@]}" --set shutdown.terminationGracePeriodSeconds=15
reject "no secret source" "the Tencent secret key is required" --set config.sdkappid=1
reject "both secret sources" "not both" "${required[@]}" --set secret.create=true --set secret.secretKey=x
reject "PDB minAvailable and maxUnavailable" "not both" "${required[@]}" --set podDisruptionBudget.minAvailable=1 --set podDisruptionBudget.maxUnavailable=1
reject "tls without a Secret" "tls.existingSecret" "${required[@]}" --set tls.enabled=true

# ---- the real bridge accepts the rendered config.json ----
# When the bridge is built (PORTRAIT_BRIDGE_BINARY, else build/bridge/portrait-bridge), start it with the
# chart's config.json (secret path swapped for a temp file, loopback port 0), wait until it serves, send
# SIGTERM and expect exit 0: the bridge stops at start on unknown keys or bad values, so this proves
# every key the chart writes is one the bridge knows.
bridge="${PORTRAIT_BRIDGE_BINARY:-$repo/build/bridge/portrait-bridge}"
if [ -x "$bridge" ]; then
  printf 'not-a-real-key' >"$work/secret"
  render "${required[@]}" --set 'config.bytesTags={Tag_Profile_Custom_Blob}' --set upstream.burstPerReplica=7 \
    --set upstream.region=frankfurt --set config.logFormat=text \
    --set config.coalesceWaitMs=0 --set config.maxPendingAccounts=100 --set upstream.retry.maxAttempts=10 \
    --set upstream.retry.initialBackoffMs=60000 --set upstream.retry.maxBackoffMs=600000 --set upstream.retry.budgetRatio=10 \
    --set cache.ttlMs=604800000 --set cache.maxEntries=1 --set cache.negativeTtlMs=3600000 >"$work/rich.yaml" 2>/dev/null
  render "${required[@]}" --set upstream.baseUrl=http://127.0.0.1:9 --set metrics.enabled=false >"$work/baseurl.yaml" 2>/dev/null
  # "all" is the all-features render (cache on, retry and coalescer tuned) minus the CA/TLS files that exist
  # only in the pod; the other renders have none of those keys.
  for f in default rich baseurl all; do
    q "$work/$f.yaml" "JSON.stringify(Object.assign((c => { for (const k of ['ca_bundle','tls_cert_file','tls_key_file','tls_client_ca_file']) delete c[k]; return c; })(config()), {secret_key_file: '$work/secret'}))" >"$work/$f.json"
    rm -f "$work/port"
    "$bridge" --config="$work/$f.json" --listen_address=127.0.0.1:0 \
      $(q "$work/$f.yaml" 'config().metrics_address ? "--metrics_address=127.0.0.1:0" : ""') \
      --port_file="$work/port" >"$work/bridge-$f.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do [ -s "$work/port" ] || ! kill -0 "$pid" 2>/dev/null && break; sleep 0.05; done
    if [ -s "$work/port" ]; then
      kill -TERM "$pid"
      wait "$pid"; rc=$?
      [ "$rc" -eq 0 ] && pass "the bridge starts with the $f config.json and exits 0 on SIGTERM" \
        || { tail -5 "$work/bridge-$f.log"; fail "the bridge exited $rc after SIGTERM ($f config)"; }
    else
      kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
      tail -5 "$work/bridge-$f.log"; fail "the bridge did not start with the $f config.json"
    fi
  done
else
  echo "skip: no bridge binary at $bridge (set PORTRAIT_BRIDGE_BINARY); config acceptance not checked"
fi

# ---- every value is documented in the chart README ----
undocumented="$(cd "$here" && node --input-type=module -e '
  import fs from "node:fs"; import { parse } from "yaml";
  const [values, readme] = [parse(fs.readFileSync(process.argv[1], "utf8")), fs.readFileSync(process.argv[2], "utf8")];
  const paths = [];
  const walk = (o, pre) => { for (const [k, v] of Object.entries(o)) {
    const p = pre ? `${pre}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) walk(v, p); else paths.push(p); } };
  walk(values, "");
  const documented = (p) => { const parts = p.split(".");
    for (let i = parts.length; i > 0; i--) { const pre = parts.slice(0, i).join(".");
      if (readme.includes("`" + pre + "`") || (i < parts.length && readme.includes("`" + pre + ".*`"))) return true; }
    return false; };
  console.log(paths.filter((p) => !documented(p)).join(" "));
' "$chart/values.yaml" "$chart/README.md" 2>&1)"
[ -z "$undocumented" ] && pass "every key of values.yaml is in the README's table" || fail "values missing from README.md: $undocumented"

# ---- NOTES ----
notes="$("$helm" install pb "$chart" --dry-run=client --namespace profiles "${required[@]}" 2>&1 | sed -n '/^NOTES:/,$p')"
for want in "port-forward svc/pb-portrait-bridge 50051:50051" "grpcurl -plaintext localhost:50051 list" \
            "describe tencentcloud.chat.profile.v1.ProfileService" "grpc.health.v1.Health/Check" \
            "tencentcloud.chat.profile.v1.ProfileService/GetProfiles"; do
  grep -qF -- "$want" <<<"$notes" && pass "NOTES.txt shows: $want" || fail "NOTES.txt lacks: $want"
done

finish
