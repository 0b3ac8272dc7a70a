//! Bounded files input: a support-bundle member that inflates past --max-zip-ratio (a zip bomb),
//! a plain file over --max-file-bytes and a directory over --max-total-bytes are input errors
//! naming the file and the bound; the rest of the input is still scanned, in bounded memory.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const IMAGES: &str = "sb-abc/yamls/namespaced/team-a/harvester/virtualmachineimages.yaml";
const BOMB: &str = "sb-abc/yamls/namespaced/team-a/kubernetes/persistentvolumeclaims.yaml";
/// What the bomb member inflates to: 1 GiB of zeros.
const BOMB_BYTES: u64 = 1 << 30;
/// Peak RSS the scanner may reach on the bomb.
const MAX_RSS_KIB: u64 = 300 * 1024;

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1");
    c
}

/// A VirtualMachineImage whose URL moves (`/current/`): one image-mutable-url finding.
fn image(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: 3f1c2a7e-0d7b-4c55-9a51-{:012}\n  resourceVersion: \"1\"\n  creationTimestamp: \"2026-01-05T10:00:00Z\"\n  annotations:\n    harvesterhci.io/storageClassName: longhorn-{name}\nspec:\n  displayName: {name}\n  sourceType: download\n  url: https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img\n  storageClassParameters:\n    numberOfReplicas: \"3\"\n    staleReplicaTimeout: \"30\"\n",
        name.bytes().map(u64::from).sum::<u64>()
    )
}

/// The image as a support bundle writes it: a `List`.
fn image_list(name: &str, ns: &str) -> String {
    let items: String = image(name, ns)
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("- {l}\n") } else { format!("  {l}\n") })
        .collect();
    format!("apiVersion: v1\nkind: List\nitems:\n{items}")
}

/// A support bundle with the image list and, with `bomb`, a PVC list member of `BOMB_BYTES`
/// zeros (deflated to about 1 MiB), written in 1 MiB chunks: never held in memory.
fn bundle(dir: &Path, file: &str, bomb: bool) -> PathBuf {
    let path = dir.join(file);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    if bomb {
        zip.start_file(BOMB, opts).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..BOMB_BYTES / (1 << 20) {
            zip.write_all(&chunk).unwrap();
        }
    }
    zip.start_file(IMAGES, opts).unwrap();
    zip.write_all(image_list("noble", "team-a").as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

/// Run the binary, under `/usr/bin/time` when it is installed: the output and the peak RSS in KiB.
fn run(args: &[OsString]) -> (Output, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        eprintln!("note: /usr/bin/time is not installed; peak RSS not measured");
        return (bin().args(args).output().unwrap(), None);
    }
    let dir = tempfile::tempdir().unwrap();
    let rss = dir.path().join("rss");
    let out = std::process::Command::new(time)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(args)
        .output()
        .unwrap();
    let kib = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok());
    (out, kib)
}

fn scan_json(from: &Path, extra: &[&str]) -> (Output, Value, Option<u64>) {
    let mut args: Vec<OsString> = vec!["scan".into(), "--from".into(), from.into()];
    args.extend(["-o", "json"].iter().chain(extra).map(OsString::from));
    let (out, rss) = run(&args);
    let doc: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out, doc, rss)
}

