//! `lint`: judge files before they reach a cluster. Kubernetes manifests (YAML or JSON,
//! multi-document, `List`s, directories, `-` for stdin such as `kustomize build` output) and
//! Terraform plans (`terraform show -json plan.out`, see [`terraform`]) become an inventory of
//! the objects they would create; with `--against-cluster` that inventory is laid over the live
//! cluster's (a planned object of the same namespace and name as a live one is the live one).
//! The rules run unchanged on it (`image-name-collision`, `image-mutable-url`,
//! `vm-name-breaks-migration`), and only findings about objects of the input are reported, with
//! the file and line they came from.
//!
//! Planned objects have no uid yet; they get `planned-<hash>` so the v1.8 naming (`lh-<uid>`)
//! tells two new images apart, and the uid is removed again from what is reported.

pub mod terraform;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::inventory::kinds::{
    Pod, ResourceQuota, StorageClass, VirtualMachine, VirtualMachineImage, VirtualMachineInstance,
};
use crate::inventory::live::{self, LiveOptions};
use crate::inventory::{Coverage, InputError, Inventory, Kind, ObjectKey, files};
use crate::report::{Report, Source, SourceKind};
use crate::rules::{self, Rule, Severity};
use crate::version::Version;

/// The rules `lint` runs (all of them by default).
pub const RULES: &[&str] = &[
    rules::image_name_collision::ID,
    rules::image_mutable_url::ID,
    rules::vm_name_breaks_migration::ID,
];

/// The uid prefix of objects that do not exist yet.
pub const PLANNED_UID: &str = "planned-";

#[derive(Debug, Clone)]
pub struct LintOptions {
    /// Files and directories; `-` reads stdin.
    pub paths: Vec<PathBuf>,
    pub harvester_version: Option<String>,
    /// `--against-cluster`: also read the live cluster.
    pub against: Option<LiveOptions>,
    /// `--rules` (a subset of [`RULES`]; all when empty).
    pub rules: Vec<String>,
    pub config: Config,
    /// `--probe-urls`.
    pub probe: Option<crate::probe::Options>,
    /// Bounds on what is read.
    pub limits: files::Limits,
    pub now: Option<jiff::Timestamp>,
}

impl LintOptions {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        LintOptions {
            paths,
            harvester_version: None,
            against: None,
            rules: Vec::new(),
            config: Config::default(),
            probe: None,
            limits: files::Limits::default(),
            now: None,
        }
    }
}

/// What the input held.
struct Input {
    inv: Inventory,
    /// Terraform resources by object key: (address, line).
    planned: HashMap<ObjectKey, (String, Option<usize>)>,
}

fn usage(what: &str, reason: String) -> Error {
    Error::Usage {
        what: what.to_string(),
        reason,
    }
}

fn select(ids: &[String]) -> Result<Vec<&'static dyn Rule>> {
    let ids: Vec<&str> = if ids.is_empty() {
        RULES.to_vec()
    } else {
        ids.iter().map(String::as_str).collect()
    };
    ids.iter()
        .map(|id| {
            if !RULES.contains(id) {
                return Err(usage(
                    "--rules",
                    format!("lint runs only {}; {id:?} is not one of them", RULES.join(", ")),
                ));
            }
            rules::find(id).ok_or_else(|| usage("--rules", format!("unknown rule {id:?}")))
        })
        .collect()
}

/// Read every path (bounded by `limits.max_file_bytes` each and `max_total_bytes` in all).
fn read_inputs(paths: &[PathBuf], limits: files::Limits) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut total: u64 = 0;
    let mut add = |name: String, reader: &mut dyn Read, out: &mut Vec<(String, String)>| -> Result<()> {
        let cap = limits.max_file_bytes.min(limits.max_total_bytes.saturating_sub(total));
        let mut buf = Vec::new();
        reader
            .take(cap.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| usage(&name, format!("cannot read: {e}")))?;
        let n = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        if n > cap {
            return Err(usage(
                &name,
                format!("over {cap} bytes (--max-file-bytes / --max-total-bytes)"),
            ));
        }
        total = total.saturating_add(n);
        let text = String::from_utf8(buf).map_err(|_| usage(&name, "not UTF-8 text".into()))?;
        out.push((name, text));
        Ok(())
    };
    for p in paths {
        if p.as_os_str() == "-" {
            add("<stdin>".into(), &mut std::io::stdin().lock(), &mut out)?;
            continue;
        }
        let mut found = Vec::new();
        walk(p, &mut found)?;
        for f in found {
            let mut file = std::fs::File::open(&f).map_err(|e| usage(&f.display().to_string(), e.to_string()))?;
            add(f.display().to_string(), &mut file, &mut out)?;
        }
    }
    Ok(out)
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| usage(&p.display().to_string(), e.to_string()))?;
    if !meta.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(|e| usage(&p.display().to_string(), e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        let ext = e.extension().and_then(|x| x.to_str()).unwrap_or("");
        if e.is_dir() || matches!(ext, "yaml" | "yml" | "json") {
            walk(&e, out)?;
        }
    }
    Ok(())
}

