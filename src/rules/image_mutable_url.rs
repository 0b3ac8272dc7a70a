//! `image-mutable-url`: images downloaded from a URL whose content moves (`current`,
//! `latest`, `daily`, ...). When every replica of the Longhorn BackingImage is lost,
//! Longhorn downloads the URL again; the new file's checksum no longer matches the recorded
//! one, so the copy is marked failed and the image cannot be recovered (research §2).

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::Kind;
use crate::inventory::KindInfo;
use crate::inventory::kinds::{BackingImage, VirtualMachineImage};

pub struct ImageMutableUrl;

const ID: &str = "image-mutable-url";
const LONGHORN_NS: &str = "longhorn-system";

/// How a URL path shows it points at a moving target. One table: add a row to extend.
pub enum Pattern {
    /// A whole path segment, compared case-insensitively (`/jammy/current/`).
    Segment(&'static str),
    /// Text inside the file name (last segment), compared case-insensitively.
    FileNameContains(&'static str),
}

pub const PATTERNS: &[Pattern] = &[
    Pattern::Segment("current"),
    Pattern::Segment("latest"),
    Pattern::Segment("daily"),
    Pattern::Segment("rawhide"),
    Pattern::Segment("development"),
    Pattern::FileNameContains("-latest."),
    Pattern::FileNameContains(".latest."),
    Pattern::FileNameContains("_latest."),
];

/// Which pattern matches `url`'s path (never its host or query), if any.
pub fn mutable_marker(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let file = segments.last().copied().unwrap_or("");
    for p in PATTERNS {
        match p {
            Pattern::Segment(word) => {
                if let Some(s) = segments.iter().find(|s| s.eq_ignore_ascii_case(word)) {
                    return Some(format!("path segment `{s}`"));
                }
            }
            Pattern::FileNameContains(text) => {
                if file.to_ascii_lowercase().contains(text) {
                    return Some(format!("file name `{file}` (contains `{text}`)"));
                }
            }
        }
    }
    None
}

/// A configured extra path segment (`extraPatterns`) in `url`'s path.
fn extra_marker(url: &str, extra: &[String]) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.split('/')
        .find(|seg| extra.iter().any(|e| seg.eq_ignore_ascii_case(e)))
        .map(|seg| format!("path segment `{seg}` (configured pattern)"))
}

/// The pinned form of a URL, for the distributions in research §2.3.
pub fn pinned_hint(url: &str) -> String {
    let u = url.to_ascii_lowercase();
    if u.contains("cloud-images.ubuntu.com") {
        // .../<codename>/current/<file> -> .../releases/<codename>/release-<YYYYMMDD>/<file>
        let parts: Vec<&str> = url.split('/').collect();
        if let Some(i) = parts.iter().position(|p| *p == "current")
            && i >= 1
            && let Some(file) = parts.last()
        {
            return format!(
                "https://cloud-images.ubuntu.com/releases/{}/release-<YYYYMMDD>/{file} (a dated release directory)",
                parts[i - 1]
            );
        }
        return "https://cloud-images.ubuntu.com/releases/<codename>/release-<YYYYMMDD>/<file> (a dated release directory)".into();
    }
    if u.contains("cloud.debian.org") {
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
        return "https://cloud.debian.org/images/cloud/<codename>/<YYYYMMDD-NNNN>/<file>-<YYYYMMDD-NNNN>.qcow2".into();
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
        "Images downloaded from a moving URL (current/latest/daily) cannot be re-downloaded by Longhorn"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[info::<VirtualMachineImage>(), info::<BackingImage>()];
        NEEDS
    }

    fn options(&self) -> &'static [&'static str] {
        &["extraPatterns"]
    }

