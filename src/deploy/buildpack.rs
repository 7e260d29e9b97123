//! `bundle heroku buildpack -o DIR`: a classic Heroku buildpack
//! (devcenter.heroku.com/articles/buildpack-api) that turns `git push heroku` into one
//! executable. DIR holds `bin/bundle`, a copy of the running `bundle` (it is self-contained:
//! the stub is embedded), and three POSIX sh scripts, `bin/detect`, `bin/compile` and
//! `bin/release`, that only `exec` it with a hidden subcommand (`bundle heroku
//! buildpack-detect|buildpack-compile|buildpack-release ...`): all the logic is here, in Rust.
//!
//! - [`detect`]: a `*.rockspec`, a `main.lua`/`app.lua`/`server.lua` or a `bundle.toml` at the
//!   top of BUILD_DIR.
//! - [`compile`]: reads [`Config`] from `BUILD_DIR/bundle.toml` (a small, strictly checked
//!   subset of TOML: see [`Config::parse`]) and the config vars Heroku leaves in ENV_DIR
//!   (`BUNDLE_FLAGS`, `BUNDLE_KEEP_SOURCES`), builds the app, leaves the executable in
//!   BUILD_DIR, and removes what the build read (unless told to keep it).
//! - [`release`]: the default process types as YAML, one per entry point of the executable,
//!   as `bundle heroku slug` derives them ([`heroku::processes`]).
//!
//! **Why the build is a subprocess.** Compiling a rockspec project is the `project` layer's,
//! above `deploy` (tests/architecture.rs): this module may not call it. It runs the carried
//! executable itself (`std::env::current_exe()`) with the ordinary build arguments
//! (`bundle MAIN -o OUT --depfile ...`), which also gives exactly the build a user gets at
//! home, and the child's output, errors included, to indent under Heroku's step lines. The
//! depfile says which files the build read: those are the sources [`compile`] removes. The
//! project's compiled C modules go to CACHE_DIR through `BUNDLE_CBUILD_CACHE` (src/lib.rs,
//! `compile_shared_cached`), so that a second push does not compile them again.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::base::shell;
use crate::deploy::heroku::{self, HerokuError};
use crate::deploy::printable;
use crate::output::emit;

/// What `bin/detect` prints: the name Heroku shows for the buildpack.
pub const NAME: &str = "Lua (bundle)";

/// The entry scripts `detect` and `compile` look for, in this order, when `bundle.toml` names
/// none.
pub const ENTRY_SCRIPTS: [&str; 3] = ["main.lua", "app.lua", "server.lua"];

/// The configuration file at the top of the app.
pub const CONFIG_FILE: &str = "bundle.toml";

/// The executable's name when `bundle.toml` gives no `output`.
pub const DEFAULT_OUTPUT: &str = "app";

/// The directory under CACHE_DIR that holds the compiled C modules.
pub const CACHE_SUBDIR: &str = "bundle-cbuild";

/// The mark of a script written by [`write`]: such a file may be replaced by a later `bundle
/// heroku buildpack -o` into the same directory; any other file there is left alone.
const MARK: &str = "# Written by `bundle heroku buildpack`";

/// Why a step failed. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum BuildpackError {
    /// `bundle.toml` is not what [`Config::parse`] accepts.
    #[error("{file}:{line}: {message}")]
    Config { file: String, line: usize, message: String },
    /// A config var in ENV_DIR.
    #[error("{var} (the config var, in {}): {message}", printable(&.env_dir.display().to_string()))]
    ConfigVar { var: &'static str, env_dir: PathBuf, message: String },
    /// `bin/detect` found nothing to build.
    #[error("no Lua app in {}: none of {} nor a *.rockspec nor {CONFIG_FILE} at its top", printable(&.0.display().to_string()), ENTRY_SCRIPTS.join(", "))]
    NoApp(PathBuf),
    /// Several rockspecs and no entry script.
    #[error("{} has several rockspecs ({}) and none of {}: name the main script with main = \"...\" in {CONFIG_FILE}, or one rockspec with BUNDLE_FLAGS='--rockspec FILE'", printable(&.dir.display().to_string()), .rockspecs.join(", "), ENTRY_SCRIPTS.join(", "))]
    SeveralRockspecs { dir: PathBuf, rockspecs: Vec<String> },
    /// The build itself failed; its messages were shown above.
    #[error("bundle failed ({status}); its messages are above")]
    BuildFailed { status: String },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", printable(&.path.display().to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing the buildpack would replace a file this command did not write.
    #[error("{}: already exists and was not written by `bundle heroku buildpack`; choose another -o DIR or remove it", printable(&.0.display().to_string()))]
    Exists(PathBuf),
    /// Writing a file of the buildpack.
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
    /// Reading the executable, or its process types.
    #[error(transparent)]
    Heroku(#[from] HerokuError),
    /// Anything else, said in full.
    #[error("{}", printable(.0))]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildpackError + '_ {
    move |source| BuildpackError::Io { path: path.to_path_buf(), source }
}

// ---------------------------------------------------------------------------------------------
// Writing the buildpack

/// The files [`write`] made, relative to DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub files: Vec<String>,
    /// The size of `bin/bundle`.
    pub bundle_len: u64,
}

