#!/usr/bin/env bash
# Helm chart tests for helm/portrait-bridge: lint, render, Kubernetes-schema validation, values-schema
# rejections, and the contract with the bridge (ports, health service names, drain timing, budget split,
# the Redis budget and cache with the bundled Redis, config checksum), the extension points (global, common
# labels and annotations, extra volumes, sidecars, init containers, LoadBalancer source ranges), appProtocol
# under TLS, the image by digest, the PrometheusRule and the Grafana dashboard (their series checked against
# bridge/service/metrics.cc and grpc_server_metrics.cc by check_series.mjs), the helm test pod, and
# the chart as a file:// subchart of an umbrella chart. Works from any cwd; needs npm (helm comes from .ci/helm-tools, node packages from
# `npm ci` here when node_modules is missing). Prints "N passed, N failed" last; non-zero on any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
chart="$repo/helm/portrait-bridge"
all_features="$here/values-all-features.yaml"
work="$(mktemp -d)"
# The bridges and redis-servers started below carry this run's marker, which the suite's cleanup check looks for.
. "$repo/tests/support/test_run_id.sh"
PORTRAIT_TEST_SUITE_RUN="$(portrait_test_run_id)"
export PORTRAIT_TEST_SUITE_RUN
redis_pids=()
cleanup() {
  for p in "${redis_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

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
crds=(--api-versions monitoring.coreos.com/v1/ServiceMonitor --api-versions monitoring.coreos.com/v1/PrometheusRule)
if render -f "$all_features" "${crds[@]}" >"$work/all.yaml" 2>"$work/err"; then
  pass "helm template (all features, ServiceMonitor and PrometheusRule CRDs served)"
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
expect_eq "all-features render kinds (the bundled Redis adds a Deployment, a Service and a NetworkPolicy)" "$(q "$work/all.yaml" 'docs.map(o => o.kind).sort().join(",")')" \
  "AuthorizationPolicy,ConfigMap,Deployment,Deployment,HorizontalPodAutoscaler,NetworkPolicy,NetworkPolicy,PeerAuthentication,Pod,PodDisruptionBudget,PrometheusRule,Secret,Service,Service,ServiceAccount,ServiceMonitor"

# ---- ServiceMonitor gate: enabled AND the CRD is served ----
render -f "$all_features" >"$work/all-nocrd.yaml" 2>/dev/null
expect_eq "no ServiceMonitor without monitoring.coreos.com/v1 in the cluster" "$(q "$work/all-nocrd.yaml" 'kinds("ServiceMonitor").length')" "0"
expect_eq "no PrometheusRule without monitoring.coreos.com/v1 in the cluster" "$(q "$work/all-nocrd.yaml" 'kinds("PrometheusRule").length')" "0"
expect_eq "ServiceMonitor scrapes the metrics port" "$(q "$work/all.yaml" 'kind("ServiceMonitor").spec.endpoints[0].port')" "metrics"

# ---- the contract with the bridge ----
D='kind("Deployment", "pb-portrait-bridge").spec.template.spec'
C="$D.containers[0]"
expect_eq "liveness: gRPC probe, port 50051, overall health" "$(q "$work/default.yaml" "JSON.stringify($C.livenessProbe.grpc)")" '{"port":50051,"service":""}'
expect_eq "readiness: gRPC probe on the ProfileService" "$(q "$work/default.yaml" "JSON.stringify($C.readinessProbe.grpc)")" '{"port":50051,"service":"portraitbridge.profile.v1.ProfileService"}'
expect_eq "startup probe: gRPC, port 50051" "$(q "$work/default.yaml" "$C.startupProbe.grpc.port")" "50051"
expect_eq "container port grpc" "$(q "$work/default.yaml" "$C.ports.map(p => p.name + ':' + p.containerPort).join(',')")" "grpc:50051,metrics:9464"
expect_eq "listen_address matches the probe port" "$(q "$work/default.yaml" 'config().listen_address')" "0.0.0.0:50051"
expect_eq "metrics_address" "$(q "$work/default.yaml" 'config().metrics_address')" "0.0.0.0:9464"
expect_eq "Service grpc port: name, appProtocol" "$(q "$work/default.yaml" 'kind("Service").spec.ports.filter(p => p.name === "grpc").map(p => p.port + "/" + p.appProtocol + "/" + p.targetPort).join()')" "50051/grpc/grpc"
expect_eq "Service metrics port: name, appProtocol" "$(q "$work/default.yaml" 'kind("Service").spec.ports.filter(p => p.name === "metrics").map(p => p.port + "/" + p.appProtocol).join()')" "9464/http"
expect_eq "--config points at the mounted config.json" "$(q "$work/default.yaml" "$C.args.join(' ') + ' ' + $C.volumeMounts.find(m => m.name === 'config').mountPath")" "--config=/etc/portrait-bridge/config/config.json /etc/portrait-bridge/config"
expect_eq "secret_key_file is the mounted Secret key" "$(q "$work/default.yaml" "config().secret_key_file + ' ' + $D.volumes.find(v => v.name === 'secret-key').secret.secretName")" "/etc/portrait-bridge/secret/secret-key tencent-chat-key"
expect_eq "secret key never in the ConfigMap or env" "$(q "$work/all.yaml" "(kind('ConfigMap').data['config.json'].includes('trial-only') || JSON.stringify($C.env || []).includes('SECRET_KEY'))")" "false"
expect_eq "config.json keys are all bridge keys" "$(q "$work/all.yaml" "Object.keys(config()).filter(k => !['listen_address','metrics_address','sdkappid','admin_identifier','secret_key_file','region','base_url','ca_bundle','usersig_validity_seconds','attempt_timeout_ms','max_accounts_per_call','max_accounts_per_stream','max_accounts_per_batch_get','max_inflight_accounts_per_stream','bytes_tags','upstream_calls_per_second','upstream_burst','coalesce_wait_ms','max_pending_accounts','retry_max_attempts','retry_initial_backoff_ms','retry_max_backoff_ms','retry_budget_ratio','cache_ttl_ms','cache_max_entries','cache_negative_ttl_ms','budget_redis_url','budget_redis_password_file','budget_fallback_calls_per_second','redis_timeout_ms','cache_redis_url','cache_redis_password_file','shutdown_grace_seconds','shutdown_drain_delay_ms','keepalive_min_ping_interval_ms','max_connection_age_ms','max_connection_age_grace_ms','max_streams_per_connection','unread_responses_mib','grpc_memory_quota_mib','max_accepted_accounts','log_level','log_format','tls_cert_file','tls_key_file','tls_client_ca_file','tls_reload_interval_seconds'].includes(k)).join(',') || 'none unknown'")" "none unknown"
new_keys='["coalesce_wait_ms","max_pending_accounts","retry_max_attempts","retry_initial_backoff_ms","retry_max_backoff_ms","retry_budget_ratio","cache_ttl_ms","cache_max_entries","cache_negative_ttl_ms"].map(k => k + "=" + JSON.stringify(config()[k])).join(" ")'
expect_eq "default config.json: coalescer, retry and cache keys at the bridge's defaults" "$(q "$work/default.yaml" "$new_keys")" \
  "coalesce_wait_ms=2 max_pending_accounts=100000 retry_max_attempts=3 retry_initial_backoff_ms=50 retry_max_backoff_ms=1000 retry_budget_ratio=0.2 cache_ttl_ms=0 cache_max_entries=200000 cache_negative_ttl_ms=1000"
expect_eq "all-features config.json: coalescer, retry and cache (on) keys from the values" "$(q "$work/all.yaml" "$new_keys")" \
  "coalesce_wait_ms=5 max_pending_accounts=20000 retry_max_attempts=5 retry_initial_backoff_ms=100 retry_max_backoff_ms=2000 retry_budget_ratio=0.5 cache_ttl_ms=60000 cache_max_entries=200000 cache_negative_ttl_ms=5000"
expect_eq "upstream_burst omitted when burstPerReplica is null (bridge default)" "$(q "$work/default.yaml" "'upstream_burst' in config()")" "false"
expect_eq "all-features memory limit sized for its cache" "$(q "$work/all.yaml" "$C.resources.limits.memory")" "384Mi"
expect_eq "sdkappid renders as an integer" "$(q "$work/default.yaml" 'config().sdkappid')" "1400000000"
expect_eq "helm test pod checks both health services" "$(q "$work/default.yaml" 'kind("Pod").spec.initContainers.concat(kind("Pod").spec.containers).map(c => c.args.filter(a => a.startsWith("-service=")).join("") || "-service=(overall)").join(" ")')" "-service=(overall) -service=portraitbridge.profile.v1.ProfileService"
expect_eq "helm test pod targets the Service's gRPC port" "$(q "$work/default.yaml" 'kind("Pod").spec.containers[0].args[0]')" "-addr=pb-portrait-bridge.profiles.svc:50051"

# ---- helm test: the pod calls the chart's own Service ----
# The address every container of the test pod dials is the rendered Service's name, namespace and gRPC port (so
# a renamed release, fullnameOverride or subchart still tests its own Service), and the pod is a test hook.
test_pod_targets_service='(s => (addr => kind("Pod").spec.initContainers.concat(kind("Pod").spec.containers).every(c => c.args.includes(addr)) ? addr : "mismatch")("-addr=" + s.metadata.name + "." + s.metadata.namespace + ".svc:" + s.spec.ports.find(p => p.name === "grpc").port))(kinds("Service").find(s => s.spec.ports.some(p => p.name === "grpc")))'
test_pod_hook='kind("Pod").metadata.annotations["helm.sh/hook"]'
for f in default all; do
  expect_eq "$f: both helm test containers dial the rendered Service" "$(q "$work/$f.yaml" "$test_pod_targets_service")" \
    "-addr=pb-portrait-bridge.profiles.svc:50051"
  expect_eq "$f: the test pod is a helm test hook" "$(q "$work/$f.yaml" "$test_pod_hook")" "test"
done
expect_eq "with tls.enabled the test pod speaks TLS (and presents the client certificate for mTLS)" \
  "$(q "$work/all.yaml" 'kind("Pod").spec.containers[0].args.filter(a => a.startsWith("-tls")).map(a => a.split("=")[0]).join(" ")')" "-tls -tls-no-verify -tls-client-cert -tls-client-key"
# Certificate renewal without a restart: the Secret is a directory mount (kubelet never updates subPath mounts) and
# the bridge rereads it every tls.reloadIntervalSeconds.
expect_eq "tls: the Secret is mounted as a directory, without subPath" \
  "$(q "$work/all.yaml" "(m => m.mountPath + ' subPath=' + (m.subPath || 'none'))($C.volumeMounts.find(m => m.name === 'tls'))")" \
  "/etc/portrait-bridge/tls subPath=none"
expect_eq "tls.reloadIntervalSeconds renders tls_reload_interval_seconds" \
  "$(render "${required[@]}" --set tls.enabled=true --set tls.existingSecret=t --set tls.reloadIntervalSeconds=30 2>/dev/null | q - 'config().tls_reload_interval_seconds')" "30"
render "${required[@]}" --set fullnameOverride=profiles-api --set service.grpcPort=443 >"$work/renamed.yaml" 2>/dev/null
expect_eq "fullnameOverride and service.grpcPort: the test pod follows the Service" "$(q "$work/renamed.yaml" "$test_pod_targets_service")" "-addr=profiles-api.profiles.svc:443"
expect_eq "tests.enabled=false: no test pod" "$(render "${required[@]}" --set tests.enabled=false 2>/dev/null | q - 'kinds("Pod").length')" "0"

# ---- appProtocol matches the wire ----
expect_eq "plaintext: Service grpc port appProtocol grpc (h2c)" "$(q "$work/default.yaml" 'kind("Service").spec.ports.find(p => p.name === "grpc").appProtocol')" "grpc"
expect_eq "tls.enabled: appProtocol https (TLS the pod terminates; a sidecar passes it through)" \
  "$(q "$work/all.yaml" 'kind("Service", "pb-portrait-bridge").spec.ports.find(p => p.name === "grpc").appProtocol')" "https"
expect_eq "tls.enabled without clientAuth: appProtocol https too" \
  "$(render "${required[@]}" --set tls.enabled=true --set tls.existingSecret=t 2>/dev/null | q - 'kind("Service").spec.ports.find(p => p.name === "grpc").appProtocol')" "https"

# ---- image: tag, digest, global.imageRegistry; version label and OCI annotations ----
PT='kind("Deployment", "pb-portrait-bridge").spec.template'
expect_eq "default image: repository:appVersion" "$(q "$work/default.yaml" "$C.image")" "portrait-bridge:0.1.0"
expect_eq "image.digest: repository@digest (the tag is ignored)" "$(q "$work/all.yaml" "$C.image")" \
  "registry.example.com/platform/portrait-bridge@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
render "${required[@]}" --set image.tag=1.4.2 >"$work/tag.yaml" 2>/dev/null
expect_eq "image.tag without digest: repository:tag" "$(q "$work/tag.yaml" "$C.image")" "portrait-bridge:1.4.2"
expect_eq "app.kubernetes.io/version follows image.tag (objects and pods)" \
  "$(q "$work/tag.yaml" "[kind('Service').metadata.labels['app.kubernetes.io/version'], $PT.metadata.labels['app.kubernetes.io/version']].join(' ')")" "1.4.2 1.4.2"
expect_eq "app.kubernetes.io/version is the appVersion by default" "$(q "$work/default.yaml" "$PT.metadata.labels['app.kubernetes.io/version']")" "0.1.0"
expect_eq "a tag outside label syntax becomes a valid label value" \
  "$(render "${required[@]}" --set image.tag=1.4.2+build.7 2>/dev/null | q - "$PT.metadata.labels['app.kubernetes.io/version']")" "1.4.2_build.7"
expect_eq "OCI annotations on the pod template: title, version" \
  "$(q "$work/tag.yaml" "['title', 'version'].map(k => $PT.metadata.annotations['org.opencontainers.image.' + k]).join(' ')")" "portrait-bridge 1.4.2"
render "${required[@]}" --set global.imageRegistry=mirror.example.com:5000 --set redis.enabled=true \
  --set 'global.imagePullSecrets[0]=mirror-pull' --set 'global.imagePullSecrets[1].name=other-pull' --set 'imagePullSecrets[0].name=mirror-pull' \
  --set global.anotherChartsValue=1 >"$work/global.yaml" 2>"$work/err" && pass "helm template with global values (imageRegistry, imagePullSecrets, another chart's global)" \
  || { cat "$work/err"; fail "helm template with global values"; }
expect_eq "global.imageRegistry prefixes a repository without a registry (bridge, Redis)" \
  "$(q "$work/global.yaml" "[$C.image, kind('Deployment', 'pb-portrait-bridge-redis').spec.template.spec.containers[0].image].join(' ')")" \
  "mirror.example.com:5000/portrait-bridge:0.1.0 mirror.example.com:5000/redis:7"
expect_eq "global.imageRegistry replaces the registry host of a repository that has one (test image)" \
  "$(q "$work/global.yaml" 'kind("Pod").spec.containers[0].image')" "mirror.example.com:5000/grpc-ecosystem/grpc-health-probe:v0.4.40"
expect_eq "global.imageRegistry with a digest" \
  "$(render "${required[@]}" --set global.imageRegistry=mirror.example.com --set image.repository=registry.example.com/platform/portrait-bridge --set image.digest=sha256:$(printf 'a%.0s' $(seq 64)) 2>/dev/null | q - "$C.image")" \
  "mirror.example.com/platform/portrait-bridge@sha256:$(printf 'a%.0s' $(seq 64))"
expect_eq "imagePullSecrets + global.imagePullSecrets, without repeats, on every pod" \
  "$(q "$work/global.yaml" 'docs.filter(o => o.kind === "Deployment" || o.kind === "Pod").map(o => (o.spec.template || o).spec.imagePullSecrets.map(s => s.name).join("+")).join(" ")')" \
  "mirror-pull+other-pull mirror-pull+other-pull mirror-pull+other-pull"
expect_eq "no imagePullSecrets by default" "$(q "$work/default.yaml" "String($D.imagePullSecrets)")" "undefined"

# ---- commonLabels, commonAnnotations: on every object ----
expect_eq "all features: commonLabels on every object" \
  "$(q "$work/all.yaml" 'docs.filter(o => o.metadata.labels["example.com/cost-center"] !== "profiles-42").map(o => o.kind + "/" + o.metadata.name).join(",") || "all"')" "all"
expect_eq "all features: commonAnnotations on every object" \
  "$(q "$work/all.yaml" 'docs.filter(o => (o.metadata.annotations || {})["example.com/contact"] !== "platform-oncall").map(o => o.kind + "/" + o.metadata.name).join(",") || "all"')" "all"
expect_eq "all features: commonLabels on both pod templates" \
  "$(q "$work/all.yaml" 'kinds("Deployment").map(d => d.spec.template.metadata.labels["example.com/cost-center"]).join(" ")')" "profiles-42 profiles-42"
expect_eq "an object's own annotation wins over commonAnnotations (Service)" \
  "$(q "$work/all.yaml" 'kind("Service", "pb-portrait-bridge").metadata.annotations["example.com/owner"]')" "platform"
expect_eq "the chart's own annotations stay next to commonAnnotations (HPA share, test hook)" \
  "$(q "$work/all.yaml" '[kind("HorizontalPodAutoscaler").metadata.annotations["portrait-bridge.io/upstream-fallback-calls-per-replica"], kind("Pod").metadata.annotations["helm.sh/hook"]].join(" ")')" "50 test"
expect_eq "selectors carry no commonLabels (they are immutable)" \
  "$(q "$work/all.yaml" '[kind("Deployment", "pb-portrait-bridge").spec.selector.matchLabels, kind("Service", "pb-portrait-bridge").spec.selector, kind("PodDisruptionBudget").spec.selector.matchLabels].some(s => "example.com/cost-center" in s)')" "false"
expect_eq "podLabels win over commonLabels on the pod template" \
  "$(render "${required[@]}" --set commonLabels.team=a --set podLabels.team=b 2>/dev/null | q - "[kind('Service').metadata.labels.team, $PT.metadata.labels.team].join(' ')")" "a b"
expect_eq "default: no annotations on any object but the helm test hook" \
  "$(q "$work/default.yaml" 'docs.filter(o => o.metadata.annotations).map(o => o.kind).join(",")')" "Pod"
expect_eq "default: only the chart's own labels" \
  "$(q "$work/default.yaml" '[...new Set(docs.flatMap(o => Object.keys(o.metadata.labels)))].sort().join(",")')" \
  "app.kubernetes.io/component,app.kubernetes.io/instance,app.kubernetes.io/managed-by,app.kubernetes.io/name,app.kubernetes.io/part-of,app.kubernetes.io/version,helm.sh/chart"

# ---- extraVolumes, extraVolumeMounts, sidecars, initContainers ----
expect_eq "all features: extraVolumes appended to the pod's volumes" "$(q "$work/all.yaml" "$D.volumes.slice(-1).map(v => v.name + ' ' + v.emptyDir.sizeLimit).join()")" "shared-tmp 16Mi"
expect_eq "all features: extraVolumeMounts appended to the bridge's mounts" "$(q "$work/all.yaml" "$C.volumeMounts.slice(-1).map(m => [m.name, m.mountPath, m.readOnly].join(' ')).join()")" "shared-tmp /var/run/portrait-bridge-extra true"
expect_eq "all features: the bridge first, then the sidecars" "$(q "$work/all.yaml" "$D.containers.map(c => c.name).join(',')")" "portrait-bridge,log-shipper"
expect_eq "all features: initContainers" "$(q "$work/all.yaml" "$D.initContainers.map(c => c.name + '=' + c.image).join(',')")" "wait-for-proxy=registry.example.com/mirror/busybox:1.36"
expect_eq "all features: every volume a container mounts exists" \
  "$(q "$work/all.yaml" "$D.containers.concat($D.initContainers).flatMap(c => (c.volumeMounts || []).map(m => m.name)).filter(n => !$D.volumes.some(v => v.name === n)).join(',') || 'all exist'")" "all exist"
expect_eq "default: no initContainers, one container, the chart's two volumes" \
  "$(q "$work/default.yaml" "[String($D.initContainers), $D.containers.length, $D.volumes.map(v => v.name).join('+'), $C.volumeMounts.length].join(' ')")" "undefined 1 config+secret-key 2"
expect_eq "extraEnv rendered into the bridge's env" "$(q "$work/all.yaml" "$C.env.map(e => e.name).join(',')")" "HTTPS_PROXY,NO_PROXY"
expect_eq "default: no env" "$(q "$work/default.yaml" "String($C.env)")" "undefined"

# ---- service.loadBalancerSourceRanges ----
expect_eq "all features: LoadBalancer with loadBalancerSourceRanges" \
  "$(q "$work/all.yaml" '(s => s.spec.type + " " + s.spec.loadBalancerSourceRanges.join(","))(kind("Service", "pb-portrait-bridge"))')" "LoadBalancer 203.0.113.0/24,2001:db8::/32"
expect_eq "default: ClusterIP, no loadBalancerSourceRanges" "$(q "$work/default.yaml" '(s => s.spec.type + " " + String(s.spec.loadBalancerSourceRanges))(kind("Service"))')" "ClusterIP undefined"
expect_eq "LoadBalancer without ranges: none rendered" \
  "$(render "${required[@]}" --set service.type=LoadBalancer 2>/dev/null | q - 'String(kind("Service").spec.loadBalancerSourceRanges)')" "undefined"

# ---- PrometheusRule ----
PR='kind("PrometheusRule")'
expect_eq "PrometheusRule: labels for the Prometheus selector, group interval" \
  "$(q "$work/all.yaml" "[$PR.metadata.labels.release, $PR.spec.groups[0].interval].join(' ')")" "kube-prometheus-stack 1m"
expect_eq "PrometheusRule: the four alerts, then extraRules" \
  "$(q "$work/all.yaml" "$PR.spec.groups[0].rules.map(r => r.alert).join(',')")" \
  "PortraitBridgeBudgetRefusals,PortraitBridgeUpstreamThrottled,PortraitBridgeUpstreamErrors,PortraitBridgeMisconfigured,PortraitBridgeNoStreams"
expect_eq "PrometheusRule: severities, alertLabels, for" \
  "$(q "$work/all.yaml" "$PR.spec.groups[0].rules.slice(0, 4).map(r => r.labels.severity + '/' + r.labels.team + '/' + r.for).join(' ')")" \
  "warning/profiles/15m warning/profiles/5m warning/profiles/10m critical/profiles/5m"
expect_eq "PrometheusRule: thresholds and the rate window from the values" \
  "$(q "$work/all.yaml" "$PR.spec.groups[0].rules.slice(0, 4).map(r => r.expr.match(/> ([0-9.]+)\s*$/)[1] + '@' + [...new Set(r.expr.match(/\[[0-9a-z]+\]/g))].join()).join(' ')")" \
  "2@[10m] 0@[10m] 0.1@[10m] 0@"
expect_eq "PrometheusRule: every series selected by the release's namespace and job (the Service name)" \
  "$(q "$work/all.yaml" "$PR.spec.groups[0].rules.slice(0, 4).every(r => r.expr.match(/(portrait_bridge|grpc_server)_\w+\{[^}]*\}/g).every(m => m.includes('namespace=\"profiles\", job=\"pb-portrait-bridge\"')))")" "true"
