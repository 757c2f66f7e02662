//! The behaviour suite against the async client.

macro_rules! send {
    ($call:expr) => {
        seclai_tests::rt().block_on(async { $call.await })
    };
}
macro_rules! send_meta {
    ($call:expr) => {
        seclai_tests::rt().block_on(async { $call.send_with_meta().await })
    };
}

macro_rules! run {
    ($fut:expr) => {
        seclai_tests::rt().block_on(async { $fut.await })
    };
}
macro_rules! stream_all {
    ($open:expr) => {
        seclai_tests::rt().block_on(async {
            use futures_util::StreamExt;
            let stream = $open.await?;
            Ok::<_, seclai::Error>(stream.collect::<Vec<_>>().await)
        })
    };
}
macro_rules! final_run {
    ($open:expr) => {
        seclai_tests::rt().block_on(async { $open.await?.final_run().await })
    };
}

macro_rules! collect_items {
    ($stream:expr) => {
        seclai_tests::rt().block_on(async {
            use futures_util::TryStreamExt;
            $stream.try_collect::<Vec<_>>().await
        })
    };
}

seclai_tests::behaviour_suite!(seclai);

#[test]
fn a_supplied_reqwest_client_is_used() {
    use seclai_testkit::raw::{RawServer, Script};
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-from-custom-client", "yes".parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let c = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(server.url())
        .http_client(http)
        .build()
        .unwrap();
    send!(c.get_unread_model_alert_count()).unwrap();
    assert_eq!(
        server.requests()[0].header("x-from-custom-client"),
        Some("yes")
    );
}

#[test]
fn async_token_provider_is_awaited_per_request() {
    use seclai_testkit::raw::{RawServer, Script};
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let c = seclai::Client::builder()
        .ignore_env()
        .base_url(server.url())
        .async_token_provider(|| async { Ok::<_, std::io::Error>("async-tok".to_string()) })
        .build()
        .unwrap();
    send!(c.get_unread_model_alert_count()).unwrap();
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer async-tok")
    );
}

#[test]
fn calls_are_static_and_spawnable() {
    use seclai_testkit::raw::{RawServer, Script};
    let server = RawServer::start(vec![Script::json(200, r#"{"count": 4}"#)]);
    let c = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(server.url())
        .build()
        .unwrap();
    let handle = seclai_tests::rt().spawn(c.get_unread_model_alert_count().send());
    let n = seclai_tests::rt().block_on(handle).unwrap().unwrap();
    assert_eq!(n.count, 4);
}
