//! Harvester versions (`v1.6.1`, `v1.5.0-rc3`, `v1.4-head`) and the boundaries rules compare
//! them with.
//!
//! Tagged releases and pre-releases are totally ordered: `v1.4.2-rc1 < v1.4.2-rc2 < v1.4.2-rc10
//! < v1.4.2`, with rc numbers compared as numbers. Upstream lands a fix in a release line's rc
//! tags first, so a rule's boundary is the first tag that has the change (a [`Boundary`]) and a
//! rule asks [`Version::before`].
//!
//! Development builds are not tagged releases: a release-branch head (`v1.4-head`), a dated
//! snapshot (`v1.4.0-dev-20240705` in harvester/harvester, `1.6.0-dev.0` for add-on charts in
//! harvester/addons `version_info`) or a `git describe` version (`v1.4.1-12-gabc1234`). Their
//! code is somewhere in the development of their minor, so they are "unknown within that minor":
//! `before()` answers `None` for a boundary in the same minor, and compares by minor otherwise.
//! `master-head` and bare commit hashes do not parse at all (the version is unknown).

use std::cmp::Ordering;
use std::fmt;

/// A parsed Harvester (or add-on chart) version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    /// 0 for a branch head (`v1.4-head`).
    pub patch: u64,
    /// `-rc2`, `-beta1`: a pre-release of `major.minor.patch`.
    pub pre: Option<Pre>,
    /// Set for development builds (see [`Version::is_development`]).
    pub dev: Option<Dev>,
}

/// A pre-release suffix. Alpha < beta < rc, each by its number (`rc10 > rc2`); a suffix of
/// another shape sorts before them, by its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pre {
    Other(String),
    Alpha(u64),
    Beta(u64),
    Rc(u64),
}

/// What kind of development build a version names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dev {
    /// `v1.4-head`: an ISO built from the head of a release branch.
    Head,
    /// `-dev-20240705`, `-dev.0`, `-dev`: the suffix as written, without the leading `-`.
    Snapshot(String),
    /// `git describe`: `commits` commits after the tag, at commit `hash`. `snapshot` is the
    /// development suffix of that tag, if it was one (`v1.6.0-dev-20250626-5-gabc1234`).
    Describe {
        snapshot: Option<String>,
        commits: u64,
        hash: String,
    },
}

/// The first version with a change (a fix, or the start of a behaviour), for [`Version::before`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary {
    /// The first tag that has it, usually an rc: `v1.4.2-rc2`. Must not be a development build.
    pub first: Version,
    /// `(major, minor)` from which every development build has it. Upstream merges a fix into
    /// master and backports it; development builds of the minors between `first`'s and this one
    /// may predate the merge (harvester/harvester v1.5.0-dev-20250217 lacks #7504, which is in
    /// v1.4.2-rc2), so they answer `None`.
    pub dev_from: (u64, u64),
}

impl Boundary {
    /// `first`, with development builds of the next minor and later assumed to have it.
    pub const fn new(first: Version) -> Self {
        Boundary {
            dev_from: (first.major, first.minor.saturating_add(1)),
            first,
        }
    }