fn findings(doc: &Value, rule: &str) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| {
            format!(
                "{}/{}",
                f["object"]["namespace"].as_str().unwrap(),
                f["object"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn input_errors(doc: &Value) -> &Vec<Value> {
    doc["inputErrors"].as_array().unwrap()
}

#[test]
fn a_zip_bomb_member_is_an_input_error_and_the_rest_of_the_bundle_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = bundle(dir.path(), "supportbundle_bomb.zip", true);
    let plain = bundle(dir.path(), "supportbundle_plain.zip", false);
    let on_disk = std::fs::metadata(&bomb).unwrap().len();
    eprintln!("the bomb is {on_disk} bytes on disk");
    assert!(on_disk < 4 << 20, "the bomb is small on disk: {on_disk} bytes");

    // Without the bomb: the image's finding, no input errors. This exit code is the reference.
    let (base, doc, _) = scan_json(&plain, &[]);
    assert_eq!(findings(&doc, "image-mutable-url"), vec!["team-a/noble"]);
    assert!(input_errors(&doc).is_empty(), "{doc}");

    let (out, doc, rss) = scan_json(&bomb, &[]);
    // An input error does not change the exit code (as for a malformed document).
    assert_eq!(
        out.status.code(),
        base.status.code(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let errors = input_errors(&doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let source = errors[0]["source"].as_str().unwrap();
    let reason = errors[0]["reason"].as_str().unwrap();
    assert!(source.ends_with(&format!("supportbundle_bomb.zip!{BOMB}")), "{source}");
    assert!(reason.contains("--max-zip-ratio 100:1"), "{reason}");
    assert!(reason.contains(&format!("declares {BOMB_BYTES} bytes")), "{reason}");
    assert_eq!(doc["summary"]["inputErrors"], 1);
    // The member next to the bomb is still scanned.
    assert_eq!(findings(&doc, "image-mutable-url"), vec!["team-a/noble"]);
    // The bomb's PVC list was not read: PVCs stay unknown in team-a, not empty.
    let incomplete = doc["incomplete"].as_array().unwrap();
    assert!(
        incomplete.iter().any(|g| g["kind"] == "PersistentVolumeClaim"),
        "{incomplete:?}"
    );
    // The skip is also on stderr for -o json.
    assert!(String::from_utf8_lossy(&out.stderr).contains(BOMB));
    match rss {
        Some(kib) => {
            eprintln!("peak RSS on the zip bomb: {kib} KiB");
            assert!(kib < MAX_RSS_KIB, "peak RSS {kib} KiB");
        }
        None => eprintln!("note: peak RSS not measured"),
    }

    // With the ratio raised past what deflate reaches, the per-member size bound stops it.
    let (_, doc, rss) = scan_json(&bomb, &["--max-zip-ratio", "5000:1"]);
    let errors = input_errors(&doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let reason = errors[0]["reason"].as_str().unwrap();
    assert!(reason.contains("--max-file-bytes 536870912 (512.0 MiB)"), "{reason}");
    assert_eq!(findings(&doc, "image-mutable-url"), vec!["team-a/noble"]);
    if let Some(kib) = rss {
        assert!(kib < MAX_RSS_KIB, "peak RSS {kib} KiB");
    }
}

/// The zip headers can lie: a bomb whose central directory declares a size within the ratio
/// passes the declared-size checks and is stopped while it inflates, in bounded memory, and
/// the rest is scanned. (The zip reader itself fails a member once it grows past its declared
/// size, which is below our cap here; the cap on bytes read, for readers that do not, is tested
/// in `inventory::files`'s unit tests.)
#[test]
fn a_zip_bomb_with_a_lying_header_is_stopped_while_inflating() {
    let dir = tempfile::tempdir().unwrap();
    let path = bundle(dir.path(), "supportbundle_liar.zip", true);
    let mut bytes = std::fs::read(&path).unwrap();
    // Central directory entry of the bomb: signature, fixed fields (sizes at 20 and 24), name at 46.
    let name = BOMB.as_bytes();
    let at = (0..bytes.len().saturating_sub(46 + name.len()))
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] && &bytes[i + 46..i + 46 + name.len()] == name)
        .expect("central directory entry of the bomb");
    let compressed = u32::from_le_bytes(bytes[at + 20..at + 24].try_into().unwrap());
    assert_eq!(
        u32::from_le_bytes(bytes[at + 24..at + 28].try_into().unwrap()),
        BOMB_BYTES as u32
    );
    // Declare ten times the compressed size: within 100:1.
    let lie = compressed * 10;
    bytes[at + 24..at + 28].copy_from_slice(&lie.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();

    let (_, doc, rss) = scan_json(&path, &[]);
    let errors = input_errors(&doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]["source"].as_str().unwrap().ends_with(BOMB), "{errors:?}");
    assert!(
        errors[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("cannot read archive member"),
        "{errors:?}"
    );
    assert_eq!(findings(&doc, "image-mutable-url"), vec!["team-a/noble"]);
    if let Some(kib) = rss {
        eprintln!("peak RSS on the lying zip bomb: {kib} KiB");
        assert!(kib < MAX_RSS_KIB, "peak RSS {kib} KiB");
    }
}

/// A YAML `List` of `n` PVCs (about 600 bytes each).
fn pvc_list(n: usize) -> String {
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: PersistentVolumeClaim\n  metadata:\n    name: data-{i}\n    namespace: team-b\n    uid: 00000000-0000-4000-8000-{i:012}\n    resourceVersion: \"{i}\"\n    creationTimestamp: \"2026-01-05T10:00:00Z\"\n    annotations:\n      pv.kubernetes.io/bind-completed: \"yes\"\n  spec:\n    accessModes:\n    - ReadWriteOnce\n    resources:\n      requests:\n        storage: 10Gi\n    storageClassName: harvester-longhorn\n    volumeMode: Block\n    volumeName: pvc-{i}\n  status:\n    phase: Bound\n"
        ));
    }
    text
}

#[test]
fn a_plain_file_over_max_file_bytes_is_an_input_error_and_the_rest_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("images.yaml"), image("noble", "team-a")).unwrap();
    let big = pvc_list(5_000);
    assert!(big.len() > 2 << 20);
    std::fs::write(dir.path().join("pvcs.yaml"), &big).unwrap();

    let (_, doc, _) = scan_json(dir.path(), &["--max-file-bytes", "2Mi"]);
    let errors = input_errors(&doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["source"].as_str().unwrap().ends_with("pvcs.yaml"),
        "{errors:?}"
    );
    let reason = errors[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("--max-file-bytes 2097152 (2.0 MiB)")
            && reason.contains(&format!("declares {} bytes", big.len())),
        "{reason}"
    );
    assert_eq!(findings(&doc, "image-mutable-url"), vec!["team-a/noble"]);
    assert_eq!(doc["summary"]["objectsScanned"], 1);

    // Near miss: the file fits the bound exactly and loads.
    let exact = big.len().to_string();
    let (_, doc, _) = scan_json(dir.path(), &["--max-file-bytes", &exact]);
    assert!(input_errors(&doc).is_empty(), "{:?}", input_errors(&doc));
    assert_eq!(doc["summary"]["objectsScanned"], 5_001);
}

