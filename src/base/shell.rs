//! Baked arguments (`--args 'ARG ...'`, `--entry-args NAME='ARG ...'`): one string split into
//! words at bundle time, with the quoting of the POSIX shell's command language (XCU §2.2):
//! single quotes keep everything up to the next `'`; double quotes keep everything but `\`
//! before `$`, `` ` ``, `"`, `\` or a newline, which escapes it; an unquoted backslash keeps the
//! next character. Nothing else of the shell applies: no globbing, no `~`, no `$VAR`, no
//! command substitution. The only expansion is the runtime's, of `${VAR}` and `${VAR:-default}`
//! (docs/ENTRIES.md), whose shape is checked here so that a typo fails the build rather than
//! the dyno. Quotes group words; they do not stop that expansion, which happens at run time.
//!
//! A word `...` (quoted or not) marks where the user's own arguments go (the runtime's
//! `Args::SPLICE`); it may appear once.

/// Why a string cannot be split into arguments. The messages quote the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("unbalanced quotes: the {0} quote opened at character {1} is never closed")]
    Unclosed(&'static str, usize),
    #[error("it ends with a backslash, which escapes nothing; write '\\\\' for a backslash")]
    TrailingBackslash,
    #[error("'{0}': '${{' without a closing '}}'; write ${{VAR}} or ${{VAR:-default}}")]
    UnclosedExpansion(String),
    #[error("'{0}': a '${{' begins neither ${{VAR}} nor ${{VAR:-default}} (VAR: ASCII letters, digits and '_', not starting with a digit; a default holds no '${{' or '}}')")]
    BadExpansion(String),
    #[error("'...' (where the user's arguments go) appears more than once")]
    TwoSplices,
    #[error("an argument cannot hold a NUL byte")]
    Nul,
}

/// The argument that marks where the user's arguments go.
pub const SPLICE: &str = "...";

