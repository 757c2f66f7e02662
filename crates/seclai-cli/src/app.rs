//! The command tree (global options, one command per operation, grouped
//! help) and the dispatch from parsed arguments to a command.

use crate::error::{CliError, EXIT_CODES_HELP, usage};
use crate::input::{bare, opt_id, path_id};
use crate::output::Output;
use crate::sdk::{Ctx, Settings};
use crate::table::{self, Kind, Location, OpSpec, flag_name, input_help, short_type};
use clap::{Arg, ArgAction, ArgMatches, Command};
use seclai_gen::Pagination;
use std::collections::BTreeMap;
use std::time::Duration;

/// Long options every command accepts; an operation input with one of these
/// names gets a `query-` prefix.
pub const GLOBAL_LONGS: &[&str] = &[
    "profile",
    "api-key",
    "api-url",
    "api-version",
    "account-id",
    "timeout",
    "max-retries",
    "header",
    "verbose",
    "compact",
    "pretty",
    "sso-base-url",
    "help",
    "version",
];

/// Long options some kinds of commands add.
pub const KIND_LONGS: &[&str] = &[
    "body", "set", "all", "input", "poll", "events", "wait", "output", "title", "metadata",
];

/// Commands that are not operations.
const BUILTINS: &str = "\
Other commands:
  auth login|status|logout   sign in through the SSO profile, show or remove the cached sign-in
  configure sso              write an SSO profile to the config file
  completions SHELL          print a completion script (bash, zsh, fish, powershell)
  commands                   list every operation command: name, method, path
  help COMMAND               show a command's method, path and inputs";

/// The CLI's version line: its own version and the API version it pins.
pub fn version() -> String {
    format!(
        "{} (Seclai API version {})",
        env!("CARGO_PKG_VERSION"),
        seclai_gen::DEFAULT_VERSION.unwrap_or("unpinned")
    )
}

fn global_args() -> Vec<Arg> {
    let opt = |id: &'static str, value: &'static str, help: &'static str| {
        Arg::new(id)
            .long(id)
            .value_name(value)
            .global(true)
            .help(help)
    };
    vec![
        opt(
            "profile",
            "NAME",
            "SSO profile (default: SECLAI_PROFILE, else \"default\")",
        ),
        opt(
            "api-key",
            "KEY",
            "API key (default: SECLAI_API_KEY, else the SSO profile)",
        ),
        opt(
            "api-url",
            "URL",
            "API base URL (default: SECLAI_API_URL, else https://api.seclai.com)",
        ),
        opt(
            "api-version",
            "VERSION",
            "Seclai-Version to send (default: the version this CLI pins)",
        ),
        opt("account-id", "ID", "X-Account-Id to act for"),
        opt(
            "timeout",
            "SECONDS",
            "timeout of one attempt of a call (default 60)",
        ),
        opt("max-retries", "N", "retries per call (default 2)"),
        opt(
            "header",
            "NAME:VALUE",
            "extra header on every request (repeatable)",
        )
        .action(ArgAction::Append),
        opt(
            "sso-base-url",
            "URL",
            "base URL of the sign-in endpoints instead of https://<sso_domain>",
        )
        .hide(true),
        Arg::new("verbose")
            .short('v')
            .long("verbose")
            .action(ArgAction::Count)
            .global(true)
            .help("log requests to stderr (-vv for more)"),
        Arg::new("compact")
            .long("compact")
            .action(ArgAction::SetTrue)
            .global(true)
            .conflicts_with("pretty")
            .help("one-line JSON (default when stdout is not a terminal)"),
        Arg::new("pretty")
            .long("pretty")
            .action(ArgAction::SetTrue)
            .global(true)
            .help("indented JSON (default on a terminal)"),
    ]
}

fn switch(id: &'static str, help: &'static str) -> Arg {
    Arg::new(id).long(id).action(ArgAction::SetTrue).help(help)
}

/// The primary command an alias stands for (same method and path).
fn alias_target<'a>(spec: &OpSpec, all: &'a [OpSpec]) -> Option<&'a OpSpec> {
    all.iter()
        .find(|o| !o.alias && o.method == spec.method && o.path == spec.path)
}

