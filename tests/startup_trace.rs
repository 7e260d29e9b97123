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
