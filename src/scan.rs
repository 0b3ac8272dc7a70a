//! One scan: gather the inventory the selected rules need, run them, build the report.
//! Shared by the plugin and the in-cluster job.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION};
use crate::error::{Error, Result};
use crate::finding::Finding;
use crate::inventory::kinds::{self, Setting, setting::SERVER_VERSION};
use crate::inventory::live::{self, LiveOptions};
use crate::inventory::{Coverage, Gap, Incomplete, Inventory, Kind, KindInfo, KindOps, VersionSource, files};
use crate::report::{API_VERSION, Exempted, Report, RuleRun, RuleStatus, Source, SourceKind, Summary};
use crate::rules::{self, Context, Rule, Severity};
use crate::version::Version;

/// Where the objects come from.
#[derive(Debug, Clone)]
pub enum Input {
    Live(LiveOptions),
    Files(Vec<PathBuf>),
}

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub input: Input,
    /// `-n`: list and report only this namespace.
    pub namespace: Option<String>,
    /// `--harvester-version`: overrides the detected version.
    pub harvester_version: Option<String>,
    /// `--rules`: run only these rule ids (all when empty).
    pub rules: Vec<String>,
    /// `--config`: rule settings, namespace filter, exemptions.
    pub config: Config,
    /// The clock for ages and grace periods (now when `None`; tests pin it).
    pub now: Option<jiff::Timestamp>,
    /// `--openstack`: also list the OpenStack projects of OpenStack imports (live only).
    pub openstack: Option<crate::openstack::Options>,
    /// `--max-file-bytes`, `--max-total-bytes`, `--max-zip-ratio`: bounds on files input.
    pub limits: files::Limits,
    /// `--target-version`: also judge what blocks or breaks an upgrade to this version (rules
    /// with [`Rule::needs_target`] run only with it).
    pub target_version: Option<String>,
}

impl ScanOptions {
    pub fn files(paths: Vec<PathBuf>) -> Self {
        ScanOptions {
            input: Input::Files(paths),
            namespace: None,
            harvester_version: None,
            rules: Vec::new(),
            config: Config::default(),
            now: None,
            openstack: None,
            limits: files::Limits::default(),
            target_version: None,
        }
    }
}

/// Load and validate a policy file (`--config`): syntax, rule ids and each rule's options.
pub fn load_config(path: &std::path::Path) -> Result<Config> {
    let c = Config::load(path)?;
    rules::validate_config(&c).map_err(|reason| Error::Usage {
        what: format!("--config {}", path.display()),
        reason,
    })?;
    Ok(c)
}

/// The rules `ids` names (all when empty); an unknown id is a usage error.
pub fn select_rules(ids: &[String]) -> Result<Vec<&'static dyn Rule>> {
    if ids.is_empty() {
        return Ok(rules::REGISTRY.to_vec());
    }
    ids.iter()
        .map(|id| {
            rules::find(id).ok_or_else(|| Error::Usage {
                what: "--rules".into(),
                reason: format!(
                    "unknown rule {id:?}; known rules: {}",
                    rules::REGISTRY.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
                ),
            })
        })
        .collect()
}

/// Every rule's help text for renderers that carry it (`-o sarif`).
pub fn rule_help() -> Vec<crate::report::RuleHelp> {
    rules::REGISTRY
        .iter()
        .map(|r| {
            let e = r.explain();
            crate::report::RuleHelp {
                id: r.id().to_string(),
                summary: r.summary().to_string(),
                why: e.why.split_whitespace().collect::<Vec<_>>().join(" "),
                remediation: e.remediation.split_whitespace().collect::<Vec<_>>().join(" "),
                upstream: e.upstream.iter().map(|u| u.to_string()).collect(),
            }
        })
        .collect()
}

/// The registered kinds the rules read, plus the Setting for the version: exactly what a
/// live scan lists (and what the shipped read-only ClusterRole must grant).
pub fn kinds_for(selected: &[&dyn Rule]) -> Vec<&'static dyn KindOps> {
    kinds::REGISTRY
        .iter()
        .copied()
        .filter(|ops| {
            ops.info().same(&Setting::INFO) || selected.iter().any(|r| r.needs().iter().any(|n| n.same(ops.info())))
        })
        .collect()
}

