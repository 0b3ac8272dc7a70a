//! `image-name-collision`: VirtualMachineImages in different namespaces that share one
//! per-image StorageClass (research §1).
//!
//! Before v1.8 Harvester names each image's class `longhorn-<image name>`, cluster-scoped
//! but derived from the name only, so `ns1/foo` and `ns2/foo` share `longhorn-foo`: deleting
//! either image is refused while any PVC uses the class, and (re)initialising one re-points
//! the class at its own BackingImage. v1.8 names new classes `lh-<uid>` but keeps legacy
//! classes, and a new image whose name matches an existing legacy class takes it over.
//! CDI-backend images are excluded: they all use a shared target class by design.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info, plural};
use crate::inventory::kinds::{BackingImage, PersistentVolumeClaim, StorageClass, VirtualMachineImage};
use crate::inventory::{Inventory, Kind, KindInfo};

use crate::version::{Boundary, Version};

pub struct ImageNameCollision;

const ID: &str = "image-name-collision";
/// `lh-<uid>` class names from v1.8.0-rc2 (harvester/harvester#9392, backport #10187:
/// `pkg/image/common/operator.go`); v1.8.0-rc1's `pkg/util/image.go` still names `longhorn-<name>`.
const FIXED_IN: Boundary = Boundary::new(Version::rc(1, 8, 0, 2));
const LONGHORN_NS: &str = "longhorn-system";

const REMEDIATION: &str = "Images cannot be renamed. Give every image a cluster-unique metadata.name: \
create a replacement image whose name carries its namespace (e.g. `<namespace>-ubuntu-22`) or use \
generateName, move the VMs' volumes to it, then delete the old image once no PVC uses the shared class. \
In Terraform keep `name` unique across namespaces and put the human-friendly name in `display_name`. \
Upgrading to Harvester v1.8+ stops new collisions (classes become lh-<uid>), but existing legacy classes stay shared.";

