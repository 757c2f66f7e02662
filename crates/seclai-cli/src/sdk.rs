//! Every call into `seclai-blocking` lives here: the client, JSON calls,
//! pages, streamed runs, polling, uploads and downloads, handled per kind.

use crate::error::{CliError, usage};
use crate::output::{Output, progress_bar};
use clap::ArgMatches;
use seclai_blocking::{Call, Client, RunEvent, Upload};
use seclai_core::FinalRun;
use seclai_core::download::AtomicFile;
use seclai_gen::{Kind, Operation, Paginated, Pagination, ops};
use serde_json::{Value, json};
use std::any::Any;
use std::cell::OnceCell;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The global options that shape the client.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// `--api-key` (else `SECLAI_API_KEY`, else the SSO profile).
    pub api_key: Option<String>,
    /// `--api-url` (else `SECLAI_API_URL`).
    pub api_url: Option<String>,
    /// `--api-version`.
    pub api_version: Option<String>,
    /// `--account-id`.
    pub account_id: Option<String>,
    /// `--timeout` per attempt.
    pub timeout: Option<Duration>,
    /// `--max-retries`.
    pub max_retries: Option<u32>,
    /// `--header name:value`.
    pub headers: Vec<(String, String)>,
    /// `--profile` (else `SECLAI_PROFILE`).
    pub profile: Option<String>,
    /// `--sso-base-url`: the sign-in endpoints' base instead of `https://<sso_domain>`.
    pub sso_base_url: Option<String>,
}

/// What a command runs with: the output style and a client made on first use
/// (so a usage error is reported before credentials are looked for).
pub struct Ctx {
    /// How answers are printed.
    pub out: Output,
    settings: Settings,
    client: OnceCell<Client>,
}

impl Ctx {
    /// A context for these settings.
    pub fn new(out: Output, settings: Settings) -> Ctx {
        Ctx {
            out,
            settings,
            client: OnceCell::new(),
        }
    }

    /// The client, built on first use.
    pub fn client(&self) -> Result<&Client, CliError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let s = &self.settings;
        let mut b =
            Client::builder().user_agent_suffix(concat!("seclai-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(v) = &s.api_key {
            b = b.api_key(v.clone());
        }
        if let Some(v) = &s.api_url {
            b = b.base_url(v.clone());
        }
        if let Some(v) = &s.api_version {
            b = b.api_version(v.clone());
        }
        if let Some(v) = &s.account_id {
            b = b.account_id(v.clone());
        }
        if let Some(v) = s.timeout {
            b = b.timeout(v);
        }
        if let Some(v) = s.max_retries {
            b = b.max_retries(v);
        }
        if let Some(v) = &s.profile {
            b = b.profile(v.clone());
        }
        if let Some(v) = &s.sso_base_url {
            b = b.sso_base_url(v.clone());
        }
        for (n, v) in &s.headers {
            b = b.default_header(n.clone(), v.clone());
        }
        let client = b.build()?;
        Ok(self.client.get_or_init(|| client))
    }
}

/// An operation whose answer is kept as the server's JSON (unknown fields
/// included) instead of the typed output.
#[derive(Debug, Clone)]
pub struct Raw<O>(pub O);

impl<O: Operation> Operation for Raw<O> {
    type Output = Value;
    const ID: &'static str = O::ID;
    const METHOD: http::Method = O::METHOD;
    const PATH: &'static str = O::PATH;
    const IDEMPOTENT: bool = O::IDEMPOTENT;
    const KIND: Kind = O::KIND;
    const PAGINATION: Pagination = O::PAGINATION;
    fn path_and_query(&self) -> String {
        self.0.path_and_query()
    }
    fn body(&self) -> Result<Option<Vec<u8>>, serde_json::Error> {
        self.0.body()
    }
    fn check(&self) -> Result<(), String> {
        self.0.check()
    }
}

impl<O: Paginated> Paginated for Raw<O> {
    type Item = Value;
    const ITEMS_KEY: &'static str = O::ITEMS_KEY;
    fn set_position(&mut self, value: i64) {
        self.0.set_position(value)
    }
    fn position(&self) -> Option<i64> {
        self.0.position()
    }
    fn page_size(&self) -> Option<i64> {
        self.0.page_size()
    }
}

fn flag(m: &ArgMatches, id: &str) -> bool {
    m.try_get_one::<bool>(id)
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

fn text<'a>(m: &'a ArgMatches, id: &str) -> Option<&'a String> {
    m.try_get_one::<String>(id).ok().flatten()
}

fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A JSON call; `run-agent --poll` waits for a terminal run.
pub fn json<O: Operation>(ctx: &Ctx, m: &ArgMatches, op: O) -> Result<(), CliError> {
    if flag(m, "poll") {
        if let Some(run) = (&op as &dyn Any).downcast_ref::<ops::RunAgent>() {
            let done = ctx
                .client()?
                .run_agent_and_poll(run.agent_id.clone(), &run.body)?;
            return ctx.out.json(&to_json(&done));
        }
    }
    let value = Call::new(ctx.client()?.clone(), Raw(op)).send()?;
    ctx.out.json(&value)
}

/// `--all`: every item of every page, one JSON line each. Chosen at compile
/// time per operation: [`AllPages`] for paged ones, [`NotPaged`] otherwise.
pub struct Pages<O>(O);

impl<O> Pages<O> {
    /// Wrap a descriptor.
    pub fn new(op: O) -> Self {
        Pages(op)
    }
}