/// What a scan gathered, before judging: `fix` keeps it to plan and re-check actions.
pub struct Gathered {
    pub inv: Inventory,
    pub source: Source,
    pub rules: Vec<&'static dyn Rule>,
    /// The client of a live scan.
    pub client: Option<kube::Client>,
    /// Which cluster (live scans, or files input with a `--cluster-name`).
    pub cluster: Option<crate::report::Cluster>,
    /// `--target-version`, parsed.
    pub target: Option<Version>,
}

/// Parse `--target-version`.
pub fn parse_target(raw: Option<&str>) -> Result<Option<Version>> {
    raw.map(|v| {
        Version::parse(v).ok_or_else(|| Error::Usage {
            what: "--target-version".into(),
            reason: format!("{v:?} is not a version like v1.6.1, v1.8.0-rc2 or v1.8-head"),
        })
    })
    .transpose()
}

/// Whether `rule` runs in a scan with (or without) a target version.
pub fn rule_runs(rule: &dyn Rule, target: Option<&Version>) -> bool {
    !rule.needs_target() || target.is_some()
}

/// Gather the inventory the selected rules need (live or from files) and the version.
pub async fn gather(opts: &ScanOptions) -> Result<Gathered> {
    let selected = select_rules(&opts.rules)?;
    let target = parse_target(opts.target_version.as_deref())?;
    // Rules named explicitly that all need a target would run nothing.
    if target.is_none() && !opts.rules.is_empty() && selected.iter().all(|r| r.needs_target()) {
        return Err(Error::Usage {
            what: "--rules".into(),
            reason: format!(
                "{} runs only with --target-version",
                selected.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let flag_version = match &opts.harvester_version {
        Some(v) => Some(Version::parse(v).ok_or_else(|| Error::Usage {
            what: "--harvester-version".into(),
            reason: format!("{v:?} is not a version like v1.6.1, v1.4.2-rc2 or v1.4-head"),
        })?),
        None => None,
    };
    let (mut inv, mut source, client, cluster) = match &opts.input {
        Input::Files(paths) => {
            if opts.openstack.is_some() {
                return Err(Error::Usage {
                    what: "--openstack".into(),
                    reason: "needs a live cluster (the OpenstackSource Secrets are read from it), not --from".into(),
                });
            }
            let mut inv = Inventory::new(opts.namespace.clone(), true);
            files::load_with(&mut inv, paths, opts.limits)?;
            let source = Source {
                paths: paths.iter().map(|p| p.display().to_string()).collect(),
                captured_at: inv.captured_at.map(|t| t.to_string()),
                ..new_source(SourceKind::Files, opts)
            };
            (inv, source, None, None)
        }
        Input::Live(lo) => {
            let (client, cluster) = live::connect(lo).await?;
            let identity = cluster_identity(&client, lo, cluster.effective_context.as_deref()).await;
            let mut inv = Inventory::new(opts.namespace.clone(), false);
            let page = if lo.page_size == 0 { 500 } else { lo.page_size };
            let running: Vec<&dyn Rule> = selected
                .iter()
                .copied()
                .filter(|r| rule_runs(*r, target.as_ref()))
                .collect();
            live::gather(&client, &mut inv, &kinds_for(&running), page).await;
            if let Some(oo) = &opts.openstack
                && selected.iter().any(|r| r.id() == rules::import_openstack_leak::ID)
            {
                inv.openstack = Some(crate::openstack::gather(&client, &inv, oo).await);
            }
            let source = new_source(SourceKind::Live, opts);
            let source = Source {
                server: Some(cluster.server),
                context: cluster.context,
                kubernetes_version: cluster.kubernetes_version,
                ..source
            };
            (inv, source, Some(client), Some(identity))
        }
    };
    set_version(&mut inv, flag_version);
    source.harvester_version_source = inv.version_source;
    source.target_version = target.as_ref().map(ToString::to_string);
    Ok(Gathered {
        inv,
        source,
        rules: selected,
        client,
        cluster,
        target,
    })
}

/// The UID of the `kube-system` namespace (needs `get` on it; `None` when it cannot be read),
/// and the cluster's name: `--cluster-name`, else (the plugin) the kubeconfig context, else
/// the UID. Harvester itself keeps no cluster name: its Settings (harvester/harvester
/// `pkg/settings/settings.go`, v1.6.0) hold the Rancher registration URL and `rancher-cluster`
/// options, and the name a person gave the cluster lives only in Rancher.
async fn cluster_identity(client: &kube::Client, lo: &LiveOptions, context: Option<&str>) -> crate::report::Cluster {
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let uid = api
        .get_opt("kube-system")
        .await
        .ok()
        .flatten()
        .and_then(|ns| ns.metadata.uid);
    let context = if lo.name_from_context { context } else { None };
    crate::report::Cluster::new(lo.cluster_name.as_deref(), context, uid)
}

/// Gather, judge and report.
pub async fn scan(opts: &ScanOptions) -> Result<Report> {
    Ok(scan_keep(opts).await?.0)
}

/// Gather, judge and report, and keep what was gathered (a live scan's client: the plugin's
/// `--policy-reports` publishes with it).
pub async fn scan_keep(opts: &ScanOptions) -> Result<(Report, Gathered)> {
    let g = gather(opts).await?;
    let mut report = judge_for(
        &g.inv,
        &g.rules,
        &opts.config,
        clock(opts, &g.inv),
        g.source.clone(),
        g.target.as_ref(),
    );
    report.cluster = g.cluster.clone();
    Ok((report, g))
}

fn new_source(kind: SourceKind, opts: &ScanOptions) -> Source {
    Source {
        kind,
        server: None,
        context: None,
        kubernetes_version: None,
        paths: Vec::new(),
        namespace: opts.namespace.clone(),
        harvester_version_source: VersionSource::Unknown,
        generated_at: jiff::Timestamp::now().to_string(),
        captured_at: None,
        target_version: None,
        tool: format!("harvester-hygiene {}", env!("CARGO_PKG_VERSION")),
    }
}

/// The flag wins; else the `server-version` Setting.
pub fn set_version(inv: &mut Inventory, flag: Option<Version>) {
    if let Some(v) = flag {
        inv.harvester_version_raw = Some(v.to_string());
        inv.harvester_version = Some(v);
        inv.version_source = VersionSource::Flag;
        return;
    }
    let raw = inv
        .objects::<Setting>()
        .iter()
        .find(|s| s.metadata.name == SERVER_VERSION)
        .map(|s| {
            if s.value.is_empty() {
                s.default.clone()
            } else {
                s.value.clone()
            }
        })
        .filter(|v| !v.is_empty());
    if let Some(raw) = raw {
        inv.harvester_version = Version::parse(&raw);
        inv.version_source = if inv.harvester_version.is_some() {
            VersionSource::Setting
        } else {
            VersionSource::Unknown
        };
        inv.harvester_version_raw = Some(raw.to_string());
    }
}

/// The scan's clock: pinned (tests), else when the dump was taken, else now.
pub fn clock(opts: &ScanOptions, inv: &Inventory) -> jiff::Timestamp {
    opts.now.or(inv.captured_at).unwrap_or_else(jiff::Timestamp::now)
}

/// Run `selected` over `inv` and build the report (no target version).
pub fn judge(inv: &Inventory, selected: &[&dyn Rule], config: &Config, now: jiff::Timestamp, source: Source) -> Report {
    judge_for(inv, selected, config, now, source, None)
}

/// Run `selected` over `inv` and build the report; `target` is `--target-version` (rules with
/// [`Rule::needs_target`] run only with it).
pub fn judge_for(
    inv: &Inventory,
    selected: &[&dyn Rule],
    config: &Config,
    now: jiff::Timestamp,
    source: Source,
    target: Option<&Version>,
) -> Report {
    let ctx = Context {
        inv,
        config,
        now,
        target,
    };
    let mut findings = Vec::new();
    let mut exempted = Vec::new();
    let mut runs = Vec::new();
    for rule in selected {
        let (run, kept, exempt) = run_rule(&ctx, *rule);
        runs.push(run);
        findings.extend(kept);
        exempted.extend(exempt);
    }
    let order: BTreeMap<&str, usize> = selected.iter().enumerate().map(|(i, r)| (r.id(), i)).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| order.get(a.rule.as_str()).cmp(&order.get(b.rule.as_str())))
            .then_with(|| a.object.namespace.cmp(&b.object.namespace))
            .then_with(|| a.object.name.cmp(&b.object.name))
    });
    let active: Vec<&dyn Rule> = selected
        .iter()
        .copied()
        .filter(|r| config.enabled(r.id()) && rule_runs(*r, target))
        .collect();
    let incomplete = incomplete_entries(inv, &active);
    let summary = summarize(inv, &active, &findings, exempted.len());
    let mut report = Report {
        api_version: API_VERSION,
        kind: "Report",
        harvester_version: inv
            .harvester_version
            .as_ref()
            .map(ToString::to_string)
            .or(inv.harvester_version_raw.clone()),
        source,
        findings,
        summary,
        incomplete,
        rules: runs,
        input_errors: inv.input_errors.clone(),
        exempted,
        actions: None,
        cluster: None,
    };
    let blocking = report.blocking_gaps().next().is_some();
    report.summary.incomplete = blocking;
    report
}

/// One rule: its run row, the findings it reports (scoped, severity applied) and the ones an
/// annotation exempts.
fn run_rule(ctx: &Context<'_>, rule: &dyn Rule) -> (RuleRun, Vec<Finding>, Vec<Exempted>) {
    let (inv, config) = (ctx.inv, ctx.config);
    let mut run = RuleRun {
        id: rule.id().to_string(),
        summary: rule.summary().to_string(),
        fixable: crate::remedy::fixable(rule.id()),
        severity: rule.default_severity(),
        status: RuleStatus::Disabled,
        notes: vec!["disabled in the config".into()],
        findings: 0,
        objects_checked: 0,
    };
    if !config.enabled(rule.id()) {
        return (run, Vec::new(), Vec::new());
    }
    if !rule_runs(rule, ctx.target) {
        run.notes = vec!["runs only with --target-version".into()];
        return (run, Vec::new(), Vec::new());
    }
    let outcome = rule.check(ctx);
    let primary_unknown = rule
        .needs()
        .first()
        .is_some_and(|k| *inv.coverage_of(k) == Coverage::Unknown);
    let partial = rule.needs().iter().any(|k| !inv.covers_all(k));
    run.status = if primary_unknown {
        RuleStatus::Skipped
    } else if partial || !outcome.notes.is_empty() {
        RuleStatus::Partial
    } else {
        RuleStatus::Complete
    };
    run.severity = config
        .rule(rule.id())
        .and_then(|c| c.severity)
        .unwrap_or(rule.default_severity());
    run.notes = outcome.notes;
    run.objects_checked = rule.needs().first().map_or(0, |k| inv.count_of(k));
    // An optional add-on that is not installed: full coverage (nothing of it exists), said.
    for k in rule.needs() {
        if inv.not_installed.contains(&crate::inventory::key(k)) {
            run.notes.push(format!(
                "{} is not installed (optional add-on): nothing of it to check",
                k.qualified()
            ));
        }
    }
    let mut kept = Vec::new();
    let mut exempted = Vec::new();
    for mut f in outcome.findings {
        if !inv.in_scope(f.object.namespace.as_deref()) || !config.reports_namespace(f.object.namespace.as_deref()) {
            continue;
        }
        // A severity override replaces the default; findings the rule escalated or lowered
        // keep theirs.
        if f.severity == rule.default_severity() {
            f.severity = run.severity;
        }
        match f.exemption.clone() {
            Some(ex) if config.exemptions.annotations && ex.covers(&f.rule) => match ex.reason {
                Some(reason) => {
                    exempted.push(Exempted { finding: f, reason });
                    continue;
                }
                None => f.message.push_str(&format!(
                    " (The object's {IGNORE_ANNOTATION} annotation is not honoured: it needs a {IGNORE_REASON_ANNOTATION} annotation.)"
                )),
            },
            _ => {}
        }
        if f.origin.is_none() {
            f.origin = inv.origin_of(&f.object);
        }
        kept.push(f);
    }
    run.findings = kept.len();
    (run, kept, exempted)
}

fn summarize(inv: &Inventory, active: &[&dyn Rule], findings: &[Finding], exempted: usize) -> Summary {
    let mut summary = Summary {
        total: findings.len(),
        objects_scanned: inv.object_count(),
        input_errors: inv.input_errors.len(),
        exempted,
        ..Summary::default()
    };
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        summary.by_severity.insert(sev, 0);
    }
    for r in active {
        summary.by_rule.insert(r.id().to_string(), 0);
    }
    for f in findings {
        *summary.by_severity.entry(f.severity).or_default() += 1;
        *summary.by_rule.entry(f.rule.clone()).or_default() += 1;
        summary.reclaimable_bytes = summary
            .reclaimable_bytes
            .saturating_add(f.reclaimable_bytes.unwrap_or(0));
    }
    summary
}