/// A `bin/` script: finds `bin/bundle` beside itself and runs the step `step` with the
/// arguments Heroku gave.
fn script(step: &str, usage: &str) -> String {
    format!(
        "#!/bin/sh\n\
         {MARK} {version}: bin/{step} {usage}\n\
         # The logic is in bin/bundle (`bundle heroku buildpack-{step}`); docs/deploy.md.\n\
         case $0 in */*) here=${{0%/*}} ;; *) here=. ;; esac\n\
         exec \"$here/bundle\" heroku buildpack-{step} \"$@\"\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The buildpack's README, for the git repository that hosts it.
fn readme() -> String {
    format!(
        "{MARK} {}\n\n\
         A Heroku buildpack that bundles a Lua app into one executable with `bundle`\n\
         (carried in bin/bundle: no network at build time, nothing but the executable on the\n\
         dyno).\n\n\
         Host this directory in a git repository, then:\n\n    \
         heroku buildpacks:set https://example.com/you/this-repository.git --app NAME\n\n\
         The app: a main.lua, app.lua or server.lua, or a *.rockspec (with lua_modules/), at\n\
         its top. Optional bundle.toml:\n\n    \
         main = \"server.lua\"              # the main script\n    \
         flags = [\"--asset\", \"public\"]    # more bundle flags\n    \
         output = \"app\"                   # the executable's name\n    \
         keep_sources = false             # keep what the build read\n\n\
         Config vars: BUNDLE_FLAGS (more flags, split as the shell splits words),\n\
         BUNDLE_KEEP_SOURCES=1.\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Writes the buildpack into `dir` (created if missing): `bin/bundle` (a copy of `exe`, this
/// very executable), `bin/detect`, `bin/compile`, `bin/release` and a README. A file there
/// that an earlier run did not write is never replaced.
pub fn write(dir: &Path, exe: &Path) -> Result<Written, BuildpackError> {
    let bin = dir.join("bin");
    let scripts = [
        ("bin/detect", script("detect", "BUILD_DIR")),
        ("bin/compile", script("compile", "BUILD_DIR CACHE_DIR ENV_DIR")),
        ("bin/release", script("release", "BUILD_DIR")),
        ("README.md", readme()),
    ];
    // Ours: a script or README with the mark; bin/bundle is ours when the scripts are.
    let ours = |p: &Path| {
        std::fs::read(p).is_ok_and(|b| {
            b.starts_with(b"#!/bin/sh\n# Written by") || b.starts_with(MARK.as_bytes())
        })
    };
    let mut any_ours = false;
    for (name, _) in &scripts {
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            if !ours(&path) {
                return Err(BuildpackError::Exists(path));
            }
            any_ours = true;
        }
    }
    let carried = bin.join("bundle");
    if std::fs::symlink_metadata(&carried).is_ok() && !any_ours {
        return Err(BuildpackError::Exists(carried));
    }
    let bytes = std::fs::read(exe).map_err(io(exe))?;
    std::fs::create_dir_all(&bin).map_err(io(&bin))?;
    let inputs = emit::Inputs::of([exe]);
    emit::write_atomically_with_mode(&carried, &bytes, 0o755, &inputs)?;
    let mut files = vec!["bin/bundle".to_owned()];
    for (name, text) in &scripts {
        let mode = if name.starts_with("bin/") { 0o755 } else { 0o644 };
        emit::write_atomically_with_mode(&dir.join(name), text.as_bytes(), mode, &inputs)?;
        files.push((*name).to_owned());
    }
    Ok(Written { files, bundle_len: bytes.len() as u64 })
}

// ---------------------------------------------------------------------------------------------
// bundle.toml

/// What `bundle.toml` says; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `main = "server.lua"`: the main script, relative to the app's top; with its line.
    pub main: Option<(String, usize)>,
    /// `flags = ["--asset", "public"]`: more `bundle` flags, before BUNDLE_FLAGS'.
    pub flags: Vec<String>,
    /// `output = "app"`: the executable's name (one plain file name).
    pub output: Option<(String, usize)>,
    /// `keep_sources = true`: leave what the build read in BUILD_DIR.
    pub keep_sources: bool,
}

/// A value of the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(String),
    Bool(bool),
    Array(Vec<Value>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
        }
    }
}

/// A cursor over `bundle.toml`'s text that knows its line.
struct Parser<'a> {
    file: &'a str,
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

