//! Everything the rules read, gathered once: live from the API server ([`live`]) or from
//! files ([`files`]). Each kind is a typed view in [`kinds`] that keeps only the fields the
//! rules need; adding a kind is one file there plus one line in [`kinds::REGISTRY`].

pub mod files;
mod json_list;
pub mod kinds;
pub mod live;
pub mod manifest;
pub mod openstack;
pub mod origins;
pub mod probe;
pub mod rancher;
mod yaml_list;

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::meta::{Meta, ObjectRef, Origin};
use crate::version::Version;

/// How the API serves a kind.
#[derive(Debug)]
pub struct KindInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// Part of an optional add-on: a 404 means "not installed", which is not a failure.
    pub optional: bool,
    /// When not empty, live mode reads only these objects by name (a GET each) instead of
    /// listing the kind, so RBAC can be limited with `resourceNames`.
    pub only_names: &'static [&'static str],
    /// The one namespace the kind's objects live in (Longhorn's `longhorn-system`); knowing
    /// that namespace is knowing the kind.
    pub home_namespace: Option<&'static str>,
    /// A cluster-scoped kind named after namespaces (Namespace): with `-n`, live mode GETs
    /// only the object of that name, and a 403 for it is out of scope, not a failed scan.
    pub by_scope_name: bool,
    /// Live mode lists this kind after all others (VirtualMachineInstanceMigrations, so a
    /// migration that starts while quotas are read is still seen).
    pub list_last: bool,
}

impl KindInfo {
    /// The defaults the `kind!` macro fills in.
    pub const DEFAULT: KindInfo = KindInfo {
        group: "",
        version: "v1",
        kind: "",
        plural: "",
        namespaced: true,
        optional: false,
        only_names: &[],
        home_namespace: None,
        by_scope_name: false,
        list_last: false,
    };

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// The same kind: group and kind name both match (Harvester's and Longhorn's `Setting`
    /// differ only by group).
    pub fn same(&self, other: &KindInfo) -> bool {
        self.group == other.group && self.kind == other.kind
    }
    /// `Kind.group`, kubectl's fully qualified spelling (`StorageClass.storage.k8s.io`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// A typed view of one kind.
pub trait Kind: DeserializeOwned + Send + Sync + 'static {
    const INFO: KindInfo;
    fn meta(&self) -> &Meta;

    fn object_ref(&self) -> ObjectRef {
        let m = self.meta();
        ObjectRef {
            api_version: Self::INFO.api_version(),
            kind: Self::INFO.kind.to_string(),
            namespace: m.namespace.as_deref().map(str::to_owned),
            name: m.name.to_string(),
            uid: m.uid.as_deref().map(str::to_owned),
            resource_version: m.resource_version.as_deref().map(str::to_owned),
            details: Default::default(),
        }
    }
}

/// `impl Kind` for a view whose metadata field is `metadata`:
/// `kind!(Pod, group: "", version: "v1", kind: "Pod", plural: "pods");` plus any other
/// [`KindInfo`] field (`namespaced: false`, `optional: true`, ...).
#[macro_export]
macro_rules! kind {
    ($ty:ty, $($field:ident: $val:expr),+ $(,)?) => {
        impl $crate::inventory::Kind for $ty {
            const INFO: $crate::inventory::KindInfo =
                $crate::inventory::KindInfo { $($field: $val,)+ ..$crate::inventory::KindInfo::DEFAULT };
            fn meta(&self) -> &$crate::meta::Meta {
                &self.metadata
            }
        }
    };
}

/// A batch of decoded objects of one kind (a `Vec<K>` behind `Any`).
pub type Batch = Box<dyn Any + Send + Sync>;

/// Object-safe handle on a [`Kind`], so loaders can work over the registry.
pub trait KindOps: Sync {
    fn info(&self) -> &'static KindInfo;
    fn new_batch(&self) -> Batch;
    /// Decode one object from JSON text into the batch.
    fn push_json(&self, batch: &mut Batch, json: &str) -> Result<(), String>;
    /// Decode one already-parsed object into the batch.
    fn push_value(&self, batch: &mut Batch, value: serde_json::Value) -> Result<(), String>;
    fn len(&self, batch: &Batch) -> usize;
    /// Move the objects of `from` into `into` (both batches of this kind).
    fn merge(&self, into: &mut Batch, from: Batch);
    /// Make room for `additional` more objects at once (a live list announces its size).
    fn reserve(&self, batch: &mut Batch, additional: usize);
    /// Give back the spare capacity of a finished batch (a `Vec` that grew by doubling holds
    /// up to twice its objects' inline size).
    fn shrink(&self, batch: &mut Batch);
    /// Cut `value` down to the fields this kind's view reads (what `dump` writes): every field
    /// the view ignores is removed, so the object decodes to the same view and carries nothing
    /// else (no cloud-init user data, no last-applied configuration). Errors if it does not decode.
    fn project(&self, value: &mut serde_json::Value) -> Result<(), String>;
}

