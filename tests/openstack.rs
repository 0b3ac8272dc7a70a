//! `scan --openstack` and `fix --openstack` against the real kube-apiserver (imports,
//! OpenstackSources, Secrets) and the OpenStack SIMULATOR in tests/openstack_sim (no real
//! OpenStack can run here). The simulator answers 503 now and then and revokes the token once
//! mid-run, or expires tokens after N uses; the client must ride through all of them. Projects
//! it cannot check (refused login, Glance 500s, no Glance) must show in the report and exit code.

mod common;
mod openstack_sim;

use std::process::Command;

use common::{create, namespace};
use openstack_sim::{Sim, State, image, snapshot, volume};
use serde_json::{Value, json};

const PASSWORD: &str = "s3cr3t-Pa55word-never-printed";

fn cinder_time(ago_hours: i64) -> String {
    let t = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(ago_hours))
        .unwrap();
    t.strftime("%Y-%m-%dT%H:%M:%S.000000").to_string()
}

fn glance_time(ago_hours: i64) -> String {
    let t = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(ago_hours))
        .unwrap();
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The OpenStack project as failed imports leave it, plus resources that must never be touched.
fn project() -> State {
    let old = cinder_time(48);
    let young = cinder_time(1);
    let mut st = State {
        username: "harvester".into(),
        password: PASSWORD.into(),
        project: "migrations".into(),
        domain: "Default".into(),
        region: "RegionOne".into(),
        max_page: 100,
        fail_every: 7,
        revoke_after: 5,
        ..State::default()
    };
    // erp-db: failed export, everything left.
    st.snapshots
        .push(snapshot("snap-erp", "import-controller-erp-db-0", "src-vol-erp", &old));
    st.volumes
        .push(volume("vol-erp", Some("snap-erp"), "available", false, &old));
    st.images
        .push(image("img-erp", "import-controller-erp-db-0", &glance_time(48)));
    // stuck-db: failed export, its volume is attached to a server: volume and snapshot stay.
    st.snapshots.push(snapshot(
        "snap-stuck",
        "import-controller-stuck-db-0",
        "src-vol-stuck",
        &old,
    ));
    st.volumes
        .push(volume("vol-stuck", Some("snap-stuck"), "in-use", true, &old));
    st.images
        .push(image("img-stuck", "import-controller-stuck-db-0", &glance_time(48)));
    // web-01: its import is still exporting.
    st.snapshots
        .push(snapshot("snap-web", "import-controller-web-01-0", "src-vol-web", &old));
    // young-vm: failed an hour ago: too young to call leaked.
    st.snapshots.push(snapshot(
        "snap-young",
        "import-controller-young-vm-0",
        "src-vol-young",
        &young,
    ));
    // ghost-vm: no import in this cluster (another cluster may share the project).
    st.snapshots.push(snapshot(
        "snap-ghost",
        "import-controller-ghost-vm-0",
        "src-vol-ghost",
        &old,
    ));
    // Unrelated resources, enough images for several pages.
    st.snapshots
        .push(snapshot("snap-backup", "nightly-backup", "src-vol-x", &old));
    st.volumes.push(volume("vol-data", None, "available", false, &old));
    for i in 0..450 {
        st.images
            .push(image(&format!("img-{i:04}"), &format!("ubuntu-{i}"), &glance_time(100)));
    }
    st
}

async fn import(ns: &str, vm: &str, status: &str, failed_export: bool) {
    // An export in progress was powered off an hour ago; the failed ones long ago.
    let off = if failed_export { glance_time(72) } else { glance_time(1) };
    let mut conditions = vec![json!({"type": "VMPoweredOff", "status": "True", "lastUpdateTime": off})];
    if failed_export {
        conditions.push(
            json!({"type": "VMExportFailed", "status": "True", "lastUpdateTime": "2026-11-01T11:00:00Z",
                               "message": "error exporting VM: timeout waiting for image"}),
        );
    }
    create(json!({"apiVersion": "migration.harvesterhci.io/v1beta1", "kind": "VirtualMachineImport",
        "metadata": {"name": format!("import-{vm}"), "namespace": ns},
        "spec": {"virtualMachineName": vm, "sourceCluster": {"kind": "OpenstackSource", "name": "devstack", "namespace": ns,
                 "apiVersion": "migration.harvesterhci.io/v1beta1"}},
        "status": {"importStatus": status, "importConditions": conditions}}))
    .await;
}

