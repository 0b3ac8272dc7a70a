//! The module graph is one-way, as `src/lib.rs` says: gather (inventory) -> judge (rules) ->
//! report -> remedy / publish, with leaves (meta, finding, version, quantity, error) that depend
//! on nothing above them. This test reads the sources, collects each top-level module's
//! `crate::<module>` references (and `super::` climbing out of a module's root), and fails on
//! any cycle, printing it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module of a file under `src/` (`rules/orphaned_guest_pvc.rs` -> `rules`).
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    if first == "bin" || first == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let raw = raw_graph();
    // Only edges to modules (not `crate::install_crypto_provider` and other root items).
    raw.iter()
        .map(|(m, d)| (m.clone(), d.iter().filter(|x| raw.contains_key(*x)).cloned().collect()))
        .collect()
}

fn raw_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let Some(m) = module_of(rel) else { continue };
        let text = std::fs::read_to_string(&f).unwrap();
        // Code only: drop line comments, and the unit tests at the end of a file.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let deps = g.entry(m.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != m && name != "kind" {
                deps.insert(name);
            }
        }
    }
    g
}

fn cycle_from(g: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn dfs(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if !seen.insert(n.to_string()) {
            return None;
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = dfs(g, d, path, seen) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    dfs(g, start, &mut Vec::new(), &mut BTreeSet::new())
}

/// Edges known to close a cycle that is still to be broken (none today). An entry must be an
/// existing edge, so a fixed cycle cannot linger here.
const PENDING: &[(&str, &str)] = &[];

#[test]
fn the_module_graph_has_no_cycles() {
    let mut g = graph();
    assert!(g.len() >= 10, "{g:?}");
    for (from, to) in PENDING {
        let had = g.get_mut(*from).is_some_and(|d| d.remove(*to));
        assert!(had, "{from} -> {to} is gone: remove it from PENDING");
    }
    for m in g.keys() {
        if let Some(c) = cycle_from(&g, m) {
            panic!("import cycle: {}\ngraph: {g:#?}", c.join(" -> "));
        }
    }
}

#[test]
fn leaves_and_the_one_way_order() {
    let g = graph();
    let deps = |m: &str| g.get(m).cloned().unwrap_or_default();
    // Leaves depend on nothing but other leaves.
    let leaves = ["meta", "finding", "version", "quantity", "error"];
    for l in leaves {
        for d in deps(l) {
            assert!(leaves.contains(&d.as_str()), "{l} depends on {d}");
        }
    }
    // Judging never reaches back to reporting, fixing or publishing; reports never to fixes.
    for (m, forbidden) in [
        (
            "inventory",
            &["rules", "report", "remedy", "publish", "scan", "openstack"][..],
        ),
        ("config", &["rules", "report", "remedy", "publish", "scan"][..]),
        ("rules", &["report", "remedy", "publish", "scan"][..]),
        ("report", &["remedy", "publish", "scan", "rules"][..]),
    ] {
        for f in forbidden {
            assert!(!deps(m).contains(*f), "{m} must not depend on {f}: {:?}", deps(m));
        }
    }
}

/// Labels and annotations are read only through `Meta::label`/`Meta::annotation`, which take a
/// compile-time checked `meta::Key` (a key outside `KEPT_KEY_PREFIXES` does not build). A
/// direct map lookup with a literal would bypass that check and could silently read nothing.
#[test]
fn metadata_keys_are_read_through_checked_keys() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            for pat in [
                "labels.get(\"",
                "annotations.get(\"",
                "labels.contains_key(\"",
                "annotations.contains_key(\"",
                ".label(\"",
                ".annotation(\"",
            ] {
                if line.contains(pat) {
                    bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "read metadata keys with a meta::Key (key!(..)):\n{}",
        bad.join("\n")
    );
}