fn load(texts: Vec<(String, String)>) -> Input {
    let mut inv = Inventory::new(None, true);
    let mut yaml = HashMap::new();
    let mut planned = HashMap::new();
    for (name, text) in texts {
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with('{')
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed)
            && terraform::is_plan(&value)
        {
            let c = terraform::convert(&value, &text);
            for (address, reason) in c.errors {
                inv.input_errors.push(InputError {
                    source: name.clone(),
                    document: None,
                    object: Some(address),
                    reason,
                });
            }
            for p in c.planned {
                planned.insert((p.kind.to_string(), Some(p.namespace), p.name), (p.address, p.line));
            }
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": c.objects});
            files::load_text(&mut inv, &name, &list.to_string());
            continue;
        }
        files::load_text(&mut inv, &name, &text);
        yaml.insert(name, text);
    }
    // Lines: Terraform entries, and each YAML object's `metadata.name` line.
    let keys: Vec<ObjectKey> = inv.origins.keys();
    for k in keys {
        let line = match planned.get(&k) {
            Some((_, line)) => *line,
            None => inv
                .origins
                .get(&k)
                .and_then(|o| yaml.get(&o.file).and_then(|t| yaml_line(t, o.document, o.item, &k.2))),
        };
        inv.origins.set_line(&k, line, planned.contains_key(&k));
    }
    Input { inv, planned }
}

