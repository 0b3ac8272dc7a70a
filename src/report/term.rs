//! Where output goes and how it looks: the [`Terminal`] (width, colour) decided once from the
//! `--color` flag, the environment and the stream, and the [`Printer`] that owns stdout and
//! stderr. Both are plain values, so tests inject a narrow terminal or `NO_COLOR` without one.

use std::io::{self, Write};

use owo_colors::OwoColorize;

/// `--color`: `auto` (a terminal, and no `NO_COLOR`), `always` or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

impl std::str::FromStr for ColorChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ColorChoice::Auto),
            "always" => Ok(ColorChoice::Always),
            "never" => Ok(ColorChoice::Never),
            o => Err(format!("unknown colour mode {o:?} (expected auto, always or never)")),
        }
    }
}

/// Width when the output is not a terminal and `COLUMNS` is not set (as kubectl and most
/// linters assume for pipes).
pub const DEFAULT_WIDTH: usize = 80;
/// Narrower than this is laid out as this (the table needs a few columns for names).
pub const MIN_WIDTH: usize = 40;

/// The terminal a report is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// Columns available on one line.
    pub width: usize,
    /// ANSI colours allowed.
    pub color: bool,
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal::plain(DEFAULT_WIDTH)
    }
}

impl Terminal {
    /// No colour, `width` columns (files, pipes, tests).
    pub fn plain(width: usize) -> Self {
        Terminal {
            width: width.max(MIN_WIDTH),
            color: false,
        }
    }

    /// Decide from the facts: `is_tty` (the stream is a terminal), `tty_width` (its width as
    /// the terminal reports it) and the environment (`env("COLUMNS")`...).
    ///
    /// Width: `COLUMNS` when set to a number, else the terminal's, else [`DEFAULT_WIDTH`].
    /// Colour: `always`/`never` as said; `auto` is off with a non-empty `NO_COLOR`
    /// (no-color.org), on with `CLICOLOR_FORCE` set and not `0`, off with `CLICOLOR=0` or
    /// `TERM=dumb`, else on exactly when the stream is a terminal.
    pub fn decide(
        choice: ColorChoice,
        is_tty: bool,
        tty_width: Option<usize>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Terminal {
        let set = |k: &str| env(k).filter(|v| !v.is_empty());
        let columns = set("COLUMNS")
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0);
        let width = columns
            .or(tty_width.filter(|_| is_tty).filter(|w| *w > 0))
            .unwrap_or(DEFAULT_WIDTH)
            .max(MIN_WIDTH);
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if set("NO_COLOR").is_some() {
                    false
                } else if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                    true
                } else if set("CLICOLOR").is_some_and(|v| v == "0") || set("TERM").is_some_and(|t| t == "dumb") {
                    false
                } else {
                    is_tty
                }
            }
        };
        Terminal { width, color }
    }

    /// The process's stdout (`stderr: false`) or stderr, as [`Terminal::decide`] sees it.
    pub fn detect(choice: ColorChoice, stderr: bool) -> Terminal {
        use std::io::IsTerminal;
        let (is_tty, size) = if stderr {
            let s = io::stderr();
            (s.is_terminal(), terminal_size::terminal_size_of(&s))
        } else {
            let s = io::stdout();
            (s.is_terminal(), terminal_size::terminal_size_of(&s))
        };
        Terminal::decide(choice, is_tty, size.map(|(w, _)| usize::from(w.0)), |k| {
            std::env::var(k).ok()
        })
    }

    /// `text` in the colour of `sev` (when colour is on).
    pub fn severity(&self, text: &str, sev: crate::finding::Severity) -> String {
        use crate::finding::Severity;
        if !self.color {
            return text.to_string();
        }
        match sev {
            Severity::Error => text.red().bold().to_string(),
            Severity::Warning => text.yellow().to_string(),
            Severity::Info => text.cyan().to_string(),
        }
    }

    pub fn bold(&self, text: &str) -> String {
        if self.color {
            text.bold().to_string()
        } else {
            text.to_string()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        if self.color {
            text.dimmed().to_string()
        } else {
            text.to_string()
        }
    }
}

