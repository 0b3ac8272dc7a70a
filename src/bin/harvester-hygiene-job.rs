//! `harvester-hygiene-job`: the in-cluster CronJob. Scans with the pod's service account,
//! then keeps the report in a ConfigMap, raises core Events, logs one JSON line per finding
//! and optionally publishes PolicyReports and pushes metrics. Exit codes fit a CronJob: 0 when the job did its work (whatever
//! it found), 1 when it could not (cluster unreachable, a kind it needs forbidden, the report
//! not writable), 2 for a bad flag or policy file.

use std::path::PathBuf;
use std::process::ExitCode;

use harvester_hygiene::report::ExitStatus;
use std::time::Instant;

use clap::Parser;
use harvester_hygiene::config::Config;
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::report::Report;
use harvester_hygiene::scan::{Gathered, Input, ScanOptions, gather, judge_for};
use harvester_hygiene::{publish, remedy};
use serde_json::json;

const DEFAULT_CONFIG: &str = "/etc/harvester-hygiene/config.yaml";

#[derive(Parser)]
#[command(
    name = "harvester-hygiene-job",
    version,
    about = "Scan this Harvester cluster and publish the report (in-cluster CronJob)"
)]
struct Args {
    /// Policy file [default: /etc/harvester-hygiene/config.yaml when it exists]
    #[arg(long, value_name = "PATH", env = "HARVESTER_HYGIENE_CONFIG")]
    config: Option<PathBuf>,
    /// Namespace of the report ConfigMap [default: $POD_NAMESPACE, else harvester-hygiene]
    #[arg(long, env = "POD_NAMESPACE", default_value = "harvester-hygiene")]
    report_namespace: String,
    /// Name of the report ConfigMap
    #[arg(long, default_value = "harvester-hygiene-report")]
    report_configmap: String,
    /// Do not raise Kubernetes Events
    #[arg(long)]
    no_events: bool,
    /// At most this many Warning events per run (most severe findings first)
    #[arg(long, default_value_t = 500)]
    max_events: usize,
    /// Push metrics to this Prometheus Pushgateway (http://host:port), grouped by job and cluster
    #[arg(long, value_name = "URL")]
    pushgateway_url: Option<String>,
    /// Also publish the findings as wgpolicyk8s.io PolicyReports / ClusterPolicyReports (and
    /// openreports.io Reports when served); skipped with a note when the CRDs are not installed
    #[arg(long)]
    policy_reports: bool,
    /// The cluster's name in the report, metrics, PolicyReports and the ConfigMap's labels
    /// [default: the kube-system namespace's UID]
    #[arg(long, value_name = "NAME", env = "HARVESTER_HYGIENE_CLUSTER_NAME")]
    cluster_name: Option<String>,
    /// Harvester version to assume instead of the server-version Setting
    #[arg(long)]
    harvester_version: Option<String>,
    /// Also run upgrade-readiness: what blocks or breaks an upgrade to this Harvester version
    #[arg(long, value_name = "VERSION", env = "HARVESTER_HYGIENE_TARGET_VERSION")]
    target_version: Option<String>,
    /// Items per list request
    #[arg(long, default_value_t = 500)]
    chunk_size: u32,
    /// Opt in to remediation for this rule (repeatable; only orphaned-guest-pvc, and only PVCs
    /// attributed by their guest-cluster label): mark, then act after the grace period
    #[arg(long, value_name = "RULE")]
    remediate: Vec<String>,
    /// How long a candidate stays marked before the job acts on it
    #[arg(long, default_value = "24h", value_parser = parse_grace)]
    remediation_grace: std::time::Duration,
}

fn parse_grace(s: &str) -> Result<std::time::Duration, String> {
    harvester_hygiene::config::parse_duration_flag(s)
}

