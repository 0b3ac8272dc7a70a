#!/usr/bin/env bash
# The naive image-name-collision check users script today: every non-CDI image, its class
# (status.storageClassName, else longhorn-<name> as Harvester < v1.8 names it), images sharing a
# class, and how many PVCs use each shared class. Prints one line per colliding image:
#   <namespace>/<image> <class> pvcs=<n>
# (StorageClasses are not needed for this: the image says its class.) Needs kubectl (KUBECONFIG) and jq.
set -euo pipefail
kubectl get virtualmachineimages.harvesterhci.io,persistentvolumeclaims \
  -A -o json --chunk-size "${CHUNK_SIZE:-500}" |
  jq -r '
    ([.items[] | select(.kind == "PersistentVolumeClaim") | .spec.storageClassName // ""]
      | group_by(.) | map({key: .[0], value: length}) | from_entries) as $pvcs
    | [.items[] | select(.kind == "VirtualMachineImage" and (.spec.backend // "backingimage") != "cdi")
        | {id: "\(.metadata.namespace)/\(.metadata.name)",
           class: (.status.storageClassName // "longhorn-\(.metadata.name)")}]
    | group_by(.class) | map(select(length > 1)) | .[][]
    | "\(.id) \(.class) pvcs=\($pvcs[.class] // 0)"'
