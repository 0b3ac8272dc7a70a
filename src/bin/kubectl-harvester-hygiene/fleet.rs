//! The fleet-wide view: `report --context a,b | --all-contexts` reads each cluster's latest
//! in-cluster report (the job's ConfigMap; read-only, no scan) and prints one row per
//! cluster; `scan --all-contexts` scans each context and prints each report, then the rows.
//! Rancher's generated kubeconfigs have one context per downstream cluster, so this works
//! through Rancher. A context that cannot be reached or has no report is a row that says so.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use futures::future::join_all;
use harvester_hygiene::inventory::live::{self, LiveOptions};
use harvester_hygiene::report::{self, ColorChoice, ExitStatus, Format, Printer};
use harvester_hygiene::scan::{Input, ScanOptions};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::config::Kubeconfig;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Args)]
pub struct ReportArgs {
    /// Read these kubeconfig contexts (comma-separated; default: the current context)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "CONTEXTS",
        conflicts_with = "all_contexts"
    )]
    context: Vec<String>,
    /// Read every context of the kubeconfig
    #[arg(long)]
    all_contexts: bool,
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Namespace of the job's report ConfigMap
    #[arg(long, default_value = "harvester-hygiene")]
    report_namespace: String,
    /// Name of the job's report ConfigMap
    #[arg(long, default_value = "harvester-hygiene-report")]
    report_configmap: String,
    /// Output format: table, json or yaml
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = clap::value_parser!(Format))]
    output: Format,
    /// Timeout of each API request (default 10s; 0: none)
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    request_timeout: Option<Duration>,
    /// Colours: auto, always or never
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = clap::value_parser!(ColorChoice))]
    color: ColorChoice,
}

/// One cluster's row.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub context: String,
    /// `ok`, `no-report`, `unreachable`, `forbidden`, `unreadable` (a report that is not JSON)
    /// or `failed` (`scan --all-contexts`: the scan itself failed).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<u64>,
    /// Some kind a rule needs could not be read in that run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub harvester_version: Option<String>,
    /// Rules by findings, most first (at most five).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_rules: Vec<TopRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopRule {
    pub rule: String,
    pub findings: u64,
}

impl Row {
    fn failed(context: &str, status: &'static str, message: String) -> Row {
        Row {
            context: context.to_string(),
            status,
            message: Some(message),
            cluster: None,
            last_run: None,
            age_seconds: None,
            errors: None,
            warnings: None,
            info: None,
            incomplete: None,
            harvester_version: None,
            top_rules: Vec::new(),
        }
    }

    /// The row of a report document (the job's `report.json`, or a fresh scan's report).
    pub fn from_report(context: &str, doc: &Value, now: jiff::Timestamp) -> Row {
        let last_run = doc["source"]["generatedAt"].as_str().map(str::to_string);
        let age_seconds = last_run
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| now.as_second().saturating_sub(t.as_second()));
        let sev = |s: &str| doc["summary"]["bySeverity"][s].as_u64();
        let mut top: Vec<TopRule> = doc["summary"]["byRule"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k, n)))
                    .map(|(rule, findings)| TopRule {
                        rule: rule.clone(),
                        findings,
                    })
                    .collect()
            })
            .unwrap_or_default();
        top.sort_by(|a, b| b.findings.cmp(&a.findings).then_with(|| a.rule.cmp(&b.rule)));
        top.truncate(5);
        Row {
            context: context.to_string(),
            status: "ok",
            message: doc["truncated"]["reason"].as_str().map(|_| {
                format!(
                    "the stored report keeps {} of {} findings",
                    doc["truncated"]["findingsKept"], doc["truncated"]["findingsTotal"]
                )
            }),
            cluster: doc.get("cluster").filter(|c| !c.is_null()).cloned(),
            last_run,
            age_seconds,
            errors: sev("error"),
            warnings: sev("warning"),
            info: sev("info"),
            incomplete: doc["summary"]["incomplete"].as_bool(),
            harvester_version: doc["harvesterVersion"].as_str().map(str::to_string),
            top_rules: top,
        }
    }
}

/// The contexts to visit: the named ones, every one, or the current one.
pub fn contexts(kubeconfig: Option<&PathBuf>, named: &[String], all: bool) -> Result<Vec<String>, String> {
    if !named.is_empty() && !all {
        return Ok(named
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect());
    }
    let kc = match kubeconfig {
        Some(p) => Kubeconfig::read_from(p).map_err(|e| format!("--kubeconfig {}: {e}", p.display()))?,
        None => Kubeconfig::read().map_err(|e| format!("kubeconfig: {e}"))?,
    };
    if all {
        let names: Vec<String> = kc.contexts.iter().map(|c| c.name.clone()).collect();
        if names.is_empty() {
            return Err("the kubeconfig has no contexts".into());
        }
        return Ok(names);
    }
    kc.current_context
        .map(|c| vec![c])
        .ok_or_else(|| "the kubeconfig has no current context: pass --context or --all-contexts".to_string())
}