/// One step of a path into a JSON value.
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &serde_ignored::Path<'_>, out: &mut Vec<Step>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            steps(parent, out);
            out.push(Step::Index(*index));
        }
        Path::Map { parent, key } => {
            steps(parent, out);
            out.push(Step::Key(key.clone()));
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => steps(parent, out),
    }
}

/// Remove the value at `path` (a no-op when it is not there).
fn remove_at(value: &mut serde_json::Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut v = value;
    for s in parents {
        v = match (s, v) {
            (Step::Key(k), serde_json::Value::Object(m)) => match m.get_mut(k) {
                Some(x) => x,
                None => return,
            },
            (Step::Index(i), serde_json::Value::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    match (last, v) {
        (Step::Key(k), serde_json::Value::Object(m)) => {
            m.remove(k);
        }
        // Sequence items are never ignored whole by a view (a Vec reads every item); mark it.
        (Step::Index(i), serde_json::Value::Array(a)) => {
            if let Some(x) = a.get_mut(*i) {
                *x = serde_json::Value::Null;
            }
        }
        _ => {}
    }
}

pub struct Ops<K>(PhantomData<fn() -> K>);

impl<K> Ops<K> {
    pub const NEW: Ops<K> = Ops(PhantomData);
}

impl<K: Kind> KindOps for Ops<K> {
    fn info(&self) -> &'static KindInfo {
        &K::INFO
    }
    fn new_batch(&self) -> Batch {
        Box::new(Vec::<K>::new())
    }
    fn push_json(&self, batch: &mut Batch, json: &str) -> Result<(), String> {
        let obj: K = serde_json::from_str(json).map_err(|e| e.to_string())?;
        push(batch, obj)
    }
    fn push_value(&self, batch: &mut Batch, value: serde_json::Value) -> Result<(), String> {
        let obj: K = serde_json::from_value(value).map_err(|e| e.to_string())?;
        push(batch, obj)
    }
    fn len(&self, batch: &Batch) -> usize {
        batch.downcast_ref::<Vec<K>>().map_or(0, Vec::len)
    }
    fn merge(&self, into: &mut Batch, from: Batch) {
        if let (Some(into), Ok(from)) = (into.downcast_mut::<Vec<K>>(), from.downcast::<Vec<K>>()) {
            // Exact growth, by at least an eighth: a loader absorbs a List's runs one after
            // another (a streamed List: two per 4,000 items), and growth by doubling left up to
            // half of a kind's objects as spare capacity at the peak. An eighth keeps the
            // copying linear when many small Lists are absorbed.
            if into.capacity().saturating_sub(into.len()) < from.len() {
                into.reserve_exact(from.len().max(into.len() / 8));
            }
            into.extend(*from);
        }
    }
    fn reserve(&self, batch: &mut Batch, additional: usize) {
        if let Some(v) = batch.downcast_mut::<Vec<K>>() {
            // A hint: if the memory is not there, the objects still come one by one.
            let _ = v.try_reserve_exact(additional);
        }
    }
    fn shrink(&self, batch: &mut Batch) {
        if let Some(v) = batch.downcast_mut::<Vec<K>>() {
            v.shrink_to_fit();
        }
    }
    fn project(&self, value: &mut serde_json::Value) -> Result<(), String> {
        let mut ignored: Vec<Vec<Step>> = Vec::new();
        serde_ignored::deserialize::<_, _, K>(&*value, |path| {
            let mut s = Vec::new();
            steps(&path, &mut s);
            ignored.push(s);
        })
        .map_err(|e| e.to_string())?;
        // Only map keys are removed, so one removal never moves another's path.
        for p in ignored.iter().filter(|p| !p.is_empty()) {
            remove_at(value, p);
        }
        Ok(())
    }
}

fn push<K: Kind>(batch: &mut Batch, obj: K) -> Result<(), String> {
    match batch.downcast_mut::<Vec<K>>() {
        Some(v) => {
            v.push(obj);
            Ok(())
        }
        None => Err(format!("internal: batch is not a {} batch", K::INFO.kind)),
    }
}

/// Whether the inventory saw a kind, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "scope", content = "namespaces")]
pub enum Coverage {
    /// Every object of the kind in the cluster is in the inventory (an add-on that is not
    /// installed counts: it has no objects).
    All,
    /// Only these namespaces are known.
    Namespaces(BTreeSet<String>),
    /// Nothing is known about this kind.
    Unknown,
}

impl Coverage {
    /// Is the kind known in `namespace` (`None`: cluster-wide, or a cluster-scoped kind)?
    pub fn covers(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (Coverage::All, _) => true,
            (Coverage::Namespaces(set), Some(ns)) => set.contains(ns),
            _ => false,
        }
    }
}

/// Why part of the inventory is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gap {
    /// 403 from the API server.
    Forbidden,
    /// 404: the API is not served.
    NotFound,
    /// Any other failure (timeout, 5xx, decode).
    Failed,
    /// Files input: the kind (or namespace) is not in the dump.
    NotInInput,
    /// `-n` limited the scan to namespaces that do not hold it.
    OutOfScope,
}

