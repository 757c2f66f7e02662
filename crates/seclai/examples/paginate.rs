//! Walk every page of a list: typed items, a capped collect, and raw JSON.
//!
//! Runs offline against the in-process demo server: `cargo run --example paginate`.

use futures_util::TryStreamExt;
use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .build()?;

    // One page, with its pagination block.
    let page = client.list_agents().page(1).limit(3).await?;
    let p = &page.pagination;
    println!(
        "page {} of {}, {} agents in total",
        p.page, p.pages, p.total
    );

    // Every item of every page, fetched lazily (3 per request here).
    let mut agents = client.list_agents().limit(3).paginate();
    while let Some(agent) = agents.try_next().await? {
        println!("  {}  {}", agent.id, agent.name);
    }

    // At most 4 items, collected into a Vec.
    let first_four = client.list_agents().limit(3).collect_all(4).await?;
    println!("collect_all(4): {} agents", first_four.len());

    // Any list path as JSON values, for endpoints newer than this SDK.
    let raw: Vec<serde_json::Value> = client
        .paginate(seclai::http::Method::GET, "/agents")
        .limit(5)
        .items()
        .try_collect()
        .await?;
    println!(
        "raw paginate: {} items, first is {}",
        raw.len(),
        raw[0]["name"]
    );
    Ok(())
}
