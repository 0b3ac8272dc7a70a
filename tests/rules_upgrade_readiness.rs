//! `upgrade-readiness` (`scan --target-version`) on fixtures (clock: 2026-11-22T12:00:00Z):
//! each check's positives and at least three near-misses, and the rule's absence without a target.

mod common;

use common::fixtures::{NOW, load, source};
use harvester_hygiene::config::Config;
use harvester_hygiene::report::{Report, RuleStatus};
use harvester_hygiene::rules::{self, Confidence, Finding, Severity};
use harvester_hygiene::scan::judge_for;
use harvester_hygiene::version::Version;

const RULE: &str = "upgrade-readiness";

fn judge(docs: &[String], current: &str, target: Option<&str>) -> Report {
    let inv = load(docs, Some(current));
    let target = target.and_then(Version::parse);
    judge_for(
        &inv,
        rules::REGISTRY,
        &Config::default(),
        NOW.parse().unwrap_or_else(|_| jiff::Timestamp::now()),
        source(),
        target.as_ref(),
    )
}

fn of(r: &Report) -> Vec<&Finding> {
    r.findings.iter().filter(|f| f.rule == RULE).collect()
}

fn keys(r: &Report, title_has: &str) -> Vec<String> {
    let mut v: Vec<String> = of(r)
        .iter()
        .filter(|f| f.title.contains(title_has))
        .map(|f| f.object.key())
        .collect();
    v.sort();
    v
}

fn find<'a>(r: &'a Report, key: &str) -> &'a Finding {
    let f = of(r).into_iter().find(|f| f.object.key() == key);
    assert!(f.is_some(), "no finding for {key}: {:#?}", r.findings);
    f.unwrap_or_else(|| unreachable!())
}

fn vmi(ns: &str, name: &str, phase: &str, migratable: Option<&str>, extra_meta: &str) -> String {
    let cond = migratable
        .map(|s| {
            format!(
                "  conditions:\n  - type: LiveMigratable\n    status: \"{s}\"\n    reason: DisksNotLiveMigratable\n    message: \"cannot migrate VMI: PVC disk-0 is not shared\"\n"
            )
        })
        .unwrap_or_default();
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: {name}\n  namespace: {ns}\n{extra_meta}spec: {{}}\nstatus:\n  phase: {phase}\n  nodeName: node-1\n{cond}"
    )
}

fn volume(ns: &str, name: &str, state: &str, robustness: &str, replicas: u32) -> String {
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  numberOfReplicas: {replicas}\n  size: \"10737418240\"\nstatus:\n  state: {state}\n  robustness: {robustness}\n  kubernetesStatus:\n    namespace: default\n    pvcName: {name}-pvc\n"
    )
}

fn upgrade(ns: &str, name: &str, state: Option<&str>, extra_meta: &str) -> String {
    let labels = state
        .map(|s| format!("  labels:\n    harvesterhci.io/upgradeState: {s}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: Upgrade\nmetadata:\n  name: {name}\n  namespace: {ns}\n  creationTimestamp: \"2026-11-20T12:00:00Z\"\n{labels}{extra_meta}spec:\n  version: v1.6.1\n"
    )
}

fn repo_vm(ns: &str, name: &str, labels: &[(&str, &str)]) -> String {
    let l: String = labels.iter().map(|(k, v)| format!("    {k}: {v}\n")).collect();
    let l = if l.is_empty() {
        String::new()
    } else {
        format!("  labels:\n{l}")
    };
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {name}\n  namespace: {ns}\n{l}spec:\n  template:\n    spec: {{}}\n"
    )
}

fn image(ns: &str, name: &str, labels: &[(&str, &str)], backend: &str) -> String {
    let l: String = labels.iter().map(|(k, v)| format!("    {k}: {v}\n")).collect();
    let l = if l.is_empty() {
        String::new()
    } else {
        format!("  labels:\n{l}")
    };
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: uid-{ns}-{name}\n{l}spec:\n  displayName: {name}\n  sourceType: download\n  url: https://example.com/{name}.iso\n  backend: {backend}\nstatus:\n  size: 6442450944\n  storageClassName: longhorn-{name}\n"
    )
}