/// One entry of the report's `incomplete` list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incomplete {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The one object the entry is about (an OpenstackSource whose OpenStack project
    /// `--openstack` could not check); absent for a whole kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reason: Gap,
    pub message: String,
    /// Rules whose results this gap limits.
    pub rules: Vec<String>,
}

/// A document or object that could not be read; it is skipped and the rest is scanned.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputError {
    /// The file (or `apiVersion/kind` for a live object).
    pub source: String,
    /// 0-based document index in a multi-document file, or item index in a List.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub reason: String,
}

/// Where the Harvester version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    Flag,
    Setting,
    Unknown,
}

/// A failure to read one kind (live mode), kept until the report is built.
#[derive(Debug, Clone)]
pub struct KindGap {
    pub kind: &'static KindInfo,
    pub namespace: Option<String>,
    pub reason: Gap,
    pub message: String,
}

/// Everything the rules read.
pub struct Inventory {
    store: HashMap<StoreKey, Batch>,
    coverage: BTreeMap<StoreKey, Coverage>,
    pub gaps: Vec<KindGap>,
    pub input_errors: Vec<InputError>,
    pub harvester_version: Option<Version>,
    /// The raw `server-version` value, even when it does not parse.
    pub harvester_version_raw: Option<String>,
    pub version_source: VersionSource,
    /// `-n`: only this namespace is listed and reported.
    pub namespace: Option<String>,
    /// Files input from a support bundle (affects how gaps are worded).
    pub from_files: bool,
    /// `--openstack`: the import-controller resources of each OpenstackSource's project.
    pub openstack: Option<openstack::Inventory>,
    /// Kinds of optional add-ons whose API is not served (404): covered, since none exist.
    pub not_installed: std::collections::BTreeSet<StoreKey>,
    /// Files input: when the dump was taken (its manifest's `capturedAt`), the scan's clock.
    pub captured_at: Option<jiff::Timestamp>,
    /// Files input: where each object was read.
    pub origins: origins::Origins,
    /// `--probe-urls`: what each image URL answered.
    pub url_probes: Option<probe::Probes>,
    /// `--rancher-kubeconfig`: what Rancher knows of its guest clusters.
    pub rancher: Option<rancher::Inventory>,
}

/// An object's identity in one inventory: (qualified kind, namespace, name), the kind as
/// [`KindInfo::qualified`] spells it.
pub type ObjectKey = (String, Option<String>, String);

/// The [`ObjectKey`] of an object reference.
pub fn object_key(obj: &ObjectRef) -> ObjectKey {
    let group = obj.api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = if group.is_empty() {
        obj.kind.clone()
    } else {
        format!("{}.{group}", obj.kind)
    };
    (kind, obj.namespace.clone(), obj.name.clone())
}

/// A kind's identity: (group, kind). Kind names alone are not unique (Harvester's
/// `settings.harvesterhci.io` and Longhorn's `settings.longhorn.io` are both `Setting`).
pub type StoreKey = (&'static str, &'static str);

/// Store key of a kind (unique across the registry, checked by a unit test).
pub fn key(info: &'static KindInfo) -> StoreKey {
    (info.group, info.kind)
}

