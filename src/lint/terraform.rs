//! Terraform plans as `terraform show -json plan.out` prints them (Terraform's "JSON Output
//! Format": `format_version`, `resource_changes[]` with `address`, `mode`, `type`, `name` and
//! `change.{actions, before, after, after_unknown}`), turned into the Kubernetes objects the
//! Harvester provider would create, so the rules judge them like any other input.
//!
//! What each resource type becomes (harvester/terraform-provider-harvester):
//! - `harvester_image`: a VirtualMachineImage (`internal/provider/image/schema_image.go`,
//!   `resource_image_constructor.go`): `name`, `namespace` (default `default`,
//!   `internal/util` `NamespacedSchemaWrap`), `display_name`, `source_type`, `url`, `pvc_name`,
//!   `pvc_namespace`; `storage_class_name` goes to the `harvesterhci.io/storageClassName`
//!   annotation.
//! - `harvester_virtualmachine`: a VirtualMachine (`internal/provider/virtualmachine/
//!   schema_virtualmachine.go`, `resource_virtualmachine_constructor.go`): `cpu` (default 1) and
//!   `memory` (default `1Gi`) go through harvester/harvester `pkg/builder/vm.go` `CPU`/`Memory`,
//!   which set the template's `resources.limits.cpu`/`limits.memory`; the `requests` block sets
//!   `resources.requests`.
//! - `kubernetes_manifest` (hashicorp/kubernetes): its `manifest` object; `kubectl_manifest`
//!   (gavinbunney/kubectl): its `yaml_body`.
//!
//! Resources being deleted (`after` null) and data sources are skipped; a resource whose name is
//! only known after apply cannot be judged and is an input error.

use serde_json::{Map, Value, json};

/// One resource of the plan that became an object.
#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The Terraform address (`module.images.harvester_image.ubuntu["team-a"]`).
    pub address: String,
    /// 1-based line of its `resource_changes` entry.
    pub line: Option<usize>,
}

/// What a plan holds for the rules.
#[derive(Debug, Default)]
pub struct Converted {
    pub objects: Vec<Value>,
    pub planned: Vec<Planned>,
    /// (resource address, reason) of resources that could not be judged.
    pub errors: Vec<(String, String)>,
}

/// Is `text` a Terraform plan (or state) in JSON?
pub fn is_plan(value: &Value) -> bool {
    value.get("format_version").is_some()
        && (value.get("resource_changes").is_some() || value.get("planned_values").is_some())
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn unknown(rc: &Value, key: &str) -> bool {
    rc.pointer("/change/after_unknown")
        .and_then(|u| u.get(key))
        .is_some_and(|v| v == &Value::Bool(true))
}

/// Convert the plan `value` (whose source text is `source`, for line numbers).
pub fn convert(value: &Value, source: &str) -> Converted {
    let mut out = Converted::default();
    let lines = element_lines(source, "resource_changes");
    let Some(changes) = value.get("resource_changes").and_then(Value::as_array) else {
        return out;
    };
    for (i, rc) in changes.iter().enumerate() {
        let address = text(rc, "address").unwrap_or_else(|| format!("resource_changes[{i}]"));
        if rc.get("mode").and_then(Value::as_str).is_some_and(|m| m != "managed") {
            continue;
        }
        let Some(after) = rc.pointer("/change/after").filter(|a| a.is_object()) else {
            continue; // being deleted
        };
        let line = lines.get(i).copied();
        let ty = rc.get("type").and_then(Value::as_str).unwrap_or("");
        let obj = match ty {
            "harvester_image" | "harvester_virtualmachine" => {
                let Some(name) = text(after, "name").filter(|n| !n.is_empty()) else {
                    let why = if unknown(rc, "name") {
                        "its name is only known after apply, so it cannot be checked"
                    } else {
                        "it has no name"
                    };
                    out.errors.push((address, why.to_string()));
                    continue;
                };
                let namespace = text(after, "namespace")
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "default".into());
                if ty == "harvester_image" {
                    image(after, &name, &namespace)
                } else {
                    virtual_machine(after, &name, &namespace)
                }
            }
            "kubernetes_manifest" => match after.get("manifest") {
                Some(m) if m.is_object() => m.clone(),
                _ => continue,
            },
            "kubectl_manifest" => match after.get("yaml_body").and_then(Value::as_str) {
                Some(body) => match serde_saphyr::from_str::<Value>(body) {
                    Ok(v) if v.is_object() => v,
                    Ok(_) => continue,
                    Err(e) => {
                        out.errors.push((address, format!("yaml_body is not YAML: {e}")));
                        continue;
                    }
                },
                None => continue,
            },
            _ => continue,
        };
        let kind = match obj.get("kind").and_then(Value::as_str) {
            // As `KindInfo::qualified` spells them (the inventory's object keys).
            Some("VirtualMachineImage") => "VirtualMachineImage.harvesterhci.io",
            Some("VirtualMachine") => "VirtualMachine.kubevirt.io",
            Some("ResourceQuota") => "ResourceQuota",
            Some("StorageClass") => "StorageClass.storage.k8s.io",
            _ => "",
        };
        let meta = obj.get("metadata");
        let name = meta.and_then(|m| text(m, "name")).unwrap_or_default();
        let namespace = meta
            .and_then(|m| text(m, "namespace"))
            .unwrap_or_else(|| "default".into());
        if !kind.is_empty() && !name.is_empty() {
            out.planned.push(Planned {
                kind,
                namespace,
                name,
                address,
                line,
            });
        }
        out.objects.push(obj);
    }
    out
}

