//! `image-mutable-url`: images downloaded from a URL whose content moves (`current`,
//! `latest`, `daily`, Ubuntu's `release` alias, openSUSE images rebuilt in place, ...).
//! When every copy of the Longhorn BackingImage is lost, Longhorn downloads the URL again;
//! the new file's checksum no longer matches the recorded one, so the copy is marked failed
//! and the image cannot be recovered.
//!
//! Upstream: longhorn/longhorn-manager `controller/backing_image_controller.go` keeps
//! `status.checksum` once set and fails a copy with "Backing image recorded checksum ...
//! doesn't match the file checksum ... in disk ..."; with `spec.checksum` set,
//! longhorn/backing-image-manager `pkg/sync/sync_file.go` (`finishProcessingNoLock`) fails
//! the download itself with "the expected checksum ... doesn't match the the file actual
//! checksum ..." (sic). Harvester sets `minNumberOfCopies` only from v1.4.0
//! (harvester/harvester#5897, `pkg/controller/master/image/vm_image_controller.go`); before
//! that Longhorn keeps a single copy. The docs warn against daily-build URLs
//! (harvester/docs#738); no code guards against them (harvester/harvester#7959).

use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::Kind;
use crate::inventory::KindInfo;
use crate::inventory::kinds::{BackingImage, VirtualMachineImage};
use crate::inventory::probe::Probe;
use crate::version::Version;

pub struct ImageMutableUrl;

pub const ID: &str = "image-mutable-url";

/// `rules.image-mutable-url` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// More path segments that mark a moving target.
    pub extra_patterns: Vec<String>,
}
const LONGHORN_NS: &str = "longhorn-system";
/// The first version that asks Longhorn for more than one BackingImage copy (#5897).
const IMAGE_HA_FROM: Version = Version::new(1, 4, 0);

/// The URL split into what the patterns look at: lower-case host, path segments (no
/// query or fragment) and the file name (last segment).
pub struct UrlParts<'a> {
    pub host: String,
    pub segments: Vec<&'a str>,
    pub file: &'a str,
}

impl<'a> UrlParts<'a> {
    pub fn new(url: &'a str) -> Self {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let (host, path) = match after_scheme.find('/') {
            Some(i) => (after_scheme.get(..i).unwrap_or(""), after_scheme.get(i..).unwrap_or("")),
            None => (after_scheme, ""),
        };
        let host = host.split(['?', '#']).next().unwrap_or("");
        let host = host.rsplit('@').next().unwrap_or(host).to_ascii_lowercase();
        let path = path.split(['?', '#']).next().unwrap_or("");
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let file = segments.last().copied().unwrap_or("");
        UrlParts { host, segments, file }
    }
    fn has_segment(&self, word: &str) -> Option<&'a str> {
        self.segments.iter().copied().find(|s| s.eq_ignore_ascii_case(word))
    }
}

/// Why a URL points at a moving target.
pub struct Marker {
    /// For the message: `path segment \`current\``.
    pub what: String,
    /// For the evidence: `moving-segment:current`.
    pub evidence: String,
}

