//! Finds the `require` sites of a Lua file with a real Lua 5.1/LuaJIT lexer (long strings and
//! comments of any level, escapes, LuaJIT number suffixes, shebang, BOM), so that requires inside
//! strings or comments are never mistaken for code.
//!
//! What refers to `require` here: the global `require`, `_G.require`, and a local bound to one of
//! them (`local req = require`, `local require = require`). A local that binds `require` (or an
//! alias) to anything else shadows it until the end of its block, as Lua's scoping rules say.
//!
//! How a site runs (its [`SiteKind`]), which decides whether luajit would need the module at
//! start-up:
//! - [`SiteKind::Plain`]: at the top level of the chunk, not inside a function, an `if`, a loop
//!   body or after `and`/`or` (`package.loaded.x or require "x"`);
//! - [`SiteKind::Conditional`]: in an `if` branch, a loop body, or after `and`/`or`;
//! - [`SiteKind::Lazy`]: inside a function, which may never be called;
//! - [`SiteKind::Optional`]: `pcall(require, "x")`, `xpcall(require, handler, "x")` (also through
//!   `_G.pcall`, `_G.require` or an alias): the program copes with its absence.
//!
//! What is required (its [`Target`]): a literal name (`require "a.b"`, `require('a.b')`,
//! `require [[a.b]]`, `require 'a'.f`, `require("a"):m()`, or a local string constant
//! `local m = "a.b"; require(m)`); a literal prefix of a computed name (`require("p." .. x)`,
//! `require(("p.%s"):format(x))`, `require(string.format("p.%s", x))`, or a local constant
//! `prefix .. x`); a name computed with no literal prefix; or `require` used as a value
//! (stored or passed along, not called here).
//!
//! Anything the lexer cannot tokenize (an unfinished string, say) is a [`ScanError`]; the caller
//! asks the real LuaJIT parser for the authoritative message.

use std::ops::Range;

/// How a module is required, from the strongest claim on it to the weakest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SiteKind {
    /// At the top level of the file, unconditionally: runs when the file is loaded.
    Plain,
    /// In an `if` branch, a loop body or after `and`/`or`: runs only if the condition holds.
    Conditional,
    /// Inside a function: runs only if that function is called.
    Lazy,
    /// `pcall(require, "x")`: the program copes with its absence.
    Optional,
}

impl std::fmt::Display for SiteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SiteKind::Plain => "plain",
            SiteKind::Conditional => "conditional",
            SiteKind::Lazy => "lazy",
            SiteKind::Optional => "optional",
        })
    }
}

/// What a site requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A module name known at bundle time.
    Literal(Vec<u8>),
    /// A name computed at run time that starts with this literal text (`"plugins." .. x`).
    Prefix(Vec<u8>),
    /// One of several literal names, known at bundle time (a local assigned several string
    /// literals: `local backend = "a"; if x then backend = "b" end; require(backend)`).
    OneOf(Vec<Vec<u8>>),
    /// A name computed at run time, with no literal prefix.
    Computed,
    /// `require` used as a value (assigned to a global, stored in a table, passed to a
    /// function other than `pcall`/`xpcall`): what it will load is not known here.
    Value,
    /// Not a require: a string literal elsewhere that reads as a dotted module name
    /// (`"luarocks.cmd.init"` in a table of commands), or as a format for one (`"pkg.fs.%s"`,
    /// with `prefix` set and the text up to the `%`). The graph stage takes it as a hint for
    /// programs that pass module names around before requiring them.
    Mention { text: Vec<u8>, prefix: bool },
    /// Not a require: the code names `loadlib` (`package.loadlib`, or an alias of it), which
    /// loads C code; it decides whether the executable can be linked statically.
    Loadlib,
    /// Not a require: the program provides this module itself, by assigning
    /// `package.preload[name]` or `package.loaded[name]` (amalgamated single-file programs).
    Provides(Vec<u8>),
}

/// One place where a file requires a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub target: Target,
    pub kind: SiteKind,
    /// 1-based line and column (in bytes) of the `require` token.
    pub line: u32,
    pub col: u32,
    /// Byte range to underline: the name literal, or the `require` expression.
    pub span: Range<usize>,
}

impl Site {
    /// The literal module name, if the site has one.
    pub fn name(&self) -> Option<&[u8]> {
        match &self.target {
            Target::Literal(n) => Some(n),
            _ => None,
        }
    }
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

/// A block whose `end` (or `until`) the scanner matches, to know how a site would run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Function,
    /// `while`/`for` before its `do`: the header runs unconditionally.
    LoopHead,
    /// A loop body (`while`/`for` after `do`, `repeat`): may run zero times.
    Loop,
    /// `if` before `then`: the first condition runs unconditionally.
    IfHead,
    /// The branches of an `if`.
    If,
    /// A plain `do ... end` block.
    Do,
}

/// What a local name is bound to, from its declaration to the end of its block.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    /// `require` itself (`local req = require`, `local require = _G.require`).
    Require,
    /// Anything else: a local called `require` that is not the real one, or an alias or
    /// constant redeclared.
    Other,
    /// A local holding only string literals (`local prefix = "plugins."`, perhaps assigned
    /// another literal later): every value it may have.
    Const(Vec<Vec<u8>>),
}

