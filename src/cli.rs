//! Command-line flags, as parsed by clap. Nothing here touches the filesystem: `plan.rs`
//! turns these low-level arguments into a validated build plan.

use std::path::PathBuf;

use clap::{Args, Parser};

/// Turn a Lua program into one self-contained executable.
///
/// Scans MAIN.lua and everything it requires, resolves each module as `package.searchpath`
/// would, compiles it to LuaJIT bytecode and attaches it to the LuaJIT runtime. The output runs
/// on a machine with no Lua installed and behaves as `luajit MAIN.lua` would. With no MAIN.lua,
/// the output is an interpreter that behaves as `luajit` itself, with the -m/-l modules inside.
/// With `--entry NAME=FILE` (repeatable) instead of MAIN.lua, one executable holds several
/// programs, run by the name it is called by or by its first argument (docs/ENTRIES.md).
///
/// `bundle why NAME MAIN.lua` prints every chain of requires that pulls NAME in.
#[derive(Debug, Parser)]
#[command(
    name = "bundle",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// A command other than building (`bundle MAIN.lua -o OUT`, the default).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The main Lua script. Without one, the executable is a `luajit`-compatible interpreter
    /// (-e, -l, -i, -v, -b, -j, -O, scripts, REPL) with the bundled modules at hand.
    #[arg(value_name = "MAIN.lua")]
    pub main: Option<PathBuf>,

    /// An entry point, instead of MAIN.lua: the executable runs FILE when it is called NAME (a
    /// link to it: `bundle links`) or given NAME as its first argument; NAME=@interpreter makes
    /// luajit's command line an entry. NAME: ASCII letters, digits, '_' and '-' (a Heroku
    /// process type). Repeatable; modules are looked up from the first FILE's directory.
    #[arg(long = "entry", value_name = "NAME=FILE")]
    pub entries: Vec<String>,

    /// With --entry: the entry to run when neither the executable's name nor its first
    /// argument names one (without it, the executable then lists its entries and exits 2).
    #[arg(long = "default", value_name = "NAME")]
    pub default_entry: Option<String>,

    /// Default arguments, split as the shell splits words ('...', "...", \): an argument `...`
    /// marks where the user's arguments go (after the baked ones without it); ${VAR} and
    /// ${VAR:-default} in an argument are read from the environment at run time.
    #[arg(long = "args", value_name = "'ARG ...'", allow_hyphen_values = true)]
    pub args: Option<String>,

    /// An entry's own default arguments, instead of --args for it (repeatable).
    #[arg(long = "entry-args", value_name = "NAME='ARG ...'", allow_hyphen_values = true)]
    pub entry_args: Vec<String>,

    /// Serve only what the executable carries: no modules from the filesystem (LUA_PATH and
    /// LUA_CPATH ignored, package.path and package.cpath empty).
    #[arg(long)]
    pub hermetic: bool,

    /// Make the executable the interpreter, instead of running MAIN.lua, when the environment
    /// variable NAME is set (e.g. for `heroku run` debugging with the app's modules).
    #[arg(long, value_name = "NAME", requires = "main")]
    pub interpreter_env: Option<String>,

    /// Where to write the executable.
    #[arg(short, long, value_name = "OUT", required_unless_present = "list")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub graph: GraphArgs,

    /// Drop debug information from the bytecode (smaller; messages lose line numbers).
    #[arg(long, conflicts_with = "source")]
    pub strip: bool,

    /// Store Lua source text instead of bytecode (still syntax-checked at bundle time).
    #[arg(long)]
    pub source: bool,

    /// Use this stub instead of the one built into bundle.
    #[arg(long, value_name = "PATH", conflicts_with = "emit_c")]
    pub stub: Option<PathBuf>,

    /// Link statically: glibc inside, no dynamic loader, runs with no library on the machine;
    /// loads no C module. The default when nothing in the program can load C code: no C
    /// module, every required module packed, no interpreter, "ffi", package.loadlib or
    /// require of a computed name.
    #[arg(long = "static", conflicts_with_all = ["dynamic", "stub", "emit_c"])]
    pub static_link: bool,

    /// Link dynamically: the system's libc and dynamic loader, C modules load at run time.
    #[arg(long, conflicts_with_all = ["stub", "emit_c"])]
    pub dynamic: bool,

    /// Write the program as one C file (modules as string literals and a main()) instead of
    /// an executable.
    #[arg(long)]
    pub emit_c: bool,

    /// With --emit-c: link a static C module library, FILE.a or FILE.o, or NAME=FILE to name
    /// its one luaopen_* function's module (repeatable).
    #[arg(long = "c-lib", value_name = "FILE", requires = "emit_c")]
    pub c_libs: Vec<String>,

    /// With --emit-c: also compile the C file (to OUT without .c), using pkg-config for LuaJIT.
    #[arg(long, requires = "emit_c")]
    pub cc: bool,

    /// Embed a file or a directory: the program reads it at run time by the path as written
    /// (relative to its working directory), or at MOUNT with PATH=MOUNT, through io.open,
    /// io.lines, loadfile, dofile, luv's uv.fs_* and lfs, or require "bundle/assets"
    /// (repeatable).
    #[arg(long = "asset", value_name = "PATH[=MOUNT]")]
    pub assets: Vec<String>,

    /// Leave out the asset files whose path, mount or name matches GLOB (repeatable).
    #[arg(long = "asset-exclude", value_name = "GLOB")]
    pub asset_excludes: Vec<String>,

    /// Install the rockspec's dependencies first, with the real luarocks:
    /// `luarocks install --only-deps --tree TREE ROCKSPEC` (TREE: lua_modules/ beside the
    /// rockspec, or the first --tree).
    #[arg(long)]
    pub install_deps: bool,

    /// With --install-deps: the only rocks server to use (a URL or a directory), given to
    /// luarocks as --only-server.
    #[arg(long, value_name = "URL|DIR", requires = "install_deps")]
    pub rocks_server: Option<String>,

    /// Print the resolved module table and exit without writing anything.
    #[arg(long)]
    pub list: bool,

    /// Also write a Make-format dependency file (`OUT: every file read`).
    #[arg(long, value_name = "FILE")]
    pub depfile: Option<PathBuf>,

    /// Run the program once, with the arguments after `--`, and add every module it loads from
    /// outside the bundle; repeat until nothing new appears. Files it reads are listed as
    /// asset candidates.
    #[arg(long, requires = "main")]
    pub trace: bool,

    /// Stop a traced run that takes longer than this.
    #[arg(long, value_name = "SECS", default_value_t = 60, requires = "trace")]
    pub trace_timeout: u64,

    /// Write the modules the traced run added to FILE, for --modules-from.
    #[arg(long, value_name = "FILE", requires = "trace")]
    pub save_trace: Option<PathBuf>,

    /// The arguments of the traced run (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    pub trace_args: Vec<std::ffi::OsString>,

    /// Whether `--` was on the command line (set by the caller from the raw arguments: clap
    /// cannot tell `--trace --` from `--trace`).
    #[arg(skip)]
    pub dash_dash: bool,

    /// SIGPIPE policy of the program.
    #[arg(long, value_enum, default_value_t = Sigpipe::Default)]
    pub sigpipe: Sigpipe,

    /// Rewrite the paths the executable records (chunk names, so tracebacks; the bill of
    /// materials) that start with FROM to start with TO instead, as rustc's flag does
    /// (repeatable; the last matching one wins). Builds of one project from different
    /// directories are then byte-identical.
    #[arg(long = "remap-path-prefix", value_name = "FROM=TO", value_parser = crate::base::remap::parse_rule)]
    pub remap_path_prefix: Vec<(PathBuf, PathBuf)>,

    /// Fail, writing nothing, when the executable would be larger than this (bytes, or with
    /// a unit: K, KiB, M, MiB, G, GiB); the error shows where the bytes go.
    #[arg(long = "max-size", value_name = "BYTES", value_parser = crate::base::size::parse_size)]
    pub max_size: Option<u64>,

    /// Sign the executable with this OpenSSH Ed25519 private key (`ssh-keygen -t ed25519`;
    /// an encrypted one takes its passphrase from BUNDLE_KEY_PASSPHRASE), as `bundle sign`
    /// would: the output is written signed or not at all.
    #[arg(long, value_name = "KEY", conflicts_with = "emit_c")]
    pub sign: Option<PathBuf>,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The commands besides the build. A main script named like one of them is given as `./why`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print every chain of requires that pulls a module in.
    Why(WhyCli),
    /// Write a LuaRocks rockspec for a program: its modules, main script and dependencies.
    Rockspec(RockspecCli),
    /// Show what an executable made by bundle holds.
    Inspect(InspectCli),
    /// Exit 0 only if an executable is intact: payload, the bytes around it, a signature.
    Verify(VerifyCli),
    /// Sign an executable in place with an OpenSSH Ed25519 key.
    Sign(SignCli),
    /// Write an executable's entries back as files.
    Extract(ExtractCli),
    /// Make a symlink to an executable for each of its entry points.
    Links(LinksCli),
    /// Show where an executable's bytes go: modules, rocks and search roots, libraries, stub.
    Size(SizeCli),
    /// Compare two executables' entries: added, removed, changed, with size deltas.
    Diff(DiffCli),
    /// Deploy an executable to Heroku (slug, Platform API).
    Heroku(HerokuCli),
    /// Write a container image (OCI layout and docker-archive), without Docker.
    Oci(OciCli),
}