const KEYS: &str = "main, flags, output, keep_sources";

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> BuildpackError {
        BuildpackError::Config {
            file: self.file.to_owned(),
            line: self.line,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Spaces and tabs.
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    /// A comment, if one starts here, up to (not including) the end of the line.
    fn comment(&mut self) {
        if self.peek() == Some('#') {
            while !matches!(self.peek(), None | Some('\n')) {
                self.bump();
            }
        }
    }

    /// The end of a line (`\n` or `\r\n`) or of the file, after blanks and a comment.
    fn end_of_line(&mut self, after: &str) -> Result<(), BuildpackError> {
        self.blanks();
        self.comment();
        match self.peek() {
            None => Ok(()),
            Some('\n') => {
                self.bump();
                Ok(())
            }
            Some('\r') if self.chars.get(self.pos + 1) == Some(&'\n') => {
                self.pos += 1;
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.error(format!(
                "unexpected {} after {after}; one `key = value` per line",
                shown(c)
            ))),
        }
    }

    /// Blanks, newlines and comments (inside an array).
    fn space(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n') => {
                    self.bump();
                }
                Some('\r') if self.chars.get(self.pos + 1) == Some(&'\n') => {
                    self.bump();
                }
                Some('#') => self.comment(),
                _ => return,
            }
        }
    }

    fn value(&mut self) -> Result<Value, BuildpackError> {
        match self.peek() {
            Some('"') => self.basic_string().map(Value::Str),
            Some('\'') => self.literal_string().map(Value::Str),
            Some('[') => self.array(),
            Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '+' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ' ' | '\t' | '\n' | '\r' | ',' | ']' | '#'))
                {
                    self.bump();
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => Err(self.error(format!(
                        "`{word}` is not a value bundle.toml takes: a string (\"...\" or '...'), true, false, or an array of strings [\"...\", ...]"
                    ))),
                }
            }
            None => Err(self.error("a value is missing at the end of the file")),
            Some(c) => Err(self.error(format!(
                "expected a value (a string \"...\", true, false or [...]), found {}",
                shown(c)
            ))),
        }
    }

    fn basic_string(&mut self) -> Result<String, BuildpackError> {
        self.bump();
        if self.peek() == Some('"') && self.chars.get(self.pos + 1) == Some(&'"') {
            return Err(self.error("multi-line strings (\"\"\") are not part of bundle.toml's format; write \"...\" on one line"));
        }
        let mut out = String::new();
        loop {
            if matches!(self.peek(), None | Some('\n')) {
                return Err(
                    self.error("unterminated string: a '\"' is missing before the end of the line")
                );
            }
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => {
                    let escaped = match self.bump() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('b') => '\u{8}',
                        Some('f') => '\u{c}',
                        Some(u @ ('u' | 'U')) => {
                            let n = if u == 'u' { 4 } else { 8 };
                            let hex: String = (0..n).filter_map(|_| self.bump()).collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == n && hex.chars().all(|c| c.is_ascii_hexdigit()))
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error(format!("\\{u}{hex}: not a Unicode scalar value ({n} hex digits)")))?
                        }
                        Some(c) => {
                            return Err(self.error(format!(
                                "unknown escape \\{}; TOML's are \\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX \\UXXXXXXXX (or use '...' for a literal string)",
                                printable(&c.to_string())
                            )))
                        }
                        None => return Err(self.error("unterminated string: a '\"' is missing")),
                    };
                    out.push(escaped);
                }
                Some(c) if c.is_control() && c != '\t' => {
                    return Err(
                        self.error(format!("{} inside a string; write it as an escape", shown(c)))
                    )
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn literal_string(&mut self) -> Result<String, BuildpackError> {
        self.bump();
        if self.peek() == Some('\'') && self.chars.get(self.pos + 1) == Some(&'\'') {
            return Err(self.error("multi-line strings (''') are not part of bundle.toml's format; write '...' on one line"));
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => {
                    return Err(self.error(
                        "unterminated string: a \"'\" is missing before the end of the line",
                    ))
                }
                Some('\'') => {
                    self.bump();
                    return Ok(out);
                }
                Some(c) if c.is_control() && c != '\t' => {
                    return Err(self.error(format!("{} inside a string", shown(c))))
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value, BuildpackError> {
        let open = self.line;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.space();
            match self.peek() {
                Some(']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                None => {
                    self.line = open;
                    return Err(self.error("the array opened on this line has no ']'"));
                }
                _ => {}
            }
            items.push(self.value()?);
            self.space();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {}
                None => {
                    self.line = open;
                    return Err(self.error("the array opened on this line has no ']'"));
                }
                Some(c) => {
                    return Err(
                        self.error(format!("expected ',' or ']' in the array, found {}", shown(c)))
                    )
                }
            }
        }
    }
}

/// A character named for a message.
fn shown(c: char) -> String {
    match c {
        '\n' => "the end of the line".to_owned(),
        c if c.is_control() => format!("the control character {}", printable(&c.to_string())),
        c => format!("'{c}'"),
    }
}

impl Config {
    /// Parses `text`, the contents of `file` (named so in messages, with the line).
    ///
    /// The format is a subset of TOML 1.0 (toml.io): one `key = value` per line, `#`
    /// comments, no tables. Values are strings (`"..."` with TOML's escapes, or `'...'`),
    /// `true`/`false`, and arrays of strings (which may span lines, with a trailing comma).
    /// Keys: `main` (string), `flags` (array of strings), `output` (string), `keep_sources`
    /// (boolean). Anything else, and a key given twice, is an error naming the line.
    pub fn parse(file: &str, text: &str) -> Result<Config, BuildpackError> {
        let mut p = Parser { file, chars: text.chars().collect(), pos: 0, line: 1 };
        if p.peek() == Some('\u{feff}') {
            p.pos += 1;
        }
        let mut config = Config::default();
        let mut seen: Vec<(String, usize)> = Vec::new();
        loop {
            p.space();
            let Some(c) = p.peek() else { break };
            let line = p.line;
            if c == '[' {
                return Err(p.error(format!(
                    "tables ([...]) are not part of {CONFIG_FILE}'s format: write the keys ({KEYS}) at the top level"
                )));
            }
            let start = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                p.bump();
            }
            let key: String = p.chars[start..p.pos].iter().collect();
            if key.is_empty() {
                return Err(p.error(format!("expected a key ({KEYS}), found {}", shown(c))));
            }
            p.blanks();
            if p.peek() == Some('.') {
                return Err(p.error(format!(
                    "dotted keys are not part of {CONFIG_FILE}'s format; the keys are {KEYS}"
                )));
            }
            if p.peek() != Some('=') {
                return Err(p.error(format!("expected '=' after the key `{key}`")));
            }
            p.bump();
            p.blanks();
            let value = p.value()?;
            p.end_of_line(&format!("the value of `{key}`"))?;
            let error =
                |message: String| BuildpackError::Config { file: file.to_owned(), line, message };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(error(format!("`{key}` is given twice (first on line {first})")));
            }
            seen.push((key.clone(), line));
            let wrong =
                |want: &str, v: &Value| error(format!("`{key}` must be {want}, not {}", v.kind()));
            match (key.as_str(), value) {
                ("main", Value::Str(s)) => config.main = Some((s, line)),
                ("output", Value::Str(s)) => config.output = Some((s, line)),
                ("keep_sources", Value::Bool(b)) => config.keep_sources = b,
                ("flags", Value::Array(items)) => {
                    for item in items {
                        match item {
                            Value::Str(s) => config.flags.push(s),
                            other => return Err(wrong("an array of strings", &other)),
                        }
                    }
                }
                ("main" | "output", v) => return Err(wrong("a string", &v)),
                ("keep_sources", v) => return Err(wrong("true or false", &v)),
                ("flags", v) => {
                    return Err(wrong("an array of strings, e.g. [\"--asset\", \"public\"]", &v))
                }
                (other, _) => {
                    return Err(error(format!("unknown key `{other}`; {CONFIG_FILE} takes {KEYS}")))
                }
            }
        }
        Ok(config)
    }

    /// Reads `BUILD_DIR/bundle.toml`, if there is one.
    pub fn load(build_dir: &Path) -> Result<Option<Config>, BuildpackError> {
        let path = build_dir.join(CONFIG_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|e| BuildpackError::Config {
                    file: CONFIG_FILE.to_owned(),
                    line: e.as_bytes()[..e.utf8_error().valid_up_to()]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1,
                    message: "not UTF-8 text (TOML files are UTF-8)".to_owned(),
                })?;
                Config::parse(CONFIG_FILE, &text).map(Some)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BuildpackError::Io { path, source }),
        }
    }

    /// The executable's name, checked: one plain file name of ASCII letters, digits, `.`, `_`
    /// and `-`, not starting with `.` or `-` (a Procfile command and YAML take it as it is),
    /// and not `Procfile` or `bundle.toml`.
    pub fn output(&self) -> Result<String, BuildpackError> {
        let Some((name, line)) = &self.output else { return Ok(DEFAULT_OUTPUT.to_owned()) };
        let plain = !name.is_empty()
            && name.len() <= 100
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !name.starts_with(['.', '-']);
        let reserved = name.eq_ignore_ascii_case("procfile") || name == CONFIG_FILE;
        if !plain || reserved {
            return Err(BuildpackError::Config {
                file: CONFIG_FILE.to_owned(),
                line: *line,
                message: format!(
                    "output = {:?}: the executable's name must be one file name of ASCII letters, digits, '.', '_' and '-', not starting with '.' or '-'{}",
                    name,
                    if reserved { ", and not Procfile or bundle.toml" } else { "" }
                ),
            });
        }
        Ok(name.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// bin/detect

/// The `*.rockspec` files at the top of `dir`, by name, sorted.
fn rockspecs(dir: &Path) -> Result<Vec<String>, BuildpackError> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.ends_with(".rockspec") && n.len() > ".rockspec".len())
        .collect();
    out.sort();
    Ok(out)
}

