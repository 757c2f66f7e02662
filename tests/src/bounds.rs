//! Every call kind takes the same options, and ends within its bound
//! whatever the server does: generic functions, run against both clients
//! through [`Harness`] (see `tests/tests/bounds.rs`).

use crate::harness::{Harness, Opts};
use seclai_core::call::Call;
use seclai_core::multipart::Upload;
use seclai_core::{Error, StreamError, TransportKind};
use seclai_gen::ops;
use seclai_gen::types::AgentRunStreamRequest;
use seclai_testkit::hostile::{Hostile, HostileServer};
use seclai_testkit::raw::{RawServer, Script};
use std::time::{Duration, Instant};

fn stream_req() -> AgentRunStreamRequest {
    serde_json::from_value(serde_json::json!({"input": "hi"})).expect("valid request")
}

fn client<H: Harness>(url: String, f: impl FnOnce(&mut Opts)) -> H {
    let mut o = Opts::new(url);
    f(&mut o);
    H::build(&o)
}

fn sse(events: &[(&str, &str)]) -> Vec<u8> {
    events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect::<String>()
        .into_bytes()
}

fn run_obj(status: &str) -> String {
    serde_json::json!({"run_id": "r1", "agent_id": "a1", "status": status, "error_count": 0,
        "priority": true, "attempts": [], "output": "out"})
    .to_string()
}

fn stream_script(events: &[(&str, &str)]) -> Script {
    Script::response(200, &[("content-type", "text/event-stream")], sse(events))
}

/// The per-call options that every kind shares reach the wire.
fn options_of<H: Harness, T, K>(call: Call<H, T, K>) -> Call<H, T, K> {
    call.header("x-trace", "svc-1")
        .api_version(
            seclai_gen::KNOWN_VERSIONS
                .first()
                .copied()
                .unwrap_or("2026-01-01"),
        )
        .extra_query("beta", "yes")
        .timeout(Duration::from_secs(5))
        .deadline(Duration::from_secs(10))
        .max_retries(0)
}

fn assert_options_on_the_wire(server: &RawServer, what: &str) {
    let reqs = server.requests();
    let req = reqs.last().unwrap_or_else(|| panic!("{what}: no request"));
    assert_eq!(req.header("x-trace"), Some("svc-1"), "{what}: header");
    assert_eq!(
        req.header("seclai-version"),
        Some(
            seclai_gen::KNOWN_VERSIONS
                .first()
                .copied()
                .unwrap_or("2026-01-01")
        ),
        "{what}: api version"
    );
    assert!(
        req.query().is_some_and(|q| q.contains("beta=yes")),
        "{what}: extra query in {:?}",
        req.path_and_query
    );
}

/// JSON, stream, upload, download and raw calls all carry the options.
pub fn every_kind_takes_the_same_options<H: Harness>() {
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let c: H = client(server.url(), |_| {});
    H::block(options_of(Call::new(c.clone(), ops::GetUnreadModelAlertCount::new())).send())
        .unwrap();
    assert_options_on_the_wire(&server, "json");

    let server = RawServer::start(vec![stream_script(&[("done", &run_obj("completed"))])]);
    let c: H = client(server.url(), |_| {});
    let call = Call::new(c, ops::RunStreamingAgent::new("a1", stream_req())).into_events();
    let events =
        H::drain(H::block(options_of(call).idle_timeout(Duration::from_secs(3)).send()).unwrap());
    assert_eq!(events.len(), 1);
    assert_options_on_the_wire(&server, "stream");

    let server = RawServer::start(vec![Script::json(
        200,
        r#"{"filename":"a.txt","status":"processing","source_connection_content_version":"v1","content_version_id":"v1"}"#,
    )]);
    let c: H = client(server.url(), |_| {});
    let up = Upload::bytes("a.txt", b"abc".to_vec());
    let call = Call::new(c, ops::UploadFileToSource::new("s1")).with_upload(up);
    H::block(options_of(call).send()).unwrap();
    assert_options_on_the_wire(&server, "upload");

    let server = RawServer::start(vec![Script::response(
        200,
        &[("content-type", "application/zip")],
        b"PK".to_vec(),
    )]);
    let c: H = client(server.url(), |_| {});
    let call = Call::new(c, ops::DownloadSourceExport::new("s", "e")).into_download();
    let body =
        H::body(H::block(options_of(call).idle_timeout(Duration::from_secs(3)).send()).unwrap())
            .unwrap();
    assert_eq!(&body[..], b"PK");
    assert_options_on_the_wire(&server, "download");

    let server = RawServer::start(vec![Script::json(200, "{}")]);
    let c: H = client(server.url(), |_| {});
    let raw = seclai_core::raw::RawRequest::new(http::Method::GET, "/x".into());
    H::block(options_of(Call::new(c, raw)).send()).unwrap();
    assert_options_on_the_wire(&server, "raw");
}

