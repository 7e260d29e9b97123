//! `BUNDLE_TRACE=startup` (docs/STARTUP.md): the phases in order on stderr, through the stub
//! and the C file; nothing at all without the variable (or with another value).

mod common;

use std::process::Command;

use common::*;

const PHASES: &[&str] =
    &["Lua state opened", "standard libraries opened, searchers installed", "main chunk loaded"];

fn positions(stderr: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| stderr.find(n).unwrap_or_else(|| panic!("{n:?} not traced in {stderr:?}")))
        .collect()
}

#[test]
fn startup_phases_are_traced_in_order_by_both_hosts() {
    let dir =
        app(&[("main.lua", "print(require('lib.util').x)\n"), ("lib/util.lua", "return {x=42}\n")]);
    let d = dir.path();
    let r = bundle(d, &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bundle(d, &["main.lua", "--emit-c", "--cc", "-o", "appc.c", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for exe in ["app", "appc"] {
        let quiet = run(hermetic(Command::new(d.join(exe)).current_dir(d)));
        assert_eq!((quiet.code, quiet.stdout.as_str(), quiet.stderr.as_str()), (0, "42\n", ""));
        let other =
            run(hermetic(Command::new(d.join(exe)).current_dir(d).env("BUNDLE_TRACE", "yes")));
        assert_eq!(other.stderr, "", "only BUNDLE_TRACE=startup traces");
        let traced =
            run(hermetic(Command::new(d.join(exe)).current_dir(d).env("BUNDLE_TRACE", "startup")));
        assert_eq!((traced.code, traced.stdout.as_str()), (0, "42\n"), "{}", traced.stderr);
        assert!(
            traced.stderr.lines().all(|l| l.starts_with("bundle: trace ")),
            "{}",
            traced.stderr
        );
        let at = positions(&traced.stderr, PHASES);
        assert!(at.windows(2).all(|w| w[0] < w[1]), "phases out of order: {}", traced.stderr);
        if exe == "app" {
            let at = positions(
                &traced.stderr,
                &[
                    "payload found, index verified",
                    "Lua state opened",
                    "require 'lib.util': found in the bundle (lua-bytecode",
                ],
            );
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", traced.stderr);
        }
    }
}

/// Issue 19: a program with assets gets the overlay's stubs at start-up, and the overlay itself
/// (runtime/lua/assets.lua) is loaded on the first use of a file only: never for a program
/// that touches no file (its require of a bundled module included), after the main chunk for
/// one that opens its asset.
#[test]
fn issue19_asset_overlay_is_loaded_on_first_use_only() {
    let dir = app(&[
        (
            "main.lua",
            "local m = require('lib.m')\nif arg[1] then print(io.open('one.txt'):read('*l')) else print(m) end\n",
        ),
        ("lib/m.lua", "return 'hi'\n"),
        ("one.txt", "tiny\n"),
    ]);
    let d = dir.path();
    let r = bundle(d, &["main.lua", "-o", "app", "-q", "--asset", "one.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r =
        bundle(d, &["main.lua", "--emit-c", "--cc", "-o", "appc.c", "-q", "--asset", "one.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Hermetic: package.path is empty, so a require does not look among the assets either.
    let r = bundle(d, &["main.lua", "-o", "apph", "-q", "--asset", "one.txt", "--hermetic"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(d.join("one.txt")).unwrap(); // read from the executable, not the disk
    for exe in ["app", "appc", "apph"] {
        let traced = |args: &[&str]| {
            let mut cmd = Command::new(d.join(exe));
            cmd.args(args).current_dir(d).env("BUNDLE_TRACE", "startup");
            run(hermetic(&mut cmd))
        };
        let quiet = traced(&[]);
        assert_eq!((quiet.code, quiet.stdout.as_str()), (0, "hi\n"), "{}", quiet.stderr);
        let at = positions(
            &quiet.stderr,
            &["asset overlay installed (loaded on first use)", "main chunk loaded"],
        );
        assert!(at[0] < at[1], "{}", quiet.stderr);
        assert!(!quiet.stderr.contains("asset overlay loaded"), "{exe}: {}", quiet.stderr);
        let reads = traced(&["read"]);
        assert_eq!((reads.code, reads.stdout.as_str()), (0, "tiny\n"), "{}", reads.stderr);
        let at = positions(
            &reads.stderr,
            &[
                "asset overlay installed (loaded on first use)",
                "main chunk loaded",
                "asset overlay loaded (first use of a file)",
            ],
        );
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{exe}: {}", reads.stderr);
    }
}