/// How a URL shows it points at a moving target. One table: add a row to extend.
pub enum Pattern {
    /// A whole path segment, compared case-insensitively (`/jammy/current/`).
    Segment(&'static str),
    /// Text inside the file name (last segment), compared case-insensitively.
    FileNameContains(&'static str),
    /// The file name starts with this text (`latest.qcow2`), case-insensitively.
    FileNameStartsWith(&'static str),
    /// A distribution-specific layout: a name for the evidence and a matcher.
    Layout(&'static str, fn(&UrlParts<'_>) -> bool),
}

pub const PATTERNS: &[Pattern] = &[
    Pattern::Segment("current"),
    Pattern::Segment("latest"),
    Pattern::Segment("latest-stable"),
    Pattern::Segment("daily"),
    Pattern::Segment("rawhide"),
    Pattern::Segment("development"),
    Pattern::FileNameContains("-latest."),
    Pattern::FileNameContains(".latest."),
    Pattern::FileNameContains("_latest."),
    Pattern::FileNameContains("-current."),
    Pattern::FileNameStartsWith("latest."),
    Pattern::Layout("ubuntu-release-alias", ubuntu_release_alias),
    Pattern::Layout("opensuse-unbuilt-nocloud", opensuse_nocloud),
    Pattern::Layout("opensuse-unbuilt-jeos", opensuse_jeos),
];

/// `cloud-images.ubuntu.com/releases/<codename|NN.NN>/release/<file>`: the alias of the
/// newest serial (`release-YYYYMMDD` directories are pinned).
fn ubuntu_release_alias(u: &UrlParts<'_>) -> bool {
    u.host == "cloud-images.ubuntu.com"
        && u.segments.len() >= 4
        && u.segments.first().is_some_and(|s| s.eq_ignore_ascii_case("releases"))
        && u.segments.get(2).is_some_and(|s| s.eq_ignore_ascii_case("release"))
}

/// No `-Build<N>` in the file name: openSUSE rebuilds the unnumbered file in place.
fn unbuilt(file: &str) -> bool {
    !file.to_ascii_lowercase().contains("-build")
}

/// `.../repositories/Cloud:/Images:/Leap_15.x/images/...-NoCloud.qcow2`.
fn opensuse_nocloud(u: &UrlParts<'_>) -> bool {
    let segs: Vec<String> = u.segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let file = u.file.to_ascii_lowercase();
    segs.windows(5).any(|w| {
        w[0] == "repositories"
            && w[1] == "cloud:"
            && w[2] == "images:"
            && w[3].starts_with("leap_15")
            && w[4] == "images"
    }) && file.ends_with("-nocloud.qcow2")
        && unbuilt(&file)
}

/// `.../distribution/leap/15.x/appliances/...JeOS...qcow2`.
fn opensuse_jeos(u: &UrlParts<'_>) -> bool {
    let segs: Vec<String> = u.segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let file = u.file.to_ascii_lowercase();
    segs.windows(4)
        .any(|w| w[0] == "distribution" && w[1] == "leap" && w[2].starts_with("15.") && w[3] == "appliances")
        && file.contains("jeos")
        && file.ends_with(".qcow2")
        && unbuilt(&file)
}

/// Which pattern matches `url` (its path; never its host or query), if any.
pub fn mutable_marker(url: &str) -> Option<Marker> {
    let u = UrlParts::new(url);
    let file = u.file;
    let lower = file.to_ascii_lowercase();
    for p in PATTERNS {
        match p {
            Pattern::Segment(word) => {
                if let Some(s) = u.has_segment(word) {
                    return Some(Marker {
                        what: format!("path segment `{s}`"),
                        evidence: format!("moving-segment:{}", s.to_ascii_lowercase()),
                    });
                }
            }
            Pattern::FileNameContains(text) => {
                if lower.contains(text) {
                    return Some(Marker {
                        what: format!("file name `{file}` (contains `{text}`)"),
                        evidence: format!("moving-file-name:{text}"),
                    });
                }
            }
            Pattern::FileNameStartsWith(text) => {
                if lower.starts_with(text) {
                    return Some(Marker {
                        what: format!("file name `{file}`"),
                        evidence: format!("moving-file-name:{text}"),
                    });
                }
            }
            Pattern::Layout(name, matches) => {
                if matches(&u) {
                    let what = match *name {
                        "ubuntu-release-alias" => {
                            "path segment `release` (Ubuntu's alias of the newest release serial)".to_string()
                        }
                        _ => format!("file name `{file}` (no -Build<N> number: openSUSE rebuilds it in place)"),
                    };
                    return Some(Marker {
                        what,
                        evidence: format!("moving-layout:{name}"),
                    });
                }
            }
        }
    }
    None
}

/// A configured extra path segment (`extraPatterns`) in `url`'s path.
fn extra_marker(url: &str, extra: &[String]) -> Option<Marker> {
    let u = UrlParts::new(url);
    u.segments
        .iter()
        .find(|seg| extra.iter().any(|e| seg.eq_ignore_ascii_case(e)))
        .map(|seg| Marker {
            what: format!("path segment `{seg}` (configured pattern)"),
            evidence: format!("moving-segment:{}", seg.to_ascii_lowercase()),
        })
}

/// `url` with its file name replaced.
fn with_file(url: &str, file: &str) -> String {
    match url.split(['?', '#']).next().unwrap_or(url).rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{file}"),
        None => file.to_string(),
    }
}

/// Ubuntu: a dated release directory.
fn ubuntu_hint(parts: &UrlParts<'_>) -> String {
    let file = parts.file;
    // .../<codename>/current/<file> and .../releases/<codename>/release/<file>
    //   -> .../releases/<codename>/release-<YYYYMMDD>/<file>
    let segs = &parts.segments;
    if let Some(i) = segs.iter().position(|p| *p == "current" || *p == "release")
        && let Some(codename) = i.checked_sub(1).and_then(|j| segs.get(j))
        && !file.is_empty()
    {
        return format!(
            "https://cloud-images.ubuntu.com/releases/{codename}/release-<YYYYMMDD>/{file} (a dated release directory)"
        );
    }
    "https://cloud-images.ubuntu.com/releases/<codename>/release-<YYYYMMDD>/<file> (a dated release directory)".into()
}

/// openSUSE: the build-numbered file next to the unnumbered one.
fn opensuse_hint(url: &str, file: &str) -> String {
    let lower = file.to_ascii_lowercase();
    if let Some(stem) = lower
        .strip_suffix("-nocloud.qcow2")
        .and_then(|_| file.get(..file.len().saturating_sub(14)))
    {
        return format!(
            "{} (the build-numbered file openSUSE publishes next to it; the unnumbered one is rebuilt in place)",
            with_file(url, &format!("{stem}-<version>-NoCloud-Build<N>.qcow2"))
        );
    }
    "the build-numbered file of the same image in the same directory (...-Build<N>.qcow2); the \
            unnumbered one is rebuilt in place"
        .into()
}

/// Debian: .../latest/<file> -> a dated build directory and file.
fn debian_hint(url: &str) -> String {
    let parts: Vec<&str> = url.split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "latest")
        && let Some(file) = parts.last()
    {
        let stem_ext = file
            .rsplit_once('.')
            .map_or((file.to_string(), String::new()), |(s, e)| {
                (s.to_string(), format!(".{e}"))
            });
        let prefix = parts[..i].join("/");
        return format!(
            "{prefix}/<YYYYMMDD-NNNN>/{}-<YYYYMMDD-NNNN>{} (a dated build directory and file)",
            stem_ext.0, stem_ext.1
        );
    }
    "https://cloud.debian.org/images/cloud/<codename>/<YYYYMMDD-NNNN>/<file>-<YYYYMMDD-NNNN>.qcow2".into()
}

