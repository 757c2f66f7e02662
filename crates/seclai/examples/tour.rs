//! A guided tour of the Seclai Rust SDK: `cargo run --example tour`.
//!
//! Without `SECLAI_API_KEY` it needs no account and no network: it starts an
//! in-process demo server (`seclai_testkit::demo::DemoSeclai`) and walks
//! through listing, creating and running agents, live run events, polling,
//! uploads, downloads, typed errors and the blocking client. It never reads
//! your environment or SSO profiles in that mode.
//!
//! With `SECLAI_API_KEY` set it makes only read-only calls against the real
//! API (`SECLAI_API_URL` is honoured): the API version and a few agents.
//! Any failure is printed as one line and the exit code is 1.

use futures_util::{StreamExt, TryStreamExt};
use seclai::{Client, Error, PollPolicy, RunEvent, Upload, types};
use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};
use serde_json::json;
use std::error::Error as StdError;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let key = std::env::var("SECLAI_API_KEY").unwrap_or_default();
    let live = !key.trim().is_empty();
    let result = match live {
        true => runtime.block_on(live_tour(key)).map_err(Into::into),
        false => offline_tour(&runtime),
    };
    match result {
        Ok(()) => {
            println!("\nDone in {:.1} s.", started.elapsed().as_secs_f64());
            if !live {
                println!(
                    "Next: the focused examples in crates/seclai/examples/, e.g. `cargo run --example stream_run`."
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            match e.downcast_ref::<Error>() {
                Some(e) => eprintln!("{}", one_line(e)),
                None => eprintln!("error: {e}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// A typed error as one readable line, with a hint for the common causes.
fn one_line(e: &Error) -> String {
    let kind = match e {
        Error::Api(_) => "API",
        Error::Transport(_) => "transport",
        Error::Decode(_) => "decode",
        Error::Stream(_) => "stream",
        Error::Config(_) => "config",
        Error::InvalidRequest(_) => "invalid request",
        _ => "other",
    };
    let hint = match e.status().map(|s| s.as_u16()) {
        Some(401 | 403) => " (check SECLAI_API_KEY)",
        _ if matches!(e, Error::Transport(_)) => " (is the network or SECLAI_API_URL reachable?)",
        _ => "",
    };
    format!("error [{kind}]: {e}{hint}").replace(['\n', '\r'], " ")
}

type TourResult = Result<(), Box<dyn StdError>>;

// ---------------------------------------------------------------- live mode

async fn live_tour(key: String) -> seclai::Result<()> {
    let client = Client::builder()
        .api_key(key) // an explicit key: no other credential source is consulted
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .max_retries(1)
        .build()?;
    println!("Seclai Rust SDK tour: SECLAI_API_KEY is set, so this makes read-only calls");
    println!(
        "against {} (nothing is created or changed).\n",
        client.config().base_url()
    );

    let v = client.get_api_version().await?;
    println!(
        "get_api_version: effective {}, default {}, latest {}",
        v.effective_version, v.default_version, v.latest_version
    );
    let page = client.list_agents().limit(5).send_with_meta().await?;
    let list = &page.value;
    println!(
        "list_agents().limit(5): {} of {} agents (request id {})",
        list.data.len(),
        list.pagination.total,
        page.request_id.as_deref().unwrap_or("-")
    );
    for a in &list.data {
        println!("  {}  {}", a.id, a.name);
    }
    println!(
        "\nRun `cargo run --example tour` without SECLAI_API_KEY for the full offline walk-through."
    );
    Ok(())
}

// ------------------------------------------------------------- offline mode

fn offline_tour(runtime: &tokio::runtime::Runtime) -> TourResult {
    let demo = DemoSeclai::start();
    println!(
        "Seclai Rust SDK tour, offline: a demo Seclai server runs in-process at {}.",
        demo.url()
    );
    println!("(Set SECLAI_API_KEY to make read-only calls against the real API instead.)");
    let client = Client::builder()
        .ignore_env() // no SECLAI_* variables, no SSO profile: only what is set here
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()?;
    runtime.block_on(async_part(&client))?;
    blocking_part(&demo.url())?;
    Ok(())
}

/// Prints `label: sent/total (pct%)` at each quarter of the way.
fn quarters(label: &'static str) -> impl Fn(u64, Option<u64>) + Send + Sync + 'static {
    let shown = AtomicU64::new(0);
    move |done, total| {
        let Some(total) = total.filter(|t| *t > 0) else {
            return;
        };
        let quarter = done * 4 / total;
        if quarter > shown.fetch_max(quarter, Ordering::SeqCst) {
            println!("   {label}: {done}/{total} bytes ({}%)", done * 100 / total);
        }
    }
}

async fn async_part(client: &Client) -> TourResult {
    println!("\n1. List agents, 3 per page: client.list_agents().limit(3).paginate()");
    let mut agents = client.list_agents().limit(3).paginate();
    while let Some(agent) = agents.try_next().await? {
        println!("   {:<9} {}", agent.id, agent.name);
    }

    println!("\n2. Create an agent: client.create_agent(&body)");
    // Request types with required fields can be built from JSON (or field by field).
    let body: types::CreateAgentRequest = serde_json::from_value(
        json!({"name": "Tour guide", "description": "Created by the tour"}),
    )?;
    let agent = client.create_agent(&body).await?;
    let meta = client.get_agent(&agent.id).send_with_meta().await?;
    println!(
        "   created {} \"{}\"; get_agent answered {} (request id {})",
        agent.id,
        agent.name,
        meta.status,
        meta.request_id.as_deref().unwrap_or("-")
    );

    println!("\n3. Run it and print events as they arrive: client.run_streaming_agent(...)");
    let req = types::AgentRunStreamRequest {
        input: Some("What can you do?".into()),
        ..Default::default()
    };
    let mut events = client.run_streaming_agent(&agent.id, &req).await?;
    let mut first_token = true;
    while let Some(event) = events.next().await {
        match event? {
            RunEvent::Init(run) => {
                println!("   [init] run {} is {}", run.run_id, run.status.as_str())
            }
            RunEvent::StreamToken(token) => {
                let lead = if std::mem::take(&mut first_token) {
                    "   > "
                } else {
                    ""
                };
                print!("{lead}{token}");
                std::io::stdout().flush().ok();
            }
            RunEvent::Status(s) => println!("   [status] {}", s.str_field("status").unwrap_or("?")),
            RunEvent::StreamEnd(_) => println!(),
            RunEvent::Done(run) => {
                println!("   [done] run {} is {}", run.run_id, run.status.as_str())
            }
            other => println!("   [{}]", other.name()),
        }
    }

    println!("\n4. Or just wait for the result: client.run_streaming_agent_and_wait(...)");
    let run = client.run_streaming_agent_and_wait(&agent.id, &req).await?;
    println!(
        "   run {} {}: {}",
        run.run_id,
        run.status.as_str(),
        run.output.unwrap_or_default()
    );

    println!("\n5. Start a run and poll it: client.run_agent_and_poll_with(...)");
    let run_req = types::AgentRunRequest {
        input: Some("Summarize my week".into()),
        ..Default::default()
    };
    let policy = PollPolicy {
        initial_delay: Duration::from_millis(200),
        ..PollPolicy::default()
    };
    let run = client
        .run_agent_and_poll_with(&agent.id, &run_req, &policy)
        .await?;
    println!(
        "   the server said pending, then processing; the SDK polled until: {}",
        run.status.as_str()
    );

    let dir = tempfile::tempdir()?;
    println!("\n6. Upload a file with progress: client.upload_file_to_source(...)");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "Seclai tour notes\n".repeat(12_000))?;
    let upload = Upload::path(&path)?
        .title("Tour notes")
        .progress(quarters("sent"));
    let up = client.upload_file_to_source("source-1", upload).await?;
    println!("   uploaded {}: {}", up.filename, up.status);

    println!("\n7. Download an export with progress: client.download_source_export(...)");
    let download = client
        .download_source_export("source-1", "export-1")
        .await?;
    let name = download.file_name().unwrap_or_else(|| "export.bin".into());
    let saved = download
        .progress(quarters("received"))
        .write_to(dir.path().join(name))
        .await?;
    println!("   saved {}", saved.display());

    println!("\n8. Errors are typed: status(), is_not_found(), request_id(), ...");
    let e = client.get_agent("agent-404").await.unwrap_err();
    println!(
        "   get_agent(\"agent-404\"): is_not_found() = {}; {e}",
        e.is_not_found()
    );
    let wrong = Client::builder()
        .ignore_env()
        .api_key("wrong-key")
        .base_url(client.config().base_url())
        .build()?;
    let e = wrong.list_agents().await.unwrap_err();
    println!(
        "   a wrong key: code() = {:?}; {e}",
        e.code().unwrap_or("-")
    );
    Ok(())
}

fn blocking_part(url: &str) -> seclai::Result<()> {
    println!("\n9. The same calls on the blocking client (seclai_blocking::Client, no runtime)");
    let client = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(url)
        .build()?;
    let agent = client.get_agent("agent-2").send()?;
    println!("   get_agent(\"agent-2\").send(): {}", agent.name);
    let raw = client
        .request(seclai::http::Method::GET, "/agents")
        .query("limit", 2)
        .send()?;
    println!(
        "   request(GET, \"/agents\").query(\"limit\", 2): {} items, raw JSON",
        raw["data"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}