/// Fields newer than the SDK's types are merged into JSON bodies (stream
/// requests included) and win over typed fields; a non-object is refused
/// before anything is sent.
pub fn extra_body_fields_are_merged<H: Harness>() {
    let server = RawServer::start(vec![stream_script(&[("done", &run_obj("completed"))])]);
    let c: H = client(server.url(), |_| {});
    let call = Call::new(c.clone(), ops::RunStreamingAgent::new("a1", stream_req()))
        .into_events()
        .extra_body(serde_json::json!({"include_reasoning": true, "input": "override"}));
    H::drain(H::block(call.send()).unwrap());
    let body: serde_json::Value = serde_json::from_str(&server.requests()[0].body_text()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"include_reasoning": true, "input": "override"})
    );

    let call =
        Call::new(c, ops::GetUnreadModelAlertCount::new()).extra_body(serde_json::json!([1]));
    assert!(matches!(
        H::block(call.send()),
        Err(Error::InvalidRequest(_))
    ));
    assert_eq!(server.hits(), 1, "nothing sent for the refused call");
}

/// `send_json` keeps every field; `send_with_meta` has the request id.
pub fn raw_json_and_metadata_of_typed_calls<H: Harness>() {
    let server = RawServer::start(vec![Script::response(
        200,
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req-7"),
        ],
        br#"{"count": 2, "brand_new": [1]}"#.to_vec(),
    )]);
    let c: H = client(server.url(), |_| {});
    let v =
        H::block(Call::new(c.clone(), ops::GetUnreadModelAlertCount::new()).send_json()).unwrap();
    assert_eq!(v["brand_new"], serde_json::json!([1]));
    let meta =
        H::block(Call::new(c, ops::GetUnreadModelAlertCount::new()).send_with_meta()).unwrap();
    assert_eq!(meta.request_id.as_deref(), Some("req-7"));
    assert_eq!(meta.value.count, 2);
}

/// Framing headers and CR/LF are refused on every kind, before sending.
pub fn reserved_and_broken_headers_are_refused_before_sending<H: Harness>() {
    let server = RawServer::start(vec![Script::json(200, "{}")]);
    let c: H = client(server.url(), |_| {});
    for (name, value) in [
        ("content-length", "1"),
        ("host", "evil"),
        ("x-a", "1\r\nx-b: 2"),
    ] {
        let json = Call::new(c.clone(), ops::GetUnreadModelAlertCount::new()).header(name, value);
        assert!(
            matches!(H::block(json.send()), Err(Error::InvalidRequest(_))),
            "{name}"
        );
        let stream = Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
            .into_events()
            .header(name, value);
        assert!(
            matches!(H::block(stream.send()), Err(Error::InvalidRequest(_))),
            "{name}"
        );
        let up = Call::new(c.clone(), ops::UploadFileToSource::new("s"))
            .with_upload(Upload::bytes("a", b"a".to_vec()))
            .header(name, value);
        assert!(
            matches!(H::block(up.send()), Err(Error::InvalidRequest(_))),
            "{name}"
        );
        let down = Call::new(c.clone(), ops::DownloadSourceExport::new("s", "e"))
            .into_download()
            .header(name, value);
        assert!(
            matches!(H::block(down.send()), Err(Error::InvalidRequest(_))),
            "{name}"
        );
    }
    assert_eq!(server.hits(), 0);
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

fn is_deadline(e: &Error, set: Duration) -> bool {
    matches!(e, Error::Deadline { deadline, .. } if *deadline == set)
}

/// A deadline shorter than the first attempt ends every kind on time, with
/// the deadline's own error, against a server that never answers.
pub fn a_deadline_ends_every_kind_against_a_silent_server<H: Harness>() {
    let server = HostileServer::start(Hostile::Silent);
    let c: H = client(server.url(), |o| o.max_retries = Some(3));
    let d = Duration::from_millis(300);
    let bound = Duration::from_millis(1500);
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::GetUnreadModelAlertCount::new())
                .deadline(d)
                .send(),
        )
    });
    assert!(
        is_deadline(&r.unwrap_err(), d) && took < bound,
        "json took {took:?}"
    );
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
                .into_events()
                .deadline(d)
                .send(),
        )
    });
    assert!(
        is_deadline(&r.unwrap_err(), d) && took < bound,
        "stream took {took:?}"
    );
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::DownloadSourceExport::new("s", "e"))
                .into_download()
                .deadline(d)
                .send(),
        )
    });
    assert!(
        is_deadline(&r.unwrap_err(), d) && took < bound,
        "download took {took:?}"
    );
    let up = Upload::bytes("a.bin", vec![0u8; 8 * 1024 * 1024]);
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::UploadFileToSource::new("s"))
                .with_upload(up)
                .deadline(d)
                .send(),
        )
    });
    assert!(
        r.is_err() && took < bound,
        "upload to a sink that never reads took {took:?}: {r:?}"
    );
}

