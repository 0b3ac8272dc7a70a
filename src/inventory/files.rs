//! Files input: YAML or JSON manifests, multi-document YAML, `kind: List` documents (as
//! `kubectl get -o yaml` prints them), directories walked recursively, and Harvester support
//! bundles (a `.zip` with one top-level folder, or its extracted folder), whose objects sit
//! under `<bundle>/yamls/cluster/...` and `<bundle>/yamls/namespaced/<ns>/...`.
//!
//! Coverage: an object seen marks its kind known in its namespace; a support bundle's file
//! `yamls/namespaced/<ns>/<module>/<plural>.yaml` marks the kind known in `<ns>` even when
//! the list is empty. Everything else is unknown, never empty.
//!
//! Support bundles rewrite empty values and `null` as the string `"null"`; for bundle files
//! that string is read as empty.
//!
//! Bounds ([`Limits`]): every file and archive member is read as a stream through a cap (the
//! tightest of the bytes one file may hold, what is left of the total across the input and, for
//! a zip member, its compressed size times the ratio), stopping one byte past it. A file or
//! member over a bound is an input error naming the bound, and the rest is still read. Declared
//! sizes (file length, zip headers) are checked first, so an honest bomb is refused without
//! inflating it; the cap on the bytes actually read holds when a header lies.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Batch, InputError, Inventory, json_list, kinds, manifest, yaml_list};
use crate::error::{Error, Result};

/// Items per core below which a List is decoded on one thread (spawning would cost more).
const JSON_ITEMS_PER_CORE: usize = 2_000;
const YAML_ITEMS_PER_CORE: usize = 200;

/// What one worker loaded, or the item range it failed on (a worker that panicked).
type Run = std::result::Result<Loader, std::ops::Range<usize>>;

/// Decode `items` on up to every core: each worker fills its own loader with a contiguous run
/// of items, and the runs come back in order, so objects and errors keep the file's order.
/// `each` returns `false` to give up on the whole List: the result is then `None` in a run.
fn in_runs<T: Sync>(
    items: &[T],
    per_core: usize,
    each: impl Fn(&mut Loader, usize, &T) -> bool + Sync,
) -> Vec<Option<Run>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(items.len() / per_core.max(1)).max(1);
    let len = items.len().div_ceil(workers).max(1);
    let work = |c: usize, part: &[T]| {
        let mut loader = Loader::new();
        for (i, item) in part.iter().enumerate() {
            if !each(&mut loader, c * len + i, item) {
                return None;
            }
        }
        Some(loader)
    };
    if workers == 1 {
        return vec![work(0, items).map(Ok)];
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(len)
            .enumerate()
            .map(|(c, part)| (c, scope.spawn(move || work(c, part))))
            .collect();
        handles
            .into_iter()
            .map(|(c, h)| match h.join() {
                Ok(loaded) => loaded.map(Ok),
                Err(_) => Some(Err(c * len..((c + 1) * len).min(items.len()))),
            })
            .collect()
    })
}

/// Limits for YAML input. serde-saphyr's defaults (250k nodes, 1M events) stop at a few
/// thousand objects; a 30k-item `List` needs far more. These bound memory at roughly the
/// size of the input, which is already in memory.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = None;
    budget.max_events = usize::MAX / 2;
    budget.max_nodes = usize::MAX / 2;
    budget.max_total_scalar_bytes = usize::MAX / 2;
    budget.max_documents = usize::MAX / 2;
    budget.max_depth = 256;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // An unquoted hex id such as `803e6819` reads as a float overflowing to infinity; keep
    // it as the text it is instead of rejecting the whole document.
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    options
}

/// Bounds on what files input reads (`--max-file-bytes`, `--max-total-bytes`, `--max-zip-ratio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes one file or archive member may hold (inflated, for a member).
    pub max_file_bytes: u64,
    /// Bytes read across the whole input: every file and every inflated member.
    pub max_total_bytes: u64,
    /// Inflated bytes per compressed byte a zip member may reach (`N` for `N:1`). Members that
    /// inflate to at most [`RATIO_FLOOR`] bytes are not held to it.
    pub max_zip_ratio: u64,
    /// Not a bound: `--assume-complete`, the user's word that the files hold every object of
    /// each kind they contain, so a kind seen in some namespaces counts as known in all.
    pub assume_complete: bool,
}

/// 512 MiB per file or member (a 71k-object JSON dump is about 130 MB).
pub const DEFAULT_MAX_FILE_BYTES: u64 = 512 << 20;
/// 4 GiB across the input.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 4 << 30;
/// 100:1 (Kubernetes YAML and JSON deflate to roughly 10-30:1; a bomb of zeros to about 1000:1).
pub const DEFAULT_MAX_ZIP_RATIO: u64 = 100;
/// A member may always inflate to this much, whatever its ratio (tiny, repetitive lists).
pub const RATIO_FLOOR: u64 = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_zip_ratio: DEFAULT_MAX_ZIP_RATIO,
            assume_complete: false,
        }
    }
}

