//! `image-name-collision`: VirtualMachineImages in different namespaces that share one
//! per-image StorageClass, or (v1.8+) where creating one image removed another's class.
//!
//! Upstream (harvester/harvester):
//! - v1.2.0 through v1.7.x and v1.8.0-rc1 name each image's class `longhorn-<image name>`
//!   (`pkg/util/image.go` `GetImageStorageClassName`): cluster-scoped but derived from the
//!   name only, so `ns1/foo` and `ns2/foo` share `longhorn-foo` (harvester/harvester#5165,
//!   #7184).
//! - From v1.8.0-rc2 (PR #9392, backport #10187, commit b69423881) `GetStorageClassName` in
//!   `pkg/image/common/operator.go` returns the first existing of `lh-<vmi uid>` and
//!   `longhorn-<name>`, else `lh-<uid>`; names go through Longhorn's `AutoCorrectName`
//!   (lower case, at most 40 characters, `NameMaximumLength` in longhorn-manager
//!   `datastore/longhorn.go`).
//! - v1.8.2 (commit b5c9082b6) puts `lh-<backing image name without "vmi-">` first for
//!   restore-type images, the BackingImage named by the `backingImage` query parameter of
//!   `spec.url` (`pkg/util/image.go` `GetRestoreSCName`).
//! - `Backend.Initialize` (`pkg/image/backingimage/backingimage.go`) first deletes the class
//!   `GetStorageClassName` returns, then creates one. On v1.8 a new `ns2/foo` finds `ns1/foo`'s
//!   `longhorn-foo`, deletes it, and then either re-creates `longhorn-foo` for itself or
//!   creates `lh-<uid2>`: `ns1/foo` loses its class either way; the two do not share.
//! - The controller sets `status.storageClassName` when the image is initialised
//!   (`pkg/image/common/operator.go` `stateTransit`).
//!
//! CDI-backend images are excluded: they all use `spec.targetStorageClassName` by design.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha512};

use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info, plural};
use crate::inventory::kinds::{BackingImage, PersistentVolumeClaim, StorageClass, VirtualMachineImage};
use crate::inventory::{Inventory, Kind, KindInfo};

use crate::version::{Boundary, Version};

pub struct ImageNameCollision;

pub const ID: &str = "image-name-collision";
const LONGHORN_NS: &str = "longhorn-system";
/// Longhorn's `datastore.NameMaximumLength`.
const NAME_MAX: usize = 40;

/// The first tag with `lh-<uid>` classes (harvester/harvester#9392 via #10187,
/// `pkg/image/common/operator.go`); v1.8.0-rc1's `pkg/util/image.go` still names `longhorn-<name>`.
pub(crate) const NEW_NAMING: Boundary = Boundary::new(Version::rc(1, 8, 0, 2));

fn new_naming_from() -> Version {
    Version::rc(1, 8, 0, 2)
}
/// The first tag naming restore-type images' classes after their BackingImage (b5c9082b6).
const RESTORE_NAMING_FROM: Version = Version::new(1, 8, 2);

const REMEDIATION: &str = "Images cannot be renamed. Give every image a cluster-unique metadata.name: \
create a replacement image whose name carries its namespace (e.g. `<namespace>-ubuntu-22`) or use \
generateName, move the VMs' volumes to it, then delete the old image once no PVC uses the shared class. \
In Terraform keep `name` unique across namespaces and put the human-friendly name in `display_name`. \
Upgrading to Harvester v1.8.0+ stops new collisions (classes become lh-<uid>), but existing legacy classes stay \
shared, and a new image of the same name deletes a legacy class: do not create one while the old image is in use.";

const LOST_FIX: &str = "Do not create VMs from this image. Re-create it under a cluster-unique name (on \
v1.8+ the new image gets its own lh-<uid> class), move the VMs to it, then delete this image. Existing \
volumes keep working: their PersistentVolumes do not need the class.";