/// `word` as one word of the shell (and of [`split`]): kept as is when it has only characters
/// no shell treats specially, single-quoted otherwise (a `'` inside becomes `'\''`).
pub fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-+,@%:/=".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// `words` as one line [`split`] gives back.
pub fn join(words: &[impl AsRef<str>]) -> String {
    words.iter().map(|w| quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}

/// Splits `text` into words (see the module comment) and checks every `${` in them.
pub fn split(text: &str) -> Result<Vec<String>, ShellError> {
    if text.contains('\0') {
        return Err(ShellError::Nul);
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word is under way (`''` is a word, empty).
    let mut open = false;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        // Characters are counted from 1 for messages.
        let col = text[..at].chars().count() + 1;
        match c {
            ' ' | '\t' | '\n' => {
                if open {
                    words.push(std::mem::take(&mut word));
                    open = false;
                }
            }
            '\'' => {
                open = true;
                let end = chars[i + 1..].iter().position(|&(_, c)| c == '\'');
                let Some(end) = end else { return Err(ShellError::Unclosed("single", col)) };
                word.extend(chars[i + 1..i + 1 + end].iter().map(|&(_, c)| c));
                i += end + 1;
            }
            '"' => {
                open = true;
                i += 1;
                loop {
                    let Some(&(_, c)) = chars.get(i) else {
                        return Err(ShellError::Unclosed("double", col));
                    };
                    match c {
                        '"' => break,
                        '\\' => match chars.get(i + 1) {
                            Some(&(_, n)) if matches!(n, '$' | '`' | '"' | '\\') => {
                                word.push(n);
                                i += 1;
                            }
                            // A backslash-newline is a line continuation: both go.
                            Some(&(_, '\n')) => i += 1,
                            _ => word.push('\\'),
                        },
                        c => word.push(c),
                    }
                    i += 1;
                }
            }
            '\\' => {
                open = true;
                match chars.get(i + 1) {
                    Some(&(_, '\n')) => {}
                    Some(&(_, n)) => word.push(n),
                    None => return Err(ShellError::TrailingBackslash),
                }
                i += 1;
            }
            c => {
                open = true;
                word.push(c);
            }
        }
        i += 1;
    }
    if open {
        words.push(word);
    }
    for w in &words {
        check_expansion(w)?;
    }
    if words.iter().filter(|w| *w == SPLICE).count() > 1 {
        return Err(ShellError::TwoSplices);
    }
    Ok(words)
}

/// Every `${` of `word` must begin `${VAR}` or `${VAR:-default}`: the runtime expands those two
/// forms wherever they are in an argument (runtime/host/host.c, `push_expanded`) and leaves any
/// other `$` as it is, so another `${` is a mistake, refused here rather than met at run time.
/// A default ends at the first `}`: it cannot hold another `${...}`.
fn check_expansion(word: &str) -> Result<(), ShellError> {
    let mut rest = word;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(close) = after.find('}') else {
            return Err(ShellError::UnclosedExpansion(word.to_owned()));
        };
        let inner = &after[..close];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let mut chars = name.chars();
        let starts = chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
        let valid = starts && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid || default.is_some_and(|d| d.contains("${")) {
            return Err(ShellError::BadExpansion(word.to_owned()));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn quoting_follows_the_shell() {
        assert_eq!(words("a b\tc\n d"), ["a", "b", "c", "d"]);
        assert_eq!(words("  "), Vec::<String>::new());
        assert_eq!(words("'a b' \"c d\" e\\ f"), ["a b", "c d", "e f"]);
        assert_eq!(words("'' \"\""), ["", ""]);
        assert_eq!(words("a'b'\"c\"d"), ["abcd"]);
        assert_eq!(words(r#""a\"b\\c\$d\e""#), [r#"a"b\c$d\e"#]);
        assert_eq!(words(r"'a\b'"), [r"a\b"]);
        assert_eq!(words(r"\'x\'"), ["'x'"]);
        assert_eq!(words("a\\\nb"), ["ab"]);
        assert_eq!(words("--port ${PORT:-8080} ..."), ["--port", "${PORT:-8080}", "..."]);
        assert_eq!(words("'${X}' \"${Y:-a b}\""), ["${X}", "${Y:-a b}"]);
        assert_eq!(words("${A:-}"), ["${A:-}"]);
        assert_eq!(words("'...'"), ["..."]);
        assert_eq!(words("$HOME $ {x}"), ["$HOME", "$", "{x}"]);
    }

    #[test]
    fn quoted_words_split_back() {
        let words = ["--port", "${PORT:-8080}", "...", "it's", "", "a b", "k=v"];
        let line = join(&words);
        assert_eq!(line, "--port '${PORT:-8080}' ... 'it'\\''s' '' 'a b' k=v");
        assert_eq!(split(&line).unwrap(), words);
    }

    #[test]
    fn bad_input_is_explained() {
        assert_eq!(split("a 'b"), Err(ShellError::Unclosed("single", 3)));
        assert_eq!(split("\"a"), Err(ShellError::Unclosed("double", 1)));
        assert_eq!(split("a\\"), Err(ShellError::TrailingBackslash));
        assert_eq!(split("--port ${PORT"), Err(ShellError::UnclosedExpansion("${PORT".into())));
        assert_eq!(split("${1X}"), Err(ShellError::BadExpansion("${1X}".into())));
        assert_eq!(split("... a ..."), Err(ShellError::TwoSplices));
        assert_eq!(split("a\0"), Err(ShellError::Nul));
        assert!(split("'a b").unwrap_err().to_string().contains("unbalanced quotes"));
    }

    #[test]
    fn expansions_are_checked_wherever_they_are() {
        assert_eq!(words("--port=${PORT} ${A}${B:-x}"), ["--port=${PORT}", "${A}${B:-x}"]);
        assert_eq!(words("$ {A} $x $"), ["$", "{A}", "$x", "$"]);
        for bad in ["${}", "${A.B}", "${A-b}", "${A:-${B}}", "x${9}"] {
            assert_eq!(split(bad), Err(ShellError::BadExpansion(bad.into())), "{bad}");
        }
        assert_eq!(split("${A} ${B"), Err(ShellError::UnclosedExpansion("${B".into())));
    }
}