/// The pinned form of a URL, per distribution.
pub fn pinned_hint(url: &str) -> String {
    let u = url.to_ascii_lowercase();
    let parts = UrlParts::new(url);
    let file = parts.file;
    if u.contains("cloud-images.ubuntu.com") {
        return ubuntu_hint(&parts);
    }
    if u.contains("opensuse") {
        return opensuse_hint(url, file);
    }
    if u.contains("/latest-stable/") {
        return format!(
            "{} (a release branch directory; Alpine's cloud image file names carry the full version)",
            url.replacen("latest-stable", "v<major>.<minor>", 1)
        );
    }
    let lower = file.to_ascii_lowercase();
    if let Some(i) = lower.find("-current.") {
        let (head, tail) = (
            file.get(..i).unwrap_or(""),
            file.get(i.saturating_add(9)..).unwrap_or(""),
        );
        return format!(
            "{} (the versioned file name)",
            with_file(url, &format!("{head}-<version>.{tail}"))
        );
    }
    if let Some(ext) = lower.strip_prefix("latest.") {
        return format!(
            "{} (the versioned file the `latest` name points at today)",
            with_file(url, &format!("<name>-<version>.{ext}"))
        );
    }
    if u.contains("cloud.debian.org") {
        return debian_hint(url);
    }
    if u.contains("centos.org") {
        return "the dated file name of the same image (CentOS Stream publishes each build as ...-<version>-<YYYYMMDD>.<n>.<arch>.qcow2)".into();
    }
    if u.contains("rockylinux.org") || u.contains("almalinux.org") {
        return "the versioned file name of the same image (e.g. ...-GenericCloud-Base-<version>-<YYYYMMDD>.<n>.<arch>.qcow2), or a vault/ archive URL".into();
    }
    if u.contains("fedoraproject.org") || u.contains("rawhide") {
        return "a released Fedora image (Fedora-Cloud-Base-Generic-<release>-<compose>.<arch>.qcow2), not rawhide/development".into();
    }
    "a URL that names one fixed release or build (dated directory or versioned file name)".into()
}

