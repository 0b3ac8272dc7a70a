//! `longhorn-orphaned-data`: disk space no Harvester object can reach. Report only, never
//! fixed: an orphan may be the last good copy of a volume.
//!
//! - Longhorn `Orphan`s: replica data directories on a node's disk that no Replica owns. The
//!   node controller creates one per directory (longhorn/longhorn-manager
//!   `controller/node_controller.go` `createOrphan`) and deletes them by itself only when the
//!   `orphan-auto-deletion` setting is true (default false; v1.9+: `orphan-resource-auto-deletion`
//!   lists `replicaData`) and the orphan's `DataCleanable` condition is not Unknown
//!   (`deleteOrphans`). Deleting an Orphan removes the directory only when `DataCleanable` is
//!   true (`controller/orphan_controller.go` `cleanupOrphanedData`): on a node that is down or a
//!   disk that changed, the data stays even after the Orphan is gone.
//! - Longhorn `Volume`s with no PersistentVolume: no PV's `spec.csi.volumeHandle` names them and
//!   `status.kubernetesStatus.pvName` is empty (cleared when the PV is deleted,
//!   `controller/kubernetes_pv_controller.go` `cleanupForPVDeletion`). Harvester reaches volumes
//!   only through PVCs, so the space is invisible to it: a PV deleted by hand after a `Retain`
//!   policy, or a volume made in the Longhorn UI. Standby (disaster-recovery) volumes, attached
//!   volumes and volumes deleting are not reported.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::human;
use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::longhorn_setting::{ORPHAN_AUTO_DELETION, ORPHAN_RESOURCE_AUTO_DELETION};
use crate::inventory::kinds::{LonghornSetting, LonghornVolume, Orphan, PersistentVolume};
use crate::meta::parse_time;

pub struct LonghornOrphanedData;

pub const ID: &str = "longhorn-orphaned-data";
/// Younger than this is not reported by default (a volume between creation and its PV).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
const LONGHORN_NS: &str = "longhorn-system";

/// `rules.longhorn-orphaned-data` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How old an Orphan, or a volume without a PV, must be to be reported (default 24h).
    pub grace_period: Option<crate::config::DurationOption>,
}

/// Whether Longhorn deletes orphaned replica data by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AutoDeletion {
    On,
    Off,
    Unknown,
}

impl AutoDeletion {
    fn of(settings: &[LonghornSetting], known: bool) -> AutoDeletion {
        let get = |n: &str| settings.iter().find(|s| s.metadata.name == n).map(|s| s.value.trim());
        match (get(ORPHAN_RESOURCE_AUTO_DELETION), get(ORPHAN_AUTO_DELETION)) {
            (Some(v), _) => match v.split(';').any(|t| t.trim().eq_ignore_ascii_case("replicaData")) {
                true => AutoDeletion::On,
                false => AutoDeletion::Off,
            },
            (None, Some(v)) if v.eq_ignore_ascii_case("true") => AutoDeletion::On,
            (None, Some(_)) => AutoDeletion::Off,
            // Read, and neither exists: Longhorn's default is off.
            (None, None) if known => AutoDeletion::Off,
            (None, None) => AutoDeletion::Unknown,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            AutoDeletion::On => "on",
            AutoDeletion::Off => "off",
            AutoDeletion::Unknown => "unknown",
        }
    }
}

