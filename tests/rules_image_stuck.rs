//! `image-stuck` on fixtures (clock 2026-11-22T12:00:00Z): positives and near-misses.

mod common;

use common::fixtures::{of, run, run_with};
use harvester_hygiene::config::Config;
use harvester_hygiene::rules::{Confidence, Severity};

const RULE: &str = "image-stuck";

fn image(ns: &str, name: &str, meta: &str, conditions: &[(&str, &str, &str)]) -> String {
    let conds: String = conditions
        .iter()
        .map(|(t, s, m)| format!("  - type: {t}\n    status: \"{s}\"\n    message: \"{m}\"\n"))
        .collect();
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: {name}\n  namespace: {ns}\n{meta}spec:\n  displayName: {name}\n  sourceType: download\n  url: https://example.org/{name}.img\nstatus:\n  conditions:\n  - type: Initialized\n    status: \"True\"\n{conds}"
    )
}

fn bi(name: &str, image_id: &str, disks: &[&str], size: u64) -> String {
    let map: String = disks
        .iter()
        .enumerate()
        .map(|(i, s)| format!("    d{i}:\n      state: {s}\n"))
        .collect();
    let map = if map.is_empty() {
        "  diskFileStatusMap: {}\n".to_string()
    } else {
        format!("  diskFileStatusMap:\n{map}")
    };
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: BackingImage\nmetadata:\n  name: {name}\n  namespace: longhorn-system\n  annotations:\n    harvesterhci.io/imageId: {image_id}\nstatus:\n  size: {size}\n{map}"
    )
}

fn pvc(ns: &str, name: &str, image_id: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n    harvesterhci.io/imageId: {image_id}\nspec:\n  volumeName: pv-{name}\n"
    )
}

#[test]
fn stuck_and_failed_images_and_left_backing_images() {
    let docs = vec![
        image(
            "a",
            "removing",
            "  deletionTimestamp: \"2026-11-22T09:00:00Z\"\n",
            &[("Imported", "True", "")],
        ),
        pvc("a", "vm-disk-0", "a/removing"),
        bi("vmi-removing", "a/removing", &["ready"], 1 << 30),
        image(
            "a",
            "broken",
            "",
            &[
                ("Imported", "False", "x"),
                ("RetryLimitExceeded", "True", "404 Not Found"),
            ],
        ),
        image(
            "a",
            "lost",
            "",
            &[("Imported", "True", ""), ("BackingImageMissing", "True", "not found")],
        ),
        image(
            "a",
            "stale",
            "",
            &[("Imported", "True", ""), ("BackingImageMissing", "True", "timeout")],
        ),
        bi("vmi-stale", "a/stale", &["ready", "ready"], 1 << 30),
        // Left by a failed cleanup: its image is gone.
        bi("vmi-left", "a/deleted-long-ago", &["ready", "ready", "ready"], 2 << 30),
        // Every copy failed.
        image("a", "dead", "", &[("Imported", "True", "")]),
        bi("vmi-dead", "a/dead", &["failed", "failed-and-cleanup"], 1 << 30),
    ];
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, RULE);
    let mut names: Vec<String> = f.iter().map(|x| x.object.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["broken", "lost", "removing", "stale", "vmi-dead", "vmi-left"],
        "{:#?}",
        r.findings
    );
    let by = |n: &str| f.iter().find(|x| x.object.name == n).unwrap();
    assert_eq!(by("removing").confidence, Confidence::Proven);
    assert!(
        by("removing").evidence.iter().any(|e| e == "in-use-by:a/vm-disk-0"),
        "{:?}",
        by("removing").evidence
    );
    assert!(
        by("removing").message.contains("removing for 3h"),
        "{}",
        by("removing").message
    );
    assert!(by("broken").message.contains("404 Not Found"));
    assert_eq!(by("lost").severity, Severity::Warning);
    assert_eq!(by("lost").confidence, Confidence::Proven);
    assert_eq!(
        by("stale").severity,
        Severity::Info,
        "the BackingImage exists: a stale condition"
    );
    assert!(by("stale").evidence.iter().any(|e| e == "condition-stale"));
    assert_eq!(by("vmi-left").reclaimable_bytes, Some(3 * (2u64 << 30)));
    assert!(
        by("vmi-left")
            .evidence
            .iter()
            .any(|e| e == "image-missing:a/deleted-long-ago")
    );
    assert!(by("vmi-dead").evidence.iter().any(|e| e == "all-copies-failed:2"));
}

#[test]
fn near_misses() {
    let docs = vec![
        // Deleting for 10 minutes: the finalizer is working.
        image("a", "going", "  deletionTimestamp: \"2026-11-22T11:50:00Z\"\n", &[]),
        // Retried and then imported: RetryLimitExceeded does not stick.
        image(
            "a",
            "recovered",
            "",
            &[("Imported", "True", ""), ("RetryLimitExceeded", "True", "old")],
        ),
        // Retrying, under the limit.
        image(
            "a",
            "retrying",
            "",
            &[
                ("Imported", "Unknown", ""),
                ("RetryLimitExceeded", "False", "retry 1/3"),
            ],
        ),
        // One good copy is enough.
        image("a", "ok", "", &[("Imported", "True", "")]),
        bi("vmi-ok", "a/ok", &["failed", "ready"], 1 << 30),
        // A BackingImage of an image in a namespace whose images were not read: not judged.
        bi("vmi-elsewhere", "other/img", &["ready"], 1 << 30),
        // Still downloading: no copy failed.
        bi("vmi-new", "a/ok", &["in-progress"], 0),
    ];
    let r = run(&docs, Some("v1.6.1"));
    assert!(of(&r, RULE).is_empty(), "{:#?}", of(&r, RULE));
    // A longer grace: the 3-hour deletion is not stuck yet.
    let docs = vec![image(
        "a",
        "removing",
        "  deletionTimestamp: \"2026-11-22T09:00:00Z\"\n",
        &[],
    )];
    assert_eq!(of(&run(&docs, None), RULE).len(), 1);
    let cfg = Config::parse("rules:\n  image-stuck:\n    stuckAfter: 6h\n").unwrap();
    assert!(of(&run_with(&docs, None, &cfg), RULE).is_empty());
}
