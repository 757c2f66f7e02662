//! A few checks of this transport against a one-thread loopback server; the
//! behaviour shared with the async client is tested in the workspace suite.

use crate::{Client, Error, TransportKind};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

const AGENT: &str = r#"{"id":"a1","name":"Agent one","description":null,
    "created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-02T00:00:00Z"}"#;

/// A canned HTTP/1.1 answer that closes the connection.
fn answer(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut s = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

/// Serves `answers` in order, one connection each; the handle yields the
/// request heads received (lower-cased header names as sent).
fn serve(answers: Vec<String>) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for a in answers {
            let (mut conn, _) = listener.accept().unwrap();
            heads.push(read_head(&mut conn));
            conn.write_all(a.as_bytes()).unwrap();
            conn.flush().unwrap();
        }
        heads
    });
    (base, handle)
}

fn read_head(conn: &mut TcpStream) -> String {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "client closed before the end of the head");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).unwrap()
}

fn client(base: &str) -> Client {
    Client::builder()
        .api_key("sk-test")
        .base_url(base)
        .ignore_env()
        .build()
        .unwrap()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn get_agent_sends_the_sdk_headers_and_decodes() {
    let (base, server) = serve(vec![answer(
        "200 OK",
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req-1"),
        ],
        AGENT,
    )]);
    let r = client(&base).get_agent("a1").send_with_meta().unwrap();
    assert_eq!(r.value.id, "a1");
    assert_eq!(r.value.name, "Agent one");
    assert_eq!(r.request_id.as_deref(), Some("req-1"));

    let heads = server.join().unwrap();
    let head = &heads[0];
    assert!(head.starts_with("GET /agents/a1 HTTP/1.1\r\n"), "{head}");
    assert_eq!(header(head, "x-api-key"), Some("sk-test"));
    assert_eq!(header(head, "seclai-version"), crate::DEFAULT_VERSION);
    assert!(
        header(head, "user-agent")
            .unwrap()
            .starts_with("seclai-rs/"),
        "{head}"
    );
    assert_eq!(header(head, "accept"), Some("application/json"));
    assert_eq!(
        header(head, "content-length"),
        None,
        "a GET goes without a body"
    );
}

#[test]
fn get_is_retried_after_503_and_errors_keep_their_details() {
    let (base, server) = serve(vec![
        answer("503 Service Unavailable", &[("retry-after", "0")], ""),
        answer("200 OK", &[("content-type", "application/json")], AGENT),
        answer(
            "404 Not Found",
            &[
                ("content-type", "application/json"),
                ("x-request-id", "req-404"),
            ],
            r#"{"detail":"no such agent"}"#,
        ),
    ]);
    let c = client(&base);
    assert_eq!(c.get_agent("a1").send().unwrap().id, "a1");
    let e = c.get_agent("a2").send().unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(e.request_id(), Some("req-404"));

    let heads = server.join().unwrap();
    assert_eq!(heads.len(), 3);
    assert!(heads[0].starts_with("GET /agents/a1 "));
    assert!(heads[1].starts_with("GET /agents/a1 "));
    assert!(heads[2].starts_with("GET /agents/a2 "));
}

#[test]
fn raw_post_sends_json_and_refused_connections_are_connect_errors() {
    let (base, server) = serve(vec![answer(
        "200 OK",
        &[("content-type", "text/plain")],
        "done",
    )]);
    let v = client(&base)
        .request(http::Method::POST, "/things")
        .query("dry run", true)
        .json(&serde_json::json!({"a": 1}))
        .send()
        .unwrap();
    assert_eq!(v, serde_json::json!("done"));
    let head = &server.join().unwrap()[0];
    assert!(
        head.starts_with("POST /things?dry%20run=true HTTP/1.1\r\n"),
        "{head}"
    );
    assert_eq!(header(head, "content-type"), Some("application/json"));
    assert_eq!(header(head, "content-length"), Some("7"));

    // A port nobody listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let e = client(&closed)
        .get_agent("a1")
        .max_retries(0)
        .send()
        .unwrap_err();
    match e {
        Error::Transport(t) => {
            assert_eq!(t.kind, TransportKind::Connect, "{t}");
            assert!(!t.maybe_sent);
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn the_per_call_timeout_ends_a_silent_attempt() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        read_head(&mut conn);
        // Say nothing until the client gives up and closes.
        let _ = conn.read(&mut [0u8; 16]);
    });
    let started = std::time::Instant::now();
    let e = client(&base)
        .get_agent("a1")
        .timeout(Duration::from_millis(200))
        .max_retries(0)
        .send()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match e {
        Error::Transport(t) => {
            assert_eq!(t.kind, TransportKind::Timeout, "{t}");
            assert!(t.maybe_sent);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn works_inside_an_async_runtime() {
    let (base, server) = serve(vec![answer(
        "200 OK",
        &[("content-type", "application/json")],
        AGENT,
    )]);
    let c = client(&base);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let agent = rt
        .block_on(async move { c.get_agent("a1").send() })
        .unwrap();
    assert_eq!(agent.id, "a1");
    server.join().unwrap();
}

#[test]
fn clients_are_cheap_clones_and_builders_check_inputs() {
    let c = client("http://127.0.0.1:9");
    let d = c.clone();
    assert!(std::ptr::eq(c.config(), d.config()));
    let proxied = Client::builder()
        .api_key("k")
        .ignore_env()
        .proxy("http://127.0.0.1:3128")
        .build()
        .unwrap();
    assert_eq!(
        proxied.http_client().config().proxy().map(|p| p.port()),
        Some(3128)
    );
    let e = Client::builder()
        .api_key("k")
        .ignore_env()
        .add_root_certificate_pem("not a certificate")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
}
