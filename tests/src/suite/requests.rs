//! What a call sends, how answers and errors read, and what the builder
//! accepts.

use super::{UNREAD, client, client_with, ok_json, opts, raw, unread};
use crate::harness::{Harness, Opts};
use seclai_core::call::Call;
use seclai_core::multipart::Upload;
use seclai_core::webhook::{WebhookEvent, WebhookEventKind};
use seclai_core::{Error, TransportKind};
use seclai_gen::ops;
use seclai_testkit::raw::{RawServer, Script};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn known_version() -> &'static str {
    seclai_gen::KNOWN_VERSIONS
        .last()
        .copied()
        .expect("the spec declares versions")
}

pub fn api_key_version_and_user_agent_are_sent<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let n = H::block(unread(&client::<H>(&server)).send()).unwrap();
    assert_eq!(n.count, 3);
    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.path_and_query, "/models/alerts/unread-count");
    assert_eq!(req.header("x-api-key"), Some("sk-test-123"));
    assert_eq!(req.header("seclai-version"), seclai_gen::DEFAULT_VERSION);
    assert!(req.header("user-agent").unwrap().starts_with("seclai-rs/"));
    assert!(req.header("authorization").is_none());
    assert!(req.header("x-account-id").is_none());
}

pub fn bearer_token_sends_account_id_and_api_key_does_not<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let c: H = client_with(&server, |o| {
        o.api_key = None;
        o.access_token = Some("tok-1".into());
        o.account_id = Some("acct-9".into());
    });
    H::block(unread(&c).send()).unwrap();
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.account_id = Some("acct-9".into());
    });
    H::block(unread(&c).send()).unwrap();
    let reqs = server.requests();
    assert_eq!(reqs[0].header("authorization"), Some("Bearer tok-1"));
    assert_eq!(reqs[0].header("x-account-id"), Some("acct-9"));
    assert_eq!(reqs[1].header("x-api-key"), Some("k"));
    assert!(reqs[1].header("x-account-id").is_none());
}

pub fn custom_api_key_header<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.api_key_header = Some("x-other-key".into());
    });
    H::block(unread(&c).send()).unwrap();
    assert_eq!(server.requests()[0].header("x-other-key"), Some("k"));
    assert!(server.requests()[0].header("x-api-key").is_none());
}

pub fn token_provider_is_called_per_request<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let c: H = client_with(&server, |o| {
        o.api_key = None;
        o.token_provider = Some(Arc::new(move || {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(format!("tok-{n}"))
        }));
    });
    H::block(unread(&c).send()).unwrap();
    H::block(unread(&c).send()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let reqs = server.requests();
    assert_eq!(reqs[0].header("authorization"), Some("Bearer tok-0"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer tok-1"));
}

pub fn credential_rules<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let e = H::try_build(&opts(&server, |o| {
        o.api_key = Some("k".into());
        o.access_token = Some("t".into());
    }))
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let e = H::try_build(&opts(&server, |o| o.api_key = None)).unwrap_err();
    assert!(
        matches!(e, Error::Config(ref m) if m.contains("SECLAI_API_KEY")),
        "{e}"
    );
    let e = H::try_build(&opts(&server, |o| o.api_key = Some(String::new()))).unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert_eq!(server.hits(), 0);
}

pub fn version_header_pinned_omitted_and_guarded<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let known = known_version();
    let keyed = |f: &dyn Fn(&mut Opts)| {
        opts(&server, |o| {
            o.api_key = Some("k".into());
            f(o);
        })
    };
    let c = H::build(&keyed(&|o| o.api_version = Some(known.into())));
    H::block(unread(&c).send()).unwrap();
    let c = H::build(&keyed(&|o| o.omit_api_version = true));
    H::block(unread(&c).send()).unwrap();
    let c = H::build(&keyed(&|o| {
        o.api_version = Some("2001-01-01".into());
        o.allow_unknown_versions = true;
    }));
    H::block(unread(&c).send()).unwrap();
    let reqs = server.requests();
    assert_eq!(reqs[0].header("seclai-version"), Some(known));
    assert!(reqs[1].header("seclai-version").is_none());
    assert_eq!(reqs[2].header("seclai-version"), Some("2001-01-01"));

    let e = H::try_build(&keyed(&|o| o.api_version = Some("2001-01-01".into()))).unwrap_err();
    assert!(
        matches!(e, Error::Config(ref m) if m.contains("2001-01-01")),
        "{e}"
    );
    let e = H::try_build(&keyed(&|o| {
        o.default_headers = vec![("Seclai-Version".into(), "2001-01-01".into())]
    }))
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    let c: H = client(&server);
    let e = H::block(unread(&c).api_version("2001-01-01").send()).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    let e = H::block(unread(&c).header("seclai-version", "2001-01-01").send()).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    H::block(unread(&c).api_version(known).send()).unwrap();
    assert_eq!(
        server.requests().last().unwrap().header("seclai-version"),
        Some(known)
    );
    assert_eq!(server.hits(), 4);
}

