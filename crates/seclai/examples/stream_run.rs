//! Stream an agent run and react to each event as it arrives.
//!
//! Runs offline against the in-process demo server: `cargo run --example stream_run`.
//! Against the real API, build the client with `seclai::Client::from_env()?`
//! and use one of your agent ids.

use futures_util::StreamExt;
use seclai::{RunEvent, types};
use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};
use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .build()?;

    let req = types::AgentRunStreamRequest {
        input: Some("Give me one fun fact".into()),
        ..Default::default()
    };

    // Every event, as it arrives. The stream owns its connection: drop it to stop.
    let mut events = client.run_streaming_agent("agent-1", &req).await?;
    while let Some(event) = events.next().await {
        match event? {
            RunEvent::Init(run) => println!("started run {}", run.run_id),
            RunEvent::Status(s) => println!("status: {}", s.str_field("status").unwrap_or("?")),
            RunEvent::StreamToken(token) => {
                print!("{token}");
                std::io::stdout().flush()?;
            }
            RunEvent::StreamEnd(_) => println!(),
            RunEvent::Done(run) => {
                println!(
                    "finished: {} ({} credits)",
                    run.status.as_str(),
                    run.credits.unwrap_or(0.0)
                );
            }
            RunEvent::Error { message, .. } => eprintln!("the server reported: {message}"),
            other => println!("({} event)", other.name()),
        }
    }
    println!("run id seen on the stream: {:?}", events.run_id());

    // Only the final snapshot: drain the stream without handling events.
    let run = client
        .run_streaming_agent("agent-1", &req)
        .await?
        .final_run()
        .await?;
    println!("final_run(): {}", run.output.unwrap_or_default());

    // Or let the SDK recover from cut streams by polling until the run is terminal.
    let run = client.run_streaming_agent_and_wait("agent-1", &req).await?;
    println!("run_streaming_agent_and_wait(): {}", run.status.as_str());
    Ok(())
}