# The expressions use only series and labels the bridge exports (check_series.mjs: metric names and label names
# from bridge/service/metrics.cc and grpc_server_metrics.cc); label values from the code that produces them (the
# upstream client's observe() for upstream_calls_total's code).
metrics_sources=("$repo/bridge/service/metrics.cc" "$repo/bridge/service/grpc_server_metrics.cc")
if [ -f "${metrics_sources[0]}" ]; then
  q "$work/all.yaml" "$PR.spec.groups[0].rules.slice(0, 4).map(r => r.expr).join('\n')" >"$work/exprs.txt"
  series_check="$(node "$here/check_series.mjs" "$work/exprs.txt" "${metrics_sources[@]}" 2>&1)"
  expect_eq "PrometheusRule series and labels are the bridge's (metrics.cc, grpc_server_metrics.cc)" "$series_check" "5 selectors, all known series and labels"
  grep -q 'observe("cancelled")' "$repo/bridge/service/upstream_client.cc" && grep -q 'observe(absl::StrCat(answer->error_code))' "$repo/bridge/service/upstream_client.cc" \
    && pass "upstream_calls_total code values \"cancelled\" and \"0\" (ErrorCode) are what the upstream client observes" \
    || fail "upstream_calls_total: the upstream client no longer observes \"cancelled\" / the ErrorCode as code"
  # The check itself can fail: an unknown series and an unknown label are reported.
  printf '%s\n' 'rate(portrait_bridge_no_such_total{job="x"}[5m])' 'rate(grpc_server_handled_total{grpc_codes="OK"}[5m])' >"$work/bad-exprs.txt"
  expect_eq "the series check reports an unknown series and an unknown label" \
    "$(node "$here/check_series.mjs" "$work/bad-exprs.txt" "${metrics_sources[@]}" 2>&1)" \
    "portrait_bridge_no_such_total: not a series of the bridge; grpc_server_handled_total: no label grpc_codes"