pub fn error_bodies_of_every_shape<H: Harness>() {
    let server = RawServer::start(vec![
        Script::json(404, r#"{"detail":"Agent not found"}"#),
        Script::json(
            422,
            r#"{"detail":[{"loc":["body","name"],"msg":"field required","type":"missing"}]}"#,
        ),
        Script::json(
            409,
            r#"{"error":{"code":"CONFLICT","message":"already exists"}}"#,
        ),
        Script::json(
            400,
            r#"{"detail":{"error":{"code":"BAD","message":"nested"}}}"#,
        ),
        Script::response(
            502,
            &[("content-type", "text/html")],
            "<html>bad gateway</html>",
        ),
        Script::response(401, &[("x-request-id", "req-77")], ""),
    ]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.max_retries = Some(0);
    });
    let mut errs = Vec::new();
    for _ in 0..6 {
        errs.push(H::block(Call::new(c.clone(), ops::GetAgent::new("a")).send()).unwrap_err());
    }
    assert!(errs[0].is_not_found());
    assert_eq!(errs[0].as_api().unwrap().message, "Agent not found");
    assert!(errs[1].is_validation());
    assert!(
        errs[1].as_api().unwrap().message.contains("field required"),
        "{}",
        errs[1]
    );
    assert_eq!(errs[2].code(), Some("CONFLICT"));
    assert_eq!(errs[2].as_api().unwrap().message, "already exists");
    assert_eq!(errs[3].code(), Some("BAD"));
    assert!(errs[4].as_api().unwrap().body.contains("bad gateway"));
    assert_eq!(errs[4].status().map(|s| s.as_u16()), Some(502));
    assert_eq!(errs[5].request_id(), Some("req-77"));
    assert_eq!(errs[5].status().map(|s| s.as_u16()), Some(401));
}

