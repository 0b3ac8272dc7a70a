//! Where files input read each object, in a few dozen bytes per object: the kind as its index
//! in the registry, the namespace and the file as indexes into tables of distinct values, the
//! name in one shared text buffer, and document, item and line as `u32`. A map keyed by
//! `(String, Option<String>, String)` holding an [`Origin`] cost about 250 bytes per object.

use std::collections::HashMap;

use super::{ObjectKey, kinds};
use crate::meta::Origin;

/// "No value" for the `u32` fields and the cluster-scoped namespace.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: u16,
    ns: u32,
    name: u32,
    name_len: u32,
    file: u32,
    document: u32,
    item: u32,
    line: u32,
}

/// Object key → [`Origin`]. Entries are appended while loading; [`Origins::seal`] sorts them
/// (the last one read for a key wins, as a map insert would), and lookups search the sorted
/// part by bisection and any entries added since from the end.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    files: Vec<Box<str>>,
    file_ids: HashMap<Box<str>, u32>,
    namespaces: Vec<Box<str>>,
    ns_ids: HashMap<Box<str>, u32>,
    names: String,
    entries: Vec<Entry>,
    /// `entries[..sorted]` is sorted by key, without duplicates.
    sorted: usize,
}

fn small(v: Option<usize>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v != NONE)
        .unwrap_or(NONE)
}

fn big(v: u32) -> Option<usize> {
    (v != NONE).then_some(v as usize)
}

fn intern(table: &mut Vec<Box<str>>, ids: &mut HashMap<Box<str>, u32>, s: &str) -> Option<u32> {
    if let Some(&id) = ids.get(s) {
        return Some(id);
    }
    let id = u32::try_from(table.len()).ok().filter(|&id| id != NONE)?;
    table.push(s.into());
    ids.insert(s.into(), id);
    Some(id)
}

/// Registry index of a qualified kind (`Kind.group`, or `Kind` for the core group).
fn kind_slot(kind: &str) -> Option<u16> {
    let slot = kinds::REGISTRY.iter().position(|o| o.info().qualified() == kind)?;
    u16::try_from(slot).ok()
}

impl Origins {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn name(&self, e: &Entry) -> &str {
        let start = e.name as usize;
        self.names
            .get(start..start.saturating_add(e.name_len as usize))
            .unwrap_or("")
    }

