//! The test apiserver serves every custom kind the scanner reads (the inventory kind
//! registry) with the upstream schema that scripts/build-crds.sh generates: a structural
//! schema that declares, with a type, every field the kind's typed view reads. A hand-written
//! stand-in with an open `spec` fails here, and so does a view that reads a field upstream
//! does not have.

mod common;

use harvester_hygiene::inventory::KindInfo;
use harvester_hygiene::inventory::kinds::REGISTRY;
use serde_json::Value;

/// API groups the kube-apiserver serves itself: no CRD to check.
const BUILT_IN_GROUPS: &[&str] = &["", "rbac.authorization.k8s.io", "storage.k8s.io"];

const CONDITION: &[&str] = &[
    "type",
    "status",
    "lastTransitionTime",
    "lastUpdateTime",
    "message",
    "reason",
];
const VOLUME: &[&str] = &[
    "name",
    "persistentVolumeClaim.claimName",
    "persistentVolumeClaim.hotpluggable",
    "dataVolume.name",
];

/// The fields each kind's view in src/inventory/kinds/ reads, as schema paths: `a.b` an
/// object property, `a[]` the items of an array, `a{}` the values of a map.
fn fields_read(group: &str, kind: &str) -> Option<Vec<String>> {
    let list = |prefix: &str, names: &[&str]| -> Vec<String> { names.iter().map(|n| format!("{prefix}{n}")).collect() };
    let owned = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
    Some(match kind {
        "VirtualMachineImage" => [
            owned(&[
                "spec.backend",
                "spec.displayName",
                "spec.sourceType",
                "spec.url",
                "spec.checksum",
                "spec.targetStorageClassName",
                "spec.pvcName",
                "spec.pvcNamespace",
                "status.storageClassName",
            ]),
            list("status.conditions[].", CONDITION),
        ]
        .concat(),
        "BackingImage" => owned(&[
            "status.checksum",
            "status.diskFileStatusMap{}.state",
            "status.diskFileStatusMap{}.message",
        ]),
        "Setting" if group == "longhorn.io" => owned(&["value"]),
        "Setting" => owned(&["value", "default"]),
        "LoadBalancer" => owned(&["spec.workloadType", "spec.ipam", "status.address"]),
        "IPPool" => owned(&["status.allocated"]),
        "Orphan" => owned(&[
            "spec.nodeID",
            "spec.orphanType",
            "spec.parameters",
            "status.conditions[].type",
            "status.conditions[].status",
        ]),
        "VirtualMachine" => [
            list("spec.template.spec.volumes[].", VOLUME),
            owned(&[
                "spec.dataVolumeTemplates[].metadata.name",
                "spec.template.spec.domain.resources.limits",
                "spec.template.spec.domain.resources.requests",
                "spec.template.spec.domain.resources.overcommitGuestOverhead",
                "status.volumeRequests[].addVolumeOptions.volumeSource.persistentVolumeClaim.claimName",
                "status.volumeRequests[].addVolumeOptions.volumeSource.dataVolume.name",
            ]),
        ]
        .concat(),
        "VirtualMachineInstance" => [
            list("spec.volumes[].", VOLUME),
            owned(&[
                "spec.domain.resources.limits",
                "spec.domain.resources.requests",
                "spec.domain.resources.overcommitGuestOverhead",
            ]),
        ]
        .concat(),
        "Volume" => [
            owned(&[
                "spec.size",
                "spec.numberOfReplicas",
                "spec.Standby",
                "status.state",
                "status.robustness",
                "status.kubernetesStatus.namespace",
                "status.kubernetesStatus.pvcName",
                "status.kubernetesStatus.pvName",
                "status.kubernetesStatus.lastPVCRefAt",
                "status.kubernetesStatus.lastPodRefAt",
            ]),
            list(
                "status.kubernetesStatus.workloadsStatus[].",
                &["podName", "podStatus", "workloadName", "workloadType"],
            ),
        ]
        .concat(),
        "VirtualMachineInstanceMigration" => owned(&[
            "spec.vmiName",
            "status.phase",
            "status.phaseTransitionTimestamps[].phase",
            "status.phaseTransitionTimestamps[].phaseTransitionTimestamp",
        ]),
        // The view reads metadata only; the snapshot's source is what makes it one.
        "VolumeSnapshot" => owned(&["spec.source.persistentVolumeClaimName", "spec.volumeSnapshotClassName"]),
        "VirtualMachineImport" => [
            owned(&[
                "spec.sourceCluster.kind",
                "spec.sourceCluster.name",
                "spec.sourceCluster.namespace",
                "spec.virtualMachineName",
                "status.importStatus",
                "status.diskImportStatus",
            ]),
            list("status.importConditions[].", CONDITION),
        ]
        .concat(),
        "OpenstackSource" => owned(&[
            "spec.endpoint",
            "spec.region",
            "spec.credentials.name",
            "spec.credentials.namespace",
        ]),
        "Addon" => owned(&["spec.version", "spec.enabled"]),
        "Upgrade" => [
            owned(&["spec.version", "status.previousVersion"]),
            list("status.conditions[].", CONDITION),
        ]
        .concat(),
        "VirtualMachineBackup" => owned(&[
            "spec.source.name",
            "spec.type",
            "status.readyToUse",
            "status.creationTime",
            "status.error.message",
            "status.error.time",
            "status.progress",
        ]),
        "ScheduleVMBackup" => [
            owned(&[
                "spec.cron",
                "spec.maxFailure",
                "spec.suspend",
                "status.failure",
                "status.suspended",
            ]),
            list("status.conditions[].", CONDITION),
        ]
        .concat(),
        _ => return None,
    })
}