/// The site finder: walks the token list once, tracking blocks and local bindings.
struct Finder<'a> {
    src: &'a [u8],
    toks: Vec<Token>,
    blocks: Vec<Block>,
    /// Local bindings in declaration order, each with the block depth it belongs to.
    bindings: Vec<(&'a [u8], Binding, usize)>,
    /// Bindings of a `local` statement whose expressions are still being walked: a local is in
    /// scope only after its statement (`local require = require "x"` calls the global one).
    /// Each becomes a binding when the walk reaches its token index.
    pending: Vec<(usize, &'a [u8], Binding, usize)>,
    /// Set once the program assigns a function of its own to the global `require`: later sites
    /// may go through it, so none of them is judged load-time.
    require_replaced: bool,
    /// The token where a `return` statement at the top level of the chunk ends: whatever
    /// follows never runs (the returned expressions themselves do).
    returned: Option<usize>,
    /// Indices of `require` references already accounted for (the right-hand side of an alias,
    /// the function argument of `pcall`).
    consumed: Vec<usize>,
    sites: Vec<Site>,
}

impl<'a> Finder<'a> {
    fn text(&self, i: usize) -> &'a [u8] {
        let src: &'a [u8] = self.src;
        self.toks.get(i).map_or(b"", |t| &src[t.span.clone()])
    }

    fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i).map(|t| &t.tok)
    }

    fn is_op(&self, i: usize, op: &'static str) -> bool {
        self.tok(i) == Some(&Tok::Op(op))
    }

    fn is_name(&self, i: usize, name: &str) -> bool {
        self.tok(i) == Some(&Tok::Name) && self.text(i) == name.as_bytes()
    }

    /// Whether token `i` is preceded by something that makes a name not a plain variable
    /// reference: a field or method access, a label, `goto`, `function` or `local`.
    fn is_qualified(&self, i: usize) -> bool {
        let Some(p) = i.checked_sub(1) else { return false };
        matches!(self.tok(p), Some(Tok::Op("." | ":" | "::")))
            || self.is_name(p, "goto")
            || self.is_name(p, "function")
            || self.is_name(p, "local")
    }

    /// Whether a new local called `name` must be recorded to shadow something: `require`
    /// itself, or a name bound to an alias or a string constant. Other locals change nothing
    /// the scanner looks at, and are not kept (the table stays short on large files).
    fn tracked(&self, name: &[u8]) -> bool {
        name == b"require" || self.lookup(name).is_some()
    }

    fn lookup(&self, name: &[u8]) -> Option<&Binding> {
        self.bindings.iter().rev().find(|(n, _, _)| *n == name).map(|(_, b, _)| b)
    }

    /// If a reference to `require` starts at token `i`, how many tokens it spans: `require`
    /// (unless shadowed), `_G.require`, or a local alias.
    fn require_ref(&self, i: usize) -> Option<usize> {
        if self.tok(i) != Some(&Tok::Name) || self.is_qualified(i) {
            return None;
        }
        let name = self.text(i);
        if name == b"_G" {
            let field = self.is_op(i + 1, ".") && self.is_name(i + 2, "require");
            return (field && !self.is_op(i + 3, "=")).then_some(3);
        }
        if self.is_op(i + 1, "=") {
            // An assignment to it, or a table field called so.
            return None;
        }
        match self.lookup(name) {
            Some(Binding::Require) => Some(1),
            None if name == b"require" => Some(1),
            _ => None,
        }
    }

    /// Whether token `i` is `pcall`/`xpcall` or `_G.pcall`/`_G.xpcall` ending at `i`; returns
    /// `Some(true)` for xpcall.
    fn protected_call_ending_at(&self, i: usize) -> Option<bool> {
        let xpcall = match self.text(i) {
            b"pcall" => false,
            b"xpcall" => true,
            _ => return None,
        };
        if self.tok(i) != Some(&Tok::Name) {
            return None;
        }
        let via_g = i >= 2 && self.is_op(i - 1, ".") && self.is_name(i - 2, "_G");
        let start = if via_g { i - 2 } else { i };
        if via_g && self.is_qualified(start) {
            return None;
        }
        if !via_g && self.is_qualified(i) {
            return None;
        }
        Some(xpcall)
    }

    /// Whether token `i` closes an argument (`)` or `,`).
    fn closes_arg(&self, i: usize) -> bool {
        self.is_op(i, ")") || self.is_op(i, ",")
    }

    fn string_at(&self, i: usize) -> Option<Vec<u8>> {
        (self.tok(i) == Some(&Tok::Str)).then(|| string_value(self.src, &self.toks[i]))
    }

    /// What the argument expression starting at token `a` names, and the token to underline
    /// for a literal.
    fn argument(&self, a: usize) -> (Target, Option<usize>) {
        let before_percent = |s: Vec<u8>| {
            let end = s.iter().position(|&c| c == b'%').unwrap_or(s.len());
            s[..end].to_vec()
        };
        if let Some(s) = self.string_at(a) {
            if self.closes_arg(a + 1) {
                return (Target::Literal(s), Some(a));
            }
            if self.is_op(a + 1, "..") {
                return (Target::Prefix(s), None);
            }
        }
        // ("p.%s"):format(x)
        if self.is_op(a, "(") && self.is_op(a + 2, ")") {
            if let Some(s) = self.string_at(a + 1) {
                if self.is_op(a + 3, ":") && self.is_name(a + 4, "format") {
                    return (Target::Prefix(before_percent(s)), None);
                }
                if self.closes_arg(a + 3) {
                    return (Target::Literal(s), Some(a + 1));
                }
                if self.is_op(a + 3, "..") {
                    return (Target::Prefix(s), None);
                }
            }
        }
        // string.format("p.%s", x)
        if self.is_name(a, "string")
            && self.is_op(a + 1, ".")
            && self.is_name(a + 2, "format")
            && self.is_op(a + 3, "(")
        {
            if let Some(s) = self.string_at(a + 4) {
                return (Target::Prefix(before_percent(s)), None);
            }
        }
        if self.tok(a) == Some(&Tok::Name) {
            if let Some(Binding::Const(values)) = self.lookup(self.text(a)) {
                match values.as_slice() {
                    [v] if self.closes_arg(a + 1) => return (Target::Literal(v.clone()), Some(a)),
                    [v] if self.is_op(a + 1, "..") => return (Target::Prefix(v.clone()), None),
                    [_, _, ..] if self.closes_arg(a + 1) => {
                        return (Target::OneOf(values.clone()), Some(a))
                    }
                    _ => {}
                }
            }
        }
        (Target::Computed, None)
    }

    /// From token `k`, the index of the first `,` or `)` not nested in brackets or blocks
    /// (the end of one argument expression).
    fn skip_argument(&self, k: usize) -> usize {
        let mut depth = 0usize;
        let mut i = k;
        while let Some(t) = self.tok(i) {
            match t {
                Tok::Eof => return i,
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") if depth == 0 => return i,
                Tok::Op(")" | "]" | "}") => depth -= 1,
                Tok::Op(",") if depth == 0 => return i,
                Tok::Name => match self.text(i) {
                    // `while`/`for` open their block with `do`.
                    b"function" | b"if" | b"do" | b"repeat" => depth += 1,
                    b"end" | b"until" => depth = depth.saturating_sub(1),
                    _ => {}
                },
                _ => {}
            }
            i += 1;
        }
        i
    }

    /// The byte offset just after the `)` matching the `(` at token `open`.
    fn paren_end(&self, open: usize) -> usize {
        let mut depth = 0usize;
        let mut end = self.toks.get(open).map_or(0, |t| t.span.end);
        for t in self.toks.iter().skip(open) {
            match t.tok {
                Tok::Op("(") => depth += 1,
                Tok::Op(")") => depth = depth.saturating_sub(1),
                Tok::Eof => break,
                _ => {}
            }
            end = t.span.end;
            if depth == 0 {
                break;
            }
        }
        end
    }

    /// How code at token `i` runs: inside a function, a branch or loop body, in the right
    /// operand of `and`/`or`, after the chunk returned, or through a `require` the program
    /// replaced.
    fn context(&self, i: usize) -> SiteKind {
        if self.blocks.contains(&Block::Function) {
            SiteKind::Lazy
        } else if self.blocks.iter().any(|b| matches!(b, Block::If | Block::Loop))
            || self.returned.is_some_and(|end| i >= end)
            || self.require_replaced
            || self.after_short_circuit(i)
        {
            SiteKind::Conditional
        } else {
            SiteKind::Plain
        }
    }

    /// Whether token `i` is in the right operand of an `and`/`or` of its statement: walking
    /// back to the statement's start, an `and`/`or` not inside a bracket closed before `i`.
    fn after_short_circuit(&self, i: usize) -> bool {
        let mut depth = 0i32;
        let mut k = i;
        while k > 0 && i - k < 256 {
            k -= 1;
            // Two operands in a row (`x = f 'a'  require 'b'`): a statement ended between them.
            if depth <= 0 && self.ends_operand(k) && self.starts_operand(k + 1) {
                return false;
            }
            match self.tok(k) {
                Some(Tok::Op(")" | "]" | "}")) => depth += 1,
                Some(Tok::Op("(" | "[" | "{")) => depth -= 1,
                Some(Tok::Op(";")) if depth <= 0 => return false,
                Some(Tok::Op("=")) if depth == 0 => return false,
                Some(Tok::Name) if depth <= 0 => match self.text(k) {
                    b"and" | b"or" => return true,
                    b"local" | b"return" | b"do" | b"then" | b"else" | b"end" | b"repeat"
                    | b"until" | b"while" | b"if" | b"elseif" | b"for" | b"in" | b"function"
                    | b"goto" | b"break" => return false,
                    _ => {}
                },
                _ => {}
            }
        }
        false
    }

    fn push(&mut self, at: usize, target: Target, kind: SiteKind, span: Range<usize>) {
        let t = &self.toks[at];
        self.sites.push(Site { target, kind, line: t.line, col: t.col, span });
    }

    /// The parameters of the function whose keyword is token `i`: locals of its body.
    fn parameters(&mut self, i: usize) {
        let mut k = i + 1;
        // Past the name, if any: `function a.b:c(`.
        while matches!(self.tok(k), Some(Tok::Name | Tok::Op("." | ":"))) {
            k += 1;
        }
        if !self.is_op(k, "(") {
            return;
        }
        k += 1;
        let depth = self.blocks.len();
        while let Some(t) = self.tok(k) {
            match t {
                Tok::Name => {
                    let name = self.text(k);
                    if self.tracked(name) {
                        self.bindings.push((name, Binding::Other, depth));
                    }
                    self.consumed.push(k);
                }
                Tok::Op(")") | Tok::Eof => break,
                _ => {}
            }
            k += 1;
        }
    }

    /// Updates the block stack for keyword token `i`.
    fn block_keyword(&mut self, i: usize) {
        match self.text(i) {
            b"function" => {
                self.blocks.push(Block::Function);
                self.parameters(i);
            }
            b"while" | b"for" => self.blocks.push(Block::LoopHead),
            b"do" => match self.blocks.last_mut() {
                Some(b @ Block::LoopHead) => *b = Block::Loop,
                _ => self.blocks.push(Block::Do),
            },
            b"if" => self.blocks.push(Block::IfHead),
            b"then" => {
                if let Some(b @ Block::IfHead) = self.blocks.last_mut() {
                    *b = Block::If;
                }
            }
            // A new branch: the previous branch's locals go out of scope.
            b"else" | b"elseif" => {
                let depth = self.blocks.len();
                self.bindings.retain(|(_, _, d)| *d < depth);
            }
            b"repeat" => self.blocks.push(Block::Loop),
            b"end" | b"until" => {
                self.blocks.pop();
                let depth = self.blocks.len();
                self.bindings.retain(|(_, _, d)| *d <= depth);
            }
            _ => {}
        }
    }

    /// `local ...` at token `i`: records what the declared names are bound to.
    fn local(&mut self, i: usize) {
        let depth = self.blocks.len();
        if self.is_name(i + 1, "function") {
            if self.tok(i + 2) == Some(&Tok::Name) {
                let name = self.text(i + 2);
                if self.tracked(name) {
                    self.bindings.push((name, Binding::Other, depth));
                }
            }
            return;
        }
        let mut names = Vec::new();
        let mut k = i + 1;
        while self.tok(k) == Some(&Tok::Name) {
            names.push(self.text(k));
            // A declared name is not a use of what it names.
            self.consumed.push(k);
            if !self.is_op(k + 1, ",") {
                k += 1;
                break;
            }
            k += 2;
        }
        // Each name is bound to its own expression: `local a, require = f, require` keeps
        // `require`; `local x, y = 1` binds `y` to nil.
        let mut bindings = vec![Binding::Other; names.len()];
        // In scope from the end of the statement (the last expression walked), not before.
        let mut from = k;
        if self.is_op(k, "=") {
            let mut at = k + 1;
            for (i, binding) in bindings.iter_mut().enumerate() {
                // Only a lone name or string matters here: seen without walking the expression.
                let simple =
                    if let Some(n) = self.require_ref(at).filter(|n| self.ends_item(at + n)) {
                        self.consumed.push(at);
                        *binding = Binding::Require;
                        Some(at + n)
                    } else if let Some(s) = self.string_at(at).filter(|_| self.ends_item(at + 1)) {
                        *binding = Binding::Const(vec![s]);
                        Some(at + 1)
                    } else {
                        None
                    };
                let last = i + 1 == names.len();
                // The end of a longer expression is walked for only a few tokens when it is the
                // last one: its locals are then in scope a little early, which matters only for
                // a require inside a long initialiser naming the local itself.
                let end = match simple {
                    Some(end) => end,
                    None if last => self.expression_end_within(at, 64),
                    None => self.expression_end(at),
                };
                from = end;
                if last || !self.is_op(end, ",") {
                    break;
                }
                at = end + 1;
            }
        }
        for (name, binding) in names.into_iter().zip(bindings) {
            if binding == Binding::Other && !self.tracked(name) {
                continue;
            }
            self.pending.push((from, name, binding, depth));
        }
    }

    /// `package.preload["a.b"] = ...`, `package.loaded.x = ...` at token `i`: a module the
    /// program provides itself.
    fn provides(&mut self, i: usize) {
        if !self.is_name(i, "package") || self.is_qualified(i) || !self.is_op(i + 1, ".") {
            return;
        }
        if !(self.is_name(i + 2, "preload") || self.is_name(i + 2, "loaded")) {
            return;
        }
        let (name, at, next) = if self.is_op(i + 3, ".") && self.tok(i + 4) == Some(&Tok::Name) {
            (self.text(i + 4).to_vec(), i + 4, i + 5)
        } else if self.tok(i + 3) == Some(&Tok::Op("[")) && self.tok(i + 5) == Some(&Tok::Op("]")) {
            match self.string_at(i + 4) {
                Some(s) => (s, i + 4, i + 6),
                None => return,
            }
        } else {
            return;
        };
        if self.is_op(next, "=") {
            let span = self.toks[at].span.clone();
            self.push(i, Target::Provides(name), SiteKind::Lazy, span);
        }
    }

    /// Moves the pending bindings whose statement has ended by token `i` into scope.
    fn activate(&mut self, i: usize) {
        if self.pending.iter().any(|p| p.0 <= i) {
            let (ready, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.pending).into_iter().partition(|p| p.0 <= i);
            self.pending = later;
            for (_, name, binding, depth) in ready {
                self.bindings.push((name, binding, depth));
            }
        }
    }

    /// Whether token `i` ends an item of an expression list: a `,`, or the end of the statement.
    fn ends_item(&self, i: usize) -> bool {
        match self.tok(i) {
            None | Some(Tok::Eof) | Some(Tok::Op("," | ";" | ")")) => true,
            Some(Tok::Name) => !matches!(self.text(i), b"and" | b"or"),
            _ => false,
        }
    }

    /// The token index where the expression list starting at `k` ends.
    fn statement_end(&self, mut k: usize) -> usize {
        loop {
            let end = self.expression_end(k);
            if !self.is_op(end, ",") {
                return end;
            }
            k = end + 1;
        }
    }

    /// What a statement keyword or an assignment at Name token `i` changes: a top-level
    /// `return` ends the chunk; assigning a local string or alias makes it unknown; assigning
    /// the global `require` (or defining `function require`) replaces it.
    fn statement_effects(&mut self, i: usize) {
        if self.is_name(i, "return")
            && self.blocks.iter().all(|b| *b == Block::Do)
            && self.returned.is_none()
        {
            self.returned = Some(self.statement_end(i + 1));
        }
        let assigned = self.is_op(i + 1, "=")
            && !i.checked_sub(1).is_some_and(|p| {
                matches!(self.tok(p), Some(Tok::Op("." | ":" | "{" | ",")))
                    || self.is_name(p, "local")
            });
        let defined = i.checked_sub(1).is_some_and(|p| {
            self.is_name(p, "function")
                && !p.checked_sub(1).is_some_and(|q| self.is_name(q, "local"))
        }) && !self.is_op(i + 1, ".")
            && !self.is_op(i + 1, ":");
        if !(assigned || defined) {
            return;
        }
        let name = self.text(i);
        // `require = require` or `require = _G.require` changes nothing.
        let rhs = i + 2;
        let same =
            assigned && self.require_ref(rhs).is_some_and(|n| self.expression_end(rhs) == rhs + n);
        // A string literal assigned to a local that only ever held literals adds a value.
        let literal =
            self.string_at(rhs).filter(|_| assigned && self.expression_end(rhs) == rhs + 1);
        match self.bindings.iter_mut().rev().find(|(n, _, _)| *n == name) {
            Some((_, Binding::Const(values), _)) if literal.is_some() => {
                values.extend(literal);
            }
            Some(b) if !same => b.1 = Binding::Other,
            None if name == b"require" && !same => self.require_replaced = true,
            _ => {}
        }
    }

    /// The index just past the expression starting at token `k` in an expression list: the
    /// next `,` or `;` not nested in brackets or a function body, or the start of the next
    /// statement.
    fn expression_end(&self, k: usize) -> usize {
        // Only short expressions matter here (a name, a string); a long one (a function body)
        // is cut short, which binds the names after it to nothing: walking every nested body to
        // its end would make deep nesting quadratic.
        self.expression_end_within(k, 512)
    }

    /// [`Finder::expression_end`], walking at most `limit` tokens.
    fn expression_end_within(&self, k: usize, limit: usize) -> usize {
        let mut depth = 0usize;
        let mut i = k;
        while let Some(t) = self.tok(i) {
            if i - k > limit {
                return i;
            }
            match t {
                Tok::Eof => return i,
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") if depth == 0 => return i,
                Tok::Op(")" | "]" | "}") => depth -= 1,
                Tok::Op("," | ";") if depth == 0 => return i,
                Tok::Name => match self.text(i) {
                    b"function" => depth += 1,
                    b"end" if depth > 0 => depth -= 1,
                    // Only a new statement starts with these outside a function body.
                    b"local" | b"return" | b"break" | b"goto" | b"if" | b"do" | b"while"
                    | b"for" | b"repeat" | b"until" | b"end" | b"else" | b"elseif" | b"then"
                        if depth == 0 =>
                    {
                        return i
                    }
                    _ => {}
                },
                _ => {}
            }
            // Two operands in a row (`f() x = 1`): the next statement has begun.
            if depth == 0 && i > k && self.ends_operand(i - 1) && self.starts_operand(i) {
                return i;
            }
            i += 1;
        }
        i
    }

    /// Whether token `i` can end an operand (a name, a literal, a closing bracket).
    fn ends_operand(&self, i: usize) -> bool {
        match self.tok(i) {
            Some(Tok::Name) => !matches!(
                self.text(i),
                b"and" | b"or" | b"not" | b"function" | b"return" | b"local" | b"in"
            ),
            Some(Tok::Str | Tok::Number | Tok::Op(")" | "]" | "}")) => true,
            _ => false,
        }
    }

    /// Whether token `i` can only start a new operand (a name or a number; a string or bracket
    /// may continue a call).
    fn starts_operand(&self, i: usize) -> bool {
        match self.tok(i) {
            Some(Tok::Name) => !matches!(self.text(i), b"and" | b"or" | b"end"),
            Some(Tok::Number) => true,
            _ => false,
        }
    }

    /// The site of the `require` reference spanning tokens `i..i + n`.
    fn reference(&mut self, i: usize, n: usize) {
        let ref_span = self.toks[i].span.start..self.toks[i + n - 1].span.end;
        // pcall(require, "x") / xpcall(require, handler, "x"), through `_G.` too.
        if i >= 2 && self.is_op(i - 1, "(") && self.is_op(i + n, ",") {
            if let Some(xpcall) = self.protected_call_ending_at(i - 2) {
                let mut arg = i + n + 1;
                if xpcall {
                    let end = self.skip_argument(arg);
                    arg = if self.is_op(end, ",") { end + 1 } else { end };
                }
                let (target, literal) = if self.closes_arg(arg) && !self.is_op(arg, ",") {
                    (Target::Computed, None)
                } else {
                    self.argument(arg)
                };
                let span = match literal {
                    Some(l) => self.toks[l].span.clone(),
                    None => ref_span.start..self.paren_end(i - 1),
                };
                self.push(i, target, SiteKind::Optional, span);
                return;
            }
        }
        let kind = self.context(i);
        let next = i + n;
        if let Some(s) = self.string_at(next) {
            let span = self.toks[next].span.clone();
            self.push(i, Target::Literal(s), kind, span);
        } else if self.is_op(next, "(") {
            let (target, literal) = self.argument(next + 1);
            let span = match literal {
                Some(l) => self.toks[l].span.clone(),
                None => ref_span.start..self.paren_end(next),
            };
            self.push(i, target, kind, span);
        } else if self.is_op(next, "{") {
            self.push(i, Target::Computed, kind, ref_span);
        } else if !self.consumed.contains(&i) {
            self.push(i, Target::Value, kind, ref_span);
        }
    }
}