/// What decides the module graph; shared by the build and `bundle why`.
#[derive(Debug, Args, Clone, Default)]
pub struct GraphArgs {
    /// Add a module: NAME=FILE, NAME (looked up on the search path), or 'prefix.*' (every
    /// module found under prefix). Repeatable; an explicit NAME=FILE wins over discovery.
    #[arg(short = 'm', long = "module", value_name = "SPEC")]
    pub modules: Vec<String>,

    /// Require NAME before the main script runs, like `luajit -l NAME` (repeatable, in order).
    #[arg(short = 'l', long = "preload", value_name = "NAME")]
    pub preloads: Vec<String>,

    /// Search DIR for modules: DIR/?.lua, DIR/?/init.lua (repeatable, after the main
    /// script's directory).
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    pub includes: Vec<PathBuf>,

    /// Search a LuaRocks tree: DIR/share/lua/5.1 and DIR/lib/lua/5.1 (repeatable, last).
    #[arg(long = "tree", value_name = "DIR")]
    pub trees: Vec<PathBuf>,

    /// Leave out modules matching PATTERN (`*` matches anything); they load from the
    /// filesystem at run time, if present.
    #[arg(short = 'x', long = "exclude", value_name = "PATTERN")]
    pub excludes: Vec<String>,

    /// Treat modules that cannot be found as warnings, not errors, even those the program
    /// needs at start.
    #[arg(long, conflicts_with = "strict")]
    pub allow_missing: bool,

