//! Tests of what only the blocking client has (a supplied `ureq::Agent`,
//! calls inside a runtime); the shared suite is in `suite.rs`.

#[test]
fn a_supplied_ureq_agent_is_used() {
    use seclai_testkit::raw::{RawServer, Script};
    // This agent refuses plain http: the call can only fail if it is the
    // one that sends (the client's own agent would succeed).
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .https_only(true)
        .build()
        .into();
    let c = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(server.url())
        .http_client(agent)
        .build()
        .unwrap();
    let e = c.get_unread_model_alert_count().send().unwrap_err();
    assert!(matches!(e, seclai_blocking::Error::Transport(_)), "{e:?}");
    assert_eq!(server.hits(), 0);
}

#[test]
fn a_supplied_agent_that_follows_redirects_does_not_carry_the_key_away() {
    use seclai_testkit::raw::{RawServer, Script};
    let elsewhere = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let to = format!("{}/steal", elsewhere.url());
    let origin = RawServer::start(vec![Script::response(
        302,
        &[("location", to.as_str())],
        Vec::new(),
    )]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(5)
        .build()
        .into();
    let c = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key("sk-secret")
        .base_url(origin.url())
        .http_client(agent)
        .build()
        .unwrap();
    let e = c.get_unread_model_alert_count().send().unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(302));
    assert_eq!(elsewhere.hits(), 0, "the redirect was not followed");
}

#[test]
fn a_blocking_call_inside_a_tokio_runtime_works() {
    use seclai_testkit::raw::{RawServer, Script};
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 2}"#)]);
    let c = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(server.url())
        .build()
        .unwrap();
    let n = seclai_tests::rt()
        .block_on(async move { c.get_unread_model_alert_count().send() })
        .unwrap();
    assert_eq!(n.count, 2);
}