async fn read_one(args: &ReportArgs, context: &str, timeout: Option<Duration>) -> Row {
    let opts = LiveOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: Some(context.to_string()),
        request_timeout: timeout,
        ..Default::default()
    };
    let client = match live::connect(&opts).await {
        Ok((c, _)) => c,
        Err(e) => return Row::failed(context, "unreachable", e.to_string()),
    };
    let api: kube::Api<ConfigMap> = kube::Api::namespaced(client, &args.report_namespace);
    let cm = match api.get_opt(&args.report_configmap).await {
        Ok(Some(cm)) => cm,
        Ok(None) => {
            return Row::failed(
                context,
                "no-report",
                format!(
                    "no ConfigMap {}/{}: the in-cluster job has not run here (or writes elsewhere: --report-namespace)",
                    args.report_namespace, args.report_configmap
                ),
            );
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Row::failed(
                context,
                "forbidden",
                format!(
                    "may not get ConfigMap {}/{}: {}",
                    args.report_namespace, args.report_configmap, s.message
                ),
            );
        }
        Err(e) => return Row::failed(context, "unreachable", e.to_string()),
    };
    let text = cm
        .data
        .as_ref()
        .and_then(|d| d.get(harvester_hygiene::publish::REPORT_KEY))
        .cloned()
        .unwrap_or_default();
    match serde_json::from_str::<Value>(&text) {
        Ok(doc) if doc["apiVersion"] == report::API_VERSION => Row::from_report(context, &doc, jiff::Timestamp::now()),
        _ => Row::failed(
            context,
            "unreadable",
            format!(
                "ConfigMap {}/{} holds no harvester-hygiene report",
                args.report_namespace, args.report_configmap
            ),
        ),
    }
}

fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn count(n: Option<u64>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// The table: one line per context.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "CONTEXT",
        "CLUSTER",
        "LAST RUN",
        "AGE",
        "ERRORS",
        "WARNINGS",
        "TOP RULES",
        "STATUS",
    ];
    let lines: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let cluster = r
                .cluster
                .as_ref()
                .and_then(|c| c["name"].as_str())
                .unwrap_or("-")
                .to_string();
            let top = if r.top_rules.is_empty() {
                "-".to_string()
            } else {
                r.top_rules
                    .iter()
                    .take(3)
                    .map(|t| format!("{} {}", t.rule, t.findings))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut status = r.status.to_string();
            if r.incomplete == Some(true) {
                status.push_str(" (incomplete)");
            }
            if let Some(m) = &r.message {
                status.push_str(": ");
                status.push_str(m);
            }
            [
                r.context.clone(),
                cluster,
                r.last_run
                    .as_deref()
                    .map(|t| {
                        t.parse::<jiff::Timestamp>()
                            .map_or(t.to_string(), |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                    })
                    .unwrap_or_else(|| "-".into()),
                r.age_seconds.map_or("-".into(), age),
                count(r.errors),
                count(r.warnings),
                top,
                status,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(l.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fmt = |cells: &[String]| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(widths.iter()).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = fmt(&header.map(str::to_string));
    for l in &lines {
        out.push('\n');
        out.push_str(&fmt(l));
    }
    out
}

fn document(kind: &str, rows: &[Row], reports: Option<Vec<Value>>) -> Value {
    let mut doc = json!({
        "apiVersion": report::API_VERSION,
        "kind": kind,
        "generatedAt": jiff::Timestamp::now().to_string(),
        "clusters": rows,
    });
    if let Some(r) = reports {
        doc["reports"] = Value::Array(r);
    }
    doc
}

fn print_doc(p: &mut Printer, format: Format, doc: &Value) -> Result<(), ExitStatus> {
    let text = match format {
        Format::Yaml => serde_saphyr::to_string(doc).map_err(|e| e.to_string()),
        _ => serde_json::to_string_pretty(doc).map_err(|e| e.to_string()),
    };
    match text {
        Ok(t) => {
            p.line(t.trim_end());
            Ok(())
        }
        Err(e) => {
            p.error(&e);
            Err(ExitStatus::Usage)
        }
    }
}

/// 3 when a cluster could not be read (or has no report), else 1 when one has errors, else 0.
fn fleet_code(rows: &[Row]) -> ExitStatus {
    if rows.iter().any(|r| r.status != "ok" || r.incomplete == Some(true)) {
        ExitStatus::Incomplete
    } else if rows.iter().any(|r| r.errors.unwrap_or(0) > 0) {
        ExitStatus::Findings
    } else {
        ExitStatus::Ok
    }
}

/// `kubectl harvester-hygiene report`.
pub fn run_report(args: ReportArgs) -> ExitStatus {
    let mut p = Printer::stdio(args.color);
    if !matches!(args.output, Format::Table | Format::Wide | Format::Json | Format::Yaml) {
        p.error("report: -o takes table, json or yaml");
        return ExitStatus::Usage;
    }
    let names = match contexts(args.kubeconfig.as_ref(), &args.context, args.all_contexts) {
        Ok(n) => n,
        Err(e) => {
            p.error(&e);
            return ExitStatus::Usage;
        }
    };
    let rt = match super::runtime(&mut p) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let timeout = match args.request_timeout {
        Some(d) if d.is_zero() => None,
        Some(d) => Some(d),
        None => Some(Duration::from_secs(10)),
    };
    let rows: Vec<Row> = rt.block_on(join_all(names.iter().map(|c| read_one(&args, c, timeout))));
    let printed = match args.output {
        Format::Json | Format::Yaml => print_doc(&mut p, args.output, &document("FleetReport", &rows, None)),
        _ => {
            p.line(&table(&rows));
            Ok(())
        }
    };
    p.flush();
    match printed {
        Ok(()) => fleet_code(&rows),
        Err(code) => code,
    }
}

/// A context whose scan failed: its row, and its document or its `== context ==` warning.
fn context_failed(
    name: &str,
    e: &harvester_hygiene::Error,
    structured: bool,
    rows: &mut Vec<Row>,
    docs: &mut Vec<Value>,
    p: &mut Printer,
) {
    let status = match e {
        harvester_hygiene::Error::Unreachable(_) => "unreachable",
        _ => "failed",
    };
    rows.push(Row::failed(name, status, e.to_string()));
    if structured {
        docs.push(json!({"context": name, "error": e.to_string()}));
    } else {
        p.line(&format!("== context {name} =="));
        p.warn(&format!("{name}: {e}"));
        p.line("");
    }
}

/// `scan --all-contexts`: scan each context in turn with the same options; print each report
/// (tables under a `== context ==` line) and the rows, or one JSON/YAML document with both.
pub fn scan_all(
    opts: &ScanOptions,
    kubeconfig: Option<&PathBuf>,
    format: Format,
    render: &report::RenderOptions,
    fail_on: report::FailOn,
    p: &mut Printer,
) -> ExitStatus {
    let Input::Live(lo) = &opts.input else {
        p.error("--all-contexts scans live clusters; it does not take --from");
        return ExitStatus::Usage;
    };
    let names = match contexts(kubeconfig, &[], true) {
        Ok(n) => n,
        Err(e) => {
            p.error(&e);
            return ExitStatus::Usage;
        }
    };
    let rt = match super::runtime(p) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let structured = matches!(format, Format::Json | Format::Yaml);
    if !matches!(format, Format::Table | Format::Wide | Format::Json | Format::Yaml) {
        p.error("--all-contexts: -o takes table, wide, json or yaml");
        return ExitStatus::Usage;
    }
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    let mut code = ExitStatus::Ok;
    for name in &names {
        let mut o = opts.clone();
        o.input = Input::Live(LiveOptions {
            context: Some(name.clone()),
            ..lo.clone()
        });
        match rt.block_on(harvester_hygiene::scan::scan(&o)) {
            Ok(r) => {
                let doc = serde_json::to_value(&r).unwrap_or(Value::Null);
                rows.push(Row::from_report(name, &doc, jiff::Timestamp::now()));
                code = code.worse(report::exit_code(&r, fail_on));
                if structured {
                    docs.push(json!({"context": name, "report": doc}));
                } else {
                    p.line(&format!("== context {name} =="));
                    if let Err(e) = p.report_with(&r, format, render.clone()) {
                        p.error(&e.to_string());
                        return ExitStatus::Usage;
                    }
                    p.line("");
                }
            }
            Err(e) => {
                code = ExitStatus::Incomplete;
                context_failed(name, &e, structured, &mut rows, &mut docs, p);
            }
        }
    }
    let printed = if structured {
        print_doc(p, format, &document("FleetScan", &rows, Some(docs)))
    } else {
        p.line(&table(&rows));
        Ok(())
    };
    p.flush();
    match printed {
        Ok(()) => code,
        Err(c) => c,
    }
}