fn preserves_unknown(node: &Value) -> bool {
    node["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
}

/// The schema node at `path`, or why there is none. Inside an object that preserves unknown
/// fields only `metadata` is accepted (embedded ObjectMeta, as in KubeVirt's
/// dataVolumeTemplates): anywhere else that would be an open schema.
fn node_at<'a>(root: &'a Value, path: &str) -> Result<&'a Value, String> {
    let mut node = root;
    let mut at = String::new();
    let mut parent = "";
    for part in path.split('.') {
        let (name, suffix) = match part.find(['[', '{']) {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        at.push('.');
        at.push_str(name);
        if preserves_unknown(node) && node["properties"].get(name).is_none() {
            if parent == "metadata" {
                return Ok(node);
            }
            return Err(format!("{at}: inside an object that preserves unknown fields"));
        }
        parent = name;
        node = node["properties"]
            .get(name)
            .ok_or_else(|| format!("{at}: no such property"))?;
        for s in suffix.split_inclusive(['}', ']']) {
            at.push_str(s);
            node = match s {
                "[]" => node.get("items"),
                "{}" => node.get("additionalProperties"),
                _ => None,
            }
            .ok_or_else(|| format!("{at}: not an array/map schema"))?;
        }
    }
    if node.get("type").is_none() && !preserves_unknown(node) && node.get("x-kubernetes-int-or-string").is_none() {
        return Err(format!("{at}: no type"));
    }
    Ok(node)
}

/// What is wrong with the served CRD of `info`, if anything.
fn check(info: &KindInfo, crd: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let spec = &crd["spec"];
    if spec["names"]["kind"] != info.kind {
        problems.push(format!("names.kind is {}", spec["names"]["kind"]));
    }
    let scope = if info.namespaced { "Namespaced" } else { "Cluster" };
    if spec["scope"] != scope {
        problems.push(format!("scope is {}, the view expects {scope}", spec["scope"]));
    }
    let conditions = crd["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let condition = |t: &str| {
        conditions
            .iter()
            .find(|c| c["type"] == t)
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
    };
    if condition("Established").as_deref() != Some("True") {
        problems.push("not Established".into());
    }
    if condition("NonStructuralSchema").as_deref() == Some("True") {
        problems.push("the schema is not structural".into());
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    let Some(version) = versions.iter().find(|v| v["name"] == info.version) else {
        problems.push(format!("no version {}", info.version));
        return problems;
    };
    if version["served"] != Value::Bool(true) {
        problems.push(format!("version {} is not served", info.version));
    }
    let schema = &version["schema"]["openAPIV3Schema"];
    if schema["type"] != "object" {
        problems.push("no object schema at the root".into());
    }
    if preserves_unknown(schema) {
        problems.push("the root preserves unknown fields".into());
    }
    for top in ["spec", "status"] {
        if let Some(node) = schema["properties"].get(top)
            && preserves_unknown(node)
        {
            problems.push(format!("{top} preserves unknown fields (an open schema)"));
        }
    }
    match fields_read(info.group, info.kind) {
        None => problems.push(format!(
            "tests/testbed_crds.rs lists no fields for {}: add those its view reads",
            info.kind
        )),
        Some(paths) => {
            assert!(!paths.is_empty());
            for p in paths {
                if let Err(e) = node_at(schema, &p) {
                    problems.push(format!("{p}: {e}"));
                }
            }
        }
    }
    problems
}

#[tokio::test]
async fn every_custom_kind_the_scanner_reads_has_its_upstream_schema() {
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for ops in REGISTRY {
        let info = ops.info();
        if BUILT_IN_GROUPS.contains(&info.group) {
            continue;
        }
        let name = format!("{}.{}", info.plural, info.group);
        match common::get_path(&format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
        ))
        .await
        {
            Ok(crd) => {
                for p in check(info, &crd) {
                    problems.push(format!("{name}: {p}"));
                }
            }
            Err(e) => problems.push(format!("{name}: no CRD served ({e})")),
        }
        // Served: the group/version lists the resource.
        match common::get_path(&format!("/apis/{}/{}", info.group, info.version)).await {
            Ok(list) => {
                let served = list["resources"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["name"] == info.plural));
                if !served {
                    problems.push(format!(
                        "{name}: /apis/{}/{} does not list it",
                        info.group, info.version
                    ));
                }
            }
            Err(e) => problems.push(format!("{name}: /apis/{}/{}: {e}", info.group, info.version)),
        }
        checked.push(info.kind);
    }
    // The registry's custom kinds: Harvester, KubeVirt, Longhorn, vm-import-controller,
    // external-snapshotter.
    assert!(checked.len() >= 12, "custom kinds checked: {checked:?}");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn an_open_stand_in_schema_is_refused() {
    let info = REGISTRY
        .iter()
        .map(|o| o.info())
        .find(|i| i.kind == "VirtualMachineImport")
        .expect("VirtualMachineImport is registered");
    let stand_in = serde_json::json!({
        "spec": {"names": {"kind": "VirtualMachineImport"}, "scope": "Namespaced", "versions": [{
            "name": "v1beta1", "served": true, "storage": true,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]},
        "status": {"conditions": [{"type": "Established", "status": "True"}]}
    });
    let problems = check(info, &stand_in);
    assert!(
        problems.iter().any(|p| p.contains("spec preserves unknown fields")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("spec.virtualMachineName")),
        "{problems:?}"
    );
}
