//! Streamed runs, waiting and polling.

use super::{client, run_stream, stream_req};
use crate::harness::Harness;
use seclai_core::helpers;
use seclai_core::{Error, PollPolicy, Result, RunEvent, StreamError, WaitOptions};
use seclai_gen::types::{AgentRunRequest, AgentRunResponse};
use seclai_testkit::raw::{RawServer, Script};
use seclai_testkit::sse::{SseScript, run_object};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn quick_poll(deadline_ms: u64) -> PollPolicy {
    PollPolicy {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        multiplier: 1.5,
        deadline: Duration::from_millis(deadline_ms),
    }
}

fn quick_wait(idle: Duration) -> WaitOptions {
    WaitOptions {
        idle_timeout: idle,
        poll: quick_poll(5_000),
    }
}

fn run_json(status: &str) -> String {
    run_object("r1", "a1", status, Some("out")).to_string()
}

/// A server for one agent: the stream script, then `GET /agents/runs/r1`
/// answering the given statuses in turn (the last one repeats).
fn run_server(stream: Script, statuses: &[&str]) -> RawServer {
    let statuses: Vec<String> = statuses.iter().map(|s| s.to_string()).collect();
    let polls = Arc::new(AtomicUsize::new(0));
    RawServer::with_handler(move |req| {
        if req.path_and_query.ends_with("/runs/stream") {
            return stream.clone();
        }
        if req.path_and_query.starts_with("/agents/runs/r1") {
            let i = polls
                .fetch_add(1, Ordering::SeqCst)
                .min(statuses.len().saturating_sub(1));
            return Script::json(200, run_json(&statuses[i]));
        }
        Script::json(404, r#"{"detail":"no route"}"#)
    })
}

fn names(items: &[Result<RunEvent>]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Ok(ev) => ev.name().to_string(),
            Err(Error::Stream(StreamError::EndedEarly { .. })) => "<ended early>".into(),
            Err(Error::Stream(StreamError::Malformed { .. })) => "<malformed>".into(),
            Err(Error::Stream(StreamError::LineTooLong { .. })) => "<line too long>".into(),
            Err(Error::Stream(StreamError::IdleTimeout { .. })) => "<idle>".into(),
            Err(e) => format!("<{e}>"),
        })
        .collect()
}

/// Every item of `run_streaming_agent("a1", ..)` against `server`.
fn stream_all<H: Harness>(server: &RawServer) -> Result<Vec<Result<RunEvent>>> {
    H::block(run_stream(&client::<H>(server), "a1").send()).map(H::drain)
}

/// `client.run_streaming_agent_and_wait_with("a1", .., opts)`.
fn stream_and_wait<H: Harness>(server: &RawServer, opts: &WaitOptions) -> Result<AgentRunResponse> {
    let c: H = client(server);
    H::block(c.wait(helpers::stream_and_wait(
        &c,
        "a1".into(),
        &stream_req(),
        opts,
    )))
}

const FULL: [&str; 5] = ["init", "stream_token", "stream_token", "stream_end", "done"];

pub fn a_streamed_run_delivers_every_event_in_order<H: Harness>() {
    let server = RawServer::start(vec![
        SseScript::seclai_run("r1", "a1")
            .comment("keepalive")
            .into_script(),
    ]);
    let items = stream_all::<H>(&server).unwrap();
    assert_eq!(names(&items), FULL);
    let req = &server.requests()[0];
    assert_eq!(req.header("accept"), Some("text/event-stream"));
    assert_eq!(req.path_and_query, "/agents/a1/runs/stream");
    assert!(matches!(&items[1], Ok(RunEvent::StreamToken(token)) if token.text() == "Hel"));
}