#[test]
fn without_a_target_the_rule_does_not_run() {
    let docs = vec![vmi("a", "pinned", "Running", Some("False"), "")];
    let r = judge(&docs, "v1.6.1", None);
    assert!(of(&r).is_empty(), "{:#?}", r.findings);
    let run = r.rules.iter().find(|x| x.id == RULE);
    assert!(run.is_some());
    let run = run.unwrap_or_else(|| unreachable!());
    assert_eq!(run.status, RuleStatus::Disabled);
    assert!(
        run.notes.iter().any(|n| n.contains("--target-version")),
        "{:?}",
        run.notes
    );
    assert!(!r.summary.by_rule.contains_key(RULE));
    // With a target, the same object is a blocker.
    let r = judge(&docs, "v1.6.1", Some("v1.7.0"));
    assert_eq!(keys(&r, ""), ["a/pinned"]);
}

#[test]
fn vms_that_cannot_live_migrate() {
    let docs = vec![
        vmi("a", "pinned", "Running", Some("False"), ""),
        // Near-misses: migratable; no condition; not running; deleting.
        vmi("a", "free", "Running", Some("True"), ""),
        vmi("a", "no-condition", "Running", None, ""),
        vmi("a", "stopped", "Succeeded", Some("False"), ""),
        vmi(
            "a",
            "going",
            "Running",
            Some("False"),
            "  deletionTimestamp: \"2026-11-22T11:00:00Z\"\n",
        ),
    ];
    let r = judge(&docs, "v1.6.1", Some("v1.7.0"));
    assert_eq!(keys(&r, "live-migrate"), ["a/pinned"], "{:#?}", r.findings);
    let f = find(&r, "a/pinned");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.confidence, Confidence::Likely);
    for e in [
        "condition:LiveMigratable=False",
        "reason:DisksNotLiveMigratable",
        "target-version:v1.7.0",
        "unknown-setting:upgrade-config",
    ] {
        assert!(f.evidence.iter().any(|x| x == e), "{e}: {:?}", f.evidence);
    }
    assert!(f.message.contains("not shared"), "{}", f.message);
    // restoreVM: shut down and restored, a warning.
    let mut docs = docs;
    docs.push(
        "apiVersion: harvesterhci.io/v1beta1\nkind: Setting\nmetadata:\n  name: upgrade-config\nvalue: '{\"restoreVM\": true}'\n"
            .into(),
    );
    let r = judge(&docs, "v1.6.1", Some("v1.7.0"));
    let f = find(&r, "a/pinned");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.evidence.iter().any(|x| x == "restore-vm:true"), "{:?}", f.evidence);
}

#[test]
fn unhealthy_and_single_replica_volumes() {
    let lh = "longhorn-system";
    let docs = vec![
        volume(lh, "pvc-degraded", "attached", "degraded", 3),
        volume(lh, "pvc-faulted", "attached", "faulted", 3),
        volume(lh, "pvc-faulted-off", "detached", "faulted", 3),
        volume(lh, "pvc-single", "attached", "healthy", 1),
        volume(lh, "pvc-single-off", "detached", "unknown", 1),
        // Near-misses: healthy; detached with unknown robustness (normal when detached); degraded
        // outside longhorn-system (Harvester lists only that namespace).
        volume(lh, "pvc-healthy", "attached", "healthy", 3),
        volume(lh, "pvc-off", "detached", "unknown", 3),
        volume("elsewhere", "pvc-other", "attached", "degraded", 3),
    ];
    let r = judge(&docs, "v1.6.1", Some("v1.7.0"));
    let got: Vec<(String, Severity)> = {
        let mut v: Vec<_> = of(&r).iter().map(|f| (f.object.name.clone(), f.severity)).collect();
        v.sort();
        v
    };
    assert_eq!(
        got,
        [
            ("pvc-degraded".to_string(), Severity::Error),
            ("pvc-faulted".to_string(), Severity::Error),
            ("pvc-faulted-off".to_string(), Severity::Warning),
            ("pvc-single".to_string(), Severity::Error),
            ("pvc-single-off".to_string(), Severity::Warning),
        ],
        "{:#?}",
        r.findings
    );
    let f = find(&r, "longhorn-system/pvc-degraded");
    assert!(
        f.evidence.iter().any(|e| e == "robustness:degraded"),
        "{:?}",
        f.evidence
    );
    assert!(f.message.contains("default/pvc-degraded-pvc"), "{}", f.message);
    // The webhook's opt-out on the Upgrade clears detached single-replica volumes (the Upgrade
    // itself, unfinished, is its own finding).
    let mut docs = docs;
    docs.push(upgrade(
        "harvester-system",
        "hvst-upgrade-next",
        None,
        "  annotations:\n    harvesterhci.io/skipSingleReplicaDetachedVol: \"true\"\n",
    ));
    let r = judge(&docs, "v1.6.1", Some("v1.7.0"));
    assert!(
        of(&r).iter().all(|f| f.object.name != "pvc-single-off"),
        "{:#?}",
        r.findings
    );
    assert!(of(&r).iter().any(|f| f.object.name == "pvc-single"));
}