pub fn decode_errors_name_the_path<H: Harness>() {
    let server = RawServer::start(vec![ok_json(r#"{"count": "three"}"#), ok_json("not json")]);
    let c: H = client(&server);
    let e = H::block(unread(&c).send()).unwrap_err();
    match &e {
        Error::Decode(d) => assert!(d.path.contains("count"), "{d:?}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
    let e = H::block(unread(&c).send()).unwrap_err();
    assert!(matches!(e, Error::Decode(_)), "{e:?}");
}

pub fn path_segments_arrive_intact<H: Harness>() {
    let server = RawServer::start(vec![Script::json(404, "{}")]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.max_retries = Some(0);
    });
    let get_agent = |id: &str| H::block(Call::new(c.clone(), ops::GetAgent::new(id)).send());
    let _ = get_agent("a/b?c#d..e%f g\u{e9}");
    assert_eq!(
        server.requests()[0].path_and_query,
        "/agents/a%2Fb%3Fc%23d..e%25f%20g%C3%A9"
    );
    for bad in ["", ".", ".."] {
        let e = get_agent(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{bad:?}: {e}");
    }
    assert_eq!(server.hits(), 1, "rejected ids never reach the server");
}

pub fn query_parameters_and_base_prefix<H: Harness>() {
    let server = RawServer::start(vec![Script::json(404, "{}")]);
    let mut o = Opts::library(format!("{}/prefix/", server.url()));
    o.api_key = Some("k".into());
    o.max_retries = Some(0);
    let c = H::build(&o);
    let _ = H::block(
        Call::new(c.clone(), ops::ListAgents::new())
            .page(2)
            .limit(5)
            .send(),
    );
    let _ = H::block(
        raw(&c, http::Method::GET, "/things")
            .query("tag", "a b")
            .query("tag", "c&d")
            .send(),
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].path_and_query, "/prefix/agents?page=2&limit=5");
    assert_eq!(reqs[1].path_and_query, "/prefix/things?tag=a%20b&tag=c%26d");
}

/// An integer input takes any integer type (here a `usize`); one out of
/// the spec's range is refused before anything is sent.
pub fn integer_inputs_take_any_integer_and_are_range_checked<H: Harness>() {
    let page = r#"{"data": [], "pagination": {"page": 1, "limit": 50, "pages": 0, "total": 0, "has_next": false, "has_prev": false}}"#;
    let server = RawServer::start(vec![Script::json(200, page), Script::json(200, page)]);
    let c: H = client(&server);
    let n: usize = 50;
    H::block(Call::new(c.clone(), ops::ListAgents::new()).limit(n).send())
        .expect("an in-range usize limit is sent");
    assert_eq!(server.hits(), 1);
    assert_eq!(server.requests()[0].query(), Some("limit=50"));

    let err = H::block(
        Call::new(c.clone(), ops::ListAgents::new())
            .limit(500usize)
            .send(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("`limit`") && m.contains("between 1 and 100")),
        "{err:?}"
    );
    assert_eq!(server.hits(), 1, "nothing was sent for the bad limit");
}

pub fn raw_request_answers<H: Harness>() {
    let server = RawServer::start(vec![
        ok_json(r#"{"a":1}"#),
        Script::response(200, &[("content-type", "text/plain")], "hello"),
        Script::response(204, &[], ""),
    ]);
    let c: H = client(&server);
    let v = H::block(
        raw(&c, http::Method::POST, "/x")
            .json(&serde_json::json!({"k": "v"}))
            .send(),
    )
    .unwrap();
    assert_eq!(v, serde_json::json!({"a": 1}));
    assert_eq!(
        H::block(raw(&c, http::Method::GET, "/y").send()).unwrap(),
        serde_json::json!("hello")
    );
    assert_eq!(
        H::block(raw(&c, http::Method::DELETE, "/z").send()).unwrap(),
        serde_json::Value::Null
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].body, br#"{"k":"v"}"#);
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
}

pub fn metadata_comes_with_the_value<H: Harness>() {
    let server = RawServer::start(vec![Script::response(
        200,
        &[
            ("content-type", "application/json"),
            ("x-request-id", "rid-1"),
            ("x-ratelimit-limit", "100"),
            ("x-ratelimit-remaining", "99"),
            ("x-ratelimit-reset", "30"),
        ],
        UNREAD,
    )]);
    let r = H::block(unread(&client::<H>(&server)).send_with_meta()).unwrap();
    assert_eq!(r.value.count, 3);
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.request_id.as_deref(), Some("rid-1"));
    let rl = r.rate_limit.unwrap();
    assert_eq!(
        (rl.limit, rl.remaining, rl.reset),
        (Some(100), Some(99), Some(30))
    );
}

/// `client.update_api_version(version)`.
fn update_api_version<H: Harness>(
    c: &H,
    version: Option<&str>,
) -> seclai_core::Result<seclai_gen::types::ApiVersionResponse> {
    let m = seclai_core::helpers::update_version(c, version);
    H::block(c.run(m, |a| a.decode().map(seclai_core::Response::into_value)))
}

pub fn update_api_version_pins_clears_and_guards<H: Harness>() {
    let server = RawServer::start(vec![Script::json(404, "{}")]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.max_retries = Some(0);
    });
    let _ = update_api_version(&c, None);
    let known = known_version();
    let _ = update_api_version(&c, Some(known));
    let e = update_api_version(&c, Some("2001-01-01")).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "the unknown version never left the client");
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path_and_query.as_str()),
        ("PUT", "/version")
    );
    assert_eq!(
        String::from_utf8_lossy(&reqs[0].body),
        r#"{"version":null}"#
    );
    assert_eq!(
        String::from_utf8_lossy(&reqs[1].body),
        format!(r#"{{"version":"{known}"}}"#)
    );
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
}

pub fn one_span_per_call_with_its_outcome<H: Harness>() {
    let server = RawServer::start(vec![
        Script::response(503, &[("content-type", "application/json")], "{}"),
        Script::response(
            200,
            &[
                ("content-type", "application/json"),
                ("x-request-id", "rid-7"),
            ],
            UNREAD,
        ),
    ]);
    let c: H = client(&server);
    let recorder = crate::spans::SpanRecorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        H::block(unread(&c).send()).unwrap();
    });
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let f = &calls[0];
    assert_eq!(f["operation"], "get_unread_model_alert_count");
    assert_eq!(f["method"], "GET");
    assert_eq!(f["status"], "200");
    assert_eq!(f["attempts"], "2");
    assert_eq!(f["request_id"], "rid-7");
    assert!(f.contains_key("elapsed_ms"), "{f:?}");
    assert!(!format!("{calls:?}").contains("sk-test-123"));

    // Calls whose answers stream have their span too.
    let server = RawServer::start(vec![
        Script::response(200, &[("content-type", "application/zip")], "zip"),
        Script::json(200, r#"{"filename":"a.txt","status":"processing"}"#),
    ]);
    let c: H = client(&server);
    let recorder = crate::spans::SpanRecorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        H::block(
            Call::new(c.clone(), ops::DownloadSourceExport::new("s", "e"))
                .into_download()
                .send(),
        )
        .unwrap();
        H::block(
            Call::new(c.clone(), ops::UploadFileToSource::new("s"))
                .with_upload(Upload::bytes("a.txt", b"a".to_vec()))
                .send(),
        )
        .unwrap();
    });
    let calls = recorder.calls();
    let seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|f| (f["operation"].as_str(), f["status"].as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("download_source_export", "200"),
            ("upload_file_to_source", "200")
        ]
    );
}

