//! Property test: any inventory (random objects of every registered kind, with missing
//! fields, wrong types and odd values) never panics the loader or the rules. A seeded
//! generator keeps failures reproducible (the seed is in the assertion message).

mod common;

use harvester_hygiene::config::Config;
use harvester_hygiene::inventory::{Inventory, files, kinds};
use harvester_hygiene::rules;
use harvester_hygiene::scan::{judge, set_version};
use harvester_hygiene::version::Version;
use serde_json::{Map, Value, json};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Words the rules care about, so random objects hit real code paths.
const WORDS: &[&str] = &[
    "",
    "null",
    "true",
    "0",
    "ns-a",
    "ns-b",
    "longhorn-system",
    "ubuntu",
    "longhorn-ubuntu",
    "cdi",
    "download",
    "https://cloud-images.ubuntu.com/jammy/current/x.img",
    "pvc-00000000-1111-4222-8333-444455556666",
    "detached",
    "failed",
    "Running",
    "Succeeded",
    "VMMigrationFailed",
    "sourceReady",
    "OpenstackSource",
    "VMExportFailed",
    "VMPoweredOff",
    "True",
    "2026-01-01T00:00:00Z",
    "not-a-time",
    "harvester-longhorn",
    "vmi-x",
    "ns-a/ubuntu",
    "docker-machine-driver-harvester",
    "vm-import-controller",
    "v1.4.1",
    "1.5.2",
    "Completed",
];

const KEYS: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "labels",
    "annotations",
    "ownerReferences",
    "spec",
    "status",
    "backend",
    "url",
    "storageClassName",
    "volumeName",
    "parameters",
    "backingImage",
    "diskFileStatusMap",
    "state",
    "message",
    "template",
    "volumes",
    "persistentVolumeClaim",
    "claimName",
    "hotpluggable",
    "dataVolume",
    "hard",
    "limits.cpu",
    "kubernetesStatus",
    "lastPodRefAt",
    "workloadsStatus",
    "vmiName",
    "phase",
    "sourceCluster",
    "kind",
    "virtualMachineName",
    "importStatus",
    "importConditions",
    "type",
    "lastTransitionTime",
    "version",
    "previousVersion",
    "conditions",
    "value",
    "sourceType",
    "checksum",
    "harvesterhci.io/imageId",
    "guestcluster.harvesterhci.io/name",
    "harvesterhci.io/volumeClaimTemplates",
    "capacity",
    "storage",
    "resources",
    "requests",
    "domain",
    "dataVolumeTemplates",
    "metadata",
    "volumeRequests",
    "addVolumeOptions",
    "volumeSource",
    "harvesterhci.io/migrating-vm",
    "harvesterhci.io/migratingUID-u",
];

fn value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 4 { 4 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.below(100_000)),
        2 => json!(rng.below(2) == 0),
        3 => json!(rng.pick(WORDS)),
        4 | 5 => {
            let mut m = Map::new();
            for _ in 0..rng.below(5) {
                m.insert(rng.pick(KEYS).to_string(), value(rng, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..rng.below(4)).map(|_| value(rng, depth + 1)).collect()),
    }
}

fn object(rng: &mut Rng) -> Value {
    let ops = kinds::REGISTRY[rng.below(kinds::REGISTRY.len() as u64) as usize];
    let info = ops.info();
    let mut obj = match value(rng, 0) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    obj.insert("apiVersion".into(), json!(info.api_version()));
    obj.insert("kind".into(), json!(info.kind));
    // Mostly well-formed metadata, sometimes not.
    if rng.below(5) != 0 {
        let mut meta = match value(rng, 1) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        meta.insert("name".into(), json!(rng.pick(WORDS)));
        if rng.below(3) != 0 {
            meta.insert(
                "namespace".into(),
                json!(rng.pick(&["ns-a", "ns-b", "longhorn-system"])),
            );
        }
        obj.insert("metadata".into(), Value::Object(meta));
    }
    Value::Object(obj)
}

