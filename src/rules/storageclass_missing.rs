//! `storageclass-missing`: objects that name a StorageClass that does not exist, or an image
//! class whose BackingImage is gone.
//!
//! - An unbound PVC whose `spec.storageClassName` names no class stays Pending for ever: the PV
//!   controller finds no class to provision with (kubernetes/kubernetes
//!   `pkg/controller/volume/persistentvolume/pv_controller.go`, "storageclass.storage.k8s.io
//!   … not found"). A bound PVC no longer needs its class, so it is not reported.
//! - A VM's `harvesterhci.io/volumeClaimTemplates` entry whose PVC does not exist yet is created
//!   by Harvester's VM controller from that template (harvester/harvester
//!   `pkg/controller/master/virtualmachine/vm_controller.go`, `createPVCsFromAnnotation`): with a
//!   missing class the disk is never provisioned and the VM never starts. The v1.8 rename of image
//!   classes (`longhorn-<name>` → `lh-<uid>`, harvester/harvester PR #9392) makes templates that
//!   name an old class likelier; cluster-api-provider-harvester#211 is the same failure from
//!   outside.
//! - A Longhorn class with `parameters.backingImage` whose BackingImage no longer exists cannot
//!   provision a volume (Longhorn refuses a volume whose backing image is missing,
//!   longhorn/longhorn-manager `webhook/resources/volume/validator.go`).

use std::collections::BTreeSet;

use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{BackingImage, PersistentVolumeClaim, StorageClass, VirtualMachine};

pub struct StorageClassMissing;

pub const ID: &str = "storageclass-missing";

impl Rule for StorageClassMissing {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Pending PVCs and VM disk templates naming a StorageClass that does not exist; image classes whose BackingImage is gone"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        static NEEDS: [&KindInfo; 4] = [
            info::<StorageClass>(),
            info::<PersistentVolumeClaim>(),
            info::<VirtualMachine>(),
            info::<BackingImage>(),
        ];
        &NEEDS
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "An unbound PVC whose storageClassName names no class stays Pending for ever: the PV controller has \
                  nothing to provision with (kubernetes/kubernetes \
                  pkg/controller/volume/persistentvolume/pv_controller.go). A VM's harvesterhci.io/volumeClaimTemplates \
                  entry whose PVC does not exist yet is created by Harvester's VM controller from that template \
                  (harvester/harvester pkg/controller/master/virtualmachine/vm_controller.go, \
                  createPVCsFromAnnotation): with a missing class the disk is never provisioned and the VM never starts. \
                  Harvester v1.8 names new image classes lh-<image uid> instead of longhorn-<image name> \
                  (harvester/harvester PR #9392), so templates and manifests written for an old class are likelier to \
                  miss. A Longhorn class whose parameters.backingImage names a BackingImage that no longer exists cannot \
                  provision volumes. Bound PVCs no longer need their class and are not reported.",
            affected: "every Harvester version; image class names changed in v1.8.0",
            upstream: &[
                "kubernetes/kubernetes pkg/controller/volume/persistentvolume/pv_controller.go",
                "harvester/harvester pkg/controller/master/virtualmachine/vm_controller.go",
                "harvester/harvester PR #9392 (lh-<uid> image classes)",
                "harvester/cluster-api-provider-harvester#211",
                "longhorn/longhorn-manager webhook/resources/volume/validator.go",
            ],
            remediation: "Create the missing class, or point the object at one that exists: a Pending PVC cannot change \
                          its class, so delete and re-create it with an existing class (kubectl get storageclass); edit \
                          the VM's harvesterhci.io/volumeClaimTemplates annotation to name an existing class (for an \
                          image disk, the image's own class: kubectl get vmimage -n <ns> <image> -o \
                          jsonpath='{.status.storageClassName}'). An image class whose BackingImage is gone belongs to a \
                          deleted or broken image: delete the class once nothing uses it, or re-create the image.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        if !inv.covers::<StorageClass>(None) {
            out.notes
                .push("StorageClasses were not read: no reference can be judged (unknown-kind:StorageClass)".into());
            return out;
        }
        let classes: BTreeSet<&str> = inv
            .objects::<StorageClass>()
            .iter()
            .map(|c| c.metadata.name.as_str())
            .collect();
        pending_pvcs(self, ctx, &classes, &mut out);
        vm_templates(self, ctx, &classes, &mut out);
        image_classes(self, ctx, &mut out);
        out
    }
}

