//! The slice of `metadata` every typed view keeps, and serde helpers shared by the views.
//!
//! Views are lenient: unknown fields are ignored, missing fields default, and an explicit
//! `null` (or a support bundle's `"null"` string, see [`crate::inventory::files`]) counts as empty.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Deserialize a field that may be absent or `null` into its default value.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The text of a typed view's field. Short strings (up to 24 bytes: namespaces, resource
/// versions, timestamps, quantities, phases, most names) are stored inline without a heap
/// allocation; a cluster's views hold millions of such fields (issue 16: memory that fits the
/// job). It derefs to `str` and compares with `&str` and `String`.
pub type Text = compact_str::CompactString;

/// Deserialize a string field that hand-written YAML may give as a number or boolean
/// (`uid: 2222`, `version: 0.4`); absent or `null` is empty. Reads the string straight from the
/// input (no intermediate `serde_json::Value`).
pub fn text<'de, D>(d: D) -> Result<Text, D::Error>
where
    D: Deserializer<'de>,
{
    d.deserialize_any(TextVisitor)
}

/// [`text`] for optional fields: empty is `None`.
pub fn opt_text<'de, D>(d: D) -> Result<Option<Text>, D::Error>
where
    D: Deserializer<'de>,
{
    text(d).map(|s| Some(s).filter(|s| !s.is_empty()))
}

/// [`opt_text`] for a field few objects set, boxed to keep every view small.
pub fn opt_boxed_text<'de, D>(d: D) -> Result<Option<Box<str>>, D::Error>
where
    D: Deserializer<'de>,
{
    opt_text(d).map(|t| t.map(|t| t.as_str().into()))
}

