//! Evaluates LuaRocks' data files (rockspecs, tree manifests) as data, in a sandbox.
//!
//! LuaRocks runs such a file as a Lua chunk whose environment is an empty table, and keeps the
//! globals it assigned (luarocks/core/persist.lua, `load_into_table`). So does this module, with
//! a fresh LuaJIT state per file and nothing of the standard library reachable:
//!
//! - the chunk's environment holds only what it assigns. Reading a global it did not assign is
//!   nil for the names the file format knows (`package` in a rockspec), else the read is
//!   recorded and the evaluation fails, naming it: calling it (`os.execute(...)`) fails at once,
//!   with its line; any other read fails once the chunk has run (LuaRocks says "Unknown
//!   variable" there too);
//! - strings have no methods (LuaRocks' own process would let `("x"):rep(1e9)` through);
//! - a count hook stops a chunk after [`INSTRUCTIONS`] VM instructions (the JIT is off so that
//!   the hook sees every loop), and the state may not allocate more than [`MEMORY`] bytes;
//! - a leading `#!` line is skipped, as LuaRocks does, but its line is kept for line numbers.
//!
//! The result is the environment as plain data ([`Table`]); the callers (`rockspec`,
//! `manifest`) read their format from it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::chunk::ChunkMode;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, VmState};

/// How many VM instructions a file may run: a rockspec runs a few hundred.
pub const INSTRUCTIONS: u64 = 10_000_000;
/// How much memory the Lua state may hold.
pub const MEMORY: usize = 64 << 20;
/// How deep tables may nest in the result (deeper is a table that contains itself).
const DEPTH: usize = 64;

/// A place in a file: `path:line`, or the file alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub path: PathBuf,
    pub line: Option<u32>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Why a file could not be evaluated. `what` is the kind of file (`rockspec`, `manifest`).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{place}: {message}")]
    Syntax { place: Place, message: String },
    #[error(
        "{place}: the {what} {action} {name}, which a {what} may not: bundle evaluates it as data, with no standard library (no io, os, require, load, dofile or string methods), as LuaRocks gives it an empty environment"
    )]
    Forbidden { place: Place, what: &'static str, action: &'static str, name: String },
    #[error("{place}: {message}")]
    Runtime { place: Place, message: String },
    #[error(
        "{place}: the {what} ran for more than {INSTRUCTIONS} Lua instructions and was stopped (an endless loop?)"
    )]
    TooLong { place: Place, what: &'static str },
    #[error("{}: the {what} used more than {} MiB of memory and was stopped", path.display(), MEMORY >> 20)]
    TooMuchMemory { path: PathBuf, what: &'static str },
    #[error(
        "{}: the {what}'s field {field} nests tables more than {DEPTH} deep (a table that contains itself?)",
        path.display()
    )]
    TooDeep { path: PathBuf, what: &'static str, field: String },
    #[error("{}: bundle internal error while evaluating the {what}: {message}", path.display())]
    Internal { path: PathBuf, what: &'static str, message: String },
}

/// A Lua value as data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Number(f64),
    String(String),
    Table(Table),
    /// A function, userdata or thread: no data a field can hold. The word is its Lua type.
    Other(&'static str),
}

impl Value {
    /// The value's kind, for messages ("a string").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Table(_) => "a table",
            Value::Other("function") => "a function",
            Value::Other(_) => "a value that is not data",
        }
    }

    /// A string, or a number as Lua's `tostring` writes it (LuaRocks passes flags through
    /// `tostring`).
    pub(crate) fn to_text(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(number_text(*n)),
            _ => None,
        }
    }
}

/// `tostring(n)` of Lua 5.1 (`%.14g`) for the numbers a file holds.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A table key: an integer, a string, or anything else as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Int(i64),
    Str(String),
    Other(String),
}

impl fmt::Display for Key {
    /// As a field path shows it: `.name`, `[1]`, `["a b"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "[{i}]"),
            Key::Str(s) if is_identifier(s) => write!(f, ".{s}"),
            Key::Str(s) => write!(f, "[{s:?}]"),
            Key::Other(s) => write!(f, "[{s}]"),
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Lua table as data, its keys sorted (integers first).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Table(pub(crate) BTreeMap<Key, Value>);

impl Table {
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(&Key::Str(key.to_owned()))
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(&Key::Str(key.to_owned()))
    }

    /// The array part as `ipairs` walks it: `[1]`, `[2]`... up to the first hole.
    pub(crate) fn array(&self) -> impl Iterator<Item = &Value> {
        (1..).map_while(|i| self.0.get(&Key::Int(i)))
    }

    /// The string keys and their values.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().filter_map(|(k, v)| match k {
            Key::Str(s) => Some((s.as_str(), v)),
            _ => None,
        })
    }
}