#[test]
fn random_inventories_never_panic_the_rules() {
    let configs = [
        Config::default(),
        Config::parse("rules:\n  orphaned-guest-pvc:\n    guestNamespaces: [ns-b]\n  image-mutable-url:\n    extraPatterns: [x]\n").unwrap(),
    ];
    let mut loaded = 0;
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
        let items: Vec<Value> = (0..rng.below(60)).map(|_| object(&mut rng)).collect();
        let text = serde_json::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap();
        let mut inv = Inventory::new(None, true);
        files::load_text(&mut inv, &format!("seed-{seed}.json"), &text);
        loaded += inv.object_count();
        let version = ["v1.4.1", "v1.8.0", "garbage", ""][rng.below(4) as usize];
        set_version(&mut inv, Version::parse(version));
        for cfg in &configs {
            let now = "2026-11-22T12:00:00Z".parse().unwrap();
            let report = judge(&inv, rules::REGISTRY, cfg, now, common::fixtures::source());
            // Every finding names its object and says why.
            for f in &report.findings {
                assert!(!f.message.is_empty() && !f.rule.is_empty(), "seed {seed}: {f:?}");
            }
            serde_json::to_string(&report).unwrap_or_else(|e| panic!("seed {seed}: report does not serialize: {e}"));
        }
    }
    assert!(
        loaded > 1000,
        "the generator should produce many loadable objects, got {loaded}"
    );
}

/// Support bundles write `null` and empty values as the string "null": rewrite some values so.
fn bundle_nulls(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Null if rng.below(2) == 0 => *v = json!("null"),
        Value::Array(a) => a.iter_mut().for_each(|x| bundle_nulls(rng, x)),
        Value::Object(m) => {
            for x in m.values_mut() {
                if rng.below(8) == 0 {
                    *x = json!("null");
                } else {
                    bundle_nulls(rng, x);
                }
            }
        }
        _ => {}
    }
}

/// Damage text as a bad copy or a cut transfer would: truncate, drop or duplicate a line, or
/// replace one character with YAML syntax.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s = text.to_string();
    match rng.below(4) {
        0 => {
            let mut cut = rng.below(s.len() as u64 + 1) as usize;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        1 => {
            let mut lines: Vec<&str> = s.lines().collect();
            if !lines.is_empty() {
                let i = rng.below(lines.len() as u64) as usize;
                lines.remove(i);
            }
            s = lines.join("\n");
        }
        2 => {
            let mut lines: Vec<&str> = s.lines().collect();
            if !lines.is_empty() {
                let i = rng.below(lines.len() as u64) as usize;
                lines.insert(i, lines[i]);
            }
            s = lines.join("\n");
        }
        _ => {
            let chars: Vec<char> = s.chars().collect();
            if !chars.is_empty() {
                let i = rng.below(chars.len() as u64) as usize;
                let junk = [
                    "{", "[", ":", "- ", "&a", "*a", "!!binary", "\t", "'", "\"", "~", "<<: *a",
                ];
                s = chars[..i].iter().collect::<String>()
                    + junk[rng.below(junk.len() as u64) as usize]
                    + &chars[i + 1..].iter().collect::<String>();
            }
        }
    }
    s
}

/// Judge and plan: neither may panic; every finding has a message; the report serializes.
fn judge_and_plan(inv: &Inventory, seed: u64) -> usize {
    let now = "2026-11-22T12:00:00Z".parse().unwrap();
    let report = judge(
        inv,
        rules::REGISTRY,
        &Config::default(),
        now,
        common::fixtures::source(),
    );
    for f in &report.findings {
        assert!(!f.message.is_empty(), "seed {seed}: {f:?}");
    }
    serde_json::to_string(&report).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    let _ = harvester_hygiene::remedy::plan(&report.findings, inv);
    report.findings.len()
}

