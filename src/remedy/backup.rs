//! Backups of every object before it changes, with a README saying how to restore, and the
//! audit log (JSON lines) of every action.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Action, Status};

pub struct Backup {
    /// Where backups go; `None`: to stdout as JSON lines (the in-cluster job, whose
    /// filesystem is read-only, keeps them in its log).
    pub dir: Option<PathBuf>,
    audit: Mutex<Box<dyn Write + Send>>,
}

const README: &str = "# harvester-hygiene backup

Every object `kubectl harvester-hygiene fix --apply` changed, as it was just before the change,
stripped of server-set fields (uid, resourceVersion, creationTimestamp, managedFields, status) so
that it can be created again. `audit.jsonl` records every action: time, action, object, the
SHA-256 digest of the object before the change, and the result.

## Restore a deleted PVC (orphaned-guest-pvc)

The PV was switched to `persistentVolumeReclaimPolicy: Retain` before the PVC was deleted, so the
Longhorn volume and its data still exist, on a PV in phase `Released`.

1. Free the PV for a new claim (it still names the deleted PVC in `spec.claimRef`):

       kubectl patch pv <pv-name> --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/claimRef\"}]'

2. Create the PVC again from its backup (it names the PV in `spec.volumeName`, so it binds to it):

       kubectl create -f PersistentVolumeClaim-<namespace>-<name>.json

3. Optionally set the PV back to `Delete` once the PVC is bound.

## Restore a ResourceQuota annotation (migration-annotation-stale)

    kubectl replace -f ResourceQuota-<namespace>-<name>.json

(`replace` needs the current resourceVersion: `kubectl get` it first, or use `kubectl apply`.)

## OpenStack resources (import-openstack-leak)

Deleted Glance images, Cinder volumes and snapshots cannot be restored from here: they held
only partial export copies of the source VM's disks (the source volumes are untouched). The
audit log records each one as it was before deletion (id, name, size, status, created).
";

impl Backup {
    /// Create `dir` (must not exist, or be empty) with its README and audit log.
    pub fn create(dir: &Path) -> Result<Backup, String> {
        if dir.exists() && fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
            return Err(format!("backup directory {} exists and is not empty", dir.display()));
        }
        fs::create_dir_all(dir).map_err(|e| format!("cannot create backup directory {}: {e}", dir.display()))?;
        fs::write(dir.join("README.md"), README).map_err(|e| format!("{}: {e}", dir.display()))?;
        let audit = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("audit.jsonl"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Backup {
            dir: Some(dir.to_path_buf()),
            audit: Mutex::new(Box::new(audit)),
        })
    }

    /// Backups and audit records as JSON lines on stdout.
    pub fn to_log() -> Backup {
        Backup {
            dir: None,
            audit: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    /// A new timestamped folder under the current directory.
    pub fn default_dir() -> PathBuf {
        let ts = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        PathBuf::from(format!("harvester-hygiene-backup-{ts}"))
    }

    /// Save `obj` (as fetched) before it changes; returns the digest of the original.
    pub fn save(&self, obj: &Value) -> Result<String, String> {
        let digest = digest(obj);
        let mut clean = obj.clone();
        strip(&mut clean);
        let kind = obj["kind"].as_str().unwrap_or("Object");
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("cluster");
        let name = obj["metadata"]["name"].as_str().unwrap_or("unnamed");
        match &self.dir {
            Some(dir) => {
                let path = dir.join(format!("{kind}-{ns}-{name}.json"));
                let text = serde_json::to_string_pretty(&clean).map_err(|e| e.to_string())?;
                fs::write(&path, text).map_err(|e| format!("cannot write backup {}: {e}", path.display()))?;
            }
            None => self.line(&json!({"time": jiff::Timestamp::now().to_string(), "msg": "backup", "sha256": digest, "backup": clean})),
        }
        Ok(digest)
    }

    pub fn audit(&self, action: &Action, status: Status, detail: &str) {
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "msg": "audit",
            "action": action.action,
            "rule": action.rule,
            "object": action.object,
            "status": status,
            "detail": detail,
        });
        self.line(&line);
    }

    fn line(&self, v: &Value) {
        if let Ok(mut f) = self.audit.lock() {
            let _ = writeln!(f, "{v}");
        }
    }

    /// Record the digest of an object's state before a change.
    pub fn audit_before(&self, what: &str, obj: &Value, digest: &str) {
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "msg": "audit",
            "before": what,
            "object": {"kind": obj["kind"], "namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
                        "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"]},
            "sha256": digest,
        });
        self.line(&line);
    }
}

pub fn digest(obj: &Value) -> String {
    let bytes = serde_json::to_vec(obj).unwrap_or_default();
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Remove what the server sets, so the object can be created again.
pub fn strip(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "generation",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            m.remove(k);
        }
    }
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
}