fi
expect_eq "a disabled alert is not rendered" \
  "$(render "${required[@]}" "${crds[@]}" --set prometheusRule.enabled=true --set prometheusRule.alerts.throttled.enabled=false 2>/dev/null | q - "$PR.spec.groups[0].rules.map(r => r.alert).join(',')")" \
  "PortraitBridgeBudgetRefusals,PortraitBridgeUpstreamErrors,PortraitBridgeMisconfigured"
expect_eq "prometheusRule.seriesSelector replaces the default matchers" \
  "$(render "${required[@]}" "${crds[@]}" --set prometheusRule.enabled=true --set 'prometheusRule.seriesSelector=service="pb"' 2>/dev/null | q - "$PR.spec.groups[0].rules[1].expr")" \
  'sum by (namespace, job) (rate(portrait_bridge_upstream_throttled_total{service="pb"}[5m])) > 0'
expect_eq "default: no PrometheusRule, even with the CRD served" "$(render "${required[@]}" "${crds[@]}" 2>/dev/null | q - 'kinds("PrometheusRule").length')" "0"

# ---- Grafana dashboard ----
expect_eq "default: no dashboard ConfigMap" "$(q "$work/default.yaml" 'kinds("ConfigMap").filter(o => o.metadata.name.endsWith("-dashboard")).length')" "0"
if render "${required[@]}" --set grafanaDashboard.enabled=true --set grafanaDashboard.annotations.grafana_folder=Profiles \
  --set grafanaDashboard.labels.team=profiles >"$work/dashboard.yaml" 2>"$work/err"; then
  pass "helm template with grafanaDashboard.enabled"
  if node "$here/validate.mjs" "$work/dashboard.yaml" >"$work/validate-dashboard.log" 2>&1; then pass "dashboard render: Kubernetes schemas"; else cat "$work/validate-dashboard.log"; fail "dashboard render: Kubernetes schemas"; fi
  GD='kind("ConfigMap", "pb-portrait-bridge-dashboard")'
  expect_eq "dashboard ConfigMap: sidecar label, extra label, folder annotation, namespace" \
    "$(q "$work/dashboard.yaml" "[$GD.metadata.labels.grafana_dashboard, $GD.metadata.labels.team, $GD.metadata.annotations.grafana_folder, $GD.metadata.namespace].join(' ')")" "1 profiles Profiles profiles"
  expect_eq "dashboard JSON parses: title, uid, panels" \
    "$(q "$work/dashboard.yaml" "(d => [d.title, d.uid, d.panels.filter(p => p.type !== 'row').length].join(' '))(JSON.parse($GD.data['portrait-bridge.json']))")" "Portrait Bridge portrait-bridge 16"
  q "$work/dashboard.yaml" "(d => [...d.panels.flatMap(p => (p.targets || []).map(t => t.expr)), ...d.templating.list.map(v => v.definition || '')].join('\n'))(JSON.parse($GD.data['portrait-bridge.json']))" >"$work/dashboard-exprs.txt"
  expect_eq "dashboard queries use only the bridge's series and labels (metrics.cc, grpc_server_metrics.cc)" \
    "$(node "$here/check_series.mjs" "$work/dashboard-exprs.txt" "${metrics_sources[@]}" 2>&1)" "36 selectors, all known series and labels"
  expect_eq "dashboard: the issue's panels (request rate, error ratio, handling time, lookup latency, upstream, batch fill, pending, budget, cache hit ratio, retries)" \
    "$(for s in grpc_server_handled_total grpc_server_handling_seconds_bucket portrait_bridge_lookup_duration_seconds_bucket portrait_bridge_upstream_call_duration_seconds_count portrait_bridge_upstream_call_accounts_sum portrait_bridge_pending_accounts portrait_bridge_budget_calls_per_second portrait_bridge_budget_waits_total portrait_bridge_budget_exhausted_total portrait_bridge_cache_accounts_total portrait_bridge_upstream_retries_total; do grep -q "$s" "$work/dashboard-exprs.txt" || echo "missing $s"; done)" ""
