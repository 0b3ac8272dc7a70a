//! Benchmark of issue 6: scan a synthetic Harvester cluster of a given scale in a real
//! kube-apiserver and compare with the floor (the same lists fetched raw), an offline scan of the
//! same objects as a dump, and the kubectl + jq scripts users write today.
//!
//! ```sh
//! cargo run --release --example bench -- --scale 0.1,1,3
//! cargo run --release --example bench -- --dump-only /tmp/hh-dump --scale 1   # just write a dump
//! ```
//!
//! Without `--kubeconfig` every scale gets a fresh etcd + kube-apiserver (scripts/apiserver.sh),
//! stopped at the end. The plugin binary is built (`cargo build --release`) and run as a child
//! process, as users run it; the rules phase is timed in-process through the library.

mod floor;
mod generate;
mod load;
mod measure;
mod peers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Parser;
use harvester_hygiene::config::Config;
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::scan::{Input, ScanOptions, gather, judge};
use serde_json::Value;

use generate::{Cluster, Expected};
use measure::median;

#[derive(Parser, Debug)]
#[command(about = "Benchmark a live and offline scan of a synthetic Harvester cluster (issue 6)")]
struct Args {
    /// Cluster scale (1 = 200 namespaces, 2,000 images, 10,000 VMs, 30,000 PVCs, 10,000 pods);
    /// repeatable or a comma list
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.1, 1.0])]
    scale: Vec<f64>,
    /// Use this cluster instead of starting an apiserver (one scale only; it must not hold the
    /// synthetic objects yet, unless --no-load)
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The cluster behind --kubeconfig already holds the synthetic cluster of this scale
    #[arg(long, requires = "kubeconfig")]
    no_load: bool,
    /// Only write the synthetic cluster as a dump folder (one JSON List per kind) and exit
    #[arg(long, value_name = "DIR")]
    dump_only: Option<PathBuf>,
    /// With --dump-only: write YAML Lists instead of JSON
    #[arg(long)]
    yaml: bool,
    /// With --dump-only: scan the dump with the plugin binary next to this one (cargo build
    /// --bin kubectl-harvester-hygiene first) and compare its findings per rule with the
    /// injected ones; exit 1 when they differ
    #[arg(long, requires = "dump_only")]
    check: bool,
    /// Items per list page for the scan, the floor and kubectl
    #[arg(long, default_value_t = 500)]
    chunk_size: u32,
    /// Do not time the kubectl + jq scripts
    #[arg(long)]
    skip_naive: bool,
    /// Do not time the offline scan of a YAML dump
    #[arg(long)]
    skip_yaml: bool,
    /// Runs of each timed measurement (the median is reported)
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Creates in flight while loading
    #[arg(long, default_value_t = 48)]
    concurrency: usize,
    /// Do not run `cargo build --release --bin kubectl-harvester-hygiene` first
    #[arg(long)]
    no_build: bool,
    /// Also run popeye and kor from this folder (scripts/peers.sh builds them) on the same loaded
    /// cluster, after our scan (issue 13)
    #[arg(long, value_name = "DIR")]
    peers: Option<PathBuf>,
}

/// Everything measured at one scale.
#[derive(Default)]
struct Row {
    scale: f64,
    objects: usize,
    load_s: f64,
    load_requests: usize,
    api_mb: f64,
    floor_s: f64,
    scan_s: f64,
    scan_rss: f64,
    job_s: f64,
    job_rss: f64,
    gather_s: f64,
    judge_s: f64,
    serialize_s: f64,
    findings_ok: bool,
    findings: String,
    json_mb: f64,
    offline_s: f64,
    offline_rss: f64,
    offline_gather_s: f64,
    offline_judge_s: f64,
    yaml_mb: f64,
    yaml_s: Option<f64>,
    yaml_rss: f64,
    naive: Option<Naive>,
    peers: Vec<peers::PeerRow>,
    truth: Option<peers::Truth>,
}

struct Naive {
    collisions_s: f64,
    orphans_s: f64,
    rss: f64,
    collisions_found: usize,
    orphans_found: usize,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn plugin_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // <target>/release/examples/bench -> <target>/release/kubectl-harvester-hygiene
    let release = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find the target directory")?;
    Ok(release.join("kubectl-harvester-hygiene"))
}