async fn source(ns: &str, name: &str, endpoint: &str, password: &str) {
    create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("{name}-credentials"), "namespace": ns},
        "stringData": {"username": "harvester", "password": password, "project_name": "migrations", "domain_name": "Default"}}))
    .await;
    create(
        json!({"apiVersion": "migration.harvesterhci.io/v1beta1", "kind": "OpenstackSource",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"endpoint": endpoint, "region": "RegionOne",
                 "credentials": {"name": format!("{name}-credentials"), "namespace": ns}}}),
    )
    .await;
}

fn run(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(args)
        .args(["-o", "json", "--harvester-version", "v1.5.1"])
        .env("KUBECONFIG", common::kubeconfig())
        .env("HOME", std::env::temp_dir())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "the password leaked:\n{stdout}\n{stderr}"
    );
    let doc = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// `run` with the table output (`-o table` wins over `-o json`: the last flag counts).
fn run_table(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(args)
        .args(["--harvester-version", "v1.5.1"])
        .env("KUBECONFIG", common::kubeconfig())
        .env("HOME", std::env::temp_dir())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "the password leaked:\n{stdout}\n{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn finding<'a>(doc: &'a Value, import: &str) -> Option<&'a Value> {
    doc["findings"]
        .as_array()?
        .iter()
        .find(|f| f["rule"] == "import-openstack-leak" && f["object"]["name"] == import)
}

/// The report's `incomplete` entries for OpenstackSources whose project was not checked.
fn unchecked(doc: &Value) -> Vec<&Value> {
    doc["incomplete"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["kind"] == "OpenstackSource" && i["reason"] != "out-of-scope")
                .collect()
        })
        .unwrap_or_default()
}

/// Without `--openstack` there are no ids, so nothing for the fix to read.
fn plain_finding_has_no_fix_input(doc: &Value, name: &str) -> bool {
    finding(doc, name).is_some_and(|f| f.get("fixInput").is_none())
}