/// A scalar as text; a list or mapping is an error that says which.
struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = Text;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text::from(v))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text::from(v))
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text::from(if v { "true" } else { "false" }))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(compact_str::format_compact!("{v}"))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(compact_str::format_compact!("{v}"))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
        // As `serde_json::Value` prints a number (`0.4`, `1.0`); a non-finite float (YAML's
        // `.inf`) has no JSON form and reads as empty, as before.
        Ok(serde_json::Number::from_f64(v)
            .map(|n| Text::from(n.to_string()))
            .unwrap_or_default())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Text, E> {
        Ok(Text::default())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Text, E> {
        Ok(Text::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Text, A::Error> {
        Err(serde::de::Error::custom("expected a string, found a list"))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<Text, A::Error> {
        Err(serde::de::Error::custom("expected a string, found a mapping"))
    }
}

/// Deserialize a label or annotation map, reading scalar values (`yes`, `3`, `true` in
/// hand-written YAML) as their text rather than rejecting the whole object.
pub fn string_map<'de, D, M>(d: D) -> Result<M, D::Error>
where
    D: Deserializer<'de>,
    M: FromIterator<(String, String)>,
{
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k, s)),
            serde_json::Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}

/// Label and annotation keys the rules read, by prefix. Metadata maps keep only these: a
/// Harvester object carries many other annotations (kubectl's last-applied configuration among
/// them), and at tens of thousands of objects they would dominate memory. A rule that reads a
/// new key adds its prefix here.
pub const KEPT_KEY_PREFIXES: &[&str] = &[
    "harvesterhci.io/",
    "harvester-hygiene.io/",
    "guestcluster.harvesterhci.io/",
    "migration.harvesterhci.io/",
    "resourcequota.management.cattle.io/",
    "field.cattle.io/",
    "cloudprovider.harvesterhci.io/",
    // KubeVirt's pod labels: `kubevirt.io` (= virt-launcher) and `kubevirt.io/created-by`.
    "kubevirt.io",
    "vm.kubevirt.io/",
];

fn kept(key: &str) -> bool {
    KEPT_KEY_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// A label or annotation key (or key prefix) the tool reads. [`Meta::label`] and
/// [`Meta::annotation`] take only this, and it can only be made in a constant, by [`key!`] or
/// `const X: Key = Key::new(..)`, which **fails to compile** for a key outside
/// [`KEPT_KEY_PREFIXES`]: the metadata maps drop such keys, so reading one would silently see
/// nothing. The compiler names the step instead of a test that quietly finds nothing.
///
/// ```
/// const GOLDEN: harvester_hygiene::meta::Key = harvester_hygiene::meta::Key::new("harvesterhci.io/goldenImage");
/// assert_eq!(GOLDEN.as_str(), "harvesterhci.io/goldenImage");
/// ```
///
/// ```compile_fail
/// // Not kept: the build fails here, instead of the rule silently reading nothing.
/// const NEW: harvester_hygiene::meta::Key = harvester_hygiene::meta::Key::new("example.com/new-label");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(&'static str);

impl Key {
    /// Use in a `const` only (or through [`key!`]): evaluated at compile time, the check is a
    /// build error; a call at run time is refused by the `#[track_caller]`-free assertion
    /// there as well, which no code path in this crate does.
    pub const fn new(key: &'static str) -> Key {
        assert!(
            const_kept(key.as_bytes()),
            "label/annotation key outside meta::KEPT_KEY_PREFIXES: add its prefix there (the metadata maps drop other keys)"
        );
        Key(key)
    }
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.0.to_string()
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

const fn const_kept(key: &[u8]) -> bool {
    let mut i = 0;
    while i < KEPT_KEY_PREFIXES.len() {
        let p = KEPT_KEY_PREFIXES[i].as_bytes();
        if p.len() <= key.len() {
            let mut j = 0;
            while j < p.len() && p[j] == key[j] {
                j += 1;
            }
            if j == p.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// A [`Key`] from a literal, checked at compile time: `key!("harvesterhci.io/imageId")`.
#[macro_export]
macro_rules! key {
    ($k:expr) => {{
        const K: $crate::meta::Key = $crate::meta::Key::new($k);
        K
    }};
}

/// [`string_map`] limited to [`KEPT_KEY_PREFIXES`], for labels and annotations. Values of
/// other keys are skipped without being copied.
pub fn meta_map<'de, D>(d: D) -> Result<StrMap, D::Error>
where
    D: Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = StrMap;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of strings")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(StrMap::default())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(StrMap::default())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                if kept(&k) {
                    let v: serde_json::Value = m.next_value()?;
                    match v {
                        serde_json::Value::String(s) => {
                            out.push((Text::from(k.as_ref()), Text::from(s)));
                        }
                        serde_json::Value::Null => {}
                        other => {
                            out.push((Text::from(k.as_ref()), Text::from(other.to_string())));
                        }
                    }
                } else {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            Ok(out.into_iter().collect())
        }
    }
    d.deserialize_option(V)
}

/// A small string map (labels, annotations, resource lists): its entries sorted by key in one
/// exact-size allocation. A `BTreeMap<String, String>` allocates a node of about 540 bytes for
/// even one entry; views of tens of thousands of objects each carry a few of these maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrMap(Box<[(Text, Text)]>);

impl StrMap {
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
    pub fn get(&self, key: &str) -> Option<&Text> {
        self.position(key).ok().and_then(|i| self.0.get(i)).map(|(_, v)| v)
    }
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }
    /// Take `key` out (rare: a view that keeps a parsed form of an annotation instead).
    pub fn remove(&mut self, key: &str) -> Option<Text> {
        let i = self.position(key).ok()?;
        let mut v = std::mem::take(&mut self.0).into_vec();
        let (_, value) = v.remove(i);
        self.0 = v.into_boxed_slice();
        Some(value)
    }
    /// Set `key` (rare: views are built by deserializing; this reallocates).
    pub fn insert(&mut self, key: Text, value: Text) {
        let mut v = std::mem::take(&mut self.0).into_vec();
        match v.binary_search_by(|(k, _)| k.as_str().cmp(&key)) {
            Ok(i) => {
                if let Some(e) = v.get_mut(i) {
                    e.1 = value;
                }
            }
            Err(i) => v.insert(i, (key, value)),
        }
        self.0 = v.into_boxed_slice();
    }
    pub fn iter(&self) -> impl Iterator<Item = (&Text, &Text)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl Iterator<Item = &Text> {
        self.0.iter().map(|(k, _)| k)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(Text, Text)> for StrMap {
    /// Sorted by key; of repeated keys the last wins (as in a `BTreeMap`).
    fn from_iter<I: IntoIterator<Item = (Text, Text)>>(iter: I) -> Self {
        let mut v: Vec<(Text, Text)> = iter.into_iter().collect();
        // Stable: equal keys keep their order, so the last one read is last.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Text, Text)> = Vec::with_capacity(v.len());
        for e in v {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        StrMap(out.into_boxed_slice())
    }
}

impl FromIterator<(String, String)> for StrMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        iter.into_iter().map(|(k, v)| (Text::from(k), Text::from(v))).collect()
    }
}

impl<'a> IntoIterator for &'a StrMap {
    type Item = (&'a Text, &'a Text);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (Text, Text)>, fn(&'a (Text, Text)) -> (&'a Text, &'a Text)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub api_version: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub kind: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub uid: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub namespace: Option<Text>,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub uid: Option<Text>,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub resource_version: Option<Text>,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub creation_timestamp: Option<Text>,
    /// Set on few objects: boxed, 16 bytes in every view instead of 24.
    #[serde(default, deserialize_with = "crate::meta::opt_boxed_text")]
    pub deletion_timestamp: Option<Box<str>>,
    #[serde(default, deserialize_with = "meta_map")]
    pub labels: StrMap,
    #[serde(default, deserialize_with = "meta_map")]
    pub annotations: StrMap,
    #[serde(default, deserialize_with = "nullable")]
    pub owner_references: Box<[OwnerRef]>,
}

impl Meta {
    pub fn label(&self, key: Key) -> Option<&str> {
        self.labels.get(key.as_str()).map(Text::as_str)
    }
    pub fn annotation(&self, key: Key) -> Option<&str> {
        self.annotations.get(key.as_str()).map(Text::as_str)
    }
    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.to_string(),
        }
    }
    /// Is this the object `o` names (namespace, name and uid)?
    pub fn is(&self, o: &ObjectRef) -> bool {
        self.namespace.as_deref() == o.namespace.as_deref()
            && self.name == o.name
            && self.uid.as_deref() == o.uid.as_deref()
    }
}

/// A reference to an object, as findings and the report carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// Facts about an object outside Kubernetes (OpenStack: id, size, status, created).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub details: std::collections::BTreeMap<String, String>,
}

impl ObjectRef {
    /// `namespace/name` or `name`.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Where files input read an object: the file (a support bundle member as `bundle.zip!path`),
/// the document of a multi-document file and the item of a `List`, each 0-based.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// 1-based line where the object starts (`lint` sets it: its `metadata.name` line in YAML,
    /// the `resource_changes` entry in a Terraform plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        match (self.document, self.item) {
            (Some(d), Some(i)) => write!(f, " (document {d}, item {i})"),
            (Some(d), None) => write!(f, " (document {d})"),
            (None, Some(i)) => write!(f, " (item {i})"),
            (None, None) => Ok(()),
        }
    }
}

