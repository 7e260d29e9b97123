//! The deployment targets `bundle` knows, in one place: Heroku stacks and the glibc each ships.
//! An executable (or a native library packed in it) that needs a newer glibc than its stack has
//! fails at start on the dyno; `bundle inspect --stack` and `bundle heroku` check it first.

use crate::inspect::Report;

/// A stack: its name and the glibc version it provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stack {
    pub name: &'static str,
    pub glibc: (u32, u32),
    /// The Ubuntu release it is built on, for messages.
    pub base: &'static str,
}

/// Heroku's current stacks (devcenter.heroku.com/articles/stack).
pub const STACKS: &[Stack] = &[
    Stack { name: "heroku-22", glibc: (2, 35), base: "Ubuntu 22.04" },
    Stack { name: "heroku-24", glibc: (2, 39), base: "Ubuntu 24.04" },
];

/// The stack called `name`.
pub fn find(name: &str) -> Option<Stack> {
    STACKS.iter().copied().find(|s| s.name == name)
}

/// The names, for messages.
pub fn names() -> String {
    STACKS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// Why an executable cannot run on a stack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("{file} is not an ELF executable; {stack} runs Linux ELF")]
    NotElf { file: String, stack: &'static str },
    #[error("{file} is built for {arch}; {stack} dynos are x86_64")]
    Arch { file: String, arch: String, stack: &'static str },
    #[error("{file} needs {libraries}, which it does not carry (left out with --no-lib) and which {stack} is not known to provide: bundle without --no-lib")]
    Libraries { file: String, libraries: String, stack: &'static str },
    #[error("{file} needs glibc {needed} or newer (the newest GLIBC_ symbol version it or a packed native library uses), but {stack} ({base}) has glibc {}.{}: build it on an older system, or use a newer stack", .has.0, .has.1)]
    Glibc { file: String, needed: String, stack: &'static str, base: &'static str, has: (u32, u32) },
}

/// Whether the inspected executable can run on `stack`; the error says why not.
pub fn check(report: &Report, stack: Stack) -> Result<(), Mismatch> {
    let file = || report.file.clone();
    let Some(exe) = &report.executable else {
        return Err(Mismatch::NotElf { file: file(), stack: stack.name });
    };
    if exe.arch != "x86_64" {
        return Err(Mismatch::Arch { file: file(), arch: exe.arch.clone(), stack: stack.name });
    }
    if !report.payload.external_libraries.is_empty() {
        return Err(Mismatch::Libraries {
            file: file(),
            libraries: report.payload.external_libraries.join(", "),
            stack: stack.name,
        });
    }
    if let Some(v) = &exe.min_glibc {
        let parts: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        let needed = (parts.first().copied().unwrap_or(0), parts.get(1).copied().unwrap_or(0));
        if needed > stack.glibc {
            return Err(Mismatch::Glibc {
                file: file(),
                needed: v.clone(),
                stack: stack.name,
                base: stack.base,
                has: stack.glibc,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{Executable, PayloadInfo, Report, Totals};

    fn report(glibc: &str, arch: &str) -> Report {
        Report {
            integrity: Default::default(),
            schema: 1,
            file: "app".into(),
            size: 1,
            manifest: None,
            executable: Some(Executable {
                format: "elf64".into(),
                arch: arch.into(),
                endian: "little".into(),
                stripped: true,
                interpreter: None,
                needed: vec![],
                min_glibc: Some(glibc.into()),
            }),
            payload: PayloadInfo {
                format_version: 1,
                carrier: "section".into(),
                offset: 0,
                size: 0,
                checksum: String::new(),
                checksum_ok: true,
                main: None,
                interpreter: None,
                preloads: vec![],
                entry_points: vec![],
                default_entry: None,
                args: None,
                hermetic: false,
                entries: vec![],
                totals: Totals { entries: 0, raw: 0, stored: 0 },
                external_libraries: vec![],
            },
        }
    }

    #[test]
    fn glibc_versions_against_stacks() {
        let h22 = find("heroku-22").unwrap();
        let h24 = find("heroku-24").unwrap();
        assert!(check(&report("2.34", "x86_64"), h22).is_ok());
        assert!(check(&report("2.35", "x86_64"), h22).is_ok());
        let err = check(&report("2.38", "x86_64"), h22).unwrap_err().to_string();
        assert!(
            err.contains("needs glibc 2.38")
                && err.contains("heroku-22 (Ubuntu 22.04) has glibc 2.35"),
            "{err}"
        );
        assert!(check(&report("2.38", "x86_64"), h24).is_ok());
        assert!(check(&report("2.4", "x86_64"), h22).is_ok(), "2.4 is older than 2.35");
        assert!(check(&report("2.17", "aarch64"), h24).unwrap_err().to_string().contains("x86_64"));
        assert_eq!(find("heroku-18"), None);
        let mut r = report("2.31", "x86_64");
        r.payload.external_libraries = vec!["libuv.so.1".into()];
        assert!(check(&r, h24).unwrap_err().to_string().contains("needs libuv.so.1"));
    }
}