impl Rule for ImageNameCollision {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "Images in different namespaces share one per-image StorageClass (longhorn-<name>), or one removed the other's"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[
            info::<VirtualMachineImage>(),
            info::<StorageClass>(),
            info::<BackingImage>(),
            info::<PersistentVolumeClaim>(),
        ];
        NEEDS
    }

    fn explain(&self) -> Explanation {
        Explanation {
            why: "From Harvester v1.2.0 through v1.7.x and v1.8.0-rc1 every VirtualMachineImage gets a cluster-scoped \
                  StorageClass named longhorn-<image name> (harvester/harvester pkg/util/image.go, \
                  GetImageStorageClassName); the namespace is not part of the name, so two images of the same name in \
                  different namespaces share one class (harvester/harvester#5165, #7184). Harvester refuses to delete an \
                  image while any PVC uses its class (pkg/image/common/validator.go), and initialising an image deletes \
                  and re-creates that class pointing at its own BackingImage (Backend.Initialize -> deleteStorageClass, \
                  pkg/image/backingimage/backingimage.go), so the other image's new volumes get the wrong data. Terraform \
                  users, who choose image names themselves, hit this most. From v1.8.0-rc2 (PR #9392, backport #10187) \
                  GetStorageClassName (pkg/image/common/operator.go) uses the first existing of lh-<image uid> and \
                  longhorn-<name>, else lh-<uid>; v1.8.2 names restore-type images' classes lh-<backing image name \
                  without vmi-> (pkg/util/image.go, GetRestoreSCName). Legacy classes keep their names after an \
                  upgrade, and creating a same-named image on v1.8 first deletes the legacy class it finds, then \
                  re-creates it for itself or creates lh-<uid>: the older image loses its class (the message says \
                  which one). CDI-backend images use spec.targetStorageClassName by design and are not checked. A \
                  warning is raised for an image whose class is gone or serves another image, unless the image is being \
                  deleted, not yet Initialized, or in the import retry loop (RetryLimitExceeded, BackingImageMissing \
                  conditions, pkg/apis/harvesterhci.io/v1beta1/image.go; harvester/harvester#4639, #5530).",
            affected: "Harvester v1.2.0 to v1.7.x and v1.8.0-rc1 (shared classes); v1.8.0-rc2+ only images on legacy \
                       longhorn-<name> classes",
            upstream: &[
                "harvester/harvester#5165",
                "harvester/harvester#7184",
                "harvester/harvester#9392",
                "harvester/harvester#10187",
                "harvester/harvester#4639",
                "harvester/harvester#5530",
                "harvester/harvester pkg/util/image.go",
                "harvester/harvester pkg/image/common/operator.go",
                "harvester/harvester pkg/image/backingimage/backingimage.go",
            ],
            remediation: REMEDIATION,
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let classes: HashMap<&str, &StorageClass> = inv
            .objects::<StorageClass>()
            .iter()
            .map(|sc| (sc.metadata.name.as_str(), sc))
            .collect();
        let classes_known = inv.covers::<StorageClass>(None);
        let bis_known = inv.covers::<BackingImage>(Some(LONGHORN_NS));
        let backing: HashMap<&str, &BackingImage> = inv
            .objects::<BackingImage>()
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(LONGHORN_NS))
            .map(|b| (b.metadata.name.as_str(), b))
            .collect();
        // A development build that cannot tell which naming it has counts as version unknown.
        let version = inv
            .harvester_version
            .as_ref()
            .filter(|v| v.before(&NEW_NAMING).is_some());
        let lookup = Lookup {
            classes: &classes,
            classes_known,
            backing: &backing,
            bis_known,
        };

        let images: Vec<&VirtualMachineImage> = inv
            .objects::<VirtualMachineImage>()
            .iter()
            .filter(|i| !i.is_cdi())
            .collect();
        let class_of: Vec<ImageClass> = images.iter().map(|i| class_name(i, version, &classes)).collect();
        // v1.8.0-rc2+, known, or (version unknown) shown by an `lh-` class that only that
        // naming creates.
        let inferred_new = version.is_none() && class_of.iter().any(|c| c.name.starts_with("lh-"));
        let new_naming = version.is_some_and(|v| *v >= new_naming_from()) || inferred_new;
        let version_fact = match version {
            Some(v) => format!("harvester-version:{v}"),
            None => "harvester-version:unknown".to_string(),
        };

        let survey = Survey {
            inv,
            images,
            class_of,
            lookup,
            classes: &classes,
            classes_known,
            version,
            new_naming,
            inferred_new,
            version_fact,
        };
        // Each image is reported once: a lost legacy class, else a shared class, else what a
        // collision left behind.
        let mut flagged = BTreeSet::new();
        if new_naming {
            self.takeovers(&survey, &mut flagged, &mut out);
        }
        self.shared(&survey, &mut flagged, &mut out);
        self.aftermath(&survey, &flagged, &mut out);

        if version.is_none() {
            out.notes.push(
                "Harvester version unknown: for images without status.storageClassName the class name was \
                 inferred from the classes that exist (set --harvester-version to be exact)"
                    .into(),
            );
        }
        if !inv.covers::<VirtualMachineImage>(None) {
            out.notes.push("VirtualMachineImages were not read in every namespace: collisions with unseen namespaces are not reported".into());
        }
        out
    }
}

