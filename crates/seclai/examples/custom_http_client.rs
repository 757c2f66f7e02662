//! Bring your own `reqwest::Client`: connection pool, proxy, TLS and
//! timeouts are then yours, shared with the rest of your application.
//!
//! Runs offline against the in-process demo server: `cargo run --example custom_http_client`.
//! (The blocking client takes a `ureq::Agent` the same way.)

use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();

    // Your client, configured once for the whole application. Keep redirects
    // off: the SDK sends credentials and should not follow them elsewhere.
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(8)
        .tcp_keepalive(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // The builder's own connect timeout, proxy and root certificates do not
    // apply to a client you pass in; retries, the per-attempt timeout,
    // credentials and headers still come from the SDK.
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .http_client(http.clone())
        .timeout(Duration::from_secs(10))
        .max_retries(3)
        .user_agent_suffix("my-app/1.2")
        .build()?;

    let agents = client.list_agents().limit(2).await?;
    println!("{} agents through the shared pool", agents.pagination.total);

    // The same pool serves your other requests (here: the demo server directly).
    let status = http
        .get(format!("{}/version", demo.url()))
        .send()
        .await?
        .status();
    println!("a plain request without credentials: {status}");

    // And the SDK hands its client back if you need it.
    let _same_pool: &reqwest::Client = client.http_client();
    Ok(())
}
