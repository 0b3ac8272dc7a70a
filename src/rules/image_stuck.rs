//! `image-stuck`: VM images that will not finish, and Longhorn BackingImages left without an
//! image or without a usable copy.
//!
//! - An image with a `deletionTimestamp` older than `stuckAfter` is stuck removing: its
//!   finalizer runs the backend's `Delete`, which deletes the BackingImage and the image's
//!   StorageClass and returns an error (retried for ever) while that fails (harvester/harvester
//!   `pkg/controller/master/image/vm_image_controller.go` `OnRemove`,
//!   `pkg/image/backingimage/backingimage.go` `Delete`), e.g. while volumes still use the
//!   backing image (harvester/harvester#4639, #5530).
//! - `RetryLimitExceeded` true: the import failed `spec.retry` times and is not retried again
//!   (`pkg/image/common/operator.go` `failStateTransit`); a later success clears it.
//! - `BackingImageMissing` true: set when the backing image could not be read, and "never
//!   automatically removed" (`vm_image_controller.go`): real when the BackingImage is gone,
//!   stale when it exists.
//! - A BackingImage whose `harvesterhci.io/imageId` image no longer exists was left by a failed
//!   cleanup and holds a copy on every disk listed (longhorn/longhorn#13422).
//! - A BackingImage whose every copy is `failed` cannot serve new volumes until Longhorn
//!   recovers a copy (only `download` sources are fetched again; see `image-mutable-url`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::human;
use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{BackingImage, PersistentVolumeClaim, VirtualMachineImage};
use crate::meta::parse_time;

pub struct ImageStuck;

pub const ID: &str = "image-stuck";
/// Deleting for longer than this is stuck by default.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(3600);
const LONGHORN_NS: &str = "longhorn-system";

/// `rules.image-stuck` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long an image may stay deleting (default 1h).
    pub stuck_after: Option<crate::config::DurationOption>,
}

impl Rule for ImageStuck {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Images stuck removing or failed for good, and BackingImages left without their image or without a usable copy"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        static NEEDS: [&KindInfo; 3] = [
            info::<VirtualMachineImage>(),
            info::<BackingImage>(),
            info::<PersistentVolumeClaim>(),
        ];
        &NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "Deleting an image runs its finalizer, which deletes the Longhorn BackingImage and the image's \
                  StorageClass and retries for ever while that fails (harvester/harvester \
                  pkg/controller/master/image/vm_image_controller.go OnRemove, pkg/image/backingimage/backingimage.go \
                  Delete): the image stays Terminating, typically because volumes still use the backing image \
                  (harvester/harvester#4639, #5530). RetryLimitExceeded means the import failed spec.retry times and \
                  will not be retried (pkg/image/common/operator.go). BackingImageMissing is set when the backing image \
                  could not be read and is never removed automatically: real when the BackingImage is gone, stale when \
                  it exists. A BackingImage whose harvesterhci.io/imageId image no longer exists was left by a failed \
                  cleanup and keeps a copy on every disk (longhorn/longhorn#13422). A BackingImage whose every copy \
                  failed cannot serve new volumes.",
            affected: "every Harvester version with Longhorn BackingImage images (v1.0+)",
            upstream: &[
                "harvester/harvester pkg/controller/master/image/vm_image_controller.go",
                "harvester/harvester pkg/image/backingimage/backingimage.go",
                "harvester/harvester pkg/image/common/operator.go",
                "harvester/harvester#4639",
                "harvester/harvester#5530",
                "longhorn/longhorn#13422",
            ],
            remediation: "Stuck removing: find what still uses it (kubectl get pvc -A -o json | jq the \
                          harvesterhci.io/imageId annotation; Longhorn volumes whose spec.backingImage is the image's \
                          BackingImage) and remove those first; the finalizer then completes. Failed for good: delete the \
                          image and create it again (fix the URL or upload first). BackingImageMissing with the \
                          BackingImage present: the condition is stale, remove it with kubectl edit. A BackingImage \
                          without its image: check that no Longhorn volume uses it (kubectl get volumes.longhorn.io -n \
                          longhorn-system -o json | jq '.items[] | select(.spec.backingImage==\"<name>\")'), then delete \
                          it. Every copy failed: let Longhorn recover it or re-create the image.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let stuck_after =
            crate::config::DurationOption::or_default(ctx.options::<Options>(ID).stuck_after, DEFAULT_STUCK_AFTER);
        let bis_known = inv.covers::<BackingImage>(Some(LONGHORN_NS));
        let bi_by_image: BTreeMap<&str, &BackingImage> = inv
            .objects::<BackingImage>()
            .iter()
            .filter_map(|b| Some((b.image_id()?, b)))
            .collect();
        let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for p in inv.objects::<PersistentVolumeClaim>() {
            if let Some(id) = p.metadata.annotation(crate::key!("harvesterhci.io/imageId")) {
                users.entry(id).or_default().push(p.metadata.key());
            }
        }
        for img in inv.objects::<VirtualMachineImage>() {
            if !inv.in_scope(img.metadata.namespace.as_deref()) || img.is_cdi() {
                continue;
            }
            let id = img.image_id();
            let bi = bi_by_image.get(id.as_str()).copied();
            if let Some(f) = deleting(self, ctx, img, stuck_after, users.get(id.as_str())) {
                out.findings.push(f);
            } else if let Some(f) = failed_for_good(self, img) {
                out.findings.push(f);
            } else if let Some(f) = backing_missing(self, img, bi, bis_known) {
                out.findings.push(f);
            }
        }
        backing_images(self, ctx, &mut out);
        if !bis_known {
            out.notes
                .push("BackingImages were not read: leftover and failed BackingImages were not checked".into());
        }
        out
    }
}