/// Without a deadline, the read timeout bounds the wait for a response
/// head on every kind (the async client used to wait forever).
pub fn the_read_timeout_bounds_every_head<H: Harness>() {
    let server = HostileServer::start(Hostile::Silent);
    let c: H = client(server.url(), |o| {
        o.read_timeout = Some(Duration::from_millis(400))
    });
    let bound = Duration::from_millis(2500);
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
                .into_events()
                .send(),
        )
    });
    assert!(
        matches!(r.unwrap_err(), Error::Transport(e) if e.kind == TransportKind::Timeout),
        "stream"
    );
    assert!(took < bound, "stream took {took:?}");
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::DownloadSourceExport::new("s", "e"))
                .into_download()
                .send(),
        )
    });
    assert!(r.is_err() && took < bound, "download took {took:?}");
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::UploadFileToSource::new("s"))
                .with_upload(Upload::bytes("a", b"abc".to_vec()))
                .send(),
        )
    });
    assert!(r.is_err() && took < bound, "upload took {took:?}");
}

/// An upload to a server that never reads it ends once no progress was
/// made for the read timeout (no deadline set).
pub fn an_upload_nobody_reads_ends_on_the_idle_bound<H: Harness>() {
    let server = HostileServer::start(Hostile::Silent);
    let c: H = client(server.url(), |o| {
        o.read_timeout = Some(Duration::from_millis(400))
    });
    let up = Upload::bytes("big.bin", vec![7u8; 32 * 1024 * 1024]);
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::UploadFileToSource::new("s"))
                .with_upload(up)
                .send(),
        )
    });
    assert!(r.is_err(), "{r:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// An error head whose body never comes ends within the read timeout as
/// the API error it is.
pub fn an_error_head_with_a_stalled_body_is_still_an_api_error<H: Harness>() {
    let server = HostileServer::start(Hostile::HeadThenStall {
        status: 400,
        content_type: "application/json",
    });
    let c: H = client(server.url(), |o| {
        o.read_timeout = Some(Duration::from_millis(400))
    });
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
                .into_events()
                .send(),
        )
    });
    let e = r.unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e:?}");
    assert_eq!(e.request_id(), Some("hostile-1"));
    assert!(took < Duration::from_millis(2500), "took {took:?}");
}

/// A JSON answer on the stream endpoint that stalls ends within the idle
/// timeout; one that trickles ends within the read timeout.
pub fn a_stalled_or_trickled_json_answer_ends_in_time<H: Harness>() {
    let server = HostileServer::start(Hostile::HeadThenStall {
        status: 200,
        content_type: "application/json",
    });
    let c: H = client(server.url(), |o| {
        o.read_timeout = Some(Duration::from_millis(400))
    });
    let (r, took) = timed(|| {
        let s = H::block(
            Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
                .into_events()
                .send(),
        );
        s.map(H::drain)
    });
    let items = r.unwrap();
    assert!(items.last().is_some_and(Result::is_err), "{items:?}");
    assert!(took < Duration::from_millis(2500), "took {took:?}");

    let server = HostileServer::start(Hostile::Trickle {
        content_type: "application/json",
        every: Duration::from_millis(50),
    });
    let c: H = client(server.url(), |o| {
        o.read_timeout = Some(Duration::from_millis(400))
    });
    let (r, took) = timed(|| {
        H::block(
            Call::new(c.clone(), ops::GetUnreadModelAlertCount::new())
                .timeout(Duration::from_millis(500))
                .send(),
        )
    });
    assert!(matches!(r.unwrap_err(), Error::Transport(e) if e.kind == TransportKind::Timeout));
    assert!(took < Duration::from_millis(2500), "trickle took {took:?}");
}

/// An endless JSON answer stops at the size limit with a typed error,
/// without reading on.
pub fn an_endless_json_answer_stops_at_the_limit<H: Harness>() {
    let server = HostileServer::start(Hostile::Endless {
        content_type: "application/json",
        prefix: b"[",
        pattern: b"0,",
    });
    let c: H = client(server.url(), |o| o.max_response_bytes = Some(256 * 1024));
    let e =
        H::block(Call::new(c.clone(), ops::GetUnreadModelAlertCount::new()).send()).unwrap_err();
    assert!(
        matches!(&e, Error::Transport(t) if t.kind == TransportKind::TooLarge),
        "{e:?}"
    );
    let raw = seclai_core::raw::RawRequest::new(http::Method::GET, "/x".into());
    let e = H::block(Call::new(c, raw).send()).unwrap_err();
    assert!(
        matches!(&e, Error::Transport(t) if t.kind == TransportKind::TooLarge),
        "{e:?}"
    );
    // The socket buffers let the server run ahead a little, not gigabytes.
    assert!(
        server.bytes_sent() < 64 * 1024 * 1024,
        "{} bytes sent",
        server.bytes_sent()
    );
}

