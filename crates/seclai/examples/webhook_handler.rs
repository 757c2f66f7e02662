//! Handle Seclai webhook deliveries with `seclai::WebhookEvent::parse`.
//!
//! `cargo run --example webhook_handler` feeds a few sample bodies to the
//! handler. In a web server, call `handle` from your route (axum, actix,
//! hyper, ...) with the raw request body and answer with its status code.
//! Unknown event names and fields never make parsing fail, so a newer server
//! cannot break your endpoint.

use seclai::{WebhookEvent, WebhookEventKind};

/// Handle one delivery; returns the HTTP status to answer with.
fn handle(body: &[u8]) -> u16 {
    let event = match WebhookEvent::parse(body) {
        Ok(event) => event,
        Err(e) => {
            eprintln!("  rejected: {e}");
            return 400; // not a webhook body
        }
    };
    let run = event.run_id().unwrap_or("?");
    match &event.event {
        WebhookEventKind::AgentRunCompleted => {
            // e.g. fetch the output: client.get_agent_run(run).await?
            println!(
                "  run {run} of agent {} completed",
                event.agent_id().unwrap_or("?")
            );
        }
        WebhookEventKind::AgentRunFailed => {
            let reason = event.field("error").unwrap_or("no reason given");
            println!("  run {run} failed: {reason}");
        }
        WebhookEventKind::Unknown(name) => {
            // Acknowledge events you do not handle yet, or they may be re-sent.
            println!("  ignoring event {name:?}");
        }
    }
    200
}

fn main() {
    let deliveries: [&[u8]; 4] = [
        br#"{"event":"agent.run.completed","data":{"run_id":"run-1","agent_id":"agent-1","status":"completed"}}"#,
        br#"{"event":"agent.run.failed","data":{"run_id":"run-2","status":"failed","error":"model timeout"}}"#,
        br#"{"event":"knowledge_base.synced","data":{"id":"kb-1"},"sent_at":"2026-07-01T09:00:00Z"}"#,
        b"not json",
    ];
    for body in deliveries {
        println!("{}", String::from_utf8_lossy(body));
        println!("  -> answer {}", handle(body));
    }
}
