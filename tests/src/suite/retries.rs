//! Retries, timeouts and transport failures.

use super::{UNREAD, client, client_with, ok_json, raw, unread};
use crate::harness::{Harness, Opts};
use seclai_core::call::Call;
use seclai_core::{Error, RetryBudget, TransportKind};
use seclai_gen::ops;
use seclai_testkit::raw::{RawServer, Script};
use std::time::{Duration, Instant};

/// `client.mark_all_model_alerts_read()`.
fn mark_all_read<H: Harness>(c: &H) -> seclai_core::Result<()> {
    H::block(Call::new(c.clone(), ops::MarkAllModelAlertsRead::new()).send()).map(drop)
}

pub fn retry_after_429_is_honoured_for_post<H: Harness>() {
    let server = RawServer::start(vec![
        Script::response(
            429,
            &[("retry-after", "0"), ("content-type", "application/json")],
            r#"{"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}}"#,
        ),
        Script::response(204, &[], ""),
    ]);
    mark_all_read(&client::<H>(&server)).unwrap();
    assert_eq!(server.hits(), 2);
    assert_eq!(server.requests()[0].method, "POST");
}

pub fn get_503_is_retried_and_post_503_is_not<H: Harness>() {
    let server = RawServer::start(vec![
        Script::json(503, "{}"),
        Script::json(503, "{}"),
        ok_json(UNREAD),
    ]);
    H::block(unread(&client::<H>(&server)).send()).unwrap();
    assert_eq!(server.hits(), 3);

    let server = RawServer::start(vec![
        Script::json(503, r#"{"detail":"busy"}"#),
        Script::response(204, &[], ""),
    ]);
    let e = mark_all_read(&client::<H>(&server)).unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(server.hits(), 1);
}

pub fn retry_budget_and_retry_after_cap<H: Harness>() {
    let server = RawServer::start(vec![Script::json(503, "{}")]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.max_retries = Some(10);
        o.retry_budget = Some(RetryBudget::new(2));
    });
    assert!(H::block(unread(&c).send()).is_err());
    assert_eq!(server.hits(), 3, "two retries from the budget");
    assert!(H::block(unread(&c.clone()).send()).is_err());
    assert_eq!(
        server.hits(),
        4,
        "the budget is shared by clones and now empty"
    );

    let server = RawServer::start(vec![Script::response(429, &[("retry-after", "120")], "")]);
    let started = Instant::now();
    let e = H::block(unread(&client::<H>(&server)).send()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.hits(), 1);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
}

pub fn retry_rules_by_status_and_method<H: Harness>() {
    // 429 + Retry-After: the wait is honoured, for a POST too (the
    // request was turned away unprocessed).
    let server = RawServer::start(vec![
        Script::response(429, &[("retry-after", "1")], ""),
        ok_json(UNREAD),
    ]);
    let started = Instant::now();
    let v = H::block(
        raw(&client::<H>(&server), http::Method::POST, "/x")
            .json(&serde_json::json!({}))
            .send(),
    )
    .unwrap();
    assert_eq!(v["count"], 3);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 2);

    // 503: a GET is retried; a POST is not (it may have been processed)...
    let server = RawServer::start(vec![Script::json(503, "{}"), ok_json(UNREAD)]);
    assert_eq!(
        H::block(unread(&client::<H>(&server)).send())
            .unwrap()
            .count,
        3
    );
    assert_eq!(server.hits(), 2);
    let server = RawServer::start(vec![Script::json(503, "{}"), ok_json(UNREAD)]);
    let e = H::block(raw(&client::<H>(&server), http::Method::POST, "/x").send()).unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(server.hits(), 1);
    // ...unless the caller opts in.
    let server = RawServer::start(vec![Script::json(503, "{}"), ok_json(UNREAD)]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.retry_non_idempotent = true;
    });
    H::block(raw(&c, http::Method::POST, "/x").send()).unwrap();
    assert_eq!(server.hits(), 2);

    // A POST whose answer is cut mid-body is not sent again.
    let server = RawServer::start(vec![
        Script::partial_body(200, 100, r#"{"count""#),
        ok_json(UNREAD),
    ]);
    let e = H::block(raw(&client::<H>(&server), http::Method::POST, "/x").send()).unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert_eq!(server.hits(), 1);
}

pub fn timeouts_are_typed_and_retried_for_idempotent_methods_only<H: Harness>() {
    let server = RawServer::start(vec![Script::hang()]);
    let c: H = client(&server);
    let started = Instant::now();
    let e = H::block(
        unread(&c)
            .timeout(Duration::from_millis(200))
            .max_retries(1)
            .send(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Transport(ref t) if t.kind == TransportKind::Timeout),
        "{e:?}"
    );
    assert_eq!(server.hits(), 2, "the GET was tried twice");
    assert!(started.elapsed() < Duration::from_secs(5));

    let server = RawServer::start(vec![Script::hang()]);
    let e = H::block(
        raw(&client::<H>(&server), http::Method::POST, "/x")
            .timeout(Duration::from_millis(200))
            .max_retries(1)
            .send(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Transport(ref t) if t.kind == TransportKind::Timeout),
        "{e:?}"
    );
    assert_eq!(
        server.hits(),
        1,
        "a POST that may have been processed is not resent"
    );
}

pub fn transport_failures_are_typed_and_retried_when_safe<H: Harness>() {
    // A port nothing listens on: never sent, retried, then a transport error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut o = Opts::library(format!("http://127.0.0.1:{port}"));
    o.api_key = Some("k".into());
    let c = H::build(&o);
    let e = H::block(unread(&c).send()).unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");

    // A GET whose body is cut is retried (the POST case is in
    // retry_rules_by_status_and_method).
    let server = RawServer::start(vec![
        Script::partial_body(200, 100, r#"{"count""#),
        ok_json(UNREAD),
    ]);
    assert_eq!(
        H::block(unread(&client::<H>(&server)).send())
            .unwrap()
            .count,
        3
    );
    assert_eq!(server.hits(), 2);
}