fn rules_needing(selected: &[&dyn Rule], info: &KindInfo) -> Vec<String> {
    selected
        .iter()
        .filter(|r| r.needs().iter().any(|n| n.same(info)))
        .map(|r| r.id().to_string())
        .collect()
}

/// `--openstack`: an OpenstackSource whose project could not be checked limits
/// `import-openstack-leak` as a failed kind would (reason `failed`, exit code 3): its findings
/// are what the imports' status implies, not what is in the project.
fn openstack_unchecked(inv: &Inventory, selected: &[&dyn Rule]) -> Vec<Incomplete> {
    const RULE: &str = "import-openstack-leak";
    let Some(os) = &inv.openstack else {
        return Vec::new();
    };
    let rules: Vec<String> = selected
        .iter()
        .filter(|r| r.id() == RULE)
        .map(|r| r.id().to_string())
        .collect();
    os.sources
        .iter()
        .filter_map(|(key, state)| match state {
            crate::openstack::SourceState::Failed(u) => Some((key, u)),
            crate::openstack::SourceState::Listed(_) => None,
        })
        .map(|(key, u)| {
            let (ns, name) = key.split_once('/').unwrap_or(("", key.as_str()));
            Incomplete {
                api_version: kinds::OpenstackSource::INFO.api_version(),
                kind: kinds::OpenstackSource::INFO.kind.to_string(),
                namespace: Some(ns.to_string()).filter(|n| !n.is_empty()),
                name: Some(name.to_string()),
                reason: Gap::Failed,
                message: format!(
                    "OpenStack project of OpenstackSource {key} not checked (openstack-unchecked:{}): {}",
                    u.kind.as_str(),
                    u.reason
                ),
                rules: rules.clone(),
            }
        })
        .collect()
}

