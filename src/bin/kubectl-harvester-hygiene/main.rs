//! `kubectl harvester-hygiene`: the kubectl plugin. A thin layer over the library.

mod describe;
mod fix;
mod fleet;
mod lint;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use harvester_hygiene::config::Config;
use harvester_hygiene::inventory::files::Limits;
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::report::{self, ColorChoice, ExitStatus, FailOn, Format, Printer};
use harvester_hygiene::rules::import_openstack_leak;
use harvester_hygiene::scan::{Input, ScanOptions};
use harvester_hygiene::{Error, rules};

#[derive(Parser)]
#[command(
    name = "kubectl-harvester-hygiene",
    bin_name = "kubectl harvester-hygiene",
    version,
    about = "Find and explain Harvester HCI problems that generic Kubernetes linters miss",
    after_help = "Exit codes: 0 clean; 1 findings at or above --fail-on; 2 usage or configuration error; \
                  3 a live scan could not complete (cluster unreachable, or a kind a rule needs was forbidden or failed)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan a cluster (or dumps of one) and report problems
    Scan(Box<ScanArgs>),
    /// Fix what is safe to fix: print the plan (default), --dry-run=server, or --apply
    Fix(Box<FixCmd>),
    /// Explain one finding: message, evidence, related objects, remediation with the exact
    /// commands, and whether `fix` can do it (`describe RULE NAMESPACE/NAME` or `describe FINGERPRINT`)
    Describe(Box<DescribeArgs>),
    /// Write what a scan reads (only the fields the rules read, never Secrets) and a manifest of
    /// what was listed completely, for offline scans with `scan --from` and full coverage
    Dump(Box<DumpArgs>),
    /// Lint files before they reach a cluster: Kubernetes manifests (YAML/JSON, directories, `-`
    /// for stdin) and Terraform plans (`terraform show -json plan.out`)
    Lint(Box<lint::LintArgs>),
    /// The fleet-wide view: each cluster's latest in-cluster report (read-only, no scan), one
    /// row per kubeconfig context (`--context a,b` or `--all-contexts`)
    Report(Box<fleet::ReportArgs>),
    /// List the rules, their default severity and what each finds
    Rules,
    /// Explain one rule: why it matters, affected versions, upstream issues, remediation
    Explain {
        /// A rule id (see `rules`)
        rule: String,
    },
    /// Print the version
    Version,
}

/// How the output looks.
#[derive(Args)]
struct ViewArgs {
    /// Colours: auto (a terminal without NO_COLOR; CLICOLOR_FORCE forces them), always or never
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = clap::value_parser!(ColorChoice))]
    color: ColorChoice,
}

#[derive(Args)]
struct ScanArgs {
    /// Output format: table, wide, json, yaml, sarif (SARIF 2.1.0) or junit (JUnit XML)
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = clap::value_parser!(Format))]
    output: Format,
    #[command(flatten)]
    view: ViewArgs,
    /// Write the output to this file instead of stdout (atomically: a temporary file renamed
    /// over it; no colour)
    #[arg(long, value_name = "PATH")]
    output_file: Option<PathBuf>,
    /// Read objects from files instead of a cluster: YAML/JSON manifests, `kubectl get -o yaml`
    /// dumps, directories (recursive) or Harvester support bundle .zip files. Repeatable.
    #[arg(long = "from", value_name = "PATH")]
    from: Vec<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    /// Exit with 1 when a finding has at least this severity: error, warning, info or never
    #[arg(long, default_value = "error", value_parser = clap::value_parser!(FailOn))]
    fail_on: FailOn,
    /// Scan every context of the kubeconfig in turn: each report, then one row per cluster
    #[arg(long, conflicts_with_all = ["context", "from", "output_file"])]
    all_contexts: bool,
    /// Also publish the findings as wgpolicyk8s.io PolicyReports (and openreports.io Reports
    /// when served) in the scanned cluster; with -n only that namespace's report
    #[arg(long, conflicts_with_all = ["from", "all_contexts"])]
    policy_reports: bool,
    /// Also check what blocks or breaks an upgrade to this Harvester version (e.g. v1.8.0):
    /// runs the upgrade-readiness rule
    #[arg(long, value_name = "VERSION")]
    target_version: Option<String>,
    #[command(flatten)]
    extras: lint::ScanExtras,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct DumpArgs {
    /// Where to write: a new or empty directory, or a FILE.tar.gz
    #[arg(short = 'o', long = "output", value_name = "DIR|FILE.tar.gz")]
    output: PathBuf,
    /// Only list this namespace (the manifest says so; cluster-scoped kinds are still listed)
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// All namespaces (the default; accepted for kubectl habit)
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    all_namespaces: bool,
    /// Only list what these rules read (comma-separated ids)
    #[arg(long, value_delimiter = ',')]
    rules: Vec<String>,
    #[command(flatten)]
    kube: KubeArgs,
}

