//! LuaRocks version numbers, constraints and dependency strings, read as LuaRocks 3 reads them
//! (re-implemented from luarocks/core/vers.lua and luarocks/queries.lua, not copied):
//!
//! - a version is a list of numbers: `1.2.3-1` is `[1, 2, 3]` with revision 1; the words `dev`,
//!   `scm`, `cvs` are huge numbers (newer than any release), `rc`, `pre`, `beta`, `alpha` are
//!   negative and fold the number after them into the same slot (`2.0rc1` is `[2, 0, -999.99999]`,
//!   older than `2.0`); any other word counts as its first letter's code / 1000;
//! - comparison pads the shorter list with zeros and looks at revisions only when both have
//!   one; but `==` also wants the same number of parts, so `1.0 == 1.0.0` is false while neither
//!   is lower than the other (LuaRocks' own quirk, kept so that both tools agree);
//! - `~> 1.2` (pessimistic) matches the versions whose first parts are 1 and 2: `1.2`, `1.2.9`,
//!   not `1.3` nor `1.1`; with a revision (`~> 1.2-3`), the revision must be equal too;
//! - a dependency is `name [op version {, op version}]`, the name optionally `namespace/name`.
//!
//! Plain data in, plain data out: nothing here reads a file.

use std::cmp::Ordering;
use std::fmt;

/// Why a constraint or dependency string cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "bad version constraint '{text}': '{op}' is not an operator; use one of ==, ~=, >=, <=, >, < or ~> followed by a version (`>= 1.0, < 2.0`)"
    )]
    Operator { text: String, op: String },
    #[error(
        "bad version constraint '{text}': expected an operator and a version such as `>= 1.0` or `~> 2.1`"
    )]
    Constraint { text: String },
    #[error(
        "bad dependency '{text}': expected a rock name (letters, digits, '.', '-', '_') optionally followed by version constraints, such as `luasocket >= 3.0`"
    )]
    Name { text: String },
}

/// `dev`, `scm`, ... and their value in a version's list (luarocks/core/vers.lua `deltas`).
fn word_value(word: &str) -> f64 {
    match word {
        "dev" => 120_000_000.0,
        "scm" => 110_000_000.0,
        "cvs" => 100_000_000.0,
        "rc" => -1_000.0,
        "pre" => -10_000.0,
        "beta" => -100_000.0,
        "alpha" => -1_000_000.0,
        // Any other word: its first byte / 1000 (so `1.0a` < `1.0b`, both above `1.0`).
        _ => f64::from(word.as_bytes()[0]) / 1000.0,
    }
}

/// A LuaRocks version (`1.2.3-1`, `2.0rc1`, `scm-1`, `dev`), kept with its text.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    parts: Vec<f64>,
    revision: Option<f64>,
}