fn log(level: &str, msg: &str, fields: serde_json::Value) {
    let mut line = json!({"ts": jiff::Timestamp::now().to_string(), "level": level, "msg": msg});
    if let (Some(l), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        l.extend(f.clone());
    }
    println!("{line}");
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match (&args.config, std::path::Path::new(DEFAULT_CONFIG).exists()) {
        (Some(p), _) => harvester_hygiene::scan::load_config(p),
        (None, true) => harvester_hygiene::scan::load_config(std::path::Path::new(DEFAULT_CONFIG)),
        (None, false) => Ok(Config::default()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            log("error", "bad policy file", json!({"error": e.to_string()}));
            return ExitStatus::Usage.into();
        }
    };
    for rule in &args.remediate {
        if !harvester_hygiene::remedy::staged::JOB_RULES.contains(&rule.as_str()) {
            log(
                "error",
                "this rule cannot be remediated by the job",
                json!({"rule": rule, "supported": harvester_hygiene::remedy::staged::JOB_RULES}),
            );
            return ExitStatus::Usage.into();
        }
    }
    // Two workers whatever the node's core count: the scan waits on the API server (README
    // "Benchmarks": scan ≈ floor), and every worker thread that allocates gets its own malloc
    // arena, so a job on a 64-core node would otherwise hold more memory than the limit the
    // chart derives from the bench (issue 16).
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log("error", "cannot start the runtime", json!({"error": e.to_string()}));
            return ExitStatus::RunFailed.into();
        }
    };
    rt.block_on(run(args, config)).into()
}

/// One run: scan, then publish with the scan's own client (one client, one identity), then the
/// opt-in remediation and metrics, then the summary line. 1 when any step that must work did not.
async fn run(args: Args, config: Config) -> ExitStatus {
    let started = Instant::now();
    let Some((gathered, mut report, now)) = scan(&args, config).await else {
        return ExitStatus::RunFailed;
    };
    report.cluster = gathered.cluster.clone();
    let cluster = report
        .cluster
        .clone()
        .unwrap_or_else(|| harvester_hygiene::report::Cluster::new(args.cluster_name.as_deref(), None, None));
    let duration = started.elapsed();
    for line in publish::log_lines(&report) {
        println!("{line}");
    }
    for gap in &report.incomplete {
        log(
            "warning",
            "incomplete",
            json!({"kind": gap.kind, "reason": gap.reason, "detail": gap.message, "rules": gap.rules}),
        );
    }
    let Some(client) = gathered.client.clone() else {
        log("error", "internal: a live scan without a client", json!({}));
        return ExitStatus::RunFailed;
    };
    let (published, previous) = publish_report(&client, &args, &report).await;
    let events = raise_events(&client, &args, &report, &previous).await;
    let reported = policy_reports(&client, &args, &report, &cluster).await;
    let remediated = remediate(&client, &args, &gathered, &report, now).await;
    let success = published && reported && remediated && !report.summary.incomplete;
    if let Some(url) = &args.pushgateway_url {
        let run = publish::RunOutcome {
            duration,
            finished_unix: jiff::Timestamp::now().as_second(),
            success,
        };
        let body = publish::exposition(&report, &cluster.name, run);
        if let Err(e) = publish::push_metrics(url, &cluster.name, &body, success).await {
            log("warning", "cannot push metrics", json!({"error": e}));
        }
    }
    summary(&report, &cluster, duration, &events);
    if report.summary.incomplete {
        log(
            "error",
            "the scan could not read every kind it needs: check the job's RBAC",
            json!({}),
        );
    }
    if success { ExitStatus::Ok } else { ExitStatus::RunFailed }
}

/// `--policy-reports`: false when a report could not be written (an API that is not served is
/// skipped with a note, not a failure).
async fn policy_reports(
    client: &kube::Client,
    args: &Args,
    report: &Report,
    cluster: &harvester_hygiene::report::Cluster,
) -> bool {
    if !args.policy_reports {
        return true;
    }
    let out = publish::publish_policy_reports(client, report, cluster, None).await;
    for note in &out.skipped {
        log("info", "policy reports skipped", json!({"api": note}));
    }
    for e in &out.errors {
        log("error", "cannot publish a policy report", json!({"error": e}));
    }
    if out.results_cut > 0 {
        log(
            "warning",
            "policy report results left out to fit",
            json!({"results": out.results_cut}),
        );
    }
    log(
        "info",
        "policy reports",
        json!({"apis": out.written, "reports": out.reports, "deleted": out.deleted, "skipped": out.skipped}),
    );
    out.errors.is_empty()
}

