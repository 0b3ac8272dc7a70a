//! Packaging as shipped (the Helm chart, Fleet bundle and Add-on: tests/packaging_chart.rs): the
//! krew manifest against krew's rules and krew's own validator (sigs.k8s.io/krew
//! cmd/validate-krew-manifest, built from the Go module proxy) for every manifest the release
//! script writes, with `krew install` of each platform's archive as the validator does it; the
//! krew-release-bot template; the release script's archive; the static binaries; the image the
//! Dockerfile builds (with buildah where it can run, else its root file system); and the plugin as
//! kubectl finds it on PATH.

mod common;
mod packaging_tools;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// What the release workflow builds (.github/workflows/release.yml), each on its own runner.
const PLATFORMS: [(&str, &str); 5] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
];

fn repo() -> PathBuf {
    common::repo()
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("YAML: {e}\n{text}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_file(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut docs = yaml_docs(&text);
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

// ---------------------------------------------------------------------------------------------
// krew

fn krew_template() -> Value {
    yaml_file("krew/harvester-hygiene.yaml")
}

fn archive_name(os: &str, arch: &str) -> String {
    let ext = if os == "windows" { "zip" } else { "tar.gz" };
    format!("kubectl-harvester-hygiene_v{VERSION}_{os}_{arch}.{ext}")
}

/// krew's validation rules (internal/index/validation) plus its naming guide; `platforms` are
/// the ones the manifest must list, no more.
fn check_krew_manifest(m: &Value, platforms: &[(&str, &str)]) {
    assert_eq!(m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2");
    assert_eq!(m["kind"], "Plugin");
    let name = m["metadata"]["name"].as_str().unwrap();
    assert_eq!(name, "harvester-hygiene", "the file name");
    assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name}");
    let spec = &m["spec"];
    assert_eq!(spec["version"], format!("v{VERSION}").as_str(), "the git tag");
    assert_eq!(spec["homepage"], env!("CARGO_PKG_REPOSITORY"));
    let short = spec["shortDescription"].as_str().unwrap();
    assert!(!short.is_empty() && short.len() < 50, "shortDescription: {short:?}");
    assert!(!short.contains('\n'));
    for word in ["kubectl", "plugin", "kubernetes"] {
        assert!(!short.to_lowercase().contains(word), "shortDescription says {word}");
    }
    assert!(spec["description"].as_str().unwrap().len() > 100);
    assert!(!spec["caveats"].as_str().unwrap().is_empty());
    let listed = spec["platforms"].as_array().unwrap();
    assert_eq!(listed.len(), platforms.len());
    let mut covered = BTreeSet::new();
    for p in listed {
        let labels = p["selector"]["matchLabels"].as_object().expect("matchLabels");
        let keys: BTreeSet<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["arch", "os"]), "{p}");
        let (os, arch) = (labels["os"].as_str().unwrap(), labels["arch"].as_str().unwrap());
        assert!(
            covered.insert((os.to_string(), arch.to_string())),
            "overlapping {os}/{arch}"
        );
        let uri = p["uri"].as_str().unwrap();
        assert_eq!(
            uri,
            format!(
                "{}/releases/download/v{VERSION}/{}",
                env!("CARGO_PKG_REPOSITORY"),
                archive_name(os, arch)
            )
        );
        assert!(p["sha256"].is_string(), "{p}");
        let exe = if os == "windows" { ".exe" } else { "" };
        let bin = format!("kubectl-harvester-hygiene{exe}");
        assert_eq!(p["bin"], bin.as_str());
        let froms: BTreeSet<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["to"], ".");
                f["from"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            froms,
            BTreeSet::from([bin.as_str(), "LICENSE"]),
            "LICENSE must be extracted"
        );
    }
    let wanted: BTreeSet<(String, String)> = platforms.iter().map(|(o, a)| (o.to_string(), a.to_string())).collect();
    assert_eq!(covered, wanted);
}