/// The one owner of the plugin's stdout and stderr: reports and results go to `out`, logs,
/// warnings and errors to `err`, each with its own [`Terminal`].
pub struct Printer {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// How `out` looks.
    pub term: Terminal,
    /// How `err` looks.
    pub err_term: Terminal,
}

impl Printer {
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, term: Terminal, err_term: Terminal) -> Self {
        Printer {
            out,
            err,
            term,
            err_term,
        }
    }

    /// The process's stdout and stderr, each detected with `--color`.
    pub fn stdio(choice: ColorChoice) -> Self {
        Printer::new(
            Box::new(io::stdout()),
            Box::new(io::stderr()),
            Terminal::detect(choice, false),
            Terminal::detect(choice, true),
        )
    }

    /// Where reports go.
    pub fn out(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Where prompts and logs go.
    pub fn err(&mut self) -> &mut dyn Write {
        &mut *self.err
    }

    /// Render `report` on stdout for this printer's terminal.
    pub fn report(&mut self, report: &super::Report, format: super::Format) -> crate::error::Result<()> {
        self.report_with(report, format, super::RenderOptions::new(self.term))
    }

    /// [`Printer::report`] with `--fail-on` and rule help (the terminal is this printer's).
    pub fn report_with(
        &mut self,
        report: &super::Report,
        format: super::Format,
        mut opts: super::RenderOptions,
    ) -> crate::error::Result<()> {
        opts.term = self.term;
        let r = super::render(report, format, &opts, &mut *self.out);
        let _ = self.out.flush();
        r
    }

    /// One line on stdout. A reader that went away (`| head`) is not an error.
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    /// `warning: …` on stderr.
    pub fn warn(&mut self, text: &str) {
        let tag = self.err_term.severity("warning:", crate::finding::Severity::Warning);
        let _ = writeln!(self.err, "{tag} {text}");
    }

    /// `error: …` on stderr.
    pub fn error(&mut self, text: &str) {
        let tag = self.err_term.severity("error:", crate::finding::Severity::Error);
        let _ = writeln!(self.err, "{tag} {text}");
    }

    /// A plain line on stderr (progress, where backups went).
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.err, "{text}");
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over `path`, so a reader never sees half a report and a failed write leaves the
/// old file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn width_from_columns_then_the_terminal_then_80() {
        let t = Terminal::decide(ColorChoice::Auto, true, Some(160), env(&[]));
        assert_eq!(t.width, 160);
        let t = Terminal::decide(ColorChoice::Auto, true, Some(160), env(&[("COLUMNS", "100")]));
        assert_eq!(t.width, 100);
        let t = Terminal::decide(ColorChoice::Auto, false, None, env(&[]));
        assert_eq!(t.width, 80);
        let t = Terminal::decide(ColorChoice::Auto, false, None, env(&[("COLUMNS", "nope")]));
        assert_eq!(t.width, 80);
        let t = Terminal::decide(ColorChoice::Auto, false, None, env(&[("COLUMNS", "10")]));
        assert_eq!(t.width, MIN_WIDTH);
    }

    #[test]
    fn colour_follows_the_flag_no_color_and_clicolor_force() {
        let auto = |tty, e: &[(&str, &str)]| Terminal::decide(ColorChoice::Auto, tty, None, env(e)).color;
        assert!(auto(true, &[]));
        assert!(!auto(false, &[]));
        assert!(!auto(true, &[("NO_COLOR", "1")]));
        assert!(auto(true, &[("NO_COLOR", "")]), "an empty NO_COLOR does not count");
        assert!(auto(false, &[("CLICOLOR_FORCE", "1")]));
        assert!(!auto(false, &[("CLICOLOR_FORCE", "0")]));
        assert!(!auto(true, &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]));
        assert!(!auto(true, &[("TERM", "dumb")]));
        assert!(!auto(true, &[("CLICOLOR", "0")]));
        let t = Terminal::decide(ColorChoice::Always, false, None, env(&[("NO_COLOR", "1")]));
        assert!(t.color);
        let t = Terminal::decide(ColorChoice::Never, true, None, env(&[("CLICOLOR_FORCE", "1")]));
        assert!(!t.color);
    }

    #[test]
    fn atomic_write_replaces_the_file_whole() {
        let dir = std::env::temp_dir().join(format!("hh-atomic-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
        assert!(write_atomic(&dir.join("missing/r.json"), b"x").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