    /// Add the modules listed in FILE (written by --save-trace: one name per line, optionally
    /// a tab and its file), as a traced run would.
    #[arg(long, value_name = "FILE")]
    pub modules_from: Option<PathBuf>,

    /// Make every missing or unresolvable require an error, including those luajit would only
    /// meet later (inside functions, branches, pcall) and computed names (for CI).
    #[arg(long)]
    pub strict: bool,

    /// Do not pack this shared library (a DT_NEEDED name, e.g. libuv.so.1) that a C module
    /// needs: the target machine must provide it (repeatable).
    #[arg(long = "no-lib", value_name = "NAME")]
    pub no_libs: Vec<String>,

    /// Build the program a LuaRocks rockspec describes: its builtin modules (C ones compiled
    /// with this machine's C compiler), build.install.bin as the main script when none is
    /// given, its dependencies from lua_modules/ beside it and --tree. A single *.rockspec
    /// beside the main script is used without this flag.
    #[arg(long, value_name = "FILE")]
    pub rockspec: Option<PathBuf>,

    /// Ignore a rockspec beside the main script.
    #[arg(long, conflicts_with = "rockspec")]
    pub no_rockspec: bool,

    /// Set a rockspec variable, as `luarocks NAME=VALUE` does: ZLIB_DIR=/opt/zlib,
    /// ZLIB_INCDIR=..., ZLIB_LIBDIR=... (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

/// What the program does on SIGPIPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Sigpipe {
    /// The default disposition, as under `luajit`: a write to a closed pipe or socket ends the
    /// process.
    #[default]
    Default,
    /// Writes to a closed peer fail with EPIPE instead (servers); child processes still start
    /// with the default.
    Ignore,
}