#[test]
fn krew_manifest_follows_krew_rules() {
    let m = krew_template();
    check_krew_manifest(&m, &PLATFORMS);
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let l = &p["selector"]["matchLabels"];
        assert_eq!(
            p["sha256"],
            format!("SHA256_{}_{}", l["os"].as_str().unwrap(), l["arch"].as_str().unwrap()).as_str(),
            "the template holds placeholders that the release fills"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Release and the static binary (slow on a cold cache: a release build under target/static)

fn release(dist: &Path) -> (PathBuf, PathBuf) {
    let out = run(
        Command::new("bash")
            .arg(repo().join("scripts/release.sh"))
            .env("DIST", dist),
        None,
    );
    let stdout = ok(&out, "scripts/release.sh");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    (PathBuf::from(lines[0]), PathBuf::from(lines[1]))
}

fn host_platform() -> (&'static str, &'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("linux", "amd64", "x86_64-unknown-linux-gnu"),
        "aarch64" => ("linux", "arm64", "aarch64-unknown-linux-gnu"),
        other => panic!("release.sh builds Linux x86_64/aarch64, not {other}"),
    }
}

#[test]
fn release_archive_and_rendered_manifest() {
    let (os, arch, _) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    let (archive, manifest) = release(dist.path());
    assert_eq!(archive.file_name().unwrap().to_str().unwrap(), archive_name(os, arch));
    let bytes = std::fs::read(&archive).unwrap();
    let sum = format!("{:x}", Sha256::digest(&bytes));

    // The manifest lists only what was built here, with its checksum, and krew accepts it.
    let m = yaml_docs(&std::fs::read_to_string(&manifest).unwrap()).remove(0);
    check_krew_manifest(&m, &[(os, arch)]);
    let p = &m["spec"]["platforms"][0];
    assert_eq!(p["sha256"], sum.as_str(), "the rendered sha256 is the archive's");
    assert!(p["uri"].as_str().unwrap().ends_with(&archive_name(os, arch)));
    krew_validates(&manifest, dist.path());
    let side = std::fs::read_to_string(archive.with_extension("gz.sha256")).unwrap();
    assert_eq!(side.split_whitespace().next(), Some(sum.as_str()));

    // The archive holds exactly the binary and LICENSE, and the binary runs.
    let out = run(Command::new("tar").arg("tzf").arg(&archive), None);
    let mut entries: Vec<String> = ok(&out, "tar tzf").lines().map(str::to_string).collect();
    entries.sort();
    assert_eq!(entries, ["LICENSE", "kubectl-harvester-hygiene"]);
    let x = tempfile::tempdir().unwrap();
    ok(
        &run(
            Command::new("tar").arg("xzf").arg(&archive).arg("-C").arg(x.path()),
            None,
        ),
        "untar",
    );
    assert_eq!(
        std::fs::read(x.path().join("LICENSE")).unwrap(),
        std::fs::read(repo().join("LICENSE")).unwrap()
    );
    let out = run(
        Command::new(x.path().join("kubectl-harvester-hygiene")).arg("version"),
        None,
    );
    assert!(ok(&out, "version").starts_with(&format!("kubectl-harvester-hygiene {VERSION} ")));

    // Reproducible: a second run makes the same archive.
    let dist2 = tempfile::tempdir().unwrap();
    let (archive2, _) = release(dist2.path());
    assert_eq!(std::fs::read(archive2).unwrap(), bytes, "the archive is reproducible");
}

/// krew's own validator on a manifest (krew-index runs it on every submission), then its install
/// step for each platform the way the validator does it (`kubectl krew install --manifest` with
/// KREW_OS/KREW_ARCH), from the archives in `dist` instead of the release URLs (`--archive`): the
/// checksum, the files and LICENSE are checked against the real archive.
fn krew_validates(manifest: &Path, dist: &Path) {
    let out = run(
        Command::new(packaging_tools::tool("validate-krew-manifest"))
            .arg(format!("-manifest={}", manifest.display()))
            .arg("-skip-install"),
        None,
    );
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "validate-krew-manifest {}: {log}",
        manifest.display()
    );
    assert!(
        log.contains("structural validation OK") && log.contains("no overlapping"),
        "{log}"
    );
    let m = yaml_docs(&std::fs::read_to_string(manifest).unwrap()).remove(0);
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let l = &p["selector"]["matchLabels"];
        let (os, arch) = (l["os"].as_str().unwrap(), l["arch"].as_str().unwrap());
        let root = tempfile::tempdir().unwrap();
        let out = run(
            Command::new(packaging_tools::tool("kubectl-krew"))
                .args(["install", "--manifest"])
                .arg(manifest)
                .arg("--archive")
                .arg(dist.join(archive_name(os, arch)))
                .env("KREW_ROOT", root.path())
                .env("KREW_OS", os)
                .env("KREW_ARCH", arch),
            None,
        );
        ok(&out, &format!("krew install {os}/{arch}"));
        let store = root.path().join("store/harvester-hygiene").join(format!("v{VERSION}"));
        assert!(store.join("LICENSE").is_file(), "{os}/{arch}: LICENSE extracted");
        let bin = if os == "windows" {
            "kubectl-harvester-hygiene.exe"
        } else {
            "kubectl-harvester-hygiene"
        };
        assert!(store.join(bin).is_file(), "{os}/{arch}: {bin}");
    }
}