fn image(after: &Value, name: &str, namespace: &str) -> Value {
    let mut spec = Map::new();
    for (tf, k8s) in [
        ("display_name", "displayName"),
        ("source_type", "sourceType"),
        ("url", "url"),
        ("pvc_name", "pvcName"),
        ("pvc_namespace", "pvcNamespace"),
    ] {
        if let Some(v) = text(after, tf).filter(|v| !v.is_empty()) {
            spec.insert(k8s.into(), Value::String(v));
        }
    }
    let mut meta = json!({"name": name, "namespace": namespace});
    if let Some(sc) = text(after, "storage_class_name").filter(|v| !v.is_empty()) {
        meta["annotations"] = json!({"harvesterhci.io/storageClassName": sc});
    }
    json!({
        "apiVersion": "harvesterhci.io/v1beta1",
        "kind": "VirtualMachineImage",
        "metadata": meta,
        "spec": spec,
    })
}

fn virtual_machine(after: &Value, name: &str, namespace: &str) -> Value {
    // Schema defaults (cpu 1, memory 1Gi) are in the plan's `after` already; missing means
    // unknown until apply, which the builder still sets from the default.
    let cpu = text(after, "cpu").unwrap_or_else(|| "1".into());
    let memory = text(after, "memory").unwrap_or_else(|| "1Gi".into());
    let mut requests = Map::new();
    let block = match after.get("requests") {
        Some(Value::Array(a)) => a.first(),
        Some(v @ Value::Object(_)) => Some(v),
        _ => None,
    };
    if let Some(r) = block {
        for k in ["cpu", "memory"] {
            if let Some(v) = text(r, k).filter(|v| !v.is_empty()) {
                requests.insert(k.into(), Value::String(v));
            }
        }
    }
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"domain": {"resources": {
            "limits": {"cpu": cpu, "memory": memory},
            "requests": requests,
        }}}}},
    })
}

/// The 1-based line where each element of the top-level array `key` starts, by a scan of the
/// JSON text (serde_json keeps no positions).
pub fn element_lines(text: &str, key: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut depth = 0usize;
    let mut i = 0usize;
    // Inside the wanted array: its depth.
    let mut capture: Option<usize> = None;
    // After the key and its colon at depth 1: the next `[` opens the wanted array.
    let mut armed = false;
    // At the capture depth, expecting the start of an element.
    let mut want_element = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' => line = line.saturating_add(1),
            b'"' => {
                if want_element {
                    out.push(line);
                    want_element = false;
                }
                let start = i.saturating_add(1);
                let mut j = start;
                while let Some(&c) = bytes.get(j) {
                    match c {
                        b'\\' => j = j.saturating_add(1),
                        b'"' => break,
                        b'\n' => line = line.saturating_add(1),
                        _ => {}
                    }
                    j = j.saturating_add(1);
                }
                if depth == 1 && bytes.get(start..j) == Some(key.as_bytes()) {
                    let mut k = j.saturating_add(1);
                    while bytes.get(k).is_some_and(|c| c.is_ascii_whitespace()) {
                        if bytes.get(k) == Some(&b'\n') {
                            line = line.saturating_add(1);
                        }
                        k = k.saturating_add(1);
                    }
                    if bytes.get(k) == Some(&b':') {
                        armed = true;
                        j = k;
                    }
                }
                i = j;
            }
            b'{' | b'[' => {
                if want_element {
                    out.push(line);
                    want_element = false;
                }
                depth = depth.saturating_add(1);
                if armed && b == b'[' {
                    capture = Some(depth);
                    want_element = true;
                }
                armed = false;
            }
            b'}' | b']' => {
                if capture == Some(depth) {
                    capture = None;
                    want_element = false;
                }
                depth = depth.saturating_sub(1);
            }
            b',' if capture == Some(depth) => want_element = true,
            c if c.is_ascii_whitespace() || c == b':' || c == b',' => {}
            _ => {
                if want_element {
                    out.push(line);
                    want_element = false;
                }
            }
        }
        i = i.saturating_add(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_array_elements() {
        let t = "{\n \"planned_values\": {\"resource_changes\": [1]},\n \"resource_changes\": [\n  {\"a\": \"x\\\"]\"},\n\n  {\"b\": [1,\n 2]}\n ]\n}";
        assert_eq!(element_lines(t, "resource_changes"), vec![4, 6]);
        assert!(element_lines("{\"resource_changes\": []}", "resource_changes").is_empty());
    }

    #[test]
    fn converts_images_and_vms() {
        let plan = json!({"format_version": "1.2", "resource_changes": [
            {"address": "harvester_image.a", "mode": "managed", "type": "harvester_image",
             "change": {"actions": ["create"], "after": {"name": "u", "namespace": "team-a", "url": "https://x/current/u.img", "source_type": "download", "display_name": "U"}}},
            {"address": "harvester_image.gone", "mode": "managed", "type": "harvester_image",
             "change": {"actions": ["delete"], "after": null}},
            {"address": "harvester_image.unknown", "mode": "managed", "type": "harvester_image",
             "change": {"actions": ["create"], "after": {"namespace": "x"}, "after_unknown": {"name": true}}},
            {"address": "harvester_virtualmachine.v", "mode": "managed", "type": "harvester_virtualmachine",
             "change": {"actions": ["create"], "after": {"name": "v", "cpu": 2, "memory": "4Gi"}}}
        ]});
        let c = convert(&plan, &plan.to_string());
        assert_eq!(c.objects.len(), 2);
        assert_eq!(c.planned.len(), 2);
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.objects[0]["spec"]["url"], "https://x/current/u.img");
        assert_eq!(c.objects[1]["metadata"]["namespace"], "default");
        assert_eq!(
            c.objects[1]["spec"]["template"]["spec"]["domain"]["resources"]["limits"]["cpu"],
            "2"
        );
    }
}