fn incomplete_entries(inv: &Inventory, selected: &[&dyn Rule]) -> Vec<Incomplete> {
    let mut out: Vec<Incomplete> = inv
        .gaps
        .iter()
        .map(|g| Incomplete {
            api_version: g.kind.api_version(),
            kind: g.kind.kind.to_string(),
            namespace: g.namespace.clone(),
            name: None,
            reason: g.reason,
            message: g.message.clone(),
            rules: rules_needing(selected, g.kind),
        })
        .collect();
    out.extend(openstack_unchecked(inv, selected));
    for ops in kinds_for(selected) {
        let info = ops.info();
        if inv.gaps.iter().any(|g| g.kind.same(info)) {
            continue;
        }
        let rules = rules_needing(selected, info);
        let entry = |reason, message| Incomplete {
            api_version: info.api_version(),
            kind: info.kind.to_string(),
            namespace: None,
            name: None,
            reason,
            message,
            rules: rules.clone(),
        };
        match inv.coverage_of(info) {
            Coverage::All => {}
            _ if inv.covers_all(info) => {}
            Coverage::Unknown if info.same(&Setting::INFO) => {
                if inv.version_source == VersionSource::Unknown {
                    out.push(entry(Gap::NotInInput, "no server-version Setting in the input: the Harvester version is unknown (use --harvester-version)".into()));
                }
            }
            Coverage::Unknown => out.push(entry(
                Gap::NotInInput,
                format!("no {} objects in the input: treated as unknown, not as none", info.kind),
            )),
            Coverage::Namespaces(set) => {
                let mut list: Vec<&str> = set.iter().map(String::as_str).take(8).collect();
                let more = format!("and {} more", set.len().saturating_sub(8));
                if set.len() > 8 {
                    list.push(&more);
                }
                let (reason, message) = if inv.from_files {
                    (
                        Gap::NotInInput,
                        format!(
                            "seen only in namespaces {}; other namespaces are unknown",
                            list.join(", ")
                        ),
                    )
                } else {
                    (
                        Gap::OutOfScope,
                        format!("listed only in namespace {} (-n)", list.join(", ")),
                    )
                };
                out.push(entry(reason, message));
            }
        }
    }
    out
}
