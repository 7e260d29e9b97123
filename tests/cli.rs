//! The bundler's command line: bad input of every kind gets one clear message naming the file,
//! a non-zero exit and no output file; good input gives byte-identical output every time.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A small two-module program in a fresh directory.
fn program() -> tempfile::TempDir {
    let dir = tempdir();
    let p = dir.path();
    std::fs::create_dir(p.join("lib")).unwrap();
    std::fs::write(p.join("main.lua"), "local u = require('lib.util')\nprint(u.greet(...))\n")
        .unwrap();
    std::fs::write(
        p.join("lib/util.lua"),
        "return { greet = function(w) return 'hello ' .. tostring(w) end }\n",
    )
    .unwrap();
    dir
}

/// Asserts a failed run: exit code, exactly one line on stderr containing `needle`.
fn assert_error(r: &Run, code: i32, needle: &str) {
    assert_eq!(r.code, code, "exit code; stderr: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line of error, got: {:?}", r.stderr);
    assert!(r.stderr.contains(needle), "expected {needle:?} in {:?}", r.stderr);
}

/// Asserts a syntax error shown as a diagnostic (STYLE.md: the line, with a caret): the message
/// with `needle` first, the source line and its caret, then the one `bundle: error:` line.
fn assert_syntax_error(r: &Run, needle: &str) {
    assert_eq!(r.code, 1, "exit code; stderr: {}", r.stderr);
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: ") && first.contains(needle), "{:?}", r.stderr);
    assert!(
        r.stderr.lines().any(|l| l.contains('^') || l.trim_end().ends_with('│')),
        "{:?}",
        r.stderr
    );
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("bundle: error: "), "{:?}", r.stderr);
}

