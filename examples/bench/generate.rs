//! A synthetic Harvester cluster of a given scale, with a known number of injected problems
//! for every rule.
//!
//! Scale 1 = 200 namespaces, 2,000 VirtualMachineImages (each with a Longhorn BackingImage in
//! `longhorn-system` and a StorageClass `longhorn-<image>`), 10,000 VirtualMachines (5,000 of
//! them running: a VMI each), 30,000 PVCs (root and data disk of every VM, plus 10,000 guest
//! cluster CSI volumes `pvc-<uuid>` hot-plugged into the RKE2 node VMs of the guest namespaces,
//! each with its Longhorn Volume), 10,000 virt-launcher Pods, one ResourceQuota per namespace
//! (Rancher default quotas with cpu/memory limits in every other namespace), the
//! `server-version` Setting (v1.4.1) and a few VirtualMachineImports.
//!
//! Injected problems (counts scale, at least one each), see [`Expected`]:
//! - image-name-collision: pairs of images of the same name in two namespaces sharing
//!   `longhorn-<name>` (2 findings per pair), the class serving the second image;
//! - image-mutable-url: images downloading `.../jammy/current/...` without a checksum, half of
//!   them with a failed (checksum-mismatched) BackingImage copy;
//! - vm-name-breaks-migration: 57-character VM names in namespaces with a Rancher quota;
//! - migration-annotation-stale: `harvesterhci.io/migrating-<vm>` on quotas whose migration
//!   succeeded;
//! - orphaned-guest-pvc: detached `pvc-<uuid>` PVCs, nothing referencing them, unused for 10
//!   days, half labelled for a deleted guest cluster, half in a namespace without guest VMs;
//! - import-openstack-leak: OpenStack imports that failed to export.
//!
//! Near misses that must stay silent: 53-character names under a quota, long names without a
//! quota, a running migration's quota entry, guest PVCs in use, an attached unreferenced guest
//! PVC, successful and VMware imports.

use serde_json::{Value, json};

/// One kind of the synthetic cluster and how the API serves it.
pub struct KindSet {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
    /// `status` is written with a second request to `/status` (the create drops it).
    pub status_subresource: bool,
    pub objects: Vec<Value>,
}

/// Each kind the cluster holds, in load order: (apiVersion, kind, plural, namespaced, status
/// written through `/status`).
type KindSpec = (&'static str, &'static str, &'static str, bool, bool);
const KINDS: [KindSpec; 18] = [
    ("harvesterhci.io/v1beta1", "Setting", "settings", false, false),
    (
        "harvesterhci.io/v1beta1",
        "VirtualMachineImage",
        "virtualmachineimages",
        true,
        false,
    ),
    ("longhorn.io/v1beta2", "BackingImage", "backingimages", true, true),
    ("storage.k8s.io/v1", "StorageClass", "storageclasses", false, false),
    ("v1", "ResourceQuota", "resourcequotas", true, true),
    ("kubevirt.io/v1", "VirtualMachine", "virtualmachines", true, true),
    (
        "kubevirt.io/v1",
        "VirtualMachineInstance",
        "virtualmachineinstances",
        true,
        true,
    ),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, true),
    ("v1", "Pod", "pods", true, true),
    ("longhorn.io/v1beta2", "Volume", "volumes", true, true),
    (
        "migration.harvesterhci.io/v1beta1",
        "VirtualMachineImport",
        "virtualmachineimports",
        true,
        true,
    ),
    (
        "kubevirt.io/v1",
        "VirtualMachineInstanceMigration",
        "virtualmachineinstancemigrations",
        true,
        true,
    ),
    // The newer rules (issue 17). Both Harvester backup CRDs have no status subresource.
    (
        "harvesterhci.io/v1beta1",
        "VirtualMachineBackup",
        "virtualmachinebackups",
        true,
        false,
    ),
    (
        "harvesterhci.io/v1beta1",
        "ScheduleVMBackup",
        "schedulevmbackups",
        true,
        false,
    ),
    ("longhorn.io/v1beta2", "Orphan", "orphans", true, true),
    ("v1", "ServiceAccount", "serviceaccounts", true, false),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        true,
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        false,
    ),
];

impl KindSet {
    fn new((api_version, kind, plural, namespaced, status_subresource): KindSpec) -> Self {
        KindSet {
            api_version,
            kind,
            plural,
            namespaced,
            status_subresource,
            objects: Vec::new(),
        }
    }

    /// `/api/v1` or `/apis/group/version`.
    pub fn base(&self) -> String {
        if self.api_version.contains('/') {
            format!("/apis/{}", self.api_version)
        } else {
            format!("/api/{}", self.api_version)
        }
    }
}

/// Findings the scan must report per rule (exactly).
#[derive(Debug, Default, Clone)]
pub struct Expected {
    pub image_name_collision: usize,
    pub image_mutable_url: usize,
    pub vm_name_breaks_migration: usize,
    pub migration_annotation_stale: usize,
    pub orphaned_guest_pvc: usize,
    pub import_openstack_leak: usize,
    pub migration_stuck: usize,
    pub backup_failed: usize,
    pub image_stuck: usize,
    pub storageclass_missing: usize,
    pub vm_disk_orphaned: usize,
    pub guest_cluster_leftovers: usize,
    /// Longhorn Volumes without a PV (dated by `lastPVCRefAt` in status: live and offline).
    pub longhorn_orphaned_data: usize,
    /// Longhorn Orphans: dated by their creationTimestamp, which the API server sets to the
    /// time of the create, so they are old enough only in the dump (offline).
    pub longhorn_orphans_offline: usize,
}

