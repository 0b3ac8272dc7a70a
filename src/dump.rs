//! `dump`: an offline copy of what the scanner reads, that knows what it saw.
//!
//! Lists exactly the kinds a live scan of the selected rules lists (same pagination, same RBAC,
//! never Secrets), cuts every object down to the fields the typed views read
//! ([`crate::inventory::KindOps::project`]: no cloud-init user data, no last-applied
//! configuration, no managed fields), and writes one `List` file per kind plus a
//! [`manifest`](crate::inventory::manifest) recording, per kind, whether it was listed completely
//! and where (as a live scan records coverage), from which cluster, when, with which Harvester
//! version. `scan --from` the dump then has the coverage of the live scan and reports what it
//! reports. Output: a new (or empty) directory, or a `.tar.gz` file.

use std::path::{Path, PathBuf};

use futures::future::join_all;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::inventory::live::{self, LiveOptions};
use crate::inventory::manifest::{self, Cluster, KindEntry, Manifest};
use crate::inventory::{Coverage, Inventory, KindInfo, KindOps};

#[derive(Debug, Clone)]
pub struct DumpOptions {
    pub live: LiveOptions,
    /// `-n`: list only this namespace (as `scan -n`).
    pub namespace: Option<String>,
    /// `--rules`: list only what these rules read (all when empty).
    pub rules: Vec<String>,
    /// A directory (new or empty), or a file ending in `.tar.gz` / `.tgz`.
    pub output: PathBuf,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct DumpSummary {
    pub path: PathBuf,
    pub manifest: Manifest,
}

impl DumpSummary {
    pub fn objects(&self) -> usize {
        self.manifest.kinds.iter().map(|k| k.objects).sum()
    }
    pub fn incomplete(&self) -> Vec<&KindEntry> {
        self.manifest.kinds.iter().filter(|k| !k.complete).collect()
    }
}

fn is_archive(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// The file a kind's objects go to: `<plural>.<group>.json` (`<plural>.json` for core kinds).
fn file_name(info: &KindInfo) -> String {
    if info.group.is_empty() {
        format!("{}.json", info.plural)
    } else {
        format!("{}.{}.json", info.plural, info.group)
    }
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// One kind, listed and cut down.
struct Listed {
    ops: &'static dyn KindOps,
    items: Vec<Value>,
    skipped: Vec<String>,
    gap: Option<(crate::inventory::Gap, String)>,
}

/// Project one object's JSON to what its view reads, with `apiVersion` and `kind` set (list
/// items of built-in kinds come without them).
pub fn project(ops: &dyn KindOps, json: &str) -> std::result::Result<Value, String> {
    let mut v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    ops.project(&mut v)?;
    let info = ops.info();
    if let Value::Object(m) = &mut v {
        m.insert("apiVersion".into(), Value::String(info.api_version()));
        m.insert("kind".into(), Value::String(info.kind.to_string()));
    }
    Ok(v)
}

async fn list(client: &kube::Client, ops: &'static dyn KindOps, ns: Option<&str>, page: u32) -> Listed {
    let (raw, gap) = live::list_raw(client, ops.info(), ns, page).await;
    let mut items = Vec::with_capacity(raw.len());
    let mut skipped = Vec::new();
    for json in raw {
        match project(ops, &json) {
            Ok(v) => items.push(v),
            Err(reason) => {
                let name = serde_json::from_str::<crate::meta::ObjectName>(&json)
                    .map(|o| o.metadata.key())
                    .unwrap_or_default();
                skipped.push(format!("{name}: {reason}"));
            }
        }
    }
    Listed {
        ops,
        items,
        skipped,
        gap,
    }
}

/// Make the dump.
pub async fn dump(opts: &DumpOptions) -> Result<DumpSummary> {
    let selected = crate::scan::select_rules(&opts.rules)?;
    let kinds = crate::scan::kinds_for(&selected);
    let archive = is_archive(&opts.output);
    // Refuse to overwrite before touching the cluster.
    refuse_existing(&opts.output, archive)?;
    let (client, cluster) = live::connect(&opts.live).await?;
    let page = if opts.live.page_size == 0 {
        500
    } else {
        opts.live.page_size
    };
    let ns = opts.namespace.as_deref();
    // As a live scan: migrations last, so one that starts while quotas are read is seen.
    let (last, first): (Vec<_>, Vec<_>) = kinds.iter().copied().partition(|k| k.info().list_last);
    let mut listed = join_all(first.into_iter().map(|ops| list(&client, ops, ns, page))).await;
    listed.extend(join_all(last.into_iter().map(|ops| list(&client, ops, ns, page))).await);

    let inv = recorded_inventory(opts.namespace.clone(), &mut listed);
    let (mut files, entries) = kind_files(&listed, &inv)?;
    let manifest = Manifest {
        api_version: manifest::API_VERSION.into(),
        kind: manifest::KIND.into(),
        created_at: jiff::Timestamp::now().to_string(),
        tool: format!("harvester-hygiene {}", env!("CARGO_PKG_VERSION")),
        cluster: Cluster {
            server: cluster.server,
            context: cluster.context,
            kubernetes_version: cluster.kubernetes_version,
        },
        harvester_version: inv.harvester_version_raw.clone(),
        namespace: opts.namespace.clone(),
        rules: selected.iter().map(|r| r.id().to_string()).collect(),
        kinds: entries,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| write_err(&opts.output, e))?;
    files.insert(0, (manifest::FILE.to_string(), bytes));
    write_files(&opts.output, archive, &files)?;
    Ok(DumpSummary {
        path: opts.output.clone(),
        manifest,
    })
}

/// An existing archive, or a non-empty directory, is an error: the dump never overwrites.
fn refuse_existing(output: &Path, archive: bool) -> Result<()> {
    if archive {
        if output.exists() {
            return Err(write_err(output, "already exists (choose a new file)"));
        }
    } else if output.exists() {
        let empty = std::fs::read_dir(output)
            .map_err(|e| write_err(output, e))?
            .next()
            .is_none();
        if !empty {
            return Err(write_err(output, "the directory is not empty"));
        }
    }
    Ok(())
}

/// Coverage and gaps exactly as the live scan records them (the listings' gaps are moved in).
fn recorded_inventory(namespace: Option<String>, listed: &mut [Listed]) -> Inventory {
    let mut inv = Inventory::new(namespace, false);
    for l in listed.iter_mut() {
        if l.gap.is_none() {
            let mut batch = l.ops.new_batch();
            for v in &l.items {
                let _ = l.ops.push_value(&mut batch, v.clone());
            }
            inv.merge_batch(l.ops, batch);
        }
        live::record(&mut inv, l.ops.info(), l.gap.take());
    }
    crate::scan::set_version(&mut inv, None);
    inv
}

/// One `List` file per kind listed without a gap, and every kind's manifest entry.
/// Each kind's file (name, bytes) and its manifest entries.
type KindFiles = (Vec<(String, Vec<u8>)>, Vec<KindEntry>);

fn kind_files(listed: &[Listed], inv: &Inventory) -> Result<KindFiles> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut entries = Vec::new();
    for l in listed {
        let info = l.ops.info();
        let gap = inv.gaps.iter().find(|g| g.kind.same(info));
        let (complete, namespaces) = match inv.coverage_of(info) {
            Coverage::All => (true, None),
            Coverage::Namespaces(set) => (true, Some(set.iter().cloned().collect())),
            Coverage::Unknown => (false, None),
        };
        let file = (gap.is_none()).then(|| file_name(info));
        if let Some(f) = &file {
            let doc = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": l.items});
            let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| write_err(Path::new(f), e))?;
            files.push((f.clone(), bytes));
        }
        entries.push(KindEntry {
            api_version: info.api_version(),
            kind: info.kind.to_string(),
            file,
            objects: if gap.is_none() { l.items.len() } else { 0 },
            complete: complete && gap.is_none(),
            namespaces,
            reason: gap.map(|g| g.reason),
            message: gap.map(|g| g.message.clone()),
            gap_namespace: gap.and_then(|g| g.namespace.clone()),
            skipped: l.skipped.clone(),
        });
    }
    Ok((files, entries))
}

/// The files into a `.tar.gz` (`archive`) or a directory, each written atomically.
fn write_files(output: &Path, archive: bool, files: &[(String, Vec<u8>)]) -> Result<()> {
    if archive {
        write_archive(output, files)
    } else {
        std::fs::create_dir_all(output).map_err(|e| write_err(output, e))?;
        for (name, bytes) in files {
            let p = output.join(name);
            crate::report::write_atomic(&p, bytes).map_err(|e| write_err(&p, e))?;
        }
        Ok(())
    }
}

/// A `.tar.gz` of `files`, written to a temporary file and renamed into place.
fn write_archive(path: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    {
        let mut tar = tar::Builder::new(&mut gz);
        let mtime = jiff::Timestamp::now().as_second().max(0).unsigned_abs();
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
            header.set_mode(0o600);
            header.set_mtime(mtime);
            tar.append_data(&mut header, name, bytes.as_slice())
                .map_err(|e| write_err(path, e))?;
        }
        tar.finish().map_err(|e| write_err(path, e))?;
    }
    let bytes = gz.finish().map_err(|e| write_err(path, e))?;
    crate::report::write_atomic(path, &bytes).map_err(|e| write_err(path, e))
}
