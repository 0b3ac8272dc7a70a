//! `lint`: manifests and Terraform plans judged before apply. Plans follow Terraform's documented
//! JSON output format (`terraform show -json`); a real plan needs a running Harvester for the
//! provider, so the test plans are written by hand in that format. The live tests lay a plan over
//! a real apiserver holding the same names.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY");
    c
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = bin();
    c.arg("lint").args(args);
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("run plugin");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("plugin output")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn findings<'a>(r: &'a Value, rule: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["rule"] == rule).collect())
        .unwrap_or_default()
}

const PLAN: &str = "tests/lint/plan-collision.json";

#[test]
fn terraform_plan_collision_before_v1_8() {
    let out = run(&[PLAN, "--harvester-version", "v1.4.1", "-o", "json"], None);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    let c = findings(&r, "image-name-collision");
    assert_eq!(c.len(), 2, "{r:#}");
    let mut addresses: Vec<&str> = c
        .iter()
        .filter_map(|f| f["details"]["terraformAddress"].as_str())
        .collect();
    addresses.sort();
    assert_eq!(
        addresses,
        ["harvester_image.ubuntu_team_a", "module.team_b.harvester_image.ubuntu"]
    );
    for f in &c {
        assert_eq!(f["severity"], "error");
        assert_eq!(f["confidence"], "likely", "known version, derived class: {f:#}");
        assert!(
            f["evidence"]
                .as_array()
                .unwrap()
                .contains(&json!("shared-class:longhorn-ubuntu-22"))
        );
        assert!(f["evidence"].as_array().unwrap().contains(&json!("planned")));
        assert!(
            f["object"].get("uid").is_none_or(Value::is_null),
            "planned uids are not reported"
        );
        assert_eq!(f["origin"]["file"], PLAN);
        assert!(
            f["title"]
                .as_str()
                .unwrap()
                .starts_with("would share StorageClass longhorn-ubuntu-22")
        );
    }
    let a = c.iter().find(|f| f["object"]["namespace"] == "team-a").unwrap();
    assert_eq!(a["origin"]["line"], 14, "the resource_changes entry's line");
    assert_eq!(a["related"][0]["namespace"], "team-b");
    // The deleted image and the data source are not judged.
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["object"]["namespace"] != "team-c")
    );
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["object"]["namespace"] != "team-z")
    );
    // The moving URL of team-b's image, not team-a's pinned one.
    let m = findings(&r, "image-mutable-url");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["object"]["namespace"], "team-b");
    assert!(
        m[0]["evidence"]
            .as_array()
            .unwrap()
            .contains(&json!("moving-segment:current"))
    );
    // The 57-character VM with cpu/memory limits (from the provider's cpu/memory); web-01 is fine.
    let v = findings(&r, "vm-name-breaks-migration");
    assert_eq!(v.len(), 1, "{r:#}");
    assert_eq!(
        v[0]["object"]["name"],
        "ci-runner-ubuntu-2204-gpu-passthrough-east-rack07-slot14a"
    );
    assert!(
        v[0]["evidence"]
            .as_array()
            .unwrap()
            .contains(&json!("template-limits:cpu=4,memory=8Gi"))
    );
    assert_eq!(v[0]["severity"], "info", "quotas unknown without a cluster: {:#}", v[0]);
    assert_eq!(r["summary"]["total"], 4);
    assert_eq!(r["summary"]["objectsScanned"], 4);
}