/// Shorten long hex runs (128-character checksums) to their first 12 characters.
fn shorten_hex(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.len() > 32 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                format!("{}…", &w[..12])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Rule for ImageMutableUrl {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Images downloaded from a moving URL (current/latest/daily/release alias) cannot be re-downloaded by Longhorn"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[info::<VirtualMachineImage>(), info::<BackingImage>()];
        NEEDS
    }

    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "Longhorn keeps a BackingImage's checksum once the first copy is made (status.checksum is immutable, \
                  longhorn/longhorn-manager controller/backing_image_controller.go). When every copy is lost (a disk \
                  removed without eviction, longhorn/longhorn#10644), Longhorn downloads a download-type image's URL \
                  again. If the URL points at a moving target (a `current`, `latest`, `latest-stable` or `daily` \
                  directory, Ubuntu's releases/<codename>/release/ alias, an openSUSE Cloud:Images or JeOS appliance \
                  file without a -Build<N> number, a `-latest.`/`-current.` or bare `latest.` file name), the new \
                  file differs: the copy is failed with \"Backing image recorded checksum ... doesn't match the file \
                  checksum ...\" (backing_image_controller.go) or, with spec.checksum set, the download fails with \
                  \"the expected checksum ... doesn't match the the file actual checksum ...\" \
                  (longhorn/backing-image-manager pkg/sync/sync_file.go), and the image and every VM created from it \
                  cannot be recovered. Before Harvester v1.4.0 images do not set minNumberOfCopies \
                  (harvester/harvester#5897, pkg/controller/master/image/vm_image_controller.go), so Longhorn keeps \
                  one copy and losing one disk is enough. The Harvester docs warn against daily-build URLs \
                  (harvester/docs#738); no code guards against them (harvester/harvester#7959). A URL pattern alone \
                  is `likely`; a failed copy or checksum mismatch on the BackingImage makes it an error, `proven`.",
            affected: "every Harvester version (no code guard as of v1.8); one lost disk is enough before v1.4.0",
            upstream: &[
                "harvester/harvester#7959",
                "harvester/docs#738",
                "harvester/harvester#6572",
                "harvester/harvester#5897",
                "longhorn/longhorn#10644",
                "longhorn/longhorn-manager controller/backing_image_controller.go",
                "longhorn/backing-image-manager pkg/sync/sync_file.go",
            ],
            remediation: "Create the image from a pinned URL (a dated release directory or a versioned file name) with \
                          spec.checksum set to the file's SHA-512, move the VMs to it, and delete the old image.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let bis_known = inv.covers::<BackingImage>(Some(LONGHORN_NS));
        let opts: Options = ctx.options(ID);
        let extra: &[String] = opts.extra_patterns.as_slice();
        let single_copy = inv.harvester_version.as_ref().filter(|v| **v < IMAGE_HA_FROM);
        for img in inv.objects::<VirtualMachineImage>() {
            if !inv.in_scope(img.metadata.namespace.as_deref())
                || !img.spec.source_type.eq_ignore_ascii_case("download")
                || img.is_imported()
            {
                continue;
            }
            let url = img.spec.url.as_str();
            // `--probe-urls`: what the URL answered (gathered before the rules run).
            let probed = inv
                .url_probes
                .as_ref()
                .and_then(|p| p.get(url))
                .map(|p| probe_verdict(img, p));
            let Some(marker) = marker_of(url, extra, probed.as_ref()) else {
                continue;
            };
            let id = img.image_id();
            let bi = inv
                .objects::<BackingImage>()
                .iter()
                .find(|b| b.image_id() == Some(id.as_str()) && b.metadata.namespace.as_deref() == Some(LONGHORN_NS));

            let mut msg = risk_message(img, &id, &marker, single_copy);
            let mut severity = Severity::Warning;
            let mut confidence = Confidence::Likely;
            let mut evidence = vec![marker.evidence.clone()];
            if single_copy.is_some() {
                evidence.push("single-copy:before-v1.4.0".to_string());
            }
            let mut related = Vec::new();
            if let Some(bi) = bi {
                related.push(bi.object_ref());
            }
            if copies_failed(bi, bis_known, &mut msg, &mut evidence) {
                severity = Severity::Error;
                confidence = Confidence::Proven;
            }
            let mut probed_title = None;
            if let Some(v) = probed {
                msg.push(' ');
                msg.push_str(&v.sentence);
                evidence.extend(v.evidence);
                if v.proven {
                    severity = Severity::Error;
                    confidence = Confidence::Proven;
                    probed_title = v.title;
                }
            }
            let remediation = format!(
                "Create a new image from a pinned URL, e.g. {}, with spec.checksum set to the file's SHA-512; \
                 move the VMs to it and delete this image. Until then keep the BackingImage's copies healthy \
                 (evict disks before removing them).",
                pinned_hint(url)
            );
            let mut f = Finding::about(self, severity, img, msg, remediation)
                .with_title(probed_title.unwrap_or_else(|| title(severity, &marker)))
                .with_confidence(confidence);
            for e in evidence {
                f = f.evidence(e);
            }
            f.related = related;
            out.findings.push(f);
        }
        out
    }
}

