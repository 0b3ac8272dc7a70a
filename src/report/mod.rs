//! The report document shared by the plugin and the job, and its renderers.
//! Contract (`apiVersion: harvester-hygiene/v1`): other tools parse it, so fields are only
//! ever added, never renamed.

pub mod describe;
pub mod junit;
pub mod sarif;
mod table;
pub mod term;

pub use term::{ColorChoice, Printer, Terminal, write_atomic};

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::inventory::{Gap, Incomplete, InputError};

pub const API_VERSION: &str = "harvester-hygiene/v1";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub harvester_version: Option<String>,
    /// The cluster this report is about (live scans, and files input with `--cluster-name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Cluster>,
    pub source: Source,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    pub incomplete: Vec<Incomplete>,
    /// Which rules ran, and what limited them.
    pub rules: Vec<RuleRun>,
    /// Documents and objects that could not be read (skipped).
    pub input_errors: Vec<InputError>,
    /// Findings silenced by a `harvester-hygiene.io/ignore` annotation with a reason.
    pub exempted: Vec<Exempted>,
    /// `fix`: what was planned or done for each fixable finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionRow>>,
}

/// Which cluster a report, metric or PolicyReport is about: `name` (from `--cluster-name`,
/// else the kubeconfig context, else the UID) and the `kube-system` namespace's `uid`, which is
/// stable for the life of a cluster and differs between clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Where `name` came from: `flag`, `context` or `uid` (`unknown` when none was available).
    pub name_source: ClusterNameSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterNameSource {
    Flag,
    Context,
    Uid,
    Unknown,
}

impl Cluster {
    /// The name, the UID when no name was given, else `unknown`.
    pub fn new(flag: Option<&str>, context: Option<&str>, uid: Option<String>) -> Cluster {
        let flag = flag.map(str::trim).filter(|s| !s.is_empty());
        let context = context.map(str::trim).filter(|s| !s.is_empty());
        let (name, name_source) = match (flag, context, &uid) {
            (Some(f), _, _) => (f.to_string(), ClusterNameSource::Flag),
            (None, Some(c), _) => (c.to_string(), ClusterNameSource::Context),
            (None, None, Some(u)) => (u.clone(), ClusterNameSource::Uid),
            (None, None, None) => ("unknown".to_string(), ClusterNameSource::Unknown),
        };
        Cluster { name, uid, name_source }
    }
}

/// What `fix` planned or did for one finding, as plain data (the remedy fills it in; the
/// report does not depend on the remedy).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRow {
    pub id: usize,
    pub rule: String,
    pub fingerprint: String,
    pub object: crate::meta::ObjectRef,
    /// The action itself (`{"type": "retainAndDeletePvc", …}`).
    pub action: serde_json::Value,
    pub description: String,
    pub status: ActionStatus,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionStatus {
    Planned,
    DryRunOk,
    Done,
    AlreadyDone,
    Skipped,
    Declined,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exempted {
    #[serde(flatten)]
    pub finding: Finding,
    /// The object's `harvester-hygiene.io/ignore-reason`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// `live` or `files`.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// `-n`: the only namespace listed and reported.
    pub namespace: Option<String>,
    /// Where `harvesterVersion` came from: `flag`, `setting` or `unknown`.
    pub harvester_version_source: crate::inventory::VersionSource,
    pub generated_at: String,
    /// Files input with a dump manifest: when the dump was taken; ages and grace periods are
    /// measured at that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<String>,
    /// `--target-version`: the upgrade `upgrade-readiness` judged (absent on a plain scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    pub tool: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Live,
    Files,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub total: usize,
    pub by_severity: BTreeMap<Severity, usize>,
    pub by_rule: BTreeMap<String, usize>,
    /// Objects of the kinds the rules read.
    pub objects_scanned: usize,
    pub input_errors: usize,
    /// Findings silenced by exemption annotations (listed in `exempted`).
    pub exempted: usize,
    /// True when a kind a selected rule needs could not be read.
    pub incomplete: bool,
    /// Bytes that fixing every finding would free (sum of the findings' `reclaimableBytes`).
    pub reclaimable_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRun {
    pub id: String,
    /// The rule's one-line summary (as `rules` prints it).
    pub summary: String,
    /// Whether `fix` can act on its findings.
    pub fixable: bool,
    pub severity: Severity,
    /// `complete`, or `partial` when some inputs were missing.
    pub status: RuleStatus,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub findings: usize,
    /// Objects of the rule's primary kind (the first it reads) that it checked.
    pub objects_checked: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Complete,
    Partial,
    Skipped,
    Disabled,
}

impl Report {
    /// A gap that makes a live scan's result untrustworthy (exit code 3): a kind a rule
    /// needs was forbidden, failed, or is not served (optional add-ons excluded upstream).
    pub fn blocking_gaps(&self) -> impl Iterator<Item = &Incomplete> {
        let live = self.source.kind == SourceKind::Live;
        self.incomplete.iter().filter(move |i| {
            live && !i.rules.is_empty() && matches!(i.reason, Gap::Forbidden | Gap::Failed | Gap::NotFound)
        })
    }

    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// `--fail-on`: the least severity that makes the exit code 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    At(Severity),
    Never,
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "never" {
            Ok(FailOn::Never)
        } else {
            s.parse().map(FailOn::At)
        }
    }
}

/// How a command ends, as the README's exit codes table documents it. One type for both
/// binaries: the plugin's commands and the job return it, and `main` turns it into the process
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, nothing at or above `--fail-on`.
    Ok,
    /// 1: findings at or above `--fail-on` (the plugin).
    Findings,
    /// 1: the job's run failed (it could not scan or publish).
    RunFailed,
    /// 2: bad usage or input (flags, policy file, files that cannot be read).
    Usage,
    /// 3: the scan could not see everything it needs (a live kind unreadable, a cluster
    /// unreachable, an OpenStack project unchecked).
    Incomplete,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Findings | ExitStatus::RunFailed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Incomplete => 3,
        }
    }
    /// The worse of two (the higher code): several clusters or steps, one exit code.
    pub fn worse(self, other: ExitStatus) -> ExitStatus {
        if other.code() > self.code() { other } else { self }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}