impl Expected {
    /// Findings per rule: `live` for a scan of the loaded API server, else of the dump.
    pub fn by_rule(&self, live: bool) -> Vec<(&'static str, usize)> {
        let orphans = if live { 0 } else { self.longhorn_orphans_offline };
        vec![
            ("image-name-collision", self.image_name_collision),
            ("image-mutable-url", self.image_mutable_url),
            ("vm-name-breaks-migration", self.vm_name_breaks_migration),
            ("migration-annotation-stale", self.migration_annotation_stale),
            ("orphaned-guest-pvc", self.orphaned_guest_pvc),
            ("import-openstack-leak", self.import_openstack_leak),
            ("migration-stuck", self.migration_stuck),
            ("backup-failed", self.backup_failed),
            ("image-stuck", self.image_stuck),
            ("storageclass-missing", self.storageclass_missing),
            ("vm-disk-orphaned", self.vm_disk_orphaned),
            ("guest-cluster-leftovers", self.guest_cluster_leftovers),
            ("longhorn-orphaned-data", self.longhorn_orphaned_data + orphans),
        ]
    }
}

pub struct Cluster {
    /// Namespaces first: they must exist before anything is created in them.
    pub namespaces: KindSet,
    pub kinds: Vec<KindSet>,
    pub expected: Expected,
    /// Names of the orphaned guest PVCs (`ns/name`), for checking the naive script.
    pub orphans: Vec<String>,
}

impl Cluster {
    /// Objects the scan lists (namespaces are not listed).
    pub fn object_count(&self) -> usize {
        self.kinds.iter().map(|k| k.objects.len()).sum()
    }
}

/// Deterministic UUIDs (splitmix64), lower-case v4-shaped.
struct Uuids(u64);

impl Uuids {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a as u32,
            (a >> 32) as u16,
            (a >> 48) as u16 & 0xfff,
            b as u16 & 0xfff,
            (b >> 16) & 0xffff_ffff_ffff
        )
    }
}

fn scaled(base: f64, scale: f64, min: usize) -> usize {
    ((base * scale).round() as usize).max(min)
}

const OS: &[&str] = &["ubuntu", "sles", "rocky", "debian", "opensuse", "windows"];
const RANCHER_QUOTA: &str = "resourcequota.management.cattle.io/default-resource-quota";
const GUEST_LABEL: &str = "guestcluster.harvesterhci.io/name";

