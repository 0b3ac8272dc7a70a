//! Files input: the demo dump through the binary, support bundle zips (coverage from file
//! paths, "null" strings), malformed documents (reported with file and index, skipped).

use std::io::Write;

use harvester_hygiene::inventory::kinds::{PersistentVolumeClaim, VirtualMachineImage};
use harvester_hygiene::inventory::{Inventory, files};
use harvester_hygiene::scan::{ScanOptions, scan};
use serde_json::Value;

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1");
    c
}

#[test]
fn demo_dump_reports_exactly_the_planted_problems() {
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}/{} {}",
                f["rule"].as_str().unwrap(),
                f["object"]["namespace"].as_str().unwrap(),
                f["object"]["name"].as_str().unwrap(),
                f["severity"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "backup-failed team-b/db-01-before-pg16 warning",
            "guest-cluster-leftovers rke2-guests/rke2-guests-staging info",
            "image-mutable-url harvester-public/debian-12 warning",
            "image-mutable-url team-a/jammy-daily error",
            "image-name-collision team-a/ubuntu-22 error",
            "image-name-collision team-b/ubuntu-22 error",
            "image-stuck longhorn-system/vmi-a4cdb33f-a82c-4f40-96b1-297730fcd719 warning",
            "import-openstack-leak migrations/erp-db warning",
            "longhorn-orphaned-data longhorn-system/orphan-6e0c1f5b2a9d4e7f83c1d0b9a4e2f6c7189d3b5a0e4c7f2d1b6a9e8c3f5d7a2b warning",
            "longhorn-orphaned-data longhorn-system/pvc-5f0c2d9e-8a41-4c7b-9e13-6d2a7b4c1f08 warning",
            "migration-annotation-stale team-b/default-9xq2c warning",
            "migration-stuck rke2-guests/jumpbox-m4wq8 warning",
            "orphaned-guest-pvc rke2-guests/pvc-153f00a9-7334-4e0d-89f6-f009691dec50 warning",
            "storageclass-missing team-a/analytics-scratch warning",
            "vm-disk-orphaned team-b/ci-runner-02-disk-1-m3q8x warning",
            "vm-name-breaks-migration sandbox/experiment-k8s-1-31-cilium-ebpf-kube-proxy-replacement-01 info",
            "vm-name-breaks-migration team-b/ci-runner-ubuntu-2204-gpu-passthrough-east-rack07-slot14a error",
        ]
    );
    // The deleted cluster's volume: history names its gone node VM, its credentials outlived it.
    let orphan = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "orphaned-guest-pvc")
        .unwrap();
    assert_eq!(orphan["confidence"], "likely");
    assert!(
        orphan["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "dead-credentials:staging(last-vm-gone:staging-pool1-7d9c5-xk2mz)"),
        "{orphan}"
    );
    assert_eq!(orphan["reclaimableBytes"], 3 * 21474836480u64);
    assert_eq!(
        doc["summary"]["reclaimableBytes"],
        // orphaned-guest-pvc, longhorn-orphaned-data, vm-disk-orphaned, and image-stuck's
        // BackingImage left behind (3 copies of 6 GiB).
        3 * 21474836480u64 + 3 * 53687091200u64 + 3 * 42949672960u64 + 3 * 6442450944u64
    );
    let stale = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "migration-annotation-stale")
        .unwrap();
    assert!(
        stale["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "hard:inflated"),
        "{stale}"
    );
    assert_eq!(doc["harvesterVersion"], "v1.4.1");
    assert_eq!(doc["source"]["harvesterVersionSource"], "setting");
    assert!(doc["inputErrors"].as_array().unwrap().is_empty());
    // Table: grouped by rule, no colour without a terminal.
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("image-name-collision ·") && text.contains("17 findings: 4 errors, 11 warnings, 2 info"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'));
    // --fail-on never: findings but exit 0.
    let out = bin()
        .args([
            "scan",
            "--from",
            "examples/demo-cluster",
            "--fail-on",
            "never",
            "-o",
            "yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

const IMG: &str = "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: NAME\n  namespace: NS\nspec:\n  displayName: NAME\n  sourceType: download\n  url: https://cloud-images.ubuntu.com/noble/current/noble.img\n";

#[test]
fn hex_ids_that_look_like_floats_do_not_drop_the_object() {
    let text = "apiVersion: longhorn.io/v1beta2\nkind: BackingImage\nmetadata:\n  name: vmi-x\n  namespace: longhorn-system\nstatus:\n  uuid: 803e6819\n  checksum: 1e999\n";
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "bi.yaml", text);
    assert!(inv.input_errors.is_empty(), "{:?}", inv.input_errors);
    let bis = inv.objects::<harvester_hygiene::inventory::kinds::BackingImage>();
    assert_eq!(bis.len(), 1);
    // The value itself is lost to the YAML float reading (`.inf`); the object is kept.
    assert!(!bis[0].status.checksum.is_empty());
}

#[test]
fn malformed_documents_are_reported_and_skipped() {
    let text = format!(
        "{}---\nkind: [unclosed\n---\n{}---\napiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: bad-spec\n  namespace: ns\nspec: 42\n",
        IMG.replace("NAME", "good-1").replace("NS", "ns"),
        IMG.replace("NAME", "good-2").replace("NS", "ns")
    );
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "dump.yaml", &text);
    assert_eq!(inv.objects::<VirtualMachineImage>().len(), 2);
    assert_eq!(inv.input_errors.len(), 2, "{:?}", inv.input_errors);
    assert_eq!(inv.input_errors[0].source, "dump.yaml");
    assert_eq!(inv.input_errors[0].document, Some(1));
    assert!(inv.input_errors[0].reason.contains("invalid YAML"));
    assert_eq!(inv.input_errors[1].document, Some(3));
    assert!(inv.input_errors[1].object.as_deref().unwrap().contains("bad-spec"));
}

#[test]
fn support_bundle_zip_is_read_with_path_coverage_and_null_strings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supportbundle_2026-11-20.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let list = |items: &str| format!("apiVersion: v1\nkind: List\nitems:\n{items}");
    // Images in team-a (one with "null" labels, as the bundle writes empty values).
    zip.start_file(
        "sb-abc/yamls/namespaced/team-a/harvester/virtualmachineimages.yaml",
        opts,
    )
    .unwrap();
    let item = IMG
        .replace("NAME", "noble")
        .replace("NS", "team-a")
        .replace("metadata:\n", "metadata:\n  labels: \"null\"\n");
    let indented: String = item
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("- {l}\n") } else { format!("  {l}\n") })
        .collect();
    zip.write_all(list(&indented).as_bytes()).unwrap();
    // An empty PVC list for team-a: known empty, not unknown.
    zip.start_file(
        "sb-abc/yamls/namespaced/team-a/kubernetes/persistentvolumeclaims.yaml",
        opts,
    )
    .unwrap();
    zip.write_all(b"apiVersion: v1\nkind: List\nitems: \"null\"\n").unwrap();
    zip.start_file("sb-abc/logs/harvester.log", opts).unwrap();
    zip.write_all(b"not yaml").unwrap();
    zip.finish().unwrap();

    let mut inv = Inventory::new(None, true);
    files::load(&mut inv, std::slice::from_ref(&path)).unwrap();
    assert!(inv.input_errors.is_empty(), "{:?}", inv.input_errors);
    let imgs = inv.objects::<VirtualMachineImage>();
    assert_eq!(imgs.len(), 1);
    assert!(imgs[0].metadata.labels.is_empty());
    assert!(inv.covers::<PersistentVolumeClaim>(Some("team-a")));
    assert!(!inv.covers::<PersistentVolumeClaim>(Some("team-b")));
    assert!(!inv.covers::<PersistentVolumeClaim>(None));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(scan(&ScanOptions::files(vec![path]))).unwrap();
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule, "image-mutable-url");
    assert!(report.harvester_version.is_none());
}