impl ImageNameCollision {
    /// v1.8+: a same-name group where some images are on the legacy class and others on their
    /// own class. Creating the newer ones deleted (or took over) the legacy class.
    fn takeovers(&self, s: &Survey<'_>, flagged: &mut BTreeSet<usize>, out: &mut Outcome) {
        let Survey {
            inv,
            images,
            class_of,
            lookup,
            inferred_new,
            version_fact,
            ..
        } = s;
        let mut by_name: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (i, img) in images.iter().enumerate() {
            by_name.entry(img.metadata.name.as_str()).or_default().insert(i);
        }
        {
            for (name, group) in &by_name {
                let legacy = legacy_class(name);
                let (old, new): (Vec<usize>, Vec<usize>) = group.iter().partition(|&&i| class_of[i].name == legacy);
                if old.is_empty() || new.is_empty() {
                    continue;
                }
                for &i in &old {
                    flagged.insert(i);
                    let img = images[i];
                    if !inv.in_scope(img.metadata.namespace.as_deref()) {
                        continue;
                    }
                    let newer: Vec<(&VirtualMachineImage, &str)> =
                        new.iter().map(|&j| (images[j], class_of[j].name.as_str())).collect();
                    if let Some(mut f) = self.lost_class(img, &legacy, &newer, lookup) {
                        f = f.evidence(version_fact.clone());
                        if *inferred_new {
                            f = f.evidence("new-naming-inferred:lh-class-exists");
                        }
                        f.related = group
                            .iter()
                            .filter(|&&j| j != i)
                            .map(|&j| images[j].object_ref())
                            .collect();
                        out.findings.push(f);
                    }
                }
            }
        }

    }

    /// Images that share one class.
    fn shared(&self, s: &Survey<'_>, flagged: &mut BTreeSet<usize>, out: &mut Outcome) {
        let Survey {
            inv,
            images,
            class_of,
            lookup,
            version,
            new_naming,
            version_fact,
            ..
        } = s;
        let mut by_class: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (i, _) in images.iter().enumerate() {
            by_class.entry(class_of[i].name.as_str()).or_default().insert(i);
        }
        for (class, group) in &by_class {
            if group.len() < 2 {
                continue;
            }
            let all_from_status = group.iter().all(|&i| class_of[i].from_status);
            for &i in group {
                if !flagged.insert(i) {
                    continue;
                }
                let img = images[i];
                if !inv.in_scope(img.metadata.namespace.as_deref()) {
                    continue;
                }
                let others: Vec<&VirtualMachineImage> = group.iter().filter(|&&j| j != i).map(|&j| images[j]).collect();
                let other_names: Vec<String> = others.iter().map(|o| o.image_id()).collect();
                let mut msg = shared_opening(img, class, &other_names, *new_naming);
                let served = lookup.served_by(class);
                msg.push(' ');
                msg.push_str(&served.sentence(class));
                let (pvc_text, pvc_count) = pvc_sentence(inv, class);
                msg.push(' ');
                msg.push_str(&pvc_text);
                msg.push_str(&shared_consequence(*new_naming));
                let confidence = if all_from_status {
                    Confidence::Proven
                } else if version.is_some() {
                    Confidence::Likely
                } else {
                    msg.push_str(&format!(
                        " Harvester version unknown and not every image has status.storageClassName: check what \
                         {class} the images really use (`kubectl get vmimage -A -o \
                         custom-columns=NS:.metadata.namespace,NAME:.metadata.name,SC:.status.storageClassName`) \
                         or pass --harvester-version."
                    ));
                    Confidence::Possible
                };
                let mut f = Finding::about(self, Severity::Error, img, msg, REMEDIATION.to_string())
                    .with_title(format!(
                        "StorageClass {class} shared with {} ({}{} PVCs use it)",
                        other_names.join(", "),
                        pvc_count.0,
                        if pvc_count.1 { "" } else { "+" }
                    ))
                    .with_confidence(confidence)
                    .evidence(format!("shared-class:{class}"));
                for &j in group {
                    if !class_of[j].from_status {
                        f = f.evidence(format!("derived-class:{}:{class}", images[j].image_id()));
                    }
                }
                if let Served::Image { id, .. } = &served {
                    f = f.evidence(format!("class-serves:{id}"));
                }
                f = f.evidence(format!("pvcs-using-class:{}", pvc_count.0));
                if !pvc_count.1 {
                    f = f.evidence("pvc-coverage:partial");
                }
                f = f.evidence(version_fact.clone());
                f.related = others.iter().map(|o| o.object_ref()).collect();
                out.findings.push(f);
            }
        }

    }