impl Rule for ImageNameCollision {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "Images in different namespaces share one per-image StorageClass (longhorn-<name>)"
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
            why: "Before Harvester v1.8 every VirtualMachineImage gets a cluster-scoped StorageClass named \
                  longhorn-<image name>; the namespace is not part of the name. Two images of the same name in \
                  different namespaces therefore share one class. Harvester refuses to delete an image while any PVC \
                  in any namespace uses its class, and initialising or deleting one image deletes and re-creates the \
                  shared class pointing at its own BackingImage, so the other image's new volumes get the wrong data. \
                  Terraform users, who choose image names themselves, hit this most. v1.8 names new classes lh-<uid>, \
                  but classes created before the upgrade keep their legacy names, and a new image whose name matches \
                  an existing legacy class takes it over. CDI-backend images share their target class by design and \
                  are not checked. The rule also warns about an image whose class is gone or serves another image.",
            affected: "Harvester v1.2.0 to v1.7.x; on v1.8.0+ only images on legacy longhorn-<name> classes",
            upstream: &[
                "harvester/harvester#5165",
                "harvester/harvester#7184",
                "harvester/harvester#9392",
                "harvester/harvester#10187",
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
        let version = inv.harvester_version.as_ref();

        let images: Vec<&VirtualMachineImage> = inv
            .objects::<VirtualMachineImage>()
            .iter()
            .filter(|i| !i.is_cdi())
            .collect();
        let class_of: Vec<String> = images.iter().map(|i| class_name(i, version, &classes)).collect();

        // Collision groups: same class, or same name where one side uses the legacy class.
        let mut groups: Vec<BTreeSet<usize>> = Vec::new();
        let mut by_class: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        let mut by_name: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (i, img) in images.iter().enumerate() {
            by_class.entry(class_of[i].as_str()).or_default().insert(i);
            by_name.entry(img.metadata.name.as_str()).or_default().insert(i);
        }
        groups.extend(by_class.into_values().filter(|g| g.len() > 1));
        for (name, g) in by_name {
            let legacy = legacy_class(name);
            if g.len() > 1 && g.iter().any(|&i| class_of[i] == legacy) && !groups.contains(&g) {
                groups.push(g);
            }
        }

        let mut flagged = BTreeSet::new();
        for group in &groups {
            for &i in group {
                if !flagged.insert(i) {
                    continue;
                }
                let img = images[i];
                if !inv.in_scope(img.metadata.namespace.as_deref()) {
                    continue;
                }
                let others: Vec<&VirtualMachineImage> = group.iter().filter(|&&j| j != i).map(|&j| images[j]).collect();
                let class = &class_of[i];
                let other_names: Vec<String> = others.iter().map(|o| o.image_id()).collect();
                let mut msg = format!(
                    "VirtualMachineImage {} shares the cluster-scoped StorageClass {class} with {}: Harvester {} \
                     names an image's class after the image name only, ignoring the namespace.",
                    img.image_id(),
                    other_names.join(", "),
                    if version.is_some_and(|v| v.before(&FIXED_IN) == Some(false)) {
                        "gave this legacy class (created before v1.8)"
                    } else {
                        "before v1.8"
                    },
                );
                msg.push(' ');
                msg.push_str(&serves_sentence(class, &classes, classes_known, &backing, bis_known));
                msg.push(' ');
                msg.push_str(&pvc_sentence(inv, class));
                msg.push_str(
                    " While any PVC uses the class, deleting either image is refused, and re-initialising or \
                     deleting one re-points or removes the class the other relies on.",
                );
                let mut f = Finding::about(self, Severity::Error, img, msg, REMEDIATION.to_string());
                f.related = others.iter().map(|o| o.object_ref()).collect();
                out.findings.push(f);
            }
        }

        // Aftermath: an image whose class is gone or serves another image.
        for (i, img) in images.iter().enumerate() {
            if flagged.contains(&i) || !inv.in_scope(img.metadata.namespace.as_deref()) {
                continue;
            }
            let class = img.status.storage_class_name.as_str();
            if class.is_empty() || !classes_known {
                continue;
            }
            let Some(sc) = classes.get(class) else {
                let msg = format!(
                    "VirtualMachineImage {} says its StorageClass is {class}, but that class no longer exists: \
                     new volumes from this image cannot be created. This is what deleting another image of the \
                     same name (in another namespace) does before v1.8.",
                    img.image_id()
                );
                out.findings
                    .push(Finding::about(self, Severity::Warning, *img, msg, aftermath_fix()));
                continue;
            };
            let Some(bi_name) = sc.backing_image() else {
                continue;
            };
            if !bis_known {
                continue;
            }
            let served = backing.get(bi_name).and_then(|b| b.image_id());
            if let Some(served) = served
                && served != img.image_id()
            {
                let msg = format!(
                    "VirtualMachineImage {}'s StorageClass {class} provisions from BackingImage {bi_name}, which \
                     belongs to {served}: new volumes made from this image get the other image's data.",
                    img.image_id()
                );
                let mut f = Finding::about(self, Severity::Warning, *img, msg, aftermath_fix());
                f.related.push(sc.object_ref());
                out.findings.push(f);
            }
        }

        if version.is_none_or(|v| v.before(&FIXED_IN).is_none()) {
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

fn aftermath_fix() -> String {
    "Do not create VMs from this image. Re-create the image under a cluster-unique name (the old class \
     cannot be repaired safely while volumes use it), move the VMs to it, then delete this image."
        .to_string()
}

fn legacy_class(name: &str) -> String {
    format!("longhorn-{name}")
}

/// The class an image uses: `status.storageClassName`, else what its Harvester version
/// would pick (research §1.2).
fn class_name(img: &VirtualMachineImage, version: Option<&Version>, classes: &HashMap<&str, &StorageClass>) -> String {
    if !img.status.storage_class_name.is_empty() {
        return img.status.storage_class_name.clone();
    }
    let legacy = legacy_class(&img.metadata.name);
    let new = img
        .metadata
        .uid
        .as_deref()
        .map(|u| format!("lh-{}", u.to_ascii_lowercase()));
    match version {
        Some(v) if v.before(&FIXED_IN) == Some(true) => legacy,
        _ => {
            // v1.8+ (or unknown): the first existing of lh-<uid>, longhorn-<name>.
            if let Some(n) = new.as_ref().filter(|n| classes.contains_key(n.as_str())) {
                return n.clone();
            }
            if classes.contains_key(legacy.as_str()) || version.is_none_or(|v| v.before(&FIXED_IN).is_none()) {
                return legacy;
            }
            new.unwrap_or(legacy)
        }
    }
}

fn serves_sentence(
    class: &str,
    classes: &HashMap<&str, &StorageClass>,
    classes_known: bool,
    backing: &HashMap<&str, &BackingImage>,
    bis_known: bool,
) -> String {
    let Some(sc) = classes.get(class) else {
        return if classes_known {
            format!("The class {class} does not exist any more.")
        } else {
            format!("Which image {class} serves today is unknown (StorageClasses were not read).")
        };
    };
    let Some(bi) = sc.backing_image() else {
        return format!("The class {class} has no backingImage parameter.");
    };
    if !bis_known {
        return format!(
            "The class provisions from BackingImage {bi} (BackingImages were not read, so its image is unknown)."
        );
    }
    match backing.get(bi).map(|b| b.image_id()) {
        Some(Some(id)) => format!(
            "Today the class serves {id} (parameters.backingImage {bi}, annotated harvesterhci.io/imageId {id})."
        ),
        Some(None) => {
            format!("The class provisions from BackingImage {bi}, which has no harvesterhci.io/imageId annotation.")
        }
        None => format!("The class provisions from BackingImage {bi}, which no longer exists."),
    }
}

fn pvc_sentence(inv: &Inventory, class: &str) -> String {
    let pvcs: Vec<&PersistentVolumeClaim> = inv
        .objects::<PersistentVolumeClaim>()
        .iter()
        .filter(|p| p.spec.storage_class_name == class)
        .collect();
    let mut by_image: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &pvcs {
        *by_image
            .entry(
                p.metadata
                    .annotation("harvesterhci.io/imageId")
                    .unwrap_or("no image annotation"),
            )
            .or_default() += 1;
    }
    let detail: Vec<String> = by_image.iter().map(|(k, n)| format!("{n} from {k}")).collect();
    let exact = inv.covers::<PersistentVolumeClaim>(None);
    match (pvcs.len(), exact) {
        (0, true) => "No PVC uses the class.".to_string(),
        (0, false) => "No PVC seen using the class (PVCs were not read in every namespace).".to_string(),
        (n, true) => format!("{} use the class ({}).", plural(n, "PVC", "PVCs"), detail.join(", ")),
        (n, false) => format!(
            "At least {} use the class ({}; PVCs were not read in every namespace).",
            plural(n, "PVC", "PVCs"),
            detail.join(", ")
        ),
    }
}