impl Rule for LonghornOrphanedData {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Longhorn orphaned replica data and Longhorn volumes without a PV: disk space Harvester cannot reach (report only)"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        static NEEDS: [&KindInfo; 4] = [
            info::<Orphan>(),
            info::<LonghornVolume>(),
            info::<PersistentVolume>(),
            info::<LonghornSetting>(),
        ];
        &NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "Longhorn makes an Orphan for every replica data directory on a disk that no Replica owns \
                  (longhorn/longhorn-manager controller/node_controller.go createOrphan): a replica replaced after a \
                  failure, a node that came back after its replicas were rebuilt elsewhere, a volume deleted while a \
                  node was down. Nothing deletes them unless the orphan auto-deletion setting is on \
                  (orphan-auto-deletion, default false; orphan-resource-auto-deletion with replicaData from Longhorn \
                  v1.9, longhorn/longhorn#6764), and even then not on a node that is down \
                  (node_controller.go deleteOrphans). Deleting an Orphan deletes the directory only when its \
                  DataCleanable condition is true (controller/orphan_controller.go). The space stays used and \
                  Harvester shows it nowhere. A Longhorn Volume that no PersistentVolume names (spec.csi.volumeHandle; \
                  status.kubernetesStatus.pvName is cleared when the PV goes, controller/kubernetes_pv_controller.go) \
                  holds its full size on every replica's disk and no Harvester object can reach it. Never fixed by this \
                  tool: an orphan may be the last good copy of a faulted volume.",
            affected: "every Harvester version (Longhorn orphans from Longhorn v1.3, Harvester v1.1)",
            upstream: &[
                "longhorn/longhorn-manager controller/node_controller.go",
                "longhorn/longhorn-manager controller/orphan_controller.go",
                "longhorn/longhorn-manager types/setting.go",
                "longhorn/longhorn-manager controller/kubernetes_pv_controller.go",
                "longhorn/longhorn#6764",
            ],
            remediation: "Orphans: check the volume the directory belonged to (the finding names it). If that volume \
                          is faulted, do not delete anything: the orphan may be its last good copy (salvage it first). \
                          Otherwise delete the orphan in the Longhorn UI (Setting > Orphaned Data) or with kubectl -n \
                          longhorn-system delete orphans.longhorn.io <name>; on a node that is down the directory stays, \
                          remove it from the disk when the node is back. To let Longhorn clean up by itself, turn on \
                          orphan auto-deletion. A volume without a PV: if nobody needs the data, delete it in the \
                          Longhorn UI (kubectl -n longhorn-system delete volumes.longhorn.io <name>); to use it from \
                          Harvester again, create a PV for it (Longhorn UI: Create PV/PVC).",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        if !inv.in_scope(Some(LONGHORN_NS)) {
            out.notes
                .push(format!("-n leaves out {LONGHORN_NS}: Longhorn orphans and volumes were not checked"));
            return out;
        }
        let grace = crate::config::DurationOption::or_default(ctx.options::<Options>(ID).grace_period, DEFAULT_GRACE);
        let settings_known = inv.covers::<LonghornSetting>(Some(LONGHORN_NS));
        let auto = AutoDeletion::of(inv.objects::<LonghornSetting>(), settings_known);
        let volumes: BTreeMap<&str, &LonghornVolume> = inv
            .objects::<LonghornVolume>()
            .iter()
            .map(|v| (v.metadata.name.as_str(), v))
            .collect();
        let volumes_known = inv.covers::<LonghornVolume>(Some(LONGHORN_NS));
        if inv.covers::<Orphan>(Some(LONGHORN_NS)) {
            for o in inv.objects::<Orphan>() {
                if let Some(f) = orphan(self, ctx, o, grace, auto, volumes_known.then_some(&volumes)) {
                    out.findings.push(f);
                }
            }
        } else {
            out.notes.push("Longhorn Orphans were not read: orphaned replica data was not checked".into());
        }
        if volumes_known {
            without_pv(self, ctx, grace, &mut out);
        } else {
            out.notes.push("Longhorn Volumes were not read: volumes without a PV were not checked".into());
        }
        out
    }
}

/// Whose data an Orphan holds (a sentence and the evidence): a faulted volume's (maybe its last
/// good copy), a living volume's old replica, a gone volume's, or unknown.
fn whose_data(
    volume: Option<&str>,
    living: Option<&LonghornVolume>,
    volumes: Option<&BTreeMap<&str, &LonghornVolume>>,
    faulted: bool,
) -> (String, String) {
    match (volume, living, volumes) {
        (Some(v), Some(l), _) if faulted => (
            format!(
                "It belonged to volume {v}, which is faulted: this directory may be its last good copy, do not delete it \
                 before salvaging the volume{}.",
                l.status
                    .kubernetes_status
                    .pvc_name
                    .is_empty()
                    .then(String::new)
                    .unwrap_or_else(|| format!(" (PVC {}/{})", l.status.kubernetes_status.namespace, l.status.kubernetes_status.pvc_name))
            ),
            format!("volume-faulted:{v}"),
        ),
        (Some(v), Some(_), _) => (
            format!("It is an old replica of volume {v}, which still exists and has other replicas."),
            format!("volume-exists:{v}"),
        ),
        (Some(v), None, Some(_)) => (
            format!("Its volume {v} no longer exists: the data belongs to nothing."),
            format!("volume-gone:{v}"),
        ),
        _ => (
            "Longhorn Volumes were not read to tell whose data it is.".to_string(),
            "unknown-kind:Volume".to_string(),
        ),
}
}