/// An archive as the release workflow packs it on another platform (here with a stand-in for the
/// binary: what krew checks is the checksum and the layout).
fn fake_archive(dist: &Path, os: &str, arch: &str) {
    let stage = tempfile::tempdir().unwrap();
    let bin = if os == "windows" {
        "kubectl-harvester-hygiene.exe"
    } else {
        "kubectl-harvester-hygiene"
    };
    std::fs::write(stage.path().join(bin), format!("{os}/{arch} stand-in")).unwrap();
    std::fs::copy(repo().join("LICENSE"), stage.path().join("LICENSE")).unwrap();
    let archive = dist.join(archive_name(os, arch));
    let out = if os == "windows" {
        run(
            Command::new("zip")
                .arg("-q")
                .arg("-X")
                .arg(&archive)
                .args([bin, "LICENSE"])
                .current_dir(stage.path()),
            None,
        )
    } else {
        run(
            Command::new("tar")
                .arg("czf")
                .arg(&archive)
                .arg("-C")
                .arg(stage.path())
                .args([bin, "LICENSE"]),
            None,
        )
    };
    ok(&out, &format!("pack {os}/{arch}"));
}

fn release_manifest(dist: &Path, all: bool) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/release.sh"))
        .arg("manifest")
        .env("DIST", dist);
    if all {
        cmd.arg("--all");
    }
    run(&mut cmd, None)
}

