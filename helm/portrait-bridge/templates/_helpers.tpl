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

{{- define "portrait-bridge.labels" -}}
helm.sh/chart: {{ include "portrait-bridge.chart" . }}
{{ include "portrait-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portrait-bridge
{{- end }}

{{- define "portrait-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portrait-bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "portrait-bridge.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Fixed facts of the bridge binary: the gRPC service whose health flips to NOT_SERVING on drain
(readiness) and the mount points the chart uses.
*/}}
{{- define "portrait-bridge.grpcServiceName" -}}tencentcloud.chat.profile.v1.ProfileService{{- end }}
{{- define "portrait-bridge.configDir" -}}/etc/portrait-bridge/config{{- end }}
{{- define "portrait-bridge.secretDir" -}}/etc/portrait-bridge/secret{{- end }}
{{- define "portrait-bridge.tlsDir" -}}/etc/portrait-bridge/tls{{- end }}
{{- define "portrait-bridge.caDir" -}}/etc/portrait-bridge/ca{{- end }}

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
Per-replica upstream calls per second = floor(total / divisor); rendering fails below 1.
*/}}
{{- define "portrait-bridge.callsPerReplica" -}}
{{- $total := int64 .Values.upstream.totalCallsPerSecond }}
{{- $n := int64 (include "portrait-bridge.budgetDivisor" .) }}
{{- $share := div $total $n }}
{{- if lt $share 1 }}
{{- fail (printf "upstream.totalCallsPerSecond=%d split over %d replicas gives %d calls/s per replica (< 1): raise upstream.totalCallsPerSecond or lower %s" $total $n $share (ternary "autoscaling.maxReplicas" "replicaCount" .Values.autoscaling.enabled)) }}
{{- end }}
{{- $share }}
{{- end }}

{{/*
terminationGracePeriodSeconds: preStop sleep + the bridge's drain + a margin, or an explicit value
that must still exceed preStop + drain.
*/}}
{{- define "portrait-bridge.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown }}
{{- $floor := add (int64 $s.preStopSleepSeconds) (int64 $s.graceSeconds) }}
{{- if kindIs "invalid" $s.terminationGracePeriodSeconds }}
{{- add $floor (int64 $s.marginSeconds) }}
{{- else }}
{{- $t := int64 $s.terminationGracePeriodSeconds }}
{{- if le $t $floor }}
{{- fail (printf "shutdown.terminationGracePeriodSeconds=%d must be greater than shutdown.preStopSleepSeconds + shutdown.graceSeconds = %d, or the kubelet kills the bridge mid-drain" $t $floor) }}
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
  "max_inflight_accounts_per_stream" (int64 $c.maxInflightAccountsPerStream)
  "coalesce_wait_ms" (int64 $c.coalesceWaitMs)
  "max_pending_accounts" (int64 $c.maxPendingAccounts)
  "upstream_calls_per_second" (int64 (include "portrait-bridge.callsPerReplica" .))
  "retry_max_attempts" (int64 $r.maxAttempts)
  "retry_initial_backoff_ms" (int64 $r.initialBackoffMs)
  "retry_max_backoff_ms" (int64 $r.maxBackoffMs)
  "retry_budget_ratio" (float64 $r.budgetRatio)
  "cache_ttl_ms" (int64 $k.ttlMs)
  "cache_max_entries" (int64 $k.maxEntries)
  "cache_negative_ttl_ms" (int64 $k.negativeTtlMs)
  "shutdown_grace_seconds" (int64 .Values.shutdown.graceSeconds)
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
{{- if $u.caBundle.existingConfigMap }}
{{- $_ := set $cfg "ca_bundle" (printf "%s/%s" (include "portrait-bridge.caDir" .) $u.caBundle.key) }}
{{- end }}
{{- if .Values.tls.enabled }}
{{- $_ := set $cfg "tls_cert_file" (printf "%s/tls.crt" (include "portrait-bridge.tlsDir" .)) }}
{{- $_ := set $cfg "tls_key_file" (printf "%s/tls.key" (include "portrait-bridge.tlsDir" .)) }}
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