/// The command of one operation.
fn op_command(spec: &OpSpec, all: &[OpSpec]) -> Command {
    let mut about = format!("{} {}", spec.method, spec.path);
    if let Some(p) = spec.alias.then(|| alias_target(spec, all)).flatten() {
        about.push_str(&format!(" (same as {})", p.command()));
    }
    let mut c = Command::new(spec.command()).about(about);
    for r in spec.required {
        c = c.arg(
            Arg::new(path_id(bare(r)))
                .value_name(bare(r).to_uppercase())
                .required(true)
                .help(input_help(spec, r, "String", Location::Path)),
        );
    }
    match spec.kind {
        Kind::Multipart => {
            c = c
                .arg(
                    Arg::new("file")
                        .value_name("FILE")
                        .required(true)
                        .help("the file to upload (streamed from disk)"),
                )
                .arg(
                    Arg::new("title")
                        .long("title")
                        .value_name("TEXT")
                        .help("title of the upload"),
                )
                .arg(
                    Arg::new("metadata")
                        .long("metadata")
                        .value_name("JSON")
                        .help("metadata of the upload, a JSON object"),
                );
        }
        Kind::Binary => {
            c = c.arg(
                Arg::new("output")
                    .short('o')
                    .long("output")
                    .value_name("FILE")
                    .required(true)
                    .help(
                        "where to write the download (`-` for stdout); written only once complete",
                    ),
            );
        }
        Kind::EventStream => {
            c = c
                .arg(
                    Arg::new("input")
                        .long("input")
                        .value_name("TEXT")
                        .help("the run's input (sets the body's `input`)"),
                )
                .arg(switch(
                    "events",
                    "print every event as a JSON line instead of the tokens",
                ))
                .arg(switch("wait", "print only the final run").conflicts_with("events"));
        }
        Kind::Json => {}
    }
    if spec.name == "run_agent" {
        c = c
            .arg(
                Arg::new("input")
                    .long("input")
                    .value_name("TEXT")
                    .help("the run's input (sets the body's `input`)"),
            )
            .arg(switch(
                "poll",
                "wait until the run reaches a terminal status and print it",
            ));
    }
    if let Some(ty) = spec.body {
        c = c
            .arg(
                Arg::new("body")
                    .long("body")
                    .value_name("JSON|@FILE|-")
                    .help(format!("the JSON body ({}): inline, @file, or - for stdin", short_type(ty))),
            )
            .arg(
                Arg::new("set")
                    .long("set")
                    .value_name("KEY=VALUE")
                    .action(ArgAction::Append)
                    .help("set a body field (dotted keys nest; the value is JSON when it parses, else text)"),
            );
    }
    for (o, ty) in spec.optional {
        c = c.arg(
            Arg::new(opt_id(bare(o)))
                .long(flag_name(o))
                .value_name(short_type(ty).to_uppercase())
                .help(input_help(spec, o, ty, Location::Query)),
        );
    }
    if spec.pagination != Pagination::None {
        c = c.arg(switch(
            "all",
            "walk every page and print one JSON item per line",
        ));
    }
    c
}

/// The grouped command list of `seclai --help`.
fn grouped(all: &[OpSpec]) -> String {
    let mut groups: BTreeMap<&str, Vec<&OpSpec>> = BTreeMap::new();
    for spec in all {
        groups.entry(table::group(spec)).or_default().push(spec);
    }
    let width = all.iter().map(|s| s.command().len()).max().unwrap_or(0);
    let mut out = String::from("Commands by resource (`seclai help COMMAND` for one):\n");
    for (group, specs) in groups {
        out.push_str(&format!("\n{group}:\n"));
        for s in specs {
            out.push_str(&format!(
                "  {:width$}  {} {}\n",
                s.command(),
                s.method,
                s.path
            ));
        }
    }
    out.push('\n');
    out.push_str(BUILTINS);
    out.push('\n');
    out
}

/// Global options that take a value (to find the command word in `args`).
const VALUED_GLOBALS: &[&str] = &[
    "--profile",
    "--api-key",
    "--api-url",
    "--api-version",
    "--account-id",
    "--timeout",
    "--max-retries",
    "--header",
    "--sso-base-url",
];

/// The operation command `args` names, if any: the first word that is
/// neither an option nor a global option's value.
pub fn command_word<'a>(args: &'a [String], all: &[OpSpec]) -> Option<&'a str> {
    let mut skip = false;
    for a in args.iter().skip(1) {
        if skip {
            skip = false;
        } else if VALUED_GLOBALS.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with('-') {
            return all.iter().any(|s| s.command() == *a).then_some(a.as_str());
        }
    }
    None
}

/// The command tree: the whole of it, or (`only`) just the named operation
/// command, which spares building ~170 commands for a single call.
pub fn command(all: &[OpSpec], only: Option<&str>) -> Command {
    let root = Command::new("seclai")
        .version(version())
        .disable_help_subcommand(true)
        .subcommand_required(true)
        .args(global_args());
    if let Some(name) = only {
        return root.subcommands(
            all.iter()
                .filter(|s| s.command() == name)
                .map(|s| op_command(s, all)),
        );
    }
    let mut root = root
        .about("Every Seclai API operation from the terminal.")
        .arg_required_else_help(true)
        .help_template("{name} {version}\n{about}\n\n{usage-heading} {usage}\n\n{before-help}\nOptions:\n{options}\n\n{after-help}")
        .before_help(grouped(all))
        .after_help(EXIT_CODES_HELP);
    root = root.subcommands(all.iter().map(|s| op_command(s, all)));
    root = root.subcommands(crate::auth::commands()).subcommands([
        Command::new("completions")
            .about("Print a completion script")
            .arg(
                Arg::new("shell")
                    .required(true)
                    .value_parser(clap::value_parser!(clap_complete::Shell)),
            ),
        Command::new("commands").about("List every operation command: name, method, path, kind"),
        Command::new("help")
            .about("Show a command's method, path and inputs")
            .arg(Arg::new("name").value_name("COMMAND")),
    ]);
    root
}