/// Load every path into the inventory with the default [`Limits`].
pub fn load(inv: &mut Inventory, paths: &[PathBuf]) -> Result<()> {
    load_with(inv, paths, Limits::default())
}

/// Load every path into the inventory. Unreadable paths are errors (the user named them);
/// malformed documents inside readable files, and files or members over a bound of `limits`,
/// are recorded in `inv.input_errors` and skipped.
pub fn load_with(inv: &mut Inventory, paths: &[PathBuf], limits: Limits) -> Result<()> {
    let mut loader = Loader::new();
    let mut budget = Budget { limits, read: 0 };
    for path in paths {
        loader.load_path(path, &mut budget)?;
    }
    let manifests = std::mem::take(&mut loader.manifests);
    let counts: Vec<usize> = kinds::REGISTRY
        .iter()
        .zip(&loader.batches)
        .map(|(ops, b)| b.as_ref().map_or(0, |b| ops.len(b)))
        .collect();
    loader.finish(inv);
    for (source, m) in manifests {
        apply_manifest(inv, &source, &m, &counts);
    }
    if limits.assume_complete {
        for ops in kinds::REGISTRY {
            if matches!(inv.coverage_of(ops.info()), super::Coverage::Namespaces(_)) {
                inv.set_coverage(ops.info(), super::Coverage::All);
            }
        }
    }
    inv.shrink();
    Ok(())
}

/// A `dump` manifest: each kind it says was listed completely is known where it was listed
/// (all namespaces, or the ones named), even with no object; a kind it could not list is a gap
/// with the reason it had then. A manifest that claims more objects of a kind than the input
/// holds (a file of the dump missing or cut) is not trusted for that kind, and says so.
fn apply_manifest(inv: &mut Inventory, source: &str, m: &manifest::Manifest, counts: &[usize]) {
    // When the dump was made is the scan's clock: ages and grace periods are measured then.
    match m.created_at.parse::<jiff::Timestamp>() {
        Ok(t) => inv.captured_at = inv.captured_at.max(Some(t)),
        Err(_) => inv.input_errors.push(InputError {
            source: source.to_string(),
            document: None,
            object: None,
            reason: format!(
                "dump manifest: field createdAt: expected an RFC 3339 time, got {:?}",
                m.created_at
            ),
        }),
    }
    for k in &m.kinds {
        let Some(ops) = kinds::by_api_version_kind(&k.api_version, &k.kind) else {
            continue;
        };
        let info = ops.info();
        let slot = kinds::REGISTRY.iter().position(|o| o.info().same(info)).unwrap_or(0);
        let held = counts.get(slot).copied().unwrap_or(0);
        for s in &k.skipped {
            inv.input_errors.push(InputError {
                source: format!("{source} ({} skipped when the dump was made)", info.kind),
                document: None,
                object: None,
                reason: s.clone(),
            });
        }
        if k.complete {
            if held < k.objects {
                inv.input_errors.push(InputError {
                    source: source.to_string(),
                    document: None,
                    object: Some(info.kind.to_string()),
                    reason: format!(
                        "the dump manifest lists {} {} objects but the input holds {held}: its coverage is not trusted",
                        k.objects, info.kind
                    ),
                });
                continue;
            }
            let coverage = match &k.namespaces {
                None => super::Coverage::All,
                Some(list) => super::Coverage::Namespaces(list.iter().cloned().collect()),
            };
            inv.set_coverage(info, coverage);
        } else if let Some(reason) = k.reason {
            inv.set_coverage(info, super::Coverage::Unknown);
            inv.gaps.push(super::KindGap {
                kind: info,
                namespace: k.gap_namespace.clone(),
                reason,
                message: format!(
                    "{} (when the dump was made, {})",
                    k.message.as_deref().unwrap_or("not listed"),
                    m.created_at
                ),
            });
        }
    }
}

/// The limits and the bytes read so far across the input.
struct Budget {
    limits: Limits,
    read: u64,
}

/// Which bound a read hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    File,
    Total,
    Ratio,
}

/// How far a file or member got when it hit a bound.
#[derive(Debug)]
enum Seen {
    /// Its declared size (file length, zip header), before reading.
    Declared(u64),
    /// The bytes read when reading stopped, one past the cap.
    Read(u64),
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seen::Declared(n) => write!(f, "it declares {n} bytes (not read)"),
            Seen::Read(n) => write!(f, "reading stopped at {n} bytes"),
        }
    }
}

