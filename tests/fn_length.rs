//! No function in `src/` is longer than 80 lines (from `fn` to its closing brace), so the rule
//! "split long functions into well-named ones" holds. `scripts/long-fns.py` lists the longest
//! with the same count.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 80;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments, string, raw-string and char literals blanked (newlines kept), so
/// braces in them do not count. Lifetimes (`'a`) are left alone.
fn code_only(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let blank = |out: &mut Vec<u8>, s: &[u8]| out.extend(s.iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }));
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (1, 2);
            while j < rest.len() && depth > 0 {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if let Some(open) = raw_string_open(rest).filter(|_| !word_before) {
            let hashes = open - rest[..open].iter().position(|&c| c == b'"').unwrap_or(0) - 1;
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let end = rest[open..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(rest.len(), |p| open + p + close.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if let Some(len) = char_literal(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

/// `r"`, `r#"`, `br##"` …: the length of the opening.
fn raw_string_open(rest: &[u8]) -> Option<usize> {
    let mut j = usize::from(rest.first() == Some(&b'b'));
    if rest.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    while rest.get(j) == Some(&b'#') {
        j += 1;
    }
    (rest.get(j) == Some(&b'"')).then_some(j + 1)
}

/// `'x'`, `'\n'`, `'\u{1F600}'`: its length; `None` for a lifetime.
fn char_literal(rest: &[u8]) -> Option<usize> {
    if rest.first() != Some(&b'\'') {
        return None;
    }
    if rest.get(1) == Some(&b'\\') {
        let close = rest.iter().skip(2).take(10).position(|&c| c == b'\'')?;
        return Some(close + 3);
    }
    // One (possibly multi-byte) character then a quote.
    let n = match *rest.get(1)? {
        c if c < 0x80 => 1,
        c if c >= 0xF0 => 4,
        c if c >= 0xE0 => 3,
        _ => 2,
    };
    (rest.get(1 + n) == Some(&b'\'')).then_some(n + 2)
}

/// (name, first line, lines) of every `fn` with a body.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let code = code_only(text);
    let line_of = |pos: usize| code[..pos].iter().filter(|&&c| c == b'\n').count() + 1;
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(p) = code[i..].windows(3).position(|w| w == b"fn ") {
        let at = i + p;
        i = at + 3;
        if at > 0 && (code[at - 1].is_ascii_alphanumeric() || code[at - 1] == b'_') {
            continue;
        }
        let name: String = code[i..]
            .iter()
            .skip_while(|c| c.is_ascii_whitespace())
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .map(|&c| char::from(c))
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body's `{`, unless a `;` (a declaration) comes first outside brackets.
        let mut depth = 0i32;
        let mut j = i;
        let mut body = None;
        while j < code.len() {
            match code[j] {
                b'(' | b'<' | b'[' => depth += 1,
                b'>' if code[j - 1] == b'-' => {}
                b')' | b'>' | b']' => depth -= 1,
                b';' if depth <= 0 => break,
                b'{' if depth <= 0 => {
                    body = Some(j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let Some(open) = body else { continue };
        let mut braces = 0i32;
        let mut close = code.len() - 1;
        for (k, &c) in code.iter().enumerate().skip(open) {
            if c == b'{' {
                braces += 1;
            } else if c == b'}' {
                braces -= 1;
                if braces == 0 {
                    close = k;
                    break;
                }
            }
        }
        let (start, end) = (line_of(at), line_of(close));
        found.push((name, start, end - start + 1));
    }
    found
}

#[test]
fn counts_a_known_function() {
    let text = "fn a() {\n    let s = \"}\";\n    let c = '}';\n    // }\n    let r = r#\"}\"#;\n}\n\
                trait T { fn decl(&self) -> Vec<u8>; }\nfn b<'a>(x: &'a str) -> &'a str {\n    x\n}\n";
    let f = functions(text);
    assert_eq!(f, vec![("a".to_string(), 1, 6), ("b".to_string(), 8, 3)]);
}

#[test]
fn the_bound_admits_80_lines_and_refuses_81() {
    let of_length = |n: usize| format!("fn f() {{\n{}}}\n", "    let _ = 1;\n".repeat(n - 2));
    assert_eq!(functions(&of_length(MAX_LINES)), vec![("f".to_string(), 1, 80)]);
    let over = functions(&of_length(MAX_LINES + 1));
    assert_eq!(over.len(), 1);
    assert!(over[0].2 > MAX_LINES, "{over:?}");
}

#[test]
fn no_function_in_src_is_over_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    let mut seen = 0;
    let mut long = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for (name, line, lines) in functions(&text) {
            seen += 1;
            if lines > MAX_LINES {
                let rel = path.strip_prefix(&src).unwrap_or(path);
                long.push(format!("{lines} lines: src/{}:{line} {name}", rel.display()));
            }
        }
    }
    assert!(
        seen > 500,
        "the count found only {seen} functions in src/: the scanner is broken"
    );
    assert!(
        long.is_empty(),
        "functions over {MAX_LINES} lines (split them into well-named functions; `scripts/long-fns.py` lists \
         the longest):\n{}",
        long.join("\n")
    );
}
