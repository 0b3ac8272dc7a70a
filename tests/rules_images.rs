//! Rule tests on inventories loaded from YAML text through the real file loader:
//! positives and the near-misses the rules must stay silent on.

use harvester_hygiene::inventory::{Inventory, files};
use harvester_hygiene::report::{Report, SourceKind};
use harvester_hygiene::rules::{self, Confidence, Severity};
use harvester_hygiene::scan::{judge, set_version};
use harvester_hygiene::version::Version;

/// Conditions of an image the controller initialised and imported
/// (harvester/harvester `pkg/image/common/operator.go` `stateTransit`).
const READY_CONDITIONS: &str = "  conditions:\n  - type: Imported\n    status: \"True\"\n    reason: Imported\n    lastUpdateTime: \"2024-05-20T10:02:11Z\"\n  - type: Initialized\n    status: \"True\"\n    reason: Initialized\n    lastUpdateTime: \"2024-05-20T10:00:03Z\"\n";

/// An image; with `sc` it is initialised and imported, with that `status.storageClassName`.
fn image(ns: &str, name: &str, uid: &str, extra_spec: &str, sc: Option<&str>) -> String {
    let status = sc
        .map(|s| format!("status:\n  storageClassName: {s}\n  progress: 100\n  failed: 0\n{READY_CONDITIONS}"))
        .unwrap_or_default();
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: {uid}\nspec:\n  displayName: {name}\n  sourceType: download\n  url: https://cloud-images.ubuntu.com/releases/jammy/release-20240514/x.img\n{extra_spec}{status}"
    )
}

fn backing(name: &str, image_id: &str, disks: &str) -> String {
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: BackingImage\nmetadata:\n  name: {name}\n  namespace: longhorn-system\n  annotations:\n    harvesterhci.io/imageId: {image_id}\nstatus:\n  diskFileStatusMap:\n{disks}"
    )
}

fn class(name: &str, bi: &str) -> String {
    format!(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {name}\nprovisioner: driver.longhorn.io\nparameters:\n  backingImage: {bi}\n"
    )
}

fn pvc(ns: &str, name: &str, sc: &str, image_id: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n    harvesterhci.io/imageId: {image_id}\nspec:\n  storageClassName: {sc}\n"
    )
}

const READY: &str = "    d1:\n      state: ready\n";

fn run(docs: &[String], version: Option<&str>) -> Report {
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "test.yaml", &docs.join("---\n"));
    assert!(inv.input_errors.is_empty(), "fixture errors: {:?}", inv.input_errors);
    set_version(&mut inv, version.and_then(Version::parse));
    judge(
        &inv,
        rules::REGISTRY,
        &Default::default(),
        jiff::Timestamp::now(),
        source(),
    )
}

fn source() -> harvester_hygiene::report::Source {
    harvester_hygiene::report::Source {
        kind: SourceKind::Files,
        server: None,
        context: None,
        kubernetes_version: None,
        paths: vec![],
        namespace: None,
        harvester_version_source: harvester_hygiene::inventory::VersionSource::Unknown,
        generated_at: String::new(),
        captured_at: None,
        target_version: None,
        tool: String::new(),
    }
}

fn of<'a>(r: &'a Report, rule: &str) -> Vec<&'a harvester_hygiene::rules::Finding> {
    r.findings.iter().filter(|f| f.rule == rule).collect()
}

fn collision_cluster() -> Vec<String> {
    vec![
        image(
            "team-a",
            "ubuntu",
            "aaaaaaaa-0000-4000-8000-000000000001",
            "",
            Some("longhorn-ubuntu"),
        ),
        image(
            "team-b",
            "ubuntu",
            "bbbbbbbb-0000-4000-8000-000000000002",
            "",
            Some("longhorn-ubuntu"),
        ),
        backing("vmi-aaaaaaaa-0000-4000-8000-000000000001", "team-a/ubuntu", READY),
        backing("vmi-bbbbbbbb-0000-4000-8000-000000000002", "team-b/ubuntu", READY),
        class("longhorn-ubuntu", "vmi-bbbbbbbb-0000-4000-8000-000000000002"),
        pvc("team-a", "vm1-disk-0", "longhorn-ubuntu", "team-a/ubuntu"),
        pvc("team-a", "vm2-disk-0", "longhorn-ubuntu", "team-a/ubuntu"),
        pvc("team-b", "vm3-disk-0", "longhorn-ubuntu", "team-b/ubuntu"),
    ]
}