pub fn generate(scale: f64) -> Cluster {
    let now = jiff::Timestamp::now();
    let ago = |days: i64| {
        now.checked_sub(jiff::SignedDuration::from_hours(24 * days))
            .unwrap_or(now)
            .round(jiff::Unit::Second)
            .unwrap_or(now)
            .to_string()
    };
    let hours_ago = |hours: f64| {
        now.checked_sub(jiff::SignedDuration::from_secs_f64(hours * 3600.0))
            .unwrap_or(now)
            .round(jiff::Unit::Second)
            .unwrap_or(now)
            .to_string()
    };
    let created = ago(120);
    let mut ids = Uuids(0x5eed_0000 + (scale * 1000.0) as u64);

    let n_ns = scaled(200.0, scale, 10);
    let images_per_ns = 10;
    let vms_per_ns = 50;
    let n_guest_pvcs = scaled(10_000.0, scale, 50);
    let n_collisions = scaled(10.0, scale, 1);
    let n_mutable = scaled(20.0, scale, 2);
    let n_long = scaled(5.0, scale, 1);
    let n_stale = scaled(5.0, scale, 1);
    let n_orphans = scaled(20.0, scale, 2);
    let n_failed_imports = scaled(3.0, scale, 1);

    let mut namespaces = KindSet::new(("v1", "Namespace", "namespaces", false, false));
    let [
        mut settings,
        mut images,
        mut backing,
        mut classes,
        mut quotas,
        mut vms,
        mut vmis,
        mut pvcs,
        mut pods,
        mut volumes,
        mut imports,
        mut migrations,
        mut backups,
        mut schedules,
        mut orphan_data,
        mut service_accounts,
        mut role_bindings,
        mut cluster_role_bindings,
    ] = KINDS.map(KindSet::new);

    let mut expected = Expected::default();
    let mut orphans = Vec::new();

    let meta = |ids: &mut Uuids, name: &str, ns: Option<&str>| {
        let mut m = json!({"name": name, "uid": ids.uuid(), "creationTimestamp": created});
        if let Some(ns) = ns {
            m["namespace"] = json!(ns);
        }
        m
    };

    let ns_names: Vec<String> = (0..n_ns).map(|i| format!("tenant-{i:03}")).collect();
    for ns in ns_names
        .iter()
        .map(String::as_str)
        .chain(["longhorn-system", "harvester-public"])
    {
        namespaces.objects.push(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"field.cattle.io/projectId": "p-bench"}}
        }));
    }
    // Guest-cluster namespaces: every 5th. Rancher default quota: every other namespace.
    let is_guest = |i: usize| i.is_multiple_of(5);
    let has_quota = |i: usize| i % 2 == 1;

    settings.objects.push(json!({
        "apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
        "metadata": meta(&mut ids, "server-version", None),
        "default": "dev", "value": "v1.4.1"
    }));
    classes.objects.push(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "harvester-longhorn", "uid": ids.uuid(), "creationTimestamp": created,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "driver.longhorn.io", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
        "parameters": {"migratable": "true", "numberOfReplicas": "3", "staleReplicaTimeout": "30"}
    }));

    // ---- Images, BackingImages, StorageClasses ----
    let disks = [
        "0f298c3e-770c-468d-ae64-ae397aed9d47",
        "6eff62eb-b950-4e77-b341-ddc0d4de954c",
        "7cf86393-26f3-4ee3-819b-839ad3d39aed",
    ];
    let checksum = "2b512ebde6bdd13876a4eb2844f8549cdd26a78b9ecf8905fe5124ce3856fdf043baa7df0f0246e23e97eb742f48e817501c529ce7520634730517f02ae67799";
    // The image name each namespace's VMs boot from (the first image of the namespace).
    let mut boot_image: Vec<String> = Vec::new();
    let total_images = n_ns * images_per_ns;
    let mut mutable_left = n_mutable;
    // Pair k: images at namespaces 2k+2 and 2k+3 (index 1) share a name.
    let mut coll_pairs = 0;
    for (i, ns) in ns_names.iter().enumerate() {
        for j in 0..images_per_ns {
            let idx = i * images_per_ns + j;
            let os = OS[idx % OS.len()];
            let mut name = format!("{os}-{i:03}-{j}");
            let pair = if j == 1 && i >= 2 { Some((i - 2) / 2) } else { None };
            let colliding = pair.is_some_and(|k| k < n_collisions);
            if colliding {
                let k = pair.unwrap_or(0);
                name = format!("golden-image-{k}");
                if i % 2 == 1 {
                    coll_pairs += 1;
                }
            }
            // Mutable URLs: spread over the cluster, never on colliding images.
            let mutable = !colliding && j == 2 && mutable_left > 0 && i.is_multiple_of((n_ns / n_mutable).max(1));
            let (url, sum) = if mutable {
                mutable_left -= 1;
                (
                    "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img".to_string(),
                    "",
                )
            } else {
                (
                    format!("https://images.example.org/releases/{os}/{os}-2025.{j}-20250601.qcow2"),
                    checksum,
                )
            };
            if j == 0 {
                boot_image.push(name.clone());
            }
            let class = format!("longhorn-{name}");
            let mut img = json!({
                "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
                "metadata": meta(&mut ids, &name, Some(ns)),
                "spec": {
                    "backend": "backingimage", "displayName": format!("{os} image {j}"), "sourceType": "download",
                    "url": url, "retry": 3,
                    "storageClassParameters": {"migratable": "true", "numberOfReplicas": "3", "staleReplicaTimeout": "30"}
                },
                "status": {
                    "appliedUrl": url, "progress": 100, "size": 446_627_840u64, "virtualSize": 2_147_483_648u64,
                    "storageClassName": class,
                    "conditions": [
                        {"type": "Imported", "status": "True", "reason": "Imported", "lastUpdateTime": created},
                        {"type": "Initialized", "status": "True", "reason": "Initialized", "lastUpdateTime": created}
                    ]
                }
            });
            img["metadata"]["labels"] = json!({"harvesterhci.io/imageDisplayName": format!("{os}-image-{j}")});
            if !sum.is_empty() {
                img["spec"]["checksum"] = json!(sum);
            }
            let image_id = format!("{ns}/{name}");
            let bi_name = format!("vmi-{}", img["metadata"]["uid"].as_str().unwrap_or_default());
            images.objects.push(img);
            let failed = mutable && mutable_left.is_multiple_of(2);
            let mut disk_status = serde_json::Map::new();
            for (d, disk) in disks.iter().enumerate() {
                let (state, message) = if failed && d == 2 {
                    (
                        "failed",
                        format!(
                            "Backing image recorded checksum {checksum} doesn't match the file checksum {} in disk {disk}",
                            &checksum[..64].repeat(2)
                        ),
                    )
                } else {
                    ("ready", String::new())
                };
                let mut s = json!({"state": state, "progress": 100, "lastStateTransitionTime": created});
                if !message.is_empty() {
                    s["message"] = json!(message);
                }
                disk_status.insert(disk.to_string(), s);
            }
            let mut bmeta = meta(&mut ids, &bi_name, Some("longhorn-system"));
            bmeta["annotations"] = json!({"harvesterhci.io/imageId": image_id});
            bmeta["labels"] =
                json!({"longhorn.io/component": "backing-image", "longhorn.io/managed-by": "longhorn-manager"});
            backing.objects.push(json!({
                "apiVersion": "longhorn.io/v1beta2", "kind": "BackingImage",
                "metadata": bmeta,
                "spec": {
                    "sourceType": "download", "sourceParameters": {"url": url}, "minNumberOfCopies": 3,
                    "diskFileSpecMap": disks.iter().map(|d| (d.to_string(), json!({"evictionRequested": false}))).collect::<serde_json::Map<_, _>>()
                },
                "status": {"checksum": checksum, "size": 446_627_840u64, "diskFileStatusMap": disk_status}
            }));
            // One class per name: the second image of a colliding pair re-pointed it.
            if colliding && i % 2 == 1 {
                if let Some(sc) = classes
                    .objects
                    .iter_mut()
                    .find(|c| c["metadata"]["name"].as_str() == Some(class.as_str()))
                {
                    sc["parameters"]["backingImage"] = json!(bi_name);
                }
                continue;
            }
            classes.objects.push(json!({
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": meta(&mut ids, &class, None),
                "provisioner": "driver.longhorn.io", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
                "allowVolumeExpansion": true,
                "parameters": {
                    "backingImage": bi_name, "backingImageDataSourceType": "download",
                    "backingImageDataSourceParameters": format!("{{\"url\":\"{url}\"}}"),
                    "migratable": "true", "numberOfReplicas": "3", "staleReplicaTimeout": "30"
                }
            }));
        }
    }
    assert_eq!(images.objects.len(), total_images);
    expected.image_name_collision = 2 * coll_pairs;
    expected.image_mutable_url = n_mutable - mutable_left;

    // ---- VMs, VMIs, launcher pods, disks, guest CSI volumes ----
    let n_guest_ns = (0..n_ns).filter(|&i| is_guest(i)).count().max(1);
    let guest_per_ns = n_guest_pvcs.div_ceil(n_guest_ns);
    let mut guest_left = n_guest_pvcs;
    let mut long_left = n_long;
    let mut stale: Vec<(usize, String)> = Vec::new();
    for (i, ns) in ns_names.iter().enumerate() {
        let guest = is_guest(i);
        let cluster = format!("rke2-{i:03}");
        // Guest PVCs of this namespace, hot-plugged round-robin into its VMs.
        let mut guest_claims: Vec<Vec<String>> = vec![Vec::new(); vms_per_ns];
        if guest {
            let here = guest_per_ns.min(guest_left);
            guest_left -= here;
            for g in 0..here {
                let name = format!("pvc-{}", ids.uuid());
                let pv = format!("pvc-{}", ids.uuid());
                guest_claims[g % vms_per_ns].push(name.clone());
                pvcs.objects.push(pvc(
                    &mut ids,
                    &created,
                    ns,
                    &name,
                    &pv,
                    "harvester-longhorn",
                    "20Gi",
                    None,
                    None,
                ));
                volumes
                    .objects
                    .push(lh_volume(&mut ids, &created, ns, &name, &pv, "attached", None));
            }
        }
        let quota_here = has_quota(i);
        for v in 0..vms_per_ns {
            let mut name = if guest {
                format!("{cluster}-pool1-{v:02}-x{:05}", (i * 7919 + v * 104_729) % 100_000)
            } else {
                format!("vm-{}-{i:03}-{v:02}", OS[v % OS.len()])
            };
            // Long names: injected under quotas; near misses (53 chars, or no quota) elsewhere.
            if !guest && v == 3 {
                if quota_here && long_left > 0 {
                    long_left -= 1;
                    // 54 characters: `migrating-<name>` is 64, one over the limit.
                    name = format!("ci-runner-ubuntu-2204-gpu-passthrough-east-{i:03}-slot14a");
                } else if quota_here {
                    name = format!("ci-runner-ubuntu-2204-gpu-passthrough-east-{i:03}-s01");
                } else {
                    name = format!("ci-runner-ubuntu-2204-gpu-passthrough-east-{i:03}-slot99b");
                }
            }
            let image = &boot_image[i];
            let root = format!("{name}-rootdisk-{:05x}", (i * 31 + v) % 0xfffff);
            let data = format!("{name}-disk-1-{:05x}", (i * 17 + v) % 0xfffff);
            let vm_id = format!("{ns}/{name}");
            let owned = format!("[{{\"schema\":\"kubevirt.io.virtualmachine\",\"refs\":[\"{vm_id}\"]}}]");
            let root_pv = format!("pvc-{}", ids.uuid());
            let data_pv = format!("pvc-{}", ids.uuid());
            pvcs.objects.push(pvc(
                &mut ids,
                &created,
                ns,
                &root,
                &root_pv,
                &format!("longhorn-{image}"),
                "40Gi",
                Some(&format!("{ns}/{image}")),
                Some(&owned),
            ));
            pvcs.objects.push(pvc(
                &mut ids,
                &created,
                ns,
                &data,
                &data_pv,
                "harvester-longhorn",
                "100Gi",
                None,
                Some(&owned),
            ));
            let templates = json!([
                {"metadata": {"name": root, "annotations": {"harvesterhci.io/imageId": format!("{ns}/{image}")}},
                 "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "40Gi"}},
                          "volumeMode": "Block", "storageClassName": format!("longhorn-{image}")}},
                {"metadata": {"name": data},
                 "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "100Gi"}},
                          "volumeMode": "Block", "storageClassName": "harvester-longhorn"}}
            ]);
            let mut volumes_spec = vec![
                json!({"name": "cloudinitdisk", "cloudInitNoCloud": {"secretRef": {"name": format!("{name}-cloudinit")}}}),
                json!({"name": "rootdisk", "persistentVolumeClaim": {"claimName": root}}),
                json!({"name": "disk-1", "persistentVolumeClaim": {"claimName": data}}),
            ];
            let mut disks_spec = vec![
                json!({"name": "cloudinitdisk", "disk": {"bus": "virtio"}}),
                json!({"name": "rootdisk", "bootOrder": 1, "disk": {"bus": "virtio"}}),
                json!({"name": "disk-1", "disk": {"bus": "virtio"}}),
            ];
            for c in &guest_claims[v] {
                volumes_spec.push(json!({"name": c, "persistentVolumeClaim": {"claimName": c, "hotpluggable": true}}));
                disks_spec.push(json!({"name": c, "disk": {"bus": "scsi"}}));
            }
            let mut labels = json!({"harvesterhci.io/creator": "harvester", "harvesterhci.io/os": OS[v % OS.len()]});
            if guest {
                labels = json!({
                    "harvesterhci.io/creator": "docker-machine-driver-harvester",
                    GUEST_LABEL: cluster,
                });
            }
            let mut vmeta = meta(&mut ids, &name, Some(ns));
            vmeta["labels"] = labels;
            vmeta["annotations"] = json!({
                "harvesterhci.io/volumeClaimTemplates": templates.to_string(),
                "harvesterhci.io/vmRunStrategy": "RerunOnFailure",
                "network.harvesterhci.io/ips": "[]"
            });
            vmeta["finalizers"] = json!(["wrangler.cattle.io/VMController.CleanupPVCAndSnapshot"]);
            let running = v.is_multiple_of(2);
            vms.objects.push(json!({
                "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": vmeta,
                "spec": {
                    "runStrategy": if running { "RerunOnFailure" } else { "Halted" },
                    "template": {
                        "metadata": {"labels": {"harvesterhci.io/vmName": name}},
                        "spec": {
                            "domain": {
                                "cpu": {"cores": 2, "sockets": 1, "threads": 1},
                                "devices": {
                                    "disks": disks_spec,
                                    "interfaces": [{"name": "default", "bridge": {}, "model": "virtio"}]
                                },
                                "machine": {"type": "q35"},
                                "memory": {"guest": "3996Mi"},
                                "resources": {
                                    "limits": {"cpu": "2", "memory": "4Gi"},
                                    "requests": {"cpu": "125m", "memory": "2730Mi"}
                                }
                            },
                            "evictionStrategy": "LiveMigrateIfPossible",
                            "networks": [{"name": "default", "multus": {"networkName": "default/vlan100"}}],
                            "volumes": volumes_spec.clone()
                        }
                    }
                }
            }));
            if running {
                let mut mmeta = meta(&mut ids, &name, Some(ns));
                mmeta["labels"] = json!({"harvesterhci.io/vmName": name});
                vmis.objects.push(json!({
                    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                    "metadata": mmeta,
                    "spec": {"volumes": volumes_spec, "domain": {"devices": {}}},
                }));
                if quota_here && v == 10 && stale.len() < n_stale {
                    stale.push((i, name.clone()));
                }
            }
            let mut pmeta = meta(
                &mut ids,
                &format!("virt-launcher-{name}-{:05x}", (i * 131 + v) % 0xfffff),
                Some(ns),
            );
            pmeta["labels"] = json!({"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": name});
            pods.objects.push(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": pmeta,
                "spec": {
                    "containers": [{
                        "name": "compute", "image": "registry.suse.com/suse/sles/15.6/virt-launcher:1.3.1",
                        "resources": {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "125m", "memory": "2730Mi"}}
                    }],
                    "nodeName": format!("hv-node-{:02}", (i + v) % 3 + 1),
                    "volumes": [
                        {"name": "rootdisk", "persistentVolumeClaim": {"claimName": root}},
                        {"name": "disk-1", "persistentVolumeClaim": {"claimName": data}}
                    ]
                }
            }));
        }
    }
    expected.vm_name_breaks_migration = n_long - long_left;

    // ---- Quotas, migrations ----
    for (i, ns) in ns_names.iter().enumerate() {
        let mut qmeta = meta(&mut ids, &format!("default-{:05x}", i * 7 % 0xfffff), Some(ns));
        if has_quota(i) {
            qmeta["labels"] = json!({RANCHER_QUOTA: "true"});
            let mut ann = serde_json::Map::new();
            ann.insert(
                "field.cattle.io/resourceQuota".into(),
                json!("{\"limit\":{\"limitsCpu\":\"40\",\"limitsMemory\":\"128Gi\"}}"),
            );
            for (_, vm) in stale.iter().filter(|(q, _)| *q == i) {
                ann.insert(
                    format!("harvesterhci.io/migrating-{vm}"),
                    json!("{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}"),
                );
            }
            qmeta["annotations"] = Value::Object(ann);
        }
        quotas.objects.push(json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": qmeta,
            "spec": {"hard": {"limits.cpu": "40", "limits.memory": "128Gi", "requests.storage": "10Ti"}}
        }));
    }
    for (i, vm) in &stale {
        migrations.objects.push(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": meta(&mut ids, &format!("{vm}-mig{:03}", i), Some(&ns_names[*i])),
            "spec": {"vmiName": vm},
            "status": {"phase": "Succeeded"}
        }));
    }
    expected.migration_annotation_stale = stale.len();
    // Near miss: a running migration with its quota entry.
    if let Some((qi, q)) = quotas
        .objects
        .iter_mut()
        .enumerate()
        .find(|(i, q)| has_quota(*i) && !stale.iter().any(|(s, _)| s == i) && q["metadata"]["labels"].is_object())
    {
        let ns = ns_names[qi].clone();
        let vm = format!("vm-{}-{qi:03}-12", OS[12 % OS.len()]);
        q["metadata"]["annotations"][format!("harvesterhci.io/migrating-{vm}")] =
            json!("{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}");
        migrations.objects.push(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": meta(&mut ids, &format!("{vm}-running"), Some(&ns)),
            "spec": {"vmiName": vm},
            // Running for 10 minutes: well under migration-stuck's stuckAfter (3h).
            "status": {"phase": "Running", "phaseTransitionTimestamps": [
                {"phase": "Scheduling", "phaseTransitionTimestamp": hours_ago(0.2)},
                {"phase": "Running", "phaseTransitionTimestamp": hours_ago(0.17)}
            ]}
        }));
    }

    // ---- Orphaned guest PVCs (in namespaces without guest VMs) ----
    let hosts: Vec<usize> = (0..n_ns).filter(|&i| !is_guest(i)).collect();
    let detached_since = ago(10);
    for o in 0..n_orphans {
        let i = hosts[(o * 7) % hosts.len()];
        let ns = &ns_names[i];
        let name = format!("pvc-{}", ids.uuid());
        let pv = format!("pvc-{}", ids.uuid());
        let mut p = pvc(
            &mut ids,
            &created,
            ns,
            &name,
            &pv,
            "harvester-longhorn",
            "50Gi",
            None,
            None,
        );
        if o.is_multiple_of(2) {
            p["metadata"]["labels"] = json!({GUEST_LABEL: format!("deleted-cluster-{o}")});
        }
        pvcs.objects.push(p);
        volumes.objects.push(lh_volume(
            &mut ids,
            &created,
            ns,
            &name,
            &pv,
            "detached",
            Some(&detached_since),
        ));
        orphans.push(format!("{ns}/{name}"));
    }
    expected.orphaned_guest_pvc = n_orphans;
    // Near miss: unreferenced but attached.
    {
        let ns = &ns_names[hosts[1 % hosts.len()]];
        let name = format!("pvc-{}", ids.uuid());
        let pv = format!("pvc-{}", ids.uuid());
        pvcs.objects.push(pvc(
            &mut ids,
            &created,
            ns,
            &name,
            &pv,
            "harvester-longhorn",
            "50Gi",
            None,
            None,
        ));
        volumes
            .objects
            .push(lh_volume(&mut ids, &created, ns, &name, &pv, "attached", None));
    }

    // ---- Imports ----
    let imp_ns = &ns_names[n_ns - 1];
    let failed_at = ago(30);
    for k in 0..n_failed_imports + 2 {
        let (status, conditions, source_kind) = match k {
            k if k < n_failed_imports => (
                "VMMigrationFailed",
                json!([
                    {"type": "VMPoweredOff", "status": "True", "lastTransitionTime": failed_at, "lastUpdateTime": failed_at},
                    {"type": "VMExportFailed", "status": "True", "lastTransitionTime": failed_at, "lastUpdateTime": failed_at,
                     "message": "error exporting VM: timeout waiting for volume upload to image to become active"}
                ]),
                "OpenstackSource",
            ),
            k if k == n_failed_imports => (
                "virtualMachineRunning",
                json!([
                    {"type": "VMPoweredOff", "status": "True", "lastTransitionTime": failed_at, "lastUpdateTime": failed_at},
                    {"type": "VMExported", "status": "True", "lastTransitionTime": failed_at, "lastUpdateTime": failed_at}
                ]),
                "OpenstackSource",
            ),
            _ => (
                "VMMigrationFailed",
                json!([
                    {"type": "VMExportFailed", "status": "True", "lastTransitionTime": failed_at, "lastUpdateTime": failed_at}
                ]),
                "VmwareSource",
            ),
        };
        imports.objects.push(json!({
            "apiVersion": "migration.harvesterhci.io/v1beta1", "kind": "VirtualMachineImport",
            "metadata": meta(&mut ids, &format!("import-{k:03}"), Some(imp_ns)),
            "spec": {
                "virtualMachineName": format!("legacy-app-{k:03}"),
                "sourceCluster": {"apiVersion": "migration.harvesterhci.io/v1beta1", "kind": source_kind,
                                  "name": "devstack", "namespace": imp_ns},
                "networkMapping": [{"sourceNetwork": "shared", "destinationNetwork": "default/vlan100"}]
            },
            "status": {
                "importStatus": status, "importConditions": conditions,
                "diskImportStatus": [{"diskName": format!("legacy-app-{k:03}-0"), "diskSize": 21_474_836_480u64}]
            }
        }));
    }
    expected.import_openstack_leak = n_failed_imports;

    // ---- The newer rules (issue 17): each problem a few times, and one near miss each ----
    // Ages come from status fields the API server keeps (it sets creationTimestamp itself and
    // drops a deletionTimestamp on create), except the Longhorn Orphans' (see Expected).
    let misc = "harvester-public";
    let n_mig_stuck = scaled(3.0, scale, 1);
    let n_backup_error = scaled(3.0, scale, 1);
    let n_backup_slow = scaled(2.0, scale, 1);
    let n_schedules = scaled(1.0, scale, 1);
    let n_retry = scaled(2.0, scale, 1);
    let n_bi_left = scaled(2.0, scale, 1);
    let n_bi_failed = scaled(1.0, scale, 1).min(n_retry);
    let n_sc_pending = scaled(3.0, scale, 1);
    let n_sc_image = scaled(1.0, scale, 1);
    let n_vm_disks = scaled(4.0, scale, 1);
    let n_no_pv = scaled(2.0, scale, 1);
    let n_lh_orphans = scaled(2.0, scale, 1);
    let n_dead_creds = scaled(2.0, scale, 1).min(n_orphans.div_ceil(2));
    let n_dangling = scaled(1.0, scale, 1);

    // migration-stuck: Running for 5 hours (stuckAfter 3h), their VMI gone. Near miss: the
    // running migration above (10 minutes), and an old Failed one.
    for k in 0..n_mig_stuck {
        let ns = &ns_names[(k * 3 + 1) % n_ns];
        migrations.objects.push(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": meta(&mut ids, &format!("evacuate-db-{k:03}"), Some(ns)),
            "spec": {"vmiName": format!("db-primary-{k:03}")},
            "status": {"phase": "Running", "phaseTransitionTimestamps": [
                {"phase": "Pending", "phaseTransitionTimestamp": hours_ago(5.2)},
                {"phase": "Scheduling", "phaseTransitionTimestamp": hours_ago(5.1)},
                {"phase": "Running", "phaseTransitionTimestamp": hours_ago(5.0)}
            ]}
        }));
    }
    migrations.objects.push(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": meta(&mut ids, "evacuate-failed", Some(&ns_names[0])),
        "spec": {"vmiName": "db-primary-failed"},
        "status": {"phase": "Failed", "phaseTransitionTimestamps": [
            {"phase": "Failed", "phaseTransitionTimestamp": ago(3)}
        ]}
    }));
    expected.migration_stuck = n_mig_stuck;

    // backup-failed: backups with an error, backups not ready after 2 days (grace 6h), and
    // schedules Harvester suspended at their failure limit. Near misses: a ready backup, one in
    // progress for 10 minutes, a schedule suspended by its user.
    let backup = |ids: &mut Uuids, name: &str, vm: &str, mut status: Value| {
        // The CRD requires status.source: the VM as it was backed up.
        status["source"] = json!({"metadata": {"name": vm, "namespace": misc},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}});
        json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": meta(ids, name, Some(misc)),
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm}, "type": "backup"},
            "status": status
        })
    };
    for k in 0..n_backup_error {
        let at = ago(2);
        backups.objects.push(backup(
            &mut ids,
            &format!("nightly-app-{k:03}"),
            &format!("app-{k:03}"),
            json!({"creationTime": at, "readyToUse": false, "progress": 0,
                   "error": {"message": "failed to sync backup target: NFS server unreachable", "time": at}}),
        ));
    }
    for k in 0..n_backup_slow {
        backups.objects.push(backup(
            &mut ids,
            &format!("weekly-app-{k:03}"),
            &format!("app-{k:03}"),
            json!({"creationTime": ago(2), "readyToUse": false, "progress": 40}),
        ));
    }
    backups.objects.push(backup(
        &mut ids,
        "weekly-done",
        "app-done",
        json!({"creationTime": ago(7), "readyToUse": true, "progress": 100}),
    ));
    backups.objects.push(backup(
        &mut ids,
        "weekly-running",
        "app-running",
        json!({"creationTime": hours_ago(0.17), "readyToUse": false, "progress": 20}),
    ));
    expected.backup_failed = n_backup_error + n_backup_slow;
    for k in 0..=n_schedules {
        let by_harvester = k < n_schedules;
        let condition = if by_harvester {
            json!([{"type": "BackupSuspend", "status": "True", "reason": "Reach Max Failure",
                    "message": "schedule reached its max failure 4", "lastTransitionTime": ago(3)}])
        } else {
            json!([])
        };
        schedules.objects.push(json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "ScheduleVMBackup",
            "metadata": meta(&mut ids, &format!("svmbackup-app-{k:03}"), Some(misc)),
            "spec": {"cron": "0 2 * * *", "retain": 7, "maxFailure": 4, "suspend": !by_harvester,
                     "vmbackup": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                             "name": format!("app-{k:03}")}, "type": "backup"}},
            "status": {"failure": if by_harvester { 4 } else { 0 }, "suspended": true, "conditions": condition}
        }));
    }
    expected.backup_failed += n_schedules;

    // image-stuck: images whose import failed for good (RetryLimitExceeded), the first ones with
    // every BackingImage copy failed (two findings), and BackingImages whose image is gone.
    // Near misses: an image still importing; the mutable-URL BackingImages with one copy failed.
    let bi_of = |ids: &mut Uuids, name: &str, image_id: &str, state: &str| {
        let mut bmeta = meta(ids, name, Some("longhorn-system"));
        bmeta["annotations"] = json!({"harvesterhci.io/imageId": image_id});
        let url = "https://images.example.org/releases/legacy/legacy-2019.qcow2";
        json!({
            "apiVersion": "longhorn.io/v1beta2", "kind": "BackingImage",
            "metadata": bmeta,
            "spec": {"sourceType": "download", "sourceParameters": {"url": url}, "minNumberOfCopies": 3,
                     "diskFileSpecMap": disks.iter().map(|d| (d.to_string(), json!({"evictionRequested": false}))).collect::<serde_json::Map<_, _>>()},
            "status": {"size": 446_627_840u64, "diskFileStatusMap": disks.iter().map(|d| (d.to_string(), json!({
                "state": state, "progress": 0, "lastStateTransitionTime": created,
                "message": if state == "failed" { "failed to download: 404 Not Found" } else { "" }
            }))).collect::<serde_json::Map<_, _>>()}
        })
    };
    for k in 0..=n_retry {
        let importing = k == n_retry;
        let name = if importing {
            "legacy-importing".to_string()
        } else {
            format!("legacy-{k:03}")
        };
        let url = format!("https://images.example.org/releases/legacy/{name}.qcow2");
        let conditions = if importing {
            json!([{"type": "Initialized", "status": "True", "lastUpdateTime": created}])
        } else {
            json!([
                {"type": "Initialized", "status": "True", "lastUpdateTime": created},
                {"type": "Imported", "status": "False", "reason": "ImportFailed", "lastUpdateTime": created,
                 "message": "failed to download: 404 Not Found"},
                {"type": "RetryLimitExceeded", "status": "True", "lastUpdateTime": created,
                 "message": "failed to download: 404 Not Found"}
            ])
        };
        let img = json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
            "metadata": meta(&mut ids, &name, Some(misc)),
            "spec": {"backend": "backingimage", "displayName": name, "sourceType": "download", "url": url,
                     "checksum": checksum, "retry": 3},
            "status": {"appliedUrl": url, "progress": if importing { 40 } else { 0 }, "failed": if importing { 0 } else { 3 },
                       "conditions": conditions}
        });
        let bi_name = format!("vmi-{}", img["metadata"]["uid"].as_str().unwrap_or_default());
        images.objects.push(img);
        if k < n_bi_failed {
            backing
                .objects
                .push(bi_of(&mut ids, &bi_name, &format!("{misc}/{name}"), "failed"));
        }
    }
    for k in 0..n_bi_left {
        let name = format!("vmi-{}", ids.uuid());
        backing
            .objects
            .push(bi_of(&mut ids, &name, &format!("{misc}/deleted-image-{k:03}"), "ready"));
    }
    expected.image_stuck = n_retry + n_bi_failed + n_bi_left;

    // storageclass-missing: PVCs Pending on a class that does not exist, and image classes
    // whose BackingImage is gone. Near miss: a Pending PVC of an existing class.
    for k in 0..=n_sc_pending {
        let class = if k < n_sc_pending {
            format!("longhorn-retired-{k:03}")
        } else {
            "harvester-longhorn".to_string()
        };
        pvcs.objects.push(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": meta(&mut ids, &format!("restore-target-{k:03}"), Some(misc)),
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                     "storageClassName": class, "volumeMode": "Block"},
            "status": {"phase": "Pending"}
        }));
    }
    for k in 0..n_sc_image {
        let gone = format!("vmi-{}", ids.uuid());
        classes.objects.push(json!({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": meta(&mut ids, &format!("longhorn-removed-image-{k:03}"), None),
            "provisioner": "driver.longhorn.io", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": true,
            "parameters": {"backingImage": gone, "backingImageDataSourceType": "download",
                           "migratable": "true", "numberOfReplicas": "3", "staleReplicaTimeout": "30"}
        }));
    }
    expected.storageclass_missing = n_sc_pending + n_sc_image;

    // vm-disk-orphaned: `<vm>-disk-1-*` disks of deleted VMs, detached for 10 days (grace 1
    // day), the deleted VM in the volume's workload history. Near miss: detached for 2 hours.
    for k in 0..=n_vm_disks {
        let i = hosts[(k * 5 + 2) % hosts.len()];
        let ns = &ns_names[i];
        let vm = format!("retired-web-{k:03}");
        let name = format!("{vm}-disk-1-{:05x}", (k * 977) % 0xfffff);
        let pv = format!("pvc-{}", ids.uuid());
        pvcs.objects.push(pvc(
            &mut ids,
            &created,
            ns,
            &name,
            &pv,
            "harvester-longhorn",
            "30Gi",
            None,
            None,
        ));
        let since = if k < n_vm_disks {
            detached_since.clone()
        } else {
            hours_ago(2.0)
        };
        let mut v = lh_volume(&mut ids, &created, ns, &name, &pv, "detached", Some(&since));
        v["status"]["kubernetesStatus"]["workloadsStatus"] = json!([{
            "podName": format!("virt-launcher-{vm}-{:05x}", k % 0xfffff), "podStatus": "Succeeded",
            "workloadName": vm, "workloadType": "VirtualMachineInstance"
        }]);
        volumes.objects.push(v);
    }
    expected.vm_disk_orphaned = n_vm_disks;

    // longhorn-orphaned-data: Longhorn Volumes no PV or PVC names, unused for 10 days (grace
    // 1 day; near miss: 1 hour), and Orphans (replica data of volumes that are gone; near miss:
    // one created 1 hour ago, in the dump).
    for k in 0..=n_no_pv {
        let since = if k < n_no_pv {
            detached_since.clone()
        } else {
            hours_ago(1.0)
        };
        let name = format!("pvc-{}", ids.uuid());
        volumes.objects.push(json!({
            "apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
            "metadata": meta(&mut ids, &name, Some("longhorn-system")),
            "spec": {"size": "10737418240", "numberOfReplicas": 3, "frontend": "blockdev", "accessMode": "rwx",
                     "migratable": true, "dataEngine": "v1"},
            "status": {"state": "detached", "robustness": "unknown",
                       "kubernetesStatus": {"namespace": "", "pvName": "", "pvStatus": "", "pvcName": "",
                                            "lastPVCRefAt": since}}
        }));
    }
    expected.longhorn_orphaned_data = n_no_pv;
    for k in 0..=n_lh_orphans {
        let data = format!("pvc-{}-{:08x}", ids.uuid(), ids.next_u64() as u32);
        let name = format!("orphan-{:016x}", ids.next_u64());
        let mut ometa = meta(&mut ids, &name, Some("longhorn-system"));
        if k == n_lh_orphans {
            ometa["creationTimestamp"] = json!(hours_ago(1.0));
        }
        ometa["labels"] = json!({"longhorn.io/component": "orphan", "longhorn.io/managed-by": "longhorn-manager",
                                 "longhornnode": "hv-node-01", "longhorn.io/orphan-type": "replica"});
        orphan_data.objects.push(json!({
            "apiVersion": "longhorn.io/v1beta2", "kind": "Orphan",
            "metadata": ometa,
            "spec": {"nodeID": "hv-node-01", "orphanType": "replica", "parameters": {
                "DataName": data, "DiskName": "default-disk-1", "DiskPath": "/var/lib/harvester/defaultdisk/",
                "DiskUUID": disks[0]}},
            "status": {"ownerID": "hv-node-01", "conditions": [
                {"type": "DataCleanable", "status": "True", "lastTransitionTime": created}
            ]}
        }));
    }
    expected.longhorn_orphans_offline = n_lh_orphans;

    // guest-cluster-leftovers: the credentials (ServiceAccount, RoleBinding to the cloud
    // provider role, ClusterRoleBinding to the CSI role) of guest clusters whose PVCs are
    // labelled with a deleted cluster (the orphaned guest PVCs above), and CSI
    // ClusterRoleBindings whose ServiceAccount is gone. Near miss: a living cluster's.
    let credentials = |ids: &mut Uuids, ns: &str, sa: &str, with_sa: bool| {
        let subject = json!([{"kind": "ServiceAccount", "name": sa, "namespace": ns}]);
        let sa_obj =
            with_sa.then(|| json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(ids, sa, Some(ns))}));
        let rb = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": meta(ids, &format!("{sa}-cloudprovider"), Some(ns)),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "harvesterhci.io:cloudprovider"},
            "subjects": subject
        });
        let crb = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": meta(ids, &format!("{ns}-{sa}-csi"), None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "harvesterhci.io:csi-driver"},
            "subjects": subject
        });
        (sa_obj, rb, crb)
    };
    let mut creds = Vec::new();
    for d in 0..n_dead_creds {
        let o = 2 * d;
        let ns = &ns_names[hosts[(o * 7) % hosts.len()]];
        creds.push(credentials(&mut ids, ns, &format!("deleted-cluster-{o}"), true));
    }
    creds.push(credentials(&mut ids, &ns_names[0], "rke2-000", true));
    for (sa, rb, crb) in creds {
        service_accounts.objects.extend(sa);
        role_bindings.objects.push(rb);
        cluster_role_bindings.objects.push(crb);
    }
    // In the namespace of the living cluster's ServiceAccount: a dump covers ServiceAccounts
    // only in namespaces where it holds some.
    for k in 0..n_dangling {
        let ns = &ns_names[0];
        let (_, _, crb) = credentials(&mut ids, ns, &format!("removed-cluster-{k:03}"), false);
        cluster_role_bindings.objects.push(crb);
    }
    expected.guest_cluster_leftovers = n_dead_creds + n_dangling;

    Cluster {
        namespaces,
        kinds: vec![
            settings,
            images,
            backing,
            classes,
            quotas,
            vms,
            vmis,
            pvcs,
            pods,
            volumes,
            imports,
            migrations,
            backups,
            schedules,
            orphan_data,
            service_accounts,
            role_bindings,
            cluster_role_bindings,
        ],
        expected,
        orphans,
    }
}