/// Just enough of an object to name it in an error.
#[derive(Debug, Default, Deserialize)]
pub struct ObjectName {
    #[serde(default)]
    pub metadata: Meta,
}

/// A status condition (Kubernetes, wrangler and the vm-import-controller share this shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type", default, deserialize_with = "crate::meta::text")]
    pub type_: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub status: Text,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub last_transition_time: Option<Text>,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub last_update_time: Option<Text>,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub message: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub reason: Text,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status.eq_ignore_ascii_case("true")
    }
    /// When it last changed (transition time, else update time).
    pub fn time(&self) -> Option<&str> {
        self.last_transition_time
            .as_deref()
            .or(self.last_update_time.as_deref())
    }
}

/// Find a condition by type.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// A volume of a Pod, VirtualMachine template or VirtualMachineInstance: only the PVC it names.
/// Lists of volumes are read as [`Claims`]; this is the single `volumeSource` of a hot-plug
/// request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default, deserialize_with = "nullable")]
    pub persistent_volume_claim: Option<ClaimRef>,
    #[serde(default, deserialize_with = "nullable")]
    pub data_volume: Option<NameRef>,
}

/// The PVCs a list of volumes names, in order (each [`Volume::claim`]). Volumes that name no
/// PVC (cloud-init, container disks, secrets) and the volumes' own names are not kept: the rules
/// read only these references, and a VM's template lists every hot-plugged disk (issue 16:
/// memory).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims(Box<[Text]>);

impl Claims {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Text::as_str)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Claims;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of volumes")
            }
            fn visit_unit<E>(self) -> Result<Claims, E> {
                Ok(Claims::default())
            }
            fn visit_none<E>(self) -> Result<Claims, E> {
                Ok(Claims::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Claims, D::Error> {
                d.deserialize_seq(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Claims, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<Option<Volume>>()? {
                    let claim = v.as_ref().and_then(Volume::claim);
                    if let Some(c) = claim {
                        out.push(Text::from(c));
                    }
                }
                Ok(Claims(out.into_boxed_slice()))
            }
        }
        d.deserialize_option(V)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub claim_name: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub hotpluggable: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NameRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
}

impl Volume {
    /// The PVC this volume uses (a DataVolume's PVC has the DataVolume's name).
    pub fn claim(&self) -> Option<&str> {
        self.persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str())
            .or(self.data_volume.as_ref().map(|d| d.name.as_str()))
            .filter(|s| !s.is_empty())
    }
}

/// Parse a Kubernetes timestamp (RFC 3339).
pub fn parse_time(s: Option<&str>) -> Option<jiff::Timestamp> {
    s.and_then(|s| s.parse().ok())
}