/// `bin/detect BUILD_DIR`: what marks `dir` as a Lua app (`main.lua`, `x-1.0-1.rockspec`, ...),
/// or [`BuildpackError::NoApp`].
pub fn detect(dir: &Path) -> Result<String, BuildpackError> {
    if !dir.is_dir() {
        return Err(BuildpackError::Invalid(format!("{}: not a directory", dir.display())));
    }
    if let Some(script) = ENTRY_SCRIPTS.iter().find(|s| dir.join(s).is_file()) {
        return Ok((*script).to_owned());
    }
    if let Some(r) = rockspecs(dir)?.into_iter().next() {
        return Ok(r);
    }
    if dir.join(CONFIG_FILE).is_file() {
        return Ok(CONFIG_FILE.to_owned());
    }
    Err(BuildpackError::NoApp(dir.to_path_buf()))
}

// ---------------------------------------------------------------------------------------------
// bin/compile

/// Heroku's step line: `-----> text`.
pub fn step(out: &mut dyn Write, text: &str) {
    let _ = writeln!(out, "-----> {}", printable(text));
}

/// Heroku's indentation for what a step prints: 7 spaces.
pub fn indented(out: &mut dyn Write, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "       {}", printable(line));
    }
}

/// A config var from ENV_DIR (`ENV_DIR/NAME` holds its value), if set.
fn config_var(env_dir: &Path, var: &'static str) -> Result<Option<String>, BuildpackError> {
    let path = env_dir.join(var);
    match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| BuildpackError::ConfigVar {
            var,
            env_dir: env_dir.to_path_buf(),
            message: "not UTF-8 text".to_owned(),
        }),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(BuildpackError::Io { path, source }),
    }
}

/// `BUNDLE_KEEP_SOURCES`: 1, true, yes, on keep; 0, false, no, off or empty do not.
fn keep_var(env_dir: &Path) -> Result<Option<bool>, BuildpackError> {
    let Some(value) = config_var(env_dir, "BUNDLE_KEEP_SOURCES")? else { return Ok(None) };
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(Some(true)),
        "" | "0" | "false" | "no" | "off" => Ok(Some(false)),
        _ => Err(BuildpackError::ConfigVar {
            var: "BUNDLE_KEEP_SOURCES",
            env_dir: env_dir.to_path_buf(),
            message: format!("{:?} is neither 1/true/yes/on nor 0/false/no/off", value.trim()),
        }),
    }
}

