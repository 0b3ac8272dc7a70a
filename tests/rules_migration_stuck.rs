//! `migration-stuck` on fixtures (clock: 2026-11-22T12:00:00Z): positives and near-misses.

mod common;

use common::fixtures::{of, run, run_with};
use harvester_hygiene::config::Config;
use harvester_hygiene::rules::{Confidence, Severity};

const RULE: &str = "migration-stuck";

/// A VMIM of `vmi` in `ns` in `phase`, with (phase, time) transitions.
fn vmim(ns: &str, name: &str, vmi: &str, phase: &str, transitions: &[(&str, &str)], extra_meta: &str) -> String {
    let ts: String = transitions
        .iter()
        .map(|(p, t)| format!("    - phase: {p}\n      phaseTransitionTimestamp: \"{t}\"\n"))
        .collect();
    let ts = if ts.is_empty() {
        String::new()
    } else {
        format!("  phaseTransitionTimestamps:\n{ts}")
    };
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: {name}\n  namespace: {ns}\n  creationTimestamp: \"2026-11-22T01:00:00Z\"\n{extra_meta}spec:\n  vmiName: {vmi}\nstatus:\n  phase: {phase}\n{ts}"
    )
}

fn vmi(ns: &str, name: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec: {{}}\n"
    )
}

fn names(r: &harvester_hygiene::report::Report) -> Vec<String> {
    let mut v: Vec<String> = of(r, RULE).iter().map(|f| f.object.key()).collect();
    v.sort();
    v
}

#[test]
fn stuck_migrations_and_their_confidence() {
    let docs = vec![
        vmi("a", "db"),
        vmi("a", "web"),
        vmi("a", "big"),
        vmi("a", "gone-soon"),
        // Pending for 11h with nothing running ahead: proven.
        vmim(
            "a",
            "pending-alone",
            "db",
            "Pending",
            &[("Pending", "2026-11-22T01:00:00Z")],
            "",
        ),
        // Transferring for 5h: likely (only a huge VM runs that long).
        vmim(
            "a",
            "long-run",
            "big",
            "Running",
            &[("Pending", "2026-11-22T06:00:00Z"), ("Running", "2026-11-22T07:00:00Z")],
            "",
        ),
        // Its VMI is gone: proven.
        vmim(
            "a",
            "orphan",
            "deleted-vmi",
            "Scheduling",
            &[("Scheduling", "2026-11-22T08:00:00Z")],
            "",
        ),
        // Deleting for 4h on its finalizer: proven.
        vmim(
            "a",
            "deleting",
            "web",
            "Succeeded",
            &[("Succeeded", "2026-11-22T07:00:00Z")],
            "  deletionTimestamp: \"2026-11-22T08:00:00Z\"\n  finalizers: [kubevirt.io/migrationJobFinalize]\n",
        ),
    ];
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, RULE);
    assert_eq!(
        names(&r),
        ["a/deleting", "a/long-run", "a/orphan", "a/pending-alone"],
        "{:#?}",
        r.findings
    );
    let by = |n: &str| f.iter().find(|x| x.object.name == n).unwrap();
    assert!(f.iter().all(|x| x.severity == Severity::Warning));
    // The long-running one counts as running, so a pending one would be queued behind it; here
    // the pending one is judged with it running:
    assert_eq!(by("pending-alone").confidence, Confidence::Likely);
    assert!(
        by("pending-alone").evidence.iter().any(|e| e == "running-migrations:2"),
        "{:?}",
        by("pending-alone").evidence
    );
    assert_eq!(by("long-run").confidence, Confidence::Likely);
    assert!(
        by("long-run").message.contains("in phase Running for 5h"),
        "{}",
        by("long-run").message
    );
    assert_eq!(by("orphan").confidence, Confidence::Proven);
    assert!(by("orphan").evidence.iter().any(|e| e == "vmi-missing:deleted-vmi"));
    assert_eq!(by("deleting").confidence, Confidence::Proven);
    assert!(
        by("deleting").message.contains("has been deleting for 4h"),
        "{}",
        by("deleting").message
    );
    for x in &f {
        assert!(x.message.contains("refuses backups"), "{}", x.message);
        assert!(x.evidence.iter().any(|e| e.starts_with("phase-since:")));
    }

    // Alone, the pending migration is not queued: proven.
    let alone = vec![
        vmi("a", "db"),
        vmim(
            "a",
            "pending-alone",
            "db",
            "Pending",
            &[("Pending", "2026-11-22T01:00:00Z")],
            "",
        ),
    ];
    let r = run(&alone, None);
    let f = of(&r, RULE);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].confidence, Confidence::Proven);
    assert!(f[0].message.contains("not queued"), "{}", f[0].message);
}

#[test]
fn migrations_that_are_not_stuck() {
    let docs = vec![
        vmi("a", "db"),
        // Final long ago.
        vmim(
            "a",
            "done",
            "db",
            "Succeeded",
            &[("Succeeded", "2026-11-20T00:00:00Z")],
            "",
        ),
        vmim("a", "failed", "db", "Failed", &[("Failed", "2026-11-20T00:00:00Z")], ""),
        // Running for 2h: under the 3h default.
        vmim(
            "a",
            "running",
            "db",
            "Running",
            &[("Running", "2026-11-22T10:00:00Z")],
            "",
        ),
        // Created 11h ago, but its current phase began 30 minutes ago.
        vmim(
            "a",
            "moved-on",
            "db",
            "TargetReady",
            &[
                ("Pending", "2026-11-22T01:00:00Z"),
                ("TargetReady", "2026-11-22T11:30:00Z"),
            ],
            "",
        ),
        // Final and deleting for a minute: the controller is on it.
        vmim(
            "a",
            "cleaning",
            "db",
            "Succeeded",
            &[("Succeeded", "2026-11-22T11:58:00Z")],
            "  deletionTimestamp: \"2026-11-22T11:59:00Z\"\n",
        ),
    ];
    let r = run(&docs, Some("v1.6.1"));
    assert!(of(&r, RULE).is_empty(), "{:#?}", of(&r, RULE));
    let row = r.rules.iter().find(|x| x.id == RULE).expect("the rule ran");
    assert_eq!(row.findings, 0);
}

#[test]
fn the_threshold_and_unknown_vmis() {
    let docs = vec![vmim(
        "b",
        "p",
        "db",
        "Pending",
        &[("Pending", "2026-11-22T01:00:00Z")],
        "",
    )];
    // No VMI seen in `b`: whether the VMI exists is unknown, so not proven.
    let r = run(&docs, None);
    let f = of(&r, RULE);
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert!(f[0].evidence.iter().any(|e| e == "unknown-kind:VirtualMachineInstance"));
    // A higher threshold: not stuck yet.
    let cfg = Config::parse("rules:\n  migration-stuck:\n    stuckAfter: 12h\n").unwrap();
    assert!(of(&run_with(&docs, None, &cfg), RULE).is_empty());
    // A bad option is an error naming it.
    let err = harvester_hygiene::rules::parse_config("rules:\n  migration-stuck:\n    stuckAfter: soon\n").unwrap_err();
    assert!(err.contains("rules.migration-stuck.stuckAfter"), "{err}");
}
