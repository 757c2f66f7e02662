//! Errors of the command and their exit codes (one code per class).

use seclai_blocking::Error;

/// The documented exit codes.
pub mod code {
    /// Success.
    pub const OK: i32 = 0;
    /// Anything else: an answer that could not be decoded, a local write failed.
    pub const FAILURE: i32 = 1;
    /// Usage error: unknown command or flag, bad argument or body; nothing was sent.
    pub const USAGE: i32 = 2;
    /// Configuration or credential error (no credentials, bad profile, bad option value).
    pub const CONFIG: i32 = 3;
    /// The API answered 4xx.
    pub const API_4XX: i32 = 4;
    /// The API answered 5xx (or another non-2xx status).
    pub const API_5XX: i32 = 5;
    /// Transport error: connection, TLS, timeout.
    pub const TRANSPORT: i32 = 6;
    /// A streamed or polled run failed, or its stream broke.
    pub const RUN_FAILED: i32 = 7;
}

/// The footer of `seclai --help` (also in the README).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (undecodable answer, local write error)
  2  usage error (nothing was sent)
  3  configuration or credential error
  4  API error 4xx
  5  API error 5xx
  6  transport error (connect, TLS, timeout)
  7  the run failed or its stream broke
  130 interrupted";

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// Bad input from the user; nothing was sent.
    Usage(String),
    /// A configuration or credential problem found by the command itself.
    Config(String),
    /// An error of the SDK.
    Sdk(Error),
    /// A local failure (writing a file, a sign-in that did not complete).
    Failure(String),
    /// Standard output was closed (`| head`): end quietly.
    BrokenPipe,
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Sdk(e)
    }
}

impl CliError {
    /// The exit code of this error's class.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => code::USAGE,
            CliError::Config(_) => code::CONFIG,
            CliError::Failure(_) => code::FAILURE,
            CliError::BrokenPipe => code::OK,
            CliError::Sdk(e) => match e {
                Error::Api(a) if a.status.is_client_error() => code::API_4XX,
                Error::Api(_) => code::API_5XX,
                Error::Transport(_) => code::TRANSPORT,
                Error::Stream(_) => code::RUN_FAILED,
                Error::Config(_) => code::CONFIG,
                Error::InvalidRequest(_) => code::USAGE,
                _ => code::FAILURE,
            },
        }
    }

    /// The one line printed on standard error (before secrets are masked).
    pub fn line(&self) -> String {
        let text = match self {
            CliError::Usage(m) => format!("usage: {m}"),
            CliError::Config(m) => format!("configuration: {m}"),
            CliError::Failure(m) => m.clone(),
            CliError::BrokenPipe => String::new(),
            CliError::Sdk(e) => e.to_string(),
        };
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Replace every occurrence of each secret in `text` with `***`.
pub fn mask(mut text: String, secrets: &[String]) -> String {
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(s.as_str()) {
            text = text.replace(s.as_str(), "***");
        }
    }
    text
}

/// A usage error from a message.
pub fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}
