//! No secret reaches a log record at any level, from the SDK or from the
//! HTTP libraries under it (ureq dumps every byte on the wire at TRACE
//! through `log`: the blocking client's default `quiet-wire-log` feature
//! compiles that level out), nor an error's text when a server echoes it.

use seclai_testkit::hostile::{Hostile, HostileServer};
use seclai_testkit::raw::{RawServer, Script};
use std::sync::{Arc, Mutex};

const KEY: &str = "sk-live-9f8e7d6c5b4a";

struct Capture(Arc<Mutex<Vec<String>>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

#[test]
fn no_secret_in_any_log_record_at_trace_on_either_client() {
    let logs = Arc::new(Mutex::new(Vec::new()));
    log::set_logger(Box::leak(Box::new(Capture(logs.clone())))).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let spans = seclai_tests::spans::SpanRecorder::default();
    tracing::subscriber::set_global_default(spans.clone()).unwrap();

    let ok = RawServer::start(vec![Script::json(200, r#"{"count": 1}"#)]);
    let echo = HostileServer::start(Hostile::EchoHeaders);
    let mut errors = Vec::new();
    for url in [ok.url(), echo.url()] {
        let b = seclai_blocking::Client::builder()
            .ignore_env()
            .api_key(KEY)
            .base_url(url.clone())
            .build()
            .unwrap();
        if let Err(e) = b.get_unread_model_alert_count().send() {
            errors.push(format!("{e} {e:?}"));
        }
        let a = seclai::Client::builder()
            .ignore_env()
            .api_key(KEY)
            .base_url(url)
            .build()
            .unwrap();
        if let Err(e) = seclai_tests::rt().block_on(a.get_unread_model_alert_count().send()) {
            errors.push(format!("{e} {e:?}"));
        }
    }
    assert_eq!(errors.len(), 2, "the echoing server's answers are errors");
    for e in &errors {
        assert!(e.contains("you sent"), "the echoed text is kept: {e}");
        assert!(!e.contains(KEY), "the key is masked in the error: {e}");
    }

    let logs = logs.lock().unwrap().clone();
    assert!(
        logs.iter().any(|l| l.contains("ureq")),
        "the logger saw ureq's records, so it would see a leak: {logs:?}"
    );
    // ureq-proto's wire dump prints 16 bytes a line (hex, then the same
    // bytes as text): join the text columns so a key split across lines
    // is still found.
    let wire: String = logs
        .iter()
        .filter(|l| l.contains("ureq_proto"))
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            chars[chars.len().saturating_sub(16)..]
                .iter()
                .collect::<String>()
        })
        .collect();
    assert!(!wire.contains(KEY), "ureq's wire dump holds the key");
    let events = spans.events();
    assert!(!events.is_empty(), "the subscriber saw events");
    for line in logs.iter().chain(events.iter()) {
        assert!(!line.contains(KEY), "a log record holds the key: {line}");
        assert!(
            !line.contains(&KEY[..12]),
            "a log record holds part of the key: {line}"
        );
    }
}
