{{/* Names: <release> when it holds the chart name (the usual release "harvester-hygiene"), else
<release>-harvester-hygiene; fullnameOverride wins. Cluster-scoped objects add a suffix. */}}
{{- define "hh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hh.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "hh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hh.labels" -}}
{{ include "hh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* registry/repository[:tag|@digest] with global.imageRegistry (or Rancher's
global.cattle.systemDefaultRegistry) in place of the image's registry. */}}
{{- define "hh.image" -}}
{{- $img := index . 0 -}}
{{- $root := index . 1 -}}
{{- $global := $root.Values.global | default dict -}}
{{- $cattle := $global.cattle | default dict -}}
{{- $registry := $global.imageRegistry | default $cattle.systemDefaultRegistry | default $img.registry -}}
{{- $ref := $img.repository -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" (trimSuffix "/" $registry) $img.repository -}}{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $ref $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (toString (default (printf "v%s" $root.Chart.AppVersion) $img.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "hh.reportName" -}}
{{- printf "%s-report" (include "hh.fullname" .) -}}
{{- end -}}

{{- define "hh.pushgatewayName" -}}
{{- printf "%s-pushgateway" (include "hh.fullname" .) -}}
{{- end -}}

{{/* The read-only rules: exactly the kinds the scan reads (scan::kinds_for; tests/packaging.rs
checks them against the code) and the one Setting it GETs. No Secrets, no writes. */}}
{{- define "hh.scanRules" -}}
- apiGroups: ["harvesterhci.io"]
  resources: ["virtualmachineimages", "addons", "upgrades", "virtualmachinebackups", "schedulevmbackups"]
  verbs: ["list"]
- apiGroups: ["harvesterhci.io"]
  resources: ["settings"]
  resourceNames: ["server-version", "upgrade-config"]
  verbs: ["get"]
- apiGroups: ["longhorn.io"]
  resources: ["backingimages", "volumes", "orphans"]
  verbs: ["list"]
- apiGroups: ["longhorn.io"]
  resources: ["settings"]
  resourceNames: ["orphan-auto-deletion", "orphan-resource-auto-deletion"]
  verbs: ["get"]
- apiGroups: ["kubevirt.io"]
  resources: ["virtualmachines", "virtualmachineinstances", "virtualmachineinstancemigrations"]
  verbs: ["list"]
- apiGroups: ["migration.harvesterhci.io"]
  resources: ["openstacksources", "virtualmachineimports"]
  verbs: ["list"]
- apiGroups: ["snapshot.storage.k8s.io"]
  resources: ["volumesnapshots"]
  verbs: ["list"]
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims", "persistentvolumes", "pods", "resourcequotas", "serviceaccounts"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings", "clusterrolebindings"]
  verbs: ["list"]
- apiGroups: ["loadbalancer.harvesterhci.io"]
  resources: ["loadbalancers", "ippools"]
  verbs: ["list"]
{{- end -}}
