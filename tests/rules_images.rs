//! Rule tests on inventories loaded from YAML text through the real file loader:
//! positives and the near-misses the rules must stay silent on.

use harvester_hygiene::inventory::{Inventory, files};
use harvester_hygiene::report::{Report, SourceKind};
use harvester_hygiene::rules::{self, Severity};
use harvester_hygiene::scan::{judge, set_version};
use harvester_hygiene::version::Version;

fn image(ns: &str, name: &str, uid: &str, extra_spec: &str, sc: Option<&str>) -> String {
    let status = sc
        .map(|s| format!("status:\n  storageClassName: {s}\n"))
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
fn v18_classes_do_not_collide_but_legacy_takeover_does() {
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
    // One legacy image from before the upgrade, one new: the pair is flagged.
    let r = run(
        &[
            image("team-a", "ubuntu", "u1", "", Some("longhorn-ubuntu")),
            image("team-b", "ubuntu", "u2", "", Some("lh-u2")),
            class("longhorn-ubuntu", "vmi-u1"),
            class("lh-u2", "vmi-u2"),
        ],
        Some("v1.8.1"),
    );
    assert_eq!(of(&r, "image-name-collision").len(), 2, "{:#?}", r.findings);
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