    /// Aftermath: an image whose class is gone or serves another image.
    fn aftermath(&self, s: &Survey<'_>, flagged: &BTreeSet<usize>, out: &mut Outcome) {
        for (i, img) in s.images.iter().enumerate() {
            if flagged.contains(&i) || !s.inv.in_scope(img.metadata.namespace.as_deref()) {
                continue;
            }
            if let Some(f) = self.aftermath_of(s, img) {
                out.findings.push(f);
            }
        }
    }

    /// An image whose StorageClass no longer exists.
    fn class_missing(&self, img: &VirtualMachineImage, class: &str, version_fact: &str) -> Finding {
        let msg = format!(
            "VirtualMachineImage {} says its StorageClass is {class}, but that class no longer exists: \
             new volumes from this image cannot be created. Deleting or creating another image of the \
             same name (in another namespace) does this (Backend.Initialize and Delete remove the class \
             named after the image).",
            img.image_id()
        );
        Finding::about(self, Severity::Warning, img, msg, aftermath_fix())
            .with_title(format!("its StorageClass {class} is gone: no new volumes from it"))
            .evidence(format!("class-missing:{class}"))
            .evidence(version_fact.to_string())
    }

    /// The aftermath finding of one image not flagged otherwise, if any.
    fn aftermath_of(&self, s: &Survey<'_>, img: &VirtualMachineImage) -> Option<Finding> {
        let Survey {
            lookup,
            classes,
            classes_known,
            version_fact,
            ..
        } = s;
        // Being deleted, not initialised, or retrying: no class for a legitimate reason.
        if img.transient_state().is_some() {
            return None;
        }
        let class = img.status.storage_class_name.as_str();
        if class.is_empty() {
            return None;
        }
        // Only a same-named image can delete or re-point `longhorn-<name>`; lh-<uid>
        // names are unique, so an unknown kind only leaves the legacy ones unchecked.
        let at_risk = class == legacy_class(&img.metadata.name);
        if !classes_known {
            if at_risk {
                return Some(unknown(
                    self,
                    img,
                    "StorageClass",
                    format!(
                        "VirtualMachineImage {} uses the legacy StorageClass {class}, which another image of the \
                         same name can delete or re-point; StorageClasses were not read, so whether it still \
                         exists and serves this image is unknown.",
                        img.image_id()
                    ),
                ));
            }
            return None;
        }
        let Some(sc) = classes.get(class) else {
            return Some(self.class_missing(img, class, version_fact));
        };
        match lookup.served_by(class) {
            Served::Image {
                id: served,
                bi: bi_name,
            } if served != img.image_id() => {
                let msg = format!(
                    "VirtualMachineImage {}'s StorageClass {class} provisions from BackingImage {bi_name}, which \
                     belongs to {served}: new volumes made from this image get the other image's data.",
                    img.image_id()
                );
                let mut f = Finding::about(self, Severity::Warning, img, msg, aftermath_fix())
                    .with_title(format!("its StorageClass {class} now serves {served}'s data"))
                    .evidence(format!("class-serves:{served}"))
                    .evidence(format!("backing-image:{bi_name}"));
                f.related.push(sc.object_ref());
                Some(f)
            }
            // BackingImages unread, but the name shows it is this image's.
            Served::Unknown(bi) if at_risk && !own_backing_image(img, &bi) => {
                let mut f = unknown(
                    self,
                    img,
                    "BackingImage",
                    format!(
                        "VirtualMachineImage {}'s legacy StorageClass {class} provisions from BackingImage {bi}; \
                         BackingImages were not read, so whether that is still this image's is unknown.",
                        img.image_id()
                    ),
                );
                f.related.push(sc.object_ref());
                Some(f)
            }
            _ => None,
        }
    }

