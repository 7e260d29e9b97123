//! Diagnostics about Lua sources, rendered with codespan-reporting: the source line with a caret
//! under the require, the chain of requires that led there, and notes (paths searched, hints).
//! Colour only on a terminal, never with `NO_COLOR` set.

use std::io::IsTerminal;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Cs, Label, Severity as CsSeverity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

/// Error, warning, or a note that says what the bundler did on the user's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// A place in a Lua file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// The file name as shown to the user.
    pub display: String,
    pub source: Vec<u8>,
    pub span: Range<usize>,
    pub label: String,
}

/// One message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub snippet: Option<Snippet>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            snippet: None,
            notes: Vec::new(),
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            snippet: None,
            notes: Vec::new(),
        }
    }

    pub fn note_only(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Note, ..Diagnostic::warning(message) }
    }

    pub fn at(mut self, snippet: Snippet) -> Self {
        self.snippet = Some(snippet);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders without colour (tests, logs).
    pub fn render_plain(&self) -> String {
        let (files, cs) = self.to_codespan();
        term::emit_into_string(&config(), &files, &cs)
            .unwrap_or_else(|_| format!("{}\n", self.message))
    }

    /// Writes to stderr, in colour when stderr is a terminal and `NO_COLOR` is not set.
    pub fn emit(&self) {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        let choice =
            if color { termcolor::ColorChoice::Auto } else { termcolor::ColorChoice::Never };
        let mut stderr = termcolor::StandardStream::stderr(choice);
        let (files, cs) = self.to_codespan();
        // A closed or full stderr is not worth a panic: the exit status still tells.
        let _ = term::emit_to_write_style(&mut stderr, &config(), &files, &cs);
    }

    fn to_codespan(&self) -> (SimpleFiles<String, String>, Cs<usize>) {
        let mut files = SimpleFiles::new();
        let mut cs = match self.severity {
            Severity::Error => Cs::new(CsSeverity::Error),
            Severity::Warning => Cs::new(CsSeverity::Warning),
            Severity::Note => Cs::new(CsSeverity::Note),
        }
        .with_message(printable(&self.message))
        .with_notes(self.notes.iter().map(|n| printable(n)).collect());
        if let Some(s) = &self.snippet {
            let id = files.add(printable(&s.display), aligned_text(&s.source));
            cs = cs.with_labels(vec![Label::primary(id, s.span.clone()).with_message(&s.label)]);
        }
        (files, cs)
    }
}

fn config() -> term::Config {
    term::Config::default()
}

/// The source as text with every byte offset kept: each byte of an invalid UTF-8 sequence
/// becomes one `?` (Lua sources may hold any bytes; spans are byte offsets), and so does each
/// control byte but tab and line ends, so that a source cannot drive the terminal.
fn aligned_text(source: &[u8]) -> String {
    let mut out = String::with_capacity(source.len());
    for chunk in source.utf8_chunks() {
        out.extend(chunk.valid().chars().map(|c| {
            if c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r') {
                '?'
            } else {
                c
            }
        }));
        out.extend(std::iter::repeat_n('?', chunk.invalid().len()));
    }
    out
}

/// `text` with control characters (from file names, module names, sources) shown escaped:
/// a message never sends raw control bytes to the terminal.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&c.escape_default().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_and_notes() {
        let d = Diagnostic::error("module 'x' not found")
            .at(Snippet {
                display: "main.lua".into(),
                source: b"local a = 1\nlocal x = require('x')\n".to_vec(),
                span: 30..33,
                label: "required here".into(),
            })
            .note("searched: ./x.lua");
        let text = d.render_plain();
        assert!(text.contains("error: module 'x' not found"), "{text}");
        assert!(text.contains("main.lua:2:19"), "{text}");
        assert!(text.contains("^^^ required here"), "{text}");
        assert!(text.contains("= searched: ./x.lua"), "{text}");
    }

    #[test]
    fn invalid_utf8_keeps_offsets() {
        assert_eq!(aligned_text(b"a\xffb\xc3\xa9"), "a?bé");
    }

    #[test]
    fn issue13_control_bytes_never_reach_the_terminal() {
        assert_eq!(aligned_text(b"a\x1b[2Jb\tc\n"), "a?[2Jb\tc\n");
        let d = Diagnostic::warning("'x\x1b]0;t\x07' is not a module name").at(Snippet {
            display: "m\x1b.lua".into(),
            source: b"require 'x\x1b]0;t\x07'\n".to_vec(),
            span: 8..18,
            label: "here".into(),
        });
        let text = d.render_plain();
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    }
}
