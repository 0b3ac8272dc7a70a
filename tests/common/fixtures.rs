//! Run rules over YAML fixtures through the real file loader, with a pinned clock.

use harvester_hygiene::config::Config;
use harvester_hygiene::inventory::{Inventory, VersionSource, files};
use harvester_hygiene::report::{Report, Source, SourceKind};
use harvester_hygiene::rules::{self, Finding};
use harvester_hygiene::scan::{judge, set_version};
use harvester_hygiene::version::Version;

pub const NOW: &str = "2026-11-22T12:00:00Z";

pub fn source() -> Source {
    Source {
        kind: SourceKind::Files,
        server: None,
        context: None,
        kubernetes_version: None,
        paths: vec![],
        namespace: None,
        harvester_version_source: VersionSource::Unknown,
        generated_at: String::new(),
        captured_at: None,
        target_version: None,
        tool: String::new(),
    }
}

/// Load `docs` (YAML documents) through the file loader and set the version.
pub fn load(docs: &[String], version: Option<&str>) -> Inventory {
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "fixture.yaml", &docs.join("\n---\n"));
    assert!(inv.input_errors.is_empty(), "fixture errors: {:?}", inv.input_errors);
    set_version(&mut inv, version.and_then(Version::parse));
    inv
}

/// Load `docs`, set the version, judge with `config` at [`NOW`].
pub fn run_with(docs: &[String], version: Option<&str>, config: &Config) -> Report {
    let inv = load(docs, version);
    judge(&inv, rules::REGISTRY, config, NOW.parse().unwrap(), source())
}

pub fn run(docs: &[String], version: Option<&str>) -> Report {
    run_with(docs, version, &Config::default())
}

pub fn of<'a>(r: &'a Report, rule: &str) -> Vec<&'a Finding> {
    r.findings.iter().filter(|f| f.rule == rule).collect()
}

/// `namespace/name` of each finding of `rule`, sorted.
pub fn keys(r: &Report, rule: &str) -> Vec<String> {
    let mut v: Vec<String> = of(r, rule).iter().map(|f| f.object.key()).collect();
    v.sort();
    v
}
