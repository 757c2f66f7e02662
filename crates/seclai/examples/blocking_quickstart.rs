//! The blocking client: the same methods as the async one, no runtime needed.
//!
//! Runs offline against the in-process demo server:
//! `cargo run --example blocking_quickstart`. In your own code depend on
//! `seclai-blocking` and start from `seclai_blocking::Client::from_env()?`.

use seclai_blocking::{Client, RunEvent, types};
use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();
    let client = Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .timeout(Duration::from_secs(10))
        .build()?;

    // Calls are built the same way; `.send()` runs them.
    let page = client.list_agents().limit(3).send()?;
    println!("{} agents in total", page.pagination.total);
    let agent = client.get_agent("agent-2").send()?;
    println!(
        "get_agent: {} - {}",
        agent.name,
        agent.description.unwrap_or_default()
    );

    // Metadata: status, request id and rate limits.
    let meta = client.get_api_version().send_with_meta()?;
    println!(
        "API version {} (request id {:?})",
        meta.value.effective_version, meta.request_id
    );

    // Pagination is an iterator.
    for agent in client.list_agents().limit(4).paginate() {
        println!("  {}", agent?.name);
    }

    // A streamed run is an iterator of events.
    let req = types::AgentRunStreamRequest {
        input: Some("hi".into()),
        ..Default::default()
    };
    for event in client.run_streaming_agent("agent-1", &req).send()? {
        if let RunEvent::Done(run) = event? {
            println!(
                "run {}: {}",
                run.status.as_str(),
                run.output.unwrap_or_default()
            );
        }
    }

    // Any path, untyped, for endpoints newer than this SDK.
    let raw = client
        .request(seclai_blocking::http::Method::GET, "/agents/agent-3")
        .send()?;
    println!("raw request: {}", raw["name"]);

    // Errors are the same typed enum as the async client's.
    let err = client.get_agent("agent-404").send().unwrap_err();
    println!("not found? {} ({err})", err.is_not_found());
    Ok(())
}
