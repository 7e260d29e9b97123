//! The `bundle` command: parse flags, validate them into a plan, run the pipeline, report.
//! Subcommands (`why`, `inspect`, `verify`, `extract`) are recognised by the first argument.
//!
//! Exit status: 0 on success, 1 when the build failed (the message names the file) or a
//! subcommand found a problem, 2 for a command-line usage error.

#![no_main]

use std::io::Write;
use std::path::Path;

use clap::Parser;

use bundle::cli::{
    Cli, Command, ExtractCli, HerokuCli, HerokuCommand, InspectCli, LinksCli, OciCli, RockspecCli,
    SignCli, VerifyCli, WhyCli,
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
/// Control characters (a file name may hold any) are shown escaped, never sent raw.
fn say(line: std::fmt::Arguments) {
    let text = line.to_string();
    let shown: String = if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        text.chars()
            .map(|c| match c {
                '\n' | '\t' => c.to_string(),
                c if c.is_control() => c.escape_default().to_string(),
                c => c.to_string(),
            })
            .collect()
    } else {
        text
    };
    let _ = writeln!(std::io::stderr(), "{shown}");
}

/// Prints an error: graph diagnostics rendered with their source lines, anything else as one
/// `bundle: error: ...` line.
fn report_error(err: &Error) {
    if let Error::Diagnostics(diags) = err {
        diags.iter().for_each(|d| d.emit());
    }
    say(format_args!("bundle: error: {err}"));
}

/// Set when writing to stdout failed for a reason other than a closed pipe: the command then
/// exits 1, whatever it did otherwise.
static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout. A closed pipe (`bundle --list | head`) is not an error; any other failure
/// (a full disk, `>/dev/full`, a closed stdout) is reported once and makes the exit status 1.
fn print_stdout(text: &str) {
    // Rust's stdout quietly drops writes to a closed descriptor 1: see hold_stdio.
    let closed = STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst);
    let mut out = std::io::stdout().lock();
    let written = if closed && !text.is_empty() {
        Err(std::io::Error::from_raw_os_error(libc::EBADF))
    } else {
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe
            && !STDOUT_FAILED.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            say(format_args!("bundle: error: cannot write to standard output: {e}"));
        }
    }
}

fn build(cli: &Cli) -> Result<(), Error> {
    let plan = BuildPlan::from_cli(cli)?;
    if !cli.quiet {
        plan.notes.iter().for_each(|n| say(format_args!("{n}")));
    }
    if cli.list {
        let (graph, _built) = bundle::discover_plan(&plan)?;
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
    if let (Some(line), false) = (&report.link_line, plan.quiet) {
        say(format_args!("bundle: link with: {line}"));
    }
    if !plan.quiet {
        report.warnings.iter().for_each(|d| d.emit());
        if let (Some(t), Some(m)) = (&report.trace, &plan.graph.main) {
            t.lines(&m.display).iter().for_each(|l| say(format_args!("{l}")));
        }
        let shown = cli.output.as_deref().unwrap_or(&report.output);
        say(format_args!(
            "bundle: wrote {} ({}{}): {} + {} module{}, {} → {} stored",
            shown.display(),
            human(report.output_len),
            match &report.linkage {
                Some(d) => match &d.reason {
                    Some(why) => format!(", {} because {why}", d.linkage),
                    None => format!(", {}", d.linkage),
                },
                None => String::new(),
            },
            program_summary(&plan),
            report.modules,
            if report.modules == 1 { "" } else { "s" },
            human(report.raw),
            human(report.stored),
        ));
        if let Some(sizes) = &report.sizes {
            say(format_args!("{}", sizes.render_top(10).trim_end()));
        }
    }
    Ok(())
}

/// What the program runs, for the summary line: `main script`, `interpreter`, or its entries
/// (`2 entries (web, worker)`).
fn program_summary(plan: &BuildPlan) -> String {
    let mut entries: Vec<String> = plan.graph.entries.iter().map(|(n, _)| n.clone()).collect();
    if let Some(name) = &plan.start.interpreter_entry {
        entries.push(format!("{name}: interpreter"));
    }
    if !entries.is_empty() {
        let n = entries.len();
        return format!("{n} entr{} ({})", if n == 1 { "y" } else { "ies" }, entries.join(", "));
    }
    match (&plan.graph.main, plan.graph.interpreter) {
        (None, _) => "interpreter",
        (Some(_), true) => "main script, interpreter",
        (Some(_), false) => "main script",
    }
    .to_owned()
}

/// `bundle rockspec MAIN.lua [-o FILE]`.
fn rockspec(cli: &RockspecCli) -> Result<(), Error> {
    let mut args = cli.graph.clone();
    // The program's own rockspec, if any, is not what it is described from.
    args.no_rockspec = args.rockspec.is_none();
    // LuaRocks' project tree beside the program, where its dependencies are installed.
    let lua_modules = cli.main.parent().unwrap_or(std::path::Path::new("")).join("lua_modules");
    if lua_modules.is_dir() && !args.trees.contains(&lua_modules) {
        args.trees.push(lua_modules);
    }
    let plan = BuildPlan::for_graph(Some(&cli.main), &args)?;
    let dir = match &cli.output {
        Some(out) => match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        },
        None => std::path::PathBuf::from("."),
    };
    let package = match &cli.package {
        Some(p) => p.clone(),
        None => plan
            .graph
            .root
            .file_name()
            .map_or_else(|| "app".to_owned(), |n| n.to_string_lossy().to_lowercase()),
    };
    let (text, warnings) = bundle::rockspec_for(&plan, &dir, &package, &cli.version)?;
    warnings.iter().for_each(|d| d.emit());
    match &cli.output {
        Some(out) => {
            let mut inputs = bundle::output::emit::Inputs::default();
            inputs.add(&cli.main);
            bundle::output::emit::write_atomically_with_mode(out, text.as_bytes(), 0o644, &inputs)?;
            say(format_args!("bundle: wrote {}", out.display()));
        }
        None => print_stdout(&text),
    }
    Ok(())
}