fn deleting(
    rule: &ImageStuck,
    ctx: &Context<'_>,
    img: &VirtualMachineImage,
    stuck_after: jiff::SignedDuration,
    users: Option<&Vec<String>>,
) -> Option<Finding> {
    let since = parse_time(img.metadata.deletion_timestamp.as_deref())?;
    let age = ctx.now.duration_since(since);
    if age < stuck_after {
        return None;
    }
    let used = users.map(|u| u.join(", ")).unwrap_or_default();
    let msg = format!(
        "Image {} has been removing for {} (since {since}): its finalizer cannot delete the BackingImage and \
         StorageClass{}.",
        img.metadata.key(),
        human(age),
        if used.is_empty() {
            String::new()
        } else {
            format!(", and PVCs still use it: {used}")
        }
    );
    let mut f = Finding::about(
        rule,
        Severity::Warning,
        img,
        msg,
        rule.explain().remediation.to_string(),
    )
    .with_confidence(Confidence::Proven)
    .with_title(format!("stuck removing for {}", human(age)))
    .evidence(format!("deleting-since:{since}"));
    for u in users.into_iter().flatten() {
        f = f.evidence(format!("in-use-by:{u}"));
    }
    Some(f)
}

fn failed_for_good(rule: &ImageStuck, img: &VirtualMachineImage) -> Option<Finding> {
    let c = img.condition("RetryLimitExceeded").filter(|c| c.is_true())?;
    if img.condition_true("Imported") {
        return None;
    }
    let msg = format!(
        "Image {} failed to import and will not be retried (RetryLimitExceeded): {}. Nothing can be created from it.",
        img.metadata.key(),
        if c.message.is_empty() {
            "no message"
        } else {
            c.message.as_str()
        }
    );
    Some(
        Finding::about(
            rule,
            Severity::Warning,
            img,
            msg,
            rule.explain().remediation.to_string(),
        )
        .with_confidence(Confidence::Proven)
        .with_title("import failed for good (RetryLimitExceeded)")
        .evidence("retry-limit-exceeded"),
    )
}

fn backing_missing(
    rule: &ImageStuck,
    img: &VirtualMachineImage,
    bi: Option<&BackingImage>,
    bis_known: bool,
) -> Option<Finding> {
    let c = img.condition("BackingImageMissing").filter(|c| c.is_true())?;
    let (severity, confidence, what) = match (bi, bis_known) {
        (Some(b), _) => (
            Severity::Info,
            Confidence::Likely,
            format!(
                "but its BackingImage {} exists: the condition is stale (Harvester never clears it)",
                b.metadata.name
            ),
        ),
        (None, true) => (
            Severity::Warning,
            Confidence::Proven,
            "and no BackingImage carries its id: VMs cannot get new disks from it".to_string(),
        ),
        (None, false) => (
            Severity::Warning,
            Confidence::Likely,
            "(BackingImages were not read to confirm it)".to_string(),
        ),
    };
    let msg = format!(
        "Image {} is marked BackingImageMissing ({}) {what}.",
        img.metadata.key(),
        if c.message.is_empty() {
            "no message"
        } else {
            c.message.as_str()
        }
    );
    let mut f = Finding::about(rule, severity, img, msg, rule.explain().remediation.to_string())
        .with_confidence(confidence)
        .with_title(if bi.is_some() {
            "stale BackingImageMissing condition (its BackingImage exists)"
        } else {
            "its BackingImage is missing: no new disks from it"
        })
        .evidence("backing-image-missing");
    if bi.is_some() {
        f = f.evidence("condition-stale");
    }
    Some(f)
}

/// BackingImages without their image, and BackingImages without a usable copy.
fn backing_images(rule: &ImageStuck, ctx: &Context<'_>, out: &mut Outcome) {
    let inv = ctx.inv;
    let images: BTreeSet<String> = inv
        .objects::<VirtualMachineImage>()
        .iter()
        .map(|i| i.image_id())
        .collect();
    for b in inv.objects::<BackingImage>() {
        if b.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let (copies, ready) = b.copies();
        let orphan = b.image_id().filter(|id| {
            let ns = id.split_once('/').map(|(n, _)| n);
            ns.is_some_and(|ns| inv.covers::<VirtualMachineImage>(Some(ns))) && !images.contains(*id)
        });
        if let Some(id) = orphan {
            let msg = format!(
                "BackingImage {} belongs to image {id}, which no longer exists: a failed cleanup left it, {}.",
                b.metadata.name,
                match copies {
                    0 => "with no copy on any disk".to_string(),
                    n => format!("with a copy on {}", super::plural(n, "disk", "disks")),
                }
            );
            let mut f = Finding::about(rule, Severity::Warning, b, msg, rule.explain().remediation.to_string())
                .with_confidence(Confidence::Likely)
                .with_title(format!("left behind: its image {id} no longer exists"))
                .evidence(format!("image-missing:{id}"));
            f.reclaimable_bytes = b.size_bytes().and_then(|s| s.checked_mul(u64::try_from(copies).ok()?));
            out.findings.push(f);
        } else if copies > 0
            && ready == 0
            && b.status
                .disk_file_status_map
                .values()
                .all(|d| d.state.starts_with("failed"))
        {
            let msg = format!(
                "BackingImage {} has no usable copy: all {copies} copies failed, so no new volume can be created from \
                 it{}.",
                b.metadata.name,
                b.image_id().map(|i| format!(" (image {i})")).unwrap_or_default()
            );
            out.findings.push(
                Finding::about(rule, Severity::Warning, b, msg, rule.explain().remediation.to_string())
                    .with_confidence(Confidence::Proven)
                    .with_title(format!("all {copies} copies failed: no new volumes from it"))
                    .evidence(format!("all-copies-failed:{copies}")),
            );
        }
    }
}