#[test]
fn a_zip_that_is_not_a_bundle_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.zip");
    std::fs::write(&path, b"PK not really").unwrap();
    let out = bin().arg("scan").arg("--from").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("random.zip"));
}

#[test]
fn json_and_kind_list_and_directories_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/one.json"),
        r#"{"apiVersion":"v1","kind":"PersistentVolumeClaimList","items":[{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"p","namespace":"x"},"spec":{"storageClassName":"s"}}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let mut inv = Inventory::new(None, true);
    files::load(&mut inv, &[dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.objects::<PersistentVolumeClaim>().len(), 1);
    assert!(inv.input_errors.is_empty());
}

/// serde-saphyr's default budgets (250k nodes, 1M events) stop a few thousand objects in; a
/// 30k-item `List`, as `kubectl get pvc -A -o yaml` prints on a big cluster, must load.
#[test]
fn a_30k_item_yaml_list_loads() {
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..30_000 {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: PersistentVolumeClaim\n  metadata:\n    name: pvc-{i}\n    namespace: ns-{}\n    uid: 00000000-0000-4000-8000-{i:012}\n    resourceVersion: \"{i}\"\n    annotations:\n      harvesterhci.io/imageId: ns-{}/image-{}\n      pv.kubernetes.io/bind-completed: \"yes\"\n    labels:\n      app: x\n  spec:\n    accessModes:\n    - ReadWriteMany\n    resources:\n      requests:\n        storage: 10Gi\n    storageClassName: longhorn-image-{}\n    volumeMode: Block\n    volumeName: pvc-{i}\n  status:\n    phase: Bound\n",
            i % 200,
            i % 200,
            i % 50,
            i % 50
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pvcs.yaml");
    std::fs::write(&path, &text).unwrap();
    let mut inv = Inventory::new(None, true);
    files::load(&mut inv, &[path]).unwrap();
    assert!(inv.input_errors.is_empty(), "{:?}", inv.input_errors.first());
    assert_eq!(inv.objects::<PersistentVolumeClaim>().len(), 30_000);
    assert!(inv.covers::<PersistentVolumeClaim>(Some("ns-199")));
}

#[test]
fn a_large_json_list_keeps_order_and_names_bad_items_by_index() {
    // Large enough to be decoded on every core: runs are merged back in file order.
    let n = 9_000;
    let bad = [10, 4_499, 8_500];
    let items: Vec<Value> = (0..n)
        .map(|i| {
            let spec = if bad.contains(&i) {
                serde_json::json!("not an object")
            } else {
                serde_json::json!({"storageClassName": "harvester-longhorn", "volumeName": format!("pv-{i}")})
            };
            serde_json::json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": format!("pvc-{i:05}"), "namespace": format!("ns-{}", i % 7), "uid": format!("u-{i}")},
                "spec": spec
            })
        })
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "dump.json", &list.to_string());
    let names: Vec<&str> = inv
        .objects::<PersistentVolumeClaim>()
        .iter()
        .map(|p| p.metadata.name.as_str())
        .collect();
    let want: Vec<String> = (0..n)
        .filter(|i| !bad.contains(i))
        .map(|i| format!("pvc-{i:05}"))
        .collect();
    assert_eq!(names, want.iter().map(String::as_str).collect::<Vec<_>>());
    let errors: Vec<String> = inv
        .input_errors
        .iter()
        .map(|e| format!("{} {}", e.source, e.object.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        errors,
        bad.iter()
            .map(|i| format!("dump.json items[{i}] PersistentVolumeClaim/pvc-{i:05}"))
            .collect::<Vec<_>>()
    );
    for ns in 0..7 {
        assert!(inv.covers::<PersistentVolumeClaim>(Some(&format!("ns-{ns}"))));
    }
}

