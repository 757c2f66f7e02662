//! Test your own code that uses the SDK, with `seclai-testkit` fakes.
//!
//! `cargo run --example testing_with_testkit` runs the checks below. In your
//! project add `seclai-testkit` under `[dev-dependencies]` and write each
//! check as a `#[tokio::test]`. Point the client at the fake with
//! `.base_url(fake.url())` and use `.ignore_env()` so tests never pick up a
//! developer's SECLAI_* variables or SSO profile.

use seclai::{Client, ops};
use seclai_testkit::raw::{RawServer, Script};
use seclai_testkit::{DemoSeclai, FakeSeclai, demo::DEMO_API_KEY};
use serde_json::json;

/// The code under test: takes the client as a parameter.
async fn describe_agent(client: &Client, id: &str) -> seclai::Result<String> {
    match client.get_agent(id).await {
        Ok(agent) => Ok(format!("{} ({})", agent.name, agent.id)),
        Err(e) if e.is_not_found() => Ok(format!("no agent {id}")),
        Err(e) => Err(e),
    }
}

fn client_for(url: String) -> Client {
    let client = Client::builder()
        .ignore_env()
        .api_key("test-key")
        .base_url(url);
    client.build().expect("a valid test client")
}

#[tokio::main]
async fn main() {
    // 1. Stub one operation with FakeSeclai (httpmock): any agent id matches.
    let fake = FakeSeclai::start();
    let agent = json!({"id": "a1", "name": "Helper", "created_at": "t", "updated_at": "t"});
    let mock = fake.stub::<ops::GetAgent>(200, &agent);
    let got = describe_agent(&client_for(fake.url()), "a1").await.unwrap();
    assert_eq!(got, "Helper (a1)");
    assert_eq!(mock.calls(), 1);
    println!("ok: stubbed get_agent -> {got}");

    // 2. Error paths: a 404 answer for exactly this call.
    let fake = FakeSeclai::start();
    fake.stub_call(
        &ops::GetAgent::new("gone"),
        404,
        &json!({"detail": "Agent not found"}),
    );
    let got = describe_agent(&client_for(fake.url()), "gone")
        .await
        .unwrap();
    assert_eq!(got, "no agent gone");
    // The 404 came from the stub: a request no mock matches would have been
    // answered 501 (naming it) and recorded.
    fake.assert_no_unmatched();
    println!("ok: 404 handled -> {got}");

    // 3. Wire-level behaviour with RawServer: a 503 is retried, then succeeds.
    let server = RawServer::start(vec![
        Script::json(503, "{}"),
        Script::json(200, agent.to_string()),
    ]);
    let got = describe_agent(&client_for(server.url()), "a1")
        .await
        .unwrap();
    assert_eq!(server.hits(), 2);
    assert_eq!(server.requests()[0].header("x-api-key"), Some("test-key"));
    println!("ok: retried after 503 -> {got}");

    // 4. Other errors reach the caller, typed.
    let server = RawServer::start(vec![Script::json(401, r#"{"detail":"bad key"}"#)]);
    let err = describe_agent(&client_for(server.url()), "a1")
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    println!("ok: 401 surfaces as {err}");

    // 5. Whole flows against the stateful demo server.
    let demo = DemoSeclai::start();
    let client = Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .build()
        .unwrap();
    let got = describe_agent(&client, "agent-1").await.unwrap();
    assert_eq!(got, "Support triage (agent-1)");
    println!("ok: demo server -> {got}");
}
