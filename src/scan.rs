//! Finds the `require` sites of a Lua file with a real Lua 5.1/LuaJIT lexer (long strings and
//! comments of any level, escapes, LuaJIT number suffixes, shebang, BOM), so that requires inside
//! strings or comments are never mistaken for code.
//!
//! What counts as a site (its [`SiteKind`]):
//! - `require "a.b"`, `require('a.b')`, `require [[a.b]]`, `require 'a'.f`, `require("a"):m()`:
//!   a literal name, [`SiteKind::Plain`] at top level or [`SiteKind::Lazy`] inside a function;
//! - `pcall(require, "a")`: [`SiteKind::Optional`], a missing module is only a warning;
//! - `require(name)`, `require("p." .. x)`, `local req = require`: no literal name (`name` is
//!   `None`), reported as a warning by the graph stage.
//!
//! Anything the lexer cannot tokenize (an unfinished string, say) is a [`ScanError`]; the caller
//! asks the real LuaJIT parser for the authoritative message.

use std::ops::Range;

/// How a module is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SiteKind {
    /// At the top level of the file: runs when the file is loaded.
    Plain,
    /// Inside a function: runs only if that function is called.
    Lazy,
    /// `pcall(require, "x")`: the program copes with its absence.
    Optional,
}

impl std::fmt::Display for SiteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SiteKind::Plain => "plain",
            SiteKind::Lazy => "lazy",
            SiteKind::Optional => "optional",
        })
    }
}

/// One place where a file requires a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The literal module name; `None` when it is computed at run time.
    pub name: Option<Vec<u8>>,
    pub kind: SiteKind,
    /// 1-based line and column (in bytes) of the `require` token.
    pub line: u32,
    pub col: u32,
    /// Byte range to underline: the name literal, or the `require` expression.
    pub span: Range<usize>,
}

/// The lexer gave up: the file is not valid Lua.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScanError {
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name,
    /// A string literal; its value is decoded only where a module name is expected.
    Str,
    Number,
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    span: Range<usize>,
    line: u32,
    col: u32,
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

/// The operator or punctuation starting with `c` (then `d`, `e`), longest first.
fn operator(c: u8, d: Option<u8>, e: Option<u8>) -> Option<&'static str> {
    Some(match (c, d) {
        (b'.', Some(b'.')) if e == Some(b'.') => "...",
        (b'.', Some(b'.')) => "..",
        (b'=', Some(b'=')) => "==",
        (b'~', Some(b'=')) => "~=",
        (b'<', Some(b'=')) => "<=",
        (b'>', Some(b'=')) => ">=",
        (b':', Some(b':')) => "::",
        // The operators the LuaJIT 2.1 of the runtime adds (lj_lex.c): bit operations,
        // `!=`, `&&`, `||`, `!`, safe navigation and coalescing.
        (b'~', Some(b'>')) if e == Some(b'>') => "~>>",
        (b'<', Some(b'<')) => "<<",
        (b'>', Some(b'>')) => ">>",
        (b'!', Some(b'=')) => "!=",
        (b'&', Some(b'&')) => "&&",
        (b'|', Some(b'|')) => "||",
        (b'?', Some(b'.')) => "?.",
        (b'?', Some(b'?')) => "??",
        (b'&', _) => "&",
        (b'|', _) => "|",
        (b'!', _) => "!",
        (b'?', _) => "?",
        (b'+', _) => "+",
        (b'-', _) => "-",
        (b'*', _) => "*",
        (b'/', _) => "/",
        (b'%', _) => "%",
        (b'^', _) => "^",
        (b'#', _) => "#",
        (b'<', _) => "<",
        (b'>', _) => ">",
        (b'=', _) => "=",
        (b'(', _) => "(",
        (b')', _) => ")",
        (b'{', _) => "{",
        (b'}', _) => "}",
        (b'[', _) => "[",
        (b']', _) => "]",
        (b';', _) => ";",
        (b':', _) => ":",
        (b',', _) => ",",
        (b'.', _) => ".",
        (b'~', _) => "~",
        _ => return None,
    })
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

