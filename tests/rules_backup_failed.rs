//! `backup-failed` on fixtures (clock 2026-11-22T12:00:00Z): positives and near-misses.

mod common;

use common::fixtures::{of, run, run_with};
use harvester_hygiene::config::Config;
use harvester_hygiene::rules::{Confidence, Severity};

const RULE: &str = "backup-failed";

fn backup(name: &str, meta: &str, status: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineBackup\nmetadata:\n  name: {name}\n  namespace: a\n  creationTimestamp: \"2026-11-22T01:00:00Z\"\n{meta}spec:\n  source:\n    apiGroup: kubevirt.io\n    kind: VirtualMachine\n    name: db\n  type: backup\nstatus:\n{status}"
    )
}

fn schedule(name: &str, suspended: bool, reason: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: ScheduleVMBackup\nmetadata:\n  name: {name}\n  namespace: a\nspec:\n  cron: \"0 * * * *\"\n  maxFailure: 4\n  retain: 8\n  suspend: {suspended}\nstatus:\n  failure: 4\n  suspended: {suspended}\n  conditions:\n  - type: BackupSuspend\n    status: \"{}\"\n    reason: \"{reason}\"\n    message: \"failure backups 4 reach max tolerance 4\"\n",
        if suspended { "True" } else { "False" }
    )
}

#[test]
fn failed_stuck_and_suspended() {
    let docs = vec![
        backup(
            "failed",
            "",
            "  readyToUse: false\n  error:\n    message: \"backup target is unreachable\"\n",
        ),
        backup("slow", "", "  readyToUse: false\n  progress: 40\n"),
        backup(
            "deleting",
            "  deletionTimestamp: \"2026-11-22T02:00:00Z\"\n",
            "  readyToUse: true\n",
        ),
        schedule("hourly", true, "Reach Max Failure"),
        schedule("lh-sync", true, "Longhorn Backup Not Synced"),
    ];
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, RULE);
    let mut names: Vec<String> = f.iter().map(|x| x.object.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["deleting", "failed", "hourly", "lh-sync", "slow"],
        "{:#?}",
        r.findings
    );
    let by = |n: &str| f.iter().find(|x| x.object.name == n).unwrap();
    assert!(f.iter().all(|x| x.confidence == Confidence::Proven));
    assert_eq!(by("hourly").severity, Severity::Error);
    assert!(by("hourly").evidence.iter().any(|e| e == "suspended:Reach Max Failure"));
    assert!(by("failed").message.contains("backup target is unreachable"));
    assert_eq!(by("failed").severity, Severity::Warning);
    assert!(
        by("slow").message.contains("not ready after 11h"),
        "{}",
        by("slow").message
    );
    assert!(by("deleting").evidence.iter().any(|e| e.starts_with("deleting-since:")));
}

#[test]
fn near_misses() {
    let docs = vec![
        // Ready.
        backup("ok", "", "  readyToUse: true\n"),
        // In progress, within the grace period.
        backup(
            "young",
            "",
            "  readyToUse: false\n  creationTime: \"2026-11-22T10:00:00Z\"\n",
        ),
        // Deleting for a minute.
        backup(
            "going",
            "  deletionTimestamp: \"2026-11-22T11:59:00Z\"\n",
            "  readyToUse: true\n",
        ),
        // Suspended by a person, and a schedule running normally.
        schedule("paused", true, "Proactive Schedule Suspend"),
        schedule("running", false, ""),
    ];
    let r = run(&docs, Some("v1.6.1"));
    assert!(of(&r, RULE).is_empty(), "{:#?}", of(&r, RULE));
    // A longer grace period keeps the slow backup quiet.
    let slow = vec![backup("slow", "", "  readyToUse: false\n")];
    assert_eq!(of(&run(&slow, None), RULE).len(), 1);
    let cfg = Config::parse("rules:\n  backup-failed:\n    gracePeriod: 1d\n").unwrap();
    assert!(of(&run_with(&slow, None, &cfg), RULE).is_empty());
}