    /// The finding for what the legacy class serves now: lost, re-pointed, unknown or at risk;
    /// `None` when it still serves `img`.
    fn lost_verdict(
        &self,
        img: &VirtualMachineImage,
        legacy: &str,
        newer_text: &str,
        mechanism: &str,
        served: Served,
    ) -> Option<Finding> {
        let id = img.image_id();
        match served {
        Served::Missing => Some(Finding::about(
            self,
            Severity::Error,
            img,
            format!(
                "VirtualMachineImage {id} lost its StorageClass {legacy}: creating {newer_text} deleted it. \
                 {mechanism} New volumes from {id} cannot be created (Harvester keeps \
                 status.storageClassName {legacy}); existing volumes keep working."
            ),
            LOST_FIX.to_string(),
        )
        .with_title(format!("lost StorageClass {legacy}: a same-named image deleted it"))
        .evidence(format!("class-missing:{legacy}"))),
        Served::Image { id: served, .. } if served != id => Some(Finding::about(
            self,
            Severity::Error,
            img,
            format!(
                "VirtualMachineImage {id} lost its StorageClass {legacy} to {served}: creating {newer_text} \
                 deleted the class and re-created it for {served}. {mechanism} New volumes made from {id} \
                 get {served}'s data."
            ),
            LOST_FIX.to_string(),
        )
        .with_title(format!("lost StorageClass {legacy} to {served}"))
        .evidence(format!("class-serves:{served}"))),
        Served::Image { .. } => None,
        Served::Unknown(bi) if own_backing_image(img, &bi) => None,
        Served::Unknown(bi) => {
            Some(unknown(
                self,
                img,
                "BackingImage",
                format!(
                    "VirtualMachineImage {id} is on the legacy StorageClass {legacy} (BackingImage {bi}), and \
                     {newer_text} of the same name has a class of its own. {mechanism} BackingImages were not \
                     read, so whether {legacy} still serves {id} is unknown."
                ),
            ))
        }
        other => Some(Finding::about(
            self,
            Severity::Warning,
            img,
            format!(
                "VirtualMachineImage {id} is on the legacy StorageClass {legacy}, and {newer_text} of the same \
                 name has a class of its own. {mechanism} {}",
                other.sentence(legacy)
            ),
            LOST_FIX.to_string(),
        )
        .with_title(format!(
            "legacy StorageClass {legacy} at risk: a same-named image has its own"
        ))
        .with_confidence(Confidence::Likely)),
        }
    }

    /// The v1.8 finding for `img`, on the legacy class `legacy`, whose same-named `newer`
    /// images have classes of their own. `None` when the legacy class is intact and still
    /// serves `img` (the images no longer share anything).
    fn lost_class(
        &self,
        img: &VirtualMachineImage,
        legacy: &str,
        newer: &[(&VirtualMachineImage, &str)],
        lookup: &Lookup<'_>,
    ) -> Option<Finding> {
        let id = img.image_id();
        let newer_text: Vec<String> = newer
            .iter()
            .map(|(n, c)| format!("{} (class {c})", n.image_id()))
            .collect();
        let newer_text = newer_text.join(", ");
        let mechanism = "On Harvester v1.8.0-rc2+ initialising an image first deletes the class GetStorageClassName \
                         finds for it, which for a same-named image is this legacy class (Backend.Initialize -> \
                         deleteStorageClass), then creates its own: the images do not share a class, the older one \
                         loses it.";
        if !lookup.classes_known {
            return Some(unknown(
                self,
                img,
                "StorageClass",
                format!(
                    "VirtualMachineImage {id} is on the legacy StorageClass {legacy}, and {newer_text} of the same \
                     name has a class of its own. {mechanism} StorageClasses were not read, so whether {id} lost \
                     {legacy} is unknown."
                ),
            ));
        }
        let mut f = self.lost_verdict(img, legacy, &newer_text, mechanism, lookup.served_by(legacy))?;
        for (n, c) in newer {
            f = f
                .evidence(format!("newer-image:{}", n.image_id()))
                .evidence(format!("newer-class:{c}"));
        }
        Some(f)
    }
}