#[derive(Args)]
struct DescribeArgs {
    /// A rule id (see `rules`), or a finding's fingerprint (16 hex digits, from -o wide or -o json)
    #[arg(value_name = "RULE|FINGERPRINT")]
    target: String,
    /// The object: NAMESPACE/NAME, or NAME for a cluster-scoped one (with a rule id)
    #[arg(value_name = "NAMESPACE/NAME")]
    object: Option<String>,
    /// Output format: table (as kubectl describe), json or yaml
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = clap::value_parser!(Format))]
    output: Format,
    #[command(flatten)]
    view: ViewArgs,
    /// Read objects from files instead of a cluster (as for `scan`)
    #[arg(long = "from", value_name = "PATH")]
    from: Vec<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct FixCmd {
    /// Output format: table, wide, json or yaml
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = clap::value_parser!(Format))]
    output: Format,
    #[command(flatten)]
    view: ViewArgs,
    #[command(flatten)]
    fix: fix::FixArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Bounds on files input (`--from`): a file or member over one is an input error and skipped.
#[derive(Args)]
struct LimitArgs {
    /// Most bytes one file or support-bundle member may hold (inflated), as a quantity: 512Mi, 2Gi, 100M
    #[arg(long, value_name = "BYTES", default_value = "512Mi", value_parser = parse_bytes)]
    max_file_bytes: u64,
    /// Most bytes read across the whole --from input (files and inflated members)
    #[arg(long, value_name = "BYTES", default_value = "4Gi", value_parser = parse_bytes)]
    max_total_bytes: u64,
    /// Most bytes a zip member may inflate to per compressed byte (N or N:1); members up to 1Mi are exempt
    #[arg(long, value_name = "RATIO", default_value = "100", value_parser = parse_ratio)]
    max_zip_ratio: u64,
    /// The --from files hold every object of each kind they contain (e.g. `kubectl get KIND -A -o
    /// yaml` dumps): a kind seen in some namespaces counts as known in all
    #[arg(long)]
    assume_complete: bool,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_file_bytes,
            max_total_bytes: self.max_total_bytes,
            max_zip_ratio: self.max_zip_ratio,
            assume_complete: self.assume_complete,
        }
    }
}

/// A byte count as a Kubernetes quantity (`512Mi`, `4Gi`, `100M`, `1000`), at least one byte.
fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a size in bytes like 512Mi, 4Gi or 100M");
    let milli = harvester_hygiene::quantity::parse_milli(s).ok_or_else(bad)?;
    if milli % 1000 != 0 {
        return Err(bad());
    }
    match u64::try_from(milli / 1000) {
        Ok(0) => Err(format!("{s:?}: must be at least one byte")),
        Ok(n) => Ok(n),
        Err(_) => Err(bad()),
    }
}

/// `100` or `100:1`, at least 1.
fn parse_ratio(s: &str) -> Result<u64, String> {
    let n = s.trim().strip_suffix(":1").unwrap_or(s.trim());
    match n.parse::<u64>() {
        Ok(r) if r >= 1 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a compression ratio like 100 or 100:1 (at least 1)"
        )),
    }
}