/// Flags that the buildpack sets itself, or that would make the build write something else.
fn refused_flag(flag: &str) -> Option<&'static str> {
    let name = flag.split('=').next().unwrap_or(flag);
    match name {
        "-o" | "--output" => Some("the executable's name is output = \"...\" in bundle.toml"),
        "--depfile" => Some("the buildpack uses it to know which sources to remove"),
        "--list" => Some("it writes no executable"),
        "--emit-c" => Some("a C file is not an app Heroku can run"),
        "--install-deps" => Some("it runs luarocks, which needs the network; commit lua_modules/ (luarocks install --tree lua_modules ...)"),
        _ if flag.starts_with("-o") && !flag.starts_with("--") => {
            Some("the executable's name is output = \"...\" in bundle.toml")
        }
        _ => None,
    }
}

/// What [`compile`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The executable, in BUILD_DIR.
    pub output: PathBuf,
    /// Its process types.
    pub processes: Vec<heroku::Process>,
    /// Files (and directories) removed from BUILD_DIR, relative to it.
    pub removed: Vec<String>,
    /// Compiled C modules in the cache before and after.
    pub cached_before: usize,
    pub cached_after: usize,
}

/// The number of compiled C modules in the cache.
fn cached(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "so"))
        .count()
}

/// The build's arguments: the main script (or none, for a rockspec's `build.install.bin` or
/// `--entry` flags), `-o`, `--depfile`, `--tree lua_modules` when no rockspec brings it, the
/// flags of `bundle.toml` then of `BUNDLE_FLAGS`.
fn build_args(
    dir: &Path,
    config: &Config,
    flags: &[String],
    output: &str,
    depfile: &Path,
) -> Result<Vec<String>, BuildpackError> {
    let mut args = Vec::new();
    let entries = flags.iter().any(|f| f == "--entry" || f.starts_with("--entry="));
    let given_rockspec = flags.iter().any(|f| f == "--rockspec" || f.starts_with("--rockspec="));
    let specs = rockspecs(dir)?;
    let main = match &config.main {
        Some((main, line)) => {
            let ok = !main.is_empty()
                && !Path::new(main).is_absolute()
                && !Path::new(main)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir));
            if !ok || !dir.join(main).is_file() {
                return Err(BuildpackError::Config {
                    file: CONFIG_FILE.to_owned(),
                    line: *line,
                    message: format!("main = {main:?}: no such file in the app (a path relative to its top, without '..')"),
                });
            }
            Some(main.clone())
        }
        None if entries => None,
        None => ENTRY_SCRIPTS.iter().find(|s| dir.join(s).is_file()).map(|s| (*s).to_owned()),
    };
    // Whether the build reads a rockspec (which brings lua_modules/ beside it as a tree).
    let mut rockspec = given_rockspec;
    match main {
        Some(main) => {
            // bundle reads the one rockspec beside the main script by itself; for a main
            // script below the top, the top's is named.
            let at_top = Path::new(&main)
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .count()
                == 1;
            if let ([one], false) = (specs.as_slice(), given_rockspec) {
                if !at_top {
                    args.extend(["--rockspec".to_owned(), one.clone()]);
                }
                rockspec = true;
            }
            args.push(main);
        }
        None if entries || given_rockspec => {}
        None => match specs.as_slice() {
            [one] => {
                args.extend(["--rockspec".to_owned(), one.clone()]);
                rockspec = true;
            }
            [] => return Err(BuildpackError::NoApp(dir.to_path_buf())),
            several => {
                return Err(BuildpackError::SeveralRockspecs {
                    dir: dir.to_path_buf(),
                    rockspecs: several.to_vec(),
                })
            }
        },
    }
    args.extend(["-o".to_owned(), output.to_owned(), "--depfile".to_owned()]);
    args.push(depfile.display().to_string());
    // BUILD_DIR is new at every build, and the slug is unpacked at /app on the dyno: recorded
    // paths (tracebacks, the bill of materials) say /app.
    args.extend(["--remap-path-prefix".to_owned(), format!("{}=/app", dir.display())]);
    if !rockspec && dir.join("lua_modules").is_dir() {
        args.extend(["--tree".to_owned(), "lua_modules".to_owned()]);
    }
    args.extend(flags.iter().cloned());
    Ok(args)
}

/// Runs `cmd`, its stdout and stderr indented under the current step as they come.
fn run_indented(
    cmd: &mut Command,
    out: &mut (dyn Write + Send),
) -> std::io::Result<std::process::ExitStatus> {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out = std::sync::Mutex::new(out);
    std::thread::scope(|s| {
        let pipe = |reader: Box<dyn std::io::Read + Send>| {
            let out = &out;
            move || {
                for line in std::io::BufReader::new(reader).split(b'\n').map_while(Result::ok) {
                    let text = String::from_utf8_lossy(&line);
                    if let Ok(mut o) = out.lock() {
                        indented(&mut **o, text.trim_end_matches('\r'));
                        if text.trim().is_empty() {
                            let _ = writeln!(o);
                        }
                    }
                }
            }
        };
        if let Some(e) = stderr {
            s.spawn(pipe(Box::new(e)));
        }
        if let Some(o) = stdout {
            s.spawn(pipe(Box::new(o)));
        }
    });
    child.wait()
}