else
  cat "$work/err"; fail "helm template with grafanaDashboard.enabled"
fi
expect_eq "grafanaDashboard.namespace places the ConfigMap" \
  "$(render "${required[@]}" --set grafanaDashboard.enabled=true --set grafanaDashboard.namespace=monitoring 2>/dev/null | q - 'kind("ConfigMap", "pb-portrait-bridge-dashboard").metadata.namespace')" "monitoring"

# ---- security ----
expect_eq "pod securityContext" "$(q "$work/default.yaml" "JSON.stringify($D.securityContext)")" '{"runAsNonRoot":true,"runAsUser":10001,"runAsGroup":10001,"fsGroup":10001,"seccompProfile":{"type":"RuntimeDefault"}}'
expect_eq "container securityContext" "$(q "$work/default.yaml" "[$C.securityContext.runAsNonRoot, $C.securityContext.readOnlyRootFilesystem, $C.securityContext.allowPrivilegeEscalation, $C.securityContext.capabilities.drop.join(), $C.securityContext.seccompProfile.type].join(' ')")" "true true false ALL RuntimeDefault"
docker_uid="$(sed -n 's/^USER \([0-9]*\).*/\1/p' "$repo/Dockerfile")"
expect_eq "Dockerfile USER matches the chart's runAsUser" "$docker_uid" "$(q "$work/default.yaml" "String($D.securityContext.runAsUser)")"
expect_eq "ServiceAccount token not mounted" "$(q "$work/default.yaml" "kind('ServiceAccount').automountServiceAccountToken + ' ' + $D.automountServiceAccountToken")" "false false"
expect_eq "topology spread over zone and hostname" "$(q "$work/default.yaml" "$D.topologySpreadConstraints.map(t => t.topologyKey).join(',')")" "topology.kubernetes.io/zone,kubernetes.io/hostname"
expect_eq "resources set" "$(q "$work/default.yaml" "Boolean($C.resources.requests.cpu && $C.resources.requests.memory && $C.resources.limits.memory)")" "true"

# ---- drain timing: terminationGracePeriodSeconds > preStop sleep + shutdown_drain_delay_ms + shutdown_grace_seconds ----
for f in default all; do
  tgps="$(q "$work/$f.yaml" "$D.terminationGracePeriodSeconds")"
  grace="$(q "$work/$f.yaml" 'config().shutdown_grace_seconds')"
  drain="$(q "$work/$f.yaml" 'Math.ceil(config().shutdown_drain_delay_ms / 1000)')"
  prestop="$(q "$work/$f.yaml" "(l => l ? (l.sleep ? l.sleep.seconds : Number(l.exec.command[1])) : 0)($C.lifecycle && $C.lifecycle.preStop)")"
  if [ "$tgps" -gt $((grace + drain + prestop)) ]; then pass "$f: terminationGracePeriodSeconds $tgps > preStop $prestop + drain delay $drain + shutdown_grace_seconds $grace"
  else fail "$f: terminationGracePeriodSeconds $tgps <= preStop $prestop + drain delay $drain + shutdown_grace_seconds $grace"; fi
done
render "${required[@]}" --set shutdown.graceSeconds=60 >"$work/g.yaml" 2>/dev/null
expect_eq "computed grace follows shutdown.graceSeconds (5 + 2 + 60 + 5)" "$(q "$work/g.yaml" "$D.terminationGracePeriodSeconds")" "72"
expect_eq "connection and drain keys at the bridge's defaults" "$(q "$work/default.yaml" "['shutdown_drain_delay_ms','keepalive_min_ping_interval_ms','max_connection_age_ms','max_connection_age_grace_ms','max_streams_per_connection'].map(k => config()[k]).join(' ')")" "2000 5000 300000 30000 100"
expect_eq "memory keys at the bridge's defaults" "$(q "$work/default.yaml" "['unread_responses_mib','grpc_memory_quota_mib','max_accepted_accounts'].map(k => config()[k]).join(' ')")" "64 64 300000"
render "${required[@]}" --set shutdown.preStopSleepSeconds=0 >"$work/g0.yaml" 2>/dev/null
expect_eq "preStopSleepSeconds=0 drops the preStop hook" "$(q "$work/g0.yaml" "String($C.lifecycle)")" "undefined"