/// `kubectl get -o yaml` output, entries at column `dash`.
fn yaml_pvc_list(n: usize, dash: &str, broken: Option<usize>) -> String {
    let mut text = String::from("apiVersion: v1\nitems:\n");
    for i in 0..n {
        let class = if broken == Some(i) {
            "[unclosed"
        } else {
            "harvester-longhorn"
        };
        text.push_str(&format!(
            "{dash}- apiVersion: v1\n{dash}  kind: PersistentVolumeClaim\n{dash}  metadata:\n{dash}    annotations:\n{dash}      note: |\n{dash}        - a line that looks like an entry\n{dash}    name: pvc-{i:04}\n{dash}    namespace: ns-{}\n{dash}  spec:\n{dash}    storageClassName: {class}\n",
            i % 3
        ));
    }
    text.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    text
}

#[test]
fn yaml_lists_are_read_entry_by_entry_in_order() {
    for dash in ["", "  "] {
        let mut inv = Inventory::new(None, true);
        files::load_text(&mut inv, "pvcs.yaml", &yaml_pvc_list(1_000, dash, None));
        assert!(inv.input_errors.is_empty(), "{:?}", inv.input_errors.first());
        let names: Vec<String> = inv
            .objects::<PersistentVolumeClaim>()
            .iter()
            .map(|p| p.metadata.name.to_string())
            .collect();
        let want: Vec<String> = (0..1_000).map(|i| format!("pvc-{i:04}")).collect();
        assert_eq!(names, want, "entries at column {}", dash.len());
        assert!(inv.covers::<PersistentVolumeClaim>(Some("ns-2")));
    }
}