/// Parses a Make rule written by `bundle --depfile` (`OUT: \` then one dependency per line,
/// `\ `, `\#`, `\:` and `$$` escaped): the dependencies.
pub fn depfile_deps(text: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut word: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut target_done = false;
    fn flush(word: &mut Vec<u8>, words: &mut Vec<Vec<u8>>) {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    }
    while i < text.len() {
        match text[i] {
            b'\\' if matches!(text.get(i + 1), Some(b' ' | b'#' | b':')) => {
                word.push(text[i + 1]);
                i += 2;
                continue;
            }
            b'\\' if text.get(i + 1) == Some(&b'\n') => {
                flush(&mut word, &mut words);
                i += 2;
                continue;
            }
            b'$' if text.get(i + 1) == Some(&b'$') => {
                word.push(b'$');
                i += 2;
                continue;
            }
            b':' if !target_done => {
                target_done = true;
                word.clear();
            }
            b' ' | b'\t' | b'\n' => flush(&mut word, &mut words),
            b => word.push(b),
        }
        i += 1;
    }
    flush(&mut word, &mut words);
    words.into_iter().map(|w| PathBuf::from(std::ffi::OsString::from_vec(w))).collect()
}

/// Removes from `dir` every file the build read (`deps`), the rockspecs at its top and
/// `lua_modules/` (all of it, unless the flags leave modules out with `-x`: then only what
/// the build read), the C headers beside the C sources it read, then the directories this
/// left empty. The output, `bundle.toml`, a
/// Procfile and any file the build did not read stay. Nothing outside `dir` is touched.
fn remove_sources(
    dir: &Path,
    deps: &[PathBuf],
    output: &Path,
    whole_tree: bool,
) -> Result<Vec<String>, BuildpackError> {
    let mut removed = Vec::new();
    let mut parents: Vec<PathBuf> = Vec::new();
    let keep = [output.to_path_buf(), dir.join(CONFIG_FILE), dir.join("Procfile")];
    let mut remove_file = |path: &Path, removed: &mut Vec<String>| -> Result<(), BuildpackError> {
        if keep.iter().any(|k| k == path) {
            return Ok(());
        }
        match std::fs::remove_file(path) {
            Ok(()) => {
                removed.push(path.strip_prefix(dir).unwrap_or(path).display().to_string());
                parents.extend(path.parent().map(Path::to_path_buf));
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(BuildpackError::Io { path: path.to_path_buf(), source }),
        }
    };
    let mut c_dirs: Vec<PathBuf> = Vec::new();
    for dep in deps {
        let path = dir.join(dep);
        // Only what is inside the app, symbolic links resolved (a dependency outside it, the
        // system's C library say, is not the app's to remove).
        let Ok(real) = path.canonicalize() else { continue };
        if real.starts_with(dir) && real.is_file() {
            if real.extension().is_some_and(|e| e == "c") {
                c_dirs.extend(real.parent().map(Path::to_path_buf));
            }
            remove_file(&real, &mut removed)?;
        }
    }
    // The headers of the C sources the build compiled: `*.h` in their directories and below
    // (the depfile names the sources only).
    while let Some(d) = c_dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let (p, t) = (e.path(), e.file_type());
            if t.as_ref().is_ok_and(|t| t.is_dir()) && p.starts_with(dir) {
                c_dirs.push(p);
            } else if t.is_ok_and(|t| t.is_file()) && p.extension().is_some_and(|e| e == "h") {
                remove_file(&p, &mut removed)?;
            }
        }
    }
    for spec in rockspecs(dir)? {
        remove_file(&dir.join(spec), &mut removed)?;
    }
    let tree = dir.join("lua_modules");
    if whole_tree && std::fs::symlink_metadata(&tree).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(&tree).map_err(io(&tree))?;
        removed.push("lua_modules/".to_owned());
    }
    parents.sort();
    parents.dedup();
    // Deepest first; each directory, then its parents, while they are empty and inside `dir`.
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in parents {
        let mut d = p.as_path();
        while d.starts_with(dir) && d != dir && std::fs::remove_dir(d).is_ok() {
            removed.push(format!("{}/", d.strip_prefix(dir).unwrap_or(d).display()));
            let Some(up) = d.parent() else { break };
            d = up;
        }
    }
    removed.sort();
    removed.dedup();
    Ok(removed)
}