/// Flags `scan` and `fix` share.
#[derive(Args)]
struct CommonArgs {
    /// Only list and report objects in this namespace (default: all namespaces)
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Scan all namespaces (the default; accepted for kubectl habit)
    #[arg(short = 'A', long = "all-namespaces", conflicts_with = "namespace")]
    all_namespaces: bool,
    /// Harvester version to assume (e.g. v1.4.1, v1.4.2-rc2, v1.4-head), overriding the server-version Setting
    #[arg(long, value_name = "VERSION")]
    harvester_version: Option<String>,
    /// Run only these rules (comma-separated ids; see `rules`)
    #[arg(long, value_delimiter = ',')]
    rules: Vec<String>,
    /// Do not run these rules (comma-separated ids); with --rules, removed from that list
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    exclude_rules: Vec<String>,
    /// Do not report findings in these namespaces: names or globs, comma-separated
    /// (`kube-*,cattle-*`); added to the policy file's namespaces.exclude
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    exclude_namespaces: Vec<String>,
    /// Policy file: enable/disable rules, severities, namespaces, grace periods, exemptions
    #[arg(long, value_name = "PATH", env = "HARVESTER_HYGIENE_CONFIG")]
    config: Option<PathBuf>,
    /// The cluster's name in the report (live scans; default: the kubeconfig context, else the
    /// kube-system namespace's UID)
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,
    #[command(flatten)]
    openstack: OpenstackArgs,
    #[command(flatten)]
    kube: KubeArgs,
}

/// Opt-in OpenStack access for `import-openstack-leak`.
#[derive(Args)]
struct OpenstackArgs {
    /// Read the credentials Secret of each OpenstackSource that an OpenStack import uses and list
    /// the project's leftover import-controller snapshots, volumes and images (needs get on those
    /// Secrets; live clusters only)
    #[arg(long)]
    openstack: bool,
    /// Skip TLS verification of OpenStack endpoints whose Secret has no ca_cert (as the
    /// vm-import-controller does); off by default
    #[arg(long, requires = "openstack")]
    openstack_insecure: bool,
    /// Also inspect OpenstackSources no import uses and count leftovers whose import no longer
    /// exists in this cluster (another cluster may share the project: check before deleting)
    #[arg(long, requires = "openstack")]
    openstack_without_import: bool,
}

/// kubectl's connection flags.
#[derive(Args)]
struct KubeArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use
    #[arg(long)]
    context: Option<String>,
    /// Username to impersonate
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
    /// Group to impersonate (repeatable)
    #[arg(long = "as-group", value_name = "GROUP")]
    as_group: Vec<String>,
    /// Timeout of each API request, e.g. 30s or 2m (0: none)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    request_timeout: Option<Duration>,
    /// Items per list request (pagination), as kubectl's --chunk-size
    #[arg(long, default_value_t = 500)]
    chunk_size: u32,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    harvester_hygiene::config::parse_duration_flag(s)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Version => {
            println!(
                "kubectl-harvester-hygiene {} (report {})",
                env!("CARGO_PKG_VERSION"),
                report::API_VERSION
            );
            ExitStatus::Ok
        }
        Command::Rules => {
            let w = rules::REGISTRY.iter().map(|r| r.id().len()).max().unwrap_or(4);
            println!("{:<w$}  {:<8}  SUMMARY", "RULE", "SEVERITY");
            for r in rules::REGISTRY {
                println!("{:<w$}  {:<8}  {}", r.id(), r.default_severity().as_str(), r.summary());
            }
            ExitStatus::Ok
        }
        Command::Explain { rule } => explain(&rule),
        Command::Scan(args) => run_scan(*args),
        Command::Fix(args) => run_fix(*args),
        Command::Describe(args) => describe::run(*args),
        Command::Dump(args) => run_dump(*args),
        Command::Lint(args) => lint::run(*args),
        Command::Report(args) => fleet::run_report(*args),
    };
    ExitCode::from(code)
}

fn explain(id: &str) -> ExitStatus {
    let Some(rule) = rules::find(id) else {
        eprintln!(
            "error: unknown rule {id:?}; known rules: {}",
            rules::REGISTRY.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
        );
        return ExitStatus::Usage;
    };
    let e = rule.explain();
    println!(
        "{} ({} by default)\n{}\n",
        rule.id(),
        rule.default_severity(),
        rule.summary()
    );
    println!("Why:\n{}\n", textwrap(e.why));
    println!("Affected versions: {}\n", e.affected);
    println!("Upstream: {}\n", e.upstream.join(", "));
    println!("Remediation:\n{}", textwrap(e.remediation));
    let options = rule.option_names();
    if !options.is_empty() {
        println!(
            "\nConfig options (rules.{}): enabled, severity, {}",
            rule.id(),
            options.join(", ")
        );
    }
    ExitStatus::Ok
}

