//! `fix`: plan, server-side dry-run or apply the fixes of fixable findings.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use harvester_hygiene::finding::fingerprint;
use harvester_hygiene::remedy::{self, Backup, ExecOptions, Mode, Status};
use harvester_hygiene::report::{self, ExitStatus, Format, Printer};
use harvester_hygiene::rules::Finding;
use harvester_hygiene::scan::{ScanOptions, gather, judge};

#[derive(Args)]
pub struct FixArgs {
    /// `server`: send every change with server-side dry-run (proves RBAC and admission);
    /// `client` or `none`: only print the plan (the default without --apply)
    #[arg(long, value_name = "MODE", value_parser = ["server", "client", "none"], conflicts_with = "apply")]
    pub dry_run: Option<String>,
    /// Carry out the plan (asks per action on a terminal unless --yes)
    #[arg(long)]
    pub apply: bool,
    /// Do not ask before each action (required with --apply when stdin is not a terminal)
    #[arg(long, requires = "apply")]
    pub yes: bool,
    /// Where to back up every object before it changes [default: ./harvester-hygiene-backup-<time>]
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Also delete PVCs that own VolumeSnapshots (deleting the PVC deletes them)
    #[arg(long)]
    pub include_owned_snapshots: bool,
    /// Fix only the findings of this saved JSON report (re-verified live)
    #[arg(long, value_name = "FILE")]
    pub from_report: Option<PathBuf>,
    /// Instead of fixing findings: purge PVs that an earlier `fix` retained longer ago than this
    /// (e.g. 7d) and whose PVC is gone, by setting them back to reclaimPolicy Delete (the data goes)
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration, conflicts_with_all = ["from_report", "include_owned_snapshots"])]
    pub purge_retained_older_than: Option<std::time::Duration>,
}

/// The mode from the flags; `--apply` without `--yes` needs a terminal to ask on.
fn mode(args: &FixArgs, p: &mut Printer) -> Result<Mode, ExitStatus> {
    let mode = match (args.apply, args.dry_run.as_deref()) {
        (true, _) => Mode::Apply,
        (false, Some("server")) => Mode::DryRunServer,
        _ => Mode::Plan,
    };
    if mode == Mode::Apply && !args.yes && !std::io::stdin().is_terminal() {
        p.error("--apply asks before each action; stdin is not a terminal, so pass --yes to apply without asking");
        return Err(ExitStatus::Usage);
    }
    Ok(mode)
}

/// The fingerprints of `--from-report`, if given.
fn wanted(args: &FixArgs, p: &mut Printer) -> Result<Option<std::collections::BTreeSet<String>>, ExitStatus> {
    match &args.from_report {
        Some(path) => match saved_fingerprints(path) {
            Ok(set) => Ok(Some(set)),
            Err(e) => {
                p.error(&e.to_string());
                Err(ExitStatus::Usage)
            }
        },
        None => Ok(None),
    }
}

/// The findings of a second scan by fingerprint, to re-check every action against the cluster
/// as it is now.
async fn fresh_findings(
    opts: &ScanOptions,
    now: jiff::Timestamp,
    p: &mut Printer,
) -> Result<BTreeMap<String, Finding>, ExitStatus> {
    match gather(opts).await {
        Ok(g2) => {
            let r2 = judge(&g2.inv, &g2.rules, &opts.config, now, g2.source);
            Ok(r2.findings.into_iter().map(|f| (fingerprint(&f), f)).collect())
        }
        Err(e) => {
            p.error(&format!("re-check scan failed: {e}"));
            Err(super::error_code(&e))
        }
    }
}

