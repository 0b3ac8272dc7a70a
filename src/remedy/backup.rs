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
that it can be created again. Files are named `<Kind>_<namespace>_<name>.json` (`<Kind>__<name>.json`
for cluster-scoped objects; characters outside `a-z0-9.-` are written as `%XX`); a second backup of
the same object in one run gets `.2`, `.3`… before `.json`. `audit.jsonl` records every action: time, action, object, the
SHA-256 digest of the object before the change, and the result.

## Restore a deleted PVC (orphaned-guest-pvc)

The PV was switched to `persistentVolumeReclaimPolicy: Retain` before the PVC was deleted, so the
Longhorn volume and its data still exist, on a PV in phase `Released`.

1. Free the PV for a new claim (it still names the deleted PVC in `spec.claimRef`):

       kubectl patch pv <pv-name> --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/claimRef\"}]'

2. Create the PVC again from its backup (it names the PV in `spec.volumeName`, so it binds to it):

       kubectl create -f PersistentVolumeClaim_<namespace>_<name>.json

3. Optionally set the PV back to `Delete` once the PVC is bound.

## Restore a ResourceQuota annotation (migration-annotation-stale)

    kubectl replace -f ResourceQuota_<namespace>_<name>.json

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

    /// An audit log that refuses every write (tests of the "no record, no change" rule).
    #[cfg(test)]
    pub(crate) fn failing() -> Backup {
        struct Refuse;
        impl Write for Refuse {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        Backup {
            dir: None,
            audit: Mutex::new(Box::new(Refuse)),
        }
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
        match &self.dir {
            Some(dir) => {
                let text = serde_json::to_string_pretty(&clean).map_err(|e| e.to_string())?;
                write_new(dir, &file_stem(obj), text.as_bytes())?;
            }
            None => self
                .line(&json!({"time": jiff::Timestamp::now().to_string(), "msg": "backup", "sha256": digest, "backup": clean}))
                .map_err(|e| format!("cannot write the backup to the log: {e}"))?,
        }
        Ok(digest)
    }

    /// Record an action's result. An error means the record is missing: the caller must not
    /// report the action as a success.
    pub fn audit(&self, action: &Action, status: Status, detail: &str) -> std::io::Result<()> {
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "msg": "audit",
            "action": action.action,
            "rule": action.rule,
            "object": action.object,
            "status": status,
            "detail": detail,
        });
        self.line(&line)
    }

    /// Record that an action is about to run; if this cannot be written, the action must not run.
    pub fn audit_intent(&self, action: &Action) -> std::io::Result<()> {
        self.line(&json!({
            "time": jiff::Timestamp::now().to_string(),
            "msg": "audit",
            "intent": action.action,
            "rule": action.rule,
            "object": action.object,
        }))
    }

    fn line(&self, v: &Value) -> std::io::Result<()> {
        let mut f = self
            .audit
            .lock()
            .map_err(|_| std::io::Error::other("audit log lock poisoned"))?;
        writeln!(f, "{v}")?;
        f.flush()
    }

    /// Record the digest of an object's state before a change.
    pub fn audit_before(&self, what: &str, obj: &Value, digest: &str) -> Result<(), String> {
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "msg": "audit",
            "before": what,
            "object": {"kind": obj["kind"], "namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
                        "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"]},
            "sha256": digest,
        });
        self.line(&line)
            .map_err(|e| format!("cannot write the audit log: {e}: not changed"))
    }
}

/// `<Kind>_<namespace>_<name>` with every character outside `a-z0-9.-` (and `A-Z` in the kind)
/// as `%XX`: `_` cannot occur in Kubernetes names, so two objects never share a file name.
pub fn file_stem(obj: &Value) -> String {
    fn enc(s: &str, upper_ok: bool) -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
                b'A'..=b'Z' if upper_ok => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let kind = obj["kind"].as_str().unwrap_or("Object");
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let name = obj["metadata"]["name"].as_str().unwrap_or("unnamed");
    format!("{}_{}_{}", enc(kind, true), enc(ns, false), enc(name, false))
}

/// Write `<stem>.json` (or `<stem>.<n>.json` when taken) without ever replacing a file.
fn write_new(dir: &Path, stem: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    for n in 1..=1000u32 {
        let path = if n == 1 {
            dir.join(format!("{stem}.json"))
        } else {
            dir.join(format!("{stem}.{n}.json"))
        };
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| format!("cannot write backup {}: {e}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot write backup {}: {e}", path.display())),
        }
    }
    Err(format!("too many backups of {stem} in {}", dir.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_never_collide() {
        let a = json!({"kind": "PersistentVolumeClaim", "metadata": {"namespace": "team", "name": "a-x"}});
        let b = json!({"kind": "PersistentVolumeClaim", "metadata": {"namespace": "team-a", "name": "x"}});
        assert_ne!(file_stem(&a), file_stem(&b));
        let pv = json!({"kind": "PersistentVolume", "metadata": {"name": "pv-1"}});
        assert_eq!(file_stem(&pv), "PersistentVolume__pv-1");
        let odd = json!({"kind": "X", "metadata": {"namespace": "n", "name": "../etc_passwd"}});
        assert_eq!(file_stem(&odd), "X_n_..%2Fetc%5Fpasswd");
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let b = Backup::create(&dir.path().join("b")).unwrap_or_else(|e| panic!("{e}"));
        b.save(&a).unwrap_or_else(|e| panic!("{e}"));
        b.save(&a).unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path().join("b");
        assert!(d.join("PersistentVolumeClaim_team_a-x.json").exists());
        assert!(
            d.join("PersistentVolumeClaim_team_a-x.2.json").exists(),
            "a second save never overwrites"
        );
    }
}
