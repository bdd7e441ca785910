{{/*
Names and labels.
*/}}
{{- define "portrait-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portrait-bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "portrait-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portrait-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portrait-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The chart's own labels of the bridge's objects, without commonLabels. app.kubernetes.io/version is the version
that runs: image.tag when set (in label syntax), else the chart's appVersion.
*/}}
{{- define "portrait-bridge.baseLabels" -}}
helm.sh/chart: {{ include "portrait-bridge.chart" . }}
{{ include "portrait-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "portrait-bridge.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portrait-bridge
{{- end }}

{{- define "portrait-bridge.version" -}}
{{- regexReplaceAll "[^A-Za-z0-9._-]" (default .Chart.AppVersion .Values.image.tag) "_" | trunc 63 | trimAll "_.-" }}
{{- end }}

{{/*
Labels of every object the chart renders (metadata.labels): the chart's own plus commonLabels (the schema keeps
commonLabels off the chart's own keys, so none is written twice).
*/}}
{{- define "portrait-bridge.labels" -}}
{{ include "portrait-bridge.baseLabels" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Pod template labels: the chart's own, the component, then commonLabels and podLabels merged (podLabels wins).
(list root component)
*/}}
{{- define "portrait-bridge.podLabels" -}}
{{- $root := index . 0 }}
{{ include "portrait-bridge.baseLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- with merge (deepCopy ($root.Values.podLabels | default dict)) ($root.Values.commonLabels | default dict) }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
metadata.annotations of an object: its own annotations (list root own-dict) merged over commonAnnotations;
renders nothing when both are empty.
*/}}
{{- define "portrait-bridge.annotations" -}}
{{- $root := index . 0 }}
{{- $all := merge (deepCopy (index . 1 | default dict)) ($root.Values.commonAnnotations | default dict) }}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "portrait-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portrait-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
An image repository under global.imageRegistry (list root repository): when the global is set, it replaces the
repository's registry host (a first path part with "." or ":", or "localhost"), or prefixes a repository that
names none (Docker Hub's). Unset, the repository as given.
*/}}
{{- define "portrait-bridge.repository" -}}
{{- $root := index . 0 }}
{{- $repo := index . 1 }}
{{- $registry := "" }}
{{- with $root.Values.global }}{{ $registry = .imageRegistry | default "" | trimSuffix "/" }}{{ end }}
{{- if $registry }}
{{- $parts := splitList "/" $repo }}
{{- $first := first $parts }}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $repo = rest $parts | join "/" }}
{{- end }}
{{- printf "%s/%s" $registry $repo }}
{{- else }}
{{- $repo }}
{{- end }}
{{- end }}

{{/*
imagePullSecrets of every pod: imagePullSecrets, then global.imagePullSecrets (each a {name: ...} or a plain
name), without repeats. Renders nothing when both are empty.
*/}}
{{- define "portrait-bridge.imagePullSecrets" -}}
{{- $names := list }}
{{- $global := list }}
{{- with .Values.global }}{{ $global = .imagePullSecrets | default list }}{{ end }}
{{- range concat (.Values.imagePullSecrets | default list) $global }}
{{- if kindIs "map" . }}
{{- $names = append $names .name }}
{{- else }}
{{- $names = append $names . }}
{{- end }}
{{- end }}
{{- range uniq $names }}
- name: {{ . }}
{{- end }}
{{- end }}