/// Lists the require sites of `src` in source order.
pub fn scan(src: &[u8]) -> Result<Vec<Site>, ScanError> {
    let mut lexer = Lexer::new(src);
    let mut toks = Vec::new();
    loop {
        let t = lexer.next()?;
        let eof = t.tok == Tok::Eof;
        toks.push(t);
        if eof {
            break;
        }
    }
    let mut f = Finder {
        src,
        toks,
        blocks: Vec::new(),
        bindings: Vec::new(),
        pending: Vec::new(),
        require_replaced: false,
        returned: None,
        consumed: Vec::new(),
        sites: Vec::new(),
    };
    let mut i = 0;
    while i < f.toks.len() {
        f.activate(i);
        if f.tok(i) == Some(&Tok::Name) {
            f.block_keyword(i);
            f.statement_effects(i);
            if f.is_name(i, "local") {
                f.local(i);
            }
        }
        f.provides(i);
        if let Some(n) = f.require_ref(i) {
            f.reference(i, n);
            // `_G.require` is one reference: its `require` token is not another.
            i += n;
            continue;
        }
        i += 1;
    }
    f.mentions();
    f.loadlib();
    Ok(f.sites)
}

/// Whether `s` reads as a dotted module name of at least `parts` parts: identifiers (a `-`
/// allowed after the first character, as in LuaRocks' `a.v1-b`), joined by dots.
fn dotted_name(s: &[u8], parts: usize) -> bool {
    let mut n = 0;
    for part in s.split(|&c| c == b'.') {
        let ok = part.first().is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
            && part.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
        if !ok {
            return false;
        }
        n += 1;
    }
    n >= parts
}

