//! Standard output: JSON for pipes and people, tokens as they arrive, and
//! progress bars on a terminal only.

use crate::error::CliError;
use serde_json::Value;
use std::io::{IsTerminal, Write};

/// How answers are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Indented JSON (default on a terminal) instead of one line.
    pub pretty: bool,
}

/// Map a write error: a closed pipe ends the command quietly.
fn io_err(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::BrokenPipe
    } else {
        CliError::Failure(format!("cannot write to standard output: {e}"))
    }
}

impl Output {
    /// Choose from `--pretty`/`--compact`, else by whether stdout is a terminal.
    pub fn new(pretty: bool, compact: bool) -> Output {
        let pretty = if pretty || compact {
            pretty
        } else {
            std::io::stdout().is_terminal()
        };
        Output { pretty }
    }

    /// Print an answer (nothing for an empty one, `null`).
    pub fn json(&self, value: &Value) -> Result<(), CliError> {
        if value.is_null() {
            return Ok(());
        }
        let text = if self.pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        }
        .map_err(|e| CliError::Failure(format!("cannot encode the answer: {e}")))?;
        self.line(&text)
    }

    /// Print one JSON value on one line (`--all`, `--events`).
    pub fn json_line(&self, value: &Value) -> Result<(), CliError> {
        self.line(&value.to_string())
    }

    /// Print `text` and a newline.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(io_err)
    }

    /// Print `text` as it is, flushed at once (streamed tokens).
    pub fn raw(&self, text: &[u8]) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text)
            .and_then(|()| out.flush())
            .map_err(io_err)
    }
}

/// A byte-count progress bar on standard error, only when it is a terminal.
pub fn progress_bar(total: Option<u64>, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::no_length(),
    };
    let style = indicatif::ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar.set_message(what.to_string());
    Some(bar)
}