/// The 1-based line of `name`'s `name:` entry in document `doc` (item `item` of a List) of `text`.
fn yaml_line(text: &str, doc: Option<usize>, item: Option<usize>, name: &str) -> Option<usize> {
    let docs = files::split_yaml_documents(text);
    let d = match doc {
        Some(i) => *docs.get(i)?,
        None => *docs.iter().find(|d| !d.trim().is_empty())?,
    };
    let offset = (d.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let first = text.get(..offset)?.matches('\n').count().checked_add(1)?;
    let lines: Vec<&str> = d.lines().collect();
    // A List item: from the line of its `- ` at the items' indentation.
    let (from, to) = match item {
        Some(i) => {
            let items_at = lines.iter().position(|l| l.trim_end() == "items:")?;
            let starts: Vec<usize> = {
                let mut s = Vec::new();
                let mut indent = None;
                for (n, l) in lines.iter().enumerate().skip(items_at.checked_add(1)?) {
                    let ind = l.len().saturating_sub(l.trim_start().len());
                    if l.trim_start().starts_with("- ") || l.trim() == "-" {
                        match indent {
                            None => {
                                indent = Some(ind);
                                s.push(n);
                            }
                            Some(x) if x == ind => s.push(n),
                            _ => {}
                        }
                    }
                }
                s
            };
            let start = *starts.get(i)?;
            (start, starts.get(i.checked_add(1)?).copied().unwrap_or(lines.len()))
        }
        None => (0, lines.len()),
    };
    let wanted = |l: &str| {
        let t = l.trim_start().trim_start_matches("- ").trim();
        t.strip_prefix("name:").is_some_and(|v| {
            let v = v.trim();
            v == name || v.trim_matches(['"', '\'']) == name
        })
    };
    let n = (from..to).find(|&n| lines.get(n).is_some_and(|l| wanted(l)))?;
    first.checked_add(n)
}

fn planned_uid(key: &ObjectKey) -> String {
    let mut h = Sha256::new();
    h.update(format!("{}/{}/{}", key.0, key.1.as_deref().unwrap_or(""), key.2).as_bytes());
    let hex: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{PLANNED_UID}{hex}")
}

/// Lay the input's objects of kind `K` over `dst`: an object that exists in `dst` (same
/// namespace and name) stays as it is there; the others are added, with a planned uid.
fn overlay<K: Kind + Clone>(dst: &mut Inventory, src: &Inventory, set_uid: fn(&mut K, String)) {
    let existing: BTreeSet<(Option<crate::meta::Text>, crate::meta::Text)> = dst
        .objects::<K>()
        .iter()
        .map(|o| (o.meta().namespace.clone(), o.meta().name.clone()))
        .collect();
    let mut add = Vec::new();
    for o in src.objects::<K>() {
        let m = o.meta();
        if existing.contains(&(m.namespace.clone(), m.name.clone())) {
            continue;
        }
        let mut o = o.clone();
        if o.meta().uid.as_deref().is_none_or(str::is_empty) {
            let key = (
                K::INFO.qualified(),
                m.namespace.as_deref().map(str::to_owned),
                m.name.to_string(),
            );
            set_uid(&mut o, planned_uid(&key));
        }
        add.push(o);
    }
    let coverage = match (dst.coverage_of(&K::INFO).clone(), src.coverage_of(&K::INFO).clone()) {
        (Coverage::All, _) | (_, Coverage::All) => Coverage::All,
        (Coverage::Namespaces(mut a), Coverage::Namespaces(b)) => {
            a.extend(b);
            Coverage::Namespaces(a)
        }
        (Coverage::Unknown, c) | (c, Coverage::Unknown) => c,
    };
    dst.insert(add, coverage);
}

/// The report's source before a cluster is asked: the files, now.
fn files_source(paths: &[PathBuf]) -> Source {
    Source {
        kind: SourceKind::Files,
        server: None,
        context: None,
        kubernetes_version: None,
        paths: paths.iter().map(|p| p.display().to_string()).collect(),
        namespace: None,
        harvester_version_source: crate::inventory::VersionSource::Unknown,
        generated_at: jiff::Timestamp::now().to_string(),
        captured_at: None,
        target_version: None,
        tool: format!("harvester-hygiene {}", env!("CARGO_PKG_VERSION")),
    }
}

/// Lint the input and build the report.
pub async fn lint(opts: &LintOptions) -> Result<Report> {
    let selected = select(&opts.rules)?;
    if opts.paths.is_empty() {
        return Err(usage("lint", "name at least one file, directory or - (stdin)".into()));
    }
    let flag_version = match &opts.harvester_version {
        Some(v) => Some(Version::parse(v).ok_or_else(|| {
            usage(
                "--harvester-version",
                format!("{v:?} is not a version like v1.6.1, v1.4.2-rc2 or v1.4-head"),
            )
        })?),
        None => None,
    };
    let input = load(read_inputs(&opts.paths, opts.limits)?);
    let input_keys: BTreeSet<ObjectKey> = input.inv.origins.keys().into_iter().collect();

    let mut source = files_source(&opts.paths);
    let mut inv = match &opts.against {
        Some(lo) => {
            let (client, cluster) = live::connect(lo).await?;
            let mut inv = Inventory::new(None, false);
            let page = if lo.page_size == 0 { 500 } else { lo.page_size };
            live::gather(&client, &mut inv, &crate::scan::kinds_for(&selected), page).await;
            source.kind = SourceKind::Live;
            source.server = Some(cluster.server);
            source.context = cluster.context;
            source.kubernetes_version = cluster.kubernetes_version;
            inv
        }
        None => Inventory::new(None, true),
    };
    overlay::<VirtualMachineImage>(&mut inv, &input.inv, |o, u| o.metadata.uid = Some(u.into()));
    overlay::<VirtualMachine>(&mut inv, &input.inv, |o, u| o.metadata.uid = Some(u.into()));
    overlay::<ResourceQuota>(&mut inv, &input.inv, |o, u| o.metadata.uid = Some(u.into()));
    overlay::<StorageClass>(&mut inv, &input.inv, |o, u| o.metadata.uid = Some(u.into()));
    if opts.against.is_none() {
        // Files alone: a VM of the input is judged as it declares itself (its VMI would be
        // rendered from the template), so no VMI or launcher pod of it is running yet.
        let namespaces: BTreeSet<String> = input
            .inv
            .objects::<VirtualMachine>()
            .iter()
            .filter_map(|v| v.metadata.namespace.as_deref().map(str::to_owned))
            .collect();
        inv.set_coverage(&VirtualMachineInstance::INFO, Coverage::Namespaces(namespaces.clone()));
        inv.set_coverage(&Pod::INFO, Coverage::Namespaces(namespaces));
    }
    inv.origins.extend(input.inv.origins.clone());
    inv.input_errors.extend(input.inv.input_errors.iter().cloned());
    crate::scan::set_version(&mut inv, flag_version);
    source.harvester_version_source = inv.version_source;

    if let Some(po) = &opts.probe {
        let urls: Vec<String> = input
            .inv
            .objects::<VirtualMachineImage>()
            .iter()
            .filter(|i| i.spec.source_type.eq_ignore_ascii_case("download") && !i.spec.url.is_empty())
            .map(|i| i.spec.url.to_string())
            .collect();
        inv.url_probes = Some(crate::probe::probe_all(&urls, po).await);
    }

    let now = opts.now.unwrap_or_else(jiff::Timestamp::now);
    let mut report = crate::scan::judge(&inv, &selected, &opts.config, now, source);
    finish(&mut report, &inv, &input_keys, &input.planned, opts.against.is_some());
    Ok(report)
}

/// Keep the findings about input objects, say where they come from, and recount.
fn finish(
    report: &mut Report,
    inv: &Inventory,
    input: &BTreeSet<ObjectKey>,
    planned: &HashMap<ObjectKey, (String, Option<usize>)>,
    live: bool,
) {
    let takeover = inv
        .harvester_version
        .as_ref()
        .is_some_and(|v| *v >= Version::rc(1, 8, 0, 2));
    report
        .findings
        .retain(|f| input.contains(&crate::inventory::object_key(&f.object)));
    for f in &mut report.findings {
        let key = crate::inventory::object_key(&f.object);
        let new = f.object.uid.as_deref().is_some_and(|u| u.starts_with(PLANNED_UID));
        if new {
            reword_planned(f, live, takeover);
        }
        for r in &mut f.related {
            if r.uid.as_deref().is_some_and(|u| u.starts_with(PLANNED_UID)) {
                r.uid = None;
            }
        }
        if let Some((address, _)) = planned.get(&key) {
            f.details.insert("terraformAddress".into(), address.clone());
            f.message = format!("Terraform {address}: {}", f.message);
        }
    }
    // Files alone: the cluster's kinds are not part of the question; say it once per rule.
    if !live {
        report.incomplete.clear();
    }
    recount(report, input);
}

/// A finding about an object the plan creates: it has no uid, and its words say "would".
fn reword_planned(f: &mut crate::finding::Finding, live: bool, takeover: bool) {
    f.object.uid = None;
    f.evidence.push("planned".into());
    if f.rule == rules::vm_name_breaks_migration::ID {
        f.message = f.message.replace("It is stopped now;", "It does not exist yet;");
    }
    if f.rule == rules::image_name_collision::ID
        && let Some(class) = f.evidence.iter().find_map(|e| e.strip_prefix("shared-class:"))
    {
        let others: Vec<String> = f
            .related
            .iter()
            .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
            .collect();
        f.title = crate::finding::shorten_end(
            &format!("would share StorageClass {class} with {}", others.join(", ")),
            crate::finding::TITLE_MAX,
        );
    }
    if live
        && takeover
        && f.rule == rules::image_name_collision::ID
        && let Some(class) = f.evidence.iter().find_map(|e| e.strip_prefix("shared-class:"))
    {
        let class = class.to_string();
        let others: Vec<String> = f
            .related
            .iter()
            .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
            .collect();
        f.message.push_str(&format!(
            " Applying this creates {}/{} on Harvester v1.8+: it first deletes {class}, which {} uses \
             today, and re-creates it for itself (the v1.8 legacy-class takeover): {} loses its class.",
            f.object.namespace.as_deref().unwrap_or(""),
            f.object.name,
            others.join(", "),
            others.join(", "),
        ));
        f.evidence.push(format!("takeover:{class}"));
        f.title = crate::finding::shorten_end(
            &format!("would take over StorageClass {class} from {}", others.join(", ")),
            crate::finding::TITLE_MAX,
        );
    }
}

/// Count the findings left again, per rule and severity, against the input objects.
fn recount(report: &mut Report, input: &BTreeSet<ObjectKey>) {
    let mut by_rule: BTreeMap<String, usize> = report.summary.by_rule.keys().map(|k| (k.clone(), 0)).collect();
    let mut by_sev: BTreeMap<Severity, usize> = [Severity::Error, Severity::Warning, Severity::Info]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for f in &report.findings {
        *by_rule.entry(f.rule.clone()).or_default() += 1;
        *by_sev.entry(f.severity).or_default() += 1;
    }
    for r in &mut report.rules {
        r.findings = by_rule.get(&r.id).copied().unwrap_or(0);
        r.objects_checked = input.iter().filter(|k| rule_kind(&r.id) == k.0.as_str()).count();
    }
    report.summary.total = report.findings.len();
    report.summary.by_rule = by_rule;
    report.summary.by_severity = by_sev;
    report.summary.objects_scanned = input.len();
    report.summary.reclaimable_bytes = 0;
    let blocking = report.blocking_gaps().next().is_some();
    report.summary.incomplete = blocking;
}

fn rule_kind(id: &str) -> String {
    if id == rules::vm_name_breaks_migration::ID {
        VirtualMachine::INFO.qualified()
    } else {
        VirtualMachineImage::INFO.qualified()
    }
}