# ---- upstream budget split ----
budget() { render "${required[@]}" "$@" 2>/dev/null | q - 'config().upstream_calls_per_second'; }
expect_eq "200/s, autoscaling max 4 -> 50 per replica" "$(budget --set autoscaling.enabled=true --set autoscaling.maxReplicas=4)" "50"
expect_eq "200/s, replicaCount 3 -> floor 66" "$(budget --set replicaCount=3)" "66"
expect_eq "autoscaling ignores replicaCount (max 7, replicas 2) -> 28" "$(budget --set autoscaling.enabled=true --set autoscaling.maxReplicas=7 --set replicaCount=2)" "28"
expect_eq "1000/s, replicaCount 1 -> 1000" "$(budget --set upstream.totalCallsPerSecond=1000 --set replicaCount=1)" "1000"
expect_eq "replicaCount 0 (scaled down) -> the whole budget" "$(budget --set replicaCount=0)" "200"
expect_eq "all features (HPA max 4, bundled Redis): the whole 200, fallback 50" "$(q "$work/all.yaml" '[config().upstream_calls_per_second, config().budget_fallback_calls_per_second].join(" ")')" "200 50"
expect_eq "Deployment has no replicas under the HPA" "$(q "$work/all.yaml" 'String(kind("Deployment", "pb-portrait-bridge").spec.replicas)')" "undefined"

# ---- shared budget and cache in Redis ----
redis_keys='["budget_redis_url","budget_redis_password_file","budget_fallback_calls_per_second","redis_timeout_ms","cache_redis_url","cache_redis_password_file"]'
R='kind("Deployment", "pb-portrait-bridge-redis")'
RS="$R.spec.template.spec"
RC="$RS.containers[0]"
# Default: no Redis anywhere, the static split as before.
expect_eq "default render: no Redis objects" "$(q "$work/default.yaml" 'docs.filter(o => o.metadata.name.endsWith("-redis")).map(o => o.kind).join(",") || "none"')" "none"
expect_eq "default config.json: no Redis key" "$(q "$work/default.yaml" "$redis_keys.filter(k => k in config()).join(',') || 'none'")" "none"
expect_eq "default: static split 200 / replicaCount 2 = 100 per replica" "$(q "$work/default.yaml" 'config().upstream_calls_per_second')" "100"

# redis.enabled: the bundled Redis, the whole budget through it, the static split as the fallback.
bundled=(--set redis.enabled=true --set networkPolicy.enabled=true --set autoscaling.enabled=true --set autoscaling.maxReplicas=4)
if render "${required[@]}" "${bundled[@]}" >"$work/bundled.yaml" 2>"$work/err"; then pass "helm template (redis.enabled, NetworkPolicy, HPA max 4)"; else cat "$work/err"; fail "helm template (redis.enabled)"; fi
expect_eq "redis.enabled renders the Redis Deployment, Service and NetworkPolicy" \
  "$(q "$work/bundled.yaml" 'docs.filter(o => o.metadata.name === "pb-portrait-bridge-redis").map(o => o.kind).sort().join(",")')" "Deployment,NetworkPolicy,Service"
expect_eq "bundled: the budget uses the bundled Redis" "$(q "$work/bundled.yaml" 'config().budget_redis_url')" "redis://pb-portrait-bridge-redis:6379"
expect_eq "bundled: upstream_calls_per_second is the whole app budget" "$(q "$work/bundled.yaml" 'config().upstream_calls_per_second')" "200"
expect_eq "bundled: budget_fallback_calls_per_second = floor(200 / maxReplicas 4)" "$(q "$work/bundled.yaml" 'config().budget_fallback_calls_per_second')" "50"
expect_eq "bundled: redis_timeout_ms, no password file, no cache Redis" "$(q "$work/bundled.yaml" "[config().redis_timeout_ms, 'budget_redis_password_file' in config(), 'cache_redis_url' in config()].join(' ')")" "10 false false"
expect_eq "bundled, no HPA, replicaCount 3: fallback floor(200 / 3)" \
  "$(render "${required[@]}" --set redis.enabled=true --set replicaCount=3 2>/dev/null | q - '[config().upstream_calls_per_second, config().budget_fallback_calls_per_second].join(" ")')" "200 66"
expect_eq "bundled: the HPA annotates the fallback share" "$(q "$work/bundled.yaml" 'JSON.stringify(kind("HorizontalPodAutoscaler").metadata.annotations)')" '{"portrait-bridge.io/upstream-fallback-calls-per-replica":"50"}'
expect_eq "Redis Service: port 6379 to the container port redis" \
  "$(q "$work/bundled.yaml" 'kind("Service", "pb-portrait-bridge-redis").spec.ports.map(p => p.port + "/" + p.targetPort + "/" + p.protocol).join()')" "6379/redis/TCP"
expect_eq "Redis container port" "$(q "$work/bundled.yaml" "$RC.ports.map(p => p.name + ':' + p.containerPort).join()")" "redis:6379"
expect_eq "the Redis Service selects the Redis pods, not the bridge's" \
  "$(q "$work/bundled.yaml" '(sel => [sel(kind("Deployment", "pb-portrait-bridge-redis")), sel(kind("Deployment", "pb-portrait-bridge"))])(d => Object.entries(kind("Service", "pb-portrait-bridge-redis").spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v)).join(" ")')" "true false"
expect_eq "the bridge's Service and PDB do not select the Redis pods" \
  "$(q "$work/bundled.yaml" '[kind("Service", "pb-portrait-bridge").spec.selector, kind("PodDisruptionBudget").spec.selector.matchLabels].map(s => Object.entries(s).every(([k, v]) => kind("Deployment", "pb-portrait-bridge-redis").spec.template.metadata.labels[k] === v)).join(" ")')" "false false"
expect_eq "Redis image and args (no persistence)" "$(q "$work/bundled.yaml" "$RC.image + ' ' + JSON.stringify($RC.command.concat($RC.args))")" \
  'redis:7 ["redis-server","--port","6379","--save","","--appendonly","no","--protected-mode","no","--maxmemory","64mb","--maxmemory-policy","allkeys-lru"]'
expect_eq "Redis pod securityContext" "$(q "$work/bundled.yaml" "JSON.stringify($RS.securityContext)")" '{"runAsNonRoot":true,"runAsUser":999,"runAsGroup":999,"fsGroup":999,"seccompProfile":{"type":"RuntimeDefault"}}'
expect_eq "Redis container securityContext" \
  "$(q "$work/bundled.yaml" "[$RC.securityContext.runAsNonRoot, $RC.securityContext.runAsUser, $RC.securityContext.readOnlyRootFilesystem, $RC.securityContext.allowPrivilegeEscalation, $RC.securityContext.capabilities.drop.join(), $RC.securityContext.seccompProfile.type].join(' ')")" "true 999 true false ALL RuntimeDefault"
expect_eq "Redis /data is an emptyDir (read-only root filesystem)" \
  "$(q "$work/bundled.yaml" "$RC.volumeMounts.find(m => m.mountPath === '/data').name + ' ' + JSON.stringify($RS.volumes.find(v => v.name === $RC.volumeMounts.find(m => m.mountPath === '/data').name).emptyDir)")" 'data {"sizeLimit":"64Mi"}'
expect_eq "Redis probes: readiness redis-cli ping, liveness tcp" \
  "$(q "$work/bundled.yaml" "$RC.readinessProbe.exec.command.join(' ') + ' | ' + $RC.livenessProbe.tcpSocket.port")" "redis-cli -p 6379 ping | redis"
expect_eq "Redis resources set" "$(q "$work/bundled.yaml" "Boolean($RC.resources.requests.cpu && $RC.resources.requests.memory && $RC.resources.limits.memory)")" "true"
expect_eq "Redis: one replica, Recreate, no token" "$(q "$work/bundled.yaml" "[$R.spec.replicas, $R.spec.strategy.type, $RS.automountServiceAccountToken].join(' ')")" "1 Recreate false"
expect_eq "NetworkPolicy: the bridge may reach the bundled Redis on 6379" \
  "$(q "$work/bundled.yaml" 'JSON.stringify(kind("NetworkPolicy", "pb-portrait-bridge").spec.egress.find(e => e.ports.some(p => p.port === 6379)))')" \
  '{"ports":[{"port":6379,"protocol":"TCP"}],"to":[{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"portrait-bridge-redis","app.kubernetes.io/instance":"pb"}}}]}'