/// What the image's BackingImage says: failed copies (the risk happened: true), or that
/// BackingImages were not read. Adds to the message and the evidence.
fn copies_failed(bi: Option<&BackingImage>, bis_known: bool, msg: &mut String, evidence: &mut Vec<String>) -> bool {
    match bi {
        Some(bi) => {
            let broken = broken_copies(bi, evidence);
            if !broken.is_empty() {
                msg.push_str(&format!(
                    " This is happening now: BackingImage {} has failed copies: {}.",
                    bi.metadata.name,
                    broken.join("; ")
                ));
            }
            !broken.is_empty()
        }
        None if !bis_known => {
            msg.push_str(
                " BackingImages were not read, so whether a copy has already failed is unknown (unknown \
                 kind: BackingImage).",
            );
            evidence.push("unknown-kind:BackingImage".to_string());
            false
        }
        None => false,
    }
}

/// The URL's moving part, by pattern or `extraPatterns`; without one, a probe that proves the
/// file moved or went away still makes it a finding.
fn marker_of(url: &str, extra: &[String], probed: Option<&ProbeVerdict>) -> Option<Marker> {
    match mutable_marker(url).or_else(|| extra_marker(url, extra)) {
        Some(m) => Some(m),
        None => match probed {
            Some(v) if v.proven => Some(Marker {
                what: "file, which the probe found changed or gone upstream,".into(),
                evidence: "probed".into(),
            }),
            _ => None,
        },
    }
}

/// The risk, for every such image: what happens when every copy is lost.
fn risk_message(img: &VirtualMachineImage, id: &str, marker: &Marker, single_copy: Option<&Version>) -> String {
    let url = img.spec.url.as_str();
    let mut msg = format!(
        "VirtualMachineImage {id} downloads {url}, whose {} points at a moving target. If every copy \
         of its Longhorn BackingImage is lost, Longhorn downloads the URL again, the new file's checksum no \
         longer matches the recorded one, and the copy is marked failed: the image cannot be recovered.",
        marker.what
    );
    if let Some(v) = single_copy {
        msg.push_str(&format!(
            " Harvester {v} (before v1.4.0) does not ask Longhorn for more than one copy of the BackingImage \
             (minNumberOfCopies came with harvester/harvester#5897): losing the one disk that holds it is \
             enough."
        ));
    }
    if img.spec.checksum.is_empty() {
        msg.push_str(" spec.checksum is not set, so nothing pins the content.");
    }
    msg
}

/// The BackingImage's failed or checksum-mismatched copies, one line each; each is evidence.
fn broken_copies(bi: &BackingImage, evidence: &mut Vec<String>) -> Vec<String> {
    let mut broken = Vec::new();
    for (disk, d) in &bi.status.disk_file_status_map {
        let mismatch = is_checksum_mismatch(&d.message);
        let failed = matches!(d.state.as_str(), "failed" | "failed-and-cleanup");
        if !mismatch && !failed {
            continue;
        }
        if failed {
            evidence.push(format!("failed-copy:{disk}"));
        }
        if mismatch && !evidence.iter().any(|e| e == "checksum-mismatch") {
            evidence.push("checksum-mismatch".to_string());
        }
        broken.push(if d.message.is_empty() {
            format!("disk {disk}: {}", d.state)
        } else {
            format!("disk {disk}: {} ({})", d.state, shorten_hex(&d.message))
        });
    }
    broken
}

fn title(severity: Severity, marker: &Marker) -> String {
    if severity == Severity::Error {
        format!("moving URL ({}): a BackingImage copy already failed", marker.what)
    } else {
        format!("moving URL ({}): lost for good if every copy fails", marker.what)
    }
}

/// What a `--probe-urls` answer says about an image.
struct ProbeVerdict {
    /// Changed after import, or gone: an error, `proven`.
    proven: bool,
    sentence: String,
    evidence: Vec<String>,
    title: Option<String>,
}