/// `--all` of a paged operation.
pub trait AllPages {
    /// Print every item.
    fn print_all(&self, ctx: &Ctx) -> Result<(), CliError>;
}

/// `--all` of an operation that does not page (the flag is not offered).
pub trait NotPaged {
    /// Refuse.
    fn print_all(&self, ctx: &Ctx) -> Result<(), CliError>;
}

impl<O: Paginated> AllPages for Pages<O> {
    fn print_all(&self, ctx: &Ctx) -> Result<(), CliError> {
        let call = Call::new(ctx.client()?.clone(), Raw(self.0.clone()));
        for item in call.paginate() {
            ctx.out.json_line(&item?)?;
        }
        Ok(())
    }
}

impl<O: Operation> NotPaged for &Pages<O> {
    fn print_all(&self, _ctx: &Ctx) -> Result<(), CliError> {
        Err(usage(format!(
            "--all: {} does not page",
            O::ID.replace('_', "-")
        )))
    }
}

/// One run event as a JSON line: `{"event": name, "data": payload}`.
fn event_json(e: &RunEvent) -> Value {
    let data = match e {
        RunEvent::Init(run) | RunEvent::Done(run) => to_json(run),
        RunEvent::Status(d)
        | RunEvent::StreamEnd(d)
        | RunEvent::StreamReasoning(d)
        | RunEvent::Step { data: d, .. } => d.to_value().unwrap_or(Value::Null),
        RunEvent::Timeout { data: d, .. } | RunEvent::Error { data: d, .. } => d.clone(),
        RunEvent::StreamToken(token) => token.data().to_value().unwrap_or(Value::Null),
        RunEvent::Unknown { data, .. } => crate::input::text_value(data),
        _ => Value::Null,
    };
    json!({"event": e.name(), "data": data})
}

/// A streamed run: tokens as they arrive (default), every event as a JSON
/// line (`--events`), or only the final run (`--wait`). A failed run exits
/// non-zero.
pub fn stream(ctx: &Ctx, m: &ArgMatches, op: ops::RunStreamingAgent) -> Result<(), CliError> {
    let client = ctx.client()?;
    if flag(m, "wait") {
        let run = client.run_streaming_agent_and_wait(op.agent_id, &op.body)?;
        return ctx.out.json(&to_json(&run));
    }
    let events = flag(m, "events");
    let mut stream = client.run_streaming_agent(op.agent_id, &op.body).send()?;
    let mut fin = FinalRun::default();
    let mut printed = false;
    for item in stream.by_ref() {
        match &item {
            Ok(e) if events => ctx.out.json_line(&event_json(e))?,
            Ok(RunEvent::StreamToken(token)) => {
                ctx.out.raw(token.as_bytes())?;
                printed = true;
            }
            _ => {}
        }
        if fin.on_item(item) {
            break;
        }
    }
    if printed {
        ctx.out.raw(b"\n")?;
    }
    fin.finish(stream.run_id())?;
    Ok(())
}

/// A multipart upload streamed from the file argument, with a progress bar
/// on a terminal; prints the answer.
pub fn upload<O: Operation>(ctx: &Ctx, m: &ArgMatches, op: O) -> Result<(), CliError> {
    let path = text(m, "file").ok_or_else(|| usage("missing argument FILE"))?;
    let mut up = Upload::path(path).map_err(|e| usage(e.to_string()))?;
    if let Some(t) = text(m, "title") {
        up = up.title(t.clone());
    }
    if let Some(meta) = text(m, "metadata") {
        let v: Value = serde_json::from_str(meta)
            .map_err(|e| usage(format!("--metadata is not valid JSON: {e}")))?;
        if !v.is_object() {
            return Err(usage("--metadata must be a JSON object"));
        }
        up = up.metadata(v);
    }
    let bar = progress_bar(up.size(), "upload");
    if let Some(bar) = bar.clone() {
        up = up.progress(move |sent, _| bar.set_position(sent));
    }
    let answer = Call::new(ctx.client()?.clone(), Raw(op))
        .with_upload(up)
        .send();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    ctx.out.json(&answer?)
}

/// A download streamed to `-o FILE` (through a temporary file renamed at the
/// end; removed on failure or Ctrl-C) or to standard output with `-o -`.
pub fn download<O: Operation>(ctx: &Ctx, m: &ArgMatches, op: O) -> Result<(), CliError> {
    let target = text(m, "output").ok_or_else(|| usage("missing -o FILE (or -o - for stdout)"))?;
    let mut dl = Call::new(ctx.client()?.clone(), op)
        .into_download()
        .send()?;
    let to_stdout = target == "-";
    let mut file = if to_stdout {
        None
    } else {
        let f = AtomicFile::create(Path::new(target))?;
        crate::interrupt::protect(f.temp_path());
        Some(f)
    };
    let bar = progress_bar(dl.content_length(), "download");
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdout = std::io::stdout().lock();
    loop {
        let n = dl.read_chunk(&mut buf)?;
        if n == 0 {
            break;
        }
        match file.as_mut() {
            Some(f) => f
                .write_all(&buf[..n])
                .map_err(|e| CliError::Failure(format!("writing {target}: {e}")))?,
            None => stdout.write_all(&buf[..n]).map_err(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    CliError::BrokenPipe
                } else {
                    CliError::Failure(format!("writing to standard output: {e}"))
                }
            })?,
        }
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match file {
        Some(f) => {
            f.commit()?;
            crate::interrupt::release();
        }
        None => stdout.flush().map_err(|_| CliError::BrokenPipe)?,
    }
    Ok(())
}
