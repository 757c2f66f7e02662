//! `seclai auth login` against the testkit's fake sign-in, the test acting
//! as the browser; then status, an SDK call with the cached token, logout.

mod common;

use common::{run, seclai};
use seclai_testkit::FakeSsoLogin;
use seclai_testkit::demo::DemoSeclai;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

/// A bare HTTP GET; returns the status line and the `Location` header.
fn get(url: &str) -> (String, Option<String>) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text.lines().next().unwrap_or("").to_string();
    let location = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .map(str::to_string);
    (status, location)
}

#[test]
fn login_writes_the_cache_the_sdk_reads() {
    let client_id = "cli-test-client";
    let sso = FakeSsoLogin::start(client_id);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("seclai-config");
    let env = |c: &mut std::process::Command| {
        c.env("SECLAI_CONFIG_DIR", &dir);
    };

    let mut cfg = seclai();
    env(&mut cfg);
    let r = run(
        cfg,
        &[
            "configure",
            "sso",
            "--sso-domain",
            "login.example.test",
            "--sso-client-id",
            client_id,
            "--sso-account-id",
            "acct-9",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut cmd = seclai();
    env(&mut cmd);
    let mut child = cmd
        .args([
            "--sso-base-url",
            &sso.url(),
            "auth",
            "login",
            "--no-browser",
            "--port",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = String::new();
    let mut seen = String::new();
    while !url.starts_with("http") {
        url.clear();
        assert!(
            stderr.read_line(&mut url).unwrap() > 0,
            "no URL printed: {seen}"
        );
        seen.push_str(&url);
        url = url.trim().to_string();
    }
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    // The browser: the hosted UI redirects to the loopback listener.
    let (status, location) = get(&url);
    assert!(status.contains("302"), "{status}");
    let (status, _) = get(&location.expect("a redirect"));
    assert!(status.contains("200"), "{status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{seen}{rest}");
    let token = sso.issued_tokens().pop().expect("a token was issued");
    assert!(!stdout.contains(&token) && !rest.contains(&token) && !seen.contains(&token));

    let cache = seclai_core::sso::cache_path(&dir, "login.example.test", client_id);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache), 0o600);
        assert_eq!(mode(cache.parent().unwrap()), 0o700);
    }

    // The SDK uses the cached sign-in.
    let demo = DemoSeclai::start();
    let client = seclai_blocking::Client::builder()
        .ignore_env()
        .config_dir(&dir)
        .base_url(demo.url())
        .build()
        .unwrap();
    client.get_agent("agent-1").send().unwrap();
    let sent = demo.requests().pop().unwrap();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(sent.header("x-account-id"), Some("acct-9"));

    let mut st = seclai();
    env(&mut st);
    let r = run(st, &["auth", "status"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (v["signed_in"].as_bool(), v["refresh_token"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(v["account_id"], "acct-9");
    assert!(!r.all_output().contains("fake-sso"), "no token in status");

    let mut lo = seclai();
    env(&mut lo);
    assert_eq!(run(lo, &["auth", "logout"]).code, 0);
    assert!(!cache.exists());
    let mut st = seclai();
    env(&mut st);
    assert_eq!(run(st, &["auth", "status"]).code, 3);
}

#[test]
fn a_wrong_state_is_refused() {
    let sso = FakeSsoLogin::start("c");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = seclai();
    let mut child = cmd
        .env("SECLAI_CONFIG_DIR", home.path())
        .env("SECLAI_SSO_CLIENT_ID", "c")
        .args([
            "--sso-base-url",
            &sso.url(),
            "auth",
            "login",
            "--no-browser",
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut url = String::new();
    while !url.starts_with("http") {
        url.clear();
        assert!(stderr.read_line(&mut url).unwrap() > 0);
        url = url.trim().to_string();
    }
    let redirect = url
        .split('&')
        .find_map(|kv| kv.strip_prefix("redirect_uri="))
        .map(|v| v.replace("%3A", ":").replace("%2F", "/"))
        .unwrap();
    let (status, _) = get(&format!("{redirect}?code=x&state=forged"));
    assert!(status.contains("400"), "{status}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(sso.issued_tokens().is_empty());
}
