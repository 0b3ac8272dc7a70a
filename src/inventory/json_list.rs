//! A big JSON `List` read as a stream without a JSON parser over the stream: the top level is
//! walked by a small structural scanner (strings, escapes and nesting), and each item's text is
//! cut out of a buffer and handed on whole, so the items can be decoded in parallel with the fast
//! in-memory parser. serde_json reading a stream goes byte by byte through `io::Read`, which made
//! the reading, not the decoding, most of an offline scan (issue 16).
//!
//! Anything the scanner does not expect (not an object, an `items` that is not a list, a
//! duplicated `items`, text after the end, an item or top-level value that is not valid JSON)
//! is `Err(Unreadable)`: the caller then reads the file whole, which reports what is wrong.

use std::io::{self, Read};

use serde_json::value::RawValue;

/// The file is not a JSON document of the expected shape, or could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable;

/// How much is read at a time.
const READ_BYTES: usize = 1 << 20;

/// What a value's text looks like from its first bytes.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// The value is the first `n` bytes.
    Complete(usize),
    /// More bytes are needed to see its end.
    Incomplete,
}

/// The length of the JSON value at the start of `b` (no leading whitespace), by structure only:
/// strings with their escapes, and nesting of `{}`/`[]`. `at_eof`: no more bytes will come (a
/// scalar then ends with the buffer). Validity is checked later, by the parser.
fn scan_value(b: &[u8], at_eof: bool) -> Scan {
    let Some(&first) = b.first() else {
        return Scan::Incomplete;
    };
    match first {
        b'"' => match string_end(b, 1) {
            Some(end) => Scan::Complete(end),
            None => Scan::Incomplete,
        },
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = 0usize;
            while let Some(&c) = b.get(i) {
                match c {
                    b'"' => match string_end(b, i.saturating_add(1)) {
                        Some(end) => {
                            i = end;
                            continue;
                        }
                        None => return Scan::Incomplete,
                    },
                    b'{' | b'[' => depth = depth.saturating_add(1),
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Scan::Complete(i.saturating_add(1));
                        }
                    }
                    _ => {}
                }
                i = i.saturating_add(1);
            }
            Scan::Incomplete
        }
        _ => match b
            .iter()
            .position(|c| matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace())
        {
            Some(end) => Scan::Complete(end),
            None if at_eof => Scan::Complete(b.len()),
            None => Scan::Incomplete,
        },
    }
}

/// The index just past the closing quote of a string whose text starts at `from`.
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        let rest = b.get(i..)?;
        let at = rest.iter().position(|&c| c == b'"' || c == b'\\')?;
        let j = i.checked_add(at)?;
        if b.get(j) == Some(&b'"') {
            return j.checked_add(1);
        }
        // A backslash and the character it escapes (a `\uXXXX`'s hex digits need no care).
        i = j.checked_add(2)?;
    }
}

/// A buffered reader with a cursor, refilled a megabyte at a time.
struct Cursor<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    read: u64,
}

impl<R: Read> Cursor<R> {
    /// Read more, keeping what is from `pos` on.
    fn refill(&mut self) -> Result<(), Unreadable> {
        if self.eof {
            return Err(Unreadable);
        }
        self.buf.drain(..self.pos.min(self.buf.len()));
        self.pos = 0;
        let start = self.buf.len();
        // At least a megabyte, and as much as is held (a value longer than the buffer is
        // rescanned from its start after each read: doubling keeps that linear).
        self.buf.resize(start.saturating_add(READ_BYTES.max(start)), 0);
        let n = loop {
            match self.r.read(self.buf.get_mut(start..).ok_or(Unreadable)?) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(Unreadable),
            }
        };
        self.buf.truncate(start.saturating_add(n));
        self.read = self.read.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next byte that is not whitespace (not consumed); `None` at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>, Unreadable> {
        loop {
            while let Some(&c) = self.buf.get(self.pos) {
                if !c.is_ascii_whitespace() {
                    return Ok(Some(c));
                }
                self.pos = self.pos.saturating_add(1);
            }
            if self.eof {
                return Ok(None);
            }
            self.refill()?;
        }
    }

    /// Consume `c` as the next non-whitespace byte.
    fn expect(&mut self, c: u8) -> Result<(), Unreadable> {
        if self.closes(c)? { Ok(()) } else { Err(Unreadable) }
    }

    /// Consume `close` if it is the next non-whitespace byte.
    fn closes(&mut self, close: u8) -> Result<bool, Unreadable> {
        let closed = self.peek()? == Some(close);
        if closed {
            self.pos = self.pos.saturating_add(1);
        }
        Ok(closed)
    }

    /// After a member of an object or list: `true` at its `close`, `false` after a comma (both
    /// consumed), anything else is unreadable.
    fn after_member(&mut self, close: u8) -> Result<bool, Unreadable> {
        if self.closes(close)? {
            return Ok(true);
        }
        self.expect(b',')?;
        Ok(false)
    }