/// A file or member that could not be read whole.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("over --max-file-bytes {limit} ({}): {seen}", human_bytes(*limit))]
    FileBytes { limit: u64, seen: Seen },
    #[error(
        "over --max-total-bytes {limit} ({}): {before} bytes of the input were read before it, and {seen}",
        human_bytes(*limit)
    )]
    TotalBytes { limit: u64, before: u64, seen: Seen },
    #[error("over --max-zip-ratio {ratio}:1: {compressed} bytes compressed, and {seen}")]
    ZipRatio { ratio: u64, compressed: u64, seen: Seen },
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn human_bytes(b: u64) -> String {
    crate::quantity::human_bytes(b)
}

impl Budget {
    /// The tightest cap on the next file or member, and which bound it is. `compressed`: a zip
    /// member's compressed size.
    fn cap(&self, compressed: Option<u64>) -> (u64, Bound) {
        let l = &self.limits;
        let mut cap = (l.max_file_bytes, Bound::File);
        let left = l.max_total_bytes.saturating_sub(self.read);
        if left < cap.0 {
            cap = (left, Bound::Total);
        }
        if let Some(c) = compressed {
            let ratio = c.saturating_mul(l.max_zip_ratio).max(RATIO_FLOOR);
            if ratio < cap.0 {
                cap = (ratio, Bound::Ratio);
            }
        }
        cap
    }

    fn over(&self, bound: Bound, compressed: Option<u64>, seen: Seen) -> ReadError {
        let l = &self.limits;
        match bound {
            Bound::File => ReadError::FileBytes {
                limit: l.max_file_bytes,
                seen,
            },
            Bound::Total => ReadError::TotalBytes {
                limit: l.max_total_bytes,
                before: self.read,
                seen,
            },
            Bound::Ratio => ReadError::ZipRatio {
                ratio: l.max_zip_ratio,
                compressed: compressed.unwrap_or(0),
                seen,
            },
        }
    }

    /// Read `reader` whole if it stays within the bounds: never more than one byte past the
    /// cap, so memory is bounded by the cap whatever `declared` says. Every byte read counts
    /// towards the total, kept or not.
    fn read(&mut self, reader: impl Read, declared: u64, compressed: Option<u64>) -> Result<Vec<u8>, ReadError> {
        let (cap, bound) = self.cap(compressed);
        if declared > cap {
            return Err(self.over(bound, compressed, Seen::Declared(declared)));
        }
        let mut buf = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        let got = reader.take(cap.saturating_add(1)).read_to_end(&mut buf);
        let n = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let over = (n > cap).then(|| self.over(bound, compressed, Seen::Read(n)));
        self.read = self.read.saturating_add(n);
        got?;
        match over {
            Some(e) => Err(e),
            None => Ok(buf),
        }
    }
}

/// Load in-memory text as if it were a file named `name` (tests, generators).
pub fn load_text(inv: &mut Inventory, name: &str, text: &str) {
    let mut loader = Loader::new();
    loader.load_text(name, text);
    loader.finish(inv);
}

struct Loader {
    /// `dump` manifests read, with the file they came from.
    manifests: Vec<(String, manifest::Manifest)>,
    batches: Vec<Option<Batch>>,
    /// (index in the registry, namespace) pairs seen.
    coverage: std::collections::BTreeSet<(usize, Option<String>)>,
    errors: Vec<InputError>,
    /// Where each object was read.
    origins: super::origins::Origins,
}

impl Loader {
    fn new() -> Self {
        Loader {
            manifests: Vec::new(),
            batches: kinds::REGISTRY.iter().map(|_| None).collect(),
            coverage: Default::default(),
            errors: Vec::new(),
            origins: Default::default(),
        }
    }

    fn finish(self, inv: &mut Inventory) {
        for (ops, batch) in kinds::REGISTRY.iter().zip(self.batches) {
            if let Some(b) = batch {
                inv.merge_batch(*ops, b);
            }
        }
        for (slot, ns) in self.coverage {
            inv.add_coverage(kinds::REGISTRY[slot].info(), ns.as_deref());
        }
        inv.input_errors.extend(self.errors);
        inv.origins.extend(self.origins);
    }