#[test]
fn random_yaml_lists_bundles_and_damaged_files_never_panic() {
    let mut loaded = 0;
    let mut errors = 0;
    for seed in 1..=120u64 {
        let mut rng = Rng(seed.wrapping_mul(0xD1B54A32D192ED03) | 1);
        let items: Vec<Value> = (0..rng.below(30)).map(|_| object(&mut rng)).collect();
        // Multi-document YAML, a YAML List, and each damaged.
        let docs: Vec<String> = items.iter().map(|i| serde_saphyr::to_string(i).unwrap()).collect();
        let multi = docs.join("---\n");
        let list = serde_saphyr::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap();
        for (name, text) in [
            ("multi.yaml", multi.clone()),
            ("list.yaml", list.clone()),
            ("multi-damaged.yaml", mutate(&mut rng, &multi)),
            ("list-damaged.yaml", mutate(&mut rng, &list)),
        ] {
            let mut inv = Inventory::new(None, true);
            files::load_text(&mut inv, name, &text);
            for e in &inv.input_errors {
                assert_eq!(e.source, name, "seed {seed}: an error names its file");
                assert!(!e.reason.is_empty(), "seed {seed}");
            }
            loaded += inv.object_count();
            errors += inv.input_errors.len();
            set_version(&mut inv, Version::parse(["v1.4.1", "v1.8.0"][rng.below(2) as usize]));
            judge_and_plan(&inv, seed);
        }

        // A support bundle zip with "null" strings, one List per kind and namespace (an archive
        // without objects is not a bundle: an error, tested in files_input.rs).
        if items.is_empty() {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("supportbundle_{seed}.zip"));
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        for (i, item) in items.iter().enumerate() {
            let mut item = item.clone();
            bundle_nulls(&mut rng, &mut item);
            let plural = item["kind"].as_str().unwrap_or("x").to_lowercase();
            let ns = item["metadata"]["namespace"].as_str().unwrap_or("ns-a").to_string();
            let body = serde_saphyr::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": [item]})).unwrap();
            let body = if rng.below(6) == 0 {
                mutate(&mut rng, &body)
            } else {
                body
            };
            zip.start_file(format!("sb-{seed}/yamls/namespaced/{ns}/m{i}/{plural}s.yaml"), opts)
                .unwrap();
            std::io::Write::write_all(&mut zip, body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        let mut inv = Inventory::new(None, true);
        files::load(&mut inv, std::slice::from_ref(&path)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        loaded += inv.object_count();
        judge_and_plan(&inv, seed);
    }
    assert!(loaded > 1000, "the generator should load many objects, got {loaded}");
    assert!(errors > 20, "damaged files should give input errors, got {errors}");
}

/// The planners read findings (possibly from an older or hand-edited report) and the
/// inventory: random findings with random fix inputs, about objects that may not exist or
/// exist with other uids, never panic a planner, and nothing is planned on `possible`.
#[test]
fn planners_survive_random_findings() {
    use harvester_hygiene::meta::ObjectRef;
    use harvester_hygiene::rules::{Confidence, Finding, FixInput, OpenstackResource, Severity};
    let mut planned = 0;
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0xA24BAED4963EE407) | 1);
        let items: Vec<Value> = (0..rng.below(40)).map(|_| object(&mut rng)).collect();
        let text = serde_json::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": items})).unwrap();
        let mut inv = Inventory::new(None, true);
        files::load_text(&mut inv, "p.json", &text);
        let rule_ids: Vec<&str> = rules::REGISTRY.iter().map(|r| r.id()).collect();
        let findings: Vec<Finding> = (0..rng.below(20))
            .map(|_| {
                let kind = rng.pick(&[
                    "PersistentVolumeClaim",
                    "ResourceQuota",
                    "OpenstackSource",
                    "VirtualMachineImport",
                    "",
                ]);
                let fix_input = match rng.below(4) {
                    0 => None,
                    1 => Some(FixInput::QuotaAnnotation {
                        annotation: rng.pick(WORDS).to_string(),
                    }),
                    2 => Some(FixInput::OrphanPvc {
                        owned_snapshots: vec![rng.pick(WORDS).to_string()],
                    }),
                    _ => Some(FixInput::OpenstackLeftovers {
                        source: rng.pick(WORDS).to_string(),
                        resources: vec![OpenstackResource {
                            kind: harvester_hygiene::finding::OpenstackKind::Volume,
                            id: rng.pick(WORDS).to_string(),
                            name: String::new(),
                        }],
                    }),
                };
                Finding {
                    rule: rule_ids[rng.below(rule_ids.len() as u64) as usize].to_string(),
                    severity: Severity::Warning,
                    confidence: [Confidence::Possible, Confidence::Likely, Confidence::Proven][rng.below(3) as usize],
                    evidence: vec![rng.pick(WORDS).to_string()],
                    reclaimable_bytes: None,
                    object: ObjectRef {
                        api_version: "v1".into(),
                        kind: kind.into(),
                        namespace: Some(rng.pick(&["ns-a", "ns-b"]).into()),
                        name: rng.pick(WORDS).into(),
                        uid: Some(rng.pick(WORDS).into()),
                        resource_version: None,
                        details: Default::default(),
                    },
                    message: "m".into(),
                    remediation: "r".into(),
                    related: vec![],
                    details: Default::default(),
                    fix_input,
                    title: String::new(),
                    origin: None,
                    exemption: None,
                }
            })
            .collect();
        let actions = harvester_hygiene::remedy::plan(&findings, &inv);
        for a in &actions {
            let f = findings
                .iter()
                .find(|f| harvester_hygiene::finding::fingerprint(f) == a.fingerprint)
                .unwrap_or_else(|| panic!("seed {seed}: an action for no finding"));
            assert_ne!(
                f.confidence,
                Confidence::Possible,
                "seed {seed}: planned on possible: {a:?}"
            );
        }
        planned += actions.len();
    }
    // Most random findings name objects that do not exist; some plans must still be made
    // (OpenStack leftovers need no inventory object), or the test exercises nothing.
    assert!(planned > 0, "no plan was ever made");
}