#[test]
fn collision_flags_both_images_and_explains() {
    let r = run(&collision_cluster(), Some("v1.6.1"));
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|f| f.severity == Severity::Error));
    let a = f
        .iter()
        .find(|f| f.object.namespace.as_deref() == Some("team-a"))
        .unwrap();
    assert_eq!(a.related.len(), 1);
    assert_eq!(a.related[0].namespace.as_deref(), Some("team-b"));
    assert!(a.message.contains("longhorn-ubuntu"), "{}", a.message);
    assert!(
        a.message.contains("Today the class serves team-b/ubuntu"),
        "{}",
        a.message
    );
    assert!(
        a.message
            .contains("3 PVCs use the class (2 from team-a/ubuntu, 1 from team-b/ubuntu"),
        "{}",
        a.message
    );
    assert!(a.remediation.contains("display_name"));
    assert!(a.object.uid.is_some());
}

#[test]
fn same_display_name_different_names_is_not_a_collision() {
    let mut a = image("team-a", "image-7qznl", "u1", "", Some("longhorn-image-7qznl"));
    a = a.replace("displayName: image-7qznl", "displayName: opensuse");
    let mut b = image("team-b", "image-x2k9d", "u2", "", Some("longhorn-image-x2k9d"));
    b = b.replace("displayName: image-x2k9d", "displayName: opensuse");
    let r = run(
        &[
            a,
            b,
            class("longhorn-image-7qznl", "vmi-u1"),
            class("longhorn-image-x2k9d", "vmi-u2"),
        ],
        Some("v1.6.1"),
    );
    assert!(of(&r, "image-name-collision").is_empty(), "{:#?}", r.findings);
}

#[test]
fn cdi_images_sharing_the_target_class_are_not_collisions() {
    let cdi = "  backend: cdi\n  targetStorageClassName: harvester-longhorn\n";
    let r = run(
        &[
            image("team-a", "rocky-9", "u1", cdi, Some("harvester-longhorn")),
            image("team-b", "rocky-9", "u2", cdi, Some("harvester-longhorn")),
            image("team-c", "other", "u3", cdi, Some("harvester-longhorn")),
        ],
        Some("v1.6.1"),
    );
    assert!(of(&r, "image-name-collision").is_empty(), "{:#?}", r.findings);
}

#[test]
fn v18_classes_do_not_collide_and_a_repaired_legacy_class_is_silent() {
    // Both on their own lh-<uid> classes: fine.
    let r = run(
        &[
            image("team-a", "ubuntu", "u1", "", Some("lh-u1")),
            image("team-b", "ubuntu", "u2", "", Some("lh-u2")),
            class("lh-u1", "vmi-u1"),
            class("lh-u2", "vmi-u2"),
        ],
        Some("v1.8.0"),
    );
    assert!(of(&r, "image-name-collision").is_empty(), "{:#?}", r.findings);
    // A legacy image whose class exists and still serves it, next to a newer same-named
    // image on its own class: they do not share anything.
    let r = run(
        &[
            image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu")),
            image("team-b", "ubuntu", "u2", "", Some("lh-u2")),
            class("longhorn-ubuntu", "vmi-u1"),
            class("lh-u2", "vmi-u2"),
            backing("vmi-u1", "team-a/ubuntu", READY),
            backing("vmi-u2", "team-b/ubuntu", READY),
        ],
        Some("v1.8.1"),
    );
    assert!(of(&r, "image-name-collision").is_empty(), "{:#?}", r.findings);
}