/// `bundle why NAME MAIN.lua`: every chain of requires that pulls NAME into the bundle.
#[derive(Debug, Parser)]
#[command(name = "bundle why")]
pub struct WhyCli {
    /// The module to explain.
    pub name: String,

    /// The main Lua script.
    #[arg(value_name = "MAIN.lua")]
    pub main: PathBuf,

    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `bundle rockspec MAIN.lua`: a LuaRocks `builtin` rockspec for the program.
#[derive(Debug, Parser)]
#[command(name = "bundle rockspec")]
pub struct RockspecCli {
    /// The main Lua script.
    #[arg(value_name = "MAIN.lua")]
    pub main: PathBuf,

    /// Write the rockspec to FILE (its module paths are relative to FILE's directory) instead
    /// of printing it (paths then relative to the current directory).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The rock's name (default: the main script's directory name).
    #[arg(long)]
    pub package: Option<String>,

    /// The rockspec's version, VERSION-REVISION.
    #[arg(long, value_name = "VERSION", default_value = "dev-1")]
    pub version: String,

    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `bundle inspect FILE`: what an executable made by bundle holds.
#[derive(Debug, Parser)]
#[command(name = "bundle inspect")]
pub struct InspectCli {
    /// The executable to inspect.
    pub file: PathBuf,

    /// Print JSON (schema in docs/INSPECT.md) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Also check that it runs on this stack (heroku-22, heroku-24): exit 1 if not.
    #[arg(long, value_name = "STACK")]
    pub stack: Option<String>,

    /// Print a CycloneDX 1.5 JSON SBOM made from the bill of materials instead.
    #[arg(long, conflicts_with_all = ["json", "stack"])]
    pub sbom: bool,
}

/// `bundle size APP`: where an executable's bytes go.
#[derive(Debug, Parser)]
#[command(name = "bundle size")]
pub struct SizeCli {
    /// The executable.
    pub file: PathBuf,

    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// `bundle diff OLD NEW`: entries added, removed and changed (by content hash).
#[derive(Debug, Parser)]
#[command(name = "bundle diff")]
pub struct DiffCli {
    /// The older executable.
    pub old: PathBuf,

    /// The newer executable.
    pub new: PathBuf,

