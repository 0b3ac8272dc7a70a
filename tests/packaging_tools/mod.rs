//! The packaging tests' tools (helm, fleet-values, krew's validator, the prometheus-operator CRDs,
//! promtool), from scripts/chart-tools.sh: it builds what is missing from the Go module proxy once
//! and prints where everything is.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

fn tools() -> &'static BTreeMap<String, String> {
    static TOOLS: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/chart-tools.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/chart-tools.sh failed (it builds helm and krew's validator from the Go module proxy):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

/// A tool's path; fails with what to do when the script could not provide it.
pub fn tool(name: &str) -> PathBuf {
    match tools().get(name).filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "{name} is not available from scripts/chart-tools.sh ({:?}); promtool comes from Debian's \
             `prometheus` package, which the script installs with apt-get as root or with sudo",
            tools()
        ),
    }
}