fn lost_class_cluster() -> Vec<String> {
    vec![
        image(
            "team-a",
            "ubuntu",
            "aaaaaaaa-0000-4000-8000-000000000001",
            "",
            Some("longhorn-ubuntu"),
        ),
        image(
            "team-b",
            "ubuntu",
            "bbbbbbbb-0000-4000-8000-000000000002",
            "",
            Some("lh-bbbbbbbb-0000-4000-8000-000000000002"),
        ),
        class(
            "lh-bbbbbbbb-0000-4000-8000-000000000002",
            "vmi-bbbbbbbb-0000-4000-8000-000000000002",
        ),
        backing("vmi-aaaaaaaa-0000-4000-8000-000000000001", "team-a/ubuntu", READY),
        backing("vmi-bbbbbbbb-0000-4000-8000-000000000002", "team-b/ubuntu", READY),
        pvc("team-a", "vm1-disk-0", "longhorn-ubuntu", "team-a/ubuntu"),
    ]
}

#[test]
fn v18_newer_image_deleted_the_legacy_class() {
    for version in [Some("v1.8.0"), Some("v1.8.0-rc2"), None] {
        let r = run(&lost_class_cluster(), version);
        let f = of(&r, "image-name-collision");
        // Only the older image is broken; the newer one has its own class.
        assert_eq!(f.len(), 1, "{version:?}: {f:#?}");
        let f = f[0];
        assert_eq!(f.object.key(), "team-a/ubuntu");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.confidence, Confidence::Proven);
        assert!(
            f.message
                .contains("team-a/ubuntu lost its StorageClass longhorn-ubuntu: creating team-b/ubuntu"),
            "{}",
            f.message
        );
        assert!(f.message.contains("deleteStorageClass"), "{}", f.message);
        assert!(!f.message.contains("shares"), "{}", f.message);
        for e in [
            "class-missing:longhorn-ubuntu",
            "newer-image:team-b/ubuntu",
            "newer-class:lh-bbbbbbbb-0000-4000-8000-000000000002",
        ] {
            assert!(f.evidence.iter().any(|x| x == e), "{e} not in {:?}", f.evidence);
        }
        assert_eq!(f.related.len(), 1);
        assert_eq!(f.related[0].namespace.as_deref(), Some("team-b"));
        if version.is_none() {
            assert!(
                f.evidence.iter().any(|x| x == "new-naming-inferred:lh-class-exists"),
                "{:?}",
                f.evidence
            );
        }
    }
}

#[test]
fn v18_legacy_class_taken_over_by_another_image() {
    // The legacy class exists again but provisions from a third image's BackingImage.
    let mut docs = lost_class_cluster();
    docs.push(class("longhorn-ubuntu", "vmi-cccccccc"));
    docs.push(backing("vmi-cccccccc", "team-c/ubuntu", READY));
    let r = run(&docs, Some("v1.8.2"));
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].object.key(), "team-a/ubuntu");
    assert!(
        f[0].message
            .contains("lost its StorageClass longhorn-ubuntu to team-c/ubuntu"),
        "{}",
        f[0].message
    );
    assert!(f[0].evidence.iter().any(|e| e == "class-serves:team-c/ubuntu"));
}

#[test]
fn v18_lost_class_with_storage_classes_unknown_is_info() {
    // Without StorageClasses the loss cannot be seen: info, possible, naming the kind.
    let docs: Vec<String> = lost_class_cluster()
        .into_iter()
        .filter(|d| !d.contains("kind: StorageClass"))
        .collect();
    let r = run(&docs, Some("v1.8.0"));
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(f[0].message.contains("StorageClass"), "{}", f[0].message);
    assert!(f[0].evidence.iter().any(|e| e == "unknown-kind:StorageClass"));
}