pub fn any_chunking_and_line_ending_gives_the_same_events<H: Harness>() {
    let variants = vec![
        SseScript::seclai_run("r1", "a1").split_every(1),
        SseScript::seclai_run("r1", "a1").crlf().split_every(7),
        SseScript::seclai_run("r1", "a1").lone_cr().split_every(3),
        SseScript::seclai_run("r1", "a1")
            .with_bom()
            .comment("ping")
            .split_every(5),
        SseScript::new()
            .event_json("init", &run_object("r1", "a1", "pending", None))
            .multiline_data("stream_token", &["{\"token\":", "\"h\u{e9}\u{e9}\"}"])
            .event_json("done", &run_object("r1", "a1", "completed", Some("\u{e9}")))
            .split_every(2),
    ];
    for (i, script) in variants.into_iter().enumerate() {
        let server = RawServer::start(vec![script.into_script()]);
        let items = stream_all::<H>(&server).unwrap();
        assert!(
            items.iter().all(|i| i.is_ok()),
            "variant {i}: {:?}",
            names(&items)
        );
        assert_eq!(
            items.first().map(|i| i.as_ref().unwrap().name()),
            Some("init"),
            "variant {i}"
        );
        assert_eq!(
            items.last().map(|i| i.as_ref().unwrap().name()),
            Some("done"),
            "variant {i}"
        );
    }
}

pub fn unknown_garbage_and_oversize_lines_do_not_stop_the_stream<H: Harness>() {
    let script = SseScript::new()
        .event_json("init", &run_object("r1", "a1", "pending", None))
        .event("brand_new_event", "{\"x\":1}")
        .garbage(vec![0xff, 0xfe, b'z', b'\n', b'\n'])
        .oversize_line(2 * 1024 * 1024)
        .event("status", "{not json")
        .event_json("done", &run_object("r1", "a1", "completed", None));
    let server = RawServer::start(vec![script.into_script()]);
    let items = stream_all::<H>(&server).unwrap();
    let n = names(&items);
    assert_eq!(n.first().map(String::as_str), Some("init"));
    assert!(n.contains(&"brand_new_event".to_string()), "{n:?}");
    assert!(n.contains(&"<line too long>".to_string()), "{n:?}");
    assert!(n.contains(&"<malformed>".to_string()), "{n:?}");
    assert_eq!(n.last().map(String::as_str), Some("done"), "{n:?}");
}

pub fn a_cut_stream_ends_with_a_typed_error_and_wait_recovers_by_polling<H: Harness>() {
    let script = SseScript::seclai_run("r1", "a1")
        .cut_before_done()
        .into_script();
    let server = RawServer::start(vec![script.clone()]);
    let items = stream_all::<H>(&server).unwrap();
    assert_eq!(
        names(&items).last().map(String::as_str),
        Some("<ended early>")
    );

    let server = run_server(script, &["processing", "completed"]);
    let run = stream_and_wait::<H>(&server, &quick_wait(Duration::from_secs(5))).unwrap();
    assert_eq!(run.status.as_str(), "completed");
    assert!(
        server
            .requests()
            .iter()
            .filter(|r| r.path_and_query.starts_with("/agents/runs/r1"))
            .count()
            >= 2
    );
}

pub fn malformed_done_is_recovered_by_polling<H: Harness>() {
    let script = SseScript::new()
        .event_json("init", &run_object("r1", "a1", "pending", None))
        .event("done", "{\"run_id\": \"r1\", oops")
        .into_script();
    let server = run_server(script, &["completed"]);
    let run = stream_and_wait::<H>(&server, &quick_wait(Duration::from_secs(5))).unwrap();
    assert_eq!(run.run_id, "r1");
}

pub fn an_error_event_then_a_failed_run_is_reported_as_failed<H: Harness>() {
    let script = SseScript::new()
        .event_json("init", &run_object("r1", "a1", "pending", None))
        .event(
            "error",
            "{\"run_id\":\"r1\",\"message\":\"worker crashed\"}",
        )
        .into_script();
    let server = run_server(script, &["failed"]);
    let e = stream_and_wait::<H>(&server, &quick_wait(Duration::from_secs(5))).unwrap_err();
    assert!(
        matches!(e, Error::Stream(StreamError::RunFailed { ref status, .. }) if status == "failed"),
        "{e}"
    );

    let done_failed = SseScript::new()
        .event_json("done", &run_object("r1", "a1", "failed", None))
        .into_script();
    let server = RawServer::start(vec![done_failed]);
    let e = stream_and_wait::<H>(&server, &WaitOptions::default()).unwrap_err();
    assert!(
        matches!(e, Error::Stream(StreamError::RunFailed { .. })),
        "{e}"
    );
}