expect_eq "NetworkPolicy: the Redis pods accept only the bridge pods, send nothing" \
  "$(q "$work/bundled.yaml" 'JSON.stringify((n => [n.spec.podSelector, n.spec.ingress, n.spec.egress])(kind("NetworkPolicy", "pb-portrait-bridge-redis")))')" \
  '[{"matchLabels":{"app.kubernetes.io/name":"portrait-bridge-redis","app.kubernetes.io/instance":"pb"}},[{"ports":[{"port":"redis","protocol":"TCP"}],"from":[{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"portrait-bridge","app.kubernetes.io/instance":"pb","app.kubernetes.io/component":"server"}}}]}],[]]'
expect_eq "the Redis NetworkPolicy's peer selects the bridge pods" \
  "$(q "$work/bundled.yaml" 'Object.entries(kind("NetworkPolicy", "pb-portrait-bridge-redis").spec.ingress[0].from[0].podSelector.matchLabels).every(([k, v]) => kind("Deployment", "pb-portrait-bridge").spec.template.metadata.labels[k] === v)')" "true"
render "${required[@]}" --set redis.enabled=true --set cache.ttlMs=30000 --set cache.redis.useBundled=true >"$work/bundled-cache.yaml" 2>/dev/null
expect_eq "cache.redis.useBundled: the cache uses the bundled Redis too" "$(q "$work/bundled-cache.yaml" '[config().cache_redis_url, config().budget_redis_url].join(" ")')" \
  "redis://pb-portrait-bridge-redis:6379 redis://pb-portrait-bridge-redis:6379"

# budget.redis.url + existingSecret: an external Redis with a password file from the Secret.
external=(--set budget.redis.url=redis://redis-budget.infra.svc:6380/2 --set budget.redis.existingSecret=budget-redis
          --set networkPolicy.enabled=true --set 'networkPolicy.redisTo[0].ipBlock.cidr=10.30.0.0/24' --set replicaCount=4)
if render "${required[@]}" "${external[@]}" >"$work/external.yaml" 2>"$work/err"; then pass "helm template (budget.redis.url + existingSecret)"; else cat "$work/err"; fail "helm template (budget.redis.url)"; fi
expect_eq "external: no bundled Redis objects" "$(q "$work/external.yaml" 'docs.filter(o => o.metadata.name.endsWith("-redis")).length')" "0"
expect_eq "external: budget_redis_url, the whole budget, fallback floor(200 / 4)" \
  "$(q "$work/external.yaml" '[config().budget_redis_url, config().upstream_calls_per_second, config().budget_fallback_calls_per_second].join(" ")')" "redis://redis-budget.infra.svc:6380/2 200 50"
expect_eq "external: the Secret's key is mounted (0440) and is budget_redis_password_file" \
  "$(q "$work/external.yaml" "(v => (m => [v.secret.secretName, v.secret.defaultMode.toString(8), v.secret.items.map(i => i.key + '->' + i.path).join(), m.readOnly, config().budget_redis_password_file === m.mountPath + '/' + v.secret.items[0].path].join(' '))($C.volumeMounts.find(m => m.name === v.name)))($D.volumes.find(v => v.name === 'budget-redis-password'))")" \
  "budget-redis 440 redis-password->redis-password true true"
expect_eq "external: the password file path" "$(q "$work/external.yaml" 'config().budget_redis_password_file')" "/etc/portrait-bridge/budget-redis/redis-password"
expect_eq "external: existingSecretKey names the file" \
  "$(render "${required[@]}" "${external[@]}" --set budget.redis.existingSecretKey=auth 2>/dev/null | q - 'config().budget_redis_password_file')" "/etc/portrait-bridge/budget-redis/auth"
expect_eq "external: NetworkPolicy egress to the URL's port, to networkPolicy.redisTo" \
  "$(q "$work/external.yaml" 'JSON.stringify(kind("NetworkPolicy").spec.egress.find(e => e.ports.some(p => p.port === 6380)))')" \
  '{"ports":[{"port":6380,"protocol":"TCP"}],"to":[{"ipBlock":{"cidr":"10.30.0.0/24"}}]}'
expect_eq "external without a port: egress to 6379, any destination when redisTo is empty" \
  "$(render "${required[@]}" --set budget.redis.url=redis://redis --set networkPolicy.enabled=true 2>/dev/null | q - 'JSON.stringify(kind("NetworkPolicy").spec.egress.find(e => e.ports.some(p => p.port === 6379)))')" \
  '{"ports":[{"port":6379,"protocol":"TCP"}]}'
expect_eq "external unix:// socket: no Redis egress rule" \
  "$(render "${required[@]}" --set budget.redis.url=unix:///run/redis/redis.sock --set networkPolicy.enabled=true 2>/dev/null | q - 'kind("NetworkPolicy").spec.egress.length')" "2"
expect_eq "external: the HPA-less Deployment keeps replicas; no cache Redis key" "$(q "$work/external.yaml" "[kind('Deployment').spec.replicas, 'cache_redis_url' in config()].join(' ')")" "4 false"

# all features: the budget in the bundled Redis, the cache in an external Redis with a password.
expect_eq "all features: budget in the bundled Redis, cache in the external one, timeout 25" \
  "$(q "$work/all.yaml" '[config().budget_redis_url, config().cache_redis_url, config().cache_redis_password_file, config().redis_timeout_ms, "budget_redis_password_file" in config()].join(" ")')" \
  "redis://pb-portrait-bridge-redis:6379 redis://profile-cache.redis.svc:6380/3 /etc/portrait-bridge/cache-redis/password 25 false"
expect_eq "all features: cache Redis Secret mounted" \
  "$(q "$work/all.yaml" "$D.volumes.find(v => v.name === 'cache-redis-password').secret.secretName + ' ' + $C.volumeMounts.find(m => m.name === 'cache-redis-password').mountPath")" "profile-cache-redis /etc/portrait-bridge/cache-redis"
expect_eq "all features: Redis egress to the bundled pods (6379) and to the external cache (6380, redisTo)" \
  "$(q "$work/all.yaml" 'kind("NetworkPolicy", "pb-portrait-bridge").spec.egress.slice(2).map(e => e.ports.map(p => p.port).join("+") + ":" + Object.keys(e.to[0]).join("+")).join(" ")')" \
  "6379:podSelector 6380:namespaceSelector+podSelector"
expect_eq "all features: Redis image, pull policy, maxmemory from the values" \
  "$(q "$work/all.yaml" "[$RC.image, $RC.imagePullPolicy, $RC.args[$RC.args.indexOf('--maxmemory') + 1]].join(' ')")" "registry.example.com/mirror/redis:7.2 Always 48mb"
for f in bundled bundled-cache external; do
  if node "$here/validate.mjs" "$work/$f.yaml" >"$work/validate-$f.log" 2>&1; then
    pass "kubernetes-models validation of the $f render: $(tail -n1 "$work/validate-$f.log")"
  else
    cat "$work/validate-$f.log"
    fail "kubernetes-models validation of the $f render"
  fi
