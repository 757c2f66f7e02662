//! Tests of what only the async client has (a supplied `reqwest::Client`,
//! an async token provider, spawnable calls); the shared suite is in
//! `suite.rs`.

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
    seclai_tests::rt()
        .block_on(c.get_unread_model_alert_count().send())
        .unwrap();
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
    seclai_tests::rt()
        .block_on(c.get_unread_model_alert_count().send())
        .unwrap();
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

#[test]
fn uploads_and_downloads_work_on_a_current_thread_runtime() {
    // File I/O goes to the blocking pool, which a current-thread runtime
    // has too; nothing may assume worker threads.
    use seclai_testkit::raw::{RawServer, Script};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let payload = vec![3u8; 700_000];
    let server = RawServer::start(vec![
        Script::json(200, r#"{"filename":"f.bin","status":"processing"}"#),
        Script::response(200, &[("content-type", "application/zip")], payload.clone()),
    ]);
    let c = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(server.url())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f.bin");
    std::fs::write(&src, &payload).unwrap();
    let target = dir.path().join("out.zip");
    rt.block_on(async {
        let up = seclai::Upload::path(&src).unwrap();
        c.upload_file_to_source("s", up).await.unwrap();
        let dl = c.download_source_export("s", "e").await.unwrap();
        dl.write_to(&target).await.unwrap();
    });
    let sent = &server.requests()[0].body;
    assert!(sent.windows(payload.len()).any(|w| w == payload.as_slice()));
    assert_eq!(std::fs::read(&target).unwrap(), payload);
}