impl<'a> Lexer<'a> {
    fn new(src: &'a [u8]) -> Self {
        let mut lx = Lexer { src, pos: 0, line: 1, line_start: 0 };
        if src.starts_with(b"\xEF\xBB\xBF") {
            lx.pos = 3;
            lx.line_start = 3;
        }
        // A first line starting with '#' (shebang) is skipped, its newline kept.
        if lx.peek(0) == Some(b'#') {
            while let Some(c) = lx.peek(0) {
                if c == b'\n' || c == b'\r' {
                    break;
                }
                lx.pos += 1;
            }
        }
        lx
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn error<T>(&self, message: &str) -> Result<T, ScanError> {
        Err(ScanError { line: self.line, message: message.to_owned() })
    }

    /// Consumes a newline sequence (`\n`, `\r`, `\r\n` or `\n\r`), counting one line.
    fn newline(&mut self) {
        let first = self.src[self.pos];
        self.pos += 1;
        if let Some(c) = self.peek(0) {
            if (c == b'\n' || c == b'\r') && c != first {
                self.pos += 1;
            }
        }
        self.line += 1;
        self.line_start = self.pos;
    }

    /// The level of a long bracket `[==[` at the cursor, without consuming it.
    fn long_bracket_level(&self) -> Option<usize> {
        let mut i = 1;
        while self.peek(i) == Some(b'=') {
            i += 1;
        }
        (self.peek(i) == Some(b'[')).then_some(i - 1)
    }

    /// Reads a long string or comment body after its opening bracket of `level`.
    fn long_body(
        &mut self,
        level: usize,
        what: &str,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<(), ScanError> {
        let start_line = self.line;
        self.pos += level + 2;
        if matches!(self.peek(0), Some(b'\n' | b'\r')) {
            self.newline();
        }
        let mut push = |c: u8| {
            if let Some(o) = out.as_deref_mut() {
                o.push(c);
            }
        };
        loop {
            match self.peek(0) {
                None => {
                    return Err(ScanError {
                        line: start_line,
                        message: format!("unfinished long {what}"),
                    })
                }
                Some(b']') => {
                    let mut i = 1;
                    while self.peek(i) == Some(b'=') {
                        i += 1;
                    }
                    if i - 1 == level && self.peek(i) == Some(b']') {
                        self.pos += i + 1;
                        return Ok(());
                    }
                    push(b']');
                    self.pos += 1;
                }
                Some(b'\n' | b'\r') => {
                    push(b'\n');
                    self.newline();
                }
                Some(c) => {
                    push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// Reads a quoted string, decoding escapes as LuaJIT does (into `out` when given).
    fn quoted(&mut self, quote: u8, out: Option<&mut Vec<u8>>) -> Result<(), ScanError> {
        self.pos += 1;
        let mut scratch = Vec::new();
        let out = out.unwrap_or(&mut scratch);
        loop {
            let Some(c) = self.peek(0) else { return self.error("unfinished string") };
            match c {
                _ if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\n' | b'\r' => return self.error("unfinished string"),
                b'\\' => {
                    self.pos += 1;
                    let Some(e) = self.peek(0) else { return self.error("unfinished string") };
                    match e {
                        b'a' => out.push(7),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(11),
                        b'\n' | b'\r' => {
                            out.push(b'\n');
                            self.newline();
                            continue;
                        }
                        b'x' => {
                            let hex = |c: Option<u8>| c.and_then(|c| (c as char).to_digit(16));
                            match (hex(self.peek(1)), hex(self.peek(2))) {
                                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                                _ => return self.error("invalid escape sequence"),
                            }
                            self.pos += 2;
                        }
                        b'z' => {
                            self.pos += 1;
                            while let Some(c) = self.peek(0) {
                                match c {
                                    b'\n' | b'\r' => self.newline(),
                                    b' ' | b'\t' | 11 | 12 => self.pos += 1,
                                    _ => break,
                                }
                            }
                            continue;
                        }
                        b'u' => {
                            if self.peek(1) != Some(b'{') {
                                return self.error("invalid escape sequence");
                            }
                            let mut i = 2;
                            let mut v: u32 = 0;
                            while let Some(d) = self.peek(i).and_then(|c| (c as char).to_digit(16))
                            {
                                v = v.saturating_mul(16).saturating_add(d);
                                i += 1;
                            }
                            if i == 2 || self.peek(i) != Some(b'}') || v > 0x7FFF_FFFF {
                                return self.error("invalid escape sequence");
                            }
                            push_utf8(out, v);
                            self.pos += i;
                        }
                        d if d.is_ascii_digit() => {
                            let mut v: u32 = 0;
                            let mut i = 0;
                            while i < 3 {
                                match self.peek(i) {
                                    Some(d) if d.is_ascii_digit() => {
                                        v = v * 10 + u32::from(d - b'0')
                                    }
                                    _ => break,
                                }
                                i += 1;
                            }
                            if v > 255 {
                                return self.error("invalid escape sequence");
                            }
                            out.push(v as u8);
                            self.pos += i;
                            continue;
                        }
                        // `\\`, `\"`, `\'` and, as in Lua 5.1, any other character as itself.
                        other => out.push(other),
                    }
                    self.pos += 1;
                }
                _ => {
                    // Plain bytes up to the next quote, escape or newline in one step.
                    let run = self.src[self.pos..]
                        .iter()
                        .position(|&b| b == quote || b == b'\\' || b == b'\n' || b == b'\r')
                        .unwrap_or(self.src.len() - self.pos);
                    out.extend_from_slice(&self.src[self.pos..self.pos + run]);
                    self.pos += run;
                }
            }
        }
    }

    fn next(&mut self) -> Result<Token, ScanError> {
        loop {
            let Some(c) = self.peek(0) else {
                return Ok(self.token(Tok::Eof, self.pos));
            };
            let start = self.pos;
            let (line, col) = (self.line, (start - self.line_start) as u32 + 1);
            let tok = match c {
                b'\n' | b'\r' => {
                    self.newline();
                    continue;
                }
                b' ' | b'\t' | 11 | 12 => {
                    self.pos += 1;
                    continue;
                }
                b'-' if self.peek(1) == Some(b'-') => {
                    self.pos += 2;
                    if self.peek(0) == Some(b'[') {
                        if let Some(level) = self.long_bracket_level() {
                            self.long_body(level, "comment", None)?;
                            continue;
                        }
                    }
                    self.pos += self.src[self.pos..]
                        .iter()
                        .position(|&b| b == b'\n' || b == b'\r')
                        .unwrap_or(self.src.len() - self.pos);
                    continue;
                }
                b'[' => match self.long_bracket_level() {
                    Some(level) => {
                        self.long_body(level, "string", None)?;
                        Tok::Str
                    }
                    None => {
                        if self.peek(1) == Some(b'=') {
                            return self.error("invalid long string delimiter");
                        }
                        self.pos += 1;
                        Tok::Op("[")
                    }
                },
                b'"' | b'\'' => {
                    self.quoted(c, None)?;
                    Tok::Str
                }
                b'.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number(),
                d if d.is_ascii_digit() => self.number(),
                c if is_ident_start(c) => {
                    while self.peek(0).is_some_and(is_ident) {
                        self.pos += 1;
                    }
                    Tok::Name
                }
                _ => {
                    let Some(op) = operator(c, self.peek(1), self.peek(2)) else {
                        return self.error("unexpected symbol");
                    };
                    self.pos += op.len();
                    Tok::Op(op)
                }
            };
            return Ok(Token { tok, span: start..self.pos, line, col });
        }
    }

    /// A number, consumed greedily the way LuaJIT's lexer does (identifier characters, dots,
    /// and signs after an exponent letter): `0x1p4`, `1e-3`, `42ULL`, `3i`.
    fn number(&mut self) -> Tok {
        // As lj_lex.c's lex_number: a sign belongs to the number only after the exponent letter
        // of its base, `e` for decimal, `p` for hex (`0x1e-x` is `0x1e` minus `x`).
        let hex =
            self.src[self.pos..].starts_with(b"0x") || self.src[self.pos..].starts_with(b"0X");
        let exponent = if hex { b'p' } else { b'e' };
        let mut prev = 0u8;
        while let Some(c) = self.peek(0) {
            let exp_sign = (c == b'+' || c == b'-') && (prev | 0x20) == exponent;
            if !(is_ident(c) || c == b'.' || exp_sign) {
                break;
            }
            prev = c;
            self.pos += 1;
        }
        Tok::Number
    }

    fn token(&self, tok: Tok, at: usize) -> Token {
        Token { tok, span: at..at, line: self.line, col: (at - self.line_start) as u32 + 1 }
    }
}

/// The value of the string literal token `t`, decoded by lexing it again.
fn string_value(src: &[u8], t: &Token) -> Vec<u8> {
    let mut lx = Lexer { src, pos: t.span.start, line: t.line, line_start: 0 };
    let mut out = Vec::new();
    let ok = match src.get(t.span.start) {
        Some(b'[') => lx
            .long_bracket_level()
            .is_some_and(|level| lx.long_body(level, "string", Some(&mut out)).is_ok()),
        Some(&q) => lx.quoted(q, Some(&mut out)).is_ok(),
        None => false,
    };
    if ok {
        out
    } else {
        Vec::new()
    }
}

fn push_utf8(out: &mut Vec<u8>, v: u32) {
    // LuaJIT encodes up to 0x7fffffff with the original (up to 6-byte) UTF-8 scheme.
    match char::from_u32(v) {
        Some(ch) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        None => out.extend_from_slice(format!("\\u{{{v:x}}}").as_bytes()),
    }
}

/// Blocks whose `end` (or `until`) the scanner must match to know whether it is in a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Function,
    /// `while`/`for`: the next `do` belongs to it.
    LoopHead,
    Other,
    Repeat,
}

/// Lists the require sites of `src` in source order.
pub fn scan(src: &[u8]) -> Result<Vec<Site>, ScanError> {
    let mut lexer = Lexer::new(src);
    let mut tokens = Vec::new();
    loop {
        let t = lexer.next()?;
        let eof = t.tok == Tok::Eof;
        tokens.push(t);
        if eof {
            break;
        }
    }
    let text = |t: &Token| &src[t.span.clone()];
    let is_name = |t: &Token, s: &str| t.tok == Tok::Name && text(t) == s.as_bytes();
    let mut sites = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    let mut skip_require_at = None;
    for i in 0..tokens.len() {
        let t = &tokens[i];
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        if t.tok == Tok::Name {
            match text(t) {
                b"function" => blocks.push(Block::Function),
                b"while" | b"for" => blocks.push(Block::LoopHead),
                b"do" => match blocks.last_mut() {
                    Some(b @ Block::LoopHead) => *b = Block::Other,
                    _ => blocks.push(Block::Other),
                },
                b"if" => blocks.push(Block::Other),
                b"repeat" => blocks.push(Block::Repeat),
                b"end" | b"until" => {
                    blocks.pop();
                }
                _ => {}
            }
        }
        let lazy = blocks.contains(&Block::Function);
        let at = |i: usize| tokens.get(i).map(|t| &t.tok);
        // pcall(require, "name")
        if is_name(t, "pcall") && at(i + 1) == Some(&Tok::Op("(")) {
            if let Some(r) = tokens.get(i + 2).filter(|r| is_name(r, "require")) {
                if at(i + 3) == Some(&Tok::Op(",")) {
                    skip_require_at = Some(i + 2);
                    let literal = match (at(i + 4), at(i + 5)) {
                        (Some(Tok::Str), Some(Tok::Op(")" | ","))) => {
                            Some(string_value(src, &tokens[i + 4]))
                        }
                        _ => None,
                    };
                    let span = match (&literal, tokens.get(i + 4)) {
                        (Some(_), Some(arg)) => arg.span.clone(),
                        _ => r.span.clone(),
                    };
                    sites.push(Site {
                        name: literal,
                        kind: SiteKind::Optional,
                        line: r.line,
                        col: r.col,
                        span,
                    });
                }
            }
            continue;
        }
        if !is_name(t, "require") || skip_require_at == Some(i) {
            continue;
        }
        // `x.require`, `x:require`, `function require`, `local require`, `goto require` and the
        // label `::require::` are not the global require; neither is an assignment to it
        // (`require = f`, `{ require = true }`).
        if prev.is_some_and(|p| {
            matches!(p.tok, Tok::Op("." | ":" | "::"))
                || is_name(p, "function")
                || is_name(p, "local")
                || is_name(p, "goto")
        }) || at(i + 1) == Some(&Tok::Op("="))
        {
            continue;
        }
        let kind = if lazy { SiteKind::Lazy } else { SiteKind::Plain };
        let literal = match (at(i + 1), at(i + 2), at(i + 3)) {
            (Some(Tok::Str), _, _) => Some((string_value(src, &tokens[i + 1]), i + 1)),
            // `require("a")`, and `require("a", extra)`: require ignores further arguments.
            (Some(Tok::Op("(")), Some(Tok::Str), Some(Tok::Op(")" | ","))) => {
                Some((string_value(src, &tokens[i + 2]), i + 2))
            }
            _ => None,
        };
        match literal {
            Some((name, arg)) => sites.push(Site {
                name: Some(name),
                kind,
                line: t.line,
                col: t.col,
                span: tokens[arg].span.clone(),
            }),
            None => {
                // Underline `require` and, for a call, its argument list up to the `)`.
                let mut end = t.span.end;
                if at(i + 1) == Some(&Tok::Op("(")) {
                    let mut depth = 0usize;
                    for tk in &tokens[i + 1..] {
                        match tk.tok {
                            Tok::Op("(") => depth += 1,
                            Tok::Op(")") => depth = depth.saturating_sub(1),
                            Tok::Eof => break,
                            _ => {}
                        }
                        end = tk.span.end;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                sites.push(Site {
                    name: None,
                    kind,
                    line: t.line,
                    col: t.col,
                    span: t.span.start..end,
                });
            }
        }
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<(Option<String>, SiteKind, u32)> {
        scan(src.as_bytes())
            .unwrap()
            .into_iter()
            .map(|s| (s.name.map(|n| String::from_utf8(n).unwrap()), s.kind, s.line))
            .collect()
    }

    fn lit(n: &str, k: SiteKind, line: u32) -> (Option<String>, SiteKind, u32) {
        (Some(n.to_owned()), k, line)
    }

    #[test]
    fn literal_forms() {
        let src = r#"local a = require "a.b"
local b = require('c')
local c = require [[d.e]]
local f = require 'g'.field
require("h"):method()
local i = require [==[i]==]
local j = require ( "j" )
"#;
        use SiteKind::Plain;
        assert_eq!(
            names(src),
            vec![
                lit("a.b", Plain, 1),
                lit("c", Plain, 2),
                lit("d.e", Plain, 3),
                lit("g", Plain, 4),
                lit("h", Plain, 5),
                lit("i", Plain, 6),
                lit("j", Plain, 7)
            ]
        );
    }

    #[test]
    fn lazy_inside_functions_plain_after() {
        let src = "local function f()\n  if x then return require('lazy') end\n  for i = 1, 2 do end\n  while true do break end\n  repeat until true\nend\nlocal g = function() require 'lazy2' end\nrequire 'top'\n";
        assert_eq!(
            names(src),
            vec![
                lit("lazy", SiteKind::Lazy, 2),
                lit("lazy2", SiteKind::Lazy, 7),
                lit("top", SiteKind::Plain, 8)
            ]
        );
    }

    #[test]
    fn optional_and_non_literal() {
        let src = "local ok, m = pcall(require, 'opt')\nlocal n = require(name)\nlocal p = require('p.' .. x)\nlocal req = require\nlocal q = pcall(require, modname)\n";
        assert_eq!(
            names(src),
            vec![
                lit("opt", SiteKind::Optional, 1),
                (None, SiteKind::Plain, 2),
                (None, SiteKind::Plain, 3),
                (None, SiteKind::Plain, 4),
                (None, SiteKind::Optional, 5)
            ]
        );
    }

    #[test]
    fn not_requires() {
        let src = r#"-- require "comment"
--[[ require "long comment" ]]
--[==[ require "level 2" ]] still comment ]==]
local s = "require 'in a string'"
local t = [[require "in a long string"]]
obj.require("field")
obj:require("method")
local function require(x) return x end
local require = nil
"#;
        assert_eq!(names(src), vec![]);
    }

    #[test]
    fn escapes_are_decoded() {
        let src = "require 'a\\46b'\nrequire \"c\\x2ed\"\nrequire 'e\\z\n   f'\nrequire '\\u{66}g'";
        assert_eq!(
            names(src),
            vec![
                lit("a.b", SiteKind::Plain, 1),
                lit("c.d", SiteKind::Plain, 2),
                lit("ef", SiteKind::Plain, 3),
                lit("fg", SiteKind::Plain, 5)
            ]
        );
    }

    #[test]
    fn hex_numbers_take_no_sign_after_e() {
        // `0x1e-require"m1"` is 0x1e minus a call (review finding: once read as one number).
        assert_eq!(names("local n = 0x1e-require\"m1\"\n"), vec![lit("m1", SiteKind::Plain, 1)]);
        assert_eq!(
            names("local n = 1e-2 + 0x1p-2\nrequire 'x'"),
            vec![lit("x", SiteKind::Plain, 2)]
        );
    }

    #[test]
    fn names_that_are_not_calls_of_require() {
        let src = "local t = { require = true }\nrequire = require\ngoto require\n::require::\nlocal m = require('m4', 'extra')\n";
        // Line 2's right-hand side is the only use of require as a value.
        assert_eq!(names(src), vec![(None, SiteKind::Plain, 2), lit("m4", SiteKind::Plain, 5)]);
    }

    #[test]
    fn numbers_shebang_bom_and_line_counting() {
        let src = "\u{feff}#!/usr/bin/env luajit\nlocal n = 0x1p4 + 1e-3 + 42ULL + 3i + .5 + 0xffLL\nlocal s = [[\nline3\r\nline4]]\r\nrequire 'after'\n";
        assert_eq!(names(src), vec![lit("after", SiteKind::Plain, 6)]);
    }

    #[test]
    fn columns_and_spans() {
        let src = "local x = require(\"mod\")";
        let s = &scan(src.as_bytes()).unwrap()[0];
        assert_eq!((s.line, s.col), (1, 11));
        assert_eq!(&src[s.span.clone()], "\"mod\"");
    }

    #[test]
    fn unfinished_things_are_errors() {
        for (src, line) in
            [("local s = [[abc", 1), ("\n--[==[ x ]]", 2), ("x = 'abc\n'", 1), ("x = \"abc", 1)]
        {
            let err = scan(src.as_bytes()).unwrap_err();
            assert_eq!(err.line, line, "{src:?}: {err}");
        }
    }

    #[test]
    fn non_utf8_bytes_are_fine() {
        let src = b"local s = '\xff\xfe'\n-- \xc3\x28 invalid\nrequire 'ok'\n";
        assert_eq!(scan(src).unwrap().len(), 1);
    }
}