#[test]
fn collision_confidence_and_evidence() {
    let r = run(&collision_cluster(), Some("v1.6.1"));
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 2, "{f:#?}");
    for f in &f {
        assert_eq!(f.confidence, Confidence::Proven);
        for e in [
            "shared-class:longhorn-ubuntu",
            "class-serves:team-b/ubuntu",
            "pvcs-using-class:3",
            "harvester-version:v1.6.1",
        ] {
            assert!(f.evidence.iter().any(|x| x == e), "{e} not in {:?}", f.evidence);
        }
    }
    // Derived classes (no status yet): likely with a known version, possible without, and
    // then the message says what to check.
    let docs = [
        image("team-a", "k3os", "u1", "", None),
        image("team-b", "k3os", "u2", "", None),
        class("longhorn-k3os", "vmi-u2"),
    ];
    let f = run(&docs, Some("v1.7.1"));
    let f = of(&f, "image-name-collision");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|f| f.confidence == Confidence::Likely));
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e == "derived-class:team-a/k3os:longhorn-k3os")
    );
    let r = run(&docs, None);
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|f| f.confidence == Confidence::Possible));
    assert!(f[0].message.contains("status.storageClassName"), "{}", f[0].message);
    assert!(f[0].message.contains("--harvester-version"), "{}", f[0].message);
}

#[test]
fn class_naming_follows_the_upstream_version() {
    // No status yet: v1.2.0 through v1.8.0-rc1 derive longhorn-<name>, so both collide.
    let docs = [
        image("team-a", "k3os", "u1", "", None),
        image("team-b", "k3os", "u2", "", None),
    ];
    for v in ["v1.2.0", "v1.7.2", "v1.8.0-rc1"] {
        assert_eq!(of(&run(&docs, Some(v)), "image-name-collision").len(), 2, "{v}");
    }
    // From v1.8.0-rc2 with no legacy class each gets lh-<uid>: no collision.
    for v in ["v1.8.0-rc2", "v1.8.0", "v1.8.2"] {
        assert!(of(&run(&docs, Some(v)), "image-name-collision").is_empty(), "{v}");
    }
    // v1.8.0-rc2+: an existing legacy class is found first (GetStorageClassName).
    let mut with_legacy = docs.to_vec();
    with_legacy.push(class("longhorn-k3os", "vmi-u1"));
    assert_eq!(
        of(&run(&with_legacy, Some("v1.8.0-rc2")), "image-name-collision").len(),
        2
    );
    // v1.8.2: restore-type images are named after the BackingImage in spec.url
    // (lh-<name without vmi->); before v1.8.2 they get lh-<uid>.
    let restore = |ns: &str, name: &str, uid: &str| {
        image(ns, name, uid, "", None)
            .replace("sourceType: download", "sourceType: restore")
            .replace(
                "https://cloud-images.ubuntu.com/releases/jammy/release-20240514/x.img",
                "\"s3://backups@us-east-1/?backingImage=vmi-0f1e2d3c&backup=backup-4a5b6c\"",
            )
    };
    let docs = [restore("team-a", "r1", "u1"), restore("team-b", "r2", "u2")];
    let f = run(&docs, Some("v1.8.2"));
    let f = of(&f, "image-name-collision");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(
        f[0].evidence.iter().any(|e| e == "shared-class:lh-0f1e2d3c"),
        "{:?}",
        f[0].evidence
    );
    assert!(of(&run(&docs, Some("v1.8.1")), "image-name-collision").is_empty());
}