    fn explain(&self) -> Explanation {
        Explanation {
            why: "Longhorn keeps a BackingImage's checksum once the first copy is made. When every copy is lost (a \
                  disk removed without eviction, longhorn/longhorn#10644), Longhorn downloads the image URL again. If \
                  the URL points at a moving target (a `current`, `latest` or `daily` directory, a `-latest.` file \
                  name), the new file differs, its checksum does not match, the copy is marked failed, and the image \
                  and every VM created from it cannot be recovered. The Harvester docs warn against daily-build URLs; \
                  no code guards against them. Escalated to error when a copy has already failed.",
            affected: "every Harvester version (no code guard as of v1.8)",
            upstream: &[
                "harvester/harvester#7959",
                "harvester/docs#738",
                "harvester/harvester#6572",
            ],
            remediation: "Create the image from a pinned URL (a dated release directory or a versioned file name) with \
                          spec.checksum set to the file's SHA-512, move the VMs to it, and delete the old image.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let bis_known = inv.covers::<BackingImage>(Some(LONGHORN_NS));
        let extra: &[String] = ctx.rule_config(ID).map_or(&[], |c| c.extra_patterns.as_slice());
        for img in inv.objects::<VirtualMachineImage>() {
            if !inv.in_scope(img.metadata.namespace.as_deref())
                || !img.spec.source_type.eq_ignore_ascii_case("download")
                || img.is_imported()
            {
                continue;
            }
            let url = img.spec.url.as_str();
            let Some(marker) = mutable_marker(url).or_else(|| extra_marker(url, extra)) else {
                continue;
            };
            let id = img.image_id();
            let bi = inv
                .objects::<BackingImage>()
                .iter()
                .find(|b| b.image_id() == Some(id.as_str()) && b.metadata.namespace.as_deref() == Some(LONGHORN_NS));

            let mut msg = format!(
                "VirtualMachineImage {id} downloads {url}, whose {marker} points at a moving target. If every replica \
                 of its Longhorn BackingImage is lost, Longhorn downloads the URL again, the new file's checksum no \
                 longer matches the recorded one, and the copy is marked failed: the image cannot be recovered."
            );
            if img.spec.checksum.is_empty() {
                msg.push_str(" spec.checksum is not set, so nothing pins the content.");
            }
            let mut severity = Severity::Warning;
            let mut related = Vec::new();
            match bi {
                Some(bi) => {
                    related.push(bi.object_ref());
                    let broken: Vec<String> = bi
                        .status
                        .disk_file_status_map
                        .iter()
                        .filter(|(_, d)| {
                            matches!(d.state.as_str(), "failed" | "failed-and-cleanup")
                                || d.message.contains("doesn't match the file checksum")
                        })
                        .map(|(disk, d)| {
                            if d.message.is_empty() {
                                format!("disk {disk}: {}", d.state)
                            } else {
                                format!("disk {disk}: {} ({})", d.state, shorten_hex(&d.message))
                            }
                        })
                        .collect();
                    if !broken.is_empty() {
                        severity = Severity::Error;
                        msg.push_str(&format!(
                            " This is happening now: BackingImage {} has failed copies: {}.",
                            bi.metadata.name,
                            broken.join("; ")
                        ));
                    }
                }
                None if !bis_known => out.notes.push(format!(
                    "{id}: BackingImages were not read, so failed copies cannot be seen"
                )),
                None => {}
            }
            let remediation = format!(
                "Create a new image from a pinned URL, e.g. {}, with spec.checksum set to the file's SHA-512; \
                 move the VMs to it and delete this image. Until then keep the BackingImage's copies healthy \
                 (evict disks before removing them).",
                pinned_hint(url)
            );
            let mut f = Finding::about(self, severity, img, msg, remediation);
            f.related = related;
            out.findings.push(f);
        }
        out
    }
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
    fn hints() {
        assert_eq!(
            pinned_hint("https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img"),
            "https://cloud-images.ubuntu.com/releases/jammy/release-<YYYYMMDD>/jammy-server-cloudimg-amd64.img (a dated release directory)"
        );
        assert!(
            pinned_hint("https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2")
                .starts_with("https://cloud.debian.org/images/cloud/bookworm/<YYYYMMDD-NNNN>/debian-12-generic-amd64-<YYYYMMDD-NNNN>.qcow2")
        );
    }
}