#[test]
fn unfinished_upgrades_and_their_leftovers() {
    let hs = "harvester-system";
    fn repo(up: &str) -> Vec<(&str, &str)> {
        vec![
            ("harvesterhci.io/upgrade", up),
            ("harvesterhci.io/upgradeComponent", "repo"),
        ]
    }
    let docs = vec![
        upgrade(hs, "hvst-upgrade-stuck", Some("UpgradingNodes"), ""),
        upgrade(hs, "hvst-upgrade-nolabel", None, ""),
        // Near-misses: finished upgrades; an unfinished one outside harvester-system.
        upgrade(hs, "hvst-upgrade-old", Some("Succeeded"), ""),
        upgrade(hs, "hvst-upgrade-failed", Some("Failed"), ""),
        upgrade("default", "hvst-upgrade-elsewhere", Some("UpgradingNodes"), ""),
        // Repo VMs: of a finished upgrade (likely), of a deleted one (proven).
        repo_vm(hs, "upgrade-repo-hvst-upgrade-old", &repo("hvst-upgrade-old")),
        repo_vm(hs, "upgrade-repo-hvst-upgrade-gone", &repo("hvst-upgrade-gone")),
        // Near-misses: the running upgrade's repo VM; a user VM named like one; a repo-labelled
        // VM outside harvester-system.
        repo_vm(hs, "upgrade-repo-hvst-upgrade-stuck", &repo("hvst-upgrade-stuck")),
        repo_vm(hs, "upgrade-repo-lookalike", &[]),
        repo_vm("default", "upgrade-repo-hvst-upgrade-gone", &repo("hvst-upgrade-gone")),
        // ISO images: of a deleted upgrade; near-misses: of the running one, labelled outside
        // harvester-system, unlabelled in harvester-system.
        image(
            hs,
            "hvst-upgrade-gone",
            &[("harvesterhci.io/upgrade", "hvst-upgrade-gone")],
            "backingimage",
        ),
        image(
            hs,
            "hvst-upgrade-stuck",
            &[("harvesterhci.io/upgrade", "hvst-upgrade-stuck")],
            "backingimage",
        ),
        image(
            "default",
            "hvst-upgrade-x",
            &[("harvesterhci.io/upgrade", "hvst-upgrade-gone")],
            "backingimage",
        ),
        image(hs, "plain-iso", &[], "backingimage"),
    ];
    let r = judge(&docs, "v1.6.0", Some("v1.6.1"));
    assert_eq!(
        keys(&r, "unfinished Upgrade"),
        [
            "harvester-system/hvst-upgrade-nolabel",
            "harvester-system/hvst-upgrade-stuck"
        ],
        "{:#?}",
        r.findings
    );
    let f = find(&r, "harvester-system/hvst-upgrade-stuck");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.evidence.iter().any(|e| e == "upgrade-state:UpgradingNodes"),
        "{:?}",
        f.evidence
    );
    assert!(f.message.contains("2d ago"), "{}", f.message);
    assert_eq!(
        keys(&r, "repo VM"),
        [
            "harvester-system/upgrade-repo-hvst-upgrade-gone",
            "harvester-system/upgrade-repo-hvst-upgrade-old"
        ],
        "{:#?}",
        r.findings
    );
    let gone = find(&r, "harvester-system/upgrade-repo-hvst-upgrade-gone");
    assert_eq!(
        (gone.severity, gone.confidence),
        (Severity::Warning, Confidence::Proven)
    );
    assert!(gone.evidence.iter().any(|e| e == "upgrade-missing:hvst-upgrade-gone"));
    let old = find(&r, "harvester-system/upgrade-repo-hvst-upgrade-old");
    assert_eq!(old.confidence, Confidence::Likely);
    assert!(old.evidence.iter().any(|e| e == "upgrade-finished:hvst-upgrade-old"));
    assert_eq!(
        keys(&r, "ISO image"),
        ["harvester-system/hvst-upgrade-gone"],
        "{:#?}",
        r.findings
    );
    assert_eq!(
        find(&r, "harvester-system/hvst-upgrade-gone").reclaimable_bytes,
        Some(6_442_450_944)
    );
}