/// `bin/compile BUILD_DIR CACHE_DIR ENV_DIR`: builds the app in `build` with the carried
/// `bundle` (`exe`), printing Heroku's step lines to `out`.
pub fn compile(
    exe: &Path,
    build: &Path,
    cache: &Path,
    env_dir: &Path,
    out: &mut (dyn Write + Send),
) -> Result<Compiled, BuildpackError> {
    let build = build.canonicalize().map_err(io(build))?;
    if !build.is_dir() {
        return Err(BuildpackError::Invalid(format!("{}: not a directory", build.display())));
    }
    let config = Config::load(&build)?;
    if config.is_some() {
        step(out, &format!("Reading {CONFIG_FILE}"));
    }
    let config = config.unwrap_or_default();
    let output = config.output()?;
    let output_path = build.join(&output);
    if std::fs::symlink_metadata(&output_path).is_ok() {
        return Err(match &config.output {
            Some((name, line)) => BuildpackError::Config {
                file: CONFIG_FILE.to_owned(),
                line: *line,
                message: format!("output = {name:?}: the app already has a file {name}, which the executable would replace; choose another name"),
            },
            None => BuildpackError::Invalid(format!(
                "the app already has a file '{DEFAULT_OUTPUT}', which the executable would replace; name the executable with output = \"...\" in {CONFIG_FILE}"
            )),
        });
    }
    let mut flags = config.flags.clone();
    if let Some(text) = config_var(env_dir, "BUNDLE_FLAGS")? {
        let words = shell::split(text.trim()).map_err(|e| BuildpackError::ConfigVar {
            var: "BUNDLE_FLAGS",
            env_dir: env_dir.to_path_buf(),
            message: e.to_string(),
        })?;
        step(out, &format!("BUNDLE_FLAGS: {}", shell::join(&words)));
        flags.extend(words);
    }
    // The values of --args and --entry-args are arguments of the program, not flags.
    let values = flags
        .iter()
        .enumerate()
        .filter(|&(i, _)| i == 0 || !matches!(flags[i - 1].as_str(), "--args" | "--entry-args"));
    for (_, f) in values {
        if let Some(why) = refused_flag(f) {
            return Err(BuildpackError::Invalid(format!(
                "the flag {f} (in {CONFIG_FILE} or BUNDLE_FLAGS) is set by the buildpack or does not fit it: {why}"
            )));
        }
    }
    let keep = match keep_var(env_dir)? {
        Some(k) => k,
        None => config.keep_sources,
    };
    let work = tempfile::Builder::new()
        .prefix("bundle-buildpack")
        .tempdir()
        .map_err(|e| BuildpackError::Io { path: std::env::temp_dir(), source: e })?;
    let depfile = work.path().join("deps.d");
    let args = build_args(&build, &config, &flags, &output, &depfile)?;
    let cache_dir = cache.join(CACHE_SUBDIR);
    std::fs::create_dir_all(&cache_dir).map_err(io(&cache_dir))?;
    let cached_before = cached(&cache_dir);

    step(out, &format!("Bundling the Lua app with bundle {}", env!("CARGO_PKG_VERSION")));
    let mut shown_args = args.clone();
    for hidden in ["--depfile", "--remap-path-prefix"] {
        if let Some(i) = shown_args.iter().position(|a| a == hidden) {
            shown_args.drain(i..i + 2);
        }
    }
    indented(out, &format!("bundle {}", shell::join(&shown_args)));
    let mut cmd = Command::new(exe);
    cmd.args(&args).current_dir(&build).env("NO_COLOR", "1").env("BUNDLE_CBUILD_CACHE", &cache_dir);
    // The app is built from BUILD_DIR alone, not from a search path of the build machine.
    for var in ["LUA_PATH", "LUA_PATH_5_1", "LUA_CPATH", "LUA_CPATH_5_1", "LUA_INIT"] {
        cmd.env_remove(var);
    }
    let status = run_indented(&mut cmd, out).map_err(io(exe))?;
    if !status.success() {
        return Err(BuildpackError::BuildFailed { status: status.to_string() });
    }
    let cached_after = cached(&cache_dir);
    if cached_after > 0 {
        step(
            out,
            &format!(
                "Build cache: {cached_after} compiled C module{} ({} new this build)",
                if cached_after == 1 { "" } else { "s" },
                cached_after.saturating_sub(cached_before)
            ),
        );
    }

    // The stack Heroku builds for (STACK), when it is one bundle knows: the executable must
    // run there.
    let stack = std::env::var("STACK").ok().and_then(|s| crate::deploy::stacks::find(&s));
    let (bytes, report) = heroku::checked_app(&output_path, stack)?;
    let processes = heroku::processes(&output_path, &[], &heroku::process_entries(&report))?;

    let removed = if keep {
        step(out, "Keeping the sources (BUNDLE_KEEP_SOURCES or keep_sources)");
        Vec::new()
    } else {
        let text = std::fs::read(&depfile).map_err(io(&depfile))?;
        let deps = depfile_deps(&text);
        let excluding = flags.iter().any(|f| {
            f == "-x" || f.starts_with("--exclude") || (f.starts_with("-x") && f.len() > 2)
        });
        let removed = remove_sources(&build, &deps, &output_path, !excluding)?;
        step(
            out,
            &format!(
                "Removed the sources: {} (BUNDLE_KEEP_SOURCES=1 or keep_sources = true keeps them)",
                if removed.is_empty() {
                    "none".to_owned()
                } else {
                    format!("{} files and directories", removed.len())
                }
            ),
        );
        removed
    };
    step(out, &format!("Wrote ./{output} ({})", human(bytes.len() as u64)));
    let kinds: Vec<String> =
        processes.iter().map(|p| format!("{}: {}", p.kind, p.command)).collect();
    indented(out, &format!("default process types: {}", kinds.join(", ")));
    Ok(Compiled { output: output_path, processes, removed, cached_before, cached_after })
}

/// A byte count for people: `1.2 MiB`.
fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

// ---------------------------------------------------------------------------------------------
// bin/release

/// A YAML scalar: plain when it is only characters YAML and the shell read as they are,
/// double-quoted (JSON's rules, which YAML's double-quoted style accepts) otherwise.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "./_- ".contains(c))
        && !text.starts_with(['-', ' '])
        && !text.ends_with(' ');
    if plain {
        text.to_owned()
    } else {
        serde_json::Value::String(text.to_owned()).to_string()
    }
}