/// What the sandbox saw go wrong; the Lua error that carried it is only a signal.
#[derive(Debug, Clone)]
enum Failure {
    Forbidden { line: Option<u32>, action: &'static str, name: String },
    TooLong { line: Option<u32> },
}

/// The sandbox's record of a run.
#[derive(Default)]
struct Log {
    /// Globals read that the file did not assign (name, extended as it is indexed, and line).
    reads: Vec<(String, Option<u32>)>,
    /// The first forbidden act; the evaluation stopped there.
    failure: Option<Failure>,
}

type Shared = Rc<RefCell<Log>>;

/// The line the running Lua code is at (the innermost Lua frame).
fn current_line(lua: &Lua) -> Option<u32> {
    (0..32)
        .map_while(|level| {
            lua.inspect_stack(level, |d| {
                let lua_frame = d.source().what != "C";
                (lua_frame, d.current_line())
            })
        })
        .find(|(lua_frame, _)| *lua_frame)
        .and_then(|(_, line)| line)
        .and_then(|l| u32::try_from(l).ok())
}

/// Records `failure` and returns the error that unwinds the chunk.
fn fail(log: &Shared, failure: Failure) -> mlua::Error {
    let mut log = log.borrow_mut();
    log.failure.get_or_insert(failure);
    mlua::Error::runtime("stopped by the sandbox")
}

/// The stand-in for a global the file did not assign (`os`, then `os.execute`): indexing it
/// gives another stand-in, calling it or computing with it fails.
fn stand_in(lua: &Lua, log: &Shared, read: usize, name: String) -> mlua::Result<mlua::Table> {
    let table = lua.create_table()?;
    let meta = lua.create_table()?;
    {
        let (log, name) = (log.clone(), name.clone());
        meta.set(
            "__index",
            lua.create_function(move |lua, (_, key): (mlua::Value, mlua::Value)| {
                let key = match &key {
                    mlua::Value::String(s) => s.to_string_lossy(),
                    other => format!("[{}]", other.type_name()),
                };
                let child = format!("{name}.{key}");
                {
                    let mut l = log.borrow_mut();
                    if l.reads[read].0 == name {
                        l.reads[read].0 = child.clone();
                    }
                }
                stand_in(lua, &log, read, child)
            })?,
        )?;
    }
    let ops = [
        ("__call", "calls"),
        ("__newindex", "uses"),
        ("__concat", "uses"),
        ("__add", "uses"),
        ("__sub", "uses"),
        ("__mul", "uses"),
        ("__div", "uses"),
        ("__mod", "uses"),
        ("__pow", "uses"),
        ("__unm", "uses"),
        ("__len", "uses"),
        ("__lt", "uses"),
        ("__le", "uses"),
        ("__eq", "uses"),
    ];
    for (event, action) in ops {
        let (log, name) = (log.clone(), name.clone());
        meta.set(
            event,
            lua.create_function(move |lua, _: mlua::MultiValue| -> mlua::Result<()> {
                let line = current_line(lua);
                Err(fail(&log, Failure::Forbidden { line, action, name: name.clone() }))
            })?,
        )?;
    }
    table.set_metatable(Some(meta))?;
    Ok(table)
}

/// Runs `path` (its bytes in `source`) in the sandbox and returns the globals it assigned.
/// `known` are the globals the format defines: reading one that is unset gives nil. `what`
/// names the kind of file in messages.
pub(crate) fn evaluate(
    path: &Path,
    source: &[u8],
    what: &'static str,
    known: &[&str],
) -> Result<Table, EvalError> {
    let internal =
        |e: mlua::Error| EvalError::Internal { path: path.into(), what, message: e.to_string() };
    let place = |line: Option<u32>| Place { path: path.to_path_buf(), line };

    let lua = Lua::new_with(StdLib::JIT, LuaOptions::new()).map_err(internal)?;
    // A count hook sees only interpreted code: keep everything in the interpreter.
    let jit: mlua::Table = lua.globals().get("jit").map_err(internal)?;
    jit.get::<mlua::Function>("off").and_then(|off| off.call::<()>(())).map_err(internal)?;
    // Without a custom allocator there is no limit to set; the instruction limit remains.
    let _ = lua.set_memory_limit(MEMORY);

    let log: Shared = Rc::default();
    {
        let log = log.clone();
        let count = std::cell::Cell::new(0u64);
        const EVERY: u32 = 1000;
        lua.set_hook(HookTriggers::new().every_nth_instruction(EVERY), move |_, debug| {
            count.set(count.get() + u64::from(EVERY));
            if count.get() > INSTRUCTIONS {
                let line = debug.current_line().and_then(|l| u32::try_from(l).ok());
                return Err(fail(&log, Failure::TooLong { line }));
            }
            Ok(VmState::Continue)
        })
        .map_err(internal)?;
    }

    // Strings: no methods.
    let string_meta = lua.create_table().map_err(internal)?;
    {
        let log = log.clone();
        let index = lua
            .create_function(move |lua, (_, key): (mlua::Value, mlua::Value)| -> mlua::Result<()> {
                let key = match &key {
                    mlua::Value::String(s) => s.to_string_lossy(),
                    other => format!("[{}]", other.type_name()),
                };
                let line = current_line(lua);
                let name = format!("the string method '{key}'");
                Err(fail(&log, Failure::Forbidden { line, action: "uses", name }))
            })
            .map_err(internal)?;
        string_meta.set("__index", index).map_err(internal)?;
    }
    lua.set_type_metatable::<mlua::LuaString>(Some(string_meta));

    // The environment: what the chunk assigns, plus nil for the format's own names.
    let env = lua.create_table().map_err(internal)?;
    let env_meta = lua.create_table().map_err(internal)?;
    {
        let log = log.clone();
        let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        let index = lua
            .create_function(move |lua, (_, key): (mlua::Value, mlua::Value)| {
                let name = match &key {
                    mlua::Value::String(s) => s.to_string_lossy(),
                    other => format!("[{}]", other.type_name()),
                };
                if known.contains(&name) {
                    return Ok(mlua::Value::Nil);
                }
                let read = {
                    let mut l = log.borrow_mut();
                    l.reads.push((name.clone(), current_line(lua)));
                    l.reads.len() - 1
                };
                stand_in(lua, &log, read, name).map(mlua::Value::Table)
            })
            .map_err(internal)?;
        env_meta.set("__index", index).map_err(internal)?;
    }
    env.set_metatable(Some(env_meta)).map_err(internal)?;

    // `#!` line: skipped as LuaRocks does, its newline kept so that lines stay right.
    let text: &[u8] = if source.starts_with(b"#!") {
        &source[source.iter().position(|&b| b == b'\n').unwrap_or(source.len())..]
    } else {
        source
    };

    let chunk_id = what;
    let split = |message: &str| -> (Option<u32>, String) {
        let message = message.split("\nstack traceback:").next().unwrap_or(message);
        let parsed = message
            .strip_prefix(chunk_id)
            .and_then(|r| r.strip_prefix(':'))
            .and_then(|r| r.split_once(": "))
            .and_then(|(line, m)| Some((line.parse::<u32>().ok()?, m)));
        match parsed {
            Some((line, m)) => (Some(line), m.to_owned()),
            None => (None, message.to_owned()),
        }
    };

    let function = lua
        .load(text)
        .set_name(format!("={chunk_id}"))
        .set_mode(ChunkMode::Text)
        .set_environment(env.clone())
        .into_function()
        .map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => {
                let (line, message) = split(&message);
                EvalError::Syntax { place: place(line), message }
            }
            mlua::Error::MemoryError(_) => EvalError::TooMuchMemory { path: path.into(), what },
            other => internal(other),
        })?;
    let ran = function.call::<()>(());
    lua.remove_hook();

    // What stopped it, most telling first: a forbidden call; a global it may not read (a
    // stand-in is truthy, so `if os then` takes a branch LuaRocks would not, and whatever
    // failed after it says less than the read); the instruction limit; its own error.
    let log = log.borrow();
    if let Some(Failure::Forbidden { line, action, name }) = &log.failure {
        return Err(EvalError::Forbidden { place: place(*line), what, action, name: name.clone() });
    }
    if let Some((name, line)) = log.reads.first() {
        return Err(EvalError::Forbidden {
            place: place(*line),
            what,
            action: "reads",
            name: name.clone(),
        });
    }
    if let Some(Failure::TooLong { line }) = &log.failure {
        return Err(EvalError::TooLong { place: place(*line), what });
    }
    ran.map_err(|e| runtime_error(e, path, what, &split))?;
    to_table(&env, path, what, "", 0)
}