impl Inventory {
    pub fn new(namespace: Option<String>, from_files: bool) -> Self {
        Inventory {
            store: HashMap::new(),
            coverage: BTreeMap::new(),
            gaps: Vec::new(),
            input_errors: Vec::new(),
            harvester_version: None,
            harvester_version_raw: None,
            version_source: VersionSource::Unknown,
            namespace,
            from_files,
            openstack: None,
            not_installed: Default::default(),
            captured_at: None,
            origins: Default::default(),
            url_probes: None,
            rancher: None,
        }
    }

    /// All objects of kind `K` in the inventory.
    pub fn objects<K: Kind>(&self) -> &[K] {
        self.store
            .get(&key(&K::INFO))
            .and_then(|b| b.downcast_ref::<Vec<K>>())
            .map_or(&[], Vec::as_slice)
    }

    /// Test and generator helper: add objects of a kind directly.
    pub fn insert<K: Kind>(&mut self, objs: Vec<K>, coverage: Coverage) {
        let b = self
            .store
            .entry(key(&K::INFO))
            .or_insert_with(|| Box::new(Vec::<K>::new()));
        if let Some(v) = b.downcast_mut::<Vec<K>>() {
            v.extend(objs);
        }
        self.coverage.insert(key(&K::INFO), coverage);
    }

    /// Merge a decoded batch of `ops`'s kind.
    pub fn merge_batch(&mut self, ops: &dyn KindOps, batch: Batch) {
        let k = key(ops.info());
        match self.store.get_mut(&k) {
            None => {
                self.store.insert(k, batch);
            }
            Some(existing) => ops.merge(existing, batch),
        }
    }

    pub fn set_coverage(&mut self, info: &'static KindInfo, coverage: Coverage) {
        self.coverage.insert(key(info), coverage);
    }

    /// Mark `namespace` (or the whole cluster-scoped kind) as seen.
    pub fn add_coverage(&mut self, info: &'static KindInfo, namespace: Option<&str>) {
        let entry = self.coverage.entry(key(info)).or_insert(Coverage::Unknown);
        match (namespace, &mut *entry) {
            (_, Coverage::All) => {}
            (None, _) => *entry = Coverage::All,
            (Some(ns), Coverage::Namespaces(set)) => {
                set.insert(ns.to_string());
            }
            (Some(ns), Coverage::Unknown) => {
                *entry = Coverage::Namespaces(BTreeSet::from([ns.to_string()]));
            }
        }
    }

    pub fn coverage_of(&self, info: &'static KindInfo) -> &Coverage {
        self.coverage.get(&key(info)).unwrap_or(&Coverage::Unknown)
    }

    /// Is kind `K` known in `namespace` (`None` = everywhere / cluster-scoped)?
    pub fn covers<K: Kind>(&self, namespace: Option<&str>) -> bool {
        self.coverage_of(&K::INFO).covers(namespace)
    }

    /// Is every object of the kind known (all namespaces, or its home namespace)?
    pub fn covers_all(&self, info: &'static KindInfo) -> bool {
        let c = self.coverage_of(info);
        c.covers(None) || info.home_namespace.is_some_and(|h| c.covers(Some(h)))
    }

    /// Is the object in the scan's scope (`-n`)?
    pub fn in_scope(&self, namespace: Option<&str>) -> bool {
        match (&self.namespace, namespace) {
            (None, _) => true,
            (Some(want), Some(ns)) => want == ns,
            (Some(_), None) => false,
        }
    }

    /// Where files input read `obj` (none for live objects).
    pub fn origin_of(&self, obj: &ObjectRef) -> Option<Origin> {
        self.origins.get(&object_key(obj))
    }

    /// Number of objects of one kind.
    pub fn count_of(&self, info: &'static KindInfo) -> usize {
        kinds::REGISTRY
            .iter()
            .find(|ops| ops.info().same(info))
            .map_or(0, |ops| self.store.get(&key(ops.info())).map_or(0, |b| ops.len(b)))
    }

    /// Give back the spare capacity of every kind's objects once the inventory is complete.
    pub fn shrink(&mut self) {
        for ops in kinds::REGISTRY {
            if let Some(b) = self.store.get_mut(&key(ops.info())) {
                ops.shrink(b);
            }
        }
    }

    /// Number of objects of every kind.
    pub fn object_count(&self) -> usize {
        kinds::REGISTRY
            .iter()
            .map(|ops| self.store.get(&key(ops.info())).map_or(0, |b| ops.len(b)))
            .sum()
    }
}
