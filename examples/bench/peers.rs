//! The peers of issue 13 item 5: popeye (`github.com/derailed/popeye`) and kor
//! (`github.com/yonahd/kor`), built by scripts/peers.sh, run against the same loaded cluster as our
//! scan. Requests are counted on the apiserver's side (`apiserver_request_total` from `/metrics`
//! before and after each run), so our scan and the peers are counted the same way.

use std::collections::BTreeSet;
use std::path::Path;

use kube::Client;
use serde_json::Value;

use crate::generate::Cluster;
use crate::measure;

/// What the generator knows about the PVCs, as `namespace/name`.
pub struct Truth {
    /// PVCs a VirtualMachine's volumes name (root and data disks, hot-plugged guest CSI volumes).
    pub vm_disks: BTreeSet<String>,
    /// The injected orphaned guest PVCs.
    pub orphans: BTreeSet<String>,
    pub pvcs: usize,
}

impl Truth {
    pub fn of(cluster: &Cluster) -> Self {
        let mut vm_disks = BTreeSet::new();
        let mut pvcs = 0;
        for k in &cluster.kinds {
            if k.kind == "PersistentVolumeClaim" {
                pvcs = k.objects.len();
            }
            if k.kind != "VirtualMachine" {
                continue;
            }
            for vm in &k.objects {
                let ns = vm["metadata"]["namespace"].as_str().unwrap_or_default();
                let vols = vm["spec"]["template"]["spec"]["volumes"].as_array();
                for v in vols.into_iter().flatten() {
                    if let Some(c) = v["persistentVolumeClaim"]["claimName"].as_str() {
                        vm_disks.insert(format!("{ns}/{c}"));
                    }
                }
            }
        }
        Truth {
            vm_disks,
            orphans: cluster.orphans.iter().cloned().collect(),
            pvcs,
        }
    }
}

/// Counters of `apiserver_request_total`: resource requests (LIST/GET/WATCH of objects, leases
/// left out: the controller manager renews its lease every 2 s) and every request (discovery and
/// other non-resource paths too).
#[derive(Clone, Copy, Default)]
pub struct Requests {
    pub resource: f64,
    pub all: f64,
}

impl std::ops::Sub for Requests {
    type Output = Requests;
    fn sub(self, o: Requests) -> Requests {
        Requests {
            resource: self.resource - o.resource,
            all: self.all - o.all,
        }
    }
}

pub async fn requests(client: &Client) -> Result<Requests, String> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(req)
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    let mut r = Requests::default();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        if line.contains("resource=\"leases\"") {
            continue;
        }
        r.all += v;
        if !line.contains("resource=\"\"") {
            r.resource += v;
        }
    }
    Ok(r)
}

/// One tool on the loaded cluster.
pub struct PeerRow {
    pub tool: String,
    pub command: String,
    pub wall: f64,
    pub rss_mb: f64,
    pub requests: Requests,
    /// PVCs it calls unused.
    pub unused: usize,
    pub unused_vm_disks: usize,
    pub orphans_found: usize,
    pub note: String,
}

/// Runs `program args` under /usr/bin/time, counting the apiserver's requests around it (minus the
/// one `/metrics` request of the first snapshot, counted in the second).
async fn timed(client: &Client, program: &Path, args: &[&str], tmp: &Path) -> Result<(measure::Run, Requests), String> {
    let before = requests(client).await?;
    let run = measure::run(program, args, &[], tmp)?;
    let after = requests(client).await?;
    let mut d = after - before;
    d.all -= 1.0;
    Ok((run, d))
}

fn score(
    tool: &str,
    command: String,
    run: &measure::Run,
    req: Requests,
    unused: BTreeSet<String>,
    t: &Truth,
) -> PeerRow {
    PeerRow {
        tool: tool.into(),
        command,
        wall: run.wall,
        rss_mb: run.rss_mb,
        requests: req,
        unused: unused.len(),
        unused_vm_disks: unused.intersection(&t.vm_disks).count(),
        orphans_found: unused.intersection(&t.orphans).count(),
        note: format!("exit {}", run.code),
    }
}

/// kor's JSON (`-o json`, grouped by namespace): `{"ns": {"Pvc": ["name", ...]}}`.
pub fn kor_unused(out: &[u8]) -> Result<BTreeSet<String>, String> {
    let text = String::from_utf8_lossy(out);
    // kor prints its JSON after nothing else with -o json, but find the object to be safe.
    let start = text.find('{').ok_or("kor printed no JSON")?;
    let v: Value = serde_json::from_str(&text[start..]).map_err(|e| format!("kor JSON: {e}"))?;
    let mut set = BTreeSet::new();
    for (ns, kinds) in v.as_object().into_iter().flatten() {
        for name in kinds["Pvc"].as_array().into_iter().flatten() {
            if let Some(n) = name.as_str() {
                set.insert(format!("{ns}/{n}"));
            }
        }
    }
    Ok(set)
}