#[test]
fn aftermath_skips_images_without_a_class_for_a_legitimate_reason() {
    let gone = |doc: String| vec![doc, class("other", "x")];
    let ready = image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu"));
    // Initialised and imported, class gone: a warning.
    let r = run(&gone(ready.clone()), Some("v1.6.1"));
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].evidence.iter().any(|e| e == "class-missing:longhorn-ubuntu"));
    // Recovered after a retry (RetryLimitExceeded False, Imported True): still a warning.
    let recovered = ready.replace(
        "  conditions:\n",
        "  conditions:\n  - type: RetryLimitExceeded\n    status: \"False\"\n    message: \"retry attempted 1/3 failed due to error: timeout\"\n",
    );
    assert_eq!(
        of(&run(&gone(recovered), Some("v1.6.1")), "image-name-collision").len(),
        1
    );
    // Near-misses: being deleted, not initialised, retry limit exceeded, BackingImage
    // missing, still retrying.
    let deleting = ready.replace(
        "  uid: u1\n",
        "  uid: u1\n  deletionTimestamp: \"2024-06-01T08:00:00Z\"\n  finalizers:\n  - wrangler.cattle.io/vm-image-controller\n",
    );
    let uninitialised = ready.replace(
        "  - type: Initialized\n    status: \"True\"",
        "  - type: Initialized\n    status: \"False\"",
    );
    let exceeded = ready.replace(
        "  conditions:\n",
        "  conditions:\n  - type: RetryLimitExceeded\n    status: \"True\"\n    message: \"retry attempted 3/3 failed due to error: 404\"\n",
    );
    let missing = ready.replace(
        "  conditions:\n",
        "  conditions:\n  - type: BackingImageMissing\n    status: \"True\"\n    message: \"Failed to get backing image: not found\"\n",
    );
    let retrying = ready
        .replace("  - type: Imported\n    status: \"True\"", "  - type: Imported\n    status: \"Unknown\"")
        .replace(
            "  conditions:\n",
            "  conditions:\n  - type: RetryLimitExceeded\n    status: \"False\"\n    message: \"retry attempted 1/3 failed due to error: 404\"\n",
        );
    for (what, doc) in [
        ("deleting", deleting),
        ("uninitialised", uninitialised),
        ("exceeded", exceeded),
        ("missing", missing),
        ("retrying", retrying),
    ] {
        let r = run(&gone(doc), Some("v1.6.1"));
        assert!(of(&r, "image-name-collision").is_empty(), "{what}: {:#?}", r.findings);
    }
}