/// Fold whitespace and wrap at 100 columns, indented by two.
fn textwrap(s: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in s.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + w.len() > 98 {
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    out.push_str("  ");
    out.push_str(&line);
    out
}

/// Exit code for a library error: unreachable cluster 3, anything else 2.
fn error_code(e: &Error) -> ExitStatus {
    match e {
        Error::Unreachable(_) => ExitStatus::Incomplete,
        _ => ExitStatus::Usage,
    }
}

/// Scan options from the shared flags (`from`: files input).
fn scan_options(
    common: CommonArgs,
    from: Vec<PathBuf>,
    limits: Limits,
    p: &mut Printer,
) -> Result<ScanOptions, ExitStatus> {
    let mut config = match &common.config {
        Some(path) => harvester_hygiene::scan::load_config(path).map_err(|e| {
            p.error(&e.to_string());
            ExitStatus::Usage
        })?,
        None => Config::default(),
    };
    for glob in &common.exclude_namespaces {
        let glob = glob.trim();
        if !glob.is_empty() {
            config.namespaces.exclude.insert(glob.to_string());
        }
    }
    let mut selected = common.rules.clone();
    if !common.exclude_rules.is_empty() {
        for id in &common.exclude_rules {
            if rules::find(id).is_none() {
                p.error(&format!(
                    "--exclude-rules: unknown rule {id:?}; known rules: {}",
                    rules::REGISTRY.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
                ));
                return Err(ExitStatus::Usage);
            }
        }
        if selected.is_empty() {
            selected = rules::REGISTRY.iter().map(|r| r.id().to_string()).collect();
        }
        selected.retain(|id| !common.exclude_rules.contains(id));
        if selected.is_empty() {
            p.error("--exclude-rules leaves no rule to run");
            return Err(ExitStatus::Usage);
        }
    }
    let os = &common.openstack;
    if os.openstack_without_import {
        config
            .rules
            .entry(import_openstack_leak::ID.into())
            .or_default()
            .options
            .insert("withoutImport".into(), true.into());
    }
    let openstack = os.openstack.then(|| harvester_hygiene::openstack::Options {
        insecure: os.openstack_insecure,
        without_import: harvester_hygiene::rules::options::<import_openstack_leak::Options>(
            &config,
            import_openstack_leak::ID,
        )
        .without_import,
    });
    let input = if from.is_empty() {
        Input::Live(live_options(common.kube, common.cluster_name))
    } else {
        Input::Files(from)
    };
    Ok(ScanOptions {
        input,
        namespace: common.namespace,
        harvester_version: common.harvester_version,
        rules: selected,
        config,
        now: None,
        openstack,
        limits,
        target_version: None,
    })
}

fn runtime(p: &mut Printer) -> Result<tokio::runtime::Runtime, ExitStatus> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            p.error(&format!("cannot start the async runtime: {e}"));
            ExitStatus::Usage
        })
}

fn live_options(kube: KubeArgs, cluster_name: Option<String>) -> LiveOptions {
    LiveOptions {
        cluster_name,
        name_from_context: true,
        kubeconfig: kube.kubeconfig,
        context: kube.context,
        impersonate: kube.as_user,
        impersonate_groups: kube.as_group,
        request_timeout: kube.request_timeout.filter(|d| !d.is_zero()),
        page_size: kube.chunk_size.max(1),
    }
}

fn run_dump(args: DumpArgs) -> ExitStatus {
    use harvester_hygiene::dump::{DumpOptions, dump};
    let mut p = Printer::stdio(ColorChoice::Auto);
    let opts = DumpOptions {
        live: live_options(args.kube, None),
        namespace: args.namespace,
        rules: args.rules,
        output: args.output,
    };
    let rt = match runtime(&mut p) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let summary = match rt.block_on(dump(&opts)) {
        Ok(s) => s,
        Err(e) => {
            p.error(&e.to_string());
            return error_code(&e);
        }
    };
    let m = &summary.manifest;
    p.line(&format!(
        "wrote {}: {} objects of {} kinds from {} (Harvester {}{})",
        summary.path.display(),
        summary.objects(),
        m.kinds.len(),
        m.cluster.server,
        m.harvester_version.as_deref().unwrap_or("unknown"),
        m.namespace
            .as_ref()
            .map(|n| format!(", namespace {n} only"))
            .unwrap_or_default()
    ));
    let incomplete = summary.incomplete();
    for k in &incomplete {
        p.warn(&format!(
            "not listed completely: {}: {}",
            k.kind,
            k.message.as_deref().unwrap_or("unknown reason")
        ));
    }
    p.line(&format!(
        "scan it with: kubectl harvester-hygiene scan --from {}",
        summary.path.display()
    ));
    p.flush();
    if incomplete.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::Incomplete
    }
}

