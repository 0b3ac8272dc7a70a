//! Harvester versions (`v1.6.1`, `v1.5.0-rc3`) and the ranges rules compare them with.

use std::cmp::Ordering;
use std::fmt;

/// A parsed Harvester version. Pre-releases sort before their release
/// (`v1.8.0-rc2 < v1.8.0`), as the fixes land in rc tags first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: Option<String>,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
            pre: None,
        }
    }

    /// Parse `v1.6.1`, `1.6.1`, `v1.5.0-rc3`, `v1.4-head` (patch 0). `None` when it is not
    /// a version (e.g. `master-head`).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').or_else(|| s.strip_prefix('V')).unwrap_or(s);
        let (core, pre) = match s.split_once(['-', '+']) {
            Some((c, p)) => (c, Some(p.to_string()).filter(|p| !p.is_empty())),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    fn triple(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.triple()
            .cmp(&other.triple())
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(v("v1.6.1"), Version::new(1, 6, 1));
        assert_eq!(v("1.4.2"), Version::new(1, 4, 2));
        assert!(v("v1.8.0-rc2") < v("v1.8.0"));
        assert!(v("v1.7.3") < v("v1.8.0-rc1"));
        assert!(v("v1.4.1") < v("v1.4.2"));
        assert_eq!(v("v1.4-head").to_string(), "v1.4.0-head");
        assert_eq!(Version::parse("master-head"), None);
        assert_eq!(Version::parse(""), None);
        assert_eq!(Version::parse("v1.2.3.4"), None);
    }
}