/// Compare the probe of `img`'s URL with the image: `Last-Modified` after its import time, or a
/// `Content-Length` other than `status.size`, is a change; 404/410 is gone.
fn probe_verdict(img: &VirtualMachineImage, probe: &Probe) -> ProbeVerdict {
    let imported = img.imported_at();
    let imported_ts = crate::meta::parse_time(imported);
    match probe {
        Probe::Gone { status } => ProbeVerdict {
            proven: true,
            sentence: format!(
                "Probed (--probe-urls): the URL answers {status}, the file is gone upstream: the image can never be \
                 re-downloaded, so losing every copy of its BackingImage loses it for good."
            ),
            evidence: vec![format!("upstream-gone:{status}")],
            title: Some(format!(
                "upstream gone ({status}): the image can never be re-downloaded"
            )),
        },
        Probe::Failed { reason } => ProbeVerdict {
            proven: false,
            sentence: format!("Probing the URL (--probe-urls) failed ({reason}): nothing was learned from it."),
            evidence: vec![format!("probe-failed:{reason}")],
            title: None,
        },
        Probe::Found {
            method,
            final_url,
            last_modified,
            etag,
            content_length,
            ..
        } => {
            let mut evidence = probe_evidence(method, final_url, last_modified, etag, content_length);
            let size = img.size_bytes();
            let lm_ts = crate::meta::parse_time(last_modified.as_deref());
            let newer = matches!((lm_ts, imported_ts), (Some(l), Some(i)) if l > i);
            let resized = matches!((content_length, size), (Some(n), Some(s)) if *n != s);
            let facts = probe_facts(last_modified, etag, content_length);
            if newer || resized {
                changed_upstream(imported, last_modified, resized.then_some((*content_length, size)), newer, &facts, evidence)
            } else if imported_ts.is_some() && (lm_ts.is_some() || size.is_some() && content_length.is_some()) {
                evidence.push("upstream-unchanged".into());
                ProbeVerdict {
                    proven: false,
                    sentence: format!(
                        "Probed (--probe-urls): upstream is unchanged since this image was imported ({}; {facts}{}), \
                         so a re-download would work today; the URL still moves, so that can change any day.",
                        imported.unwrap_or(""),
                        size.map(|s| format!(", status.size {s}")).unwrap_or_default()
                    ),
                    evidence,
                    title: None,
                }
            } else {
                ProbeVerdict {
                    proven: false,
                    sentence: format!(
                        "Probed (--probe-urls): the URL answers ({}); without an import time or size to compare \
                         with, whether it changed is unknown.",
                        if facts.is_empty() {
                            "no Last-Modified, ETag or Content-Length".to_string()
                        } else {
                            facts
                        }
                    ),
                    evidence,
                    title: None,
                }
            }
        }
    }
}

/// The probe shows upstream changed after the import (`newer`), or its size differs from the
/// image's (`sizes`: upstream's and the image's): a re-download fails, proven.
fn changed_upstream(
    imported: Option<&str>,
    last_modified: &Option<String>,
    sizes: Option<(Option<u64>, Option<u64>)>,
    newer: bool,
    facts: &str,
    mut evidence: Vec<String>,
) -> ProbeVerdict {
    let when = last_modified.clone().unwrap_or_else(|| "an unknown date".into());
    let mut sentence = format!(
        "Probed (--probe-urls): upstream changed on {when} after this image was imported{}: a re-download, \
         which Longhorn needs when every copy is lost, WILL fail ({facts}).",
        imported.map(|t| format!(" ({t})")).unwrap_or_default()
    );
    if let Some((Some(n), Some(s))) = sizes {
        sentence.push_str(&format!(" The upstream file has {n} bytes, the image {s} (status.size)."));
        evidence.push(format!("size-differs:{n}!={s}"));
    }
    if newer {
        evidence.push(format!("upstream-changed-after-import:{}", imported.unwrap_or("")));
    }
    ProbeVerdict {
        proven: true,
        sentence,
        evidence,
        title: Some(format!("upstream changed on {when} after import: a re-download WILL fail")),
    }
}

/// What the probe answered, as evidence.
fn probe_evidence(
    method: &str,
    final_url: &Option<String>,
    last_modified: &Option<String>,
    etag: &Option<String>,
    content_length: &Option<u64>,
) -> Vec<String> {
    let mut evidence = vec![format!("probe:{method}")];
    if let Some(f) = final_url {
        evidence.push(format!("redirected-to:{f}"));
    }
    if let Some(lm) = last_modified {
        evidence.push(format!("upstream-last-modified:{lm}"));
    }
    if let Some(e) = etag {
        evidence.push(format!("upstream-etag:{e}"));
    }
    if let Some(n) = content_length {
        evidence.push(format!("upstream-content-length:{n}"));
    }
    evidence
}