fn why(cli: &WhyCli) -> Result<bool, Error> {
    let plan = BuildPlan::for_graph(Some(&cli.main), &cli.graph)?;
    let (graph, _built) = bundle::discover_plan(&plan)?;
    let chains = graph.chains_to(&cli.name);
    if chains.is_empty() {
        say(format_args!("bundle: '{}' is not required by {}", cli.name, cli.main.display()));
        return Ok(false);
    }
    print_stdout(&chains.iter().map(|c| format!("{c}\n")).collect::<String>());
    Ok(true)
}

fn inspect(cli: &InspectCli) -> u8 {
    match bundle::inspect::inspect(&cli.file) {
        Ok(report) if cli.sbom => match &report.manifest {
            Some(bom) => {
                let name = cli
                    .file
                    .file_name()
                    .map_or_else(|| "app".to_owned(), |n| n.to_string_lossy().into_owned());
                let doc = bundle::inspect::sbom::sbom(&name, bom);
                print_stdout(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&doc).unwrap_or_default()
                ));
                SUCCESS
            }
            None => {
                say(format_args!(
                    "bundle: error: {}: carries no bill of materials (no MANIFEST record: built by an older bundle, or with --emit-c); rebuild it to get an SBOM",
                    cli.file.display()
                ));
                FAILURE
            }
        },
        Ok(report) => {
            if cli.json {
                let text = serde_json::to_string_pretty(&report).unwrap_or_default();
                print_stdout(&format!("{text}\n"));
            } else {
                print_stdout(&bundle::inspect::render(&report));
            }
            if let Some(name) = &cli.stack {
                let checked = bundle::deploy::heroku::stack(name)
                    .map_err(|e| e.to_string())
                    .and_then(|stack| {
                        bundle::deploy::stacks::check(&report, stack)
                            .map(|()| stack)
                            .map_err(|e| e.to_string())
                    });
                match checked {
                    Ok(stack) => say(format_args!(
                        "bundle: runs on {} (glibc {}.{})",
                        stack.name, stack.glibc.0, stack.glibc.1
                    )),
                    Err(e) => {
                        say(format_args!("bundle: error: {e}"));
                        return FAILURE;
                    }
                }
            }
            if report.payload.checksum_ok {
                SUCCESS
            } else {
                say(format_args!(
                    "bundle: error: {}: the payload checksum does not match: the file is damaged",
                    cli.file.display()
                ));
                FAILURE
            }
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

/// `bundle size APP`: where the bytes go.
fn size(cli: &bundle::cli::SizeCli) -> u8 {
    let sizes = bundle::inspect::size::read_app(&cli.file)
        .and_then(|bytes| bundle::inspect::size::sizes(&cli.file, &bytes));
    match sizes {
        Ok(s) if cli.json => {
            print_stdout(&format!("{}\n", serde_json::to_string_pretty(&s).unwrap_or_default()));
            SUCCESS
        }
        Ok(s) => {
            print_stdout(&s.render());
            SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

/// `bundle diff OLD NEW`: added, removed and changed entries.
fn diff(cli: &bundle::cli::DiffCli) -> u8 {
    match bundle::inspect::size::diff(&cli.old, &cli.new) {
        Ok(d) if cli.json => {
            print_stdout(&format!("{}\n", serde_json::to_string_pretty(&d).unwrap_or_default()));
            SUCCESS
        }
        Ok(d) => {
            print_stdout(&d.render());
            SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

fn verify(cli: &VerifyCli) -> u8 {
    match bundle::inspect::integrity::verify_file(&cli.file, cli.key.as_deref()) {
        Ok(v) => {
            let image = match v.image_hash {
                Some(h) => format!(", image sha256 {}", hex(&h[..8])),
                None => ", no image hash".to_owned(),
            };
            let signed = v.signer.map(|f| format!(", signed by {f}")).unwrap_or_default();
            print_stdout(&format!(
                "{}: ok ({} entries, checksum {}{image}{signed})\n",
                cli.file.display(),
                v.report.payload.totals.entries,
                v.report.payload.checksum
            ));
            SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e:#}"));
            FAILURE
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sign(cli: &SignCli) -> u8 {
    match bundle::inspect::integrity::sign_file(&cli.file, &cli.key) {
        Ok(fingerprint) => {
            print_stdout(&format!("{}: signed by {fingerprint}\n", cli.file.display()));
            SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e:#}"));
            FAILURE
        }
    }
}

fn extract(cli: &ExtractCli) -> u8 {
    match bundle::inspect::extract::extract(&cli.file, &cli.dir, cli.force) {
        Ok(files) => {
            print_stdout(&files.iter().map(|f| format!("{}\n", f.display())).collect::<String>());
            SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

fn links(cli: &LinksCli) -> u8 {
    match bundle::inspect::links::links(&cli.app, &cli.dir) {
        Ok(links) => {
            for l in links.iter().filter(|l| !l.made) {
                say(format_args!(
                    "bundle: {} already links to {}",
                    l.path.display(),
                    cli.app.display()
                ));
            }
            let made = links.iter().filter(|l| l.made);
            print_stdout(&made.map(|l| format!("{}\n", l.path.display())).collect::<String>());
            SUCCESS
        }
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

fn heroku(cli: &HerokuCli) -> u8 {
    let result = match &cli.command {
        HerokuCommand::Slug { binary, output, processes, stack } => (|| {
            let stack = bundle::deploy::heroku::stack(stack)?;
            let (bytes, report) = bundle::deploy::heroku::checked_app(binary, Some(stack))?;
            let entries = bundle::deploy::heroku::process_entries(&report);
            let processes = bundle::deploy::heroku::processes(binary, processes, &entries)?;
            let name = binary.file_name().and_then(|n| n.to_str()).unwrap_or("app");
            let slug = bundle::deploy::heroku::slug(name, &bytes, &processes)?;
            let inputs = bundle::output::emit::Inputs::of([binary.as_path()]);
            bundle::output::emit::write_atomically_with_mode(output, &slug, 0o644, &inputs)
                .map_err(|e| bundle::deploy::heroku::HerokuError::Invalid(e.to_string()))?;
            let types = bundle::deploy::heroku::process_types_json(&processes);
            print_stdout(&format!("{types}\n"));
            say(format_args!(
                "bundle: wrote {} ({} bytes) for {}",
                output.display(),
                slug.len(),
                stack.name
            ));
            Ok::<(), bundle::deploy::heroku::HerokuError>(())
        })(),
        step @ (HerokuCommand::Buildpack { .. }
        | HerokuCommand::BuildpackDetect { .. }
        | HerokuCommand::BuildpackCompile { .. }
        | HerokuCommand::BuildpackRelease { .. }) => return heroku_buildpack(step),
        deploy @ HerokuCommand::Deploy { .. } => heroku_deploy(deploy),
        container @ HerokuCommand::Container { .. } => heroku_container(container),
    };
    match result {
        Ok(()) => SUCCESS,
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

/// `bundle heroku buildpack -o DIR` and the steps its bin/ scripts run (detect, compile,
/// release: src/deploy/buildpack.rs). A failed compile says so in Heroku's ` !     ` style.
fn heroku_buildpack(cmd: &HerokuCommand) -> u8 {
    use bundle::deploy::buildpack;
    let exe = std::env::current_exe();
    let exe = match &exe {
        Ok(p) => p.as_path(),
        Err(e) => {
            say(format_args!("bundle: error: cannot find this executable's path: {e}"));
            return FAILURE;
        }
    };
    let result = match cmd {
        HerokuCommand::Buildpack { output } => buildpack::write(output, exe).map(|w| {
            say(format_args!(
                "bundle: wrote the buildpack in {}: {} (bin/bundle {}); host it in a git repository, then heroku buildpacks:set URL",
                output.display(),
                w.files.join(", "),
                human(w.bundle_len)
            ));
        }),
        HerokuCommand::BuildpackDetect { build_dir } => {
            buildpack::detect(build_dir).map(|_| print_stdout(&format!("{}\n", buildpack::NAME)))
        }
        HerokuCommand::BuildpackCompile { build_dir, cache_dir, env_dir } => {
            let mut out = std::io::stdout();
            let done = buildpack::compile(exe, build_dir, cache_dir, env_dir, &mut out);
            let _ = out.flush();
            if let Err(e) = &done {
                for line in e.to_string().lines() {
                    say(format_args!(" !     {line}"));
                }
                return FAILURE;
            }
            Ok(())
        }
        HerokuCommand::BuildpackRelease { build_dir } => {
            buildpack::release(build_dir).map(|yaml| print_stdout(&yaml))
        }
        _ => Ok(()),
    };
    match result {
        Ok(()) => SUCCESS,
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

fn heroku_deploy(cmd: &HerokuCommand) -> Result<(), bundle::deploy::heroku::HerokuError> {
    use bundle::deploy::heroku;
    let HerokuCommand::Deploy { binary, app, processes, stack, api_url, dry_run } = cmd else {
        return Ok(());
    };
    let key = heroku::api_key(app, *dry_run)?;
    let stack = heroku::stack(stack)?;
    let (bytes, report) = heroku::checked_app(binary, Some(stack))?;
    let processes = heroku::processes(binary, processes, &heroku::process_entries(&report))?;
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

/// `bundle heroku container`: an image per process type, pushed to Heroku's registry, then
/// released with one formation update.
fn heroku_container(cmd: &HerokuCommand) -> Result<(), bundle::deploy::heroku::HerokuError> {
    use bundle::deploy::heroku::{self, HerokuError};
    let HerokuCommand::Container { binary, app, processes, api_url, registry_url, port, dry_run } =
        cmd
    else {
        return Ok(());
    };
    let key = heroku::api_key(app, *dry_run)?;
    let registry = bundle::deploy::registry::Endpoint::from_url("--registry-url", registry_url)
        .map_err(|e| HerokuError::Invalid(e.to_string()))?;
    let (bytes, report) = heroku::checked_app(binary, None)?;
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            HerokuError::Invalid(format!("{}: needs a UTF-8 file name", binary.display()))
        })?
        .to_owned();
    let processes = heroku::container_processes(
        &name,
        processes,
        &heroku::process_entries(&report),
        report.payload.default_entry.as_deref(),
    )?;
    let runtime = bundle::deploy::oci::runtime_files(&bytes)
        .map_err(|e| HerokuError::Invalid(e.to_string()))?;
    let mut images = Vec::new();
    for p in processes {
        let image = bundle::deploy::oci::Image {
            name: name.clone(),
            binary: bytes.clone(),
            tag: format!("{}/{app}/{}:latest", registry.registry, p.kind),
            port: *port,
            cmd: p.cmd.clone(),
        };
        let built = bundle::deploy::oci::image(&image, &runtime)
            .map_err(|e| HerokuError::Invalid(format!("building the {} image: {e}", p.kind)))?;
        images.push((p, built));
    }
    let container =
        heroku::Container { app: app.clone(), api_url: api_url.clone(), registry, images };
    if *dry_run {
        print_stdout(&container.describe());
        return Ok(());
    }
    let started = std::time::Instant::now();
    let (uploaded, present) = container
        .run(key.as_deref().unwrap_or_default(), &mut |line| say(format_args!("bundle: {line}")))?;
    let released: Vec<String> = container
        .images
        .iter()
        .map(|(p, built)| format!("{}={}", p.kind, built.config.digest))
        .collect();
    say(format_args!(
        "bundle: released {} on {app} ({uploaded} blobs uploaded, {present} already present, in {:.1}s)",
        released.join(", "),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn oci(cli: &OciCli) -> u8 {
    let result = (|| -> Result<(), String> {
        let (bytes, report) =
            bundle::deploy::heroku::checked_app(&cli.binary, None).map_err(|e| e.to_string())?;
        let name = cli
            .binary
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("the executable needs a UTF-8 name")?
            .to_owned();
        let tag = cli.tag.clone().unwrap_or_else(|| format!("{}:latest", name.to_lowercase()));
        if !bundle::deploy::oci::valid_tag(&tag) {
            return Err(format!(
                "--tag {tag}: not an image reference (lowercase repository, optional :tag)"
            ));
        }
        let runtime = bundle::deploy::oci::runtime_files(&bytes).map_err(|e| e.to_string())?;
        // A program of entry points runs its default entry unless the container is given
        // another (`docker run IMAGE worker`).
        let cmd: Vec<String> = report.payload.default_entry.iter().cloned().collect();
        if cmd.is_empty() && !report.payload.entry_points.is_empty() {
            say(format_args!(
                "bundle: note: {} has entry points but no default one (--default NAME): the image runs it with no arguments, which lists its entries, unless given one (docker run IMAGE ENTRY)",
                cli.binary.display()
            ));
        }
        let image = bundle::deploy::oci::Image {
            name,
            binary: bytes,
            tag: tag.clone(),
            port: cli.port,
            cmd,
        };
        // Checked before anything is built or written: a bad REF or credentials fail fast.
        let push = match &cli.push {
            Some(text) => Some(oci_push_target(cli, text).map_err(|e| e.to_string())?),
            None => None,
        };
        let built = bundle::deploy::oci::image(&image, &runtime).map_err(|e| e.to_string())?;
        if let Some(output) = &cli.output {
            let archive = bundle::deploy::oci::archive(&built, &tag).map_err(|e| e.to_string())?;
            let mut inputs = bundle::output::emit::Inputs::of([cli.binary.as_path()]);
            runtime.keys().for_each(|f| inputs.add(Path::new(f)));
            bundle::output::emit::write_atomically_with_mode(output, &archive, 0o644, &inputs)
                .map_err(|e| e.to_string())?;
            say(format_args!(
                "bundle: wrote {} ({} bytes): {tag}, {} runtime files, PORT={}",
                output.display(),
                archive.len(),
                runtime.len(),
                cli.port
            ));
        }
        if let Some((reference, mut client, format)) = push {
            let started = std::time::Instant::now();
            let pushed = client
                .push(&reference.tag, &built, format, &mut |line| {
                    say(format_args!("bundle: {line}"))
                })
                .map_err(|e| e.to_string())?;
            say(format_args!(
                "bundle: pushed {reference} ({} manifest {}; image id {}): {} blobs uploaded, {} already present, in {:.1}s",
                match pushed.format {
                    bundle::deploy::oci::ManifestFormat::Oci => "OCI",
                    bundle::deploy::oci::ManifestFormat::Docker => "Docker v2 schema 2",
                },
                pushed.manifest_digest,
                built.config.digest,
                pushed.uploaded,
                pushed.present,
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    })();
    match result {
        Ok(()) => SUCCESS,
        Err(e) => {
            say(format_args!("bundle: error: {e}"));
            FAILURE
        }
    }
}

/// The reference, the registry session (credentials: `--creds`, else Docker's config.json, else
/// none) and the manifest format of `bundle oci --push`.
fn oci_push_target(
    cli: &OciCli,
    text: &str,
) -> Result<
    (
        bundle::deploy::registry::Reference,
        bundle::deploy::registry::Client,
        bundle::deploy::registry::Format,
    ),
    bundle::deploy::registry::RegistryError,
> {
    use bundle::deploy::oci::ManifestFormat;
    use bundle::deploy::registry::{self, Client, Credentials, Endpoint, Format, Reference};
    let reference = Reference::parse(text)?;
    let endpoint = Endpoint::of(&reference, cli.insecure)?;
    let given = cli.creds.as_deref().map(Credentials::parse).transpose()?;
    let creds = registry::credentials_for(&reference.registry, given)?;
    let format = match cli.manifest.as_str() {
        "oci" => Format::Only(ManifestFormat::Oci),
        "docker" => Format::Only(ManifestFormat::Docker),
        _ => Format::Auto,
    };
    Ok((reference.clone(), Client::new(endpoint, &reference.repository, creds), format))
}

/// Whether descriptor 1 was closed when `bundle` started.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Puts /dev/null on any of descriptors 0-2 that is closed, before anything else is opened:
/// otherwise the first file `bundle` opens would become its stdout (and its output would go
/// into that file). A closed stdout is remembered, so that writing to it is still an error.
fn hold_stdio() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads flags; open(2) of /dev/null takes the lowest free
        // descriptor, which is `fd` since the lower ones are open.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                let mode = if fd == 0 { libc::O_RDONLY } else { libc::O_WRONLY };
                libc::open(c"/dev/null".as_ptr(), mode);
                if fd == 1 {
                    STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    }
}

/// Exit statuses (README): success, a failed build or check, a usage error.
const SUCCESS: u8 = 0;
const FAILURE: u8 = 1;
const USAGE: u8 = 2;

/// The C entry point. `#![no_main]` skips Rust's runtime set-up, which would quietly put
/// /dev/null on a closed stdout: `bundle` looks at descriptors 0-2 first (see hold_stdio),
/// then ignores SIGPIPE as that set-up would have, so that `bundle --list | head` ends on
/// EPIPE, which is not an error.
#[no_mangle]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    hold_stdio();
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    bundle::base::cleanup::install();
    // A panic must not unwind out of this C frame (that aborts): it is a bug of bundle, said as
    // such, with the status Rust's own main would give (101). Destructors have run by then, so
    // temporary files are gone.
    match std::panic::catch_unwind(run) {
        Ok(code) => std::ffi::c_int::from(code),
        Err(_) => {
            say(format_args!("bundle internal error: a panic (above); please report it"));
            101
        }
    }
}

fn run() -> u8 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cli = Cli::parse_from(&args);
    let result = match &cli.command {
        Some(Command::Why(c)) => why(c).map(|found| found.then_some(()).ok_or(())),
        Some(Command::Rockspec(c)) => rockspec(c).map(Ok),
        Some(Command::Inspect(c)) => return finish(inspect(c)),
        Some(Command::Verify(c)) => return finish(verify(c)),
        Some(Command::Sign(c)) => return finish(sign(c)),
        Some(Command::Extract(c)) => return finish(extract(c)),
        Some(Command::Links(c)) => return finish(links(c)),
        Some(Command::Size(c)) => return finish(size(c)),
        Some(Command::Diff(c)) => return finish(diff(c)),
        Some(Command::Heroku(c)) => return finish(heroku(c)),
        Some(Command::Oci(c)) => return finish(oci(c)),
        None => {
            cli.dash_dash = args.iter().skip(1).any(|a| a == "--");
            build(&cli).map(Ok)
        }
    };
    let code = match result {
        Ok(Ok(())) => SUCCESS,
        Ok(Err(())) => FAILURE,
        Err(err) => {
            report_error(&err);
            match &err {
                // A command line that cannot work, found after parsing: a usage error, as clap's.
                Error::Plan(p) if p.is_usage() => USAGE,
                _ => FAILURE,
            }
        }
    };
    finish(code)
}

/// The exit status, made a failure when stdout could not be written.
fn finish(code: u8) -> u8 {
    if STDOUT_FAILED.load(std::sync::atomic::Ordering::SeqCst) {
        FAILURE
    } else {
        code
    }
}
