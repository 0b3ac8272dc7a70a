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