#[test]
fn stuck_migrations_block_the_upgrade() {
    let mig = |name: &str, phase: &str, since: &str| {
        format!(
            "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: {name}\n  namespace: a\n  creationTimestamp: \"{since}\"\nspec:\n  vmiName: db\nstatus:\n  phase: {phase}\n  phaseTransitionTimestamps:\n  - phase: {phase}\n    phaseTransitionTimestamp: \"{since}\"\n"
        )
    };
    let docs = vec![
        vmi("a", "db", "Running", Some("True"), ""),
        mig("stuck", "Pending", "2026-11-22T01:00:00Z"),
        // Near-misses: finished long ago (both ways); pending for 10 minutes.
        mig("done", "Succeeded", "2026-11-22T01:00:00Z"),
        mig("failed", "Failed", "2026-11-22T01:00:00Z"),
        mig("young", "Pending", "2026-11-22T11:50:00Z"),
    ];
    let r = judge(&docs, "v1.6.1", Some("v1.7.0"));
    assert_eq!(keys(&r, "blocks the upgrade"), ["a/stuck"], "{:#?}", r.findings);
    let f = find(&r, "a/stuck");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.evidence.iter().any(|e| e == "check:migration-stuck"),
        "{:?}",
        f.evidence
    );
    assert!(f.evidence.iter().any(|e| e == "phase:Pending"), "{:?}", f.evidence);
    // migration-stuck itself still reports it, as a warning.
    let own: Vec<&Finding> = r.findings.iter().filter(|f| f.rule == "migration-stuck").collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].severity, Severity::Warning);
}

#[test]
fn version_boundaries_the_upgrade_crosses() {
    let docs = vec![
        image("default", "ubuntu", &[], "backingimage"),
        image("team", "ubuntu", &[], "backingimage"),
        // Near-misses: a unique name; a CDI image of the shared name (own class by design).
        image("default", "debian", &[], "backingimage"),
        image("cdi", "ubuntu", &[], "cdi"),
    ];
    let r = judge(&docs, "v1.7.1", Some("v1.8.0"));
    assert_eq!(
        keys(&r, "legacy class"),
        ["default/ubuntu", "team/ubuntu"],
        "{:#?}",
        r.findings
    );
    let f = find(&r, "team/ubuntu");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.evidence.iter().any(|e| e == "legacy-class:longhorn-ubuntu"),
        "{:?}",
        f.evidence
    );
    assert_eq!(f.related.len(), 1, "{:?}", f.related);
    // Near-misses: a target before the boundary; a current version already past it; v1.8.0-rc1.
    for (cur, tgt) in [("v1.7.1", "v1.7.2"), ("v1.8.0", "v1.8.1"), ("v1.7.1", "v1.8.0-rc1")] {
        let r = judge(&docs, cur, Some(tgt));
        assert!(keys(&r, "legacy class").is_empty(), "{cur}->{tgt}: {:#?}", r.findings);
    }

    let long = "a".repeat(54);
    let ok = "b".repeat(53);
    let docs = vec![
        vmi("q", &long, "Running", Some("True"), ""),
        // Near-misses: 53 characters; a long name that is not running.
        vmi("q", &ok, "Running", Some("True"), ""),
        vmi("q", &"c".repeat(60), "Succeeded", Some("True"), ""),
    ];
    let r = judge(&docs, "v1.3.2", Some("v1.4.1"));
    assert_eq!(keys(&r, "VM name"), [format!("q/{long}")], "{:#?}", r.findings);
    assert!(
        find(&r, &format!("q/{long}"))
            .evidence
            .iter()
            .any(|e| e == "name-length:54")
    );
    // Near-miss: a fixed target.
    let r = judge(&docs, "v1.3.2", Some("v1.4.2"));
    assert!(keys(&r, "VM name").is_empty(), "{:#?}", r.findings);
}