    /// Development builds have it only from minor `major.minor` on.
    pub const fn dev_from(mut self, major: u64, minor: u64) -> Self {
        self.dev_from = (major, minor);
        self
    }
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
            pre: None,
            dev: None,
        }
    }

    /// `v<major>.<minor>.<patch>-rc<n>`.
    pub const fn rc(major: u64, minor: u64, patch: u64, n: u64) -> Self {
        Version {
            major,
            minor,
            patch,
            pre: Some(Pre::Rc(n)),
            dev: None,
        }
    }

    /// Parse `v1.6.1`, `1.6.1`, `v1.5.0-rc3`, `v1.4` (patch 0), and the development builds
    /// `v1.4-head`, `v1.4.0-dev-20240705`, `1.6.0-dev.0`, `v1.4.1-12-gabc1234` (build metadata
    /// after `+` is ignored). `None` when it is not a version (`master-head`, a commit hash).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').or_else(|| s.strip_prefix('V')).unwrap_or(s);
        let s = s.split_once('+').map_or(s, |(v, _build)| v);
        let (core, suffix) = s.split_once('-').unwrap_or((s, ""));
        let mut parts = core.split('.');
        let major = number(parts.next()?)?;
        let minor = number(parts.next()?)?;
        let patch = match parts.next() {
            Some(p) => number(p)?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        let (suffix, describe) = split_describe(suffix);
        let (pre, dev) = match suffix {
            "" => (None, None),
            "head" => (None, Some(Dev::Head)),
            s if s == "dev" || s.starts_with("dev-") || s.starts_with("dev.") => {
                (None, Some(Dev::Snapshot(s.to_string())))
            }
            s => (Some(Pre::parse(s)), None),
        };
        let dev = match describe {
            Some((commits, hash)) => Some(Dev::Describe {
                snapshot: match dev {
                    Some(Dev::Snapshot(s)) => Some(s),
                    _ => None,
                },
                commits,
                hash: hash.to_string(),
            }),
            None => dev,
        };
        if matches!(dev, Some(Dev::Head)) && pre.is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
            dev,
        })
    }

    /// A development build: branch head, dated snapshot or `git describe` version. Its place
    /// within its minor is unknown; use [`Version::before`] to compare it with a boundary.
    pub fn is_development(&self) -> bool {
        self.dev.is_some()
    }

    /// Whether this version comes before `b`, i.e. lacks the change `b` marks.
    ///
    /// Releases and pre-releases: `Some(self < b.first)`. Development builds: `Some(true)` for
    /// an older minor than `b.first`'s, `Some(false)` from `b.dev_from` on, and `None` (cannot
    /// tell) in between, which includes `b.first`'s own minor: `v1.4-head` and
    /// `v1.4.0-dev-20240705` against `v1.4.2-rc2`. A `git describe` version of a tag at or
    /// after `b.first` has everything that tag has: `Some(false)`.
    pub fn before(&self, b: &Boundary) -> Option<bool> {
        let tagged_base = match &self.dev {
            None => return Some(self < &b.first),
            Some(Dev::Describe { snapshot: None, .. }) => Some(Version {
                dev: None,
                ..self.clone()
            }),
            Some(_) => None,
        };
        if tagged_base.is_some_and(|base| base >= b.first) {
            return Some(false);
        }
        let line = (self.major, self.minor);
        if line < (b.first.major, b.first.minor) {
            Some(true)
        } else if line >= b.dev_from {
            Some(false)
        } else {
            None
        }
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }

    /// 0: development snapshot or head, 1: pre-release, 2: release (each with what `git
    /// describe` says came after it).
    fn stage(&self) -> u8 {
        match (&self.pre, &self.dev) {
            (Some(_), _) => 1,
            (None, Some(Dev::Head | Dev::Snapshot(_))) | (None, Some(Dev::Describe { snapshot: Some(_), .. })) => 0,
            (None, _) => 2,
        }
    }
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Split a `git describe` tail (`<rest>-<n>-g<hex>`, or `<n>-g<hex>` alone) off a suffix.
fn split_describe(suffix: &str) -> (&str, Option<(u64, &str)>) {
    let mut parts = suffix.rsplitn(3, '-');
    let (Some(hash), Some(commits)) = (parts.next(), parts.next()) else {
        return (suffix, None);
    };
    let rest = parts.next().unwrap_or("");
    match (hash.strip_prefix('g'), number(commits)) {
        (Some(hex), Some(n)) if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => (rest, Some((n, hex))),
        _ => (suffix, None),
    }
}

impl Pre {
    fn parse(s: &str) -> Pre {
        let split = s.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(s.len());
        let (label, rest) = s.split_at(split);
        let rest = rest.strip_prefix('.').unwrap_or(rest);
        match (label.to_ascii_lowercase().as_str(), number(rest)) {
            ("rc", Some(n)) => Pre::Rc(n),
            ("beta", Some(n)) => Pre::Beta(n),
            ("alpha", Some(n)) => Pre::Alpha(n),
            _ => Pre::Other(s.to_string()),
        }
    }
}