    /// Record that the object (`slot` in the registry, namespace, name) was read at `file`,
    /// `document`, `item`, `line`. Skipped (never a panic) past 4 G distinct files, namespaces
    /// or name bytes, which input bounds never allow.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &mut self,
        slot: usize,
        ns: Option<&str>,
        name: &str,
        file: &str,
        document: Option<usize>,
        item: Option<usize>,
        line: Option<usize>,
    ) {
        let Ok(kind) = u16::try_from(slot) else {
            return;
        };
        let ns = match ns {
            Some(n) => match intern(&mut self.namespaces, &mut self.ns_ids, n) {
                Some(id) => id,
                None => return,
            },
            None => NONE,
        };
        let Some(file) = intern(&mut self.files, &mut self.file_ids, file) else {
            return;
        };
        let (Ok(start), Ok(name_len)) = (u32::try_from(self.names.len()), u32::try_from(name.len())) else {
            return;
        };
        if start.checked_add(name_len).is_none() {
            return;
        }
        self.names.push_str(name);
        self.entries.push(Entry {
            kind,
            ns,
            name: start,
            name_len,
            file,
            document: small(document),
            item: small(item),
            line: small(line),
        });
    }

    /// Sort what was added since the last call (later entries replace earlier ones of the same
    /// object) and give back spare capacity.
    pub fn seal(&mut self) {
        if self.sorted == self.entries.len() {
            return;
        }
        let mut entries = std::mem::take(&mut self.entries);
        // Stable: among equal keys, the order they were read in.
        entries.sort_by(|a, b| (a.kind, a.ns, self.name(a)).cmp(&(b.kind, b.ns, self.name(b))));
        // In place (no second list at the peak): of equal keys the last read is kept, copied
        // over the first.
        entries.dedup_by(|later, kept| {
            let same = (later.kind, later.ns) == (kept.kind, kept.ns) && self.name(later) == self.name(kept);
            if same {
                *kept = *later;
            }
            same
        });
        entries.shrink_to_fit();
        self.entries = entries;
        self.sorted = self.entries.len();
        self.names.shrink_to_fit();
    }

    /// Index of the entry for an object key.
    fn find(&self, kind: &str, ns: Option<&str>, name: &str) -> Option<usize> {
        let kind = kind_slot(kind)?;
        let ns = match ns {
            Some(n) => *self.ns_ids.get(n)?,
            None => NONE,
        };
        let same = |e: &Entry| e.kind == kind && e.ns == ns && self.name(e) == name;
        let (sorted, recent) = self.entries.split_at(self.sorted.min(self.entries.len()));
        if let Some(i) = recent.iter().rposition(same) {
            return Some(sorted.len().saturating_add(i));
        }
        sorted
            .binary_search_by(|e| (e.kind, e.ns, self.name(e)).cmp(&(kind, ns, name)))
            .ok()
    }

    fn origin(&self, e: &Entry) -> Origin {
        Origin {
            file: self
                .files
                .get(e.file as usize)
                .map_or_else(String::new, |f| f.to_string()),
            document: big(e.document),
            item: big(e.item),
            line: big(e.line),
        }
    }

    /// Where the object of `key` was read.
    pub fn get(&self, key: &ObjectKey) -> Option<Origin> {
        let i = self.find(&key.0, key.1.as_deref(), &key.2)?;
        self.entries.get(i).map(|e| self.origin(e))
    }

    /// Set the line of an object's origin, and drop its item when `clear_item`.
    pub fn set_line(&mut self, key: &ObjectKey, line: Option<usize>, clear_item: bool) {
        let Some(i) = self.find(&key.0, key.1.as_deref(), &key.2) else {
            return;
        };
        if let Some(e) = self.entries.get_mut(i) {
            e.line = small(line);
            if clear_item {
                e.item = NONE;
            }
        }
    }

    fn key(&self, e: &Entry) -> ObjectKey {
        let kind = kinds::REGISTRY
            .get(e.kind as usize)
            .map_or_else(String::new, |o| o.info().qualified());
        let ns = (e.ns != NONE).then(|| {
            self.namespaces
                .get(e.ns as usize)
                .map_or_else(String::new, |n| n.to_string())
        });
        (kind, ns, self.name(e).to_string())
    }

    /// The key of every object with an origin (once each).
    pub fn keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<ObjectKey> = self.entries.iter().map(|e| self.key(e)).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Add every origin of `other` (replacing those of the same objects), then [`Origins::seal`].
    pub fn extend(&mut self, other: Origins) {
        self.append(other);
        self.seal();
    }

    /// Add every origin of `other` after this one's, without sorting (a loader absorbing what a
    /// worker read).
    pub fn append(&mut self, other: Origins) {
        if self.is_empty() {
            *self = other;
            return;
        }
        self.entries.reserve(other.entries.len());
        for e in &other.entries {
            let ns = (e.ns != NONE).then(|| other.namespaces.get(e.ns as usize).map(|n| &**n).unwrap_or(""));
            let file = other.files.get(e.file as usize).map(|f| &**f).unwrap_or("");
            self.insert(
                e.kind as usize,
                ns,
                other.name(e),
                file,
                big(e.document),
                big(e.item),
                big(e.line),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, ns: Option<&str>, name: &str) -> ObjectKey {
        (kind.to_string(), ns.map(str::to_string), name.to_string())
    }

    #[test]
    fn last_read_wins_and_lookups_see_unsealed_entries() {
        let pvc = kinds::REGISTRY
            .iter()
            .position(|o| o.info().kind == "PersistentVolumeClaim")
            .unwrap();
        let mut o = Origins::default();
        o.insert(pvc, Some("ns"), "a", "one.json", None, Some(3), None);
        o.insert(pvc, Some("ns"), "b", "one.json", None, Some(4), None);
        o.insert(pvc, Some("ns"), "a", "two.yaml", Some(1), None, None);
        let a = key("PersistentVolumeClaim", Some("ns"), "a");
        // Not sealed yet: the newest entry is found.
        assert_eq!(o.get(&a).map(|x| x.file), Some("two.yaml".to_string()));
        o.seal();
        assert_eq!(o.len(), 2);
        let got = o.get(&a).unwrap();
        assert_eq!((got.file.as_str(), got.document, got.item), ("two.yaml", Some(1), None));
        let b = o.get(&key("PersistentVolumeClaim", Some("ns"), "b")).unwrap();
        assert_eq!((b.file.as_str(), b.item), ("one.json", Some(4)));
        assert!(o.get(&key("PersistentVolumeClaim", Some("other"), "a")).is_none());
        assert!(o.get(&key("PersistentVolumeClaim", None, "a")).is_none());
        o.set_line(&a, Some(12), true);
        let got = o.get(&a).unwrap();
        assert_eq!((got.line, got.item), (Some(12), None));

        let mut merged = Origins::default();
        merged.insert(pvc, Some("ns"), "b", "zero.json", None, None, None);
        merged.insert(pvc, None, "c", "zero.json", None, None, None);
        merged.extend(o);
        assert_eq!(merged.keys().len(), 3);
        assert_eq!(
            merged
                .get(&key("PersistentVolumeClaim", Some("ns"), "b"))
                .map(|x| x.file),
            Some("one.json".into())
        );
        assert_eq!(
            merged.get(&key("PersistentVolumeClaim", None, "c")).map(|x| x.file),
            Some("zero.json".into())
        );
    }
}