#[test]
fn aftermath_with_unknown_kinds_is_info_not_silence() {
    // StorageClasses not read: a legacy-class image cannot be checked.
    let r = run(
        &[image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu"))],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(f[0].message.contains("unknown kind: StorageClass"), "{}", f[0].message);
    assert!(f[0].evidence.iter().any(|e| e == "unknown-kind:StorageClass"));
    // Class read, BackingImages not, and the class's BackingImage is not named after this
    // image (vmi-<uid>, <ns>-<name>).
    let r = run(
        &[
            image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu")),
            class("longhorn-ubuntu", "vmi-u2"),
        ],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].evidence.iter().any(|e| e == "unknown-kind:BackingImage"));
    // Near-misses: the BackingImage is named after this image (vmi-<uid>, or <ns>-<name>
    // before v1.4), and an lh-<uid> class no other image can touch.
    for bi in ["vmi-u1", "team-a-ubuntu"] {
        let r = run(
            &[
                image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu")),
                class("longhorn-ubuntu", bi),
            ],
            Some("v1.6.1"),
        );
        assert!(of(&r, "image-name-collision").is_empty(), "{bi}: {:#?}", r.findings);
    }
    let r = run(&[image("team-a", "ubuntu", "u1", "", Some("lh-u1"))], Some("v1.8.0"));
    assert!(of(&r, "image-name-collision").is_empty(), "{:#?}", r.findings);
}

#[test]
fn derived_class_without_status_follows_the_version() {
    // No status yet: before v1.8 both derive longhorn-<name>.
    let docs = [
        image("team-a", "k3os", "u1", "", None),
        image("team-b", "k3os", "u2", "", None),
    ];
    assert_eq!(of(&run(&docs, Some("v1.4.0")), "image-name-collision").len(), 2);
    // From v1.8 with no legacy class they get lh-<uid>: no collision.
    assert!(of(&run(&docs, Some("v1.8.0")), "image-name-collision").is_empty());
}

#[test]
fn class_serving_another_image_is_a_warning() {
    let r = run(
        &[
            image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu")),
            class("longhorn-ubuntu", "vmi-u2"),
            backing("vmi-u2", "team-b/ubuntu", READY),
        ],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("belongs to team-b/ubuntu"), "{}", f[0].message);
    // And a class that is gone.
    let r = run(
        &[
            image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu")),
            class("other", "x"),
        ],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("no longer exists"));
}

fn url_image(ns: &str, name: &str, url: &str, extra: &str) -> String {
    image(
        ns,
        name,
        &format!("uid-{name}"),
        extra,
        Some(&format!("longhorn-{name}")),
    )
    .replace(
        "https://cloud-images.ubuntu.com/releases/jammy/release-20240514/x.img",
        url,
    )
}

#[test]
fn mutable_url_warns_and_escalates_on_failed_copies() {
    let current = "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img";
    let failed = "    d1:\n      state: ready\n    d2:\n      state: failed\n      message: Backing image recorded checksum aa doesn't match the file checksum bb in disk d2\n";
    let r = run(
        &[
            url_image("team-a", "jammy", current, ""),
            backing("vmi-uid-jammy", "team-a/jammy", failed),
            url_image(
                "team-a",
                "debian",
                "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2",
                "  checksum: abc\n",
            ),
            backing("vmi-uid-debian", "team-a/debian", READY),
        ],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-mutable-url");
    assert_eq!(f.len(), 2, "{f:#?}");
    let jammy = f.iter().find(|f| f.object.name == "jammy").unwrap();
    assert_eq!(jammy.severity, Severity::Error);
    assert_eq!(jammy.confidence, Confidence::Proven);
    for e in ["moving-segment:current", "failed-copy:d2", "checksum-mismatch"] {
        assert!(jammy.evidence.iter().any(|x| x == e), "{e} not in {:?}", jammy.evidence);
    }
    assert!(jammy.message.contains("spec.checksum is not set"));
    assert!(jammy.message.contains("disk d2"));
    assert!(
        jammy.remediation.contains("releases/jammy/release-<YYYYMMDD>"),
        "{}",
        jammy.remediation
    );
    let debian = f.iter().find(|f| f.object.name == "debian").unwrap();
    assert_eq!(debian.severity, Severity::Warning);
    assert!(!debian.message.contains("spec.checksum is not set"));
}

#[test]
fn mutable_url_near_misses() {
    let imported = "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: image-4m8qz\n  namespace: team-a\n  labels:\n    migration.harvesterhci.io/imported: \"true\"\nspec:\n  displayName: vm-import-web01-disk-0\n  sourceType: download\n  url: http://10.52.0.33:8080/latest/web01-0.img\n".to_string();
    let upload = "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: up\n  namespace: team-a\nspec:\n  displayName: up\n  sourceType: upload\n  url: https://x.example/latest/y.img\n".to_string();
    let r = run(
        &[
            url_image(
                "team-a",
                "host",
                "https://latest-mirror.example.org/fedora/releases/40/Cloud/x86_64/images/Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2",
                "",
            ),
            url_image(
                "team-a",
                "pinned",
                "https://cloud-images.ubuntu.com/releases/jammy/release-20240514/ubuntu-22.04-server-cloudimg-amd64.img",
                "",
            ),
            url_image(
                "team-a",
                "query",
                "https://example.org/images/disk.qcow2?channel=latest",
                "",
            ),
            imported,
            upload,
        ],
        Some("v1.6.1"),
    );
    assert!(of(&r, "image-mutable-url").is_empty(), "{:#?}", r.findings);
}

#[test]
fn missing_kinds_are_unknown_not_empty() {
    // Only images in the input: the collision rule still finds the pair, but says what it
    // could not know, and the report lists the unknown kinds.
    let r = run(
        &[
            image("a", "x", "u1", "", Some("longhorn-x")),
            image("b", "x", "u2", "", Some("longhorn-x")),
        ],
        None,
    );
    let f = of(&r, "image-name-collision");
    assert_eq!(f.len(), 2);
    assert!(
        f[0].message.contains("StorageClasses were not read"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].message.contains("PVCs were not read in every namespace"),
        "{}",
        f[0].message
    );
    let kinds: Vec<&str> = r.incomplete.iter().map(|i| i.kind.as_str()).collect();
    for k in ["StorageClass", "BackingImage", "PersistentVolumeClaim", "Setting"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(r.harvester_version.is_none());
}

#[test]
fn mutable_url_new_moving_targets_are_likely_with_pinned_remediation() {
    let cases = [
        (
            "ubuntu-rel",
            "https://cloud-images.ubuntu.com/releases/noble/release/ubuntu-24.04-server-cloudimg-amd64.img",
            "moving-layout:ubuntu-release-alias",
            "https://cloud-images.ubuntu.com/releases/noble/release-<YYYYMMDD>/ubuntu-24.04-server-cloudimg-amd64.img",
        ),
        (
            "leap-nocloud",
            "https://download.opensuse.org/repositories/Cloud:/Images:/Leap_15.6/images/openSUSE-Leap-15.6.x86_64-NoCloud.qcow2",
            "moving-layout:opensuse-unbuilt-nocloud",
            "openSUSE-Leap-15.6.x86_64-<version>-NoCloud-Build<N>.qcow2",
        ),
        (
            "leap-jeos",
            "https://download.opensuse.org/distribution/leap/15.5/appliances/openSUSE-Leap-15.5-JeOS.x86_64-OpenStack-Cloud.qcow2",
            "moving-layout:opensuse-unbuilt-jeos",
            "-Build<N>.qcow2",
        ),
        (
            "alpine",
            "https://dl-cdn.alpinelinux.org/alpine/latest-stable/releases/cloud/nocloud_alpine-3.20.3-x86_64-bios-cloudinit-r0.qcow2",
            "moving-segment:latest-stable",
            "https://dl-cdn.alpinelinux.org/alpine/v<major>.<minor>/releases/cloud/",
        ),
        (
            "tinycore",
            "http://tinycorelinux.net/15.x/x86/release/TinyCore-current.iso",
            "moving-file-name:-current.",
            "TinyCore-<version>.iso",
        ),
        (
            "k3os",
            "https://images.example.org/k3os/latest.qcow2",
            "moving-file-name:latest.",
            "https://images.example.org/k3os/<name>-<version>.qcow2",
        ),
    ];
    let docs: Vec<String> = cases
        .iter()
        .map(|(name, url, _, _)| url_image("team-a", name, url, ""))
        .collect();
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, "image-mutable-url");
    assert_eq!(f.len(), cases.len(), "{f:#?}");
    for (name, _, evidence, pinned) in cases {
        let f = f.iter().find(|f| f.object.name == name).unwrap();
        assert_eq!(f.severity, Severity::Warning, "{name}");
        assert_eq!(f.confidence, Confidence::Likely, "{name}");
        assert!(f.evidence.iter().any(|e| e == evidence), "{name}: {:?}", f.evidence);
        assert!(f.remediation.contains(pinned), "{name}: {}", f.remediation);
    }
}

#[test]
fn mutable_url_new_patterns_near_misses() {
    let urls = [
        // A pinned Ubuntu serial.
        "https://cloud-images.ubuntu.com/releases/noble/release-20240821/ubuntu-24.04-server-cloudimg-amd64.img",
        // openSUSE with a build number.
        "https://download.opensuse.org/repositories/Cloud:/Images:/Leap_15.6/images/openSUSE-Leap-15.6.x86_64-1.0.1-NoCloud-Build1.2.qcow2",
        "https://download.opensuse.org/distribution/leap/15.5/appliances/openSUSE-Leap-15.5-JeOS.x86_64-15.5-OpenStack-Cloud-Build6.112.qcow2",
        // An Alpine release branch.
        "https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/cloud/nocloud_alpine-3.20.3-x86_64-bios-cloudinit-r0.qcow2",
        // The words in the host or the query string only.
        "https://latest-stable.current.example.org/tinycore/15.x/TinyCore-15.0.iso?f=TinyCore-current.iso",
        "https://mirror.example.org/images/k3os-v1.2.qcow2?name=latest.qcow2&channel=latest-stable",
    ];
    let docs: Vec<String> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| url_image("team-a", &format!("pinned-{i}"), url, ""))
        .collect();
    let r = run(&docs, Some("v1.6.1"));
    assert!(of(&r, "image-mutable-url").is_empty(), "{:#?}", r.findings);
}

#[test]
fn mutable_url_checksum_mismatch_messages_are_proven_errors() {
    let url = "https://cloud-images.ubuntu.com/releases/noble/release/ubuntu-24.04-server-cloudimg-amd64.img";
    // With spec.checksum set the download itself fails (backing-image-manager sync_file.go).
    let expected = "    d1:\n      state: ready\n    d2:\n      state: failed\n      message: \"failed to process sync file: the expected checksum 4f2a doesn't match the the file actual checksum 9c1b\"\n";
    // The copy's message alone, while Longhorn has not marked the state yet.
    let recorded = "    d1:\n      state: in-progress\n      message: \"Backing image recorded checksum 4f2a doesn't match the file checksum 9c1b in disk d1\"\n";
    for (disks, failed) in [(expected, Some("failed-copy:d2")), (recorded, None)] {
        let r = run(
            &[
                url_image("team-a", "noble", url, "  checksum: 4f2a\n"),
                backing("vmi-uid-noble", "team-a/noble", disks),
            ],
            Some("v1.6.1"),
        );
        let f = of(&r, "image-mutable-url");
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].confidence, Confidence::Proven);
        assert!(
            f[0].evidence.iter().any(|e| e == "checksum-mismatch"),
            "{:?}",
            f[0].evidence
        );
        if let Some(e) = failed {
            assert!(f[0].evidence.iter().any(|x| x == e), "{:?}", f[0].evidence);
        }
    }
    // Near-miss: healthy copies stay a likely warning.
    let r = run(
        &[
            url_image("team-a", "noble", url, "  checksum: 4f2a\n"),
            backing("vmi-uid-noble", "team-a/noble", READY),
        ],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-mutable-url");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert!(!f[0].evidence.iter().any(|e| e == "checksum-mismatch"));
}