/// An Info/Possible finding for an image a missing kind leaves unchecked.
fn unknown(rule: &ImageNameCollision, img: &VirtualMachineImage, kind: &str, msg: String) -> Finding {
    Finding::about(
        rule,
        Severity::Info,
        img,
        format!("{msg} (unknown kind: {kind})"),
        format!("Re-run with {kind} objects in the input (or with permission to list them)."),
    )
    .with_title(format!("StorageClass not checked: {kind} objects were not read"))
    .with_confidence(Confidence::Possible)
    .evidence(format!("unknown-kind:{kind}"))
}

fn aftermath_fix() -> String {
    "Do not create VMs from this image. Re-create the image under a cluster-unique name (the old class \
     cannot be repaired safely while volumes use it), move the VMs to it, then delete this image."
        .to_string()
}

fn legacy_class(name: &str) -> String {
    format!("longhorn-{name}")
}

/// Longhorn's `util.AutoCorrectName`: lower case; a name longer than `max` is cut to
/// `max - 9` characters (trailing `-` trimmed) plus `-` and the first 8 hex digits of the
/// SHA-512 of the original name (longhorn-manager `util/util.go`).
pub fn auto_correct_name(name: &str, max: usize) -> String {
    let lower = name.to_ascii_lowercase();
    if name.len() <= max {
        return lower;
    }
    let digest = Sha512::digest(name.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let keep = max.saturating_sub(hex.len() + 1);
    let prefix = lower.get(..keep).unwrap_or(&lower).trim_end_matches('-');
    format!("{prefix}-{hex}")
}

/// Is `bi` one of the names Harvester gives `img`'s BackingImage: `<ns>-<name>` (before
/// v1.4), its auto-corrected form, `vmi-<uid>`, or the restore source's name
/// (harvester/harvester `pkg/util/image.go` `GetBackingImage`)?
fn own_backing_image(img: &VirtualMachineImage, bi: &str) -> bool {
    let legacy = format!(
        "{}-{}",
        img.metadata.namespace.as_deref().unwrap_or_default(),
        img.metadata.name
    );
    let mut names = vec![auto_correct_name(&legacy, NAME_MAX), legacy];
    if let Some(uid) = img.metadata.uid.as_deref().filter(|u| !u.is_empty()) {
        names.push(auto_correct_name(&format!("vmi-{uid}"), NAME_MAX));
    }
    if let Some(r) = restore_backing_image(img) {
        names.push(r);
    }
    names.iter().any(|n| n == bi)
}

/// `lh-<uid>` (v1.8.0-rc2+).
fn uid_class(img: &VirtualMachineImage) -> Option<String> {
    img.metadata
        .uid
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(|u| auto_correct_name(&format!("lh-{u}"), NAME_MAX))
}

/// v1.8.2 restore-type images: `lh-<backing image name without "vmi-">`, the BackingImage
/// named by `spec.url`'s `backingImage` query parameter when it is a valid Longhorn name
/// (harvester/harvester `pkg/util/image.go` `restoreBackingImageName`, `GetRestoreSCName`).
fn restore_class(img: &VirtualMachineImage) -> Option<String> {
    let bi = restore_backing_image(img)?;
    let suffix = bi.strip_prefix("vmi-").unwrap_or(&bi);
    Some(auto_correct_name(&format!("lh-{suffix}"), NAME_MAX))
}

/// The BackingImage a restore-type image names in `spec.url` (`restoreBackingImageName`).
fn restore_backing_image(img: &VirtualMachineImage) -> Option<String> {
    if img.spec.source_type != "restore" {
        return None;
    }
    let query = img.spec.url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    let bi = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "backingImage")
        .map(|(_, v)| v.into_owned())?;
    valid_longhorn_name(&bi).then_some(bi)
}