fn orphan(
    rule: &LonghornOrphanedData,
    ctx: &Context<'_>,
    o: &Orphan,
    grace: jiff::SignedDuration,
    auto: AutoDeletion,
    volumes: Option<&BTreeMap<&str, &LonghornVolume>>,
) -> Option<Finding> {
    if o.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let since = parse_time(o.metadata.creation_timestamp.as_deref())?;
    let age = ctx.now.duration_since(since);
    if age < grace {
        return None;
    }
    let node = &o.spec.node_id;
    let disk = o.parameter("DiskPath");
    let data = o.data_name();
    let volume = o.volume_name();
    let living = volume.and_then(|v| volumes.and_then(|m| m.get(v).copied()));
    let faulted = living.is_some_and(|v| v.status.robustness == "faulted");
    let (whose, volume_evidence) = whose_data(volume, living, volumes, faulted);
    let cleanable = o.data_cleanable();
    let stays = match (cleanable, auto) {
        ("False", _) => " Deleting the Orphan would not delete the directory (DataCleanable false: node or disk unavailable).",
        (_, AutoDeletion::On) => " Orphan auto-deletion is on, yet it stays: its node is down or its state is unknown.",
        (_, AutoDeletion::Off) => " Orphan auto-deletion is off: Longhorn will not remove it.",
        _ => "",
    };
    let msg = format!(
        "Longhorn orphaned replica data {data} on node {node} (disk {disk}) for {} (Orphan {}). {whose}{stays} Its size is \
         not recorded by Longhorn{}.",
        human(age),
        o.metadata.name,
        living
            .and_then(|l| l.spec.size.parse::<u64>().ok())
            .map(|s| format!(" (at most the volume's {s} bytes)"))
            .unwrap_or_default()
    );
    let title = if faulted {
        format!("orphaned data of faulted volume {}: may be its last copy", volume.unwrap_or(data))
    } else {
        format!("orphaned replica data on {node} for {}", human(age))
    };
    let mut f = Finding::about(rule, Severity::Warning, o, msg, rule.explain().remediation.to_string())
        .with_confidence(Confidence::Proven)
        .with_title(title)
        .evidence(format!("orphan-since:{since}"))
        .evidence(format!("node:{node}"))
        .evidence(volume_evidence)
        .evidence(format!("auto-deletion:{}", auto.as_str()));
    if !cleanable.is_empty() {
        f = f.evidence(format!("data-cleanable:{}", cleanable.to_ascii_lowercase()));
    }
    f.details.insert("dataName".into(), data.to_string());
    f.details.insert("diskPath".into(), disk.to_string());
    Some(f)
}

/// Longhorn Volumes that no PersistentVolume names.
fn without_pv(rule: &LonghornOrphanedData, ctx: &Context<'_>, grace: jiff::SignedDuration, out: &mut Outcome) {
    let inv = ctx.inv;
    let pvs_known = inv.covers::<PersistentVolume>(None);
    let named: BTreeSet<&str> = inv
        .objects::<PersistentVolume>()
        .iter()
        .filter_map(PersistentVolume::longhorn_volume)
        .collect();
    let pv_names: BTreeSet<&str> = inv
        .objects::<PersistentVolume>()
        .iter()
        .map(|p| p.metadata.name.as_str())
        .collect();
    for v in inv.objects::<LonghornVolume>() {
        let k = &v.status.kubernetes_status;
        if v.metadata.deletion_timestamp.is_some()
            || v.spec.standby
            || named.contains(v.metadata.name.as_str())
            || matches!(v.status.state.as_str(), "attached" | "attaching")
        {
            continue;
        }
        // Without the PVs, only a volume whose status names no PV; with them, a status naming
        // a PV that exists is trusted too.
        if !k.pv_name.is_empty() && (!pvs_known || pv_names.contains(k.pv_name.as_str())) {
            continue;
        }
        let Some(since) = parse_time(Some(k.last_pvc_ref_at.as_str()))
            .or_else(|| parse_time(v.metadata.creation_timestamp.as_deref()))
        else {
            continue;
        };
        let age = ctx.now.duration_since(since);
        if age < grace {
            continue;
        }
        let last = if k.pvc_name.is_empty() {
            "It was never bound to a PVC Longhorn knows of.".to_string()
        } else {
            format!("It last served PVC {}/{}.", k.namespace, k.pvc_name)
        };
        let space = v.reclaimable_bytes();
        let (severity, confidence, how) = match (pvs_known, k.pv_name.is_empty()) {
            (true, true) => (Severity::Warning, Confidence::Proven, "no PersistentVolume names it"),
            (true, false) => (
                Severity::Warning,
                Confidence::Likely,
                "no PersistentVolume names it (its status still names PV {pv}, which does not exist)",
            ),
            _ => (
                Severity::Info,
                Confidence::Possible,
                "its status names no PV (PersistentVolumes were not read to confirm it)",
            ),
        };
        let how = how.replace("{pv}", &k.pv_name);
        let msg = format!(
            "Longhorn volume {} ({} bytes, {} replicas, {}) has no PersistentVolume: {how}, so no Harvester object can \
             reach it. {last} Unused for {} (since {since}).",
            v.metadata.name,
            v.spec.size,
            v.spec.number_of_replicas,
            if v.status.state.is_empty() { "state unknown" } else { v.status.state.as_str() },
            human(age)
        );
        let mut f = Finding::about(rule, severity, v, msg, rule.explain().remediation.to_string())
            .with_confidence(confidence)
            .with_title(format!("Longhorn volume with no PV, unused for {}", human(age)))
            .evidence("no-pv")
            .evidence(format!("unused-since:{since}"));
        if !pvs_known {
            f = f.evidence("unknown-kind:PersistentVolume");
        }
        if !k.pvc_name.is_empty() {
            f = f.evidence(format!("last-pvc:{}/{}", k.namespace, k.pvc_name));
        }
        f.reclaimable_bytes = space;
        out.findings.push(f);
    }
}