fn build_plugin() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--bin",
            "kubectl-harvester-hygiene",
            "--bin",
            "harvester-hygiene-job",
            "--manifest-path",
        ])
        .arg(repo().join("Cargo.toml"))
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo build --release --bin kubectl-harvester-hygiene --bin harvester-hygiene-job failed".into())
    }
}

struct ApiServer {
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl ApiServer {
    fn start(dir: &Path) -> Result<Self, String> {
        let out = Command::new("bash")
            .arg(repo().join("scripts/apiserver.sh"))
            .arg("start")
            .arg(dir)
            .arg(std::process::id().to_string())
            .output()
            .map_err(|e| format!("scripts/apiserver.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/apiserver.sh start failed (run scripts/install-testbed.sh first):\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let kc = String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        Ok(ApiServer {
            dir: dir.to_path_buf(),
            kubeconfig: PathBuf::from(kc),
        })
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/apiserver.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

fn report_of(stdout: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(stdout).map_err(|e| format!("the scan did not print a JSON report: {e}"))
}

/// Compare the report's findings per rule with what was injected (`live`: a scan of the loaded
/// API server, else of the dump). A rule with findings but no expectation is a mismatch too.
fn check_findings(report: &Value, expected: &Expected, live: bool) -> (bool, String) {
    let by_rule = &report["summary"]["byRule"];
    let mut ok = true;
    let mut parts = Vec::new();
    let want = expected.by_rule(live);
    for (rule, want) in &want {
        let got = by_rule[rule].as_u64().unwrap_or(0) as usize;
        if got != *want {
            ok = false;
            parts.push(format!("{rule} {got}/{want}"));
        } else {
            parts.push(format!("{rule} {got}"));
        }
    }
    for (rule, got) in by_rule.as_object().into_iter().flatten() {
        let got = got.as_u64().unwrap_or(0);
        if got > 0 && !want.iter().any(|(r, _)| r == rule) {
            ok = false;
            parts.push(format!("{rule} {got}/0 (not injected)"));
        }
    }
    (ok, parts.join(", "))
}

async fn bench_scale(args: &Args, scale: f64, tmp: &Path, bin: &Path) -> Result<Row, String> {
    let mut row = Row {
        scale,
        ..Row::default()
    };
    eprintln!("== scale {scale}: generating");
    let cluster: Cluster = generate::generate(scale);
    row.objects = cluster.object_count();
    let expected = cluster.expected.clone();
    let expected_orphans = cluster.orphans.len();
    for k in &cluster.kinds {
        eprintln!("  {:>7} {}", k.objects.len(), k.kind);
    }
    eprintln!("  {:>7} objects; injected: {:?}", row.objects, expected);

    // Dumps (same objects).
    let json_dir = tmp.join("dump-json");
    row.json_mb = load::write_dump(&cluster, &json_dir, false).map_err(|e| e.to_string())? as f64 / 1e6;
    let yaml_dir = tmp.join("dump-yaml");
    if !args.skip_yaml {
        row.yaml_mb = load::write_dump(&cluster, &yaml_dir, true).map_err(|e| e.to_string())? as f64 / 1e6;
    }

    // The cluster.
    let _server;
    let kubeconfig = match &args.kubeconfig {
        Some(kc) => kc.clone(),
        None => {
            eprintln!("== scale {scale}: starting etcd + kube-apiserver");
            let s = ApiServer::start(&tmp.join("apiserver"))?;
            let kc = s.kubeconfig.clone();
            _server = s;
            kc
        }
    };
    // Objects the test bed makes itself, which the scan lists too: the API server's namespaces
    // and RBAC bindings (counted before loading), our namespaces, and the `default`
    // ServiceAccount the controller manager adds to each of them.
    let mut extra = 0;
    if !args.no_load {
        let empty = gather(&ScanOptions {
            input: Input::Live(LiveOptions {
                kubeconfig: Some(kubeconfig.clone()),
                page_size: args.chunk_size,
                ..LiveOptions::default()
            }),
            ..ScanOptions::files(Vec::new())
        })
        .await
        .map_err(|e| e.to_string())?;
        use harvester_hygiene::inventory::kinds::{Namespace, ServiceAccount};
        let ours = cluster.namespaces.objects.len();
        let per_namespace = usize::from(!empty.inv.objects::<Namespace>().is_empty())
            + usize::from(!empty.inv.objects::<ServiceAccount>().is_empty());
        extra = empty.inv.object_count() + ours * per_namespace;
        eprintln!(
            "== scale {scale}: loading {} objects ({} in flight)",
            row.objects, args.concurrency
        );
        let client = floor::client(&kubeconfig).await?;
        let (requests, took) = load::load(&client, &cluster, args.concurrency).await?;
        row.load_s = took.as_secs_f64();
        row.load_requests = requests;
        eprintln!(
            "  loaded in {:.1} s ({requests} requests, {:.0} objects/s)",
            row.load_s,
            row.objects as f64 / row.load_s
        );
    }
    // Every page of every kind: a floor that stops early would flatter nothing but itself.
    let pages_min: usize = cluster
        .kinds
        .iter()
        .map(|k| k.objects.len().div_ceil(args.chunk_size.max(1) as usize).max(1))
        .sum();
    let truth = args.peers.as_ref().map(|_| peers::Truth::of(&cluster));
    drop(cluster);

    // Live: floor and scan alternate, after one warm-up of each.
    let chunk = args.chunk_size.to_string();
    let kc = kubeconfig.display().to_string();
    let scan_args = ["scan", "-o", "json", "--kubeconfig", &kc, "--chunk-size", &chunk];
    eprintln!("== scale {scale}: live scan vs floor ({} runs each)", args.repeat);
    let f = floor::floor(&kubeconfig, args.chunk_size).await?;
    if f.requests < pages_min {
        return Err(format!(
            "the floor made {} requests, fewer than the {pages_min} pages the objects fill",
            f.requests
        ));
    }
    let warm = measure::run(bin, &scan_args, &[], tmp)?;
    if warm.code != 1 && warm.code != 0 {
        return Err(format!("scan exited {}: {}", warm.code, warm.stderr));
    }
    let report = report_of(&warm.stdout)?;
    (row.findings_ok, row.findings) = check_findings(&report, &expected, true);
    let scanned = report["summary"]["objectsScanned"].as_u64().unwrap_or(0) as usize;
    if !args.no_load && scanned != row.objects + extra {
        row.findings_ok = false;
        row.findings.push_str(&format!(
            " (scanned {scanned} of {} objects + {extra} of the test bed's)",
            row.objects
        ));
    }
    let (mut floors, mut scans, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.repeat {
        let f = floor::floor(&kubeconfig, args.chunk_size).await?;
        row.api_mb = f.bytes as f64 / 1e6;
        floors.push(f.wall.as_secs_f64());
        let s = measure::run(bin, &scan_args, &[], tmp)?;
        scans.push(s.wall);
        rss.push(s.rss_mb);
        eprintln!(
            "  floor {:.3} s ({} requests, {:.1} MB) | scan {:.3} s, {:.0} MB",
            f.wall.as_secs_f64(),
            f.requests,
            row.api_mb,
            s.wall,
            s.rss_mb
        );
    }
    row.floor_s = median(floors);
    row.scan_s = median(scans);
    row.scan_rss = median(rss);

    // The in-cluster job's binary, as the CronJob runs it, on the same cluster: the kubeconfig
    // stands in for the pod's service account (`Config::infer` reads $KUBECONFIG first). It
    // publishes the report ConfigMap (in `default`) and raises its Events, as in the cluster.
    let job_bin = bin.with_file_name("harvester-hygiene-job");
    let job_args = [
        "--chunk-size",
        &chunk,
        "--report-namespace",
        "default",
        "--cluster-name",
        "bench",
    ];
    let (mut jobs, mut jrss) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat {
        let j = measure::run(&job_bin, &job_args, &[("KUBECONFIG", kc.as_str())], tmp)?;
        if j.code != 0 {
            return Err(format!("the job exited {}: {}", j.code, j.stderr));
        }
        eprintln!("  job {:.3} s, {:.0} MB", j.wall, j.rss_mb);
        jobs.push(j.wall);
        jrss.push(j.rss_mb);
    }
    row.job_s = median(jobs);
    row.job_rss = median(jrss);

    // Phases, in-process through the library.
    let live = ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(kubeconfig.clone()),
            page_size: args.chunk_size,
            ..LiveOptions::default()
        }),
        ..ScanOptions::files(Vec::new())
    };
    let (g, j, ser) = phases(&live, args.repeat).await?;
    (row.gather_s, row.judge_s, row.serialize_s) = (g, j, ser);
    eprintln!(
        "  in-process: gather {g:.3} s, rules {:.1} ms, report JSON {:.1} ms",
        j * 1e3,
        ser * 1e3
    );

    // Offline.
    eprintln!("== scale {scale}: offline scans");
    let json_arg = json_dir.display().to_string();
    let (mut offs, mut orss) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat {
        let o = measure::run(bin, &["scan", "--from", &json_arg, "-o", "json"], &[], tmp)?;
        let (ok, what) = check_findings(&report_of(&o.stdout)?, &expected, false);
        if !ok {
            eprintln!("  offline JSON findings differ: {what}");
        }
        offs.push(o.wall);
        orss.push(o.rss_mb);
    }
    row.offline_s = median(offs);
    row.offline_rss = median(orss);
    let files = ScanOptions::files(vec![json_dir.clone()]);
    let (g, j, _) = phases(&files, args.repeat).await?;
    (row.offline_gather_s, row.offline_judge_s) = (g, j);
    eprintln!(
        "  offline JSON {:.3} s, {:.0} MB RSS; in-process load {g:.3} s, rules {:.1} ms",
        row.offline_s,
        row.offline_rss,
        j * 1e3
    );
    if !args.skip_yaml {
        let yaml_arg = yaml_dir.display().to_string();
        let o = measure::run(bin, &["scan", "--from", &yaml_arg, "-o", "json"], &[], tmp)?;
        let (ok, what) = check_findings(&report_of(&o.stdout)?, &expected, false);
        if !ok {
            eprintln!("  offline YAML findings differ: {what}");
        }
        row.yaml_s = Some(o.wall);
        row.yaml_rss = o.rss_mb;
        eprintln!("  offline YAML {:.3} s, {:.0} MB RSS", o.wall, o.rss_mb);
    }

    // Naive.
    if !args.skip_naive {
        eprintln!("== scale {scale}: kubectl + jq scripts");
        let naive = repo().join("examples/bench/naive");
        let env = [("KUBECONFIG", kc.as_str()), ("CHUNK_SIZE", chunk.as_str())];
        let bash = PathBuf::from("/bin/bash");
        let c = measure::run(&bash, &[&naive.join("collisions.sh").display().to_string()], &env, tmp)?;
        let o = measure::run(&bash, &[&naive.join("orphans.sh").display().to_string()], &env, tmp)?;
        if c.code != 0 || o.code != 0 {
            return Err(format!("naive scripts failed: {}{}", c.stderr, o.stderr));
        }
        let lines = |b: &[u8]| String::from_utf8_lossy(b).lines().filter(|l| !l.is_empty()).count();
        let n = Naive {
            collisions_s: c.wall,
            orphans_s: o.wall,
            rss: c.rss_mb.max(o.rss_mb),
            collisions_found: lines(&c.stdout),
            orphans_found: lines(&o.stdout),
        };
        eprintln!(
            "  collisions.sh {:.2} s ({} lines, {} expected), orphans.sh {:.2} s ({} lines, {} expected), peak {:.0} MB",
            n.collisions_s,
            n.collisions_found,
            expected.image_name_collision,
            n.orphans_s,
            n.orphans_found,
            expected_orphans,
            n.rss
        );
        row.naive = Some(n);
    }

    // Peers, on the same cluster.
    if let (Some(dir), Some(truth)) = (&args.peers, truth) {
        eprintln!("== scale {scale}: peers (our scan, kor, popeye; one run each)");
        let client = floor::client(&kubeconfig).await?;
        row.peers = peers::run(&client, dir, bin, &kc, &chunk, &truth, tmp).await?;
        for p in &row.peers {
            eprintln!(
                "  {}: {:.2} s, {:.0} MB, {:.0} resource requests ({:.0} in all), {} PVCs unused ({} VM disks), {}/{} orphans; {}",
                p.tool,
                p.wall,
                p.rss_mb,
                p.requests.resource,
                p.requests.all,
                p.unused,
                p.unused_vm_disks,
                p.orphans_found,
                truth.orphans.len(),
                p.note
            );
        }
        row.truth = Some(truth);
    }
    Ok(row)
}

/// Median gather, rules and report-serialisation times of `repeat` in-process scans.
async fn phases(opts: &ScanOptions, repeat: usize) -> Result<(f64, f64, f64), String> {
    let (mut gs, mut js, mut ss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let g = gather(opts).await.map_err(|e| e.to_string())?;
        gs.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let report = judge(&g.inv, &g.rules, &Config::default(), jiff::Timestamp::now(), g.source);
        js.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let text = serde_json::to_vec(&report).map_err(|e| e.to_string())?;
        ss.push(t.elapsed().as_secs_f64());
        drop(text);
    }
    Ok((median(gs), median(js), median(ss)))
}

fn print_tables(rows: &[Row], args: &Args) {
    println!();
    println!(
        "Live scan (chunk size {}, median of {} runs; floor = same requests, bytes only):",
        args.chunk_size, args.repeat
    );
    println!();
    println!(
        "| scale | objects | API MB | floor s | scan s | scan/floor | scan peak RSS MB | scan objects/s | µs/object | rules ms | rules share | report JSON ms | findings as injected |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let total = r.gather_s + r.judge_s + r.serialize_s;
        println!(
            "| {} | {} | {:.1} | {:.3} | {:.3} | {:.2} | {:.0} | {:.0} | {:.1} | {:.1} | {:.2} % | {:.1} | {} |",
            r.scale,
            r.objects,
            r.api_mb,
            r.floor_s,
            r.scan_s,
            r.scan_s / r.floor_s,
            r.scan_rss,
            r.objects as f64 / r.scan_s,
            r.scan_s * 1e6 / r.objects as f64,
            r.judge_s * 1e3,
            100.0 * r.judge_s / total,
            r.serialize_s * 1e3,
            if r.findings_ok { "yes" } else { "NO" },
        );
    }
    println!();
    println!(
        "Memory (peak RSS, GNU time %M; chunk size {}, median of {} runs; targets: <= 64 MB at scale 1, <= 128 MB at scale 3):",
        args.chunk_size, args.repeat
    );
    println!();
    println!("| binary | scale | objects | peak RSS MB | s | KB/object |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        for (what, rss, s) in [("plugin", r.scan_rss, r.scan_s), ("job", r.job_rss, r.job_s)] {
            println!(
                "| {what} | {} | {} | {rss:.0} | {s:.3} | {:.2} |",
                r.scale,
                r.objects,
                rss * 1024.0 / r.objects.max(1) as f64
            );
        }
    }
    println!();
    println!("Offline scan of the same objects (one List per kind) and the kubectl + jq scripts:");
    println!();
    println!(
        "| scale | JSON MB | JSON s | JSON objects/s | JSON MB/s | JSON peak RSS MB | rules share offline | YAML MB | YAML s | YAML objects/s | YAML peak RSS MB | kubectl+jq s (collisions + orphans) | jq peak RSS MB | speed-up vs live scan | load s (objects/s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (ys, yo) = match r.yaml_s {
            Some(s) => (format!("{s:.2}"), format!("{:.0}", r.objects as f64 / s)),
            None => ("-".into(), "-".into()),
        };
        let (ns, nrss, speed) = match &r.naive {
            Some(n) => (
                format!(
                    "{:.2} ({:.2} + {:.2})",
                    n.collisions_s + n.orphans_s,
                    n.collisions_s,
                    n.orphans_s
                ),
                format!("{:.0}", n.rss),
                format!("{:.1}x", (n.collisions_s + n.orphans_s) / r.scan_s),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {} | {:.1} | {:.3} | {:.0} | {:.0} | {:.0} | {:.2} % | {:.1} | {} | {} | {:.0} | {} | {} | {} | {:.1} ({:.0}) |",
            r.scale,
            r.json_mb,
            r.offline_s,
            r.objects as f64 / r.offline_s,
            r.json_mb / r.offline_s,
            r.offline_rss,
            100.0 * r.offline_judge_s / (r.offline_gather_s + r.offline_judge_s),
            r.yaml_mb,
            ys,
            yo,
            r.yaml_rss,
            ns,
            nrss,
            speed,
            r.load_s,
            r.objects as f64 / r.load_s.max(1e-9),
        );
    }
    println!();
    for r in rows {
        println!("scale {}: findings per rule: {}", r.scale, r.findings);
        if let Some(n) = &r.naive {
            println!(
                "scale {}: kubectl+jq printed {} colliding images and {} orphans",
                r.scale, n.collisions_found, n.orphans_found
            );
        }
    }
    for r in rows {
        if let Some(t) = &r.truth {
            peers::print(&r.peers, t, r.scale);
        }
    }
    if rows.len() > 1 {
        let base = &rows[0];
        let per = |r: &Row| r.scan_s / r.objects as f64;
        let growth: Vec<String> = rows
            .iter()
            .map(|r| format!("{} -> {:.2}", r.scale, per(r) / per(base)))
            .collect();
        println!(
            "growth: scan time per object relative to scale {} (1.00 = linear): {}",
            base.scale,
            growth.join(", ")
        );
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} cores ({cpu}), load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    if let Some(dir) = &args.dump_only {
        for &scale in &args.scale {
            let out = if args.scale.len() > 1 {
                dir.join(format!("scale-{scale}"))
            } else {
                dir.clone()
            };
            let cluster = generate::generate(scale);
            let bytes = load::write_dump(&cluster, &out, args.yaml).map_err(|e| e.to_string())?;
            println!(
                "{}: {} objects, {:.1} MB; expected findings {:?}",
                out.display(),
                cluster.object_count(),
                bytes as f64 / 1e6,
                cluster.expected
            );
            if args.check {
                let bin = plugin_binary()?;
                let out = Command::new(&bin)
                    .args(["scan", "--from"])
                    .arg(&out)
                    .args(["-o", "json"])
                    .output()
                    .map_err(|e| format!("{}: {e}", bin.display()))?;
                let (ok, what) = check_findings(&report_of(&out.stdout)?, &cluster.expected, false);
                println!("offline scan findings per rule: {what}");
                if !ok {
                    return Err("the offline scan's findings differ from the injected ones".into());
                }
            }
        }
        return Ok(());
    }
    if args.kubeconfig.is_some() && args.scale.len() > 1 {
        return Err("--kubeconfig takes one --scale (each scale needs its own empty cluster)".into());
    }
    let mut needs = vec!["/usr/bin/time"];
    if !args.skip_naive {
        needs.extend(["kubectl", "jq"]);
    }
    for tool in needs {
        let found = if tool.starts_with('/') {
            Path::new(tool).exists()
        } else {
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
        };
        if !found {
            return Err(format!(
                "{tool} is missing (apt-get install time jq; kubectl as for the tests), or pass --skip-naive"
            ));
        }
    }
    if !args.no_build {
        build_plugin()?;
    }
    let bin = plugin_binary()?;
    if !bin.exists() {
        return Err(format!("{} is missing: run cargo build --release", bin.display()));
    }
    let started = Instant::now();
    eprintln!("machine: {}", machine());
    let mut rows = Vec::new();
    for &scale in &args.scale {
        let tmp = tempfile::Builder::new()
            .prefix("hh-bench-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        rows.push(bench_scale(args, scale, tmp.path(), &bin).await?);
        print_tables(&rows, args);
    }
    eprintln!(
        "total {:.0} s; machine: {}",
        Duration::from_secs_f64(started.elapsed().as_secs_f64()).as_secs_f64(),
        machine()
    );
    Ok(())
}