fn build_ok(dir: &Path, out: &str) -> std::path::PathBuf {
    let r = bundle(dir, &["main.lua", "-m", "lib.util=lib/util.lua", "-o", out, "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir.join(out)
}

#[test]
fn builds_and_runs_with_summary() {
    let dir = program();
    let r = bundle(dir.path(), &["main.lua", "-m", "lib.util=lib/util.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.starts_with("bundle: wrote app ("), "summary: {}", r.stderr);
    assert!(r.stderr.contains("main script + 1 module"), "summary: {}", r.stderr);
    let run = run(hermetic(&mut Command::new(dir.path().join("app"))).arg("world"));
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello world\n"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("app")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn output_is_reproducible() {
    let dir = program();
    let a = std::fs::read(build_ok(dir.path(), "a")).unwrap();
    let b = std::fs::read(build_ok(dir.path(), "b")).unwrap();
    assert!(a == b, "two builds of the same inputs differ");
    // The same program in another directory gives the same bytes too: no absolute paths leak.
    let other = program();
    let c = std::fs::read(build_ok(other.path(), "c")).unwrap();
    assert!(a == c, "the build depends on the directory it ran in");
}

#[test]
fn strip_and_source_modes() {
    let dir = program();
    let plain = build_ok(dir.path(), "plain");
    for (flag, name) in [("--strip", "stripped"), ("--source", "source")] {
        let r = bundle(
            dir.path(),
            &["main.lua", "-m", "lib.util=lib/util.lua", "-o", name, "-q", flag],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let run = run(hermetic(&mut Command::new(dir.path().join(name))).arg("x"));
        assert_eq!(run.stdout, "hello x\n", "{flag}");
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&dir.path().join("stripped")) < size(&plain), "--strip makes the output smaller");
    // Stripped bytecode has no line information: messages show line 0.
    std::fs::write(dir.path().join("main.lua"), "error('x')\n").unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "s2", "-q", "--strip"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let run = run(&mut Command::new(dir.path().join("s2")));
    assert!(
        run.stderr.contains("main.lua:0: x") && !run.stderr.contains("main.lua:1"),
        "{}",
        run.stderr
    );
}

#[test]
fn strip_tool_keeps_the_payload() {
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let r = run(Command::new("strip").arg(&app));
    assert_eq!(r.code, 0, "strip: {}", r.stderr);
    let run = run(hermetic(&mut Command::new(&app)).arg("stripped"));
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello stripped\n"), "{}", run.stderr);
}

#[test]
fn trailer_carrier_runs() {
    // Move the payload from the section to the end of the file: the fallback carrier.
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let image = std::fs::read(&app).unwrap();
    let located = bundle_runtime::carrier::locate(&image).unwrap();
    let payload = image[located.range].to_vec();
    let bare = dir.path().join("bare");
    let r = run(Command::new("objcopy").args(["--remove-section", ".bundle"]).arg(&app).arg(&bare));
    assert_eq!(r.code, 0, "objcopy: {}", r.stderr);
    let mut trailer = std::fs::read(&bare).unwrap();
    trailer.extend_from_slice(&payload);
    let with_trailer = dir.path().join("trailer");
    std::fs::write(&with_trailer, trailer).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&with_trailer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = run(hermetic(&mut Command::new(&with_trailer)).arg("trailer"));
    assert_eq!((run.code, run.stdout.as_str()), (0, "hello trailer\n"), "{}", run.stderr);
}

#[test]
fn missing_main() {
    let dir = tempdir();
    let r = bundle(dir.path(), &["nope.lua", "-o", "app"]);
    assert_error(&r, 1, "nope.lua: no such file");
    assert_only(dir.path(), &[]);
}

#[test]
fn main_is_a_directory() {
    let dir = tempdir();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let r = bundle(dir.path(), &["src", "-o", "app"]);
    assert_error(&r, 1, "src: is a directory");
    assert_only(dir.path(), &["src"]);
}

#[test]
fn unreadable_module() {
    let dir = program();
    // Root reads any file whatever its mode; /proc/self/mem cannot be read from offset 0 by
    // anyone, so it stands in for an unreadable file in that case.
    let unreadable = if is_root() {
        "/proc/self/mem".to_owned()
    } else {
        let p = dir.path().join("secret.lua");
        std::fs::write(&p, "return 1").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        "secret.lua".to_owned()
    };
    let spec = format!("secret={unreadable}");
    let r = bundle(dir.path(), &["main.lua", "-m", &spec, "-o", "app"]);
    assert_error(&r, 1, "cannot read");
    assert!(!dir.path().join("app").exists());
}

#[test]
fn syntax_error_in_module() {
    let dir = program();
    std::fs::write(dir.path().join("lib/bad.lua"), "local x = 1\nlocal = 2\n").unwrap();
    let r = bundle(dir.path(), &["main.lua", "-m", "bad=lib/bad.lua", "-o", "app"]);
    assert_syntax_error(&r, "lib/bad.lua:2: '<name>' expected near '='");
    assert_only(dir.path(), &["main.lua", "lib"]);
}

#[test]
fn syntax_error_in_main() {
    let dir = tempdir();
    std::fs::write(dir.path().join("main.lua"), "print('a')\n\nfunction f(\n").unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_syntax_error(&r, "main.lua:4: ");
    assert_only(dir.path(), &["main.lua"]);
}

#[test]
fn failed_build_leaves_previous_output_untouched() {
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let before = std::fs::read(&app).unwrap();
    std::fs::write(dir.path().join("lib/util.lua"), "return {\n").unwrap();
    let r = bundle(dir.path(), &["main.lua", "-m", "lib.util=lib/util.lua", "-o", "app"]);
    assert_syntax_error(&r, "lib/util.lua:2:");
    assert!(std::fs::read(&app).unwrap() == before, "the old output was modified");
    assert_only(dir.path(), &["main.lua", "lib", "app"]);
}

#[test]
fn module_file_missing() {
    let dir = program();
    let r = bundle(dir.path(), &["main.lua", "-m", "x=lib/x.lua", "-o", "app"]);
    assert_error(&r, 1, "lib/x.lua: no such file");
    assert_only(dir.path(), &["main.lua", "lib"]);
}

#[test]
fn module_flag_syntax() {
    let dir = program();
    for (spec, needle) in [
        ("lib/util.lua", "expected NAME=FILE, NAME or 'prefix.*'"),
        ("a..b=lib/util.lua", "not a valid module name"),
        ("string=lib/util.lua", "built into the runtime"),
        ("x=", "expected NAME=FILE"),
    ] {
        let r = bundle(dir.path(), &["main.lua", "-m", spec, "-o", "app"]);
        // A usage error (issue 13, item 15).
        assert_error(&r, 2, needle);
    }
    let r = bundle(
        dir.path(),
        &["main.lua", "-m", "u=lib/util.lua", "-m", "u=lib/util.lua", "-o", "app"],
    );
    assert_error(&r, 2, "given twice");
    assert_only(dir.path(), &["main.lua", "lib"]);
}

#[test]
fn preloads_are_resolved_like_modules() {
    let dir = program();
    let r = bundle(dir.path(), &["main.lua", "-l", "no.such.module", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("module 'no.such.module' not found"), "{}", r.stderr);
    assert!(!dir.path().join("app").exists());
    let r =
        bundle(dir.path(), &["main.lua", "-l", "jit.util", "-l", "lib.util", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "builtin and discovered modules can be preloaded: {}", r.stderr);
}

#[test]
fn output_equal_to_an_input() {
    let dir = program();
    let before = std::fs::read(dir.path().join("main.lua")).unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "main.lua"]);
    assert_error(&r, 1, "is also an input");
    let r = bundle(
        dir.path(),
        &["main.lua", "-m", "lib.util=lib/util.lua", "-o", "./lib/../lib/util.lua"],
    );
    assert_error(&r, 1, "is also an input");
    assert_eq!(std::fs::read(dir.path().join("main.lua")).unwrap(), before);
}

#[test]
fn output_directory_missing_or_directory() {
    let dir = program();
    let r = bundle(dir.path(), &["main.lua", "-o", "no/such/dir/app"]);
    assert_error(&r, 1, "does not exist");
    let r = bundle(dir.path(), &["main.lua", "-o", "lib"]);
    assert_error(&r, 1, "is a directory");
    assert_only(dir.path(), &["main.lua", "lib"]);
}

#[test]
fn stub_that_is_not_a_stub() {
    let dir = program();
    std::fs::write(dir.path().join("text"), "just text\n").unwrap();
    let sh = "/bin/sh".to_owned();
    for (stub, needle) in [("text", "not a bundle stub"), (sh.as_str(), "no .bundle_stub marker")] {
        let r = bundle(dir.path(), &["main.lua", "--stub", stub, "-o", "app"]);
        assert_error(&r, 1, needle);
    }
    let app = build_ok(dir.path(), "first");
    let r = bundle(dir.path(), &["main.lua", "--stub", app.to_str().unwrap(), "-o", "app"]);
    assert_error(&r, 1, "already carries a payload");
    assert!(!dir.path().join("app").exists());
}

#[test]
fn usage_errors_exit_2() {
    let dir = program();
    let r = bundle(dir.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = bundle(dir.path(), &["main.lua"]);
    assert_eq!(r.code, 2, "missing -o: {}", r.stderr);
    let r = bundle(dir.path(), &["main.lua", "-o", "x", "--strip", "--source"]);
    assert_eq!(r.code, 2, "--strip with --source: {}", r.stderr);
}

/// Runs a damaged executable: one line naming it, exit 65, nothing on stdout, no signal.
fn assert_damaged(exe: &Path, needle: &str) {
    let r = run(&mut Command::new(exe));
    assert_eq!(r.signal, None, "{}: killed by a signal", exe.display());
    assert_eq!(r.code, 65, "{}: stderr {:?}", exe.display(), r.stderr);
    assert!(r.stdout.is_empty(), "a damaged executable ran part of the program: {:?}", r.stdout);
    assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
    let name = exe.file_name().unwrap().to_string_lossy();
    assert!(r.stderr.contains(name.as_ref()), "the message names the executable: {:?}", r.stderr);
    assert!(r.stderr.contains(needle), "expected {needle:?} in {:?}", r.stderr);
}

#[test]
fn damaged_executables_report_and_never_run() {
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let image = std::fs::read(&app).unwrap();
    let range = bundle_runtime::carrier::locate(&image).unwrap().range;

    // Bit flips in the header, the index, the data and the footer of the payload.
    let len = range.len();
    for (i, at) in [0, 9, 50, 100, len / 2, len - 30, len - 1].into_iter().enumerate() {
        let mut bytes = image.clone();
        bytes[range.start + at] ^= 0x10;
        let exe = dir.path().join(format!("flipped{i}"));
        write_exe(&exe, &bytes);
        assert_damaged(&exe, "damaged bundle payload");
    }

    // A cut in the section table alone (not loaded: the payload is found through the program
    // headers, issue 13) leaves the program whole: it runs as built.
    let cut = dir.path().join("cut");
    write_exe(&cut, &image[..image.len() - 1]);
    let whole = run(Command::new(&app).arg("x"));
    let r = run(Command::new(&cut).arg("x"));
    assert_eq!((r.code, &r.stdout), (whole.code, &whole.stdout), "{}", r.stderr);

    // Truncations inside the payload: the file is shorter than its program headers say.
    for (i, keep) in [range.end - 1, range.start + 10, range.start].into_iter().enumerate() {
        let exe = dir.path().join(format!("truncated{i}"));
        write_exe(&exe, &image[..keep]);
        let r = run(&mut Command::new(&exe));
        assert_eq!(r.signal, None);
        assert_ne!(r.code, 0);
        assert!(r.stdout.is_empty());
        assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
    }

    // The section removed: no payload at all.
    let removed = dir.path().join("removed");
    let r =
        run(Command::new("objcopy").args(["--remove-section", ".bundle"]).arg(&app).arg(&removed));
    assert_eq!(r.code, 0, "objcopy: {}", r.stderr);
    assert_damaged(&removed, "no bundle payload found");
}

#[test]
fn many_arguments_reach_the_script() {
    let dir = tempdir();
    std::fs::write(dir.path().join("main.lua"), "print(select('#', ...), #arg, arg[#arg])\n")
        .unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let args: Vec<String> = (1..=9000).map(|i| i.to_string()).collect();
    let run = run(Command::new(dir.path().join("app")).args(&args));
    assert_eq!((run.code, run.stdout.as_str()), (0, "9000\t9000\t9000\n"), "{}", run.stderr);
}

/// A finalizer that requires a module while a (large, compressed) module is being loaded: the
/// searcher is re-entered from inside the loader's GC step. Regression test for a RefCell
/// borrow held across luaL_loadbuffer, found in review.
#[test]
fn searcher_reentered_from_a_finalizer() {
    let dir = tempdir();
    let big: String = "local t = {}\n".to_owned()
        + &(0..3000).map(|i| format!("t[{i}] = {{ {i}, '{i}' }}\n")).collect::<String>()
        + "return true\n";
    write_tree(
        dir.path(),
        &[
            ("big.lua", big.as_str()),
            ("small.lua", "return {}\n"),
            (
                "main.lua",
                r#"local ran, armed = 0, false
for i = 1, 1000 do
  local p = newproxy(true)
  getmetatable(p).__gc = function()
    ran = ran + 1
    if armed then package.loaded.small = nil; require("small") end
  end
end
collectgarbage("setstepmul", 10)
while ran == 0 do collectgarbage("step", 0) end
armed = true
require("big")
print("survived")
if false then require("small") end
"#,
            ),
        ],
    );
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for _ in 0..20 {
        let run = run(&mut Command::new(dir.path().join("app")));
        assert_eq!((run.code, run.stdout.as_str()), (0, "survived\n"), "{}", run.stderr);
    }
}

#[test]
fn a_full_stderr_is_not_a_crash() {
    let dir = program();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let r = run(Command::new(bundle_bin())
        .current_dir(dir.path())
        .args(["main.lua", "-o", "app"])
        .stderr(full));
    assert_eq!(r.code, 0);
    assert!(dir.path().join("app").exists());
}

/// Outputs are renamed over their target: a FIFO (or `/dev/null`, a device) there must be
/// refused, not replaced by a regular file (found while measuring the corpus of issue 12).
#[test]
fn an_output_that_is_not_a_regular_file_is_refused() {
    let dir = program();
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let r = bundle(dir.path(), &["main.lua", "-o", "pipe"]);
    assert_error(&r, 1, "output pipe: is not a regular file");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
    assert_only(dir.path(), &["main.lua", "lib", "pipe"]);
}

/// Issue 13: an interrupted build leaves no temporary file behind: SIGTERM during a `--trace`
/// run removes its temporary directory and stops the traced program's process group.
#[test]
fn interrupted_build_leaves_no_temporary_file_and_no_traced_process() {
    let dir = tempdir();
    let tmp = tempdir();
    let marker = format!("sleep 30.{}", std::process::id());
    std::fs::write(dir.path().join("main.lua"), format!("os.execute('{marker}')\n")).unwrap();
    let mut child = bundle_cmd(dir.path(), &["main.lua", "-o", "app", "--trace", "--"])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let running =
        || Command::new("pgrep").args(["-f", &marker]).output().unwrap().stdout.is_empty().not();
    use std::ops::Not;
    let start = std::time::Instant::now();
    while !running() {
        assert!(start.elapsed().as_secs() < 20, "the traced program never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "the trace directory exists");
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "ends as the signal would");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "temporary directory removed");
    assert_only(dir.path(), &["main.lua"]);
    let gone = std::time::Instant::now();
    while running() {
        assert!(gone.elapsed().as_secs() < 5, "the traced program outlived bundle");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Issue 13, item 1: `--emit-c --cc -o app.c` compiles to `app`, which must never be an input
/// (here the main script itself, then a module through `-o util.lua.c`).
#[test]
fn issue13_cc_output_never_replaces_an_input() {
    let dir = tempdir();
    write_tree(dir.path(), &[("app", "print(require('util'))\n"), ("util.lua", "return 1\n")]);
    let before = std::fs::read(dir.path().join("app")).unwrap();
    let r = bundle(dir.path(), &["app", "--emit-c", "--cc", "-o", "app.c"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is also an input"), "{}", r.stderr);
    assert_eq!(std::fs::read(dir.path().join("app")).unwrap(), before, "the source is intact");
    let r = bundle(dir.path(), &["app", "--emit-c", "--cc", "-o", "util.lua.c"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("util.lua is also an input"), "{}", r.stderr);
    assert_eq!(std::fs::read(dir.path().join("util.lua")).unwrap(), b"return 1\n");
    assert_only(dir.path(), &["app", "util.lua"]);
}

/// Issue 13, item 2: `--depfile` is checked against every input, not only `-o`.
#[test]
fn issue13_depfile_never_replaces_an_input() {
    let dir = program();
    for depfile in ["main.lua", "lib/util.lua"] {
        let before = std::fs::read(dir.path().join(depfile)).unwrap();
        let r = bundle(dir.path(), &["main.lua", "-o", "app", "--depfile", depfile]);
        assert_eq!(r.code, 1, "{depfile}: {}", r.stderr);
        assert!(r.stderr.contains("is also an input"), "{}", r.stderr);
        assert_eq!(std::fs::read(dir.path().join(depfile)).unwrap(), before, "{depfile} intact");
        assert_only(dir.path(), &["main.lua", "lib"]);
    }
}

/// Issue 13, item 3: `heroku slug APP -o APP` and `oci APP -o APP` keep the executable, also
/// through a symlink or a hard link to it.
#[test]
fn issue13_slug_and_image_never_replace_the_executable() {
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let before = std::fs::read(&app).unwrap();
    std::os::unix::fs::symlink(&app, dir.path().join("link")).unwrap();
    std::fs::hard_link(&app, dir.path().join("hard")).unwrap();
    for out in ["app", "link", "hard"] {
        for args in [vec!["heroku", "slug", "app", "-o", out], vec!["oci", "app", "-o", out]] {
            let r = bundle(dir.path(), &args);
            assert_ne!(r.code, 0, "{args:?}: {}", r.stderr);
            assert!(r.stderr.contains("is also an input"), "{args:?}: {}", r.stderr);
            assert_eq!(std::fs::read(&app).unwrap(), before, "{args:?}: the executable is intact");
        }
    }
    assert_only(dir.path(), &["app", "hard", "lib", "link", "main.lua"]);
}

/// Issue 13: `extract` is all-or-nothing: a name clash leaves nothing, and so does an entry
/// that cannot be decoded (every entry is decoded before the first write).
#[test]
fn issue13_extract_is_all_or_nothing() {
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("lib")).unwrap();
    std::fs::write(out.join("lib/util.luac"), "mine").unwrap();
    let r = bundle(dir.path(), &["extract", "app", "-d", "out"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let files: Vec<_> = walk(&out);
    assert_eq!(files, vec![out.join("lib/util.luac")], "nothing else written");
    assert_eq!(std::fs::read(out.join("lib/util.luac")).unwrap(), b"mine");
    let r = bundle(dir.path(), &["extract", "app", "-d", "fresh"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let _ = app;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Issue 13, item 13: `-o newdir/` names a directory; no file called `newdir` appears.
#[test]
fn issue13_output_with_a_trailing_slash_is_a_directory() {
    let dir = program();
    let r = bundle(dir.path(), &["main.lua", "-o", "newdir/"]);
    assert_error(&r, 1, "output newdir/: ends with '/'");
    assert_only(dir.path(), &["main.lua", "lib"]);
}

/// Issue 13, item 15: usage errors found after parsing exit 2, like clap's.
#[test]
fn issue13_usage_errors_exit_2() {
    let dir = program();
    for args in [
        vec!["main.lua", "-o", "app", "-m", "=x"],
        vec!["main.lua", "-o", "app", "-l", "a b"],
        vec!["main.lua", "-o", "app", "--interpreter-env", "A=B"],
        vec!["main.lua", "-o", "app", "--trace"],
    ] {
        let r = bundle(dir.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    assert_only(dir.path(), &["main.lua", "lib"]);
}

/// Issue 13, item 16: a stdout that cannot be written (full or closed) is an error; a closed
/// pipe (`| head`) is not.
#[test]
fn issue13_unwritable_stdout_is_an_error() {
    let dir = program();
    build_ok(dir.path(), "app");
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    for args in [
        vec!["main.lua", "--list"],
        vec!["inspect", "app"],
        vec!["verify", "app"],
        vec!["extract", "app", "-d", "out"],
    ] {
        let r = run(bundle_cmd(dir.path(), &args).stdout(full()));
        assert_eq!(r.code, 1, "{args:?} > /dev/full: {}", r.stderr);
        assert!(r.stderr.contains("cannot write to standard output"), "{}", r.stderr);
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
        let mut closed = bundle_cmd(dir.path(), &args);
        use std::os::unix::process::CommandExt;
        // SAFETY: close(2) in the child before exec.
        unsafe {
            closed.pre_exec(|| {
                libc::close(1);
                Ok(())
            })
        };
        let r = run(&mut closed);
        assert_eq!(r.code, 1, "{args:?} >&-: {}", r.stderr);
        let _ = std::fs::remove_dir_all(dir.path().join("out"));
    }
    // A reader that stops early is not an error.
    let mut child = bundle_cmd(dir.path(), &["inspect", "app"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// Issue 13, items 12 and 14: a `?` or `;` in a searched directory would be taken for template
/// syntax, and a newline cannot be written in a Make rule: both are refused, nothing written.
#[test]
fn issue13_template_characters_and_newlines_in_paths_are_refused() {
    let dir = program();
    std::fs::create_dir(dir.path().join("dir?x")).unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-I", "dir?x"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot contain '?' or ';'"), "{}", r.stderr);
    std::fs::write(dir.path().join("lib/new\nline.lua"), "return 1").unwrap();
    let r = bundle(
        dir.path(),
        &["main.lua", "-o", "app", "-m", "x=lib/new\nline.lua", "--depfile", "app.d"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("newline"), "{}", r.stderr);
    assert!(!dir.path().join("app.d").exists());
}

/// Issue 13, item 4: the executable finds its payload in its own memory (a loaded segment), so
/// it runs where reading /proc/self/exe fails: through ld.so, without /proc, and as an
/// execute-only file run by another user.
#[test]
fn issue13_runs_without_reading_its_own_file() {
    let dir = program();
    let app = build_ok(dir.path(), "app");
    let want = run(Command::new(&app).arg("x"));
    assert_eq!(want.stdout, "hello x\n");
    let loader = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("the dynamic loader");
    let through_ldso = run(Command::new(loader).arg(&app).arg("x"));
    assert_eq!(
        (through_ldso.code, &through_ldso.stdout),
        (0, &want.stdout),
        "{}",
        through_ldso.stderr
    );
    if !is_root() {
        eprintln!("SKIPPED (needs root): no /proc, execute-only file of another user");
        return;
    }
    let no_proc = run(Command::new("unshare")
        .args(["-m", "sh", "-c", "umount -l /proc && test ! -e /proc/self && exec \"$0\" x"])
        .arg(&app));
    assert_eq!((no_proc.code, &no_proc.stdout), (0, &want.stdout), "{}", no_proc.stderr);
    // Execute-only, in a directory others can enter, run as nobody.
    let shared = tempfile::Builder::new().prefix("bundle-xo").tempdir_in("/tmp").unwrap();
    let xo = shared.path().join("app");
    std::fs::copy(&app, &xo).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(&xo, std::fs::Permissions::from_mode(0o711)).unwrap();
    let mut as_nobody = Command::new(&xo);
    use std::os::unix::process::CommandExt;
    as_nobody.arg("x").uid(65534).gid(65534).current_dir("/");
    let r = run(&mut as_nobody);
    assert_eq!((r.code, &r.stdout), (0, &want.stdout), "{}", r.stderr);
    assert!(std::fs::File::open(&xo).is_ok(), "root can read it; nobody could not");
}

/// Issue 13, item 9: inputs that are not regular files (here /dev/zero, which would grow
/// memory until the process is killed) are refused, as the main script, a module found on
/// LUA_PATH, `-m NAME=FILE` or `--stub`; `verify` of a huge file is refused by size, at once.
#[test]
fn issue13_non_regular_and_huge_inputs_are_refused() {
    let dir = program();
    let d = dir.path();
    std::fs::write(d.join("z.lua"), "local zz = require('zz')\n").unwrap();
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["/dev/zero", "-o", "app"], None, "/dev/zero: is not a regular file"),
        (
            vec!["z.lua", "-o", "app"],
            Some("/dev/zero"),
            "resolves to /dev/zero, which is not a regular file",
        ),
        (
            vec!["main.lua", "-o", "app", "-m", "x=/dev/zero"],
            None,
            "/dev/zero: is not a regular file",
        ),
        (
            vec!["main.lua", "-o", "app", "--stub", "/dev/zero"],
            None,
            "/dev/zero: is not a regular file",
        ),
    ];
    for (args, lua_path, needle) in cases {
        let mut cmd = bundle_cmd(d, &args);
        if let Some(p) = lua_path {
            cmd.env("LUA_PATH", p);
        }
        let start = std::time::Instant::now();
        let r = run(&mut cmd);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(start.elapsed().as_secs() < 10, "{args:?} took too long");
        assert_only(d, &["lib", "main.lua", "z.lua"]);
    }
    let huge = d.join("huge");
    std::fs::File::create(&huge).unwrap().set_len(5 << 30).unwrap();
    for sub in ["verify", "inspect"] {
        let start = std::time::Instant::now();
        let r = bundle(d, &[sub, "huge"]);
        assert_eq!(r.code, 1, "{sub}: {}", r.stderr);
        assert!(start.elapsed().as_secs() < 10, "{sub} of a 5 GiB sparse file took too long");
    }
}

/// Issue 13, item 11: file names are bytes end to end. A module in a directory whose name is
/// not UTF-8, found through `-I`, keeps its exact bytes in chunk names (so tracebacks are
/// luajit's byte for byte) and in the depfile.
#[test]
fn issue13_paths_that_are_not_utf8_are_kept_as_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempdir();
    let d = dir.path();
    let odd = std::ffi::OsStr::from_bytes(b"lib\xff");
    std::fs::create_dir(d.join(odd)).unwrap();
    std::fs::write(d.join(odd).join("m.lua"), "return function() error('boom') end\n").unwrap();
    std::fs::write(d.join("main.lua"), "require('m')()\n").unwrap();
    let mut args: Vec<&std::ffi::OsStr> =
        ["main.lua", "-o", "app", "--depfile", "app.d", "-I"].iter().map(|s| s.as_ref()).collect();
    args.push(odd);
    let out = Command::new(bundle_bin()).current_dir(d).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got = Command::new(d.join("app")).env("LUA_PATH", "/nonexistent/?.lua").output().unwrap();
    let mut lua_path = b"./lib\xff/?.lua;".to_vec();
    lua_path.extend_from_slice(b"./?.lua");
    let want = Command::new(luajit())
        .current_dir(d)
        .env("LUA_PATH", std::ffi::OsStr::from_bytes(&lua_path))
        .arg("main.lua")
        .output()
        .unwrap();
    let first_line = |b: &[u8]| b.split(|&c| c == b'\n').next().unwrap_or(b"").to_vec();
    let strip_prog = |l: Vec<u8>| {
        let at = l.windows(2).position(|w| w == b": ").map_or(0, |i| i + 2);
        l[at..].to_vec()
    };
    // luajit names the file through its own template (`./lib\xff/m.lua`), the bundle through
    // the -I template (`lib\xff/m.lua`): the directory's bytes must be the same.
    let got_line = strip_prog(first_line(&got.stderr));
    let want_line = strip_prog(first_line(&want.stderr));
    assert!(
        got_line.windows(4).any(|w| w == b"\xff/m."),
        "{:?}",
        String::from_utf8_lossy(&got_line)
    );
    assert!(
        want_line.ends_with(b"lib\xff/m.lua:1: boom"),
        "{:?}",
        String::from_utf8_lossy(&want_line)
    );
    assert!(
        got_line.ends_with(b"lib\xff/m.lua:1: boom"),
        "{:?}",
        String::from_utf8_lossy(&got_line)
    );
    let dep = std::fs::read(d.join("app.d")).unwrap();
    let listed: Vec<&[u8]> = dep
        .split(|&c| c == b'\n')
        .skip(1)
        .map(|l| l.trim_ascii().trim_ascii_end())
        .map(|l| l.strip_suffix(b"\\").unwrap_or(l).trim_ascii_end())
        .filter(|l| !l.is_empty())
        .collect();
    for f in listed {
        assert!(
            Path::new(std::ffi::OsStr::from_bytes(f)).exists(),
            "{:?}",
            String::from_utf8_lossy(f)
        );
    }
}

/// Issue 14: `--help` lists every command (clap subcommands) besides the default build form.
#[test]
fn issue14_help_lists_every_command() {
    let dir = tempdir();
    let r = run(bundle_cmd(dir.path(), &["--help"]).env("COLUMNS", "100"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    for cmd in ["why", "rockspec", "inspect", "verify", "sign", "extract", "links", "heroku", "oci"]
    {
        assert!(r.stdout.contains(&format!("\n  {cmd} ")), "{cmd} missing from:\n{}", r.stdout);
    }
    insta::assert_snapshot!("help", r.stdout);
}

/// What each command's `--help` says, as people read it (at a fixed width).
#[test]
fn every_command_help_is_stable() {
    let dir = tempdir();
    for cmd in ["why", "rockspec", "inspect", "verify", "sign", "extract", "links", "heroku", "oci"]
    {
        let r = run(bundle_cmd(dir.path(), &[cmd, "--help"]).env("COLUMNS", "100"));
        assert_eq!(r.code, 0, "{cmd}: {}", r.stderr);
        insta::assert_snapshot!(format!("help_{cmd}"), r.stdout);
    }
}