#[test]
fn terraform_plan_on_v1_8_and_fixed_versions() {
    // v1.8.0: each new image gets lh-<uid>; nothing is shared. The VM name bug is fixed.
    let out = run(&[PLAN, "--harvester-version", "v1.8.0", "-o", "json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    assert!(findings(&r, "image-name-collision").is_empty(), "{r:#}");
    assert!(findings(&r, "vm-name-breaks-migration").is_empty(), "{r:#}");
    assert_eq!(findings(&r, "image-mutable-url").len(), 1);
    // Unknown version: the collision is still reported, as possible.
    let r = json_of(&run(&[PLAN, "-o", "json"], None));
    let c = findings(&r, "image-name-collision");
    assert_eq!(c.len(), 2);
    assert!(c.iter().all(|f| f["confidence"] == "possible"));
}

#[test]
fn sarif_and_junit_carry_file_and_line() {
    let out = run(&[PLAN, "--harvester-version", "v1.4.1", "-o", "sarif"], None);
    assert_eq!(out.status.code(), Some(1));
    let s = json_of(&out);
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let lines: Vec<u64> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        lines.contains(&14) && lines.contains(&41) && lines.contains(&72),
        "{lines:?}"
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        PLAN
    );
    // The typed SARIF 2.1.0 model reads it, regions included.
    let typed: serde_sarif::sarif::Sarif = serde_json::from_value(s.clone()).expect("serde-sarif reads it");
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        back["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    );
    let out = run(&[PLAN, "--harvester-version", "v1.4.1", "-o", "junit"], None);
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(
        xml.contains("<testsuite") && xml.contains("image-name-collision") && xml.contains("<failure"),
        "{xml}"
    );
    let out = run(&[PLAN, "--harvester-version", "v1.4.1", "-o", "yaml"], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("terraformAddress"));
    let mut c = bin();
    let out = c
        .args(["lint", PLAN, "--harvester-version", "v1.4.1"])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("would share StorageClass longhorn-ubuntu-22"), "{table}");
}

const MANIFESTS: &str = "apiVersion: harvesterhci.io/v1beta1
kind: VirtualMachineImage
metadata:
  name: jammy
  namespace: team-a
spec:
  displayName: jammy
  sourceType: download
  url: https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img
---
# the same name in another namespace
apiVersion: harvesterhci.io/v1beta1
kind: VirtualMachineImage
metadata:
  name: jammy
  namespace: team-b
spec:
  displayName: jammy (b)
  sourceType: download
  url: https://cloud-images.ubuntu.com/releases/jammy/release-20240514/ubuntu-22.04-server-cloudimg-amd64.img
---
apiVersion: v1
kind: List
items:
- apiVersion: kubevirt.io/v1
  kind: VirtualMachine
  metadata:
    name: a-very-long-virtual-machine-name-that-breaks-migration-x1
    namespace: team-b
  spec:
    template:
      spec:
        domain:
          resources:
            limits: {cpu: '2', memory: 4Gi}
- apiVersion: kubevirt.io/v1
  kind: VirtualMachine
  metadata:
    name: fifty-three-characters-long-vm-name-is-still-fine-ok1
    namespace: team-b
  spec:
    template:
      spec:
        domain:
          resources:
            limits: {cpu: '2', memory: 4Gi}
- apiVersion: v1
  kind: ResourceQuota
  metadata:
    name: default-abcde
    namespace: team-b
    labels: {resourcequota.management.cattle.io/default-resource-quota: 'true'}
  spec:
    hard: {limits.cpu: '4', limits.memory: 8Gi}
  status:
    hard: {limits.cpu: '4', limits.memory: 8Gi}
    used: {limits.cpu: '3', limits.memory: 6Gi}
";

#[test]
fn manifests_from_stdin_with_lines() {
    assert_eq!("fifty-three-characters-long-vm-name-is-still-fine-ok1".len(), 53);
    assert_eq!("a-very-long-virtual-machine-name-that-breaks-migration-x1".len(), 57);
    let out = run(&["-", "--harvester-version", "v1.4.1", "-o", "json"], Some(MANIFESTS));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json_of(&out);
    let c = findings(&r, "image-name-collision");
    assert_eq!(c.len(), 2, "{r:#}");
    let b = c.iter().find(|f| f["object"]["namespace"] == "team-b").unwrap();
    assert_eq!(b["origin"]["file"], "<stdin>");
    assert_eq!(b["origin"]["document"], 1);
    assert_eq!(b["origin"]["line"], 15, "metadata.name of the second document");
    let m = findings(&r, "image-mutable-url");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["origin"]["line"], 4);
    // The Rancher default quota in the same input governs it: judged from its template (a VM
    // that does not run yet), a warning naming that quota.
    let v = findings(&r, "vm-name-breaks-migration");
    assert_eq!(v.len(), 1, "{r:#}");
    assert_eq!(v[0]["severity"], "warning", "{:#}", v[0]);
    assert!(
        v[0]["evidence"]
            .as_array()
            .unwrap()
            .contains(&json!("quota:default-abcde"))
    );
    assert_eq!(v[0]["origin"]["item"], 0);
    assert_eq!(v[0]["origin"]["line"], 28);
    // The quota itself is context, not a finding; the 53-character VM is fine.
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["object"]["kind"] != "ResourceQuota")
    );
}