    fn load_path(&mut self, path: &Path, budget: &mut Budget) -> Result<()> {
        let meta = fs::metadata(path).map_err(|e| read_err(path, e))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path)
                .map_err(|e| read_err(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.') {
                    continue;
                }
                if entry.is_dir() || is_manifest(&entry) || is_zip(&entry) || is_tar_gz(&entry) {
                    self.load_path(&entry, budget)?;
                }
            }
            Ok(())
        } else if is_zip(path) {
            self.load_zip(path, meta.len(), budget)
        } else if is_tar_gz(path) {
            self.load_tar_gz(path, meta.len(), budget)
        } else {
            let name = path.display().to_string();
            if meta.len() >= STREAM_MIN_BYTES
                && bundle_place(&name).is_none()
                && is_json(path)
                && self.stream_json_list(path, &name, meta.len(), budget)
            {
                return Ok(());
            }
            let file = fs::File::open(path).map_err(|e| read_err(path, e))?;
            match budget.read(file, meta.len(), None) {
                Ok(bytes) => {
                    let text = String::from_utf8(bytes).map_err(|_| read_err(path, not_utf8()))?;
                    self.load_text(&name, &text);
                }
                Err(ReadError::Io(e)) => return Err(read_err(path, e)),
                Err(over) => self.error(&name, None, None, over.to_string()),
            }
            Ok(())
        }
    }

    fn load_zip(&mut self, path: &Path, archive_len: u64, budget: &mut Budget) -> Result<()> {
        let zip_err = |reason: String| Error::Zip {
            path: path.to_path_buf(),
            reason,
        };
        let file = fs::File::open(path).map_err(|e| read_err(path, e))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_err(e.to_string()))?;
        let mut seen_yamls = false;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(|e| zip_err(e.to_string()))?;
            let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
            if entry.is_dir() || !is_manifest(Path::new(&name)) || bundle_place(&name).is_none() {
                continue;
            }
            seen_yamls = true;
            let display = format!("{}!{name}", path.display());
            // The member's raw data cannot be longer than the archive, whatever its header says.
            let compressed = entry.compressed_size().min(archive_len);
            let declared = entry.size();
            let text = match budget.read(&mut entry, declared, Some(compressed)) {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| ReadError::Io(not_utf8())),
                Err(e) => Err(e),
            };
            match text {
                Ok(text) => self.load_text(&display, &text),
                Err(ReadError::Io(e)) => self.error(&display, None, None, format!("cannot read archive member: {e}")),
                Err(over) => self.error(&display, None, None, over.to_string()),
            }
        }
        if !seen_yamls {
            return Err(zip_err(
                "no <bundle>/yamls/cluster or <bundle>/yamls/namespaced files in the archive".into(),
            ));
        }
        Ok(())
    }

    /// A `.tar.gz` (as `dump` writes): every YAML/JSON member, bounded like a zip member with
    /// the whole archive's compressed size as the ratio's base.
    fn load_tar_gz(&mut self, path: &Path, archive_len: u64, budget: &mut Budget) -> Result<()> {
        let bad = |reason: String| Error::Archive {
            path: path.to_path_buf(),
            reason,
        };
        let file = fs::File::open(path).map_err(|e| read_err(path, e))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
        let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !is_manifest(Path::new(&name)) {
                continue;
            }
            let display = format!("{}!{name}", path.display());
            let declared = entry.size();
            let text = match budget.read(&mut entry, declared, Some(archive_len)) {
                Ok(bytes) => String::from_utf8(bytes).map_err(|_| ReadError::Io(not_utf8())),
                Err(e) => Err(e),
            };
            match text {
                Ok(text) => self.load_text(&display, &text),
                Err(ReadError::Io(e)) => return Err(bad(format!("{name}: {e}"))),
                Err(over) => self.error(&display, None, None, over.to_string()),
            }
        }
        Ok(())
    }

    /// Parse one file's text; `name` is what errors and coverage refer to.
    fn load_text(&mut self, name: &str, text: &str) {
        let place = bundle_place(name);
        if let Some(place) = &place
            && let Some(slot) = kinds::REGISTRY.iter().position(|o| o.info().plural == place.plural)
        {
            self.coverage.insert((slot, place.namespace.clone()));
        }
        let bundle = place.is_some();
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        // A dump manifest (small; a large List is not read twice for this).
        if trimmed.starts_with('{')
            && trimmed.len() < (16 << 20)
            && let Ok(head) = serde_json::from_str::<Head>(trimmed)
            && head.api_version == manifest::API_VERSION
            && head.kind == manifest::KIND
        {
            match serde_json::from_str::<manifest::Manifest>(trimmed) {
                Ok(m) => self.manifests.push((name.to_string(), m)),
                Err(e) => self.error(name, None, None, format!("invalid dump manifest: {e}")),
            }
            return;
        }
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            if !bundle && self.load_json_fast(name, trimmed) {
                return;
            }
            match serde_json::from_str::<Value>(trimmed) {
                Ok(v) => self.load_document(name, None, v, bundle),
                Err(e) => self.error(name, None, None, format!("invalid JSON: {e}")),
            }
            return;
        }
        let docs = split_yaml_documents(text);
        let multi = docs.len() > 1;
        for (index, doc) in docs.into_iter().enumerate() {
            if doc.trim().is_empty() {
                continue;
            }
            let doc_index = multi.then_some(index);
            if self.load_yaml_list(name, doc_index, doc, bundle) {
                continue;
            }
            match serde_saphyr::from_str_with_options::<Value>(doc, yaml_options()) {
                Ok(v) => self.load_document(name, doc_index, v, bundle),
                Err(e) => self.error(
                    name,
                    doc_index,
                    None,
                    format!("invalid YAML: {}", first_line(&e.to_string())),
                ),
            }
        }
    }

    /// JSON `List` (or single object) without building a `Value` tree: each item is kept as
    /// raw text and decoded straight into its typed view. Items that need rewriting (no
    /// namespace) or that fail take the general path. `false`: not a shape this handles.
    fn load_json_fast(&mut self, file: &str, text: &str) -> bool {
        let Ok(doc) = serde_json::from_str::<RawDoc>(text) else {
            return false;
        };
        match doc.items {
            Some(items) if doc.kind.as_deref().is_some_and(|k| k.ends_with("List")) => {
                self.load_chunk(file, 0, &items);
                true
            }
            _ => {
                self.load_raw(file, None, text);
                true
            }
        }
    }

    /// A big plain JSON file read as a stream: when it is a `List`, its items are decoded into
    /// their views a chunk at a time, so neither the file's text nor all of its raw items are
    /// held at once (a dump's pods file is most of its bytes). `false`, with nothing loaded or
    /// counted: not a List, not readable as one, or over a bound; the caller then reads the
    /// file whole, which reports what is wrong with it as before.
    fn stream_json_list(&mut self, path: &Path, name: &str, declared: u64, budget: &mut Budget) -> bool {
        let (cap, _) = budget.cap(None);
        if declared > cap {
            return false;
        }
        let Ok(file) = fs::File::open(path) else {
            return false;
        };
        let mut tentative = Loader::new();
        let outcome = json_list::stream(
            file.take(cap.saturating_add(1)),
            STREAM_CHUNK_ITEMS,
            &mut |base, chunk| tentative.load_chunk(name, base, chunk),
        );
        let listed = matches!(&outcome, Ok((Some(kind), true, _)) if kind.ends_with("List"));
        let read = outcome.map_or(0, |(_, _, read)| read);
        if !listed || read > cap {
            return false;
        }
        budget.read = budget.read.saturating_add(read);
        self.absorb(tentative);
        true
    }

    /// Items `base..` of a List (all of a List read whole, or a chunk of a streamed one), decoded
    /// on every core.
    fn load_chunk<T>(&mut self, file: &str, base: usize, chunk: &[T])
    where
        T: std::ops::Deref<Target = serde_json::value::RawValue> + Sync,
    {
        let runs = in_runs(chunk, JSON_ITEMS_PER_CORE, |loader, i, raw| {
            loader.load_raw(file, Some(base.saturating_add(i)), raw.get());
            true
        });
        for run in runs.into_iter().flatten() {
            self.absorb_run(file, run);
        }
    }

    /// A YAML `List` in kubectl's layout, entry by entry (see `yaml_list`). `false`: not that
    /// layout, or an entry is not YAML on its own; the caller then parses the whole document.
    fn load_yaml_list(&mut self, file: &str, doc: Option<usize>, text: &str, bundle: bool) -> bool {
        let Some(split) = yaml_list::split(text) else {
            return false;
        };
        let header = serde_saphyr::from_str_with_options::<Value>(&split.header, yaml_options());
        let Ok(Value::Object(header)) = header else {
            return false;
        };
        let is_list = header
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"));
        if !is_list || header.contains_key("items") {
            return false;
        }
        let runs = in_runs(&split.entries, YAML_ITEMS_PER_CORE, |loader, i, entry| {
            let text = yaml_list::entry_text(entry, split.dash);
            match serde_saphyr::from_str_with_options::<Value>(&text, yaml_options()) {
                Ok(v) => {
                    loader.load_object(file, doc, Some(i), v, bundle);
                    true
                }
                Err(_) => false,
            }
        });
        let Some(runs) = runs.into_iter().collect::<Option<Vec<_>>>() else {
            return false;
        };
        for run in runs {
            self.absorb_run(file, run);
        }
        true
    }

    fn absorb_run(&mut self, file: &str, run: Run) {
        match run {
            Ok(loader) => self.absorb(loader),
            Err(items) => self.error(
                file,
                None,
                None,
                format!("internal error decoding items {}..{}: skipped", items.start, items.end),
            ),
        }
    }

    /// Move what `other` loaded into this loader, after what this one holds.
    fn absorb(&mut self, other: Loader) {
        for ((ops, mine), theirs) in kinds::REGISTRY.iter().zip(self.batches.iter_mut()).zip(other.batches) {
            match (mine.as_mut(), theirs) {
                (_, None) => {}
                (None, Some(b)) => *mine = Some(b),
                (Some(m), Some(b)) => ops.merge(m, b),
            }
        }
        self.coverage.extend(other.coverage);
        self.errors.extend(other.errors);
        self.manifests.extend(other.manifests);
        self.origins.append(other.origins);
    }

    fn load_raw(&mut self, file: &str, item: Option<usize>, raw: &str) {
        let head = serde_json::from_str::<Head>(raw).ok();
        let ops = head
            .as_ref()
            .and_then(|h| kinds::by_api_version_kind(&h.api_version, &h.kind));
        let (Some(head), Some(ops)) = (head, ops) else {
            // Unknown kind (skipped) or not an object: the general path decides and reports.
            if let Ok(v) = serde_json::from_str::<Value>(raw) {
                if let Value::Object(m) = &v
                    && m.get("kind").and_then(Value::as_str).is_some()
                    && m.get("apiVersion").and_then(Value::as_str).is_some()
                {
                    return; // a kind no rule reads
                }
                self.load_object(file, None, item, v, false);
            }
            return;
        };
        let info = ops.info();
        let ns = head.metadata.namespace.filter(|n| !n.is_empty());
        if head.metadata.name.is_empty() || (info.namespaced && ns.is_none()) {
            if let Ok(v) = serde_json::from_str::<Value>(raw) {
                self.load_object(file, None, item, v, false);
            }
            return;
        }
        let slot = kinds::REGISTRY.iter().position(|o| o.info().same(info)).unwrap_or(0);
        let batch = self.batches[slot].get_or_insert_with(|| ops.new_batch());
        match ops.push_json(batch, raw) {
            Ok(()) => {
                let ns = if info.namespaced { ns } else { None };
                self.origins
                    .insert(slot, ns.as_deref(), &head.metadata.name, file, None, item, None);
                self.coverage.insert((slot, ns));
            }
            Err(e) => {
                let label = format!(
                    "{}{}/{}",
                    item.map(|i| format!("items[{i}] ")).unwrap_or_default(),
                    info.kind,
                    head.metadata.name
                );
                self.error(file, None, Some(label), e);
            }
        }
    }

    fn load_document(&mut self, file: &str, doc: Option<usize>, value: Value, bundle: bool) {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    self.load_object(file, Some(doc.unwrap_or(0)), Some(i), item, bundle);
                }
            }
            Value::Object(mut map) => {
                let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
                if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
                    match map.remove("items") {
                        Some(Value::Array(items)) => {
                            for (i, item) in items.into_iter().enumerate() {
                                self.load_object(file, doc, Some(i), item, bundle);
                            }
                        }
                        Some(Value::Null) | None => {}
                        Some(Value::String(s)) if bundle && s == "null" => {}
                        Some(_) => self.error(file, doc, None, "field items: expected a list".into()),
                    }
                } else {
                    self.load_object(file, doc, None, Value::Object(map), bundle);
                }
            }
            _ => self.error(file, doc, None, "expected a Kubernetes object (a mapping)".into()),
        }
    }

    fn load_object(&mut self, file: &str, doc: Option<usize>, item: Option<usize>, mut value: Value, bundle: bool) {
        if bundle {
            bundle_nulls(&mut value);
        }
        let Value::Object(map) = &mut value else {
            return self.error(
                file,
                doc,
                item.map(|i| format!("items[{i}]")),
                "expected a Kubernetes object (a mapping)".into(),
            );
        };
        let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let label = |detail: &str| {
            let mut s = String::new();
            if let Some(i) = item {
                s.push_str(&format!("items[{i}] "));
            }
            if !kind.is_empty() {
                s.push_str(&kind);
                s.push('/');
            }
            s.push_str(if name.is_empty() { detail } else { &name });
            s
        };
        if api_version.is_empty() || kind.is_empty() {
            let missing = if kind.is_empty() { "kind" } else { "apiVersion" };
            return self.error(file, doc, Some(label("(unnamed)")), format!("field {missing}: missing"));
        }
        let Some(ops) = kinds::by_api_version_kind(&api_version, &kind) else {
            return; // a kind no rule reads
        };
        let info = ops.info();
        let mut namespace = None;
        if info.namespaced {
            let meta = map
                .entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(meta) = meta {
                let ns = match meta.get("namespace").and_then(Value::as_str) {
                    Some(ns) if !ns.is_empty() => ns.to_string(),
                    _ => {
                        // As kubectl would apply it.
                        meta.insert("namespace".into(), Value::String("default".into()));
                        "default".to_string()
                    }
                };
                namespace = Some(ns);
            }
        }
        if name.is_empty() {
            return self.error(
                file,
                doc,
                Some(label("(unnamed)")),
                "field metadata.name: missing".into(),
            );
        }
        let slot = kinds::REGISTRY.iter().position(|o| o.info().same(info)).unwrap_or(0);
        let batch = self.batches[slot].get_or_insert_with(|| ops.new_batch());
        match ops.push_value(batch, value) {
            Ok(()) => {
                self.origins
                    .insert(slot, namespace.as_deref(), &name, file, doc, item, None);
                self.coverage.insert((slot, namespace));
            }
            Err(e) => self.error(file, doc, Some(label("(unnamed)")), e),
        }
    }

    fn error(&mut self, file: &str, document: Option<usize>, object: Option<String>, reason: String) {
        self.errors.push(InputError {
            source: file.to_string(),
            document,
            object,
            reason,
        });
    }
}