/// The global options as client settings.
pub fn settings(m: &ArgMatches) -> Result<Settings, CliError> {
    let s = |id: &str| m.get_one::<String>(id).cloned();
    let timeout = match s("timeout") {
        None => None,
        Some(t) => {
            let secs: f64 = t
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v > 0.0 && *v < 1e9)
                .ok_or_else(|| usage(format!("--timeout {t:?}: expected a number of seconds")))?;
            Some(Duration::from_secs_f64(secs))
        }
    };
    let max_retries = match s("max-retries") {
        None => None,
        Some(t) => Some(
            t.parse()
                .map_err(|_| usage(format!("--max-retries {t:?}: expected a whole number")))?,
        ),
    };
    let mut headers = Vec::new();
    for h in m.get_many::<String>("header").into_iter().flatten() {
        let (n, v) = h
            .split_once(':')
            .ok_or_else(|| usage(format!("--header {h:?} needs the form name:value")))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    Ok(Settings {
        api_key: s("api-key"),
        api_url: s("api-url"),
        api_version: s("api-version"),
        account_id: s("account-id"),
        timeout,
        max_retries,
        headers,
        profile: s("profile"),
        sso_base_url: s("sso-base-url"),
    })
}

/// `seclai help COMMAND`.
fn help_for(root: &mut Command, all: &[OpSpec], name: Option<&String>) -> Result<String, CliError> {
    let Some(name) = name else {
        return Ok(root.render_help().to_string());
    };
    let sub = root
        .find_subcommand_mut(name)
        .ok_or_else(|| usage(format!("unknown command {name:?}")))?;
    let mut out = String::new();
    if let Some(spec) = all.iter().find(|s| s.command() == *name) {
        out.push_str(&format!("{} {}\n", spec.method, spec.path));
        out.push_str(&format!("group: {}\n", table::group(spec)));
        if let Some(ty) = spec.body {
            out.push_str(&format!("body: {} (--body, --set)\n", short_type(ty)));
        }
        out.push_str("inputs:\n");
        for r in spec.required {
            out.push_str(&format!(
                "  {}  {}\n",
                bare(r).to_uppercase(),
                input_help(spec, r, "String", Location::Path)
            ));
        }
        for (o, ty) in spec.optional {
            out.push_str(&format!(
                "  --{}  {}\n",
                flag_name(o),
                input_help(spec, o, ty, Location::Query)
            ));
        }
        if spec.required.is_empty() && spec.optional.is_empty() {
            out.push_str("  (none)\n");
        }
        out.push('\n');
    }
    let mut sub = sub.clone().bin_name(format!("seclai {name}"));
    out.push_str(&sub.render_long_help().to_string());
    Ok(out)
}

/// The `commands` listing: one line per operation command.
pub fn listing(all: &[OpSpec]) -> String {
    let mut out = String::new();
    for s in all {
        let kind = match s.kind {
            Kind::Json if s.pagination != Pagination::None => "paged",
            Kind::Json => "json",
            Kind::Multipart => "upload",
            Kind::EventStream => "stream",
            Kind::Binary => "download",
        };
        out.push_str(&format!(
            "{} {} {} {}\n",
            s.command(),
            s.method,
            s.path,
            kind
        ));
    }
    out
}

/// Run the parsed command line.
pub fn dispatch(all: &[OpSpec], root: &mut Command, m: &ArgMatches) -> Result<(), CliError> {
    let out = Output::new(m.get_flag("pretty"), m.get_flag("compact"));
    let Some((name, sub)) = m.subcommand() else {
        return Err(usage("no command given; see `seclai --help`"));
    };
    match name {
        "completions" => {
            let shell = *sub
                .get_one::<clap_complete::Shell>("shell")
                .ok_or_else(|| usage("completions: which shell?"))?;
            let mut buf = Vec::new();
            clap_complete::generate(shell, root, "seclai", &mut buf);
            out.raw(&buf)
        }
        "commands" => out.raw(listing(all).as_bytes()),
        "help" => {
            let text = help_for(root, all, sub.get_one::<String>("name"))?;
            out.raw(text.as_bytes())
        }
        "auth" | "configure" => crate::auth::dispatch(&settings(m)?, out, name, sub),
        _ => {
            let spec = all
                .iter()
                .find(|s| s.command() == name)
                .ok_or_else(|| usage(format!("unknown command {name:?}")))?;
            let ctx = Ctx::new(out, settings(m)?);
            (spec.run)(&ctx, sub)
        }
    }
}