    /// The next value's text (consumed).
    fn value(&mut self) -> Result<&[u8], Unreadable> {
        self.peek()?.ok_or(Unreadable)?;
        loop {
            let rest = self.buf.get(self.pos..).ok_or(Unreadable)?;
            if let Scan::Complete(n) = scan_value(rest, self.eof) {
                let start = self.pos;
                self.pos = start.saturating_add(n);
                return self.buf.get(start..self.pos).ok_or(Unreadable);
            }
            self.refill()?;
        }
    }
}

/// Read a JSON document from `r`: when it is an object with an `items` list, hand the items to
/// `chunk` (index of the first, the items) `chunk_items` at a time as they are read. Returns the
/// document's `kind`, whether it had `items`, and the bytes read.
pub fn stream<R: Read>(
    r: R,
    chunk_items: usize,
    chunk: &mut dyn FnMut(usize, &[Box<RawValue>]),
) -> Result<(Option<String>, bool, u64), Unreadable> {
    let mut c = Cursor {
        r,
        buf: Vec::new(),
        pos: 0,
        eof: false,
        read: 0,
    };
    let (mut kind, mut items) = (None, false);
    c.expect(b'{')?;
    if !c.closes(b'}')? {
        loop {
            let key: String = serde_json::from_slice(c.value()?).map_err(|_| Unreadable)?;
            c.expect(b':')?;
            match key.as_str() {
                "items" if items => return Err(Unreadable),
                "items" => {
                    read_items(&mut c, chunk_items, chunk)?;
                    items = true;
                }
                "kind" => kind = serde_json::from_slice::<Option<String>>(c.value()?).map_err(|_| Unreadable)?,
                _ => {
                    serde_json::from_slice::<serde::de::IgnoredAny>(c.value()?).map_err(|_| Unreadable)?;
                }
            }
            if c.after_member(b'}')? {
                break;
            }
        }
    }
    if c.peek()?.is_some() {
        return Err(Unreadable);
    }
    Ok((kind, items, c.read))
}

fn read_items<R: Read>(
    c: &mut Cursor<R>,
    chunk_items: usize,
    chunk: &mut dyn FnMut(usize, &[Box<RawValue>]),
) -> Result<(), Unreadable> {
    c.expect(b'[')?;
    let mut pending: Vec<Box<RawValue>> = Vec::with_capacity(chunk_items.min(1 << 16));
    let mut base = 0usize;
    if c.closes(b']')? {
        return Ok(());
    }
    loop {
        let text = std::str::from_utf8(c.value()?).map_err(|_| Unreadable)?;
        pending.push(RawValue::from_string(text.to_string()).map_err(|_| Unreadable)?);
        if pending.len() >= chunk_items {
            chunk(base, &pending);
            base = base.saturating_add(pending.len());
            pending.clear();
        }
        if c.after_member(b']')? {
            break;
        }
    }
    chunk(base, &pending);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out `step` bytes at a time, to put item ends on refill boundaries.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn items(text: &str, step: usize) -> Result<(Option<String>, bool, Vec<String>), Unreadable> {
        let mut got = Vec::new();
        let (kind, had, read) = stream(Trickle(text.as_bytes(), step), 2, &mut |base, chunk| {
            assert_eq!(base, got.len());
            got.extend(chunk.iter().map(|r| r.get().to_string()));
        })?;
        assert_eq!(read, text.len() as u64);
        Ok((kind, had, got))
    }

    #[test]
    fn items_are_cut_whole_across_refills_with_tricky_strings() {
        let text = r#" {"apiVersion": "v1", "items": [ {"a": "x\"}]", "b": [1, {"c": "\\"}]}, "s]", 12, true ,{"d":"}"} ],
            "kind": "List", "metadata": {"resourceVersion": ""}} "#;
        let want = vec![
            r#"{"a": "x\"}]", "b": [1, {"c": "\\"}]}"#,
            r#""s]""#,
            "12",
            "true",
            r#"{"d":"}"}"#,
        ];
        for step in [1, 2, 3, 7, 64, 1 << 20] {
            let (kind, had, got) = items(text, step).unwrap();
            assert_eq!(kind.as_deref(), Some("List"), "step {step}");
            assert!(had);
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn what_is_not_a_readable_list_is_refused() {
        for bad in [
            "",
            "[]",
            r#"{"items": null}"#,
            r#"{"items": [], "items": []}"#,
            r#"{"items": [{"a": tru}]}"#,
            r#"{"items": [{"a": 1}}"#,
            r#"{"kind": 3, "items": []}"#,
            r#"{"metadata": {bad}, "items": []}"#,
            r#"{"items": []} trailing"#,
            r#"{"items": [1 2]}"#,
        ] {
            assert_eq!(items(bad, 3).map(|_| ()), Err(Unreadable), "{bad}");
        }
    }

    #[test]
    fn an_object_without_items_and_an_empty_list_are_read() {
        assert_eq!(
            items(r#"{"kind": "Pod"}"#, 4).unwrap(),
            (Some("Pod".into()), false, vec![])
        );
        assert_eq!(items("{}", 1).unwrap(), (None, false, vec![]));
        assert_eq!(items(r#"{"items": [ ]}"#, 1).unwrap(), (None, true, vec![]));
    }
}
