#!/usr/bin/env bash
# The naive orphaned-guest-pvc check users script today: PVCs named pvc-<uuid> that no VM, VMI
# or pod references and whose Longhorn volume is detached. Prints <namespace>/<pvc> per orphan.
# (Simpler than the rule: no guest-cluster ownership, grace period or image references.)
# Needs kubectl (KUBECONFIG) and jq.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chunk=${CHUNK_SIZE:-500}
kubectl get volumes.longhorn.io -n longhorn-system -o json --chunk-size "$chunk" >"$tmp/volumes.json"
kubectl get persistentvolumeclaims,virtualmachines.kubevirt.io,virtualmachineinstances.kubevirt.io,pods \
  -A -o json --chunk-size "$chunk" |
  jq -r --slurpfile vols "$tmp/volumes.json" '
    ($vols[0].items | map(select(.status.state == "detached")) | map({key: .metadata.name, value: true})
      | from_entries) as $detached
    | ([.items[] | .metadata.namespace as $ns
        | if .kind == "VirtualMachine" then
            (.spec.template.spec.volumes[]?.persistentVolumeClaim.claimName // empty),
            (.spec.dataVolumeTemplates[]?.metadata.name // empty)
          elif .kind == "VirtualMachineInstance" then (.spec.volumes[]?.persistentVolumeClaim.claimName // empty)
          elif .kind == "Pod" then (.spec.volumes[]?.persistentVolumeClaim.claimName // empty)
          else empty end
        | {key: "\($ns)/\(.)", value: true}] | from_entries) as $used
    | .items[] | select(.kind == "PersistentVolumeClaim")
    | select(.metadata.name | test("^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"))
    | "\(.metadata.namespace)/\(.metadata.name)" as $id
    | select(($used[$id] // false) | not)
    | select($detached[.spec.volumeName // ""] // false)
    | $id'
