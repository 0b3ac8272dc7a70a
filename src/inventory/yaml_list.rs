//! A YAML `List` (`kubectl get -o yaml`, support bundle files) split into its entries as text, so
//! that each entry is parsed on its own, on every core. Parsing a large List as one document
//! builds a tree of every object at once (about five bytes of memory per byte of YAML) on one core.
//!
//! Only the block layout kubectl writes is split: a top-level `items:` key alone on its line,
//! entries that start with `- ` at column 0 or 2, and every other line of an entry indented past
//! the dash (blank and comment lines anywhere). Anything else gives `None`, and the caller parses
//! the whole document as before; so does an entry that is not valid YAML on its own.

/// A List document cut into the part around `items` and the entries.
#[derive(Debug)]
pub struct Split<'a> {
    /// The document without its `items` block (apiVersion, kind, metadata).
    pub header: String,
    /// Each entry's lines, dash included.
    pub entries: Vec<&'a str>,
    /// The dash's column.
    pub dash: usize,
}

enum State {
    Before,
    Items,
    After,
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_entry_start(line: &str, dash: usize) -> bool {
    indentation(line) == dash && (line[dash..].starts_with("- ") || line[dash..].trim_end() == "-")
}

/// `None` unless `doc` has a top-level `items:` block in kubectl's layout.
pub fn split(doc: &str) -> Option<Split<'_>> {
    let mut header = String::new();
    let mut entries = Vec::new();
    let mut state = State::Before;
    let mut dash: Option<usize> = None;
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for line in doc.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        match state {
            State::Before => {
                if content.trim_end() == "items:" {
                    state = State::Items;
                } else {
                    header.push_str(line);
                }
            }
            State::Items => {
                let trimmed = content.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    pos += line.len();
                    continue;
                }
                let ind = indentation(content);
                let d = match dash {
                    Some(d) => d,
                    None if (ind == 0 || ind == 2) && is_entry_start(content, ind) => *dash.insert(ind),
                    None => return None,
                };
                if is_entry_start(content, d) {
                    if let Some(s) = start {
                        entries.push(&doc[s..pos]);
                    }
                    start = Some(pos);
                } else if ind >= d + 2 {
                    // The current entry goes on.
                } else if ind == 0 {
                    // The next top-level key: the block has ended.
                    if let Some(s) = start.take() {
                        entries.push(&doc[s..pos]);
                    }
                    state = State::After;
                    header.push_str(line);
                } else {
                    return None;
                }
            }
            State::After => header.push_str(line),
        }
        pos += line.len();
    }
    if let Some(s) = start {
        entries.push(&doc[s..]);
    }
    match state {
        State::Before => None,
        _ => Some(Split {
            header,
            entries,
            dash: dash?,
        }),
    }
}

/// One entry as a YAML document of its own: the dash and the entry's indentation removed.
pub fn entry_text(entry: &str, dash: usize) -> String {
    let indent = dash + 2;
    let mut out = String::with_capacity(entry.len());
    for (n, line) in entry.split_inclusive('\n').enumerate() {
        if n == 0 {
            // "- key: v" -> "key: v"; a lone "-" leaves the line's end.
            let rest = line.get(dash + 1..).unwrap_or("");
            out.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        } else {
            out.push_str(&line[indentation(line).min(indent)..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_layout_at_column_0_and_2() {
        for dash in ["", "  "] {
            let doc = format!(
                "apiVersion: v1\nitems:\n{dash}- apiVersion: v1\n{dash}  kind: Pod\n{dash}  spec:\n{dash}    x: |\n{dash}      - not an entry\n\n{dash}# note\n{dash}- kind: Pod\n{dash}  metadata:\n{dash}    name: b\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
            );
            let s = split(&doc).unwrap();
            assert_eq!(s.dash, dash.len());
            assert_eq!(s.entries.len(), 2, "{:?}", s.entries);
            assert_eq!(
                s.header,
                "apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
            );
            assert_eq!(
                entry_text(s.entries[0], s.dash),
                "apiVersion: v1\nkind: Pod\nspec:\n  x: |\n    - not an entry\n\n# note\n"
            );
            assert_eq!(entry_text(s.entries[1], s.dash), "kind: Pod\nmetadata:\n  name: b\n");
        }
    }

    #[test]
    fn other_layouts_are_left_to_the_parser() {
        assert!(split("kind: List\nitems: []\n").is_none());
        assert!(split("kind: Pod\nmetadata:\n  name: a\n").is_none());
        // Entries at column 1, or a line between the dash and the entry's content column.
        assert!(split("items:\n - a: 1\n").is_none());
        assert!(split("items:\n- a: 1\n b: 2\n").is_none());
        assert!(split("items:\n  - a: 1\n  b: 2\n").is_none());
    }

    #[test]
    fn a_lone_dash_entry() {
        let s = split("items:\n-\n  kind: Pod\n").unwrap();
        assert_eq!(s.entries.len(), 1);
        assert_eq!(entry_text(s.entries[0], s.dash), "\nkind: Pod\n");
    }
}