/// The workflow's last step: every platform's archive in dist/, `release.sh manifest --all`,
/// and krew's validator (and install of each platform) on the result.
#[test]
fn release_manifest_of_every_platform_validates_with_krew() {
    let dist = tempfile::tempdir().unwrap();
    for (os, arch) in PLATFORMS {
        fake_archive(dist.path(), os, arch);
    }
    // Without one platform, --all refuses and names it; without --all the manifest leaves it out.
    std::fs::remove_file(dist.path().join(archive_name("darwin", "arm64"))).unwrap();
    let out = release_manifest(dist.path(), true);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("darwin_arm64"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = PathBuf::from(ok(&release_manifest(dist.path(), false), "release.sh manifest").trim());
    let four: Vec<(&str, &str)> = PLATFORMS
        .iter()
        .copied()
        .filter(|p| *p != ("darwin", "arm64"))
        .collect();
    check_krew_manifest(
        &yaml_docs(&std::fs::read_to_string(&manifest).unwrap()).remove(0),
        &four,
    );
    krew_validates(&manifest, dist.path());

    fake_archive(dist.path(), "darwin", "arm64");
    let manifest = PathBuf::from(ok(&release_manifest(dist.path(), true), "release.sh manifest --all").trim());
    let m = yaml_docs(&std::fs::read_to_string(&manifest).unwrap()).remove(0);
    check_krew_manifest(&m, &PLATFORMS);
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let l = &p["selector"]["matchLabels"];
        let a = archive_name(l["os"].as_str().unwrap(), l["arch"].as_str().unwrap());
        let sum = format!("{:x}", Sha256::digest(std::fs::read(dist.path().join(&a)).unwrap()));
        assert_eq!(p["sha256"], sum.as_str(), "{a}");
    }
    krew_validates(&manifest, dist.path());
    // The validator bites: a wrong checksum fails krew's install step.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let first = m["spec"]["platforms"][0]["sha256"].as_str().unwrap().to_string();
    let bad_dir = tempfile::tempdir().unwrap();
    let bad = bad_dir.path().join("harvester-hygiene.yaml");
    std::fs::write(&bad, text.replacen(&first, &"0".repeat(64), 1)).unwrap();
    let l = &m["spec"]["platforms"][0]["selector"]["matchLabels"];
    let (os, arch) = (l["os"].as_str().unwrap(), l["arch"].as_str().unwrap());
    let root = tempfile::tempdir().unwrap();
    let out = run(
        Command::new(packaging_tools::tool("kubectl-krew"))
            .args(["install", "--manifest"])
            .arg(&bad)
            .arg("--archive")
            .arg(dist.path().join(archive_name(os, arch)))
            .env("KREW_ROOT", root.path())
            .env("KREW_OS", os)
            .env("KREW_ARCH", arch),
        None,
    );
    assert!(!out.status.success(), "a wrong sha256 installs");
    // And the structural check bites: a platform listed twice.
    let twice = text.replacen("arch: arm64", "arch: amd64", 1);
    std::fs::write(&bad, twice).unwrap();
    let out = run(
        Command::new(packaging_tools::tool("validate-krew-manifest"))
            .arg(format!("-manifest={}", bad.display()))
            .arg("-skip-install"),
        None,
    );
    assert!(!out.status.success(), "overlapping platforms validate");
}