impl Finder<'_> {
    /// The first `loadlib` name in the code (`package.loadlib`, or an alias of it), as a
    /// [`Target::Loadlib`] site after the others.
    fn loadlib(&mut self) {
        let found = self
            .toks
            .iter()
            .find(|t| t.tok == Tok::Name && &self.src[t.span.clone()] == b"loadlib");
        if let Some(t) = found {
            let site = Site {
                target: Target::Loadlib,
                kind: SiteKind::Lazy,
                line: t.line,
                col: t.col,
                span: t.span.clone(),
            };
            self.sites.push(site);
        }
    }

    /// The string literals that are not the name of a require but read as a module name, or a
    /// format for one, as [`Target::Mention`] sites after the requires.
    fn mentions(&mut self) {
        let used: Vec<Range<usize>> = self
            .sites
            .iter()
            .filter(|s| matches!(s.target, Target::Literal(_)))
            .map(|s| s.span.clone())
            .collect();
        for j in 0..self.toks.len() {
            let t = &self.toks[j];
            // A module name has a dot (a `\046` escape for one is not worth decoding for).
            if t.tok != Tok::Str
                || !self.src[t.span.clone()].contains(&b'.')
                || used.contains(&t.span)
            {
                continue;
            }
            let value = string_value(self.src, t);
            let target = if dotted_name(&value, 2) {
                Target::Mention { text: value, prefix: false }
            } else if let Some(stem) = value.strip_suffix(b".%s").filter(|v| dotted_name(v, 1)) {
                let mut text = stem.to_vec();
                text.push(b'.');
                Target::Mention { text, prefix: true }
            } else {
                continue;
            };
            self.sites.push(Site {
                target,
                kind: SiteKind::Lazy,
                line: t.line,
                col: t.col,
                span: t.span.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (Option<String>, SiteKind, u32);

    fn names(src: &str) -> Vec<Row> {
        scan(src.as_bytes())
            .unwrap()
            .into_iter()
            .filter_map(|s| {
                let name = match s.target {
                    Target::Literal(n) => Some(String::from_utf8(n).unwrap()),
                    Target::Prefix(p) => Some(format!("{}*", String::from_utf8(p).unwrap())),
                    Target::Computed | Target::Value => None,
                    Target::OneOf(v) => Some(format!("{} of them", v.len())),
                    Target::Mention { .. } | Target::Provides(_) | Target::Loadlib => return None,
                };
                Some((name, s.kind, s.line))
            })
            .collect()
    }

    fn targets(src: &str) -> Vec<Target> {
        let all = scan(src.as_bytes()).unwrap().into_iter().map(|s| s.target);
        all.filter(|t| !matches!(t, Target::Mention { .. } | Target::Provides(_) | Target::Loadlib))
            .collect()
    }

    #[test]
    fn modules_the_program_provides_itself() {
        let src = "package.preload['a.b'] = function() return 1 end\npackage.loaded.c = {}\nlocal x = package.preload['d']\nt.package.loaded.e = 1\n";
        let provided: Vec<Target> = scan(src.as_bytes())
            .unwrap()
            .into_iter()
            .map(|s| s.target)
            .filter(|t| matches!(t, Target::Provides(_)))
            .collect();
        assert_eq!(
            provided,
            vec![Target::Provides(b"a.b".to_vec()), Target::Provides(b"c".to_vec())]
        );
    }

    #[test]
    fn locals_are_in_scope_after_their_statement_and_branch() {
        use SiteKind::{Conditional, Plain};
        // The right-hand side calls the global require; each branch has its own locals.
        let src = "do local require = require 'present' end\nif x then local require = print else require 'els' end\nlocal backend = 'fast'\nbackend = 'slow'\nrequire(backend)\nlocal other = 'x'\nother = f()\nrequire(other)\n";
        assert_eq!(
            names(src),
            vec![
                lit("present", Plain, 1),
                lit("els", Conditional, 2),
                lit("2 of them", Plain, 5),
                (None, Plain, 8)
            ]
        );
    }

    #[test]
    fn nested_short_circuits_replaced_require_and_top_level_return() {
        use SiteKind::{Conditional, Plain};
        let src = "local m = x and (require 'a')\nlocal n = x and not require 'b'\nlocal o = y or { require 'c' }\nrequire 'd'\nrequire = function(n) return n end\nrequire 'e'\n";
        assert_eq!(
            names(src),
            vec![
                lit("a", Conditional, 1),
                lit("b", Conditional, 2),
                lit("c", Conditional, 3),
                lit("d", Plain, 4),
                lit("e", Conditional, 6)
            ]
        );
        let early = "print(1)\ndo return end\nrequire 'dead'\n";
        assert_eq!(names(early), vec![lit("dead", Conditional, 3)]);
        let not_early = "local function f() return 1 end\nif x then return end\nrequire 'live'\nreturn require 'returned'\n";
        assert_eq!(names(not_early), vec![lit("live", Plain, 3), lit("returned", Plain, 4)]);
    }

    #[test]
    fn strings_that_read_as_module_names_are_mentions() {
        let src = "local cmds = { init = 'tool.cmd.init', help = \"tool.cmd.help\" }\nlocal x = require('tool.core')\nload_platform('tool.fs.%s')\nlocal s = 'not a module', 'plain', '1.2.3', 'a..b', 'x.%d'\n";
        let mentions: Vec<Target> = scan(src.as_bytes())
            .unwrap()
            .into_iter()
            .map(|s| s.target)
            .filter(|t| matches!(t, Target::Mention { .. }))
            .collect();
        let m = |t: &str, prefix| Target::Mention { text: t.as_bytes().to_vec(), prefix };
        assert_eq!(
            mentions,
            vec![m("tool.cmd.init", false), m("tool.cmd.help", false), m("tool.fs.", true)]
        );
    }

    fn lit(n: &str, k: SiteKind, line: u32) -> Row {
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
    fn branches_loops_and_short_circuits_are_conditional() {
        use SiteKind::{Conditional, Plain};
        let src = "if require 'cond1' then\n  require 'branch'\nelseif x then require 'elif' else require 'els' end\nfor i = 1, require 'hdr' do require 'body' end\nwhile x do require 'wbody' end\nrepeat require 'rbody' until true\ndo require 'inblock' end\nlocal m = package.loaded.m or require 'm'\nlocal n = x and require 'n'\nrequire 'after'\n";
        assert_eq!(
            names(src),
            vec![
                lit("cond1", Plain, 1),
                lit("branch", Conditional, 2),
                lit("elif", Conditional, 3),
                lit("els", Conditional, 3),
                lit("hdr", Plain, 4),
                lit("body", Conditional, 4),
                lit("wbody", Conditional, 5),
                lit("rbody", Conditional, 6),
                lit("inblock", Plain, 7),
                lit("m", Conditional, 8),
                lit("n", Conditional, 9),
                lit("after", Plain, 10),
            ]
        );
    }

    #[test]
    fn optional_and_non_literal() {
        let src = "local ok, m = pcall(require, 'opt')\nlocal n = require(name)\nlocal p = require('p.' .. x)\nlocal q = pcall(require, modname)\n";
        assert_eq!(
            names(src),
            vec![
                lit("opt", SiteKind::Optional, 1),
                (None, SiteKind::Plain, 2),
                lit("p.*", SiteKind::Plain, 3),
                (None, SiteKind::Optional, 4)
            ]
        );
    }

    #[test]
    fn g_require_pcall_and_xpcall_forms() {
        use SiteKind::{Optional, Plain};
        let src = "local a = _G.require('a')\nlocal ok, lfs = _G.pcall(_G.require, 'lfs')\nlocal ok2, b = pcall(_G.require, \"b\")\nlocal ok3, c = xpcall(require, debug.traceback, 'c')\nlocal ok4, d = xpcall(require, function(e, f) return e, f end, 'd')\nlocal ok5, e = _G.xpcall(_G.require, h, 'e')\nlocal x = t._G.require('no')\n";
        assert_eq!(
            names(src),
            vec![
                lit("a", Plain, 1),
                lit("lfs", Optional, 2),
                lit("b", Optional, 3),
                lit("c", Optional, 4),
                lit("d", Optional, 5),
                lit("e", Optional, 6),
            ]
        );
    }

    #[test]
    fn aliases_of_require() {
        use SiteKind::{Lazy, Plain};
        let src = "local require = require\nlocal req = require\nlocal r2 = _G.require\nreq 'a'\nr2('b')\nrequire 'c'\nlocal function f()\n  local req = function() end\n  req 'not_a_require'\nend\nreq 'd'\nlocal function g() return req('e') end\n";
        assert_eq!(
            names(src),
            vec![
                lit("a", Plain, 4),
                lit("b", Plain, 5),
                lit("c", Plain, 6),
                lit("d", Plain, 11),
                lit("e", Lazy, 12)
            ]
        );
    }

    #[test]
    fn several_names_in_one_local_are_bound_one_by_one() {
        // Penlight, LuaRocks and compat53 keep their globals in locals this way.
        let src = "local getmetatable, setmetatable, require = getmetatable, setmetatable, require\nlocal a = require 'a'\nlocal x, y, z = f(1, 2), 'c.d', function(q, r) return q, r end\nrequire(y)\nlocal n, require = 1\nrequire 'shadowed'\n";
        assert_eq!(names(src), vec![lit("a", SiteKind::Plain, 2), lit("c.d", SiteKind::Plain, 4)]);
    }

    #[test]
    fn a_shadowing_local_is_not_require() {
        let src = "do\n  local require = function(n) return n end\n  require 'shadowed'\nend\nrequire 'visible'\nlocal require = myloader\nrequire 'gone'\n";
        assert_eq!(names(src), vec![lit("visible", SiteKind::Plain, 5)]);
    }

    #[test]
    fn literal_prefixes_of_computed_names() {
        let src = "require('a.b.' .. x)\nrequire((\"c.%s\"):format(x))\nrequire(string.format('d.e.%s', x))\nlocal prefix = 'f.'\nrequire(prefix .. x)\nlocal name = 'g.h'\nrequire(name)\npcall(require, 'i.' .. x)\nrequire(x .. '.j')\n";
        assert_eq!(
            targets(src),
            vec![
                Target::Prefix(b"a.b.".to_vec()),
                Target::Prefix(b"c.".to_vec()),
                Target::Prefix(b"d.e.".to_vec()),
                Target::Prefix(b"f.".to_vec()),
                Target::Literal(b"g.h".to_vec()),
                Target::Prefix(b"i.".to_vec()),
                Target::Computed,
            ]
        );
    }

    #[test]
    fn require_as_a_value() {
        let src = "t.loader = require\nfoo(require)\nlocal a, require, b = 1, 2, 3\nlocal function f(x, require) return require end\nlocal g = function(require, y) end\n";
        assert_eq!(targets(src), vec![Target::Value, Target::Value]);
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
    fn loadlib_is_found_in_code_only() {
        let line = |src: &[u8]| {
            scan(src).ok()?.iter().find(|s| s.target == Target::Loadlib).map(|s| s.line)
        };
        assert_eq!(line(b"local f = package.loadlib('x.so', 'luaopen_x')"), Some(1));
        assert_eq!(
            line(b"-- package.loadlib\nlocal s = 'loadlib'\nlocal l = package\n.loadlib"),
            Some(4)
        );
        assert_eq!(line(b"--[[ loadlib ]] print[[loadlib]] local loadlibs = 1"), None);
    }

    #[test]
    fn non_utf8_bytes_are_fine() {
        let src = b"local s = '\xff\xfe'\n-- \xc3\x28 invalid\nrequire 'ok'\n";
        assert_eq!(scan(src).unwrap().len(), 1);
    }
}