impl Version {
    /// Reads `text` as LuaRocks does. It never fails: whatever LuaRocks cannot read ends the
    /// list with a 0, as LuaRocks does after its warning.
    pub fn parse(text: &str) -> Version {
        // `^%s*(.*)%s*$`: the greedy `.*` keeps trailing spaces, so only leading ones go.
        let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let mut rest = text;
        let mut revision = None;
        // `(.*)%-(%d+)$`: the last `-digits` is the revision.
        if let Some(dash) = rest.rfind('-') {
            let digits = &rest[dash + 1..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                revision = Some(number(digits));
                rest = &rest[..dash];
            }
        }
        let mut parts: Vec<f64> = Vec::new();
        // The slot the next number goes to; a word fills that slot without moving on, so the
        // number after it (`rc1`) is added to it as a fraction.
        let mut i = 0usize;
        let set = |parts: &mut Vec<f64>, i: usize, v: f64| {
            if i < parts.len() {
                parts[i] = v;
            } else {
                parts.push(v);
            }
        };
        let skip_separators = |s: &str| s.trim_start_matches(['.', '-', '_']).to_owned();
        let mut rest = rest.to_owned();
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                let n = number(&rest[..digits]);
                if i < parts.len() {
                    parts[i] += n / 100_000.0;
                } else {
                    parts.push(n);
                }
                i += 1;
                rest = skip_separators(&rest[digits..]);
                continue;
            }
            let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            if letters == 0 {
                // LuaRocks warns "version number could not be parsed" and stops here.
                set(&mut parts, i, 0.0);
                break;
            }
            set(&mut parts, i, word_value(&rest[..letters]));
            rest = skip_separators(&rest[letters..]);
        }
        Version { text: text.to_owned(), parts, revision }
    }

    /// The version as written (leading spaces removed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The revision (`1` of `1.0-1`), if the text has one.
    pub fn revision(&self) -> Option<f64> {
        self.revision
    }

    /// LuaRocks' `<`: zero-padded parts, then the revisions if both have one.
    pub fn is_lower_than(&self, other: &Version) -> bool {
        self.compare(other) == Ordering::Less
    }

    /// An order for sorting (LuaRocks' `<` both ways): `Equal` also for `1.0` and `1.0.0`,
    /// which `==` tells apart.
    pub fn compare(&self, other: &Version) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        for k in 0..n {
            let a = self.parts.get(k).copied().unwrap_or(0.0);
            let b = other.parts.get(k).copied().unwrap_or(0.0);
            if a != b {
                return a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            }
        }
        match (self.revision, other.revision) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        }
    }

    /// The version without its revision (`1.2.3` of `1.2.3-1`).
    pub fn without_revision(&self) -> &str {
        match self.revision {
            Some(_) => self.text.rsplit_once('-').map_or(self.text.as_str(), |(v, _)| v),
            None => &self.text,
        }
    }

    /// `~>`: the parts `self` (the requested version) has are the ones of `version`, and so is
    /// the revision if `self` has one (vers.lua `partial_match`).
    fn partially_matches(&self, version: &Version) -> bool {
        let parts_match = self
            .parts
            .iter()
            .enumerate()
            .all(|(k, &r)| version.parts.get(k).copied().unwrap_or(0.0) == r);
        parts_match && self.revision.is_none_or(|r| version.revision == Some(r))
    }
}

/// Digits as Lua's `tonumber` reads them (a double).
fn number(digits: &str) -> f64 {
    digits.parse::<f64>().unwrap_or(f64::INFINITY)
}

/// LuaRocks' `==`: the same number of parts, equal parts, and equal revisions if both have one.
impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.parts == other.parts
            && match (self.revision, other.revision) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A constraint's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==` (also written `=` or nothing).
    Eq,
    /// `~=` (also `!=`).
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// `~>`: the same leading parts (`~> 1.2` is `>= 1.2, < 1.3` for plain numbers).
    Pessimistic,
}

impl Op {
    fn parse(op: &str) -> Option<Op> {
        Some(match op {
            "==" | "=" | "" => Op::Eq,
            "~=" | "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "~>" => Op::Pessimistic,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "~=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Pessimistic => "~>",
        }
    }
}

/// One `op version` of a dependency.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

impl Constraint {
    /// Whether `version` satisfies this constraint (vers.lua `match_constraints`).
    pub fn matches(&self, version: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq => version == c,
            Op::Ne => version != c,
            Op::Gt => c.is_lower_than(version),
            Op::Lt => version.is_lower_than(c),
            Op::Ge => !version.is_lower_than(c),
            Op::Le => !c.is_lower_than(version),
            Op::Pessimistic => c.partially_matches(version),
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.as_str(), self.version)
    }
}

