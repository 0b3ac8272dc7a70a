//! Kubernetes resource quantities (`500m`, `4Gi`, `20`), enough to add and subtract
//! ResourceLists without losing precision: values are held in milli-units (i128), and every
//! operation is checked (`None` instead of an overflow).

const BINARY: &[(&str, i128)] = &[
    ("Ki", 1 << 10),
    ("Mi", 1 << 20),
    ("Gi", 1 << 30),
    ("Ti", 1 << 40),
    ("Pi", 1 << 50),
    ("Ei", 1 << 60),
];
const DECIMAL: &[(&str, i128)] = &[
    ("k", 1_000),
    ("M", 1_000_000),
    ("G", 1_000_000_000),
    ("T", 1_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("E", 1_000_000_000_000_000_000),
];

/// Parse a quantity into milli-units. `None` for forms this does not handle (exponents,
/// below a milli-unit) and for values too large to hold.
pub fn parse_milli(q: &str) -> Option<i128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let mult: i128 = match suffix {
        "" => 1000,
        "m" => 1,
        s => BINARY
            .iter()
            .chain(DECIMAL)
            .find(|(n, _)| *n == s)
            .and_then(|(_, m)| m.checked_mul(1000))?,
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let neg = int.starts_with('-');
    let digits = int.trim_start_matches(['+', '-']);
    if int.len() > digits.len() + 1 {
        return None; // "--1", "+-1"
    }
    let int: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_val: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    let scale = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    let frac_milli = frac_val.checked_mul(mult)?;
    if frac_milli % scale != 0 {
        return None; // below a milli-unit
    }
    let v = int.checked_mul(mult)?.checked_add(frac_milli / scale)?;
    Some(if neg { -v } else { v })
}

/// Format milli-units, preferring the suffix style of `like` (binary, decimal or plain).
pub fn format_milli(v: i128, like: &str) -> String {
    if v % 1000 != 0 {
        return format!("{v}m");
    }
    let units = v / 1000;
    let binary = BINARY.iter().any(|(s, _)| like.ends_with(s));
    let decimal = !binary && DECIMAL.iter().any(|(s, _)| like.ends_with(s));
    let table = if binary {
        BINARY
    } else if decimal {
        DECIMAL
    } else {
        &[]
    };
    for (s, m) in table.iter().rev() {
        if units != 0 && units % m == 0 {
            return format!("{}{s}", units / m);
        }
    }
    units.to_string()
}

/// `hard - sub`; `None` when a value cannot be parsed or the result would be negative.
pub fn subtract(hard: &str, sub: &str) -> Option<String> {
    let r = parse_milli(hard)?.checked_sub(parse_milli(sub)?)?;
    (r >= 0).then(|| format_milli(r, hard))
}

/// A quantity that is not zero, as Kubernetes' `Quantity.IsZero` sees it. A form this module
/// cannot parse (`1e3`) counts as non-zero unless its digits are all zeros.
pub fn is_nonzero(q: &str) -> bool {
    match parse_milli(q) {
        Some(v) => v != 0,
        None => {
            let q = q.trim();
            !q.is_empty()
                && !q
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .all(|c| c == '0' || c == '.')
        }
    }
}

/// `1.5 GiB`-style sizes for people (binary units, one decimal).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_milli("500m"), Some(500));
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("1.5"), Some(1500));
        assert_eq!(parse_milli("4Gi"), Some(4 * (1 << 30) * 1000));
        assert_eq!(parse_milli("1e3"), None);
        assert_eq!(subtract("20", "2").as_deref(), Some("18"));
        assert_eq!(subtract("20", "500m").as_deref(), Some("19500m"));
        assert_eq!(subtract("64Gi", "4Gi").as_deref(), Some("60Gi"));
        assert_eq!(subtract("64Gi", "512Mi").as_deref(), Some("65024Mi"));
        assert_eq!(subtract("10G", "2G").as_deref(), Some("8G"));
        assert_eq!(subtract("1", "2"), None);
    }

    #[test]
    fn huge_and_odd_values_do_not_overflow() {
        assert_eq!(parse_milli("999999999999999999999999999999999999Ei"), None);
        assert_eq!(parse_milli(&"9".repeat(60)), None);
        assert_eq!(parse_milli("1.5x"), None);
        assert_eq!(parse_milli("--1"), None);
        assert_eq!(parse_milli("-1"), Some(-1000));
        assert_eq!(subtract("170141183460469231731687303715884105", "-1Ei"), None);
    }

    #[test]
    fn zero_and_nonzero() {
        for z in ["0", "0m", "0Gi", "0.0", "", "  "] {
            assert!(!is_nonzero(z), "{z:?}");
        }
        for n in ["20", "500m", "1Gi", "1e3"] {
            assert!(is_nonzero(n), "{n:?}");
        }
        assert!(!is_nonzero("0e3"));
    }
}
