//! Start a run without streaming and poll it until it finishes.
//!
//! Runs offline against the in-process demo server: `cargo run --example poll_run`.
//! The demo answers `pending`, then `processing`, then `completed`.

use seclai::{Error, PollPolicy, StreamError, types};
use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .build()?;

    let req = types::AgentRunRequest {
        input: Some("Summarize yesterday's tickets".into()),
        ..Default::default()
    };

    // How often to check and for how long (the default: 1 s growing to 5 s, 10 min).
    let policy = PollPolicy {
        initial_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
        deadline: Duration::from_secs(30),
        ..PollPolicy::default()
    };

    // Start and poll in one call.
    let run = client
        .run_agent_and_poll_with("agent-1", &req, &policy)
        .await?;
    println!(
        "run {} is {}: {}",
        run.run_id,
        run.status.as_str(),
        run.output.unwrap_or_default()
    );

    // Or in two steps, e.g. to store the run id before waiting.
    let started = client.run_agent("agent-1", &req).await?;
    println!("started {} ({})", started.run_id, started.status.as_str());
    match client.wait_for_run(&started.run_id, &policy).await {
        Ok(run) => println!("finished: {}", run.status.as_str()),
        // Failed or cancelled runs, and deadlines, are typed errors that name the run.
        Err(Error::Stream(StreamError::RunFailed { status, .. })) => {
            println!("run ended as {status}")
        }
        Err(Error::Stream(StreamError::Deadline { last_status, .. })) => {
            println!("still {last_status:?} at the deadline; check again later")
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
