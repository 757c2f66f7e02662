//! Running the built `seclai` binary in a clean environment.
#![allow(dead_code)]

use std::borrow::BorrowMut;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The API key tests use as a secret that must never be printed.
pub const SECRET_KEY: &str = "sk-test-SECRET-7f3a9c";

/// One finished run of the command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// `seclai` with an empty environment (no HOME, no SECLAI_*).
pub fn seclai() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seclai"));
    c.env_clear();
    c
}

/// `seclai` aimed at `url` with the demo server's key.
pub fn against(url: &str) -> Command {
    let mut c = seclai();
    c.args([
        "--api-url",
        url,
        "--api-key",
        seclai_testkit::demo::DEMO_API_KEY,
    ]);
    c
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run with `args`, nothing on stdin.
pub fn run(mut cmd: impl BorrowMut<Command>, args: &[&str]) -> Run {
    finish(
        cmd.borrow_mut()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("runs"),
    )
}

/// Run with `args`, `input` on stdin.
pub fn run_stdin(mut cmd: impl BorrowMut<Command>, args: &[&str], input: &str) -> Run {
    let mut child = cmd
        .borrow_mut()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes stdin");
    finish(child.wait_with_output().expect("waits"))
}
