//! The behaviour suite against the blocking client.

macro_rules! send {
    ($call:expr) => {
        $call.send()
    };
}
macro_rules! send_meta {
    ($call:expr) => {
        $call.send_with_meta()
    };
}

macro_rules! run {
    ($call:expr) => {
        $call
    };
}
macro_rules! stream_all {
    ($open:expr) => {
        $open.send().map(|stream| stream.collect::<Vec<_>>())
    };
}
macro_rules! final_run {
    ($open:expr) => {
        $open.send().and_then(|stream| stream.final_run())
    };
}

macro_rules! collect_items {
    ($iter:expr) => {
        $iter.collect::<Result<Vec<_>, _>>()
    };
}

seclai_tests::behaviour_suite!(seclai_blocking);

#[test]
fn a_supplied_ureq_agent_is_used() {
    use seclai_testkit::raw::{RawServer, Script};
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .user_agent("custom-agent/1")
        .build()
        .into();
    let c = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(server.url())
        .http_client(agent)
        .build()
        .unwrap();
    c.get_unread_model_alert_count().send().unwrap();
    assert_eq!(server.hits(), 1);
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