/// Reads a list of constraints (`>= 1.0, < 2.0`; queries.lua `parse_constraints`). An empty
/// text is no constraint.
pub fn parse_constraints(text: &str) -> Result<Vec<Constraint>, VersionError> {
    let mut out = Vec::new();
    let mut rest = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    while !rest.is_empty() {
        // `^(@?)([<>=~!]*)%s*([%w%.%_%-]+)[%s,]*(.*)`; the `@` (do not upgrade) changes nothing
        // when checking what is installed.
        let s = rest.strip_prefix('@').unwrap_or(rest);
        let op_len = s.bytes().take_while(|b| b"<>=~!".contains(b)).count();
        let (op, s) = s.split_at(op_len);
        let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let v_len =
            s.bytes().take_while(|b| b.is_ascii_alphanumeric() || b"._-".contains(b)).count();
        if v_len == 0 {
            return Err(VersionError::Constraint { text: text.to_owned() });
        }
        let Some(op) = Op::parse(op) else {
            return Err(VersionError::Operator { text: text.to_owned(), op: op.to_owned() });
        };
        out.push(Constraint { op, version: Version::parse(&s[..v_len]) });
        rest = s[v_len..].trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
    }
    Ok(out)
}

/// A dependency of a rockspec: a rock and the versions it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    /// The rock's name (`luasocket`).
    pub name: String,
    /// The namespace of `namespace/name` (rockspec format 3.0), if any.
    pub namespace: Option<String>,
    /// All must hold; none means any version.
    pub constraints: Vec<Constraint>,
}

impl Dependency {
    /// Reads `luasocket >= 3.0, < 4`, as `queries.from_dep_string` does.
    pub fn parse(text: &str) -> Result<Dependency, VersionError> {
        let bad = || VersionError::Name { text: text.to_owned() };
        let is_name = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
        let s = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let first = s.bytes().take_while(|&b| is_name(b)).count();
        let after = &s.as_bytes()[first..];
        // `[name chars]*/?[alnum][name chars]*`: a slash counts only if a letter or digit
        // follows it.
        let (full, rest) = if after.first() == Some(&b'/')
            && after.get(1).is_some_and(u8::is_ascii_alphanumeric)
        {
            let second = s[first + 1..].bytes().take_while(|&b| is_name(b)).count();
            s.split_at(first + 1 + second)
        } else {
            if !s[..first].bytes().any(|b| b.is_ascii_alphanumeric()) {
                return Err(bad());
            }
            s.split_at(first)
        };
        // `%s*([^/]*)`: the constraints stop at a slash.
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let rest = rest.split('/').next().unwrap_or("");
        let (namespace, name) = match full.split_once('/') {
            Some((ns, name)) if !ns.is_empty() => (Some(ns.to_owned()), name.to_owned()),
            _ => (None, full.to_owned()),
        };
        Ok(Dependency { name, namespace, constraints: parse_constraints(rest)? })
    }