done
[ "$(q "$work/bundled.yaml" 'kind("Deployment", "pb-portrait-bridge").spec.template.metadata.annotations["checksum/config"]')" != \
  "$(render "${required[@]}" --set autoscaling.enabled=true --set autoscaling.maxReplicas=4 --set networkPolicy.enabled=true 2>/dev/null | q - 'kind("Deployment").spec.template.metadata.annotations["checksum/config"]')" ] \
  && pass "checksum/config changes when the budget moves to Redis" || fail "checksum/config unchanged when the budget moves to Redis"

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
reject "commonLabels overriding a chart label" "invalid propertyName 'app.kubernetes.io/name'" "${required[@]}" --set 'commonLabels.app\.kubernetes\.io/name=x'
reject "commonAnnotations with a helm.sh/ key" "invalid propertyName 'helm.sh/hook'" "${required[@]}" --set 'commonAnnotations.helm\.sh/hook=test'
reject "loadBalancerSourceRanges on a ClusterIP Service" "applies only to service.type=LoadBalancer" "${required[@]}" --set 'service.loadBalancerSourceRanges={10.0.0.0/8}'
reject "loadBalancerSourceRanges entry that is not a CIDR" "/service/loadBalancerSourceRanges" "${required[@]}" --set service.type=LoadBalancer --set 'service.loadBalancerSourceRanges={office}'
reject "an extraVolume named like a chart volume" "/extraVolumes/0/name" "${required[@]}" --set 'extraVolumes[0].name=config' --set 'extraVolumes[0].emptyDir.medium=Memory'
reject "an extraVolumeMount with a relative path" "/extraVolumeMounts/0/mountPath" "${required[@]}" --set 'extraVolumeMounts[0].name=x' --set 'extraVolumeMounts[0].mountPath=data'
reject "a sidecar named like the bridge" "/sidecars/0/name" "${required[@]}" --set 'sidecars[0].name=portrait-bridge' --set 'sidecars[0].image=x'
reject "an initContainer without an image" "/initContainers/0" "${required[@]}" --set 'initContainers[0].name=init'
reject "global.imageRegistry with a scheme" "/global/imageRegistry" "${required[@]}" --set global.imageRegistry=https://mirror
reject "unknown grafanaDashboard key" "additional properties 'folder' not allowed" "${required[@]}" --set grafanaDashboard.folder=x
reject "grafanaDashboard label that is not a string" "/grafanaDashboard/labels/x" "${required[@]}" --set grafanaDashboard.labels.x=1
reject "prometheusRule without metrics" "prometheusRule.enabled needs metrics.enabled" "${required[@]}" --set prometheusRule.enabled=true --set metrics.enabled=false
reject "prometheusRule ratio above 1" "/prometheusRule/alerts/upstreamErrors/ratio" "${required[@]}" --set prometheusRule.alerts.upstreamErrors.ratio=5
reject "prometheusRule for that is not a duration" "/prometheusRule/alerts/throttled/for" "${required[@]}" --set prometheusRule.alerts.throttled.for=soon
reject "unknown prometheusRule alert" "additional properties 'latency' not allowed" "${required[@]}" --set prometheusRule.alerts.latency.enabled=true
reject "alertLabels overriding severity" "invalid propertyName 'severity'" "${required[@]}" --set prometheusRule.alertLabels.severity=page
reject "tls without a Secret" "tls.existingSecret" "${required[@]}" --set tls.enabled=true
reject "tls.reloadIntervalSeconds of 0" "/tls/reloadIntervalSeconds" "${required[@]}" --set tls.enabled=true --set tls.existingSecret=t --set tls.reloadIntervalSeconds=0
reject "Redis URL with another scheme" "/budget/redis/url" "${required[@]}" --set budget.redis.url=http://redis:6379
reject "rediss:// (the bridge has no TLS to Redis)" "/budget/redis/url" "${required[@]}" --set budget.redis.url=rediss://redis:6380
reject "password in the Redis URL" "/budget/redis/url" "${required[@]}" --set 'budget.redis.url=redis://:hunter2@redis:6379'
reject "Redis URL database not a number" "/budget/redis/url" "${required[@]}" --set budget.redis.url=redis://redis:6379/x
reject "unix:// without an absolute path" "/cache/redis/url" "${required[@]}" --set cache.ttlMs=1000 --set cache.redis.url=unix://redis.sock
reject "unknown budget.redis key" "additional properties 'password' not allowed" "${required[@]}" --set budget.redis.password=x
reject "unknown redis key" "additional properties 'replicas' not allowed" "${required[@]}" --set redis.replicas=3
reject "redis.timeoutMs 0" "/redis/timeoutMs" "${required[@]}" --set redis.timeoutMs=0
reject "redis.timeoutMs above 10000" "/redis/timeoutMs" "${required[@]}" --set redis.timeoutMs=10001
reject "bundled Redis as root" "/redis/podSecurity/runAsUser" "${required[@]}" --set redis.enabled=true --set redis.podSecurity.runAsUser=0
reject "redis.maxMemory not a size" "/redis/maxMemory" "${required[@]}" --set redis.maxMemory=lots
reject "existingSecretKey with a slash" "/budget/redis/existingSecretKey" "${required[@]}" --set budget.redis.url=redis://r --set budget.redis.existingSecret=s --set budget.redis.existingSecretKey=a/b
reject "budget.redis.existingSecret without a URL" "budget.redis.existingSecret needs budget.redis.url" "${required[@]}" --set redis.enabled=true --set budget.redis.existingSecret=s
reject "cache.redis.existingSecret without a URL" "cache.redis.existingSecret needs cache.redis.url" "${required[@]}" --set cache.ttlMs=1000 --set cache.redis.existingSecret=s
reject "cache.redis.useBundled without redis.enabled" "needs redis.enabled=true" "${required[@]}" --set cache.ttlMs=1000 --set cache.redis.useBundled=true
reject "cache.redis.url and useBundled" "not both" "${required[@]}" --set redis.enabled=true --set cache.ttlMs=1000 --set cache.redis.useBundled=true --set cache.redis.url=redis://r
reject "a shared cache with the cache off" "set cache.ttlMs > 0" "${required[@]}" --set cache.redis.url=redis://r
reject "a bundled Redis nothing uses" "a Redis that nothing would use" "${required[@]}" --set redis.enabled=true --set budget.redis.url=redis://r
reject "fallback share below 1 call/s with a Redis budget" "gives 0 calls/s per replica" "${required[@]}" --set redis.enabled=true --set upstream.totalCallsPerSecond=3 --set replicaCount=4

# ---- the real bridge accepts the rendered config.json ----
# Renders with every Redis key: budget and cache in external Redis servers with password files.
render "${required[@]}" "${external[@]}" --set cache.ttlMs=1000 --set cache.redis.url=redis://profile-cache:6379/1 \
  --set cache.redis.existingSecret=cache-redis --set redis.timeoutMs=10000 >"$work/redis-external.yaml" 2>/dev/null
# Every key the chart writes is an option of the bridge's source (bridge/core/config.cc), binary or not.
config_cc="$repo/bridge/core/config.cc"
if [ -f "$config_cc" ]; then
  unknown="$(for f in default all bundled bundled-cache external redis-external; do q "$work/$f.yaml" 'Object.keys(config()).join("\n")'; done |
    sort -u | while read -r k; do grep -qF "{\"$k\"," "$config_cc" || printf '%s ' "$k"; done)"
  [ -z "$unknown" ] && pass "every config.json key the chart writes is an option in bridge/core/config.cc" \
    || fail "config.json keys missing from bridge/core/config.cc's options: $unknown"
fi
# When the bridge is built (PORTRAIT_BRIDGE_BINARY, else build/bridge/portrait-bridge), start it with the
# chart's config.json (secret and Redis password paths swapped for temp files, loopback port 0), wait until it
# serves, send SIGTERM and expect exit 0: the bridge stops at start on unknown keys or bad values, so this
# proves every key the chart writes is one the bridge knows. Redis URLs are pointed at local redis-servers
# (one open, one with the password of the password file) when redis-server is installed, else at a closed
# loopback port (the bridge must then start on its fallback budget).
bridge="${PORTRAIT_BRIDGE_BINARY:-$repo/build/bridge/portrait-bridge}"
if [ -x "$bridge" ]; then
  printf 'not-a-real-key' >"$work/secret"
  printf 'test-redis-password\n' >"$work/redis-password"
  export REDIS_OPEN="redis://127.0.0.1:9" REDIS_AUTH="redis://127.0.0.1:9" WORK="$work"
  start_redis() { # variable redis-server-args...
    local var="$1" port; shift
    port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no "$@" >"$work/redis-$var.log" 2>&1 &
    redis_pids+=($!)
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    export "$var=redis://127.0.0.1:$port"
  }
  if command -v redis-server >/dev/null; then
    start_redis REDIS_OPEN
    start_redis REDIS_AUTH --requirepass test-redis-password
  else
    echo "note: no redis-server; Redis configs point at a closed port (the bridge starts on its fallback budget)"
  fi
  render "${required[@]}" --set 'config.bytesTags={Tag_Profile_Custom_Blob}' --set upstream.burstPerReplica=7 \
    --set upstream.region=frankfurt --set config.logFormat=text \
    --set config.coalesceWaitMs=0 --set config.maxPendingAccounts=100 --set upstream.retry.maxAttempts=10 \
    --set upstream.retry.initialBackoffMs=60000 --set upstream.retry.maxBackoffMs=600000 --set upstream.retry.budgetRatio=10 \
    --set cache.ttlMs=604800000 --set cache.maxEntries=1 --set cache.negativeTtlMs=3600000 >"$work/rich.yaml" 2>/dev/null
  render "${required[@]}" --set upstream.baseUrl=http://127.0.0.1:9 --set metrics.enabled=false >"$work/baseurl.yaml" 2>/dev/null
  # "all" is the all-features render (cache on, retry and coalescer tuned, budget in the bundled Redis, cache in
  # an external one) minus the CA/TLS files that exist only in the pod; the other renders have none of those keys.
  # bundled-cache: budget and cache in the bundled Redis; redis-external: both in Redis servers with passwords.
  prep='(c => {
    for (const k of ["ca_bundle", "tls_cert_file", "tls_key_file", "tls_client_ca_file"]) delete c[k];
    c.secret_key_file = process.env.WORK + "/secret";
    for (const p of ["budget", "cache"]) {
      if (c[p + "_redis_password_file"]) c[p + "_redis_password_file"] = process.env.WORK + "/redis-password";
      if (c[p + "_redis_url"]) c[p + "_redis_url"] = c[p + "_redis_url"].replace(/^redis:\/\/[^/]+/,
        c[p + "_redis_password_file"] ? process.env.REDIS_AUTH : process.env.REDIS_OPEN);
    }
    return JSON.stringify(c);
  })(config())'
  for f in default rich baseurl all bundled-cache redis-external; do
    q "$work/$f.yaml" "$prep" >"$work/$f.json"
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