/// Ask on stderr, read the answer from stdin (unless `yes`).
fn confirm(p: &mut Printer, yes: bool, a: &remedy::Action) -> bool {
    if yes {
        return true;
    }
    let _ = write!(p.err(), "[{}] {}? [y/N] ", a.id, a.description);
    let _ = p.err().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// The findings `--from-report` selected (all without it).
fn selected(report: &report::Report, wanted: Option<&std::collections::BTreeSet<String>>) -> Vec<Finding> {
    report
        .findings
        .iter()
        .filter(|f| wanted.is_none_or(|w| w.contains(&fingerprint(f))))
        .cloned()
        .collect()
}

/// With `--apply` and something to do: the backup directory for this run.
fn backup(
    mode: Mode,
    actions: &[remedy::Action],
    args: &FixArgs,
    p: &mut Printer,
) -> Result<Option<Backup>, ExitStatus> {
    if mode != Mode::Apply || actions.is_empty() {
        return Ok(None);
    }
    let dir = args.backup_dir.clone().unwrap_or_else(Backup::default_dir);
    match Backup::create(&dir) {
        Ok(b) => Ok(Some(b)),
        Err(e) => {
            p.error(&e.to_string());
            Err(ExitStatus::Usage)
        }
    }
}

/// Run `fix`; returns the exit code.
pub async fn run(opts: ScanOptions, args: FixArgs, output: Format, p: &mut Printer) -> ExitStatus {
    let mode = match mode(&args, p) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let wanted = match wanted(&args, p) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let now = || opts.now.unwrap_or_else(jiff::Timestamp::now); // live only: no dump clock
    let g = match gather(&opts).await {
        Ok(g) => g,
        Err(e) => {
            p.error(&e.to_string());
            return super::error_code(&e);
        }
    };
    let Some(client) = g.client.clone() else {
        p.error("fix works on a live cluster (--from is for scans)");
        return ExitStatus::Usage;
    };
    let mut report = judge(&g.inv, &g.rules, &opts.config, now(), g.source);
    if report.summary.incomplete {
        p.error("the scan could not read every kind the rules need; nothing is planned on partial data");
        let _ = p.report(&report, output);
        return ExitStatus::Incomplete;
    }
    let purge = args.purge_retained_older_than;
    let actions = match purge {
        Some(d) => match remedy::purge::plan(&client, d, now(), opts.namespace.as_deref()).await {
            Ok(a) => a,
            Err(e) => {
                p.error(&e.to_string());
                return ExitStatus::Incomplete;
            }
        },
        None => remedy::plan(&selected(&report, wanted.as_ref()), &g.inv),
    };

    let fresh = if mode == Mode::Plan || actions.is_empty() || purge.is_some() {
        BTreeMap::new()
    } else {
        match fresh_findings(&opts, now(), p).await {
            Ok(f) => f,
            Err(code) => return code,
        }
    };
    let backup = match backup(mode, &actions, &args, p) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let exec = ExecOptions {
        mode,
        include_owned_snapshots: args.include_owned_snapshots,
        backup: backup.as_ref(),
        openstack_insecure: opts.openstack.as_ref().is_some_and(|o| o.insecure),
    };
    let yes = args.yes;
    let mut ask = |a: &remedy::Action| confirm(p, yes, a);
    let results = remedy::execute(&client, actions, &fresh, &exec, &mut ask).await;
    let failed = results.iter().filter(|r| r.status == Status::Failed).count();
    report.actions = Some(results.into_iter().map(Into::into).collect());
    if let Err(e) = p.report(&report, output) {
        p.error(&e.to_string());
        return ExitStatus::Usage;
    }
    if let Some(dir) = backup.as_ref().and_then(|b| b.dir.as_ref()) {
        p.note(&format!("backups and audit log: {}", dir.display()));
    }
    if failed > 0 {
        p.error(&format!("{failed} action(s) failed"));
        return ExitStatus::Findings;
    }
    ExitStatus::Ok
}

fn saved_fingerprints(path: &PathBuf) -> Result<std::collections::BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--from-report {}: {e}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("--from-report {}: not a JSON report: {e}", path.display()))?;
    if doc["apiVersion"] != report::API_VERSION {
        return Err(format!(
            "--from-report {}: apiVersion is not {}",
            path.display(),
            report::API_VERSION
        ));
    }
    let findings: Vec<Finding> = serde_json::from_value(doc["findings"].clone())
        .map_err(|e| format!("--from-report {}: field findings: {e}", path.display()))?;
    Ok(findings.iter().map(fingerprint).collect())
}