/// Gather with the pod's service account and judge; `None` (logged) when the cluster cannot be
/// read at all.
async fn scan(args: &Args, config: Config) -> Option<(Gathered, Report, jiff::Timestamp)> {
    let opts = ScanOptions {
        input: Input::Live(LiveOptions {
            page_size: args.chunk_size.max(1),
            cluster_name: args.cluster_name.clone(),
            name_from_context: false,
            ..Default::default()
        }),
        namespace: None,
        harvester_version: args.harvester_version.clone(),
        rules: Vec::new(),
        config,
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: args.target_version.clone(),
    };
    let gathered = match gather(&opts).await {
        Ok(g) => g,
        Err(e) => {
            log("error", "scan failed", json!({"error": e.to_string()}));
            return None;
        }
    };
    let now = jiff::Timestamp::now();
    let report = judge_for(
        &gathered.inv,
        &gathered.rules,
        &opts.config,
        now,
        gathered.source.clone(),
        gathered.target.as_ref(),
    );
    Some((gathered, report, now))
}

/// Write the report ConfigMap; returns whether it was written and the previous report's
/// findings by fingerprint (for resolved-finding events).
async fn publish_report(
    client: &kube::Client,
    args: &Args,
    report: &Report,
) -> (bool, std::collections::BTreeMap<String, serde_json::Value>) {
    match publish::write_report(client, &args.report_namespace, &args.report_configmap, report).await {
        Ok(prev) => (true, prev),
        Err(e) => {
            log(
                "error",
                "cannot write the report ConfigMap",
                json!({"namespace": args.report_namespace, "name": args.report_configmap, "error": e.to_string()}),
            );
            (false, Default::default())
        }
    }
}

async fn raise_events(
    client: &kube::Client,
    args: &Args,
    report: &Report,
    previous: &std::collections::BTreeMap<String, serde_json::Value>,
) -> publish::EventSummary {
    if args.no_events {
        return publish::EventSummary::default();
    }
    let instance = std::env::var("POD_NAME").or_else(|_| std::env::var("HOSTNAME")).ok();
    let events = publish::emit_events(client, instance, report, previous, args.max_events).await;
    if events.failed > 0 {
        log(
            "warning",
            "some events could not be published",
            json!({"failed": events.failed}),
        );
    }
    events
}

/// The opt-in staged remediation (`--remediate`); false when an action failed.
async fn remediate(
    client: &kube::Client,
    args: &Args,
    gathered: &Gathered,
    report: &Report,
    now: jiff::Timestamp,
) -> bool {
    if args.remediate.is_empty() {
        return true;
    }
    if report.summary.incomplete {
        log("warning", "remediation skipped: the scan is incomplete", json!({}));
        return true;
    }
    let findings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| args.remediate.contains(&f.rule))
        .cloned()
        .collect();
    let backup = remedy::Backup::to_log();
    let staged = remedy::staged::run(client, &gathered.inv, &findings, args.remediation_grace, now, &backup).await;
    for e in &staged.errors {
        log("warning", "remediation step failed", json!({"error": e}));
    }
    log(
        "info",
        "remediation",
        json!({"marked": staged.marked, "waiting": staged.waiting, "unmarked": staged.unmarked, "acted": staged.acted}),
    );
    !staged.acted.iter().any(|a| a.status == remedy::Status::Failed)
}

fn summary(
    report: &Report,
    cluster: &harvester_hygiene::report::Cluster,
    duration: std::time::Duration,
    events: &publish::EventSummary,
) {
    log(
        "info",
        "scan complete",
        json!({
            "cluster": cluster,
            "findings": report.summary.total,
            "bySeverity": report.summary.by_severity,
            "exempted": report.summary.exempted,
            "incomplete": report.summary.incomplete,
            "harvesterVersion": report.harvester_version,
            "durationSeconds": duration.as_secs_f64(),
            "events": {"warning": events.warnings, "updated": events.updated, "resolved": events.resolved, "skipped": events.skipped, "failed": events.failed},
        }),
    );
}