/// A total order, for sorting. For releases and pre-releases it is the release order; a
/// development build sorts before its `major.minor.patch`'s pre-releases (a `git describe`
/// version after the tag it names), which says nothing about the code it contains: rules use
/// [`Version::before`].
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.triple()
            .cmp(&other.triple())
            .then_with(|| self.stage().cmp(&other.stage()))
            .then_with(|| self.pre.cmp(&other.pre))
            .then_with(|| self.dev.cmp(&other.dev))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Pre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pre::Other(s) => write!(f, "{s}"),
            Pre::Alpha(n) => write!(f, "alpha{n}"),
            Pre::Beta(n) => write!(f, "beta{n}"),
            Pre::Rc(n) => write!(f, "rc{n}"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)?;
        if self.patch != 0 || self.dev != Some(Dev::Head) {
            write!(f, ".{}", self.patch)?;
        }
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        match &self.dev {
            None => {}
            Some(Dev::Head) => write!(f, "-head")?,
            Some(Dev::Snapshot(s)) => write!(f, "-{s}")?,
            Some(Dev::Describe {
                snapshot,
                commits,
                hash,
            }) => {
                if let Some(s) = snapshot {
                    write!(f, "-{s}")?;
                }
                write!(f, "-{commits}-g{hash}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} does not parse"))
    }

    /// harvester/harvester PR #7504: first in v1.4.2-rc2; v1.5.0-dev-* builds lack it.
    const UID_KEY: Boundary = Boundary::new(Version::rc(1, 4, 2, 2)).dev_from(1, 6);
    /// harvester/harvester PR #9392 (backport #10187): first in v1.8.0-rc2.
    const LH_UID: Boundary = Boundary::new(Version::rc(1, 8, 0, 2));

    #[test]
    fn parses_and_orders() {
        assert_eq!(v("v1.6.1"), Version::new(1, 6, 1));
        assert_eq!(v("1.4.2"), Version::new(1, 4, 2));
        assert_eq!(v("V1.4"), Version::new(1, 4, 0));
        assert!(v("v1.8.0-rc2") < v("v1.8.0"));
        assert!(v("v1.7.3") < v("v1.8.0-rc1"));
        assert!(v("v1.4.1") < v("v1.4.2"));
        assert_eq!(Version::parse("master-head"), None);
        assert_eq!(Version::parse(""), None);
        assert_eq!(Version::parse("v1.2.3.4"), None);
        assert_eq!(Version::parse("v1.x.3"), None);
        assert_eq!(Version::parse("v1.+4.3"), None);
    }

    #[test]
    fn pre_releases_order_numerically() {
        assert_eq!(v("v1.4.2-rc10").pre, Some(Pre::Rc(10)));
        assert!(v("v1.4.2-rc10") > v("v1.4.2-rc2"));
        assert!(v("v1.4.2-rc2") > v("v1.4.2-rc1"));
        assert!(v("v1.4.2-rc10") < v("v1.4.2"));
        assert!(v("v1.4.2-rc1") > v("v1.4.1"));
        assert!(v("v1.4.2-beta3") < v("v1.4.2-rc1"));
        assert!(v("v1.4.2-alpha.2") < v("v1.4.2-beta.1"));
        assert_eq!(v("v1.4.2-alpha.2").pre, Some(Pre::Alpha(2)));
        assert_eq!(v("v1.4.2-preview").pre, Some(Pre::Other("preview".into())));
        assert!(!v("v1.4.2-rc1").is_development());
        assert_eq!(v("v1.4.2-rc10").to_string(), "v1.4.2-rc10");
    }

    #[test]
    fn parses_development_builds() {
        let head = v("v1.4-head");
        assert!(head.is_development());
        assert_eq!((head.major, head.minor, head.pre.clone()), (1, 4, None));
        assert_eq!(head.dev, Some(Dev::Head));
        assert_eq!(head.to_string(), "v1.4-head");

        let snap = v("v1.4.0-dev-20240705");
        assert_eq!(snap.dev, Some(Dev::Snapshot("dev-20240705".into())));
        assert_eq!(snap.pre, None);
        assert_eq!(snap.to_string(), "v1.4.0-dev-20240705");
        assert!(v("1.6.0-dev.0").is_development());
        assert!(snap < v("v1.4.0-rc1"), "a snapshot sorts before its rcs");

        let desc = v("v1.4.1-12-gabc1234");
        assert_eq!(
            desc.dev,
            Some(Dev::Describe {
                snapshot: None,
                commits: 12,
                hash: "abc1234".into()
            })
        );
        assert_eq!(desc.pre, None);
        assert_eq!(desc.to_string(), "v1.4.1-12-gabc1234");
        assert!(desc > v("v1.4.1") && desc < v("v1.4.2-rc1"));

        let desc_rc = v("v1.4.2-rc1-3-g0123abcd");
        assert_eq!(desc_rc.pre, Some(Pre::Rc(1)));
        assert!(desc_rc.is_development());
        let desc_snap = v("v1.6.0-dev-20250626-5-gdeadbeef");
        assert_eq!(
            desc_snap.dev,
            Some(Dev::Describe {
                snapshot: Some("dev-20250626".into()),
                commits: 5,
                hash: "deadbeef".into()
            })
        );
        assert_eq!(desc_snap.to_string(), "v1.6.0-dev-20250626-5-gdeadbeef");

        // Not a describe tail: `g` followed by non-hex, or no commit count.
        assert!(!v("v1.4.2-rc1-gx").is_development());
        assert_eq!(Version::parse("abc1234"), None);
        assert_eq!(Version::parse("3d63c2af15db747e4a803b18b7832049b88cb00e"), None);
        assert_eq!(Version::parse("v1.4-head+1"), Some(head));
    }

    #[test]
    fn before_releases_and_rcs() {
        assert_eq!(v("v1.4.1").before(&UID_KEY), Some(true));
        assert_eq!(v("v1.4.2-rc1").before(&UID_KEY), Some(true), "rc1 is affected");
        assert_eq!(v("v1.4.2-rc2").before(&UID_KEY), Some(false));
        assert_eq!(v("v1.4.2-rc10").before(&UID_KEY), Some(false), "rc10 > rc2");
        assert_eq!(v("v1.4.2").before(&UID_KEY), Some(false));
        assert_eq!(v("v1.5.0-rc1").before(&UID_KEY), Some(false));
        assert_eq!(v("v1.8.0-rc1").before(&LH_UID), Some(true));
        assert_eq!(v("v1.8.0-rc2").before(&LH_UID), Some(false));
        assert_eq!(v("v1.7.3").before(&LH_UID), Some(true));
    }

    #[test]
    fn before_development_builds() {
        // Within the boundary's minor: cannot tell.
        assert_eq!(v("v1.4-head").before(&UID_KEY), None);
        assert_eq!(v("v1.4.0-dev-20240705").before(&UID_KEY), None);
        assert_eq!(v("v1.8-head").before(&LH_UID), None);
        assert_eq!(v("v1.8.1-dev-20260510").before(&LH_UID), None);
        // Other minors compare.
        assert_eq!(v("v1.3-head").before(&UID_KEY), Some(true));
        assert_eq!(v("v1.3.3-dev-20250119").before(&UID_KEY), Some(true));
        assert_eq!(v("v1.9-head").before(&LH_UID), Some(false));
        assert_eq!(v("v1.9.0-dev-20260510").before(&LH_UID), Some(false));
        assert_eq!(v("v1.7-head").before(&LH_UID), Some(true));
        // Until `dev_from`: v1.5.0-dev-20250217 predates #7504's merge.
        assert_eq!(v("v1.5.0-dev-20250217").before(&UID_KEY), None);
        assert_eq!(v("v1.6-head").before(&UID_KEY), Some(false));
        // git describe: after a tag at or past the boundary, it has it.
        assert_eq!(v("v1.4.2-3-gabc1234").before(&UID_KEY), Some(false));
        assert_eq!(v("v1.4.2-rc2-3-gabc1234").before(&UID_KEY), Some(false));
        assert_eq!(v("v1.4.1-12-gabc1234").before(&UID_KEY), None);
        assert_eq!(v("v1.4.2-rc1-3-gabc1234").before(&UID_KEY), None);
        assert_eq!(v("v1.3.2-4-gabc1234").before(&UID_KEY), Some(true));
        assert_eq!(v("v1.6.0-dev-20250626-5-gdeadbeef").before(&UID_KEY), Some(false));
        assert_eq!(v("v1.4.0-dev-20240705-5-gdeadbeef").before(&UID_KEY), None);
    }

    #[test]
    fn default_dev_from_is_the_next_minor() {
        assert_eq!(LH_UID.dev_from, (1, 9));
        assert_eq!(Boundary::new(Version::new(1, 2, 0)).dev_from, (1, 3));
    }
}
