//! After the build: deploying an executable to Heroku (`heroku`, `stacks`) or as a container
//! image (`oci`, pushed to a registry by `registry`), with the deterministic archives they need
//! (`archive`).

pub mod archive;
pub mod buildpack;
pub mod heroku;
pub mod oci;
pub mod registry;
pub mod stacks;

/// Whether `c` is shown as an escape by [`printable`]: the control characters (C0, DEL, C1),
/// the Unicode line and paragraph separators and the bidirectional formatting characters (which
/// reorder what a terminal shows).
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `text` with every control character replaced by a visible escape (`\n`, `\t`, `\x1b`,
/// `\u{85}`, `\u{202e}`, ...), for messages that quote a file name or an API response. Other
/// text, backslashes included, is kept, so that escaping twice changes nothing.
pub fn printable(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}