#[test]
fn mutable_url_single_copy_before_v1_4() {
    let url = "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img";
    let docs = [
        url_image("team-a", "jammy", url, ""),
        backing("vmi-uid-jammy", "team-a/jammy", READY),
    ];
    let r = run(&docs, Some("v1.3.2"));
    let f = of(&r, "image-mutable-url");
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("before v1.4.0"), "{}", f[0].message);
    assert!(f[0].message.contains("#5897"), "{}", f[0].message);
    assert!(f[0].evidence.iter().any(|e| e == "single-copy:before-v1.4.0"));
    for v in [Some("v1.4.0"), None] {
        let r = run(&docs, v);
        let f = of(&r, "image-mutable-url");
        assert_eq!(f.len(), 1);
        assert!(!f[0].message.contains("before v1.4.0"), "{v:?}: {}", f[0].message);
    }
}

#[test]
fn mutable_url_without_backing_images_says_so() {
    let r = run(
        &[url_image(
            "team-a",
            "jammy",
            "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img",
            "",
        )],
        Some("v1.6.1"),
    );
    let f = of(&r, "image-mutable-url");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert!(f[0].message.contains("unknown kind: BackingImage"), "{}", f[0].message);
    assert!(f[0].evidence.iter().any(|e| e == "unknown-kind:BackingImage"));
}