/// An event that never ends (`data:` lines without a blank line) is cut at
/// the per-event cap with a typed error instead of growing without bound;
/// the deadline then ends the stream.
pub fn an_endless_event_is_cut_at_its_cap<H: Harness>() {
    let server = HostileServer::start(Hostile::Endless {
        content_type: "text/event-stream",
        prefix: b"event: stream_token\n",
        pattern: b"data: 0123456789abcdef0123456789abcdef\n",
    });
    let c: H = client(server.url(), |_| {});
    let d = Duration::from_millis(1500);
    let (items, took) = timed(|| {
        let call = Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
            .into_events()
            .deadline(d);
        H::drain(H::block(call.send()).unwrap())
    });
    assert!(
        items
            .iter()
            .any(|i| matches!(i, Err(Error::Stream(StreamError::EventTooLarge { .. })))),
        "{:?}",
        items.first()
    );
    assert!(
        matches!(items.last(), Some(Err(e)) if is_deadline(e, d)),
        "{:?}",
        items.last()
    );
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

/// Keep-alive comments cannot stretch a stream past its deadline.
pub fn keepalives_do_not_stretch_a_deadline<H: Harness>() {
    let server = HostileServer::start(Hostile::KeepAlive {
        every: Duration::from_millis(100),
    });
    let c: H = client(server.url(), |_| {});
    let d = Duration::from_millis(700);
    let (items, took) = timed(|| {
        let call = Call::new(c.clone(), ops::RunStreamingAgent::new("a", stream_req()))
            .into_events()
            .deadline(d)
            .idle_timeout(Duration::from_secs(2));
        H::drain(H::block(call.send()).unwrap())
    });
    assert!(
        matches!(items.last(), Some(Err(e)) if is_deadline(e, d)),
        "{items:?}"
    );
    assert!(took < Duration::from_millis(2000), "took {took:?}");
}

/// A server `error` event is an `Err` carrying the run id; a stream cut
/// before `done` is `EndedEarly`.
pub fn error_events_and_cut_streams_are_errors<H: Harness>() {
    let init = run_obj("running");
    let server = RawServer::start(vec![stream_script(&[
        ("init", &init),
        ("error", r#"{"message": "model unavailable"}"#),
    ])]);
    let c: H = client(server.url(), |_| {});
    let call = Call::new(c, ops::RunStreamingAgent::new("a", stream_req())).into_events();
    let items = H::drain(H::block(call.send()).unwrap());
    match items.last() {
        Some(Err(Error::Stream(StreamError::ServerError {
            run_id, message, ..
        }))) => {
            assert_eq!(run_id.as_deref(), Some("r1"));
            assert_eq!(message, "model unavailable");
        }
        other => panic!("expected a server error, got {other:?}"),
    }

    let server = RawServer::start(vec![
        Script::new()
            .write(seclai_testkit::raw::head(
                200,
                &[
                    ("content-type", "text/event-stream"),
                    ("content-length", "100000"),
                ],
            ))
            .write(sse(&[("init", &init)]))
            .then_close(),
    ]);
    let c: H = client(server.url(), |_| {});
    let call = Call::new(c, ops::RunStreamingAgent::new("a", stream_req())).into_events();
    let items = H::drain(H::block(call.send()).unwrap());
    assert!(
        matches!(items.last(), Some(Err(Error::Stream(StreamError::EndedEarly { run_id: Some(id) }))) if id == "r1"),
        "{items:?}"
    );
}

/// A `Retry-After` too large to represent counts as longer than the cap:
/// no retry, and the error reports it.
pub fn an_enormous_retry_after_is_not_waited_for<H: Harness>() {
    for value in ["99999999999999999999999", "1e300", "inf"] {
        let server = RawServer::start(vec![Script::response(
            429,
            &[("retry-after", value)],
            b"{}".to_vec(),
        )]);
        let c: H = client(server.url(), |o| o.max_retries = Some(3));
        let e = H::block(Call::new(c, ops::GetUnreadModelAlertCount::new()).send()).unwrap_err();
        assert_eq!(server.hits(), 1, "{value}: no retry");
        assert!(
            e.retry_after()
                .is_some_and(|d| d >= Duration::from_secs(60)),
            "{value}: {:?}",
            e.retry_after()
        );
    }
}
