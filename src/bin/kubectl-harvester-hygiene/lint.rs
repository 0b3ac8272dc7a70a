//! `lint` (files before they reach a cluster) and the opt-in evidence flags `scan` shares with
//! it: `--probe-urls` and `--rancher-kubeconfig`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use harvester_hygiene::config::Config;
use harvester_hygiene::inventory::files::Limits;
use harvester_hygiene::inventory::kinds::VirtualMachineImage;
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::lint::{LintOptions, lint};
use harvester_hygiene::report::{self, ColorChoice, ExitStatus, FailOn, Format, Printer, Report};
use harvester_hygiene::scan::{self, ScanOptions};
use harvester_hygiene::{Error, probe, rancher};

/// `--probe-urls`: proof for moving URLs (scan and lint).
#[derive(Args, Clone)]
pub struct ProbeArgs {
    /// Send one HEAD request per distinct image URL (GET of one byte where HEAD is refused) and
    /// compare Last-Modified, ETag and Content-Length with each image's import time and size.
    /// Honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY. Off by default
    #[arg(long)]
    pub probe_urls: bool,
    /// Timeout of each probe request, e.g. 10s
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, requires = "probe_urls")]
    pub probe_timeout: Duration,
    /// Probe requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 4, requires = "probe_urls")]
    pub probe_concurrency: usize,
}

impl ProbeArgs {
    pub fn options(&self) -> Option<probe::Options> {
        self.probe_urls.then(|| probe::Options {
            timeout: self.probe_timeout,
            concurrency: self.probe_concurrency.max(1),
            ..probe::Options::default()
        })
    }
}

/// `--rancher-kubeconfig`: proof for orphaned guest-cluster PVCs (scan).
#[derive(Args, Clone)]
pub struct RancherArgs {
    /// A kubeconfig for Rancher's local cluster (read-only: lists provisioning.cattle.io
    /// Clusters and rke-machine.cattle.io HarvesterMachines)
    #[arg(long, value_name = "PATH")]
    pub rancher_kubeconfig: Option<PathBuf>,
    /// The context of --rancher-kubeconfig to use
    #[arg(long, value_name = "NAME", requires = "rancher_kubeconfig")]
    pub rancher_context: Option<String>,
    /// A kubeconfig of one guest cluster, to read its PersistentVolumes (CLUSTER=PATH,
    /// repeatable); without it Rancher's proxy is used when --rancher-kubeconfig points at it
    #[arg(long, value_name = "CLUSTER=PATH", value_parser = parse_guest, requires = "rancher_kubeconfig")]
    pub guest_kubeconfig: Vec<(String, PathBuf)>,
}