/// Longhorn's `util.ValidateName`: `^[a-z0-9][a-z0-9_.-]+$`.
fn valid_longhorn_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() >= 2
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
}

/// The class an image uses and whether it was read (`status.storageClassName`) or derived.
struct ImageClass {
    name: String,
    from_status: bool,
}

/// The class an image uses: `status.storageClassName`, else what its Harvester version
/// would pick (`GetImageStorageClassName` before v1.8.0-rc2, `GetStorageClassName` after).
fn class_name(
    img: &VirtualMachineImage,
    version: Option<&Version>,
    classes: &HashMap<&str, &StorageClass>,
) -> ImageClass {
    if !img.status.storage_class_name.is_empty() {
        return ImageClass {
            name: img.status.storage_class_name.to_string(),
            from_status: true,
        };
    }
    let legacy = legacy_class(&img.metadata.name);
    let derived = |name: String| ImageClass {
        name,
        from_status: false,
    };
    if version.is_some_and(|v| *v < new_naming_from()) {
        return derived(legacy);
    }
    let restore = if version.is_none_or(|v| *v >= RESTORE_NAMING_FROM) {
        restore_class(img)
    } else {
        None
    };
    let uid = uid_class(img);
    // The first existing of (restore,) lh-<uid>, longhorn-<name>.
    let candidates = [restore.clone(), uid.clone(), Some(legacy.clone())];
    if let Some(found) = candidates.iter().flatten().find(|n| classes.contains_key(n.as_str())) {
        return derived(found.clone());
    }
    match version {
        // Unknown version and nothing exists: the legacy name is the guess (see the note).
        None => derived(legacy),
        Some(_) => derived(restore.or(uid).unwrap_or(legacy)),
    }
}

/// What a class provisions from.
enum Served {
    /// The class does not exist (StorageClasses were read).
    Missing,
    /// StorageClasses were not read.
    ClassesUnknown,
    NoParameter,
    /// The BackingImage's `harvesterhci.io/imageId` (`id`) and name (`bi`).
    Image {
        id: String,
        bi: String,
    },
    NoAnnotation(String),
    BackingImageGone(String),
    /// BackingImages were not read.
    Unknown(String),
}

impl Served {
    fn sentence(&self, class: &str) -> String {
        match self {
            Served::Missing => format!("The class {class} does not exist any more."),
            Served::ClassesUnknown => {
                format!("Which image {class} serves today is unknown (StorageClasses were not read).")
            }
            Served::NoParameter => format!("The class {class} has no backingImage parameter."),
            Served::Image { id, bi } => format!(
                "Today the class serves {id} (parameters.backingImage {bi}, annotated harvesterhci.io/imageId {id})."
            ),
            Served::NoAnnotation(bi) => {
                format!("The class provisions from BackingImage {bi}, which has no harvesterhci.io/imageId annotation.")
            }
            Served::BackingImageGone(bi) => {
                format!("The class provisions from BackingImage {bi}, which no longer exists.")
            }
            Served::Unknown(bi) => format!(
                "The class provisions from BackingImage {bi} (BackingImages were not read, so its image is unknown)."
            ),
        }
    }
}

/// What every part of the check reads, computed once.
struct Survey<'a> {
    inv: &'a Inventory,
    images: Vec<&'a VirtualMachineImage>,
    class_of: Vec<ImageClass>,
    lookup: Lookup<'a>,
    classes: &'a HashMap<&'a str, &'a StorageClass>,
    classes_known: bool,
    version: Option<&'a Version>,
    new_naming: bool,
    inferred_new: bool,
    version_fact: String,
}

struct Lookup<'a> {
    classes: &'a HashMap<&'a str, &'a StorageClass>,
    classes_known: bool,
    backing: &'a HashMap<&'a str, &'a BackingImage>,
    bis_known: bool,
}

