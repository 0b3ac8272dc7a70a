//! `storageclass-missing` on fixtures: positives and near-misses.

mod common;

use common::fixtures::{of, run};
use harvester_hygiene::rules::{Confidence, Severity};

const RULE: &str = "storageclass-missing";

fn sc(name: &str, backing: Option<&str>) -> String {
    let params = backing.map_or(String::new(), |b| format!("parameters:\n  backingImage: {b}\n"));
    format!(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {name}\nprovisioner: driver.longhorn.io\n{params}"
    )
}

fn pvc(ns: &str, name: &str, class: &str, volume: &str, extra_meta: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: {ns}\n{extra_meta}spec:\n  storageClassName: \"{class}\"\n  volumeName: \"{volume}\"\n  resources:\n    requests:\n      storage: 10Gi\n"
    )
}

fn backing(name: &str) -> String {
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: BackingImage\nmetadata:\n  name: {name}\n  namespace: longhorn-system\nspec: {{}}\n"
    )
}

fn vm(ns: &str, name: &str, templates: &[(&str, &str)]) -> String {
    let t: Vec<String> = templates
        .iter()
        .map(|(p, c)| format!("{{\"metadata\":{{\"name\":\"{p}\"}},\"spec\":{{\"storageClassName\":\"{c}\"}}}}"))
        .collect();
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n    harvesterhci.io/volumeClaimTemplates: '[{}]'\nspec:\n  template:\n    spec:\n      volumes: []\n",
        t.join(",")
    )
}

fn base() -> Vec<String> {
    vec![
        sc("harvester-longhorn", None),
        sc("lh-1111", Some("vmi-1111")),
        sc("longhorn-old-image", Some("vmi-gone")),
        backing("vmi-1111"),
    ]
}

#[test]
fn missing_classes_are_found() {
    let mut docs = base();
    docs.push(pvc("a", "pending", "longhorn-ubuntu", "", ""));
    docs.push(vm(
        "a",
        "web",
        &[("web-disk-0", "longhorn-ubuntu"), ("web-disk-1", "harvester-longhorn")],
    ));
    let r = run(&docs, Some("v1.8.0"));
    let f = of(&r, RULE);
    let mut keys: Vec<String> = f
        .iter()
        .map(|x| format!("{}:{}", x.object.kind, x.object.key()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "PersistentVolumeClaim:a/pending",
            "StorageClass:longhorn-old-image",
            "VirtualMachine:a/web"
        ],
        "{:#?}",
        r.findings
    );
    for x in &f {
        assert_eq!(x.severity, Severity::Warning);
        assert_eq!(x.confidence, Confidence::Proven, "{x:?}");
    }
    let vm = f.iter().find(|x| x.object.kind == "VirtualMachine").unwrap();
    assert!(vm.evidence.iter().any(|e| e == "template-pvc:web-disk-0"));
    assert!(
        !vm.evidence.iter().any(|e| e == "template-pvc:web-disk-1"),
        "that class exists"
    );
    assert!(
        vm.message.contains("web-disk-0 (class longhorn-ubuntu)"),
        "{}",
        vm.message
    );
    let img = f.iter().find(|x| x.object.kind == "StorageClass").unwrap();
    assert!(img.evidence.iter().any(|e| e == "missing-backing-image:vmi-gone"));
}

#[test]
fn near_misses() {
    let mut docs = base();
    // Bound: the class is no longer needed.
    docs.push(pvc("a", "bound", "deleted-class", "pv-1", ""));
    // No class named: default class or static binding.
    docs.push(pvc("a", "no-class", "", "", ""));
    // Deleting.
    docs.push(pvc(
        "a",
        "going",
        "deleted-class",
        "",
        "  deletionTimestamp: \"2026-11-22T11:00:00Z\"\n",
    ));
    // Pending on a class that exists.
    docs.push(pvc("a", "waiting", "harvester-longhorn", "", ""));
    // A template whose PVC already exists is not used any more.
    docs.push(pvc("a", "db-disk-0", "harvester-longhorn", "pv-2", ""));
    docs.push(vm("a", "db", &[("db-disk-0", "longhorn-renamed")]));
    // An image class whose BackingImage exists.
    let r = run(&docs, Some("v1.8.0"));
    let keys: Vec<String> = of(&r, RULE)
        .iter()
        .filter(|x| x.object.kind != "StorageClass")
        .map(|x| x.object.key())
        .collect();
    assert!(keys.is_empty(), "{keys:?}");
    let classes: Vec<String> = of(&r, RULE)
        .iter()
        .filter(|x| x.object.kind == "StorageClass")
        .map(|x| x.object.name.clone())
        .collect();
    assert_eq!(classes, ["longhorn-old-image"], "lh-1111 has its BackingImage");
}

#[test]
fn unknown_coverage_is_said() {
    // No StorageClass in the input: nothing can be judged, and the rule says so.
    let docs = vec![pvc("a", "pending", "longhorn-ubuntu", "", "")];
    let r = run(&docs, None);
    assert!(of(&r, RULE).is_empty());
    let row = r.rules.iter().find(|x| x.id == RULE).expect("ran");
    assert!(
        row.notes.iter().any(|n| n.contains("unknown-kind:StorageClass")),
        "{:?}",
        row.notes
    );
    // A template in a namespace whose PVCs were not read: possible, info.
    let docs = vec![
        sc("harvester-longhorn", None),
        vm("b", "web", &[("web-disk-0", "gone")]),
    ];
    let r = run(&docs, None);
    let f = of(&r, RULE);
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].confidence, Confidence::Possible);
}