/// Plain JSON files at least this big are streamed (see `Loader::stream_json_list`).
const STREAM_MIN_BYTES: u64 = 4 << 20;
/// Raw items held at once while streaming a List (decoded on every core, as a List read whole).
const STREAM_CHUNK_ITEMS: usize = 4_000;

/// A JSON document seen from the top: its kind and, for Lists, the raw items.
#[derive(serde::Deserialize)]
struct RawDoc<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a serde_json::value::RawValue>>,
}

/// What identifies an object, read without decoding the rest.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: HeadMeta,
}

#[derive(serde::Deserialize, Default)]
struct HeadMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

fn read_err(path: &Path, source: std::io::Error) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// As `read_to_string` words it.
fn not_utf8() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "stream did not contain valid UTF-8")
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn is_manifest(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml" | "json")
    )
}

fn is_json(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn is_tar_gz(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

fn is_zip(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Where a support bundle file sits: `.../yamls/namespaced/<ns>/.../<plural>.yaml` or
/// `.../yamls/cluster/.../<plural>.yaml`.
struct BundlePlace {
    namespace: Option<String>,
    plural: String,
}

fn bundle_place(path: &str) -> Option<BundlePlace> {
    let parts: Vec<&str> = path.split(['/', '\\']).collect();
    let at = parts.iter().rposition(|p| *p == "yamls")?;
    let rest = &parts[at + 1..];
    let file = rest.last()?;
    let plural = file.rsplit_once('.').map_or(*file, |(stem, _)| stem).to_string();
    match *rest.first()? {
        "namespaced" if rest.len() >= 3 => Some(BundlePlace {
            namespace: Some(rest[1].to_string()),
            plural,
        }),
        "cluster" if rest.len() >= 2 => Some(BundlePlace {
            namespace: None,
            plural,
        }),
        _ => None,
    }
}

/// Support bundles write `null` and `""` as the string `"null"`: read it as empty.
fn bundle_nulls(v: &mut Value) {
    match v {
        Value::String(s) if s == "null" => *v = Value::Null,
        Value::Array(a) => a.iter_mut().for_each(bundle_nulls),
        Value::Object(m) => m.values_mut().for_each(bundle_nulls),
        _ => {}
    }
}

/// Split a YAML stream at `---` document markers (a marker is always at column 0; block
/// scalar content is indented, so this cannot cut inside a value).
pub(crate) fn split_yaml_documents(text: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    let mut first = true;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end_matches(['\n', '\r']);
        let is_marker = l == "---" || l.starts_with("--- ") || l.starts_with("---\t") || l == "...";
        if is_marker {
            let before = &text[start..pos];
            if !(first && before.trim().is_empty()) {
                docs.push(before);
            }
            first = false;
            // `--- value` keeps the value as the document's first line.
            start = if l.starts_with("--- ") {
                pos + 4
            } else {
                pos + line.len()
            };
        }
        pos += line.len();
    }
    docs.push(&text[start..]);
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON List over `STREAM_MIN_BYTES` is streamed: every item loads, with its item index,
    /// an item without a namespace takes the general path, and a bad item is an error that does
    /// not stop the rest. The same bytes as a non-List fall back to reading the file whole.
    #[test]
    fn streams_big_json_lists() {
        let dir = tempfile::tempdir().unwrap();
        let pad = "x".repeat(1024);
        let n = 6_000;
        let mut items: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{{"name":"p{i}","namespace":"ns","annotations":{{"pad":"{pad}"}}}},"spec":{{}}}}"#
                )
            })
            .collect();
        items.push(r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"nons"}}"#.into());
        items.push(r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"bad","namespace":"ns"},"spec":{"resources":7}}"#.into());
        let text = format!(
            r#"{{"apiVersion":"v1","items":[{}],"kind":"List","metadata":{{}}}}"#,
            items.join(",")
        );
        assert!(text.len() as u64 > STREAM_MIN_BYTES);
        let list = dir.path().join("list.json");
        fs::write(&list, &text).unwrap();
        let mut inv = Inventory::new(None, true);
        load(&mut inv, std::slice::from_ref(&list)).unwrap();
        let pvcs = inv.objects::<kinds::PersistentVolumeClaim>();
        assert_eq!(pvcs.len(), n + 1, "{:?}", inv.input_errors);
        assert!(
            pvcs.iter()
                .any(|p| p.metadata.name == "nons" && p.metadata.namespace.as_deref() == Some("default"))
        );
        let key = (
            "PersistentVolumeClaim".to_string(),
            Some("ns".to_string()),
            "p4321".to_string(),
        );
        assert_eq!(inv.origins.get(&key).and_then(|o| o.item), Some(4321));
        assert_eq!(inv.input_errors.len(), 1, "{:?}", inv.input_errors);
        assert!(inv.input_errors[0].object.as_deref().is_some_and(|o| o.contains("bad")));

        // Not a List: one object whose `items` happen to be objects; nothing of them loads.
        let other = dir.path().join("other.json");
        fs::write(&other, text.replace(r#""kind":"List""#, r#""kind":"Thing""#)).unwrap();
        let mut inv = Inventory::new(None, true);
        load(&mut inv, std::slice::from_ref(&other)).unwrap();
        assert_eq!(inv.objects::<kinds::PersistentVolumeClaim>().len(), 0);
    }

    #[test]
    fn splits_documents() {
        let docs = split_yaml_documents("---\na: 1\n---\nb: |\n  ---x\n...\n--- {c: 3}\n");
        assert_eq!(docs, vec!["a: 1\n", "b: |\n  ---x\n", "", "{c: 3}\n"]);
        assert_eq!(split_yaml_documents("a: 1\n"), vec!["a: 1\n"]);
    }

    fn budget(max_file_bytes: u64, max_total_bytes: u64, max_zip_ratio: u64) -> Budget {
        Budget {
            limits: Limits {
                max_file_bytes,
                max_total_bytes,
                max_zip_ratio,
                assume_complete: false,
            },
            read: 0,
        }
    }

    /// A stream that never ends and declares nothing: only the bytes read can stop it.
    fn zeros() -> impl Read {
        io::repeat(0)
    }

    #[test]
    fn the_ratio_is_judged_on_the_bytes_inflated_not_the_declared_size() {
        let mut b = budget(DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_TOTAL_BYTES, 100);
        // 100 compressed bytes may inflate to the floor, 1 MiB; a declared 0 does not help.
        let err = b.read(zeros(), 0, Some(100)).unwrap_err();
        let ReadError::ZipRatio {
            ratio,
            compressed,
            seen,
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!((*ratio, *compressed), (100, 100));
        assert!(matches!(seen, Seen::Read(n) if *n == RATIO_FLOOR + 1), "{err}");
        // Above the floor: compressed × ratio.
        let err = b.read(zeros(), 0, Some(1 << 20)).unwrap_err();
        assert!(
            matches!(err, ReadError::ZipRatio { seen: Seen::Read(n), .. } if n == (100 << 20) + 1),
            "{err}"
        );
        assert!(err.to_string().contains("--max-zip-ratio 100:1"), "{err}");
        // Every byte read counts towards the total.
        assert_eq!(b.read, RATIO_FLOOR + 1 + (100 << 20) + 1);
        // Near miss: exactly at the cap is kept.
        let mut b = budget(DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_TOTAL_BYTES, 100);
        let got = b.read(zeros().take(RATIO_FLOOR), RATIO_FLOOR, Some(100)).unwrap();
        assert_eq!(got.len() as u64, RATIO_FLOOR);
    }

    #[test]
    fn declared_sizes_over_a_bound_are_refused_before_reading() {
        let mut b = budget(1_000, 10_000, 100);
        let err = b.read(zeros(), 1_001, None).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::FileBytes {
                    limit: 1_000,
                    seen: Seen::Declared(1_001)
                }
            ),
            "{err}"
        );
        let err = b.read(zeros(), 2 << 20, Some(10)).unwrap_err();
        assert!(matches!(err, ReadError::FileBytes { .. }), "{err}");
        assert_eq!(b.read, 0);
    }

    #[test]
    fn the_file_and_total_caps_hold_on_the_bytes_read() {
        let mut b = budget(1_000, 2_500, 100);
        let err = b.read(zeros(), 10, None).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::FileBytes {
                    seen: Seen::Read(1_001),
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(b.read(zeros().take(1_000), 1_000, None).unwrap().len(), 1_000);
        // 2_001 read so far: 499 left, tighter than the file cap.
        let err = b.read(zeros(), 0, None).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::TotalBytes {
                    limit: 2_500,
                    before: 2_001,
                    seen: Seen::Read(500)
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--max-total-bytes 2500"), "{err}");
        // Spent: only an empty file still fits.
        assert!(b.read(zeros(), 1, None).is_err());
        assert!(b.read(io::empty(), 0, None).unwrap().is_empty());
    }

    #[test]
    fn bundle_places() {
        let p = bundle_place("sb-123/yamls/namespaced/team-a/harvester/virtualmachineimages.yaml").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("team-a"));
        assert_eq!(p.plural, "virtualmachineimages");
        let p = bundle_place("sb/yamls/cluster/kubernetes/storageclasses.yaml").unwrap();
        assert_eq!(p.namespace, None);
        assert!(bundle_place("sb/logs/x.yaml").is_none());
        assert!(bundle_place("plain/images.yaml").is_none());
    }
}