fn related_ids(f: &Value) -> Vec<String> {
    let mut v: Vec<String> = f["related"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["uid"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn openstack_leftovers_are_found_and_cleaned_up_in_order() {
    let sim = Sim::start(project()).await;
    let ns = namespace("os").await;
    source(&ns, "devstack", &sim.keystone(), PASSWORD).await;
    import(&ns, "erp-db", "VMMigrationFailed", true).await;
    import(&ns, "stuck-db", "VMMigrationFailed", true).await;
    import(&ns, "web-01", "sourceReady", false).await;
    import(&ns, "young-vm", "VMMigrationFailed", true).await;

    // Without --openstack: the rule says what may be there, without ids.
    let (_, plain, _) = run(&["scan", "-n", &ns]);
    let erp = finding(&plain, "import-erp-db").expect("finding without --openstack");
    assert!(related_ids(erp).is_empty(), "{erp}");

    // scan --openstack: the concrete leftovers, through 503s and a revoked token.
    let (code, doc, err) = run(&["scan", "--openstack", "-n", &ns]);
    assert_eq!(code, 0, "{err}\n{doc}");
    assert_eq!(unchecked(&doc).len(), 0, "{}", doc["incomplete"]);
    let erp = finding(&doc, "import-erp-db").unwrap_or_else(|| panic!("no erp-db finding: {doc}\n{err}"));
    assert_eq!(
        related_ids(erp),
        ["img-erp", "snap-erp", "vol-erp"],
        "rules: {}\nsimulator saw: {:?}",
        doc["rules"],
        sim.state.lock().unwrap().log
    );
    let vol = erp["related"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uid"] == "vol-erp")
        .unwrap();
    assert_eq!(vol["kind"], "CinderVolume");
    assert_eq!(vol["details"]["snapshotId"], "snap-erp");
    assert_eq!(vol["details"]["sizeGiB"], "20");
    assert!(erp["message"].as_str().unwrap().contains("3 resources"), "{erp}");
    // The fix reads the typed input, which names the same resources and the source.
    assert_eq!(erp["fixInput"]["type"], "openstackLeftovers", "{erp}");
    assert_eq!(erp["fixInput"]["source"], format!("{ns}/devstack"));
    let mut typed: Vec<&str> = erp["fixInput"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    typed.sort();
    assert_eq!(typed, ["img-erp", "snap-erp", "vol-erp"]);
    assert!(plain_finding_has_no_fix_input(&plain, "import-erp-db"));
    let stuck = finding(&doc, "import-stuck-db").expect("stuck-db finding");
    assert_eq!(related_ids(stuck), ["img-stuck", "snap-stuck", "vol-stuck"]);
    assert!(
        finding(&doc, "import-web-01").is_none(),
        "an import in progress is not a leak"
    );
    assert!(
        finding(&doc, "import-young-vm").is_none(),
        "resources younger than stuckAfter are not leaks"
    );
    let text = doc.to_string();
    for never in [
        "snap-web",
        "snap-young",
        "snap-ghost",
        "snap-backup",
        "vol-data",
        "img-0001",
    ] {
        assert!(!text.contains(&format!("\"{never}\"")), "{never} must not be reported");
    }
    let notes = doc["rules"].to_string();
    assert!(notes.contains("no import in this cluster"), "{notes}");
    {
        let st = sim.state.lock().unwrap();
        assert!(st.served_503 > 0, "the simulator served no 503");
        assert!(
            st.served_401 > 0 && st.password_auths >= 2,
            "no re-auth after the revoked token"
        );
        assert!(
            st.log.iter().any(|l| l.contains("marker=img-")),
            "images were not paginated"
        );
        assert!(st.deletes.is_empty(), "scan deleted something: {:?}", st.deletes);
    }

    // --openstack-without-import: ghost-vm's snapshot counts, on the OpenstackSource.
    let (_, doc, _) = run(&["scan", "--openstack", "--openstack-without-import", "-n", &ns]);
    let ghost = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["kind"] == "OpenstackSource")
        .unwrap_or_else(|| panic!("no finding for ghost-vm: {doc}"));
    assert_eq!(related_ids(ghost), ["snap-ghost"]);

    // Dry run: authenticates and checks; deletes nothing.
    let (code, doc, err) = run(&["fix", "--openstack", "--dry-run=server", "-n", &ns]);
    assert_eq!(code, 0, "{err}\n{doc}");
    let actions = doc["actions"].as_array().expect("actions");
    let status_of = |doc: &Value, import: &str| -> String {
        doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["object"]["name"] == import)
            .map(|a| a["status"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert_eq!(actions.len(), 2, "{doc}");
    assert_eq!(status_of(&doc, "import-erp-db"), "dry-run-ok");
    assert_eq!(
        status_of(&doc, "import-stuck-db"),
        "skipped",
        "the attached volume is not deletable"
    );
    assert!(sim.state.lock().unwrap().deletes.is_empty());

    // Apply: image, volume (after it is gone), snapshot; the attached volume and its snapshot stay.
    let backup = tempfile::tempdir().unwrap();
    let apply = |dir: &std::path::Path| {
        run(&[
            "fix",
            "--openstack",
            "--apply",
            "--yes",
            "-n",
            &ns,
            "--backup-dir",
            dir.to_str().unwrap(),
        ])
    };
    let dir = backup.path().join("b");
    let (code, doc, err) = apply(&dir);
    assert_eq!(code, 0, "{err}\n{doc}");
    assert_eq!(status_of(&doc, "import-erp-db"), "done", "{doc}");
    assert_eq!(status_of(&doc, "import-stuck-db"), "skipped", "{doc}");
    {
        let st = sim.state.lock().unwrap();
        let pos = |d: &str| {
            st.deletes
                .iter()
                .position(|x| x == d)
                .unwrap_or_else(|| panic!("{d} not deleted: {:?}", st.deletes))
        };
        assert!(pos("image:img-erp") < pos("volume:vol-erp") && pos("volume:vol-erp") < pos("snapshot:snap-erp"));
        pos("image:img-stuck");
        assert_eq!(st.deletes.len(), 4, "deleted more than the leftovers: {:?}", st.deletes);
        let ids: Vec<&str> = st.snapshots.iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(
            ids,
            ["snap-stuck", "snap-web", "snap-young", "snap-ghost", "snap-backup"]
        );
        assert_eq!(st.images.len(), 450);
    }
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).expect("audit log");
    assert!(audit.contains("vol-erp") && audit.contains("snap-erp"), "{audit}");
    assert!(!audit.contains(PASSWORD));

    // Again: nothing left to do for erp-db; stuck-db is still skipped; nothing else deleted.
    let dir2 = backup.path().join("c");
    let (code, doc, err) = apply(&dir2);
    assert_eq!(code, 0, "{err}\n{doc}");
    assert!(finding(&doc, "import-erp-db").is_none(), "{doc}");
    assert_eq!(sim.state.lock().unwrap().deletes.len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_are_reported_without_the_password() {
    let mut st = project();
    // Keystone's 401 echoes the password it was sent.
    st.echo_password = true;
    let sim = Sim::start(st).await;
    let ns = namespace("osbad").await;
    source(&ns, "devstack", &sim.keystone(), "wrong-password-also-secret").await;
    import(&ns, "erp-db", "VMMigrationFailed", true).await;
    let (code, doc, err) = run(&["scan", "--openstack", "-n", &ns]);
    assert!(sim.state.lock().unwrap().served_401 > 0, "the login was not refused");
    let text = format!("{doc}{err}");
    assert!(!text.contains("wrong-password-also-secret"), "{text}");
    // An incomplete live scan: exit 3, the source in `incomplete`.
    assert_eq!(code, 3, "{err}\n{doc}");
    let entries = unchecked(&doc);
    assert_eq!(entries.len(), 1, "{}", doc["incomplete"]);
    assert!(
        entries[0]["message"]
            .as_str()
            .unwrap()
            .contains("openstack-unchecked:auth"),
        "{}",
        entries[0]
    );
    // The rule still reports what may be there, and says the project was not checked.
    let erp = finding(&doc, "import-erp-db").unwrap_or_else(|| panic!("no erp-db finding: {doc}"));
    assert_ne!(erp["confidence"], "proven", "{erp}");
    assert!(
        erp["evidence"].to_string().contains("openstack-unchecked:auth"),
        "{erp}"
    );
    assert!(
        erp["message"]
            .as_str()
            .unwrap()
            .contains("login or a request was refused"),
        "{erp}"
    );
    assert!(doc["rules"].to_string().contains("not checked"), "{doc}");

    // --openstack needs a live cluster.
    let out = common::plugin(&["scan", "--openstack", "--from", "examples/demo-cluster"]);
    assert_eq!(out.status.code(), Some(2));
}

/// An import as the controller writes it after the export: `conditions` (type, time) and
/// `disks` entries in `status.diskImportStatus` (appended only after a disk's export succeeded).
async fn import_with(ns: &str, vm: &str, status: &str, conditions: &[&str], disks: usize) {
    let at = glance_time(72);
    let conditions: Vec<Value> = conditions
        .iter()
        .map(|t| json!({"type": t, "status": "True", "lastTransitionTime": at, "lastUpdateTime": at}))
        .collect();
    let disks: Vec<Value> = (0..disks)
        .map(|i| json!({"diskName": format!("{vm}-{i}.img"), "diskSize": 21474836480u64, "diskLocalPath": "/tmp", "busType": "virtio"}))
        .collect();
    create(json!({"apiVersion": "migration.harvesterhci.io/v1beta1", "kind": "VirtualMachineImport",
        "metadata": {"name": format!("import-{vm}"), "namespace": ns},
        "spec": {"virtualMachineName": vm, "sourceCluster": {"kind": "OpenstackSource", "name": "devstack", "namespace": ns,
                 "apiVersion": "migration.harvesterhci.io/v1beta1"}},
        "status": {"importStatus": status, "importConditions": conditions, "diskImportStatus": disks}}))
    .await;
}

/// The failed disk's set (index `len(diskImportStatus)`) is told from other leftovers of the VM;
/// an exported import (a `diskImageFailed` resubmit) is not "in progress": what is left of its
/// export is judged as a leftover, and nothing left is no finding; sizes become reclaimable bytes.
#[tokio::test(flavor = "multi_thread")]
async fn openstack_leaked_index_and_exported_imports() {
    let old = cinder_time(48);
    let mut st = State {
        username: "harvester".into(),
        password: PASSWORD.into(),
        project: "migrations".into(),
        domain: "Default".into(),
        region: "RegionOne".into(),
        max_page: 100,
        ..State::default()
    };
    // multi-db: disk 0 exported, disk 1 failed: its set is left; snapshot 0 of an earlier attempt too.
    st.snapshots
        .push(snapshot("snap-m1", "import-controller-multi-db-1", "src-vol-m1", &old));
    st.volumes
        .push(volume("vol-m1", Some("snap-m1"), "available", false, &old));
    st.images
        .push(image("img-m1", "import-controller-multi-db-1", &glance_time(48)));
    st.snapshots
        .push(snapshot("snap-m0", "import-controller-multi-db-0", "src-vol-m0", &old));
    // resub-db: exported, then its disk images failed and were resubmitted; a snapshot of the
    // export stayed (a cleanup that did not complete).
    st.snapshots
        .push(snapshot("snap-r0", "import-controller-resub-db-0", "src-vol-r0", &old));
    // ghost-vm: no import in this cluster.
    st.snapshots.push(snapshot(
        "snap-ghost",
        "import-controller-ghost-vm-0",
        "src-vol-ghost",
        &old,
    ));
    let sim = Sim::start(st).await;
    let ns = namespace("osidx").await;
    source(&ns, "devstack", &sim.keystone(), PASSWORD).await;
    let failed = ["VMPoweringOff", "VMPoweredOff", "VMExportFailed"];
    let exported = ["VMPoweringOff", "VMPoweredOff", "VMExported"];
    import_with(&ns, "multi-db", "VMMigrationFailed", &failed, 1).await;
    import_with(&ns, "resub-db", "diskImageFailed", &exported, 2).await;
    // Near-misses: exported and resubmitted with nothing left; a failed export cleaned up.
    import_with(&ns, "clean-db", "sourceReady", &exported, 2).await;
    import_with(&ns, "gone-db", "VMMigrationFailed", &failed, 0).await;

    let (code, doc, err) = run(&["scan", "--openstack", "-n", &ns]);
    assert_eq!(code, 0, "{err}\n{doc}");
    let ours: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "import-openstack-leak")
        .collect();
    assert_eq!(ours.len(), 2, "{doc}");

    let multi = finding(&doc, "import-multi-db").unwrap_or_else(|| panic!("no multi-db finding: {doc}"));
    assert_eq!(related_ids(multi), ["img-m1", "snap-m0", "snap-m1", "vol-m1"]);
    assert_eq!(multi["confidence"], "proven");
    assert_eq!(multi["details"]["leakedIndex"], "1");
    assert_eq!(multi["details"]["leakedName"], "import-controller-multi-db-1");
    let ev: Vec<&str> = multi["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for fact in [
        "export-failed",
        "harvester:v1.5.1",
        "leaked-index:1",
        "glance-image:img-m1",
        "cinder-volume:vol-m1",
        "cinder-snapshot:snap-m1",
        "other:cinder-snapshot:snap-m0",
    ] {
        assert!(ev.contains(&fact), "{fact} missing: {ev:?}");
    }
    assert!(!ev.contains(&"cinder-snapshot:snap-m0"), "{ev:?}");
    let role = |id: &str| {
        multi["related"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["uid"] == id)
            .map(|r| (r["details"]["role"].clone(), r["details"]["index"].clone()))
            .unwrap()
    };
    assert_eq!(
        role("vol-m1"),
        (json!("leaked"), json!("1")),
        "the volume's index comes from its snapshot"
    );
    assert_eq!(role("snap-m0"), (json!("other"), json!("0")));
    let msg = multi["message"].as_str().unwrap();
    assert!(msg.contains("at disk 1 and left 3 resources"), "{msg}");
    assert!(msg.contains("Also left by other exports of this VM"), "{msg}");
    // vol-m1, snap-m1 and snap-m0 are 20 GiB each in Cinder; images are not counted.
    let gib = 1u64 << 30;
    assert_eq!(multi["reclaimableBytes"], json!(3 * 20 * gib));

    let resub = finding(&doc, "import-resub-db").unwrap_or_else(|| panic!("no resub-db finding: {doc}"));
    assert_eq!(related_ids(resub), ["snap-r0"]);
    assert_eq!(resub["confidence"], "likely");
    let msg = resub["message"].as_str().unwrap();
    assert!(
        msg.contains("exported (VMExported") && !msg.contains("failed to export"),
        "{msg}"
    );
    assert_eq!(resub["reclaimableBytes"], json!(20 * gib));
    assert!(finding(&doc, "import-clean-db").is_none(), "nothing left: no finding");
    assert!(finding(&doc, "import-gone-db").is_none(), "nothing left: no finding");
    assert_eq!(doc["summary"]["reclaimableBytes"], json!(4 * 20 * gib));

    // Without an import, and imports not read outside -n: info, possible; fix plans nothing for it.
    let (_, doc, _) = run(&["scan", "--openstack", "--openstack-without-import", "-n", &ns]);
    let ghost = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["object"]["kind"] == "OpenstackSource")
        .unwrap_or_else(|| panic!("no finding for ghost-vm: {doc}"));
    assert_eq!(related_ids(ghost), ["snap-ghost"]);
    assert_eq!(
        (ghost["severity"].clone(), ghost["confidence"].clone()),
        (json!("info"), json!("possible"))
    );
    assert!(
        ghost["evidence"]
            .to_string()
            .contains("unknown-kind:VirtualMachineImport"),
        "{ghost}"
    );
    let (code, doc, err) = run(&["fix", "--openstack", "--openstack-without-import", "-n", &ns]);
    assert_eq!(code, 0, "{err}\n{doc}");
    let planned: Vec<&Value> = doc["actions"].as_array().expect("actions").iter().collect();
    assert_eq!(planned.len(), 2, "{doc}");
    assert!(
        planned.iter().all(|a| a["object"]["kind"] == "VirtualMachineImport"),
        "{doc}"
    );
    assert!(sim.state.lock().unwrap().deletes.is_empty());
}

/// A token that stops working in the middle of a listing (the simulator rejects every token
/// after N uses, version documents included, as an independent Keystone/Cinder/Glance simulator
/// did): the SDK re-authenticates and replaces its catalog, dropping the discovered Glance
/// version, and re-discovery with a token that runs out fails. Every Glance page must still go to
/// the versioned endpoint (`/image/v2/images`), never the catalog's unversioned one
/// (`/image/images`, 404). With 1 or 2 uses the old client lost the version (its re-discovery ran
/// out of token right after a re-auth); with 7 the token runs out on a later Glance page. The
/// "revoked mid-run" fault of the first test did not catch this: it counts only API calls, and
/// version documents never check a token, so re-discovery always worked there.
#[tokio::test(flavor = "multi_thread")]
async fn token_expiring_mid_listing_keeps_the_versioned_glance_endpoint() {
    let mut later_page_rejected = false;
    for uses in [1, 2, 7] {
        let mut st = project();
        st.fail_every = 0;
        st.revoke_after = 0;
        st.token_max_uses = uses;
        let sim = Sim::start(st).await;
        let ns = namespace("osexp").await;
        source(&ns, "devstack", &sim.keystone(), PASSWORD).await;
        import(&ns, "erp-db", "VMMigrationFailed", true).await;
        import(&ns, "stuck-db", "VMMigrationFailed", true).await;

        let (code, doc, err) = run(&["scan", "--openstack", "-n", &ns]);
        let log = sim.state.lock().unwrap().log.clone();
        assert_eq!(code, 0, "uses {uses}: {err}\n{doc}\nsimulator saw: {log:?}");
        let ours: Vec<&Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "import-openstack-leak")
            .collect();
        assert_eq!(ours.len(), 2, "uses {uses}: {doc}\nsimulator saw: {log:?}");
        let erp = finding(&doc, "import-erp-db").expect("erp-db finding");
        assert_eq!(
            related_ids(erp),
            ["img-erp", "snap-erp", "vol-erp"],
            "uses {uses}: {erp}\n{log:?}"
        );
        assert_eq!(erp["confidence"], "proven");
        let stuck = finding(&doc, "import-stuck-db").expect("stuck-db finding");
        assert_eq!(related_ids(stuck), ["img-stuck", "snap-stuck", "vol-stuck"]);
        assert_eq!(unchecked(&doc).len(), 0, "{}", doc["incomplete"]);
        let st = sim.state.lock().unwrap();
        assert!(st.password_auths >= 2, "uses {uses}: no re-auth: {log:?}");
        assert!(
            !st.log.iter().any(|l| l.starts_with("GET /image/images")),
            "uses {uses}: a Glance page went to the unversioned endpoint: {log:?}"
        );
        // Every image page was read: the last one (empty) comes after img-0449.
        assert!(
            st.log.iter().any(|l| l.contains("marker=img-0449")),
            "uses {uses}: {log:?}"
        );
        // Did the token run out on a later Glance page, with the listing going on after re-auth?
        let later_page = |l: &String| l.starts_with("GET /image/v2/images?") && l.contains("marker=img-");
        if let Some(r) = st.rejected.iter().find(|l| later_page(l)) {
            let at = st.log.iter().position(|l| l == r).unwrap();
            let after = &st.log[at..];
            assert!(
                after.iter().any(|l| l.starts_with("POST /identity/v3/auth/tokens"))
                    && after.iter().filter(|l| *l == r).count() >= 2,
                "uses {uses}: the rejected page was not retried after re-auth: {after:?}"
            );
            later_page_rejected = true;
        }
    }
    assert!(later_page_rejected, "no token ran out on a later Glance page");
}

/// `--openstack` that cannot check a project says so: the finding (still the guess from the
/// import's status, never `proven`) names it in its message and evidence
/// (`openstack-unchecked:<kind>`), the report lists the OpenstackSource in `incomplete`, the exit
/// code is 3, and `fix` plans nothing. Here Glance answers 500 to every list, with the password
/// echoed in the error body: it never reaches stdout, stderr or the report.
#[tokio::test(flavor = "multi_thread")]
async fn unchecked_project_is_reported_incomplete_and_fix_plans_nothing() {
    let mut st = project();
    st.fail_every = 0;
    st.revoke_after = 0;
    st.glance_500 = true;
    st.echo_password = true;
    let sim = Sim::start(st).await;
    let ns = namespace("osunc").await;
    source(&ns, "devstack", &sim.keystone(), PASSWORD).await;
    import(&ns, "erp-db", "VMMigrationFailed", true).await;

    // Near-miss first: without --openstack nothing was to be checked: exit 0, no such entry.
    let (code, plain, err) = run(&["scan", "-n", &ns]);
    assert_eq!(code, 0, "{err}\n{plain}");
    let erp = finding(&plain, "import-erp-db").expect("finding without --openstack");
    assert!(!erp["evidence"].to_string().contains("openstack-unchecked"), "{erp}");
    assert_eq!(unchecked(&plain).len(), 0, "{}", plain["incomplete"]);
    assert_eq!(plain["summary"]["incomplete"], false);

    let (code, doc, err) = run(&["scan", "--openstack", "-n", &ns]);
    assert_eq!(code, 3, "{err}\n{doc}");
    assert!(
        sim.state
            .lock()
            .unwrap()
            .log
            .iter()
            .any(|l| l.starts_with("GET /image/v2/images"))
    );
    let ours: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "import-openstack-leak")
        .collect();
    assert_eq!(ours.len(), 1, "{doc}");
    let erp = finding(&doc, "import-erp-db").expect("erp-db finding");
    assert_ne!(erp["confidence"], "proven", "{erp}");
    assert!(related_ids(erp).is_empty(), "nothing was listed: {erp}");
    let ev: Vec<&str> = erp["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(ev.contains(&"openstack-unchecked:unavailable"), "{ev:?}");
    let msg = erp["message"].as_str().unwrap();
    assert!(msg.contains("--openstack could not check that project"), "{msg}");
    assert!(msg.contains("5xx"), "{msg}");
    let entries = unchecked(&doc);
    assert_eq!(entries.len(), 1, "{}", doc["incomplete"]);
    let e = entries[0];
    assert_eq!(e["apiVersion"], "migration.harvesterhci.io/v1beta1");
    assert_eq!(e["namespace"], ns.as_str());
    assert_eq!(e["name"], "devstack");
    assert_eq!(e["reason"], "failed");
    assert_eq!(e["rules"], json!(["import-openstack-leak"]));
    let m = e["message"].as_str().unwrap();
    assert!(
        m.contains("openstack-unchecked:unavailable") && m.contains("500"),
        "{m}"
    );
    assert!(
        m.contains("<redacted>"),
        "the echoed password is scrubbed, the rest kept: {m}"
    );
    assert_eq!(doc["summary"]["incomplete"], true);
    assert!(err.contains("incomplete: OpenstackSource"), "{err}");

    // The table says it too (and hides the password: run() checks every output).
    let (code, table, _) = run_table(&["scan", "--openstack", "-n", &ns]);
    assert_eq!(code, 3);
    assert!(
        table.contains("incomplete: 1 kind failed") && table.contains("exit code 3"),
        "{table}"
    );
    // -o wide lists the entry whole.
    let (code, wide, _) = run_table(&["scan", "--openstack", "-n", &ns, "-o", "wide"]);
    assert_eq!(code, 3);
    assert!(
        wide.contains(&format!(
            "incomplete: OpenstackSource devstack in {ns}: OpenStack project of OpenstackSource {ns}/devstack not checked"
        )),
        "{wide}"
    );

    let (code, doc, err) = run(&["fix", "--openstack", "-n", &ns]);
    assert_eq!(code, 3, "{err}\n{doc}");
    assert!(
        doc["actions"].as_array().is_none_or(|a| a.is_empty()),
        "planned on an unchecked project: {doc}"
    );
    assert!(sim.state.lock().unwrap().deletes.is_empty());
}

/// Glance missing from the catalog is an unchecked project too (`openstack-unchecked:endpoint`).
#[tokio::test(flavor = "multi_thread")]
async fn missing_glance_endpoint_is_reported_incomplete() {
    let mut st = project();
    st.fail_every = 0;
    st.revoke_after = 0;
    st.no_glance = true;
    let sim = Sim::start(st).await;
    let ns = namespace("osnoimg").await;
    source(&ns, "devstack", &sim.keystone(), PASSWORD).await;
    import(&ns, "erp-db", "VMMigrationFailed", true).await;
    let (code, doc, err) = run(&["scan", "--openstack", "-n", &ns]);
    assert_eq!(code, 3, "{err}\n{doc}");
    let erp = finding(&doc, "import-erp-db").expect("erp-db finding");
    assert_ne!(erp["confidence"], "proven", "{erp}");
    assert!(
        erp["evidence"].to_string().contains("openstack-unchecked:endpoint"),
        "{erp}"
    );
    let entries = unchecked(&doc);
    assert_eq!(entries.len(), 1, "{}", doc["incomplete"]);
    assert!(
        entries[0]["message"]
            .as_str()
            .unwrap()
            .contains("openstack-unchecked:endpoint"),
        "{}",
        entries[0]
    );
}