/// .krew.yaml is what krew-release-bot turns into the krew-index manifest at a tag: its
/// `addURIAndSha` calls fetch each archive and put in its uri and sha256. Rendered the same way
/// from local archives it is exactly the manifest `release.sh manifest --all` writes.
#[test]
fn krew_release_bot_template_is_the_release_manifest() {
    let dist = tempfile::tempdir().unwrap();
    for (os, arch) in PLATFORMS {
        fake_archive(dist.path(), os, arch);
    }
    let manifest = PathBuf::from(ok(&release_manifest(dist.path(), true), "release.sh manifest --all").trim());
    let template = std::fs::read_to_string(repo().join(".krew.yaml")).unwrap();
    let tag = format!("v{VERSION}");
    let mut rendered = String::new();
    let mut calls = 0;
    for line in template.lines() {
        // {{ addURIAndSha "https://…/{{ .TagName }}/kubectl-…_{{ .TagName }}_os_arch.tar.gz" .TagName | indent 6 }}
        let line = line.replace("{{ .TagName }}", &tag);
        if let Some(start) = line.find("{{ addURIAndSha \"") {
            let indent = &line[..start];
            let rest = &line[start + "{{ addURIAndSha \"".len()..];
            let url = rest.split('"').next().unwrap();
            let file = url.rsplit('/').next().unwrap();
            let sum = format!("{:x}", Sha256::digest(std::fs::read(dist.path().join(file)).unwrap()));
            // The bot's function writes "uri: U\n    sha256: S"; `| indent N` re-indents the
            // second line to N spaces (rajatjindal/krew-release-bot pkg/source/template.go).
            let pad = rest
                .split("| indent ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .map_or(4, |n| n.parse::<usize>().unwrap());
            rendered.push_str(&format!("{indent}uri: {url}\n{}sha256: {sum}\n", " ".repeat(pad)));
            calls += 1;
        } else {
            assert!(
                !line.contains("{{"),
                "a template call the bot's render is not simulated for: {line}"
            );
            rendered.push_str(&line);
            rendered.push('\n');
        }
    }
    assert_eq!(calls, PLATFORMS.len());
    let bot: Value = yaml_docs(&rendered).remove(0);
    let ours: Value = yaml_docs(&std::fs::read_to_string(&manifest).unwrap()).remove(0);
    assert_eq!(bot, ours, ".krew.yaml and krew/harvester-hygiene.yaml differ");
}

/// ELF64 little-endian: (has PT_INTERP, DT_NEEDED count).
fn elf_linking(path: &Path) -> (bool, usize) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{}", path.display());
    assert_eq!((b[4], b[5]), (2, 1), "ELF64 little-endian");
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(ph) {
            3 => interp = true, // PT_INTERP
            2 => {
                // PT_DYNAMIC: (d_tag, d_val) pairs until DT_NULL.
                let (off, size) = (u64_at(ph + 8), u64_at(ph + 32));
                for e in (off..off + size).step_by(16) {
                    match u64_at(e) {
                        0 => break,
                        1 => needed += 1, // DT_NEEDED
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (interp, needed)
}

#[test]
fn static_binaries_have_no_dynamic_loader_and_run() {
    let (_, _, target) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    release(dist.path());
    // The check itself tells a dynamic binary (the normal test build) from a static one.
    let (interp, needed) = elf_linking(Path::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene")));
    assert!(interp && needed > 0, "the dev build is dynamic: {interp} {needed}");

    let bin_dir = repo().join("target/static").join(target).join("release");
    for (bin, version_arg, prefix) in [
        ("kubectl-harvester-hygiene", "version", "kubectl-harvester-hygiene"),
        ("harvester-hygiene-job", "--version", "harvester-hygiene-job"),
    ] {
        let path = bin_dir.join(bin);
        assert_eq!(elf_linking(&path), (false, 0), "{bin}: PT_INTERP or DT_NEEDED");
        let out = run(Command::new("ldd").arg(&path), None);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("not a dynamic executable") || text.contains("statically linked"),
            "ldd {bin}: {text}"
        );
        // Runs with an empty environment, as in a distroless image.
        let out = run(Command::new(&path).arg(version_arg).env_clear(), None);
        assert!(
            ok(&out, bin).starts_with(&format!("{prefix} {VERSION}")),
            "{bin}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The image (Dockerfile): FROM scratch with the tree scripts/image-rootfs.sh makes

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("Dockerfile")).unwrap()
}

/// The final stage: everything after the last FROM.
fn final_stage(df: &str) -> String {
    let start = df.rfind("\nFROM ").expect("FROM") + 1;
    df[start..].to_string()
}

#[test]
fn dockerfile_builds_the_static_job_into_an_empty_image() {
    let df = dockerfile();
    let froms: Vec<&str> = df.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert_eq!(froms[1], "FROM scratch", "no base image to pull");
    assert!(df.contains("RUSTFLAGS=\"-C target-feature=+crt-static\""));
    assert!(df.contains("--target x86_64-unknown-linux-gnu"));
    assert!(df.contains("--bin harvester-hygiene-job"));
    assert!(
        df.contains(
            "scripts/image-rootfs.sh /out/rootfs target/x86_64-unknown-linux-gnu/release/harvester-hygiene-job"
        )
    );
    let last = final_stage(&df);
    let instructions: Vec<&str> = last.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert_eq!(
        instructions,
        [
            "FROM scratch",
            "COPY --from=build /out/rootfs/ /",
            "USER 65532:65532",
            "ENTRYPOINT [\"/usr/local/bin/harvester-hygiene-job\"]",
        ],
        "the final stage is the rootfs tree, the user and the entrypoint, nothing else"
    );
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for p in ["target/", ".git/"] {
        assert!(ignore.lines().any(|l| l == p), ".dockerignore: {p}");
    }
    assert!(
        !ignore.lines().any(|l| l.starts_with("scripts")),
        "the build stage runs scripts/image-rootfs.sh"
    );
}

/// The tree the final stage copies, from the same static binary: exactly these files, a passwd
/// entry for 65532, a CA bundle, no shell; the binary runs in it as 65532 (root: chroot
/// --userspec; otherwise an unprivileged user namespace).
fn image_rootfs(dir: &Path) -> PathBuf {
    let (_, _, target) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    release(dist.path());
    let bin = repo()
        .join("target/static")
        .join(target)
        .join("release/harvester-hygiene-job");
    let rootfs = dir.join("rootfs");
    let out = run(
        Command::new("bash")
            .arg(repo().join("scripts/image-rootfs.sh"))
            .arg(&rootfs)
            .arg(&bin),
        None,
    );
    ok(&out, "scripts/image-rootfs.sh");
    rootfs
}

fn tree(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().to_string();
            if e.file_type().unwrap().is_dir() {
                out.insert(format!("{rel}/"));
                stack.push(e.path());
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

#[test]
fn image_rootfs_has_the_binary_user_and_ca_bundle_and_no_shell() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = image_rootfs(dir.path());
    let files: BTreeSet<String> = tree(&rootfs).into_iter().filter(|p| !p.ends_with('/')).collect();
    assert_eq!(
        files,
        BTreeSet::from(
            [
                "etc/group",
                "etc/nsswitch.conf",
                "etc/passwd",
                "etc/ssl/certs/ca-certificates.crt",
                "usr/local/bin/harvester-hygiene-job",
                "usr/share/doc/harvester-hygiene/LICENSE",
            ]
            .map(String::from)
        )
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(
        passwd.lines().any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    assert!(
        passwd.lines().all(|l| l.ends_with(":/sbin/nologin")),
        "no login shell: {passwd}"
    );
    let ca = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(ca.matches("BEGIN CERTIFICATE").count() > 50, "a real CA bundle");
    for shell in ["bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"] {
        assert!(!rootfs.join(shell).exists(), "{shell}");
    }
    let bin = rootfs.join("usr/local/bin/harvester-hygiene-job");
    assert_eq!(elf_linking(&bin), (false, 0), "static");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&bin).unwrap().permissions().mode() & 0o777, 0o755);

    // It runs there as the image's user, with an empty environment.
    let is_root = run(Command::new("id").arg("-u"), None).stdout == b"0\n";
    let which = |tool: &str| {
        let out = run(Command::new("bash").args(["-c", &format!("command -v {tool}")]), None);
        ok(&out, tool).trim().to_string()
    };
    let mut cmd = if is_root {
        let mut c = Command::new(which("chroot"));
        c.arg("--userspec=65532:65532");
        c
    } else {
        let mut c = Command::new(which("unshare"));
        c.args(["--map-root-user", &which("chroot")]);
        c
    };
    cmd.arg(&rootfs)
        .args(["/usr/local/bin/harvester-hygiene-job", "--version"])
        .env_clear();
    let out = run(&mut cmd, None);
    assert!(ok(&out, "the job in its rootfs").starts_with(&format!("harvester-hygiene-job {VERSION}")));
}

/// buildah (Debian's package; scripts/chart-tools.sh installs it) builds the Dockerfile's final
/// stage, with the rootfs tree in place of the build stage's output (its base image cannot be
/// pulled here), as root with the vfs storage driver and chroot isolation; the image is
/// inspected: user, entrypoint, one layer holding exactly the tree, no shell, its size.
#[test]
fn image_builds_with_buildah_and_has_no_shell() {
    let buildah = packaging_tools::tool("buildah");
    let is_root = run(Command::new("id").arg("-u"), None).stdout == b"0\n";
    assert!(
        is_root,
        "buildah builds as root here (rootless needs /etc/subuid and /etc/subgid ranges for the user)"
    );
    let dir = tempfile::tempdir().unwrap();
    let rootfs = image_rootfs(dir.path());
    let stage = final_stage(&dockerfile()).replace("COPY --from=build /out/rootfs/ /", "COPY rootfs/ /");
    assert!(stage.contains("COPY rootfs/ /"), "{stage}");
    std::fs::write(dir.path().join("Containerfile"), &stage).unwrap();
    let b = |args: &[&str]| -> Output {
        run(
            Command::new(&buildah)
                .args(["--storage-driver", "vfs", "--root"])
                .arg(dir.path().join("storage"))
                .arg("--runroot")
                .arg(dir.path().join("run"))
                .args(args),
            None,
        )
    };
    let ctx = dir.path().to_str().unwrap();
    let file = dir.path().join("Containerfile");
    let out = b(&[
        "bud",
        "--isolation",
        "chroot",
        "--layers=false",
        "-f",
        file.to_str().unwrap(),
        "-t",
        "hh-image-test",
        ctx,
    ]);
    ok(&out, "buildah bud");
    let inspect: Value =
        serde_json::from_str(&ok(&b(&["inspect", "--type", "image", "hh-image-test"]), "inspect")).unwrap();
    let config = &inspect["OCIv1"]["config"];
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/harvester-hygiene-job"]),
        "{config}"
    );
    assert!(config.get("Cmd").is_none_or(|c| c.is_null()), "{config}");

    // The image as an OCI layout: one layer, exactly the tree, nothing else.
    let oci = dir.path().join("oci");
    ok(
        &b(&["push", "hh-image-test", &format!("oci:{}", oci.display())]),
        "buildah push oci:",
    );
    let blob = |digest: &str| oci.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let index: Value = serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    let layer = blob(layers[0]["digest"].as_str().unwrap());
    let listing = ok(&run(Command::new("tar").arg("tvf").arg(&layer), None), "tar tvf layer");
    let mut in_image = BTreeSet::new();
    for line in listing.lines() {
        let path = line
            .split_whitespace()
            .last()
            .unwrap()
            .trim_start_matches("./")
            .to_string();
        assert!(!line.starts_with('l'), "no links: {line}");
        if !path.is_empty() {
            in_image.insert(path);
        }
    }
    let want: BTreeSet<String> = tree(&rootfs);
    assert_eq!(in_image, want, "the layer is the rootfs tree");
    for shell in ["bin/sh", "bin/bash", "bin/busybox"] {
        assert!(!in_image.contains(shell), "{shell}");
    }
    // Size: the static binary and the CA bundle make up nearly all of it.
    let size = layers[0]["size"].as_u64().unwrap();
    let bin = std::fs::metadata(rootfs.join("usr/local/bin/harvester-hygiene-job"))
        .unwrap()
        .len();
    eprintln!("image layer: {size} bytes compressed, binary {bin} bytes");
    assert!(
        size < bin + 2 * 1024 * 1024,
        "{size} bytes: more than the binary and the CA bundle"
    );
    assert!(size > 1024 * 1024, "{size}");
}

// ---------------------------------------------------------------------------------------------
// kubectl plugin discovery, as krew installs it

fn kubectl_path() -> PathBuf {
    let out = run(Command::new("bash").args(["-c", "command -v kubectl"]), None);
    PathBuf::from(ok(&out, "kubectl on PATH").trim())
}

fn kubectl_with_path(dir: &Path, args: &[&str]) -> Output {
    run(
        Command::new(kubectl_path())
            .args(args)
            .env("PATH", dir)
            .env("KUBECONFIG", common::kubeconfig())
            .env("NO_COLOR", "1"),
        None,
    )
}

#[test]
fn kubectl_finds_the_plugin_under_the_krew_name() {
    let plugin = Path::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    // krew links `bin` as kubectl-<name with "-" as "_">.
    let krew_dir = tempfile::tempdir().unwrap();
    let link = krew_dir.path().join("kubectl-harvester_hygiene");
    std::fs::copy(plugin, &link).unwrap();

    let out = kubectl_with_path(krew_dir.path(), &["plugin", "list"]);
    let list = ok(&out, "kubectl plugin list");
    assert!(list.contains(link.to_str().unwrap()), "{list}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");

    let out = kubectl_with_path(krew_dir.path(), &["harvester-hygiene", "version"]);
    assert!(
        ok(&out, "kubectl harvester-hygiene version").starts_with(&format!("kubectl-harvester-hygiene {VERSION} "))
    );
    // Flags and the kubeconfig reach the plugin: `rules` works, a scan of a dump works.
    let out = kubectl_with_path(krew_dir.path(), &["harvester-hygiene", "rules"]);
    assert!(ok(&out, "kubectl harvester-hygiene rules").contains("orphaned-guest-pvc"));

    // The pitfall: the cargo binary name on PATH is `kubectl harvester hygiene`, not
    // `kubectl harvester-hygiene`.
    let bare_dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin, bare_dir.path().join("kubectl-harvester-hygiene")).unwrap();
    let out = kubectl_with_path(bare_dir.path(), &["harvester-hygiene", "version"]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = kubectl_with_path(bare_dir.path(), &["harvester", "hygiene", "version"]);
    assert!(ok(&out, "kubectl harvester hygiene version").starts_with("kubectl-harvester-hygiene "));
}

/// The static plugin in an empty root laid out like the image (CA bundle, nsswitch.conf,
/// /etc/hosts; no shared libraries, no glibc NSS modules): it resolves a host name from
/// /etc/hosts and scans the real apiserver. Needs root or unprivileged user namespaces (chroot).
#[test]
fn static_binary_scans_from_an_empty_root() {
    let (_, _, target) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    release(dist.path());
    let bin = repo()
        .join("target/static")
        .join(target)
        .join("release/kubectl-harvester-hygiene");

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["etc/ssl/certs", "tmp"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(&bin, r.join("kubectl-harvester-hygiene")).unwrap();
    std::fs::write(r.join("etc/hosts"), "127.0.0.1 localhost apiserver.hygiene.test\n").unwrap();
    std::fs::write(r.join("etc/nsswitch.conf"), "hosts: files dns\n").unwrap();
    if let Ok(ca) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
        std::fs::write(r.join("etc/ssl/certs/ca-certificates.crt"), ca).unwrap();
    }
    // The test kubeconfig, pointed at the apiserver by host name.
    let kc = std::fs::read_to_string(common::kubeconfig()).unwrap();
    let kc = kc.replace("https://127.0.0.1:", "https://apiserver.hygiene.test:");
    assert!(kc.contains("apiserver.hygiene.test"), "{kc}");
    std::fs::write(r.join("kubeconfig"), kc).unwrap();

    let args = [
        "/kubectl-harvester-hygiene",
        "scan",
        "--kubeconfig",
        "/kubeconfig",
        "--rules",
        "image-mutable-url",
        "--harvester-version",
        "v1.6.1",
        "-o",
        "json",
        "--fail-on",
        "never",
    ];
    let is_root = run(Command::new("id").arg("-u"), None).stdout == b"0\n";
    let which = |tool: &str| {
        let out = run(Command::new("bash").args(["-c", &format!("command -v {tool}")]), None);
        ok(&out, tool).trim().to_string()
    };
    let mut cmd = if is_root {
        Command::new(which("chroot"))
    } else {
        let mut c = Command::new(which("unshare"));
        c.args(["--map-root-user", &which("chroot")]);
        c
    };
    cmd.arg(r).args(args).env_clear().env("NO_COLOR", "1");
    let out = run(&mut cmd, None);
    let report: Value = serde_json::from_str(&ok(&out, "scan in an empty root")).unwrap();
    assert_eq!(report["source"]["type"], "live", "{report}");
    assert!(
        report["source"]["server"]
            .as_str()
            .is_some_and(|s| s.contains("apiserver.hygiene.test")),
        "{report}"
    );
    assert!(report["incomplete"].as_array().is_none_or(|a| a.is_empty()), "{report}");
}