/// `bin/release BUILD_DIR`: the YAML Heroku reads, with a process type per entry point of the
/// executable compile left (`output` of `bundle.toml`, else `app`), or `web`.
pub fn release(build: &Path) -> Result<String, BuildpackError> {
    let config = Config::load(build)?.unwrap_or_default();
    let output = config.output()?;
    let path = build.join(&output);
    if !path.is_file() {
        return Err(BuildpackError::Invalid(format!(
            "{}: no executable; bin/compile writes it (has it run in this BUILD_DIR?)",
            path.display()
        )));
    }
    let (_, report) = heroku::checked_app(&path, None)?;
    let processes = heroku::processes(&path, &[], &heroku::process_entries(&report))?;
    let mut yaml = String::from("---\ndefault_process_types:\n");
    for p in &processes {
        yaml.push_str(&format!("  {}: {}\n", p.kind, yaml_scalar(&p.command)));
    }
    Ok(yaml)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse("bundle.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn config_subset() {
        let c = parse(
            "# app\nmain = \"server.lua\"\nflags = [\n  \"--asset\", 'public', # files\n  \"--sigpipe=ignore\",\n]\noutput = \"web-app\" # name\nkeep_sources = true\n",
        )
        .unwrap();
        assert_eq!(c.main, Some(("server.lua".into(), 2)));
        assert_eq!(c.flags, ["--asset", "public", "--sigpipe=ignore"]);
        assert_eq!(c.output().unwrap(), "web-app");
        assert!(c.keep_sources);
        assert_eq!(parse("").unwrap(), Config::default());
        assert_eq!(parse("main = \"a\\tb\\u00e9\"\r\n").unwrap().main.unwrap().0, "a\tb\u{e9}");
    }

    #[test]
    fn config_errors_name_the_line() {
        for (text, want) in [
            ("main = \"a.lua\"\nmian = \"b\"\n", "bundle.toml:2: unknown key `mian`"),
            ("main = \"a.lua\n", "bundle.toml:1: unterminated string"),
            ("\n\nflags = \"--strip\"\n", "bundle.toml:3: `flags` must be an array of strings"),
            ("keep_sources = 1\n", "bundle.toml:1: `1` is not a value"),
            ("keep_sources = \"yes\"\n", "bundle.toml:1: `keep_sources` must be true or false"),
            (
                "output = \"a\"\noutput = \"b\"\n",
                "bundle.toml:2: `output` is given twice (first on line 1)",
            ),
            ("[build]\n", "bundle.toml:1: tables"),
            ("flags = [\"a\",\n\"b\"\n", "bundle.toml:1: the array opened on this line has no ']'"),
            ("flags = [\"a\" \"b\"]\n", "bundle.toml:1: expected ',' or ']'"),
            (
                "main = \"a\" main = \"b\"\n",
                "bundle.toml:1: unexpected 'm' after the value of `main`",
            ),
            (
                "flags = [true]\n",
                "bundle.toml:1: `flags` must be an array of strings, not a boolean",
            ),
            ("main \"a\"\n", "bundle.toml:1: expected '=' after the key `main`"),
            ("main = \"\\q\"\n", "bundle.toml:1: unknown escape \\q"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
        let bad = parse("output = \"../x\"\n").unwrap().output().unwrap_err().to_string();
        assert!(bad.starts_with("bundle.toml:1: output = \"../x\""), "{bad}");
        assert!(parse("output = \"Procfile\"\n").unwrap().output().is_err());
    }

    #[test]
    fn depfile_round_trip() {
        let rule = b"/b/app: \\\n  main.lua \\\n  lib/a\\ b.lua \\\n  x$$y \\\n  c\\:d\n";
        let deps = depfile_deps(rule);
        let want: Vec<PathBuf> =
            ["main.lua", "lib/a b.lua", "x$y", "c:d"].iter().map(PathBuf::from).collect();
        assert_eq!(deps, want);
    }

    #[test]
    fn build_args_name_the_rockspec_and_the_tree_when_bundle_would_not_find_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("src")).unwrap();
        std::fs::create_dir_all(d.join("lua_modules")).unwrap();
        std::fs::write(d.join("src/main.lua"), "").unwrap();
        let deps = Path::new("/tmp/x.d");
        let args = |config: &Config, flags: &[&str]| {
            let flags: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
            let a = build_args(d, config, &flags, "app", deps).unwrap();
            a.into_iter().filter(|w| w != "--depfile" && w != "/tmp/x.d").collect::<Vec<_>>()
        };
        let remap = format!("{}=/app", d.display());
        let sub = Config { main: Some(("src/main.lua".into(), 1)), ..Config::default() };
        // No rockspec: lua_modules/ as a tree.
        assert_eq!(
            args(&sub, &[]),
            ["src/main.lua", "-o", "app", "--remap-path-prefix", &remap, "--tree", "lua_modules"]
        );
        // The top's one rockspec, named for a main script below the top; it brings the tree.
        std::fs::write(d.join("app-1.0-1.rockspec"), "").unwrap();
        assert_eq!(
            args(&sub, &["-x", "a"]),
            [
                "--rockspec",
                "app-1.0-1.rockspec",
                "src/main.lua",
                "-o",
                "app",
                "--remap-path-prefix",
                &remap,
                "-x",
                "a"
            ]
        );
        // Beside a main script at the top, bundle finds it itself; without one, it is the app.
        std::fs::write(d.join("main.lua"), "").unwrap();
        assert_eq!(args(&Config::default(), &[])[..3], ["main.lua", "-o", "app"]);
        std::fs::remove_file(d.join("main.lua")).unwrap();
        assert_eq!(args(&Config::default(), &[])[..2], ["--rockspec", "app-1.0-1.rockspec"]);
        assert_eq!(args(&Config::default(), &["--entry", "web=src/main.lua"])[..2], ["-o", "app"]);
    }

    #[test]
    fn yaml_scalars() {
        assert_eq!(yaml_scalar("./app web"), "./app web");
        assert_eq!(yaml_scalar("./a: b #c"), "\"./a: b #c\"");
    }

    #[test]
    fn scripts_exec_the_carried_binary() {
        let s = script("compile", "BUILD_DIR CACHE_DIR ENV_DIR");
        assert!(s.starts_with("#!/bin/sh\n# Written by"));
        assert!(s.ends_with("exec \"$here/bundle\" heroku buildpack-compile \"$@\"\n"));
    }
}