#[test]
fn a_directory_over_max_total_bytes_scans_what_fits_and_names_what_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(String, String)> = ["a", "b", "c"]
        .iter()
        .map(|n| (format!("{n}-images.yaml"), image(&format!("img-{n}"), "team-a")))
        .collect();
    for (name, text) in &files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let all: usize = files.iter().map(|(_, t)| t.len()).sum();
    let two = all - files[2].1.len();

    let (_, doc, _) = scan_json(dir.path(), &["--max-total-bytes", &(all - 1).to_string()]);
    let errors = input_errors(&doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["source"].as_str().unwrap().ends_with("c-images.yaml"),
        "{errors:?}"
    );
    let reason = errors[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("--max-total-bytes {}", all - 1))
            && reason.contains(&format!("{two} bytes of the input were read before it")),
        "{reason}"
    );
    let mut got = findings(&doc, "image-mutable-url");
    got.sort();
    assert_eq!(got, vec!["team-a/img-a", "team-a/img-b"]);

    // Near miss: exactly the total loads everything.
    let (_, doc, _) = scan_json(dir.path(), &["--max-total-bytes", &all.to_string()]);
    assert!(input_errors(&doc).is_empty(), "{:?}", input_errors(&doc));
    assert_eq!(findings(&doc, "image-mutable-url").len(), 3);
}

#[test]
fn bad_bound_values_are_usage_errors() {
    for args in [
        ["--max-file-bytes", "0"],
        ["--max-file-bytes", "lots"],
        ["--max-total-bytes", "1.5"],
        ["--max-zip-ratio", "0"],
        ["--max-zip-ratio", "100:2"],
    ] {
        let out = bin()
            .args(["scan", "--from", "examples/demo-cluster"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(args[0]), "{args:?}");
    }
    // Quantities as elsewhere in the tool: 1Gi, 100M, a plain byte count, N:1.
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster", "--max-file-bytes", "100M"])
        .args([
            "--max-total-bytes",
            "1Gi",
            "--max-zip-ratio",
            "50:1",
            "--fail-on",
            "never",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