{{/*
The bridge's image: repository@digest when image.digest is set (the tag is then ignored: a digest names one
image, a tag can move), else repository:tag (tag default: the chart's appVersion).
*/}}
{{- define "portrait-bridge.image" -}}
{{- $repo := include "portrait-bridge.repository" (list . .Values.image.repository) }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The Service's appProtocol for the gRPC port, which tells meshes and gateways what is on the wire:
- plaintext: gRPC over cleartext HTTP/2 (h2c). Istio and Linkerd read "grpc" as HTTP/2 and balance per request.
- tls.enabled: the pod terminates TLS itself, so the bytes a sidecar or gateway sees are TLS records, not h2c.
  "grpc" would make Istio's sidecar treat them as plaintext HTTP/2 and fail every call. "https" (an IANA service
  name, as Kubernetes asks of unprefixed appProtocol values) is what Istio documents for TLS the sidecar does not
  decrypt: the same as "tls", opaque TLS passed through (routed by SNI), while a gateway reads it as HTTP (1.1 or
  2) over TLS, which gRPC over TLS is. kubernetes.io/h2c would be wrong for the same reason as grpc.
  (istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection; Kubernetes ServicePort.appProtocol)
*/}}
{{- define "portrait-bridge.grpcAppProtocol" -}}
{{- ternary "https" "grpc" (and .Values.tls.enabled true) }}
{{- end }}

{{/*
Fixed facts of the bridge binary: the gRPC service whose health flips to NOT_SERVING on drain
(readiness) and the mount points the chart uses.
*/}}
{{- define "portrait-bridge.grpcServiceName" -}}portraitbridge.profile.v1.ProfileService{{- end }}
{{- define "portrait-bridge.configDir" -}}/etc/portrait-bridge/config{{- end }}
{{- define "portrait-bridge.secretDir" -}}/etc/portrait-bridge/secret{{- end }}
{{- define "portrait-bridge.tlsDir" -}}/etc/portrait-bridge/tls{{- end }}
{{- define "portrait-bridge.caDir" -}}/etc/portrait-bridge/ca{{- end }}
{{- define "portrait-bridge.budgetRedisDir" -}}/etc/portrait-bridge/budget-redis{{- end }}
{{- define "portrait-bridge.cacheRedisDir" -}}/etc/portrait-bridge/cache-redis{{- end }}