#[test]
fn directories_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images.yaml"), MANIFESTS).unwrap();
    std::fs::create_dir(dir.path().join("tf")).unwrap();
    std::fs::copy(PLAN, dir.path().join("tf/plan.json")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not read").unwrap();
    let d = dir.path().to_str().unwrap();
    let r = json_of(&run(&[d, "--harvester-version", "v1.4.1", "-o", "json"], None));
    // jammy in team-a/team-b, ubuntu-22 in team-a/team-b.
    assert_eq!(findings(&r, "image-name-collision").len(), 4, "{r:#}");
    // A plan whose image name is only known after apply: an input error, not silence.
    let plan = json!({"format_version": "1.2", "resource_changes": [
        {"address": "harvester_image.x", "mode": "managed", "type": "harvester_image",
         "change": {"actions": ["create"], "after": {"namespace": "team-a", "source_type": "download"}, "after_unknown": {"name": true}}}
    ]});
    let p = dir.path().join("unknown.json");
    std::fs::write(&p, plan.to_string()).unwrap();
    let out = run(&[p.to_str().unwrap(), "-o", "json"], None);
    assert_eq!(out.status.code(), Some(0));
    let r = json_of(&out);
    assert_eq!(r["inputErrors"][0]["object"], "harvester_image.x", "{r:#}");
    assert!(
        r["inputErrors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("only known after apply")
    );
    // --against-cluster with an unreachable cluster: exit 3, as scan.
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let out = run(&[PLAN, "--against-cluster", "--kubeconfig", kc.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    // Usage errors: a missing file, a rule lint does not run.
    assert_eq!(run(&["/nonexistent/x.yaml"], None).status.code(), Some(2));
    assert_eq!(
        run(&[PLAN, "--rules", "orphaned-guest-pvc"], None).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&[PLAN, "--harvester-version", "banana"], None).status.code(),
        Some(2)
    );
}

/// A plan in Terraform's format creating images `name` in `namespaces`.
fn plan_for(name: &str, namespaces: &[&str]) -> String {
    let changes: Vec<Value> = namespaces
        .iter()
        .map(|ns| {
            json!({
                "address": format!("harvester_image.{}", ns.replace('-', "_")),
                "mode": "managed", "type": "harvester_image", "name": ns.replace('-', "_"),
                "provider_name": "registry.terraform.io/harvester/harvester",
                "change": {"actions": ["create"], "before": null, "after": {
                    "name": name, "namespace": ns, "display_name": name, "source_type": "download",
                    "url": "https://images.example.invalid/pinned/ubuntu-22.04-20240514.img"},
                    "after_unknown": {"id": true}}
            })
        })
        .collect();
    serde_json::to_string_pretty(
        &json!({"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes}),
    )
    .unwrap()
}

/// The seed's collision where the names already exist: team-a's image is in the cluster on its
/// legacy class; the plan creates the same name in team-b.
#[tokio::test]
async fn against_the_live_cluster() {
    let a = common::namespace("lint-a").await;
    let b = common::namespace("lint-b").await;
    let name = common::unique("ubuntu");
    let class = format!("longhorn-{name}");
    common::ensure_namespace("longhorn-system").await;
    let bi = common::unique("vmi");
    common::create(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": name, "namespace": a},
        "spec": {"displayName": name, "sourceType": "download", "url": "https://images.example.invalid/pinned/u.img"},
        "status": {"storageClassName": class, "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Imported", "status": "True"}]}}))
    .await;
    common::create(json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackingImage",
        "metadata": {"name": bi, "namespace": "longhorn-system", "annotations": {"harvesterhci.io/imageId": format!("{a}/{name}")}},
        "spec": {"sourceType": "download", "sourceParameters": {"url": "https://images.example.invalid/pinned/u.img"}}}))
    .await;
    common::create(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": class}, "provisioner": "driver.longhorn.io",
        "parameters": {"backingImage": bi, "migratable": "true"}}))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, plan_for(&name, &[&b])).unwrap();
    let kc = common::kubeconfig().to_str().unwrap().to_string();
    let p = plan.to_str().unwrap();

    // Without the cluster, one image is no collision.
    let r = json_of(&run(&[p, "--harvester-version", "v1.4.1", "-o", "json"], None));
    assert!(findings(&r, "image-name-collision").is_empty(), "{r:#}");

    // v1.4.1: the planned image would share team-a's class.
    let args = [
        p,
        "--against-cluster",
        "--kubeconfig",
        &kc,
        "--harvester-version",
        "v1.4.1",
        "-o",
        "json",
    ];
    let out = run(&args, None);
    let r = json_of(&out);
    let c = findings(&r, "image-name-collision");
    assert_eq!(c.len(), 1, "only the planned image is reported: {r:#}");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(c[0]["object"]["namespace"], b.as_str());
    assert_eq!(c[0]["related"][0]["namespace"], a.as_str());
    assert!(
        c[0]["evidence"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("shared-class:{class}")))
    );
    assert!(
        c[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("Today the class serves {a}/{name}"))
    );
    assert_eq!(r["source"]["type"], "live");

    // v1.8.0: the legacy class exists, so the new image deletes it and takes it over.
    let args = [
        p,
        "--against-cluster",
        "--kubeconfig",
        &kc,
        "--harvester-version",
        "v1.8.0",
        "-o",
        "json",
    ];
    let r = json_of(&run(&args, None));
    let c = findings(&r, "image-name-collision");
    assert_eq!(c.len(), 1, "{r:#}");
    assert!(
        c[0]["evidence"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("takeover:{class}"))),
        "{:#}",
        c[0]
    );
    assert!(c[0]["message"].as_str().unwrap().contains("legacy-class takeover"));
    assert!(
        c[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("would take over StorageClass")
    );

    // Re-applying team-a's own image (same namespace and name) is not a collision with itself.
    std::fs::write(&plan, plan_for(&name, &[&a])).unwrap();
    let args = [
        p,
        "--against-cluster",
        "--kubeconfig",
        &kc,
        "--harvester-version",
        "v1.4.1",
        "-o",
        "json",
    ];
    let r = json_of(&run(&args, None));
    assert!(findings(&r, "image-name-collision").is_empty(), "{r:#}");
}
