//! `seclai`: every Seclai API operation from the terminal, on the blocking
//! client. Commands come from the generated operation table; see `seclai
//! --help` and the README's "Command line" section.

mod app;
mod auth;
mod error;
mod input;
mod interrupt;
mod output;
mod sdk;
mod table;

use error::{CliError, code, mask};

/// The secrets that must never appear in what we print.
fn secrets(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = std::env::var("SECLAI_API_KEY").into_iter().collect();
    for (i, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix("--api-key=") {
            out.push(v.to_string());
        } else if a == "--api-key" {
            out.extend(args.get(i + 1).cloned());
        }
    }
    out
}

/// Tracing to stderr at `-v` (debug) or `-vv` (trace).
fn init_tracing(level: u8) {
    if level == 0 {
        return;
    }
    let max = if level == 1 {
        tracing_subscriber::filter::LevelFilter::DEBUG
    } else {
        tracing_subscriber::filter::LevelFilter::TRACE
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(max)
        .without_time()
        .try_init();
}

/// The matches of the command that runs (globals are visible there too).
fn run(args: Vec<String>) -> Result<(), CliError> {
    let all = table::all();
    let mut root = app::command(&all, app::command_word(&args, &all));
    let matches = match root.try_get_matches_from_mut(&args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind as K;
            return match e.kind() {
                K::DisplayHelp | K::DisplayVersion => {
                    output::Output { pretty: false }.raw(e.render().to_string().as_bytes())
                }
                _ => Err(CliError::Usage(e.render().to_string())),
            };
        }
    };
    let verbose = deepest(&matches).get_count("verbose");
    init_tracing(verbose);
    app::dispatch(&all, &mut root, &matches)
}

/// The innermost subcommand's matches.
pub fn deepest(m: &clap::ArgMatches) -> &clap::ArgMatches {
    match m.subcommand() {
        Some((_, sub)) => deepest(sub),
        None => m,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secrets = secrets(&args);
    let code = match run(args) {
        Ok(()) => code::OK,
        Err(CliError::BrokenPipe) => code::OK,
        Err(CliError::Usage(text)) if text.contains('\n') => {
            // clap's own message (already formatted, with a hint line).
            eprint!("{}", mask(text, &secrets));
            code::USAGE
        }
        Err(e) => {
            eprintln!("seclai: {}", mask(e.line(), &secrets));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