#[test]
fn a_target_that_is_not_newer_is_noted() {
    let r = judge(&[vmi("a", "x", "Running", Some("True"), "")], "v1.6.1", Some("v1.6.1"));
    let run = r.rules.iter().find(|x| x.id == RULE);
    assert!(run.is_some());
    let run = run.unwrap_or_else(|| unreachable!());
    assert_eq!(run.status, RuleStatus::Partial);
    assert!(run.notes.iter().any(|n| n.contains("not newer")), "{:?}", run.notes);
}

fn backup(name: &str, status: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineBackup\nmetadata:\n  name: {name}\n  namespace: a\n  creationTimestamp: \"2026-11-22T11:00:00Z\"\nspec:\n  source:\n    apiGroup: kubevirt.io\n    kind: VirtualMachine\n    name: db\n  type: backup\nstatus:\n{status}"
    )
}

fn schedule(name: &str, suspended: bool) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: ScheduleVMBackup\nmetadata:\n  name: {name}\n  namespace: a\nspec:\n  cron: \"0 * * * *\"\n  maxFailure: 4\n  retain: 8\n  suspend: {suspended}\nstatus:\n  failure: 0\n  suspended: {suspended}\n"
    )
}

/// harvester/harvester v1.6.0 `pkg/webhook/resources/upgrade/validator.go`: `checkVMBackups`
/// (a backup without an error that is not readyToUse) and `checkScheduleVMBackups`
/// (`status.suspended` false) refuse the Upgrade.
#[test]
fn backups_in_progress_and_running_schedules_block_the_upgrade() {
    let docs = vec![
        backup("running", "  readyToUse: false\n  progress: 40\n"),
        backup("no-status-yet", "  progress: 0\n"),
        schedule("hourly", false),
        // Near-misses: a finished backup, a failed one (backup-failed's), a suspended schedule.
        backup("done", "  readyToUse: true\n  progress: 100\n"),
        backup(
            "failed",
            "  readyToUse: false\n  error:\n    message: \"backup target unreachable\"\n    time: \"2026-11-22T11:30:00Z\"\n",
        ),
        schedule("paused", true),
    ];
    let r = judge(&docs, "v1.6.0", Some("v1.6.1"));
    assert_eq!(
        keys(&r, "in progress blocks"),
        ["a/no-status-yet", "a/running"],
        "{:#?}",
        r.findings
    );
    assert_eq!(keys(&r, "schedule not suspended"), ["a/hourly"], "{:#?}", r.findings);
    let f = find(&r, "a/hourly");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.confidence, Confidence::Proven);
    assert!(f.evidence.iter().any(|e| e == "check:schedule-not-suspended"), "{f:#?}");
    assert!(f.evidence.iter().any(|e| e == "target-version:v1.6.1"), "{f:#?}");
    // Without a target the rule does not run at all.
    let r = judge(&docs, "v1.6.0", None);
    assert!(of(&r).is_empty(), "{:#?}", r.findings);
}