/// 3 when a live scan could not complete; else 1 when findings reach `fail_on`; else 0.
pub fn exit_code(report: &Report, fail_on: FailOn) -> ExitStatus {
    if report.blocking_gaps().next().is_some() {
        return ExitStatus::Incomplete;
    }
    match (fail_on, report.max_severity()) {
        (FailOn::At(min), Some(max)) if max >= min => ExitStatus::Findings,
        _ => ExitStatus::Ok,
    }
}

/// An output format (`-o`): its name in [`FORMATS`]. The built-in ones other code branches on
/// are constants (`Format::Table`, ...); a new format needs none, only its [`FormatSpec`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format(&'static str);

#[allow(non_upper_case_globals)]
impl Format {
    pub const Table: Format = Format(table::TABLE.name);
    pub const Wide: Format = Format(table::WIDE.name);
    pub const Json: Format = Format(JSON.name);
    pub const Yaml: Format = Format(YAML.name);
    /// SARIF 2.1.0 (code scanning).
    pub const Sarif: Format = Format(sarif::FORMAT.name);
    /// JUnit XML (CI test reports).
    pub const Junit: Format = Format(junit::FORMAT.name);

    /// Its `-o` name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// A renderer: the report, the render options, where to write.
pub type Renderer = fn(&Report, &RenderOptions, &mut dyn Write) -> std::io::Result<()>;

/// One output format: its `-o` name and its renderer, declared next to the renderer.
pub struct FormatSpec {
    pub name: &'static str,
    pub render: Renderer,
}

/// `-o json`: the report contract, pretty-printed.
pub const JSON: FormatSpec = FormatSpec {
    name: "json",
    render: |r, _, out| {
        serde_json::to_writer_pretty(&mut *out, r)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    },
};

/// `-o yaml`: the same document as YAML.
pub const YAML: FormatSpec = FormatSpec {
    name: "yaml",
    render: |r, _, out| {
        serde_saphyr::to_string(r)
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|text| out.write_all(text.as_bytes()))
    },
};

/// Every output format, in the order `-o` errors list them. To add one: its file in
/// `src/report/` with a `FormatSpec` constant, and one line here (`-o` parsing, errors and
/// [`render`] read this list).
pub static FORMATS: &[&FormatSpec] = &[
    &table::TABLE,
    &table::WIDE,
    &JSON,
    &YAML,
    &sarif::FORMAT,
    &junit::FORMAT,
];

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FORMATS
            .iter()
            .find(|f| f.name == s)
            .map(|f| Format(f.name))
            .ok_or_else(|| {
                let names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
                format!("unknown output format {s:?} (expected one of {})", names.join(", "))
            })
    }
}

pub use crate::quantity::human_bytes;

/// What a rule is, for formats that carry help text (SARIF): plain data filled from the rules
/// by the caller (`scan::rule_help`), so the report does not depend on them.
#[derive(Debug, Clone)]
pub struct RuleHelp {
    pub id: String,
    pub summary: String,
    pub why: String,
    pub remediation: String,
    /// Upstream references as the rules write them (`harvester/harvester#5165`, `owner/repo path`).
    pub upstream: Vec<String>,
}

/// How to render: the terminal (width, colour) for tables, `--fail-on` for JUnit failures, and
/// the rules' help for SARIF.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub term: Terminal,
    pub fail_on: FailOn,
    pub rules: Vec<RuleHelp>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions::new(Terminal::default())
    }
}

impl RenderOptions {
    pub fn new(term: Terminal) -> Self {
        RenderOptions {
            term,
            fail_on: FailOn::At(Severity::Error),
            rules: Vec::new(),
        }
    }
}

/// Write `report` in `format`. Tables take the width and colour of `opts.term`. A reader
/// that stops early (`| head`) is not an error, as with kubectl.
pub fn render(report: &Report, format: Format, opts: &RenderOptions, out: &mut dyn Write) -> Result<()> {
    let result = match FORMATS.iter().find(|f| f.name == format.name()) {
        Some(spec) => (spec.render)(report, opts, out),
        None => Err(std::io::Error::other("no renderer registered")),
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Render {
            format: format.name().to_string(),
            reason: e.to_string(),
        }),
        Ok(()) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every format is registered once, its name parses back to it, and the built-in constants
    /// name registered formats.
    #[test]
    fn every_format_is_registered_once() {
        for spec in FORMATS {
            assert_eq!(
                FORMATS.iter().filter(|e| e.name == spec.name).count(),
                1,
                "{}",
                spec.name
            );
            let f: Format = spec.name.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(f.name(), spec.name);
        }
        for f in [
            Format::Table,
            Format::Wide,
            Format::Json,
            Format::Yaml,
            Format::Sarif,
            Format::Junit,
        ] {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
        assert_eq!(FORMATS.len(), 6);
        assert!("xml".parse::<Format>().is_err_and(|e| e.contains("table, wide, json")));
    }
}