impl Lookup<'_> {
    fn served_by(&self, class: &str) -> Served {
        let Some(sc) = self.classes.get(class) else {
            return if self.classes_known {
                Served::Missing
            } else {
                Served::ClassesUnknown
            };
        };
        let Some(bi) = sc.backing_image() else {
            return Served::NoParameter;
        };
        match self.backing.get(bi) {
            Some(b) => match b.image_id() {
                Some(id) => Served::Image {
                    id: id.to_string(),
                    bi: bi.to_string(),
                },
                None => Served::NoAnnotation(bi.to_string()),
            },
            None if self.bis_known => Served::BackingImageGone(bi.to_string()),
            None => Served::Unknown(bi.to_string()),
        }
    }
}

/// The sentence about PVCs on `class`, their count, and whether every PVC was read.
fn pvc_sentence(inv: &Inventory, class: &str) -> (String, (usize, bool)) {
    let pvcs: Vec<&PersistentVolumeClaim> = inv
        .objects::<PersistentVolumeClaim>()
        .iter()
        .filter(|p| p.spec.storage_class_name == class)
        .collect();
    let mut by_image: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &pvcs {
        let n = by_image
            .entry(
                p.metadata
                    .annotation(crate::key!("harvesterhci.io/imageId"))
                    .unwrap_or("no image annotation"),
            )
            .or_default();
        *n = n.saturating_add(1);
    }
    let detail: Vec<String> = by_image.iter().map(|(k, n)| format!("{n} from {k}")).collect();
    let exact = inv.covers::<PersistentVolumeClaim>(None);
    let text = match (pvcs.len(), exact) {
        (0, true) => "No PVC uses the class.".to_string(),
        (0, false) => "No PVC seen using the class (PVCs were not read in every namespace).".to_string(),
        (n, true) => format!("{} use the class ({}).", plural(n, "PVC", "PVCs"), detail.join(", ")),
        (n, false) => format!(
            "At least {} use the class ({}; PVCs were not read in every namespace).",
            plural(n, "PVC", "PVCs"),
            detail.join(", ")
        ),
    };
    (text, (pvcs.len(), exact))
}

/// The first sentence of a shared-class finding: which images share it and why.
fn shared_opening(img: &VirtualMachineImage, class: &str, other_names: &[String], new_naming: bool) -> String {
    if new_naming {
        format!(
            "VirtualMachineImage {} shares the legacy cluster-scoped StorageClass {class} with {}: before \
             v1.8.0-rc2 Harvester named an image's class after the image name only, ignoring the \
             namespace, and the class keeps that name after the upgrade.",
            img.image_id(),
            other_names.join(", "),
        )
    } else {
        format!(
            "VirtualMachineImage {} shares the cluster-scoped StorageClass {class} with {}: Harvester \
             before v1.8.0-rc2 names an image's class after the image name only, ignoring the namespace.",
            img.image_id(),
            other_names.join(", "),
        )
    }
}

/// What sharing the class leads to (and, on v1.8, how a new image takes it over).
fn shared_consequence(new_naming: bool) -> String {
    let mut text = String::from(
        " While any PVC uses the class, deleting either image is refused, and re-initialising or \
         deleting one re-points or removes the class the other relies on.",
    );
    if new_naming {
        text.push_str(
            " On v1.8 an image of this name created after the upgrade deletes the legacy class and \
             re-creates it for itself: if one of these images was created on v1.8, the image the class \
             serves took it over from the others.",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_correct_matches_longhorn() {
        // lh-<36-char uid> is 39 characters: only lower-cased.
        assert_eq!(
            auto_correct_name("lh-AAAAAAAA-0000-4000-8000-000000000001", NAME_MAX),
            "lh-aaaaaaaa-0000-4000-8000-000000000001"
        );
        // Cut to 31 characters, the trailing `-` trimmed (Go's strings.TrimRight), then `-` and
        // the first 8 hex digits of SHA-512("lh-restore-a-very-long-backing-image-name-here").
        assert_eq!(
            auto_correct_name("lh-restore-a-very-long-backing-image-name-here", NAME_MAX),
            "lh-restore-a-very-long-backing-bd4238c6"
        );
    }

    #[test]
    fn longhorn_names() {
        assert!(valid_longhorn_name("vmi-abc.1_x"));
        assert!(!valid_longhorn_name("Vmi"));
        assert!(!valid_longhorn_name("a"));
        assert!(!valid_longhorn_name("-ab"));
    }
}
