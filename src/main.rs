//! The `bundle` command: parse flags, validate them into a plan, run the pipeline, report.
//!
//! Exit status: 0 on success, 1 when the build failed (the message names the file), 2 for a
//! command-line usage error.

use std::process::ExitCode;

use clap::Parser;

use bundle::cli::Cli;
use bundle::plan::BuildPlan;

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

fn run(cli: &Cli) -> anyhow::Result<()> {
    let plan = BuildPlan::from_cli(cli)?;
    let report = bundle::build(&plan)?;
    if !plan.quiet {
        let t = report.totals;
        eprintln!(
            "bundle: wrote {} ({}): main script + {} module{}, {} → {} stored",
            cli.output.display(),
            human(report.output_len),
            report.modules,
            if report.modules == 1 { "" } else { "s" },
            human(t.raw),
            human(t.stored),
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bundle: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