pub fn a_silent_server_hits_the_idle_timeout_then_polls<H: Harness>() {
    let script = Script::event_stream_then_hang(
        SseScript::new()
            .event_json("init", &run_object("r1", "a1", "pending", None))
            .into_chunks(),
    );
    let server = run_server(script, &["completed"]);
    let started = Instant::now();
    let run = stream_and_wait::<H>(&server, &quick_wait(Duration::from_millis(300))).unwrap();
    assert_eq!(run.status.as_str(), "completed");
    assert!(started.elapsed() < Duration::from_secs(4));
}

pub fn payment_and_validation_errors_are_the_calls_own<H: Harness>() {
    let server = RawServer::start(vec![Script::json(
        402,
        r#"{"detail":"insufficient credits"}"#,
    )]);
    let e = H::block(run_stream(&client::<H>(&server), "a1").send()).unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(402));
    let server = RawServer::start(vec![Script::json(
        422,
        r#"{"detail":[{"loc":["body"],"msg":"bad"}]}"#,
    )]);
    let e = stream_and_wait::<H>(&server, &WaitOptions::default()).unwrap_err();
    assert!(e.is_validation());
}

pub fn a_json_answer_instead_of_a_stream_is_handled<H: Harness>() {
    let server = RawServer::start(vec![Script::json(200, run_json("completed"))]);
    let items = stream_all::<H>(&server).unwrap();
    assert_eq!(names(&items), ["done"]);
    let run = stream_and_wait::<H>(&server, &WaitOptions::default()).unwrap();
    assert_eq!(run.output.as_deref(), Some("out"));
}

pub fn run_and_poll_waits_for_a_terminal_status_and_has_a_deadline<H: Harness>() {
    let server = RawServer::with_handler(|req| {
        if req.method == "POST" {
            Script::json(200, run_json("pending"))
        } else {
            Script::json(200, run_json("processing"))
        }
    });
    let body: AgentRunRequest = serde_json::from_value(serde_json::json!({"input": "hi"})).unwrap();
    let c: H = client(&server);
    let e = H::block(c.wait(helpers::run_and_poll(
        &c,
        "a1".into(),
        &body,
        &quick_poll(200),
    )))
    .unwrap_err();
    match e {
        Error::Stream(StreamError::Deadline {
            run_id,
            last_status,
            ..
        }) => {
            assert_eq!(run_id.as_deref(), Some("r1"));
            assert_eq!(last_status.as_deref(), Some("processing"));
        }
        other => panic!("expected a deadline, got {other:?}"),
    }
    let server = run_server(Script::json(404, "{}"), &["processing", "canceled"]);
    let c: H = client(&server);
    let e =
        H::block(c.wait(helpers::wait_for_run(&c, "r1".into(), &quick_poll(5_000)))).unwrap_err();
    assert!(
        matches!(e, Error::Stream(StreamError::RunFailed { ref status, .. }) if status == "canceled"),
        "{e}"
    );
}

pub fn waiting_for_an_input_upload<H: Harness>() {
    let n = Arc::new(AtomicUsize::new(0));
    let server = RawServer::with_handler(move |_| {
        let status = if n.fetch_add(1, Ordering::SeqCst) < 2 {
            "processing"
        } else {
            "ready"
        };
        Script::json(
            200,
            format!(
                r#"{{"id":"u1","status":"{status}","content_type":"text/plain","file_size":3,"filename":"a.txt"}}"#
            ),
        )
    });
    let c: H = client(&server);
    let up = H::block(c.wait(helpers::wait_for_upload(
        &c,
        "a1".into(),
        "u1".into(),
        &quick_poll(5_000),
    )))
    .unwrap();
    assert_eq!(up.status, "ready");
    assert_eq!(server.hits(), 3);
    assert_eq!(
        server.requests()[0].path_and_query,
        "/agents/a1/input-uploads/u1"
    );
}

pub fn final_run_drains_to_done<H: Harness>() {
    let server = RawServer::start(vec![SseScript::seclai_run("r1", "a1").into_script()]);
    let run = H::block(run_stream(&client::<H>(&server), "a1").send())
        .and_then(H::final_run)
        .unwrap();
    assert_eq!(run.output.as_deref(), Some("Hello"));
}