# ---- umbrella chart: this chart as a file:// dependency of a parent chart ----
# Helm hands every subchart `global` (empty or not) and the parent's values under the subchart's name; the schema
# must allow the first and the templates must honour both. Offline: `helm dependency build` only packs the
# file:// chart into charts/. Helm's config, cache and data go to the temp dir.
umbrella="$work/umbrella/platform"
mkdir -p "$umbrella/templates"
chart_version="$(sed -n 's/^version: *//p' "$chart/Chart.yaml")"
cat >"$umbrella/Chart.yaml" <<EOF
apiVersion: v2
name: platform
description: An umbrella chart made by tests/helm/run.sh, with portrait-bridge as a subchart.
type: application
version: 1.0.0
dependencies:
  - name: portrait-bridge
    version: "$chart_version"
    repository: "file://$chart"
EOF
# The parent's own object, so the umbrella is a chart of its own and not only a wrapper.
cat >"$umbrella/templates/configmap.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-platform
  namespace: {{ .Release.Namespace }}
data:
  owner: platform-team
EOF
# The parent's values: no `global` at all (Helm still passes an empty one), the subchart's values under its name.
cat >"$umbrella/values.yaml" <<'EOF'
portrait-bridge:
  config:
    sdkappid: 1400000001
  secret:
    existingSecret: umbrella-key
  replicaCount: 3
EOF
cat >"$work/umbrella/globals.yaml" <<'EOF'
global:
  imageRegistry: mirror.example.com
  imagePullSecrets: [mirror-pull]
  # Another subchart's global: allowed.
  storageClass: fast
portrait-bridge:
  commonLabels:
    example.com/stack: platform
  prometheusRule:
    enabled: true
EOF
hu() { HELM_CONFIG_HOME="$work/umbrella/.config" HELM_CACHE_HOME="$work/umbrella/.cache" HELM_DATA_HOME="$work/umbrella/.data" "$helm" "$@"; }
if out="$(hu dependency build "$umbrella" --skip-refresh 2>&1)" && [ -f "$umbrella/charts/portrait-bridge-$chart_version.tgz" ]; then
  pass "umbrella: helm dependency build (file://, offline)"
  for variant in "no globals" "globals"; do
    extra=()
    [ "$variant" = globals ] && extra=(-f "$work/umbrella/globals.yaml")
    tag="${variant// /-}"
    if out="$(hu lint --strict "$umbrella" "${extra[@]}" 2>&1)"; then pass "umbrella ($variant): helm lint --strict"; else echo "$out"; fail "umbrella ($variant): helm lint --strict"; fi
    if hu template plat "$umbrella" --namespace apps "${crds[@]}" "${extra[@]}" >"$work/umbrella-$tag.yaml" 2>"$work/err"; then
      pass "umbrella ($variant): helm template"
      if node "$here/validate.mjs" "$work/umbrella-$tag.yaml" >"$work/validate-umbrella-$tag.log" 2>&1; then
        pass "umbrella ($variant): kubernetes-models validation: $(tail -n1 "$work/validate-umbrella-$tag.log")"
      else cat "$work/validate-umbrella-$tag.log"; fail "umbrella ($variant): kubernetes-models validation"; fi
    else cat "$work/err"; fail "umbrella ($variant): helm template"; fi
  done
  U='kind("Deployment", "plat-portrait-bridge")'
  expect_eq "umbrella: the parent's object and the subchart's" "$(q "$work/umbrella-no-globals.yaml" 'docs.map(o => o.kind + "/" + o.metadata.name).sort().join(",")')" \
    "ConfigMap/plat-platform,ConfigMap/plat-portrait-bridge,Deployment/plat-portrait-bridge,Pod/plat-portrait-bridge-test-health,PodDisruptionBudget/plat-portrait-bridge,Service/plat-portrait-bridge,ServiceAccount/plat-portrait-bridge"
  expect_eq "umbrella: values under the subchart's name reach it (sdkappid, replicas, budget split)" \
    "$(q "$work/umbrella-no-globals.yaml" "[JSON.parse(kind('ConfigMap', 'plat-portrait-bridge').data['config.json']).sdkappid, $U.spec.replicas, JSON.parse(kind('ConfigMap', 'plat-portrait-bridge').data['config.json']).upstream_calls_per_second].join(' ')")" "1400000001 3 66"
  expect_eq "umbrella, no globals: images as given" "$(q "$work/umbrella-no-globals.yaml" "$U.spec.template.spec.containers[0].image")" "portrait-bridge:0.1.0"
  expect_eq "umbrella: the helm test pod dials the subchart's Service" "$(q "$work/umbrella-no-globals.yaml" "$test_pod_targets_service")" "-addr=plat-portrait-bridge.apps.svc:50051"
  expect_eq "umbrella, globals: global.imageRegistry on the bridge and test images" \
    "$(q "$work/umbrella-globals.yaml" "[$U.spec.template.spec.containers[0].image, kind('Pod').spec.containers[0].image].join(' ')")" \
    "mirror.example.com/portrait-bridge:0.1.0 mirror.example.com/grpc-ecosystem/grpc-health-probe:v0.4.40"
  expect_eq "umbrella, globals: global.imagePullSecrets" "$(q "$work/umbrella-globals.yaml" "$U.spec.template.spec.imagePullSecrets.map(s => s.name).join()")" "mirror-pull"
  expect_eq "umbrella, globals: the subchart's commonLabels on its objects only" \
    "$(q "$work/umbrella-globals.yaml" 'docs.filter(o => o.metadata.labels && o.metadata.labels["example.com/stack"] === "platform").length + "/" + docs.length')" "7/8"
  expect_eq "umbrella, globals: the subchart's PrometheusRule selects its own Service's series" \
    "$(q "$work/umbrella-globals.yaml" 'kind("PrometheusRule").spec.groups[0].rules[0].expr.includes("namespace=\"apps\", job=\"plat-portrait-bridge\"")')" "true"
else
  echo "$out"; fail "umbrella: helm dependency build"
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
            "describe portraitbridge.profile.v1.ProfileService" "grpc.health.v1.Health/Check" \
            "portraitbridge.profile.v1.ProfileService/GetProfiles"; do
  grep -qF -- "$want" <<<"$notes" && pass "NOTES.txt shows: $want" || fail "NOTES.txt lacks: $want"
done
grep -qF -- "through Redis" <<<"$notes" && fail "NOTES.txt mentions Redis without Redis" || pass "NOTES.txt: no Redis without Redis"
notes="$("$helm" install pb "$chart" --dry-run=client --namespace profiles "${required[@]}" --set redis.enabled=true \
  --set cache.ttlMs=1000 --set cache.redis.useBundled=true 2>&1 | sed -n '/^NOTES:/,$p')"
for want in "200 calls/s for the app, shared by all replicas through Redis at redis://pb-portrait-bridge-redis:6379" \
            "each replica falls back to 100 (divided by 2)" "shared through Redis at redis://pb-portrait-bridge-redis:6379" \
            "the bundled Redis (pb-portrait-bridge-redis) is one instance without password"; do
  grep -qF -- "$want" <<<"$notes" && pass "NOTES.txt (bundled Redis) shows: $want" || fail "NOTES.txt (bundled Redis) lacks: $want"
done

finish