fn parse_guest(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((c, p)) if !c.is_empty() && !p.is_empty() => Ok((c.to_string(), PathBuf::from(p))),
        _ => Err(format!("{s:?} is not CLUSTER=PATH")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    harvester_hygiene::config::parse_duration_flag(s)
}

impl RancherArgs {
    pub fn options(&self, timeout: Option<Duration>) -> Option<rancher::Options> {
        self.rancher_kubeconfig.as_ref().map(|k| rancher::Options {
            kubeconfig: k.clone(),
            context: self.rancher_context.clone(),
            guest_kubeconfigs: self.guest_kubeconfig.iter().cloned().collect::<BTreeMap<_, _>>(),
            request_timeout: timeout,
        })
    }
}

/// The evidence flags of `scan`.
#[derive(Args, Clone)]
pub struct ScanExtras {
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub rancher: RancherArgs,
}

/// `scan`, with the opt-in evidence gathered before the rules run.
pub async fn scan_with(opts: &ScanOptions, extras: &ScanExtras) -> Result<(Report, scan::Gathered), Error> {
    let probe = extras.probe.options();
    let timeout = match &opts.input {
        scan::Input::Live(lo) => lo.request_timeout,
        scan::Input::Files(_) => None,
    };
    let rancher = extras.rancher.options(timeout);
    if probe.is_none() && rancher.is_none() {
        return scan::scan_keep(opts).await;
    }
    let mut g = scan::gather(opts).await?;
    if let Some(po) = &probe {
        let urls: Vec<String> = g
            .inv
            .objects::<VirtualMachineImage>()
            .iter()
            .filter(|i| i.spec.source_type.eq_ignore_ascii_case("download") && !i.spec.url.is_empty())
            .map(|i| i.spec.url.to_string())
            .collect();
        g.inv.url_probes = Some(probe::probe_all(&urls, po).await);
    }
    if let Some(ro) = &rancher {
        g.inv.rancher = Some(rancher::gather(ro).await);
    }
    let now = scan::clock(opts, &g.inv);
    let mut report = scan::judge_for(&g.inv, &g.rules, &opts.config, now, g.source.clone(), g.target.as_ref());
    report.cluster = g.cluster.clone();
    rancher::add_gaps(&mut report, &g.inv);
    Ok((report, g))
}

#[derive(Args)]
pub struct LintArgs {
    /// Files or directories to lint (YAML/JSON manifests, Terraform plans from `terraform show
    /// -json`); `-` reads stdin (e.g. `kustomize build . | kubectl harvester-hygiene lint -`)
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Output format: table, wide, json, yaml, sarif (SARIF 2.1.0) or junit (JUnit XML)
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = clap::value_parser!(Format))]
    output: Format,
    /// Colours: auto, always or never
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = clap::value_parser!(ColorChoice))]
    color: ColorChoice,
    /// Write the output to this file instead of stdout (atomically; no colour)
    #[arg(long, value_name = "PATH")]
    output_file: Option<PathBuf>,
    /// Exit with 1 when a finding has at least this severity: error, warning, info or never
    #[arg(long, default_value = "error", value_parser = clap::value_parser!(FailOn))]
    fail_on: FailOn,
    /// Harvester version to assume (else the cluster's, with --against-cluster; else unknown)
    #[arg(long, value_name = "VERSION")]
    harvester_version: Option<String>,
    /// Also read the live cluster: names already used there, its quotas, its version
    #[arg(long)]
    against_cluster: bool,
    /// Path to the kubeconfig file (with --against-cluster)
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (with --against-cluster)
    #[arg(long)]
    context: Option<String>,
    /// Run only these rules: image-name-collision, image-mutable-url, vm-name-breaks-migration
    #[arg(long, value_delimiter = ',')]
    rules: Vec<String>,
    /// Policy file (as for scan)
    #[arg(long, value_name = "PATH", env = "HARVESTER_HYGIENE_CONFIG")]
    config: Option<PathBuf>,
    /// Most bytes one input file may hold
    #[arg(long, value_name = "BYTES", default_value = "512Mi", value_parser = parse_bytes)]
    max_file_bytes: u64,
    #[command(flatten)]
    probe: ProbeArgs,
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a size in bytes like 512Mi, 4Gi or 100M");
    let milli = harvester_hygiene::quantity::parse_milli(s).ok_or_else(bad)?;
    u64::try_from(milli / 1000).ok().filter(|n| *n > 0).ok_or_else(bad)
}

pub fn run(args: LintArgs) -> ExitStatus {
    let mut p = Printer::stdio(args.color);
    let config = match &args.config {
        Some(path) => match scan::load_config(path) {
            Ok(c) => c,
            Err(e) => {
                p.error(&e.to_string());
                return ExitStatus::Usage;
            }
        },
        None => Config::default(),
    };
    let opts = LintOptions {
        paths: args.paths.clone(),
        harvester_version: args.harvester_version.clone(),
        against: args.against_cluster.then(|| LiveOptions {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
            impersonate: None,
            impersonate_groups: Vec::new(),
            request_timeout: None,
            page_size: 500,
            ..Default::default()
        }),
        rules: args.rules.clone(),
        config,
        probe: args.probe.options(),
        limits: Limits {
            max_file_bytes: args.max_file_bytes,
            ..Limits::default()
        },
        now: None,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            p.error(&format!("cannot start the async runtime: {e}"));
            return ExitStatus::Usage;
        }
    };
    let report = match rt.block_on(lint(&opts)) {
        Ok(r) => r,
        Err(e) => {
            p.error(&e.to_string());
            return match e {
                Error::Unreachable(_) => ExitStatus::Incomplete,
                _ => ExitStatus::Usage,
            };
        }
    };
    if let Err(code) = crate::emit(&mut p, &report, args.output, args.output_file.as_deref(), args.fail_on) {
        return code;
    }
    p.flush();
    report::exit_code(&report, args.fail_on)
}