pub fn header_injection_is_refused_before_sending<H: Harness>() {
    let server = RawServer::start(vec![ok_json(UNREAD)]);
    let c: H = client(&server);
    let e = H::block(unread(&c).header("x-note", "a\r\nx-evil: 1").send()).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    let e = H::try_build(&opts(&server, |o| {
        o.api_key = Some("k".into());
        o.default_headers = vec![("x-note".into(), "a\nb".into())];
    }))
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert_eq!(server.hits(), 0);
}

pub fn a_failed_tls_handshake_is_a_tls_error_and_is_not_retried<H: Harness>() {
    // A peer that answers the ClientHello with plain HTTP: the
    // handshake fails the same way every time, so retrying is waste.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let mut conn = conn;
            let _ = std::io::Write::write_all(
                &mut conn,
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
            );
        }
    });
    let c = H::build(&Opts::library(url));
    let e = H::block(unread(&c).send()).unwrap_err();
    assert!(
        matches!(e, Error::Transport(ref t) if t.kind == TransportKind::Tls),
        "{e:?}"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "no retry of a TLS failure"
    );
    assert!(!format!("{e} {e:?}").contains("sk-test-123"));
}

pub fn malformed_base_urls_are_config_errors<H: Harness>() {
    for bad in ["", "not a url", "ftp://x", "http://"] {
        let mut o = Opts::library(bad.into());
        o.api_key = Some("k".into());
        let e = H::try_build(&o).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{bad:?}: {e}");
    }
}

pub fn secrets_never_printed<H: Harness>() {
    let server = RawServer::start(vec![Script::json(401, r#"{"detail":"bad key"}"#)]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("sk-very-secret".into());
        o.max_retries = Some(0);
    });
    let e = H::block(unread(&c).send()).unwrap_err();
    for text in [
        format!("{c:?}"),
        format!("{:?}", c.config()),
        format!("{e:?}"),
        e.to_string(),
    ] {
        assert!(!text.contains("sk-very-secret"), "{text}");
    }
    let c: H = client_with(&server, |o| {
        o.api_key = None;
        o.access_token = Some("tok-very-secret".into());
    });
    assert!(!format!("{c:?}").contains("tok-very-secret"));
    let e = H::try_build(&opts(&server, |o| {
        o.api_key = Some("sk-very-secret\n".into())
    }))
    .unwrap_err();
    assert!(!e.to_string().contains("sk-very-secret"));
}

pub fn webhook_payloads_parse_and_keep_unknowns<H: Harness>() {
    let ev = WebhookEvent::parse(br#"{"event":"agent.run.completed","data":{"run_id":"r1","agent_id":"a1","status":"completed","extra":1},"sent_at":"t"}"#).unwrap();
    assert_eq!(ev.event, WebhookEventKind::AgentRunCompleted);
    assert_eq!(ev.run_id(), Some("r1"));
    assert!(ev.extra.contains_key("sent_at"));
    let ev = WebhookEvent::parse(br#"{"event":"agent.run.exploded","data":{}}"#).unwrap();
    assert!(matches!(ev.event, WebhookEventKind::Unknown(ref s) if s == "agent.run.exploded"));
    assert!(matches!(
        WebhookEvent::parse(b"not json"),
        Err(Error::Decode(_))
    ));
    assert!(matches!(
        WebhookEvent::parse(br#"{"data":{}}"#),
        Err(Error::Decode(_))
    ));
}
