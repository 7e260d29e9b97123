//! The `bundle` command: parse flags, validate them into a plan, run the pipeline, report.
//! Subcommands (`why`, `inspect`, `verify`, `extract`) are recognised by the first argument.
//!
//! Exit status: 0 on success, 1 when the build failed (the message names the file) or a
//! subcommand found a problem, 2 for a command-line usage error.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use bundle::cli::{
    Cli, ExtractCli, HerokuCli, HerokuCommand, InspectCli, OciCli, VerifyCli, WhyCli,
};
use bundle::plan::BuildPlan;
use bundle::Error;

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Writes a line to stderr; a closed or full stderr is not worth a panic.
fn say(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Prints an error: graph diagnostics rendered with their source lines, anything else as one
/// `bundle: error: ...` line.
fn report_error(err: &Error) {
    if let Error::Diagnostics(diags) = err {
        diags.iter().for_each(|d| d.emit());
    }
    say(format_args!("bundle: error: {err}"));
}

/// Writes to stdout; a closed pipe (`bundle --list | head`) is not an error.
fn print_stdout(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn build(cli: &Cli) -> Result<(), Error> {
    let plan = BuildPlan::from_cli(cli)?;
    if cli.list {
        let graph = bundle::graph::build(&plan)?;
        print_stdout(&bundle::list_table(&graph));
        if graph.has_errors() {
            return Err(Error::Diagnostics(graph.diagnostics));
        }
        if !cli.quiet {
            graph.diagnostics.iter().for_each(|d| d.emit());
        }
        return Ok(());
    }
    let report = bundle::build(&plan)?;
    if let (Some(c), false) = (&plan.emit_c, plan.quiet) {
        let out = cli.output.as_deref().unwrap_or(&report.output);
        say(format_args!("bundle: link with: {}", bundle::emit_c::link_line(out, &c.c_libs)));
    }
    if !plan.quiet {
        report.warnings.iter().for_each(|d| d.emit());
        if let (Some(t), Some(m)) = (&report.trace, &plan.main) {
            t.lines(&m.display).iter().for_each(|l| say(format_args!("{l}")));
        }
        let t = report.totals;
        let shown = cli.output.as_deref().unwrap_or(&report.output);
        say(format_args!(
            "bundle: wrote {} ({}): {} + {} module{}, {} → {} stored",
            shown.display(),
            human(report.output_len),
            match (&plan.main, &plan.interpreter) {
                (None, _) => "interpreter",
                (Some(_), Some(_)) => "main script, interpreter",
                (Some(_), None) => "main script",
            },
            report.modules,
            if report.modules == 1 { "" } else { "s" },
            human(t.raw),
            human(t.stored),
        ));
    }
    Ok(())
}

fn why(cli: &WhyCli) -> Result<bool, Error> {
    let plan = BuildPlan::for_graph(Some(&cli.main), &cli.graph)?;
    let graph = bundle::graph::build(&plan)?;
    let chains = graph.chains_to(&cli.name);
    if chains.is_empty() {
        say(format_args!("bundle: '{}' is not required by {}", cli.name, cli.main.display()));
        return Ok(false);
    }
    print_stdout(&chains.iter().map(|c| format!("{c}\n")).collect::<String>());
    Ok(true)
}

fn inspect(cli: &InspectCli) -> ExitCode {
    match bundle::inspect::inspect(&cli.file) {
        Ok(report) => {
            if cli.json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                print_stdout(&format!("{text}\n"));
            } else {
                print_stdout(&bundle::inspect::render(&report));
            }
            if let Some(name) = &cli.stack {
                let checked = bundle::heroku::stack(name)
                    .map_err(|e| e.to_string())
                    .and_then(|stack| bundle::stacks::check(&report, stack).map(|()| stack));
                match checked {
                    Ok(stack) => say(format_args!(
                        "bundle: runs on {} (glibc {}.{})",
                        stack.name, stack.glibc.0, stack.glibc.1
                    )),
                    Err(e) => {
                        say(format_args!("bundle: error: {e}"));
                        return ExitCode::FAILURE;
                    }
                }
            }
            if report.payload.checksum_ok {
                ExitCode::SUCCESS
            } else {
                say(format_args!(
                    "bundle: error: {}: the payload checksum does not match: the file is damaged",
                    cli.file.display()
                ));
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn verify(cli: &VerifyCli) -> ExitCode {
    match bundle::inspect::verify(&cli.file) {
        Ok(r) => {
            print_stdout(&format!(
                "{}: ok ({} entries, checksum {})\n",
                cli.file.display(),
                r.payload.totals.entries,
                r.payload.checksum
            ));
            ExitCode::SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn extract(cli: &ExtractCli) -> ExitCode {
    match bundle::extract::extract(&cli.file, &cli.dir, cli.force) {
        Ok(files) => {
            print_stdout(&files.iter().map(|f| format!("{}\n", f.display())).collect::<String>());
            ExitCode::SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn heroku(cli: &HerokuCli) -> ExitCode {
    let result = match &cli.command {
        HerokuCommand::Slug { binary, output, processes, stack } => (|| {
            let stack = bundle::heroku::stack(stack)?;
            let processes = bundle::heroku::processes(binary, processes)?;
            let bytes = bundle::heroku::checked_binary(binary, Some(stack))?;
            let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("app");
            let slug = bundle::heroku::slug(name, &bytes, &processes)?;
            let inputs = bundle::emit::Inputs::of([binary.as_path()]);
            bundle::emit::write_atomically_with_mode(output, &slug, 0o644, &inputs)
                .map_err(|e| bundle::heroku::HerokuError::Invalid(e.to_string()))?;
            let types = bundle::heroku::process_types_json(&processes);
            print_stdout(&format!("{types}\n"));
            say(format_args!(
                "bundle: wrote {} ({} bytes) for {}",
                output.display(),
                slug.len(),
                stack.name
            ));
            Ok::<(), bundle::heroku::HerokuError>(())
        })(),
        deploy @ HerokuCommand::Deploy { .. } => heroku_deploy(deploy),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn heroku_deploy(cmd: &HerokuCommand) -> Result<(), bundle::heroku::HerokuError> {
    use bundle::heroku::{self, HerokuError};
    let HerokuCommand::Deploy { binary, app, processes, stack, api_url, dry_run } = cmd else {
        return Ok(());
    };
    if !heroku::valid_app_name(app) {
        return Err(HerokuError::Invalid(format!(
            "--app {app}: not a Heroku app name (3 to 30 lowercase letters, digits and dashes, starting with a letter) nor an app id"
        )));
    }
    let key = std::env::var("HEROKU_API_KEY").ok().filter(|k| !k.trim().is_empty());
    if key.is_none() && !dry_run {
        return Err(HerokuError::Invalid(
            "HEROKU_API_KEY is not set: create a key with `heroku authorizations:create` and export it".into(),
        ));
    }
    let stack = heroku::stack(stack)?;
    let processes = heroku::processes(binary, processes)?;
    let bytes = heroku::checked_binary(binary, Some(stack))?;
    let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("app");
    let deploy = heroku::Deploy {
        app: app.clone(),
        api_url: api_url.clone(),
        stack,
        processes: processes.clone(),
        slug: heroku::slug(name, &bytes, &processes)?,
    };
    if *dry_run {
        print_stdout(&deploy.describe());
        return Ok(());
    }
    let released = deploy
        .run(key.as_deref().unwrap_or_default(), &mut |line| say(format_args!("bundle: {line}")))?;
    say(format_args!(
        "bundle: released {} on {} (release {}{})",
        released.slug_id,
        app,
        released.release_id,
        released.version.map(|v| format!(", v{v}")).unwrap_or_default()
    ));
    Ok(())
}

fn oci(cli: &OciCli) -> ExitCode {
    let result = (|| -> Result<(), String> {
        let bytes = bundle::heroku::checked_binary(&cli.binary, None).map_err(|e| e.to_string())?;
        let name = cli
            .binary
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("the executable needs a UTF-8 name")?
            .to_owned();
        let tag = cli.tag.clone().unwrap_or_else(|| format!("{}:latest", name.to_lowercase()));
        if !bundle::oci::valid_tag(&tag) {
            return Err(format!(
                "--tag {tag}: not an image reference (lowercase repository, optional :tag)"
            ));
        }
        let runtime = bundle::oci::runtime_files(&bytes).map_err(|e| e.to_string())?;
        let image = bundle::oci::Image { name, binary: bytes, tag: tag.clone(), port: cli.port };
        let archive = bundle::oci::build(&image, &runtime).map_err(|e| e.to_string())?;
        let mut inputs = bundle::emit::Inputs::of([cli.binary.as_path()]);
        runtime.keys().for_each(|f| inputs.add(Path::new(f)));
        bundle::emit::write_atomically_with_mode(&cli.output, &archive, 0o644, &inputs)
            .map_err(|e| e.to_string())?;
        say(format_args!(
            "bundle: wrote {} ({} bytes): {tag}, {} runtime files, PORT={}",
            cli.output.display(),
            archive.len(),
            runtime.len(),
            cli.port
        ));
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    bundle::cleanup::install();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let sub = args.get(1).and_then(|a| a.to_str());
    let result = match sub {
        Some("why") => {
            why(&WhyCli::parse_from(&args[1..])).map(|found| found.then_some(()).ok_or(()))
        }
        Some("inspect") => return inspect(&InspectCli::parse_from(&args[1..])),
        Some("verify") => return verify(&VerifyCli::parse_from(&args[1..])),
        Some("extract") => return extract(&ExtractCli::parse_from(&args[1..])),
        Some("heroku") => return heroku(&HerokuCli::parse_from(&args[1..])),
        Some("oci") => return oci(&OciCli::parse_from(&args[1..])),
        _ => {
            let mut cli = Cli::parse_from(&args);
            cli.dash_dash = args.iter().skip(1).any(|a| a == "--");
            build(&cli).map(Ok)
        }
    };
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(())) => ExitCode::FAILURE,
        Err(err) => {
            report_error(&err);
            ExitCode::FAILURE
        }
    }
}