fn run_fix(args: FixCmd) -> ExitStatus {
    let mut p = Printer::stdio(args.view.color);
    let opts = match scan_options(args.common, Vec::new(), Limits::default(), &mut p) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let rt = match runtime(&mut p) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let code = rt.block_on(fix::run(opts, args.fix, args.output, &mut p));
    p.flush();
    code
}

fn run_scan(args: ScanArgs) -> ExitStatus {
    let limits = args.limits.limits();
    let mut p = Printer::stdio(args.view.color);
    let kubeconfig = args.common.kube.kubeconfig.clone();
    let mut opts = match scan_options(args.common, args.from, limits, &mut p) {
        Ok(o) => o,
        Err(code) => return code,
    };
    opts.target_version = args.target_version;
    if args.all_contexts {
        let mut render = report::RenderOptions::new(p.term);
        render.fail_on = args.fail_on;
        render.rules = harvester_hygiene::scan::rule_help();
        return fleet::scan_all(&opts, kubeconfig.as_ref(), args.output, &render, args.fail_on, &mut p);
    }
    let rt = match runtime(&mut p) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let (report, gathered) = match rt.block_on(lint::scan_with(&opts, &args.extras)) {
        Ok(r) => r,
        Err(e) => {
            p.error(&e.to_string());
            return error_code(&e);
        }
    };
    let published = match (args.policy_reports, &gathered.client, &report.cluster) {
        (true, Some(client), Some(cluster)) => {
            let out = rt.block_on(harvester_hygiene::publish::publish_policy_reports(
                client,
                &report,
                cluster,
                opts.namespace.as_deref(),
            ));
            for note in &out.skipped {
                p.warn(&format!("policy reports skipped: {note}"));
            }
            for e in &out.errors {
                p.error(&format!("policy reports: {e}"));
            }
            if !out.written.is_empty() {
                p.warn(&format!(
                    "policy reports: {} written, {} stale deleted ({})",
                    out.reports,
                    out.deleted,
                    out.written.join(", ")
                ));
            }
            out.errors.is_empty()
        }
        _ => true,
    };
    if let Err(code) = emit(&mut p, &report, args.output, args.output_file.as_deref(), args.fail_on) {
        return code;
    }
    p.flush();
    if !published {
        return ExitStatus::Incomplete;
    }
    report::exit_code(&report, args.fail_on)
}

/// Render `report` to stdout or `--output-file` (written atomically, no colour), then, unless
/// the table on the terminal already said so, coverage gaps and skipped input on stderr. `scan`
/// and `lint` share it.
pub(crate) fn emit(
    p: &mut Printer,
    report: &report::Report,
    output: Format,
    output_file: Option<&std::path::Path>,
    fail_on: FailOn,
) -> Result<(), ExitStatus> {
    let mut render = report::RenderOptions::new(p.term);
    render.fail_on = fail_on;
    render.rules = harvester_hygiene::scan::rule_help();
    match output_file {
        Some(path) => {
            // A file gets no colour, and the width COLUMNS gives (else 80).
            render.term = report::Terminal::decide(ColorChoice::Never, false, None, |k| std::env::var(k).ok());
            let mut buf = Vec::new();
            if let Err(e) = report::render(report, output, &render, &mut buf) {
                p.error(&e.to_string());
                return Err(ExitStatus::Usage);
            }
            if let Err(e) = report::write_atomic(path, &buf) {
                p.error(&format!("--output-file {}: {e}", path.display()));
                return Err(ExitStatus::Usage);
            }
        }
        None => {
            if let Err(e) = p.report_with(report, output, render) {
                p.error(&e.to_string());
                return Err(ExitStatus::Usage);
            }
        }
    }
    if !matches!(output, Format::Table | Format::Wide) || output_file.is_some() {
        for gap in &report.incomplete {
            p.warn(&format!("incomplete: {}: {}", gap.kind, gap.message));
        }
        for e in &report.input_errors {
            p.warn(&format!(
                "skipped {}{}: {}",
                e.source,
                e.object.as_deref().map(|o| format!(" {o}")).unwrap_or_default(),
                e.reason
            ));
        }
    }
    Ok(())
}