#[allow(clippy::too_many_arguments)]
fn pvc(
    ids: &mut Uuids,
    created: &str,
    ns: &str,
    name: &str,
    pv: &str,
    class: &str,
    size: &str,
    image: Option<&str>,
    owned_by: Option<&str>,
) -> Value {
    let mut ann = json!({
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": "driver.longhorn.io",
        "volume.kubernetes.io/storage-provisioner": "driver.longhorn.io"
    });
    if let Some(i) = image {
        ann["harvesterhci.io/imageId"] = json!(i);
    }
    if let Some(o) = owned_by {
        ann["harvesterhci.io/owned-by"] = json!(o);
    }
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "uid": ids.uuid(), "creationTimestamp": created,
                     "annotations": ann, "finalizers": ["kubernetes.io/pvc-protection"]},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": size}},
                 "storageClassName": class, "volumeMode": "Block", "volumeName": pv}
    })
}

fn lh_volume(
    ids: &mut Uuids,
    created: &str,
    ns: &str,
    pvc: &str,
    pv: &str,
    state: &str,
    last_pod_ref_at: Option<&str>,
) -> Value {
    let mut k8s = json!({"namespace": ns, "pvName": pv, "pvStatus": "Bound", "pvcName": pvc});
    if let Some(t) = last_pod_ref_at {
        k8s["lastPodRefAt"] = json!(t);
    } else {
        k8s["workloadsStatus"] = json!([{"podName": format!("virt-launcher-{pvc}"), "podStatus": "Running", "workloadType": "VirtualMachineInstance"}]);
    }
    json!({
        "apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
        "metadata": {"name": pv, "namespace": "longhorn-system", "uid": ids.uuid(), "creationTimestamp": created},
        "spec": {"size": "21474836480", "numberOfReplicas": 3, "frontend": "blockdev", "accessMode": "rwx",
                 "migratable": true, "dataEngine": "v1"},
        "status": {"state": state, "robustness": if state == "attached" { "healthy" } else { "unknown" },
                   "kubernetesStatus": k8s}
    })
}