#[test]
fn a_yaml_list_with_a_broken_entry_is_one_invalid_document_as_before() {
    // An entry that is not YAML on its own sends the document to the whole-document parser,
    // which reports it once, with the file; nothing of it is half-loaded.
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "pvcs.yaml", &yaml_pvc_list(600, "", Some(450)));
    assert_eq!(inv.objects::<PersistentVolumeClaim>().len(), 0);
    assert_eq!(inv.input_errors.len(), 1, "{:?}", inv.input_errors);
    assert_eq!(inv.input_errors[0].source, "pvcs.yaml");
    assert!(
        inv.input_errors[0].reason.contains("invalid YAML"),
        "{}",
        inv.input_errors[0].reason
    );
}

/// A dump manifest's `capturedAt` is the scan's clock: a migration running when the dump was
/// taken is not stuck because the dump is read a week later; a bad time is an input error
/// naming the file and the field.
#[test]
fn a_dump_manifest_sets_the_clock() {
    use harvester_hygiene::inventory::{Inventory, files};
    let vmim = "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: m\n  namespace: a\n  creationTimestamp: \"2026-11-22T11:00:00Z\"\nspec:\n  vmiName: db\nstatus:\n  phase: Running\n  phaseTransitionTimestamps:\n  - phase: Running\n    phaseTransitionTimestamp: \"2026-11-22T11:00:00Z\"\n";
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("objects.yaml"), vmim).unwrap();
    let manifest = |t: &str| {
        std::fs::write(
            p.join("harvester-hygiene-dump.json"),
            format!("{{\"apiVersion\": \"harvester-hygiene/v1\", \"kind\": \"Dump\", \"createdAt\": \"{t}\"}}"),
        )
        .unwrap();
    };
    let scan = |p: &std::path::Path| -> serde_json::Value {
        let out = bin()
            .args(["scan", "-o", "json", "--rules", "migration-stuck", "--from"])
            .arg(p)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Taken an hour into the migration: not stuck, whenever it is scanned.
    manifest("2026-11-22T12:00:00Z");
    let doc = scan(&p);
    assert_eq!(doc["source"]["capturedAt"], "2026-11-22T12:00:00Z", "{}", doc["source"]);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0, "{}", doc["findings"]);
    // Without a manifest the clock is now, days later: stuck.
    std::fs::remove_file(p.join("harvester-hygiene-dump.json")).unwrap();
    let doc = scan(&p);
    assert!(doc["source"].get("capturedAt").is_none());
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1, "{}", doc["findings"]);
    // A bad createdAt: an input error naming the file and the field.
    manifest("yesterday");
    let mut inv = Inventory::new(None, true);
    files::load(&mut inv, std::slice::from_ref(&p)).unwrap();
    assert_eq!(inv.input_errors.len(), 1, "{:?}", inv.input_errors);
    assert!(
        inv.input_errors[0].source.ends_with("harvester-hygiene-dump.json"),
        "{:?}",
        inv.input_errors
    );
    assert!(
        inv.input_errors[0].reason.contains("createdAt"),
        "{:?}",
        inv.input_errors
    );
    assert!(inv.captured_at.is_none());
}
