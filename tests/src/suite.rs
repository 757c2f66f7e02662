//! The behaviour suite, written once and instantiated for each client.
//!
//! An instantiation provides the client crate and two macros, `send!(call)`
//! and `send_meta!(call)`, that run a call to completion (awaiting it on a
//! runtime for the async client, calling `.send()` for the blocking one).

/// Expand the whole suite for one client crate.
#[macro_export]
macro_rules! behaviour_suite {
    ($krate:ident) => {
        use $krate::{Client, Error, ops, types};
        use seclai_testkit::raw::{RawServer, Script};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::Duration;

        const UNREAD: &str = r#"{"count": 3}"#;

        fn fast_retries() -> $krate::RetryPolicy {
            let mut p = $krate::RetryPolicy::default();
            p.base_delay = Duration::from_millis(5);
            p.max_delay = Duration::from_millis(20);
            p
        }

        fn builder(server: &RawServer) -> $krate::ClientBuilder {
            Client::builder()
                .ignore_env()
                .base_url(server.url())
                .retry_policy(fast_retries())
        }

        fn client(server: &RawServer) -> Client {
            builder(server).api_key("sk-test-123").build().expect("client builds")
        }

        fn ok_json(body: &str) -> Script {
            Script::json(200, body)
        }

        #[test]
        fn api_key_version_and_user_agent_are_sent() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let n = send!(client(&server).get_unread_model_alert_count()).unwrap();
            assert_eq!(n.count, 3);
            let req = &server.requests()[0];
            assert_eq!(req.method, "GET");
            assert_eq!(req.path_and_query, "/models/alerts/unread-count");
            assert_eq!(req.header("x-api-key"), Some("sk-test-123"));
            assert_eq!(req.header("seclai-version"), $krate::DEFAULT_VERSION);
            assert!(req.header("user-agent").unwrap().starts_with("seclai-rs/"));
            assert!(req.header("authorization").is_none());
            assert!(req.header("x-account-id").is_none());
        }

        #[test]
        fn bearer_token_sends_account_id_and_api_key_does_not() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let c = builder(&server).access_token("tok-1").account_id("acct-9").build().unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            let c = builder(&server).api_key("k").account_id("acct-9").build().unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            let reqs = server.requests();
            assert_eq!(reqs[0].header("authorization"), Some("Bearer tok-1"));
            assert_eq!(reqs[0].header("x-account-id"), Some("acct-9"));
            assert_eq!(reqs[1].header("x-api-key"), Some("k"));
            assert!(reqs[1].header("x-account-id").is_none());
        }

        #[test]
        fn custom_api_key_header() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let c = builder(&server).api_key("k").api_key_header("x-other-key").build().unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            assert_eq!(server.requests()[0].header("x-other-key"), Some("k"));
            assert!(server.requests()[0].header("x-api-key").is_none());
        }

        #[test]
        fn token_provider_is_called_per_request() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let calls = Arc::new(AtomicUsize::new(0));
            let seen = calls.clone();
            let c = builder(&server)
                .token_provider(move || {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(format!("tok-{n}"))
                })
                .build()
                .unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            let reqs = server.requests();
            assert_eq!(reqs[0].header("authorization"), Some("Bearer tok-0"));
            assert_eq!(reqs[1].header("authorization"), Some("Bearer tok-1"));
        }

        #[test]
        fn credential_rules() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let e = builder(&server).api_key("k").access_token("t").build().unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e}");
            let e = builder(&server).build().unwrap_err();
            assert!(matches!(e, Error::Config(ref m) if m.contains("SECLAI_API_KEY")), "{e}");
            let e = builder(&server).api_key("").build().unwrap_err();
            assert!(matches!(e, Error::Config(_)));
            assert_eq!(server.hits(), 0);
        }

        #[test]
        fn version_header_pinned_omitted_and_guarded() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let known = *$krate::KNOWN_VERSIONS.last().expect("the spec declares versions");
            let c = builder(&server).api_key("k").api_version(known).build().unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            let c = builder(&server).api_key("k").omit_api_version().build().unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            let c = builder(&server).api_key("k").api_version("2001-01-01").allow_unknown_versions(true).build().unwrap();
            send!(c.get_unread_model_alert_count()).unwrap();
            let reqs = server.requests();
            assert_eq!(reqs[0].header("seclai-version"), Some(known));
            assert!(reqs[1].header("seclai-version").is_none());
            assert_eq!(reqs[2].header("seclai-version"), Some("2001-01-01"));

            let e = builder(&server).api_key("k").api_version("2001-01-01").build().unwrap_err();
            assert!(matches!(e, Error::Config(ref m) if m.contains("2001-01-01")), "{e}");
            let e = builder(&server).api_key("k").default_header("Seclai-Version", "2001-01-01").build().unwrap_err();
            assert!(matches!(e, Error::Config(_)));
            let c = client(&server);
            let e = send!(c.get_unread_model_alert_count().api_version("2001-01-01")).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
            let e = send!(c.get_unread_model_alert_count().header("seclai-version", "2001-01-01")).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
            send!(c.get_unread_model_alert_count().api_version(known)).unwrap();
            assert_eq!(server.requests().last().unwrap().header("seclai-version"), Some(known));
            assert_eq!(server.hits(), 4);
        }

        #[test]
        fn error_bodies_of_every_shape() {
            let server = RawServer::start(vec![
                Script::json(404, r#"{"detail":"Agent not found"}"#),
                Script::json(422, r#"{"detail":[{"loc":["body","name"],"msg":"field required","type":"missing"}]}"#),
                Script::json(409, r#"{"error":{"code":"CONFLICT","message":"already exists"}}"#),
                Script::json(400, r#"{"detail":{"error":{"code":"BAD","message":"nested"}}}"#),
                Script::response(502, &[("content-type", "text/html")], "<html>bad gateway</html>"),
                Script::response(401, &[("x-request-id", "req-77")], ""),
            ]);
            let c = builder(&server).api_key("k").max_retries(0).build().unwrap();
            let mut errs = Vec::new();
            for _ in 0..6 {
                errs.push(send!(c.get_agent("a")).unwrap_err());
            }
            assert!(errs[0].is_not_found());
            assert_eq!(errs[0].as_api().unwrap().message, "Agent not found");
            assert!(errs[1].is_validation());
            assert!(errs[1].as_api().unwrap().message.contains("field required"), "{}", errs[1]);
            assert_eq!(errs[2].code(), Some("CONFLICT"));
            assert_eq!(errs[2].as_api().unwrap().message, "already exists");
            assert_eq!(errs[3].code(), Some("BAD"));
            assert!(errs[4].as_api().unwrap().body.contains("bad gateway"));
            assert_eq!(errs[4].status().map(|s| s.as_u16()), Some(502));
            assert_eq!(errs[5].request_id(), Some("req-77"));
            assert_eq!(errs[5].status().map(|s| s.as_u16()), Some(401));
        }

        #[test]
        fn decode_errors_name_the_path() {
            let server = RawServer::start(vec![ok_json(r#"{"count": "three"}"#), ok_json("not json")]);
            let c = client(&server);
            let e = send!(c.get_unread_model_alert_count()).unwrap_err();
            match &e {
                Error::Decode(d) => assert!(d.path.contains("count"), "{d:?}"),
                other => panic!("expected a decode error, got {other:?}"),
            }
            let e = send!(c.get_unread_model_alert_count()).unwrap_err();
            assert!(matches!(e, Error::Decode(_)), "{e:?}");
        }

        #[test]
        fn retry_after_429_is_honoured_for_post() {
            let server = RawServer::start(vec![
                Script::response(429, &[("retry-after", "0"), ("content-type", "application/json")],
                    r#"{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}"#),
                Script::response(204, &[], ""),
            ]);
            send!(client(&server).mark_all_model_alerts_read()).unwrap();
            assert_eq!(server.hits(), 2);
            assert_eq!(server.requests()[0].method, "POST");
        }

        #[test]
        fn get_503_is_retried_and_post_503_is_not() {
            let server = RawServer::start(vec![
                Script::json(503, "{}"),
                Script::json(503, "{}"),
                ok_json(UNREAD),
            ]);
            send!(client(&server).get_unread_model_alert_count()).unwrap();
            assert_eq!(server.hits(), 3);

            let server = RawServer::start(vec![Script::json(503, r#"{"detail":"busy"}"#), Script::response(204, &[], "")]);
            let e = send!(client(&server).mark_all_model_alerts_read()).unwrap_err();
            assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
            assert_eq!(server.hits(), 1);
        }

        #[test]
        fn retry_budget_and_retry_after_cap() {
            let server = RawServer::start(vec![Script::json(503, "{}")]);
            let c = builder(&server)
                .api_key("k")
                .max_retries(10)
                .retry_budget($krate::RetryBudget::new(2))
                .build()
                .unwrap();
            assert!(send!(c.get_unread_model_alert_count()).is_err());
            assert_eq!(server.hits(), 3, "two retries from the budget");
            assert!(send!(c.clone().get_unread_model_alert_count()).is_err());
            assert_eq!(server.hits(), 4, "the budget is shared by clones and now empty");

            let server = RawServer::start(vec![Script::response(429, &[("retry-after", "120")], "")]);
            let started = std::time::Instant::now();
            let e = send!(client(&server).get_unread_model_alert_count()).unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(5));
            assert_eq!(server.hits(), 1);
            assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
        }

        #[test]
        fn retry_rules_by_status_and_method() {
            // 429 + Retry-After: the wait is honoured, for a POST too (the
            // request was turned away unprocessed).
            let server = RawServer::start(vec![Script::response(429, &[("retry-after", "1")], ""), ok_json(UNREAD)]);
            let started = std::time::Instant::now();
            let v = send!(client(&server).request(http::Method::POST, "/x").json(&serde_json::json!({}))).unwrap();
            assert_eq!(v["count"], 3);
            assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
            assert_eq!(server.hits(), 2);

            // 503: a GET is retried; a POST is not (it may have been processed)...
            let server = RawServer::start(vec![Script::json(503, "{}"), ok_json(UNREAD)]);
            assert_eq!(send!(client(&server).get_unread_model_alert_count()).unwrap().count, 3);
            assert_eq!(server.hits(), 2);
            let server = RawServer::start(vec![Script::json(503, "{}"), ok_json(UNREAD)]);
            let e = send!(client(&server).request(http::Method::POST, "/x")).unwrap_err();
            assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
            assert_eq!(server.hits(), 1);
            // ...unless the caller opts in.
            let server = RawServer::start(vec![Script::json(503, "{}"), ok_json(UNREAD)]);
            let c = builder(&server).api_key("k").retry_non_idempotent(true).build().unwrap();
            send!(c.request(http::Method::POST, "/x")).unwrap();
            assert_eq!(server.hits(), 2);

            // A POST whose answer is cut mid-body is not sent again.
            let server = RawServer::start(vec![Script::partial_body(200, 100, r#"{"count""#), ok_json(UNREAD)]);
            let e = send!(client(&server).request(http::Method::POST, "/x")).unwrap_err();
            assert!(matches!(e, Error::Transport(_)), "{e:?}");
            assert_eq!(server.hits(), 1);
        }

        #[test]
        fn timeouts_are_typed_and_retried_for_idempotent_methods_only() {
            let server = RawServer::start(vec![Script::hang()]);
            let c = client(&server);
            let started = std::time::Instant::now();
            let e = send!(c.get_unread_model_alert_count().timeout(Duration::from_millis(200)).max_retries(1)).unwrap_err();
            assert!(matches!(e, Error::Transport(ref t) if t.kind == $krate::TransportKind::Timeout), "{e:?}");
            assert_eq!(server.hits(), 2, "the GET was tried twice");
            assert!(started.elapsed() < Duration::from_secs(5));

            let server = RawServer::start(vec![Script::hang()]);
            let e = send!(client(&server).request(http::Method::POST, "/x").timeout(Duration::from_millis(200)).max_retries(1)).unwrap_err();
            assert!(matches!(e, Error::Transport(ref t) if t.kind == $krate::TransportKind::Timeout), "{e:?}");
            assert_eq!(server.hits(), 1, "a POST that may have been processed is not resent");
        }

        #[test]
        fn path_segments_arrive_intact() {
            let server = RawServer::start(vec![Script::json(404, "{}")]);
            let c = builder(&server).api_key("k").max_retries(0).build().unwrap();
            let _ = send!(c.get_agent("a/b?c#d..e%f g\u{e9}"));
            assert_eq!(server.requests()[0].path_and_query, "/agents/a%2Fb%3Fc%23d..e%25f%20g%C3%A9");
            for bad in ["", ".", ".."] {
                let e = send!(c.get_agent(bad)).unwrap_err();
                assert!(matches!(e, Error::InvalidRequest(_)), "{bad:?}: {e}");
            }
            assert_eq!(server.hits(), 1, "rejected ids never reach the server");
        }

        #[test]
        fn query_parameters_and_base_prefix() {
            let server = RawServer::start(vec![Script::json(404, "{}")]);
            let c = Client::builder()
                .ignore_env()
                .api_key("k")
                .max_retries(0)
                .base_url(format!("{}/prefix/", server.url()))
                .build()
                .unwrap();
            let _ = send!(c.list_agents().page(2).limit(5));
            let _ = send!(c.request(http::Method::GET, "/things").query("tag", "a b").query("tag", "c&d"));
            let reqs = server.requests();
            assert_eq!(reqs[0].path_and_query, "/prefix/agents?page=2&limit=5");
            assert_eq!(reqs[1].path_and_query, "/prefix/things?tag=a%20b&tag=c%26d");
        }

        #[test]
        fn raw_request_answers() {
            let server = RawServer::start(vec![
                ok_json(r#"{"a":1}"#),
                Script::response(200, &[("content-type", "text/plain")], "hello"),
                Script::response(204, &[], ""),
            ]);
            let c = client(&server);
            let v = send!(c.request(http::Method::POST, "/x").json(&serde_json::json!({"k": "v"}))).unwrap();
            assert_eq!(v, serde_json::json!({"a": 1}));
            assert_eq!(send!(c.request(http::Method::GET, "/y")).unwrap(), serde_json::json!("hello"));
            assert_eq!(send!(c.request(http::Method::DELETE, "/z")).unwrap(), serde_json::Value::Null);
            let reqs = server.requests();
            assert_eq!(reqs[0].body, br#"{"k":"v"}"#);
            assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        }

        #[test]
        fn metadata_comes_with_the_value() {
            let server = RawServer::start(vec![Script::response(
                200,
                &[("content-type", "application/json"), ("x-request-id", "rid-1"),
                  ("x-ratelimit-limit", "100"), ("x-ratelimit-remaining", "99"), ("x-ratelimit-reset", "30")],
                UNREAD,
            )]);
            let r = send_meta!(client(&server).get_unread_model_alert_count()).unwrap();
            assert_eq!(r.value.count, 3);
            assert_eq!(r.status.as_u16(), 200);
            assert_eq!(r.request_id.as_deref(), Some("rid-1"));
            let rl = r.rate_limit.unwrap();
            assert_eq!((rl.limit, rl.remaining, rl.reset), (Some(100), Some(99), Some(30)));
        }

        #[test]
        fn update_api_version_pins_clears_and_guards() {
            let server = RawServer::start(vec![Script::json(404, "{}")]);
            let c = builder(&server).api_key("k").max_retries(0).build().unwrap();
            let _ = run!(c.update_api_version(None));
            let known = *$krate::KNOWN_VERSIONS.last().expect("the spec declares versions");
            let _ = run!(c.update_api_version(Some(known)));
            let e = run!(c.update_api_version(Some("2001-01-01"))).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
            let reqs = server.requests();
            assert_eq!(reqs.len(), 2, "the unknown version never left the client");
            assert_eq!((reqs[0].method.as_str(), reqs[0].path_and_query.as_str()), ("PUT", "/version"));
            assert_eq!(String::from_utf8_lossy(&reqs[0].body), r#"{"version":null}"#);
            assert_eq!(String::from_utf8_lossy(&reqs[1].body), format!(r#"{{"version":"{known}"}}"#));
            assert_eq!(reqs[0].header("content-type"), Some("application/json"));
        }

        #[test]
        fn one_span_per_call_with_its_outcome() {
            let server = RawServer::start(vec![
                Script::response(503, &[("content-type", "application/json")], "{}"),
                Script::response(200, &[("content-type", "application/json"), ("x-request-id", "rid-7")], UNREAD),
            ]);
            let c = client(&server);
            let recorder = $crate::spans::SpanRecorder::default();
            tracing::subscriber::with_default(recorder.clone(), || {
                send!(c.get_unread_model_alert_count()).unwrap();
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
            let c = client(&server);
            let recorder = $crate::spans::SpanRecorder::default();
            tracing::subscriber::with_default(recorder.clone(), || {
                send!(c.download_source_export("s", "e")).unwrap();
                send!(c.upload_file_to_source("s", $krate::Upload::bytes("a.txt", b"a".to_vec()))).unwrap();
            });
            let calls = recorder.calls();
            let seen: Vec<(&str, &str)> = calls.iter().map(|f| (f["operation"].as_str(), f["status"].as_str())).collect();
            assert_eq!(seen, [("download_source_export", "200"), ("upload_file_to_source", "200")]);
        }

        #[test]
        fn header_injection_is_refused_before_sending() {
            let server = RawServer::start(vec![ok_json(UNREAD)]);
            let c = client(&server);
            let e = send!(c.get_unread_model_alert_count().header("x-note", "a\r\nx-evil: 1")).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
            let e = builder(&server).api_key("k").default_header("x-note", "a\nb").build().unwrap_err();
            assert!(matches!(e, Error::Config(_)));
            assert_eq!(server.hits(), 0);
        }

        #[test]
        fn a_failed_tls_handshake_is_a_tls_error_and_is_not_retried() {
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
            let c = Client::builder()
                .ignore_env()
                .api_key("sk-test-123")
                .base_url(url)
                .retry_policy(fast_retries())
                .build()
                .unwrap();
            let e = send!(c.get_unread_model_alert_count()).unwrap_err();
            assert!(
                matches!(e, Error::Transport(ref t) if t.kind == $krate::TransportKind::Tls),
                "{e:?}"
            );
            assert_eq!(accepted.load(Ordering::SeqCst), 1, "no retry of a TLS failure");
            assert!(!format!("{e} {e:?}").contains("sk-test-123"));
        }

        #[test]
        fn malformed_base_urls_are_config_errors() {
            for bad in ["", "not a url", "ftp://x", "http://"] {
                let e = Client::builder().ignore_env().api_key("k").base_url(bad).build().unwrap_err();
                assert!(matches!(e, Error::Config(_)), "{bad:?}: {e}");
            }
        }

        #[test]
        fn transport_failures_are_typed_and_retried_when_safe() {
            // A port nothing listens on: never sent, retried, then a transport error.
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let c = Client::builder().ignore_env().api_key("k").base_url(format!("http://127.0.0.1:{port}"))
                .retry_policy(fast_retries()).build().unwrap();
            let e = send!(c.get_unread_model_alert_count()).unwrap_err();
            assert!(matches!(e, Error::Transport(_)), "{e:?}");

            // A GET whose body is cut is retried (the POST case is in
            // retry_rules_by_status_and_method).
            let server = RawServer::start(vec![Script::partial_body(200, 100, r#"{"count""#), ok_json(UNREAD)]);
            assert_eq!(send!(client(&server).get_unread_model_alert_count()).unwrap().count, 3);
            assert_eq!(server.hits(), 2);
        }

        #[test]
        fn secrets_never_printed() {
            let server = RawServer::start(vec![Script::json(401, r#"{"detail":"bad key"}"#)]);
            let c = builder(&server).api_key("sk-very-secret").max_retries(0).build().unwrap();
            let e = send!(c.get_unread_model_alert_count()).unwrap_err();
            for text in [format!("{c:?}"), format!("{:?}", c.config()), format!("{e:?}"), e.to_string()] {
                assert!(!text.contains("sk-very-secret"), "{text}");
            }
            let c = builder(&server).access_token("tok-very-secret").build().unwrap();
            assert!(!format!("{c:?}").contains("tok-very-secret"));
            let e = builder(&server).api_key("sk-very-secret\n").build().unwrap_err();
            assert!(!e.to_string().contains("sk-very-secret"));
        }

        // ---- streaming runs, waiting and polling ----

        use seclai_testkit::sse::{SseScript, run_object};
        use $krate::{PollPolicy, RunEvent, StreamError, WaitOptions};

        fn stream_req() -> types::AgentRunStreamRequest {
            serde_json::from_value(serde_json::json!({"input": "hi"})).unwrap()
        }

        fn quick_poll(deadline_ms: u64) -> PollPolicy {
            PollPolicy {
                initial_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
                multiplier: 1.5,
                deadline: Duration::from_millis(deadline_ms),
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
                    let i = polls.fetch_add(1, Ordering::SeqCst).min(statuses.len().saturating_sub(1));
                    return Script::json(200, run_json(&statuses[i]));
                }
                Script::json(404, r#"{"detail":"no route"}"#)
            })
        }

        fn names(items: &[$krate::Result<RunEvent>]) -> Vec<String> {
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

        const FULL: [&str; 5] = ["init", "stream_token", "stream_token", "stream_end", "done"];

        #[test]
        fn a_streamed_run_delivers_every_event_in_order() {
            let server = RawServer::start(vec![SseScript::seclai_run("r1", "a1").comment("keepalive").into_script()]);
            let items = stream_all!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap();
            assert_eq!(names(&items), FULL);
            let req = &server.requests()[0];
            assert_eq!(req.header("accept"), Some("text/event-stream"));
            assert_eq!(req.path_and_query, "/agents/a1/runs/stream");
            assert!(matches!(&items[1], Ok(RunEvent::StreamToken { token, .. }) if token == "Hel"));
        }

        #[test]
        fn any_chunking_and_line_ending_gives_the_same_events() {
            let variants = vec![
                SseScript::seclai_run("r1", "a1").split_every(1),
                SseScript::seclai_run("r1", "a1").crlf().split_every(7),
                SseScript::seclai_run("r1", "a1").lone_cr().split_every(3),
                SseScript::seclai_run("r1", "a1").with_bom().comment("ping").split_every(5),
                SseScript::new()
                    .event_json("init", &run_object("r1", "a1", "pending", None))
                    .multiline_data("stream_token", &["{\"token\":", "\"h\u{e9}\u{e9}\"}"])
                    .event_json("done", &run_object("r1", "a1", "completed", Some("\u{e9}")))
                    .split_every(2),
            ];
            for (i, script) in variants.into_iter().enumerate() {
                let server = RawServer::start(vec![script.into_script()]);
                let items = stream_all!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap();
                assert!(items.iter().all(|i| i.is_ok()), "variant {i}: {:?}", names(&items));
                assert_eq!(items.first().map(|i| i.as_ref().unwrap().name()), Some("init"), "variant {i}");
                assert_eq!(items.last().map(|i| i.as_ref().unwrap().name()), Some("done"), "variant {i}");
            }
        }

        #[test]
        fn unknown_garbage_and_oversize_lines_do_not_stop_the_stream() {
            let script = SseScript::new()
                .event_json("init", &run_object("r1", "a1", "pending", None))
                .event("brand_new_event", "{\"x\":1}")
                .garbage(vec![0xff, 0xfe, b'z', b'\n', b'\n'])
                .oversize_line(2 * 1024 * 1024)
                .event("status", "{not json")
                .event_json("done", &run_object("r1", "a1", "completed", None));
            let server = RawServer::start(vec![script.into_script()]);
            let items = stream_all!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap();
            let n = names(&items);
            assert_eq!(n.first().map(String::as_str), Some("init"));
            assert!(n.contains(&"brand_new_event".to_string()), "{n:?}");
            assert!(n.contains(&"<line too long>".to_string()), "{n:?}");
            assert!(n.contains(&"<malformed>".to_string()), "{n:?}");
            assert_eq!(n.last().map(String::as_str), Some("done"), "{n:?}");
        }

        #[test]
        fn a_cut_stream_ends_with_a_typed_error_and_wait_recovers_by_polling() {
            let script = SseScript::seclai_run("r1", "a1").cut_before_done().into_script();
            let server = RawServer::start(vec![script.clone()]);
            let items = stream_all!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap();
            assert_eq!(names(&items).last().map(String::as_str), Some("<ended early>"));

            let server = run_server(script, &["processing", "completed"]);
            let opts = WaitOptions { idle_timeout: Duration::from_secs(5), poll: quick_poll(5_000) };
            let run = run!(client(&server).run_streaming_agent_and_wait_with("a1", &stream_req(), &opts)).unwrap();
            assert_eq!(run.status.as_str(), "completed");
            assert!(server.requests().iter().filter(|r| r.path_and_query.starts_with("/agents/runs/r1")).count() >= 2);
        }

        #[test]
        fn malformed_done_is_recovered_by_polling() {
            let script = SseScript::new()
                .event_json("init", &run_object("r1", "a1", "pending", None))
                .event("done", "{\"run_id\": \"r1\", oops")
                .into_script();
            let server = run_server(script, &["completed"]);
            let opts = WaitOptions { idle_timeout: Duration::from_secs(5), poll: quick_poll(5_000) };
            let run = run!(client(&server).run_streaming_agent_and_wait_with("a1", &stream_req(), &opts)).unwrap();
            assert_eq!(run.run_id, "r1");
        }

        #[test]
        fn an_error_event_then_a_failed_run_is_reported_as_failed() {
            let script = SseScript::new()
                .event_json("init", &run_object("r1", "a1", "pending", None))
                .event("error", "{\"run_id\":\"r1\",\"message\":\"worker crashed\"}")
                .into_script();
            let server = run_server(script, &["failed"]);
            let opts = WaitOptions { idle_timeout: Duration::from_secs(5), poll: quick_poll(5_000) };
            let e = run!(client(&server).run_streaming_agent_and_wait_with("a1", &stream_req(), &opts)).unwrap_err();
            assert!(matches!(e, Error::Stream(StreamError::RunFailed { ref status, .. }) if status == "failed"), "{e}");

            let done_failed = SseScript::new().event_json("done", &run_object("r1", "a1", "failed", None)).into_script();
            let server = RawServer::start(vec![done_failed]);
            let e = run!(client(&server).run_streaming_agent_and_wait("a1", &stream_req())).unwrap_err();
            assert!(matches!(e, Error::Stream(StreamError::RunFailed { .. })), "{e}");
        }

        #[test]
        fn a_silent_server_hits_the_idle_timeout_then_polls() {
            let script = Script::event_stream_then_hang(
                SseScript::new().event_json("init", &run_object("r1", "a1", "pending", None)).into_chunks(),
            );
            let server = run_server(script, &["completed"]);
            let opts = WaitOptions { idle_timeout: Duration::from_millis(300), poll: quick_poll(5_000) };
            let started = std::time::Instant::now();
            let run = run!(client(&server).run_streaming_agent_and_wait_with("a1", &stream_req(), &opts)).unwrap();
            assert_eq!(run.status.as_str(), "completed");
            assert!(started.elapsed() < Duration::from_secs(4));
        }

        #[test]
        fn payment_and_validation_errors_are_the_calls_own() {
            let server = RawServer::start(vec![Script::json(402, r#"{"detail":"insufficient credits"}"#)]);
            let e = send!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap_err();
            assert_eq!(e.status().map(|s| s.as_u16()), Some(402));
            let server = RawServer::start(vec![Script::json(422, r#"{"detail":[{"loc":["body"],"msg":"bad"}]}"#)]);
            let e = run!(client(&server).run_streaming_agent_and_wait("a1", &stream_req())).unwrap_err();
            assert!(e.is_validation());
        }

        #[test]
        fn a_json_answer_instead_of_a_stream_is_handled() {
            let server = RawServer::start(vec![Script::json(200, run_json("completed"))]);
            let items = stream_all!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap();
            assert_eq!(names(&items), ["done"]);
            let run = run!(client(&server).run_streaming_agent_and_wait("a1", &stream_req())).unwrap();
            assert_eq!(run.output.as_deref(), Some("out"));
        }

        #[test]
        fn run_and_poll_waits_for_a_terminal_status_and_has_a_deadline() {
            let server = RawServer::with_handler(|req| {
                if req.method == "POST" {
                    Script::json(200, run_json("pending"))
                } else {
                    Script::json(200, run_json("processing"))
                }
            });
            let body: types::AgentRunRequest = serde_json::from_value(serde_json::json!({"input": "hi"})).unwrap();
            let e = run!(client(&server).run_agent_and_poll_with("a1", &body, &quick_poll(200))).unwrap_err();
            match e {
                Error::Stream(StreamError::Deadline { run_id, last_status, .. }) => {
                    assert_eq!(run_id.as_deref(), Some("r1"));
                    assert_eq!(last_status.as_deref(), Some("processing"));
                }
                other => panic!("expected a deadline, got {other:?}"),
            }
            let server = run_server(Script::json(404, "{}"), &["processing", "canceled"]);
            let e = run!(client(&server).wait_for_run("r1", &quick_poll(5_000))).unwrap_err();
            assert!(matches!(e, Error::Stream(StreamError::RunFailed { ref status, .. }) if status == "canceled"), "{e}");
        }

        #[test]
        fn waiting_for_an_input_upload() {
            let n = Arc::new(AtomicUsize::new(0));
            let server = RawServer::with_handler(move |_| {
                let status = if n.fetch_add(1, Ordering::SeqCst) < 2 { "processing" } else { "ready" };
                Script::json(200, format!(
                    r#"{{"id":"u1","status":"{status}","content_type":"text/plain","file_size":3,"filename":"a.txt"}}"#
                ))
            });
            let up = run!(client(&server).wait_for_agent_input_upload("a1", "u1", &quick_poll(5_000))).unwrap();
            assert_eq!(up.status, "ready");
            assert_eq!(server.hits(), 3);
            assert_eq!(server.requests()[0].path_and_query, "/agents/a1/input-uploads/u1");
        }

        #[test]
        fn final_run_drains_to_done() {
            let server = RawServer::start(vec![SseScript::seclai_run("r1", "a1").into_script()]);
            let run = final_run!(client(&server).run_streaming_agent("a1", &stream_req())).unwrap();
            assert_eq!(run.output.as_deref(), Some("Hello"));
        }

        // ---- pagination, uploads, downloads, webhooks ----

        use $krate::{Upload, WebhookEvent, WebhookEventKind};

        fn agent_json(i: usize) -> serde_json::Value {
            serde_json::json!({"id": format!("a{i}"), "name": "A", "created_at": "t", "updated_at": "t",
                "prompt_model_auto_upgrade_strategy": "none"})
        }

        fn query_num(req: &seclai_testkit::raw::RecordedRequest, key: &str) -> Option<usize> {
            req.query()?.split('&').find_map(|kv| kv.strip_prefix(&format!("{key}="))?.parse().ok())
        }

        #[test]
        fn paginate_walks_every_page() {
            let server = RawServer::with_handler(|req| {
                let page = query_num(req, "page").unwrap_or(1);
                let items: Vec<_> = (0..2).map(|i| agent_json(page * 10 + i)).filter(|_| page <= 3).collect();
                let items = if page == 3 { items[..1].to_vec() } else { items };
                Script::json(200, serde_json::json!({"data": items,
                    "pagination": {"page": page, "limit": 2, "total": 5, "pages": 3, "has_next": page < 3, "has_prev": page > 1}}).to_string())
            });
            let items = collect_items!(client(&server).list_agents().limit(2).paginate()).unwrap();
            let ids: Vec<_> = items.iter().map(|a| a.id.clone()).collect();
            assert_eq!(ids, ["a10", "a11", "a20", "a21", "a30"]);
            let qs: Vec<_> = server.requests().iter().map(|r| r.path_and_query.clone()).collect();
            assert_eq!(qs, ["/agents?page=1&limit=2", "/agents?page=2&limit=2", "/agents?page=3&limit=2"]);
            let capped = collect_items!(client(&server).list_agents().limit(2).paginate_max(Some(3))).unwrap();
            assert_eq!(capped.len(), 3);
        }

        #[test]
        fn paginate_stops_on_repeats_and_servers_that_ignore_limit() {
            let server = RawServer::with_handler(|_| {
                let items: Vec<_> = (0..5).map(agent_json).collect();
                Script::json(200, serde_json::json!({"data": items, "pagination": {"has_next": true}}).to_string())
            });
            let items = collect_items!(client(&server).list_agents().limit(2).paginate()).unwrap();
            assert_eq!(items.len(), 5, "the repeated page is not yielded again");
            assert_eq!(server.hits(), 2);
        }

        #[test]
        fn raw_paginate_reads_declared_envelopes() {
            let server = RawServer::with_handler(|req| {
                let page = query_num(req, "page").unwrap_or(1);
                let kbs: Vec<_> = (0..2).map(|i| serde_json::json!({"id": page * 10 + i})).collect();
                Script::json(200, serde_json::json!({"knowledge_bases": kbs, "total": 4, "page": page, "limit": 2}).to_string())
            });
            let items = collect_items!(client(&server).paginate(http::Method::GET, "/knowledge_bases").items_key("knowledge_bases").limit(2).items()).unwrap();
            assert_eq!(items.len(), 4);
            assert_eq!(server.hits(), 2, "stops once the total is reached");
        }

        #[test]
        fn paginate_reports_errors_as_items() {
            let server = RawServer::start(vec![Script::json(500, r#"{"detail":"boom"}"#)]);
            let c = builder(&server).api_key("k").max_retries(0).build().unwrap();
            let e = collect_items!(c.list_agents().paginate()).unwrap_err();
            assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
        }

        fn upload_response() -> Script {
            Script::json(200, r#"{"filename":"r.txt","status":"processing","source_connection_content_version":"v1","content_version_id":"v1"}"#)
        }

        #[test]
        fn uploads_stream_a_file_with_fields_and_progress() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("report.txt");
            std::fs::write(&path, b"hello upload").unwrap();
            let server = RawServer::start(vec![upload_response()]);
            let seen = Arc::new(std::sync::Mutex::new((0u64, None)));
            let s2 = seen.clone();
            let up = Upload::path(&path).unwrap().title("Q3").metadata(serde_json::json!({"k": "v"}))
                .progress(move |sent, total| *s2.lock().unwrap() = (sent, total));
            let r = send!(client(&server).upload_file_to_source("src-1", up)).unwrap();
            assert_eq!((r.filename.as_str(), r.status.as_str()), ("r.txt", "processing"));
            let req = &server.requests()[0];
            assert_eq!(req.method, "POST");
            assert_eq!(req.path_and_query, "/sources/src-1/upload");
            assert!(req.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
            assert_eq!(req.header("content-length").map(|v| v.parse::<usize>().unwrap()), Some(req.body.len()));
            let body = String::from_utf8_lossy(&req.body);
            assert!(body.contains("filename=\"report.txt\""), "{body}");
            assert!(body.contains("hello upload"));
            assert!(body.contains("name=\"title\"") && body.contains("Q3"));
            assert!(body.contains(r#"{"k":"v"}"#));
            assert_eq!(*seen.lock().unwrap(), (12, Some(12)));
        }

        #[test]
        fn a_path_upload_is_sent_again_after_a_429_and_a_one_shot_reader_is_not() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("notes.md");
            std::fs::write(&path, b"# twice").unwrap();
            let turned_away = Script::response(429, &[("retry-after", "0")], "");
            let server = RawServer::start(vec![turned_away.clone(), upload_response()]);
            send!(client(&server).upload_file_to_source("s", Upload::path(&path).unwrap())).unwrap();
            let reqs = server.requests();
            assert_eq!(reqs.len(), 2);
            assert_eq!(reqs[0].body, reqs[1].body, "the same complete body both times");
            assert!(String::from_utf8_lossy(&reqs[1].body).contains("# twice"));

            let server = RawServer::start(vec![turned_away, upload_response()]);
            let up = Upload::reader("r.md", std::io::Cursor::new(b"# once".to_vec()), None);
            let e = send!(client(&server).upload_file_to_source("s", up)).unwrap_err();
            assert_eq!(e.status(), Some(http::StatusCode::TOO_MANY_REQUESTS), "{e}");
            assert_eq!(server.hits(), 1, "a reader cannot be replayed");
        }

        #[test]
        fn an_upload_whose_answer_stalls_ends_on_the_read_timeout() {
            let head = seclai_testkit::raw::head(200, &[("content-type", "application/json"), ("content-length", "100")]);
            let server = RawServer::start(vec![Script::silent_after(head)]);
            let c = builder(&server).api_key("k").read_timeout(Duration::from_millis(300)).build().unwrap();
            let started = std::time::Instant::now();
            let e = send!(c.upload_file_to_source("s", Upload::bytes("a.txt", b"abc".to_vec()))).unwrap_err();
            assert!(matches!(e, Error::Transport(ref t) if t.kind == $krate::TransportKind::Timeout), "{e:?}");
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
            assert_eq!(server.hits(), 1, "an upload is a POST: not resent after a timeout");
        }

        #[test]
        fn bad_uploads_fail_before_sending() {
            let server = RawServer::start(vec![upload_response()]);
            let dir = tempfile::tempdir().unwrap();
            assert!(matches!(Upload::path(dir.path().join("missing.pdf")), Err(Error::InvalidRequest(_))));
            assert!(matches!(Upload::path(dir.path()), Err(Error::InvalidRequest(_))));
            let big = Upload::reader("big.bin", std::io::repeat(0), Some(209_715_201));
            let e = send!(client(&server).upload_agent_input("a1", big)).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest(ref m) if m.contains("209715200") || m.contains("209,715,200") || m.contains("200 MiB")), "{e}");
            assert_eq!(server.hits(), 0);
        }

        #[test]
        fn a_reader_failing_halfway_is_an_error_and_not_retried() {
            struct Failing(usize);
            impl std::io::Read for Failing {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    if self.0 == 0 { return Err(std::io::Error::other("disk on fire")); }
                    let n = buf.len().min(self.0);
                    buf[..n].fill(b'x');
                    self.0 -= n;
                    Ok(n)
                }
            }
            let server = RawServer::start(vec![upload_response()]);
            let up = Upload::reader("x.bin", Failing(100_000), None);
            let e = send!(client(&server).upload_file_to_content("v1", up)).unwrap_err();
            assert!(!e.is_retryable(), "{e:?}");
            assert!(server.requests().len() <= 1);
        }

        #[test]
        fn downloads_stream_to_a_file_atomically() {
            let payload = vec![7u8; 300_000];
            let server = RawServer::start(vec![Script::response(200,
                &[("content-type", "application/zip"), ("content-disposition", "attachment; filename=\"../export.zip\"")],
                payload.clone())]);
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("out.zip");
            let seen = Arc::new(AtomicUsize::new(0));
            let s2 = seen.clone();
            let dl = send!(client(&server).download_source_export("src", "exp")).unwrap();
            assert_eq!(dl.file_name().as_deref(), Some("export.zip"));
            assert_eq!(dl.content_type(), Some("application/zip"));
            let dl = dl.progress(move |n, _| s2.store(n as usize, Ordering::SeqCst));
            run!(dl.write_to(&target)).unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), payload);
            assert_eq!(seen.load(Ordering::SeqCst), payload.len());
            assert_eq!(server.requests()[0].path_and_query, "/sources/src/exports/exp/download");
        }

        #[test]
        fn a_cut_download_leaves_nothing_behind() {
            let server = RawServer::start(vec![Script::partial_body(200, 100_000, vec![1u8; 1000])]);
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("out.bin");
            let dl = send!(client(&server).download_agent_run_attachment("r1", "att")).unwrap();
            assert!(run!(dl.write_to(&target)).is_err());
            assert!(!target.exists());
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temp file left");
            let server = RawServer::start(vec![Script::json(404, r#"{"detail":"no export"}"#)]);
            let e = send!(client(&server).download_source_export("s", "e")).unwrap_err();
            assert!(e.is_not_found());
        }

        #[test]
        fn a_slow_download_outlives_the_overall_timeout_and_a_silent_one_times_out() {
            // Steady progress for ~3x the overall timeout: not cut.
            let chunks: Vec<_> = (0..6).map(|_| (vec![5u8; 1000], Duration::from_millis(100))).collect();
            let server = RawServer::start(vec![Script::chunked(200, &[("content-type", "application/octet-stream")], chunks)]);
            let c = builder(&server).api_key("k").timeout(Duration::from_millis(200)).read_timeout(Duration::from_secs(2)).build().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("slow.bin");
            let dl = send!(c.download_source_export("s", "e")).unwrap();
            run!(dl.write_to(&target)).unwrap();
            assert_eq!(std::fs::read(&target).unwrap().len(), 6000);

            // Headers and some bytes, then silence: the idle timeout ends it.
            let mut prefix = seclai_testkit::raw::head(200, &[("transfer-encoding", "chunked")]);
            prefix.extend(seclai_testkit::raw::chunk(&[1u8; 500]));
            let server = RawServer::start(vec![Script::silent_after(prefix)]);
            let c = builder(&server).api_key("k").read_timeout(Duration::from_millis(300)).build().unwrap();
            let target = dir.path().join("silent.bin");
            let started = std::time::Instant::now();
            let dl = send!(c.download_source_export("s", "e")).unwrap();
            let e = run!(dl.write_to(&target)).unwrap_err();
            assert!(matches!(e, Error::Stream(StreamError::IdleTimeout { .. })), "{e:?}");
            assert!(started.elapsed() < Duration::from_secs(5));
            assert!(!target.exists());
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only slow.bin; no temp file left");
        }

        #[test]
        fn webhook_payloads_parse_and_keep_unknowns() {
            let ev = WebhookEvent::parse(br#"{"event":"agent.run.completed","data":{"run_id":"r1","agent_id":"a1","status":"completed","extra":1},"sent_at":"t"}"#).unwrap();
            assert_eq!(ev.event, WebhookEventKind::AgentRunCompleted);
            assert_eq!(ev.run_id(), Some("r1"));
            assert!(ev.extra.contains_key("sent_at"));
            let ev = WebhookEvent::parse(br#"{"event":"agent.run.exploded","data":{}}"#).unwrap();
            assert!(matches!(ev.event, WebhookEventKind::Unknown(ref s) if s == "agent.run.exploded"));
            assert!(matches!(WebhookEvent::parse(b"not json"), Err(Error::Decode(_))));
            assert!(matches!(WebhookEvent::parse(br#"{"data":{}}"#), Err(Error::Decode(_))));
        }
    };
}