    /// Print JSON instead of tab-separated lines.
    #[arg(long)]
    pub json: bool,
}

/// `bundle heroku ...`: deploy a bundled executable to Heroku.
#[derive(Debug, Parser)]
#[command(name = "bundle heroku")]
pub struct HerokuCli {
    #[command(subcommand)]
    pub command: HerokuCommand,
}

/// The `bundle heroku` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum HerokuCommand {
    /// Write a slug tarball (./app/BINARY, ./app/Procfile) and print its process_types.
    Slug {
        /// The bundled executable.
        binary: PathBuf,
        /// Where to write the slug (.tgz).
        #[arg(short, long, value_name = "SLUG.tgz")]
        output: PathBuf,
        /// A process type: TYPE=COMMAND (repeatable; default: one per entry point,
        /// NAME=./BINARY NAME, or web=./BINARY).
        #[arg(long = "process", value_name = "TYPE=COMMAND")]
        processes: Vec<String>,
        /// The stack it must run on.
        #[arg(long, default_value = "heroku-24")]
        stack: String,
    },
    /// Write a classic buildpack (bin/detect, bin/compile, bin/release) that carries this
    /// bundle executable and turns `git push heroku` into one executable (docs/deploy.md).
    Buildpack {
        /// The directory to write it into (created if missing; a file an earlier run did not
        /// write is never replaced).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// bin/detect BUILD_DIR of the buildpack: exit 0 and print its name for a Lua app.
    #[command(hide = true)]
    BuildpackDetect {
        /// Heroku's BUILD_DIR.
        build_dir: PathBuf,
    },
    /// bin/compile BUILD_DIR CACHE_DIR ENV_DIR of the buildpack: bundle the app in place.
    #[command(hide = true)]
    BuildpackCompile {
        /// Heroku's BUILD_DIR: the app, where the executable is left.
        build_dir: PathBuf,
        /// Heroku's CACHE_DIR: kept between builds; holds the compiled C modules.
        cache_dir: PathBuf,
        /// Heroku's ENV_DIR: one file per config var (BUNDLE_FLAGS, BUNDLE_KEEP_SOURCES).
        env_dir: PathBuf,
    },
    /// bin/release BUILD_DIR of the buildpack: the default process types, as YAML.
    #[command(hide = true)]
    BuildpackRelease {
        /// Heroku's BUILD_DIR, after bin/compile.
        build_dir: PathBuf,
    },
    /// Deploy through the Platform API: create a slug, upload it, release it. Reads the API
    /// key from HEROKU_API_KEY.
    Deploy {
        /// The bundled executable.
        binary: PathBuf,
        /// The Heroku app (name or id).
        #[arg(long)]
        app: String,
        /// A process type: TYPE=COMMAND (repeatable; default: one per entry point,
        /// NAME=./BINARY NAME, or web=./BINARY).
        #[arg(long = "process", value_name = "TYPE=COMMAND")]
        processes: Vec<String>,
        /// The stack of the app.
        #[arg(long, default_value = "heroku-24")]
        stack: String,
        /// The Platform API base URL.
        #[arg(long, default_value = bundle_heroku_api_url())]
        api_url: String,
        /// Print the requests instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Push a container image per process type to Heroku's registry, then release them
    /// (PATCH /apps/APP/formation). Reads the API key from HEROKU_API_KEY.
    Container {
        /// The bundled executable.
        binary: PathBuf,
        /// The Heroku app (name or id).
        #[arg(long)]
        app: String,
        /// A process type, TYPE or TYPE=ARGS (the image's command: the executable's arguments,
        /// e.g. worker='worker --fast'); repeatable. Default: one per entry point, else web.
        #[arg(long = "process", value_name = "TYPE[=ARGS]")]
        processes: Vec<String>,
        /// The Platform API base URL.
        #[arg(long, default_value = bundle_heroku_api_url())]
        api_url: String,
        /// The container registry (http:// only for a loopback one).
        #[arg(long, default_value = bundle_heroku_registry_url())]
        registry_url: String,
        /// Default value of the PORT environment variable in the images (Heroku sets PORT).
        #[arg(long = "port-env", value_name = "PORT", default_value_t = 8080)]
        port: u16,
        /// Print the requests instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
}

const fn bundle_heroku_api_url() -> &'static str {
    crate::deploy::heroku::API_URL
}

const fn bundle_heroku_registry_url() -> &'static str {
    crate::deploy::heroku::REGISTRY_URL
}

/// `bundle verify FILE [--key PUB]`: exit 0 only if the payload is intact (structure and
/// checksum), the bytes outside it hash to its image hash, and (with `--key`) the signature holds.
#[derive(Debug, Parser)]
#[command(name = "bundle verify")]
pub struct VerifyCli {
    /// The executable to verify.
    pub file: PathBuf,
    /// Also check its signature against this OpenSSH Ed25519 public key (`KEY.pub`, or the
    /// private key file, which implies it).
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

/// `bundle sign FILE --key KEY`: sign an executable in place (replacing any signature). The
/// signature changes no signed byte: the image hash and the payload checksum stay valid.
#[derive(Debug, Parser)]
#[command(name = "bundle sign")]
pub struct SignCli {
    /// The executable to sign; rewritten atomically.
    pub file: PathBuf,
    /// The OpenSSH Ed25519 private key (`ssh-keygen -t ed25519`); an encrypted one takes its
    /// passphrase from BUNDLE_KEY_PASSPHRASE (there is no prompt).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
}

/// `bundle extract FILE -d DIR`: write the entries back as files.
#[derive(Debug, Parser)]
#[command(name = "bundle extract")]
pub struct ExtractCli {
    /// The executable to extract from.
    pub file: PathBuf,