fn pending_pvcs(rule: &StorageClassMissing, ctx: &Context<'_>, classes: &BTreeSet<&str>, out: &mut Outcome) {
    for pvc in ctx.inv.objects::<PersistentVolumeClaim>() {
        let class = pvc.spec.storage_class_name.as_str();
        if class.is_empty()
            || classes.contains(class)
            || !pvc.spec.volume_name.is_empty()
            || pvc.metadata.deletion_timestamp.is_some()
            || !ctx.inv.in_scope(pvc.metadata.namespace.as_deref())
        {
            continue;
        }
        let msg = format!(
            "PVC {} is unbound and names StorageClass {class}, which does not exist: it stays Pending for ever, and \
             whatever waits on it (a VM disk, a pod) never starts.",
            pvc.metadata.key()
        );
        out.findings.push(
            Finding::about(
                rule,
                Severity::Warning,
                pvc,
                msg,
                rule.explain().remediation.to_string(),
            )
            .with_confidence(Confidence::Proven)
            .with_title(format!("Pending for ever: StorageClass {class} does not exist"))
            .evidence(format!("missing-class:{class}"))
            .evidence("unbound"),
        );
    }
}

fn vm_templates(rule: &StorageClassMissing, ctx: &Context<'_>, classes: &BTreeSet<&str>, out: &mut Outcome) {
    let inv = ctx.inv;
    let pvcs: BTreeSet<(&str, &str)> = inv
        .objects::<PersistentVolumeClaim>()
        .iter()
        .filter_map(|p| Some((p.metadata.namespace.as_deref()?, p.metadata.name.as_str())))
        .collect();
    for vm in inv.objects::<VirtualMachine>() {
        let ns = vm.metadata.namespace.as_deref().unwrap_or("");
        if vm.metadata.deletion_timestamp.is_some() || !inv.in_scope(Some(ns)) {
            continue;
        }
        let missing: Vec<(String, String)> = vm
            .template_classes()
            .into_iter()
            .filter(|(pvc, class)| !classes.contains(class.as_str()) && !pvcs.contains(&(ns, pvc.as_str())))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let pvcs_known = inv.covers::<PersistentVolumeClaim>(Some(ns));
        let list: Vec<String> = missing.iter().map(|(p, c)| format!("{p} (class {c})")).collect();
        let msg = format!(
            "VM {} has disk templates naming StorageClasses that do not exist: {}. Harvester creates these PVCs from the \
             VM's harvesterhci.io/volumeClaimTemplates annotation, so they are never provisioned and the VM cannot \
             start.{}",
            vm.metadata.key(),
            list.join(", "),
            if pvcs_known {
                ""
            } else {
                " (PVCs were not read here: the disks may exist already, in which case the template is no longer used.)"
            }
        );
        let mut f = Finding::about(rule, Severity::Warning, vm, msg, rule.explain().remediation.to_string())
            .with_confidence(if pvcs_known {
                Confidence::Proven
            } else {
                Confidence::Possible
            });
        f = f.with_title(format!(
            "disk templates name missing StorageClass {}: the VM cannot start",
            missing.first().map(|(_, c)| c.as_str()).unwrap_or("")
        ));
        if !pvcs_known {
            f.severity = Severity::Info;
            f = f.evidence("unknown-kind:PersistentVolumeClaim");
        }
        for (p, c) in &missing {
            f = f
                .evidence(format!("missing-class:{c}"))
                .evidence(format!("template-pvc:{p}"));
        }
        out.findings.push(f);
    }
}

fn image_classes(rule: &StorageClassMissing, ctx: &Context<'_>, out: &mut Outcome) {
    let inv = ctx.inv;
    if !inv.covers::<BackingImage>(Some("longhorn-system")) {
        out.notes
            .push("BackingImages were not read: image classes were not checked (unknown-kind:BackingImage)".into());
        return;
    }
    let images: BTreeSet<&str> = inv
        .objects::<BackingImage>()
        .iter()
        .map(|b| b.metadata.name.as_str())
        .collect();
    for sc in inv.objects::<StorageClass>() {
        let Some(bi) = sc.backing_image() else { continue };
        if sc.provisioner != "driver.longhorn.io" || images.contains(bi) || sc.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let msg = format!(
            "StorageClass {} provisions from BackingImage {bi}, which no longer exists: every new volume of this class \
             fails. Its image was deleted or lost its backing image.",
            sc.metadata.name
        );
        out.findings.push(
            Finding::about(rule, Severity::Warning, sc, msg, rule.explain().remediation.to_string())
                .with_confidence(Confidence::Proven)
                .with_title(format!("BackingImage {bi} is gone: no new volumes of this class"))
                .evidence(format!("missing-backing-image:{bi}")),
        );
    }
}