/// A Lua error from the chunk itself (not the sandbox's), as `path:line: message`.
fn runtime_error(
    e: mlua::Error,
    path: &Path,
    what: &'static str,
    split: &dyn Fn(&str) -> (Option<u32>, String),
) -> EvalError {
    match e {
        mlua::Error::MemoryError(_) => EvalError::TooMuchMemory { path: path.into(), what },
        mlua::Error::RuntimeError(message) => {
            let (line, message) = split(&message);
            EvalError::Runtime { place: Place { path: path.into(), line }, message }
        }
        mlua::Error::CallbackError { cause, .. } => {
            runtime_error((*cause).clone(), path, what, split)
        }
        mlua::Error::WithContext { cause, .. } => {
            runtime_error((*cause).clone(), path, what, split)
        }
        other => EvalError::Internal { path: path.into(), what, message: other.to_string() },
    }
}

/// The environment's raw contents as data (`pairs` does not call `__index`).
fn to_table(
    table: &mlua::Table,
    path: &Path,
    what: &'static str,
    field: &str,
    depth: usize,
) -> Result<Table, EvalError> {
    if depth > DEPTH {
        return Err(EvalError::TooDeep { path: path.into(), what, field: field.to_owned() });
    }
    let internal =
        |e: mlua::Error| EvalError::Internal { path: path.into(), what, message: e.to_string() };
    let mut out = BTreeMap::new();
    for pair in table.pairs::<mlua::Value, mlua::Value>() {
        let (k, v) = pair.map_err(internal)?;
        let key = match k {
            mlua::Value::Integer(i) => Key::Int(i),
            mlua::Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Key::Int(n as i64),
            mlua::Value::Number(n) => Key::Other(number_text(n)),
            mlua::Value::String(s) => Key::Str(s.to_string_lossy()),
            mlua::Value::Boolean(b) => Key::Other(b.to_string()),
            other => Key::Other(other.type_name().to_owned()),
        };
        let name = if field.is_empty() {
            match &key {
                Key::Str(s) => s.clone(),
                k => k.to_string(),
            }
        } else {
            format!("{field}{key}")
        };
        let value = match v {
            mlua::Value::Boolean(b) => Value::Bool(b),
            mlua::Value::Integer(i) => Value::Number(i as f64),
            mlua::Value::Number(n) => Value::Number(n),
            mlua::Value::String(s) => Value::String(s.to_string_lossy()),
            mlua::Value::Table(t) => Value::Table(to_table(&t, path, what, &name, depth + 1)?),
            mlua::Value::Nil => continue,
            other => Value::Other(other.type_name()),
        };
        out.insert(key, value);
    }
    Ok(Table(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> Result<Table, EvalError> {
        evaluate(Path::new("f"), text.as_bytes(), "rockspec", &["known"])
    }

    #[test]
    fn globals_become_data() {
        let t =
            eval("a = 1 b = 'x' c = { 1, 2, k = true, [3.5] = 0 } d = function() end local e = 5")
                .unwrap();
        assert_eq!(t.get("a"), Some(&Value::Number(1.0)));
        assert_eq!(t.get("b"), Some(&Value::String("x".into())));
        let Some(Value::Table(c)) = t.get("c") else { panic!() };
        assert_eq!(c.array().count(), 2);
        assert_eq!(c.fields().collect::<Vec<_>>(), [("k", &Value::Bool(true))]);
        assert_eq!(c.0.get(&Key::Other("3.5".into())), Some(&Value::Number(0.0)));
        assert_eq!(t.get("d").map(Value::kind), Some("a function"));
        assert_eq!(t.get("e"), None);
        // A known name reads as nil.
        assert!(eval("x = known == nil and 1 or 2").unwrap().get("x") == Some(&Value::Number(1.0)));
    }

    #[test]
    fn texts() {
        assert_eq!(Value::Number(2.0).to_text().as_deref(), Some("2"));
        assert_eq!(Value::Number(2.5).to_text().as_deref(), Some("2.5"));
        assert_eq!(Value::Bool(true).to_text(), None);
        assert_eq!(Key::Str("a.b".into()).to_string(), "[\"a.b\"]");
        assert_eq!(Key::Str("ab".into()).to_string(), ".ab");
        assert_eq!(Key::Int(3).to_string(), "[3]");
        let p = Place { path: "x".into(), line: Some(3) };
        assert_eq!(p.to_string(), "x:3");
    }

    #[test]
    fn what_stops_a_file() {
        let e = eval("x = 1\ny = os.time() + 1").unwrap_err();
        assert!(
            matches!(&e, EvalError::Forbidden { action: "calls", name, place, .. }
            if name == "os.time" && place.line == Some(2)),
            "{e}"
        );
        let e = eval("x = string.format").unwrap_err();
        assert!(
            matches!(&e, EvalError::Forbidden { action: "reads", name, .. } if name == "string.format"),
            "{e}"
        );
        let e = eval("x = os .. 'a'").unwrap_err();
        assert!(
            matches!(&e, EvalError::Forbidden { action: "uses", name, .. } if name == "os"),
            "{e}"
        );
        let e = eval("x = = 1").unwrap_err();
        assert!(matches!(&e, EvalError::Syntax { place, .. } if place.line == Some(1)), "{e}");
        let e = eval("repeat until false").unwrap_err();
        assert!(matches!(e, EvalError::TooLong { .. }), "{e}");
        let e = eval("x = {} + 1").unwrap_err();
        assert_eq!(e.to_string(), "f:1: attempt to perform arithmetic on a table value");
    }
}