/// The probe's headers for a sentence: `Last-Modified …, ETag …, Content-Length …`.
fn probe_facts(last_modified: &Option<String>, etag: &Option<String>, content_length: &Option<u64>) -> String {
    [
        last_modified.as_ref().map(|l| format!("Last-Modified {l}")),
        etag.as_ref().map(|e| format!("ETag {e}")),
        content_length.map(|n| format!("Content-Length {n}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

/// The two Longhorn checksum-mismatch messages: longhorn-manager
/// `controller/backing_image_controller.go` ("Backing image recorded checksum %v doesn't match
/// the file checksum %v in disk %v"; older releases "Somehow backing image recorded ...") and
/// backing-image-manager `pkg/sync/sync_file.go` ("the expected checksum %v doesn't match the
/// the file actual checksum %v", sic).
pub fn is_checksum_mismatch(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    (m.contains("recorded checksum") && m.contains("doesn't match the file checksum"))
        || (m.contains("expected checksum") && m.contains("doesn't match the the file actual checksum"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert!(
            mutable_marker("https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img").is_some()
        );
        assert!(
            mutable_marker("https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2")
                .is_some()
        );
        assert!(
            mutable_marker(
                "https://cloud.debian.org/images/cloud/bookworm/daily/latest/debian-12-generic-amd64-daily.qcow2"
            )
            .is_some()
        );
        assert!(mutable_marker("https://cloud.centos.org/centos/9-stream/x86_64/images/CentOS-Stream-GenericCloud-9-latest.x86_64.qcow2").is_some());
        assert!(
            mutable_marker(
                "https://dl.rockylinux.org/pub/rocky/9/images/x86_64/Rocky-9-GenericCloud.latest.x86_64.qcow2"
            )
            .is_some()
        );
        assert!(mutable_marker("https://x.example/Current/f.img").is_some());
        // Host names and pinned paths are not markers.
        assert!(mutable_marker("https://latest-mirror.example.org/fedora/releases/40/Cloud/x.qcow2").is_none());
        assert!(
            mutable_marker(
                "https://cloud-images.ubuntu.com/releases/jammy/release-20240514/ubuntu-22.04-server-cloudimg-amd64.img"
            )
            .is_none()
        );
        assert!(mutable_marker("https://example.org/img/latest").is_some());
        assert!(mutable_marker("https://example.org/img/f.qcow2?tag=latest").is_none());
        assert!(mutable_marker("").is_none());
    }

    #[test]
    fn new_moving_targets_and_their_near_misses() {
        let ev = |u: &str| mutable_marker(u).map(|m| m.evidence);
        assert_eq!(
            ev("https://cloud-images.ubuntu.com/releases/jammy/release/ubuntu-22.04-server-cloudimg-amd64.img")
                .as_deref(),
            Some("moving-layout:ubuntu-release-alias")
        );
        assert_eq!(
            ev("https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img")
                .as_deref(),
            Some("moving-layout:ubuntu-release-alias")
        );
        assert!(
            ev(
                "https://cloud-images.ubuntu.com/releases/22.04/release-20240514/ubuntu-22.04-server-cloudimg-amd64.img"
            )
            .is_none()
        );
        // Another host with the same layout is not Ubuntu's alias.
        assert!(ev("https://mirror.example.org/releases/jammy/release/x.img").is_none());
        assert_eq!(
            ev("https://download.opensuse.org/repositories/Cloud:/Images:/Leap_15.6/images/openSUSE-Leap-15.6.x86_64-NoCloud.qcow2").as_deref(),
            Some("moving-layout:opensuse-unbuilt-nocloud")
        );
        assert!(ev("https://download.opensuse.org/repositories/Cloud:/Images:/Leap_15.6/images/openSUSE-Leap-15.6.x86_64-1.0.1-NoCloud-Build1.2.qcow2").is_none());
        assert_eq!(
            ev("https://download.opensuse.org/distribution/leap/15.5/appliances/openSUSE-Leap-15.5-JeOS.x86_64-OpenStack-Cloud.qcow2").as_deref(),
            Some("moving-layout:opensuse-unbuilt-jeos")
        );
        assert!(ev("https://download.opensuse.org/distribution/leap/15.5/appliances/openSUSE-Leap-15.5-JeOS.x86_64-15.5-OpenStack-Cloud-Build6.112.qcow2").is_none());
        assert_eq!(
            ev("https://dl-cdn.alpinelinux.org/alpine/latest-stable/releases/cloud/nocloud_alpine-3.20.3-x86_64-bios-cloudinit-r0.qcow2").as_deref(),
            Some("moving-segment:latest-stable")
        );
        assert!(ev("https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/cloud/nocloud_alpine-3.20.3-x86_64-bios-cloudinit-r0.qcow2").is_none());
        assert_eq!(
            ev("http://tinycorelinux.net/15.x/x86/release/TinyCore-current.iso").as_deref(),
            Some("moving-file-name:-current.")
        );
        assert!(ev("http://tinycorelinux.net/15.x/x86/release/TinyCore-15.0.iso").is_none());
        assert_eq!(
            ev("https://images.example.org/k3os/latest.qcow2").as_deref(),
            Some("moving-file-name:latest.")
        );
        assert!(ev("https://images.example.org/k3os/latestbuild-v1.qcow2").is_none());
        // Host names and query strings are never matched.
        assert!(
            ev("https://current.example.org/latest-stable.example/x-1.2.qcow2?v=latest-stable&f=TinyCore-current.iso")
                .is_none()
        );
        assert!(ev("https://latest-stable.example.org/images/x-1.2.qcow2").is_none());
    }

    #[test]
    fn checksum_messages() {
        assert!(is_checksum_mismatch(
            "Backing image recorded checksum 0a1b doesn't match the file checksum 2c3d in disk 6e5c"
        ));
        assert!(is_checksum_mismatch(
            "Somehow backing image recorded checksum 0a1b doesn't match the file checksum 2c3d in disk 6e5c"
        ));
        assert!(is_checksum_mismatch(
            "failed to process sync file: the expected checksum 0a1b doesn't match the the file actual checksum 2c3d"
        ));
        assert!(!is_checksum_mismatch("failed to download: connection refused"));
        assert!(!is_checksum_mismatch(
            "sync file expected size 10 doesn't match the existing file size 12"
        ));
    }

    #[test]
    fn hints() {
        assert_eq!(
            pinned_hint("https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img"),
            "https://cloud-images.ubuntu.com/releases/jammy/release-<YYYYMMDD>/jammy-server-cloudimg-amd64.img (a dated release directory)"
        );
        assert!(
            pinned_hint("https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2")
                .starts_with("https://cloud.debian.org/images/cloud/bookworm/<YYYYMMDD-NNNN>/debian-12-generic-amd64-<YYYYMMDD-NNNN>.qcow2")
        );
        assert!(
            pinned_hint("https://cloud-images.ubuntu.com/releases/22.04/release/ubuntu-22.04-server-cloudimg-amd64.img")
                .starts_with("https://cloud-images.ubuntu.com/releases/22.04/release-<YYYYMMDD>/ubuntu-22.04-server-cloudimg-amd64.img")
        );
        assert!(
            pinned_hint("https://download.opensuse.org/repositories/Cloud:/Images:/Leap_15.6/images/openSUSE-Leap-15.6.x86_64-NoCloud.qcow2")
                .starts_with("https://download.opensuse.org/repositories/Cloud:/Images:/Leap_15.6/images/openSUSE-Leap-15.6.x86_64-<version>-NoCloud-Build<N>.qcow2")
        );
        assert!(
            pinned_hint("https://download.opensuse.org/distribution/leap/15.5/appliances/openSUSE-Leap-15.5-JeOS.x86_64-OpenStack-Cloud.qcow2")
                .contains("-Build<N>.qcow2")
        );
        assert!(
            pinned_hint("https://dl-cdn.alpinelinux.org/alpine/latest-stable/releases/cloud/nocloud_alpine-3.20.3-x86_64-bios-cloudinit-r0.qcow2")
                .starts_with("https://dl-cdn.alpinelinux.org/alpine/v<major>.<minor>/releases/cloud/nocloud_alpine-3.20.3")
        );
        assert!(
            pinned_hint("http://tinycorelinux.net/15.x/x86/release/TinyCore-current.iso")
                .starts_with("http://tinycorelinux.net/15.x/x86/release/TinyCore-<version>.iso")
        );
        assert!(
            pinned_hint("https://images.example.org/k3os/latest.qcow2")
                .starts_with("https://images.example.org/k3os/<name>-<version>.qcow2")
        );
    }
}