/// popeye's JSON (`-o json`): the PVCs of the `persistentvolumeclaims` section with POP-400
/// ("Used? Unable to locate resource reference"), keyed `ns/name`.
pub fn popeye_unused(out: &[u8]) -> Result<(BTreeSet<String>, usize), String> {
    let text = String::from_utf8_lossy(out);
    let start = text.find('{').ok_or("popeye printed no JSON")?;
    let v: Value = serde_json::from_str(&text[start..]).map_err(|e| format!("popeye JSON: {e}"))?;
    let mut set = BTreeSet::new();
    let mut issues = 0;
    for s in v["popeye"]["sections"].as_array().into_iter().flatten() {
        for (fqn, list) in s["issues"].as_object().into_iter().flatten() {
            for i in list.as_array().into_iter().flatten() {
                let msg = i["message"].as_str().unwrap_or_default();
                if i["level"].as_u64().unwrap_or(0) > 0 {
                    issues += 1;
                }
                if s["linter"] == "persistentvolumeclaims" && msg.contains("POP-400") {
                    set.insert(fqn.clone());
                }
            }
        }
    }
    Ok((set, issues))
}

/// Our scan, popeye and kor on the loaded cluster, one run each.
pub async fn run(
    client: &Client,
    dir: &Path,
    ours: &Path,
    kubeconfig: &str,
    chunk: &str,
    truth: &Truth,
    tmp: &Path,
) -> Result<Vec<PeerRow>, String> {
    let mut rows = Vec::new();
    // Background: the controller manager's own requests over an idle 10 s.
    let before = requests(client).await?;
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    let idle = requests(client).await? - before;
    eprintln!(
        "  idle apiserver over 10 s: {:.0} resource requests, {:.0} in all (leases excluded)",
        idle.resource,
        idle.all - 1.0
    );

    let args = ["scan", "-o", "json", "--kubeconfig", kubeconfig, "--chunk-size", chunk];
    let (r, req) = timed(client, ours, &args, tmp).await?;
    let report: Value = serde_json::from_slice(&r.stdout).map_err(|e| format!("our report: {e}"))?;
    let mut ours_unused = BTreeSet::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        if f["rule"] == "orphaned-guest-pvc" {
            let ns = f["object"]["namespace"].as_str().unwrap_or_default();
            let name = f["object"]["name"].as_str().unwrap_or_default();
            ours_unused.insert(format!("{ns}/{name}"));
        }
    }
    let mut row = score(
        "harvester-hygiene",
        format!("kubectl-harvester-hygiene {}", args.join(" ")),
        &r,
        req,
        ours_unused,
        truth,
    );
    row.note = format!("exit {} (1 = findings); orphaned-guest-pvc findings", r.code);
    rows.push(row);

    let kor = dir.join("kor");
    let args = ["pvc", "--kubeconfig", kubeconfig, "-o", "json"];
    let (r, req) = timed(client, &kor, &args, tmp).await?;
    let mut row = match kor_unused(&r.stdout) {
        Ok(set) => score("kor", format!("kor {}", args.join(" ")), &r, req, set, truth),
        Err(e) => {
            let mut row = score(
                "kor",
                format!("kor {}", args.join(" ")),
                &r,
                req,
                BTreeSet::new(),
                truth,
            );
            row.note = format!("{e}: {}", r.stderr.lines().last().unwrap_or_default());
            row
        }
    };
    row.note.push_str("; unused = no Pod mounts it");
    rows.push(row);

    let popeye = dir.join("popeye");
    let args = ["--kubeconfig", kubeconfig, "-A", "-o", "json", "--force-exit-zero"];
    let (r, req) = timed(client, &popeye, &args, tmp).await?;
    let row = match popeye_unused(&r.stdout) {
        Ok((set, issues)) => {
            let mut row = score("popeye", format!("popeye {}", args.join(" ")), &r, req, set, truth);
            row.note = format!(
                "exit {}; all sections; {issues} issues of level >= info in all; unused = POP-400 on a PVC",
                r.code
            );
            row
        }
        Err(e) => {
            let mut row = score(
                "popeye",
                format!("popeye {}", args.join(" ")),
                &r,
                req,
                BTreeSet::new(),
                truth,
            );
            let tail: Vec<&str> = r.stderr.lines().rev().take(3).collect();
            row.note = format!("{e}: {}", tail.join(" | "));
            row
        }
    };
    rows.push(row);
    Ok(rows)
}

pub fn print(rows: &[PeerRow], truth: &Truth, scale: f64) {
    println!();
    println!(
        "Peers on the same loaded cluster (scale {scale}: {} PVCs, {} of them VM disks, {} injected orphaned guest PVCs); one run each; requests counted by the apiserver (apiserver_request_total, leases excluded):",
        truth.pvcs,
        truth.vm_disks.len(),
        truth.orphans.len()
    );
    println!();
    println!(
        "| tool | wall s | peak RSS MB | resource requests | all requests | PVCs called unused/orphaned | of them VM disks | injected orphans found | note |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.2} | {:.0} | {:.0} | {:.0} | {} | {} | {}/{} | {} |",
            r.tool,
            r.wall,
            r.rss_mb,
            r.requests.resource,
            r.requests.all,
            r.unused,
            r.unused_vm_disks,
            r.orphans_found,
            truth.orphans.len(),
            r.note
        );
    }
    println!();
    for r in rows {
        println!("command ({}): {}", r.tool, r.command);
    }
}