{{- define "portrait-bridge.secretName" -}}
{{- if .Values.secret.existingSecret }}
{{- .Values.secret.existingSecret }}
{{- else }}
{{- printf "%s-secret" (include "portrait-bridge.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
The number of replicas the app budget is divided by: the most pods that can run at once
in steady state (HPA maxReplicas, else replicaCount; at least 1).
*/}}
{{- define "portrait-bridge.budgetDivisor" -}}
{{- $n := int64 .Values.replicaCount }}
{{- if .Values.autoscaling.enabled }}
{{- $n = int64 .Values.autoscaling.maxReplicas }}
{{- end }}
{{- max $n 1 }}
{{- end }}

{{/*
Per-replica upstream calls per second = floor(total / divisor); rendering fails below 1. It is each
replica's budget without Redis (the static split), and the fallback budget with a Redis budget.
*/}}
{{- define "portrait-bridge.callsPerReplica" -}}
{{- $total := int64 .Values.upstream.totalCallsPerSecond }}
{{- $n := int64 (include "portrait-bridge.budgetDivisor" .) }}
{{- $share := div $total $n }}
{{- if lt $share 1 }}
{{- fail (printf "upstream.totalCallsPerSecond=%d split over %d replicas gives %d calls/s per replica (< 1; with a Redis budget this is the fallback): raise upstream.totalCallsPerSecond or lower %s" $total $n $share (ternary "autoscaling.maxReplicas" "replicaCount" .Values.autoscaling.enabled)) }}
{{- end }}
{{- $share }}
{{- end }}

{{/*
The bundled Redis (redis.enabled): names, labels and the URL the bridge uses for it. Its pods carry
their own app.kubernetes.io/name, so the bridge's Service, PDB and NetworkPolicy never select them.
*/}}
{{- define "portrait-bridge.redis.fullname" -}}
{{- printf "%s-redis" (include "portrait-bridge.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "portrait-bridge.redis.port" -}}6379{{- end }}

{{- define "portrait-bridge.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-redis" (include "portrait-bridge.name" . | trunc 57 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "portrait-bridge.redis.labels" -}}
helm.sh/chart: {{ include "portrait-bridge.chart" . }}
{{ include "portrait-bridge.redis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.redis.image.tag | trunc 63 | trimSuffix "-" | trimSuffix "." | quote }}
app.kubernetes.io/component: redis
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portrait-bridge
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "portrait-bridge.redis.url" -}}
{{- printf "redis://%s:%s" (include "portrait-bridge.redis.fullname" .) (include "portrait-bridge.redis.port" .) }}
{{- end }}

{{/*
The Redis URL of the shared budget (budget_redis_url): budget.redis.url, else the bundled Redis when
redis.enabled, else "" (no Redis: each replica has its own budget, the static split).
*/}}
{{- define "portrait-bridge.budgetRedisUrl" -}}
{{- if .Values.budget.redis.url }}
{{- .Values.budget.redis.url }}
{{- else if .Values.redis.enabled }}
{{- include "portrait-bridge.redis.url" . }}
{{- end }}
{{- end }}

{{/*
The Redis URL of the shared profile cache (cache_redis_url): cache.redis.url, else the bundled Redis when
cache.redis.useBundled, else "". Only with cache.ttlMs > 0 (validate fails otherwise).
*/}}
{{- define "portrait-bridge.cacheRedisUrl" -}}
{{- if .Values.cache.redis.url }}
{{- .Values.cache.redis.url }}
{{- else if .Values.cache.redis.useBundled }}
{{- include "portrait-bridge.redis.url" . }}
{{- end }}
{{- end }}

{{/*
upstream_calls_per_second: the whole app budget when it is shared through Redis, else the per-replica split.
*/}}
{{- define "portrait-bridge.upstreamCallsPerSecond" -}}
{{- if include "portrait-bridge.budgetRedisUrl" . }}
{{- int64 .Values.upstream.totalCallsPerSecond }}
{{- else }}
{{- include "portrait-bridge.callsPerReplica" . }}
{{- end }}
{{- end }}

{{/*
TCP ports of the external Redis servers (budget.redis.url, cache.redis.url; unix:// has none), as a JSON
list, for the NetworkPolicy egress. The port is the URL's, default 6379.
*/}}
{{- define "portrait-bridge.externalRedisPorts" -}}
{{- $ports := list }}
{{- range (list .Values.budget.redis.url .Values.cache.redis.url) }}
{{- if hasPrefix "redis://" . }}
{{- $port := regexFind ":[0-9]+(/[0-9]+)?$" . | regexFind "[0-9]+" | default (include "portrait-bridge.redis.port" $) }}
{{- $ports = append $ports (int64 $port) }}
{{- end }}
{{- end }}
{{- $ports | uniq | toJson }}
{{- end }}

{{/*
terminationGracePeriodSeconds: preStop sleep + the bridge's drain delay and grace + a margin, or an explicit
value that must still exceed preStop + drain delay + grace.
*/}}
{{- define "portrait-bridge.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- $drainSeconds := div (add (int64 $s.drainDelayMs) 999) 1000 }}
{{- $floor := add (int64 $s.preStopSleepSeconds) $drainSeconds (int64 $s.graceSeconds) }}
{{- if kindIs "invalid" $s.terminationGracePeriodSeconds }}
{{- add $floor (int64 $s.marginSeconds) }}
{{- else }}
{{- $t := int64 $s.terminationGracePeriodSeconds }}
{{- if le $t $floor }}
{{- fail (printf "shutdown.terminationGracePeriodSeconds=%d must be greater than shutdown.preStopSleepSeconds + shutdown.drainDelayMs (in seconds) + shutdown.graceSeconds = %d, or the kubelet kills the bridge mid-drain" $t $floor) }}
{{- end }}
{{- $t }}
{{- end }}
{{- end }}

{{/*
Cross-field checks that JSON Schema (draft-07) cannot express. Included by the Deployment.
*/}}
{{- define "portrait-bridge.validate" -}}
{{- if kindIs "invalid" .Values.config.sdkappid }}
{{- fail "config.sdkappid is required (your Tencent Cloud Chat SDKAppID), e.g. --set config.sdkappid=1400000000" }}
{{- end }}
{{- if and .Values.secret.existingSecret .Values.secret.create }}
{{- fail "set either secret.existingSecret or secret.create, not both" }}
{{- end }}
{{- if not (or .Values.secret.existingSecret .Values.secret.create) }}
{{- fail "the Tencent secret key is required: set secret.existingSecret (recommended) or, for trials only, secret.create=true with secret.secretKey" }}
{{- end }}
{{- if and .Values.secret.create (not .Values.secret.secretKey) }}
{{- fail "secret.create=true needs secret.secretKey" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int64 .Values.autoscaling.maxReplicas) (int64 .Values.autoscaling.minReplicas)) }}
{{- fail (printf "autoscaling.maxReplicas (%d) must be >= autoscaling.minReplicas (%d)" (int64 .Values.autoscaling.maxReplicas) (int64 .Values.autoscaling.minReplicas)) }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set minAvailable or maxUnavailable, not both" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) }}
{{- fail "tls.enabled=true needs tls.existingSecret (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- $retry := .Values.upstream.retry }}
{{- if lt (int64 $retry.maxBackoffMs) (int64 $retry.initialBackoffMs) }}
{{- fail (printf "upstream.retry.maxBackoffMs (%d) must be >= upstream.retry.initialBackoffMs (%d)" (int64 $retry.maxBackoffMs) (int64 $retry.initialBackoffMs)) }}
{{- end }}
{{- if and .Values.upstream.caBundle.existingConfigMap (not .Values.upstream.caBundle.key) }}
{{- fail "upstream.caBundle.key is required with upstream.caBundle.existingConfigMap" }}
{{- end }}
{{- if and (eq (int64 .Values.ports.grpc) (int64 .Values.ports.metrics)) .Values.metrics.enabled }}
{{- fail "ports.grpc and ports.metrics must differ" }}
{{- end }}
{{- if and (eq (int64 .Values.service.grpcPort) (int64 .Values.service.metricsPort)) .Values.metrics.enabled }}
{{- fail "service.grpcPort and service.metricsPort must differ" }}
{{- end }}
{{- $br := .Values.budget.redis }}
{{- $cr := .Values.cache.redis }}
{{- if and $br.existingSecret (not $br.url) }}
{{- fail "budget.redis.existingSecret needs budget.redis.url (the bundled Redis has no password)" }}
{{- end }}
{{- if and $cr.existingSecret (not $cr.url) }}
{{- fail "cache.redis.existingSecret needs cache.redis.url (the bundled Redis has no password)" }}
{{- end }}
{{- if and $cr.url $cr.useBundled }}
{{- fail "set either cache.redis.url or cache.redis.useBundled, not both" }}
{{- end }}
{{- if and $cr.useBundled (not .Values.redis.enabled) }}
{{- fail "cache.redis.useBundled=true needs redis.enabled=true (the bundled Redis)" }}
{{- end }}
{{- if and (or $cr.url $cr.useBundled) (le (int64 .Values.cache.ttlMs) 0) }}
{{- fail "a shared profile cache in Redis (cache.redis.url or cache.redis.useBundled) needs the cache on: set cache.ttlMs > 0" }}
{{- end }}
{{- if and .Values.redis.enabled $br.url (not $cr.useBundled) }}
{{- fail "redis.enabled deploys a Redis that nothing would use: budget.redis.url points at another Redis and cache.redis.useBundled is false" }}
{{- end }}
{{- if and .Values.service.loadBalancerSourceRanges (ne .Values.service.type "LoadBalancer") }}
{{- fail (printf "service.loadBalancerSourceRanges applies only to service.type=LoadBalancer (it is %s): the ranges would restrict nothing" .Values.service.type) }}
{{- end }}
{{- if and .Values.prometheusRule.enabled (not .Values.metrics.enabled) }}
{{- fail "prometheusRule.enabled needs metrics.enabled: its alerts read the bridge's /metrics series" }}
{{- end }}
{{- end }}

{{/*
Istio security API version: explicit, else v1 when served, else v1beta1.
*/}}
{{- define "portrait-bridge.istioApiVersion" -}}
{{- if .Values.istio.apiVersion }}
{{- .Values.istio.apiVersion }}
{{- else if .Capabilities.APIVersions.Has "security.istio.io/v1" }}
{{- "security.istio.io/v1" }}
{{- else }}
{{- "security.istio.io/v1beta1" }}
{{- end }}
{{- end }}

{{/*
The bridge's config.json. Numbers go through int64 so large values (sdkappid) never print as floats.
*/}}
{{- define "portrait-bridge.configJson" -}}
{{- $c := .Values.config }}
{{- $u := .Values.upstream }}
{{- $r := .Values.upstream.retry }}
{{- $k := .Values.cache }}
{{- $cfg := dict
  "listen_address" (printf "0.0.0.0:%d" (int64 .Values.ports.grpc))
  "metrics_address" (ternary (printf "0.0.0.0:%d" (int64 .Values.ports.metrics)) "" .Values.metrics.enabled)
  "sdkappid" (int64 $c.sdkappid)
  "admin_identifier" $c.adminIdentifier
  "secret_key_file" (printf "%s/%s" (include "portrait-bridge.secretDir" .) .Values.secret.key)
  "usersig_validity_seconds" (int64 $c.usersigValiditySeconds)
  "attempt_timeout_ms" (int64 $u.attemptTimeoutMs)
  "max_accounts_per_call" (int64 $c.maxAccountsPerCall)
  "max_accounts_per_stream" (int64 $c.maxAccountsPerStream)
  "max_accounts_per_batch_get" (int64 $c.maxAccountsPerBatchGet)
  "max_inflight_accounts_per_stream" (int64 $c.maxInflightAccountsPerStream)
  "coalesce_wait_ms" (int64 $c.coalesceWaitMs)
  "max_pending_accounts" (int64 $c.maxPendingAccounts)
  "upstream_calls_per_second" (int64 (include "portrait-bridge.upstreamCallsPerSecond" .))
  "retry_max_attempts" (int64 $r.maxAttempts)
  "retry_initial_backoff_ms" (int64 $r.initialBackoffMs)
  "retry_max_backoff_ms" (int64 $r.maxBackoffMs)
  "retry_budget_ratio" (float64 $r.budgetRatio)
  "cache_ttl_ms" (int64 $k.ttlMs)
  "cache_max_entries" (int64 $k.maxEntries)
  "cache_negative_ttl_ms" (int64 $k.negativeTtlMs)
  "shutdown_grace_seconds" (int64 .Values.shutdown.graceSeconds)
  "shutdown_drain_delay_ms" (int64 .Values.shutdown.drainDelayMs)
  "keepalive_min_ping_interval_ms" (int64 .Values.connections.keepaliveMinPingIntervalMs)
  "max_connection_age_ms" (int64 .Values.connections.maxConnectionAgeMs)
  "max_connection_age_grace_ms" (int64 .Values.connections.maxConnectionAgeGraceMs)
  "max_streams_per_connection" (int64 .Values.connections.maxStreamsPerConnection)
  "unread_responses_mib" (int64 .Values.memory.unreadResponsesMib)
  "grpc_memory_quota_mib" (int64 .Values.memory.grpcQuotaMib)
  "max_accepted_accounts" (int64 .Values.memory.maxAcceptedAccounts)
  "log_level" $c.logLevel
  "log_format" $c.logFormat
}}
{{- if $u.baseUrl }}
{{- $_ := set $cfg "base_url" $u.baseUrl }}
{{- else }}
{{- $_ := set $cfg "region" $u.region }}
{{- end }}
{{- if not (kindIs "invalid" $u.burstPerReplica) }}
{{- $_ := set $cfg "upstream_burst" (int64 $u.burstPerReplica) }}
{{- end }}
{{- if $c.bytesTags }}
{{- $_ := set $cfg "bytes_tags" (join "," $c.bytesTags) }}
{{- end }}
{{- /* Redis keys only when a Redis is in use, so a config without Redis is what it was before them. */}}
{{- $budgetRedis := include "portrait-bridge.budgetRedisUrl" . }}
{{- if $budgetRedis }}
{{- $_ := set $cfg "budget_redis_url" $budgetRedis }}
{{- $_ := set $cfg "budget_fallback_calls_per_second" (int64 (include "portrait-bridge.callsPerReplica" .)) }}
{{- if .Values.budget.redis.existingSecret }}
{{- $_ := set $cfg "budget_redis_password_file" (printf "%s/%s" (include "portrait-bridge.budgetRedisDir" .) .Values.budget.redis.existingSecretKey) }}
{{- end }}
{{- end }}
{{- $cacheRedis := include "portrait-bridge.cacheRedisUrl" . }}
{{- if $cacheRedis }}
{{- $_ := set $cfg "cache_redis_url" $cacheRedis }}
{{- if .Values.cache.redis.existingSecret }}
{{- $_ := set $cfg "cache_redis_password_file" (printf "%s/%s" (include "portrait-bridge.cacheRedisDir" .) .Values.cache.redis.existingSecretKey) }}
{{- end }}
{{- end }}
{{- if or $budgetRedis $cacheRedis }}
{{- $_ := set $cfg "redis_timeout_ms" (int64 .Values.redis.timeoutMs) }}
{{- end }}
{{- if $u.caBundle.existingConfigMap }}
{{- $_ := set $cfg "ca_bundle" (printf "%s/%s" (include "portrait-bridge.caDir" .) $u.caBundle.key) }}
{{- end }}
{{- if .Values.tls.enabled }}
{{- $_ := set $cfg "tls_cert_file" (printf "%s/tls.crt" (include "portrait-bridge.tlsDir" .)) }}
{{- $_ := set $cfg "tls_key_file" (printf "%s/tls.key" (include "portrait-bridge.tlsDir" .)) }}
{{- $_ := set $cfg "tls_reload_interval_seconds" (int64 .Values.tls.reloadIntervalSeconds) }}
{{- if .Values.tls.clientAuth }}
{{- $_ := set $cfg "tls_client_ca_file" (printf "%s/ca.crt" (include "portrait-bridge.tlsDir" .)) }}
{{- end }}
{{- end }}
{{- toPrettyJson $cfg }}
{{- end }}

{{/*
One probe: native gRPC against the given health service name, or tcpSocket when the gRPC port
speaks TLS (kubelet's gRPC probe is plaintext only).
*/}}
{{- define "portrait-bridge.probe" -}}
{{- $root := index . 0 }}
{{- $p := index . 1 }}
{{- $service := index . 2 }}
{{- if $root.Values.tls.enabled }}
tcpSocket:
  port: grpc
{{- else }}
grpc:
  port: {{ int64 $root.Values.ports.grpc }}
  service: {{ $service | quote }}
{{- end }}
initialDelaySeconds: {{ int64 $p.initialDelaySeconds }}
periodSeconds: {{ int64 $p.periodSeconds }}
timeoutSeconds: {{ int64 $p.timeoutSeconds }}
failureThreshold: {{ int64 $p.failureThreshold }}
{{- if hasKey $p "successThreshold" }}
successThreshold: {{ int64 $p.successThreshold }}
{{- end }}
{{- end }}