    /// Whether `version` satisfies every constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.constraints.iter().all(|c| c.matches(version))
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)?;
        for (k, c) in self.constraints.iter().enumerate() {
            f.write_str(if k == 0 { " " } else { ", " })?;
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s)
    }

    #[test]
    fn parts_and_revisions() {
        assert_eq!(v("1.2.3-1").parts, [1.0, 2.0, 3.0]);
        assert_eq!(v("1.2.3-1").revision, Some(1.0));
        assert_eq!(v("scm-1").parts, [110_000_000.0]);
        assert_eq!(v("dev").parts, [120_000_000.0]);
        assert_eq!(v("dev").revision, None);
        // The number after a word is folded into the word's slot.
        assert_eq!(v("2.0rc1").parts, [2.0, 0.0, -1000.0 + 1.0 / 100_000.0]);
        assert_eq!(v("1.0_beta").parts, [1.0, 0.0, -100_000.0]);
        assert_eq!(v("  1.0-2").as_str(), "1.0-2");
        assert_eq!(v("1.2.3-1").without_revision(), "1.2.3");
        assert_eq!(v("1.2.3").without_revision(), "1.2.3");
        // Unreadable: a 0, then stop.
        assert_eq!(v("1.+2").parts, [1.0, 0.0]);
    }

    #[test]
    fn order_follows_luarocks() {
        let lower = [
            ("1.0", "1.1"),
            ("1.9", "1.10"),
            ("2.0rc1", "2.0"),
            ("2.0alpha", "2.0beta"),
            ("2.0beta", "2.0rc1"),
            ("2.0rc1", "2.0rc2"),
            ("2.0", "2.0.1"),
            ("1.0-1", "1.0-2"),
            ("9999.0", "scm"),
            ("scm", "dev"),
            ("cvs", "scm"),
            ("1.0", "1.0a"),
        ];
        for (a, b) in lower {
            assert!(v(a).is_lower_than(&v(b)), "{a} < {b}");
            assert!(!v(b).is_lower_than(&v(a)), "not {b} < {a}");
        }
        // A revision counts only when both have one.
        assert_eq!(v("1.0").compare(&v("1.0-5")), Ordering::Equal);
        assert!(v("1.0") == v("1.0-5"));
        // LuaRocks' `==` wants as many parts; `<` pads with zeros.
        assert!(v("1.0") != v("1.0.0"));
        assert_eq!(v("1.0").compare(&v("1.0.0")), Ordering::Equal);
    }

    fn dep(s: &str) -> Dependency {
        Dependency::parse(s).unwrap()
    }

    #[test]
    fn constraints() {
        let d = dep("foo >= 1.0, < 2.0");
        assert_eq!(d.name, "foo");
        assert_eq!(d.constraints.len(), 2);
        assert!(d.matches(&v("1.0-1")));
        assert!(d.matches(&v("1.9.9-3")));
        assert!(!d.matches(&v("2.0-1")));
        assert!(!d.matches(&v("0.9-1")));
        assert_eq!(d.to_string(), "foo >= 1.0, < 2.0");

        let p = dep("bar ~> 1.2");
        for ok in ["1.2", "1.2-1", "1.2.0", "1.2.9-4"] {
            assert!(p.matches(&v(ok)), "{ok}");
        }
        for no in ["1.3", "1.1.9", "2.2", "1"] {
            assert!(!p.matches(&v(no)), "{no}");
        }
        assert!(dep("bar ~> 1.2-3").matches(&v("1.2.5-3")));
        assert!(!dep("bar ~> 1.2-3").matches(&v("1.2-4")));

        assert!(dep("x == 1.0").matches(&v("1.0-7")));
        assert!(dep("x 1.0").matches(&v("1.0-7")));
        assert!(dep("x = 1.0").matches(&v("1.0")));
        assert!(!dep("x == 1.0").matches(&v("1.0.0")));
        assert!(dep("x ~= 1.0").matches(&v("1.1")));
        assert!(dep("x != 1.0").matches(&v("1.1")));
        assert!(dep("x > 1.0").matches(&v("1.0.1")));
        assert!(!dep("x > 1.0").matches(&v("1.0")));
        assert!(dep("x <= 1.0").matches(&v("1.0.0")));
        assert!(dep("x >= scm").matches(&v("dev-1")));
        assert!(dep("x").matches(&v("0.0.1")));
        assert!(dep("x >=1.0,<2").matches(&v("1.5")));
        assert!(dep("x @>= 1.0").matches(&v("1.5")));
    }

    #[test]
    fn dependency_names() {
        let d = dep("  luasocket");
        assert_eq!((d.name.as_str(), d.namespace), ("luasocket", None));
        let d = dep("mycorp/lua-cjson >= 2");
        assert_eq!((d.name.as_str(), d.namespace.as_deref()), ("lua-cjson", Some("mycorp")));
        assert_eq!(d.to_string(), "mycorp/lua-cjson >= 2");
        assert_eq!(dep("lua_5.1-compat>1").name, "lua_5.1-compat");
        for bad in ["", "  ", ">= 1.0", "-._ 1"] {
            assert!(matches!(Dependency::parse(bad), Err(VersionError::Name { .. })), "{bad:?}");
        }
        let e = Dependency::parse("foo => 1.0").unwrap_err();
        assert!(matches!(&e, VersionError::Operator { op, .. } if op == "=>"), "{e}");
        assert!(e.to_string().contains("~>"), "{e}");
        let e = Dependency::parse("foo >= ").unwrap_err();
        assert!(matches!(e, VersionError::Constraint { .. }), "{e}");
        let e = Dependency::parse("foo >= 1.0 ??").unwrap_err();
        assert!(matches!(e, VersionError::Constraint { .. }), "{e}");
    }
}