    /// The directory to write into (created if missing); assets go at their mounts under it,
    /// absolute ones with the leading / dropped.
    #[arg(short = 'd', long = "dir", value_name = "DIR")]
    pub dir: PathBuf,

    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// `bundle links APP DIR`: DIR/NAME, a symlink to APP, for every entry point NAME of APP, so
/// that each runs by its name.
#[derive(Debug, Parser)]
#[command(name = "bundle links")]
pub struct LinksCli {
    /// The executable (built with --entry).
    pub app: PathBuf,

    /// The directory to make the links in (created if missing). An existing file there is
    /// never replaced; a link that already points at APP is kept.
    pub dir: PathBuf,
}

/// `bundle oci BINARY -o image.tar`: a container image (OCI layout and docker-archive in one
/// tar), built without Docker, and/or `--push REF`: the same image pushed to a registry. Its
/// entrypoint is the executable; for a program of entry points, its command is the default
/// entry.
#[derive(Debug, Parser)]
#[command(name = "bundle oci")]
#[command(group(clap::ArgGroup::new("destination").required(true).multiple(true).args(["output", "push"])))]
pub struct OciCli {
    /// The bundled executable.
    pub binary: PathBuf,

    /// Where to write the image archive.
    #[arg(short, long, value_name = "IMAGE.tar")]
    pub output: Option<PathBuf>,

    /// Push the image to a registry: HOST[:PORT]/REPOSITORY[:TAG] (tag latest by default;
    /// USER/REPO is Docker Hub's).
    #[arg(long, value_name = "REF")]
    pub push: Option<String>,

    /// Registry credentials for --push (default: Docker's config.json, $DOCKER_CONFIG or
    /// ~/.docker, else none). The command line is visible to other users of the machine:
    /// prefer config.json.
    #[arg(long, value_name = "USER:PASSWORD", requires = "push")]
    pub creds: Option<String>,

    /// Push over plain HTTP: allowed to a loopback registry only (127.0.0.0/8, ::1,
    /// localhost).
    #[arg(long, requires = "push")]
    pub insecure: bool,

    /// The manifest to push: oci, docker (Docker v2 schema 2), or auto (OCI, then Docker's
    /// if the registry refuses it).
    #[arg(long, value_name = "FORMAT", default_value = "auto", value_parser = ["auto", "oci", "docker"], requires = "push")]
    pub manifest: String,

    /// The archive's image reference, repository:tag (default: the executable's name, tag
    /// latest).
    #[arg(long)]
    pub tag: Option<String>,

    /// Default value of the PORT environment variable in the image.
    #[arg(long = "port-env", value_name = "PORT", default_value_t = 8080)]
    pub port: u16,
}
