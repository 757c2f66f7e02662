//! End-to-end runs of the `seclai` binary against the testkit's servers:
//! one per command kind, body sources, exit-code classes, secrets, pipes.

mod common;

use common::{SECRET_KEY, against, run, run_stdin, seclai};
use seclai_testkit::demo::DemoSeclai;
use seclai_testkit::{RawServer, Script, SseScript};
use serde_json::Value;
use std::time::Duration;

fn demo() -> DemoSeclai {
    let d = DemoSeclai::start();
    d.set_token_delay(Duration::ZERO);
    d
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn json_command_prints_the_answer() {
    let d = demo();
    let r = run(against(&d.url()), &["get-agent", "agent-2", "--compact"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    assert_eq!(v["name"], "Invoice reader");
    assert_eq!(r.stdout.lines().count(), 1, "compact is one line");
    let r = run(against(&d.url()), &["get-agent", "agent-2", "--pretty"]);
    assert!(r.stdout.lines().count() > 3, "pretty is indented");
}

#[test]
fn optional_flags_go_to_the_query() {
    let d = demo();
    let r = run(
        against(&d.url()),
        &["list-agents", "--limit", "2", "--page", "2"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let req = d.requests().into_iter().last().unwrap();
    assert_eq!(req.path_and_query, "/agents?page=2&limit=2");
}

#[test]
fn all_walks_every_page_one_item_per_line() {
    let d = demo();
    let r = run(against(&d.url()), &["list-agents", "--all", "--limit", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ids: Vec<String> = r
        .stdout
        .lines()
        .map(|l| json(l)["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 7, "{}", r.stdout);
    assert_eq!(ids[6], "agent-7");
    assert!(d.requests().len() >= 3, "three pages of three");
}

#[test]
fn streaming_run_prints_tokens_events_or_the_final_run() {
    let d = demo();
    let r = run(
        against(&d.url()),
        &["run-streaming-agent", "agent-1", "--input", "ping"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("You asked:") && r.stdout.contains("ping"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.trim_start().starts_with('{'), "tokens, not JSON");

    let r = run(
        against(&d.url()),
        &["run-streaming-agent", "agent-1", "--input", "x", "--events"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names: Vec<String> = r
        .stdout
        .lines()
        .map(|l| json(l)["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("init"));
    assert_eq!(names.last().map(String::as_str), Some("done"));
    assert!(names.iter().any(|n| n == "stream_token"));

    let r = run(
        against(&d.url()),
        &[
            "run-streaming-agent",
            "agent-1",
            "--set",
            "input=y",
            "--wait",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["status"], "completed");
}

#[test]
fn a_failed_streamed_run_exits_7() {
    let run_id = "run-f";
    let failed = seclai_testkit::sse::run_object(run_id, "a", "failed", None);
    let script = SseScript::new()
        .event_json(
            "init",
            &seclai_testkit::sse::run_object(run_id, "a", "processing", None),
        )
        .event_json("done", &failed)
        .into_script();
    let server = RawServer::start(vec![script]);
    let r = run(
        against(&server.url()),
        &["run-streaming-agent", "a", "--input", "x"],
    );
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
}

#[test]
fn run_agent_poll_waits_for_a_terminal_status() {
    let d = demo();
    let r = run(
        against(&d.url()),
        &["run-agent", "agent-1", "--input", "hi", "--poll"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["status"], "completed");
    let polls = d
        .requests()
        .iter()
        .filter(|q| q.path().starts_with("/agents/runs/"))
        .count();
    assert!(polls >= 2, "polled until completed");
}

#[test]
fn upload_streams_the_file_as_multipart() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "hello upload\n").unwrap();
    let r = run(
        against(&d.url()),
        &[
            "upload-file-to-source",
            "src-1",
            file.to_str().unwrap(),
            "--title",
            "Q3 notes",
            "--metadata",
            "{\"k\":1}",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(json(&r.stdout).is_object());
    let req = d.requests().into_iter().last().unwrap();
    assert_eq!(req.path(), "/sources/src-1/upload");
    let body = req.body_text();
    assert!(
        body.contains("hello upload") && body.contains("Q3 notes") && body.contains("\"k\""),
        "{body}"
    );
    let r = run(
        against(&d.url()),
        &["upload-file-to-source", "src-1", "/no/such/file"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn download_writes_the_file_or_stdout() {
    let d = demo();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("export.jsonl");
    let r = run(
        against(&d.url()),
        &[
            "download-source-export",
            "src-1",
            "exp-1",
            "-o",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(&target).unwrap();
    assert!(bytes.len() > 100_000);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
    let r = run(
        against(&d.url()),
        &["download-source-export", "src-1", "exp-1", "-o", "-"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.len(), bytes.len());
}

fn created_body(d: &DemoSeclai) -> Value {
    let req = d
        .requests()
        .into_iter()
        .rfind(|q| q.method == "POST")
        .expect("a POST");
    json(&req.body_text())
}

#[test]
fn body_from_inline_file_stdin_and_set() {
    let d = demo();
    let r = run(
        against(&d.url()),
        &[
            "create-agent",
            "--body",
            "{\"name\":\"inline\"}",
            "--set",
            "description=from set",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = created_body(&d);
    assert_eq!(
        (b["name"].as_str(), b["description"].as_str()),
        (Some("inline"), Some("from set"))
    );

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body.json");
    std::fs::write(&f, "{\"name\":\"from file\"}").unwrap();
    let at = format!("@{}", f.display());
    let r = run(against(&d.url()), &["create-agent", "--body", &at]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(created_body(&d)["name"], "from file");

    let r = run_stdin(
        against(&d.url()),
        &["create-agent", "--body", "-"],
        "{\"name\":\"from stdin\"}",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(created_body(&d)["name"], "from stdin");

    let r = run(
        against(&d.url()),
        &["create-agent", "--set", "name=just set"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(created_body(&d)["name"], "just set");
}

#[test]
fn bad_input_is_a_usage_error_and_nothing_is_sent() {
    let d = demo();
    let cases: &[&[&str]] = &[
        &["no-such-command"],
        &["get-agent"],
        &["list-agents", "--no-such-flag"],
        &["list-agents", "--limit", "many"],
        &["list-agents", "--limit", "500"],
        &["list-agents", "--page", "0"],
        &["create-agent", "--body", "{not json"],
        &["create-agent", "--body", "[1,2]"],
        &["create-agent", "--body", "@/no/such/file.json"],
        &["create-agent", "--set", "novalue"],
        &["create-agent", "--body", "{}"],
        &["get-agent", "a", "--timeout", "soon"],
        &["get-agent", "a", "--header", "no-colon"],
    ];
    for args in cases {
        let r = run(against(&d.url()), args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.trim().is_empty(), "{args:?} says what is wrong");
        assert!(r.stdout.is_empty(), "{args:?}");
    }
    assert!(d.requests().is_empty(), "nothing was sent");
}

#[test]
fn exit_codes_per_error_class() {
    let d = demo();
    // 4xx
    let r = run(against(&d.url()), &["get-agent", "missing"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1);
    assert!(
        r.stderr.contains("404") && r.stderr.contains("request id"),
        "{}",
        r.stderr
    );
    // 5xx
    let server = RawServer::start(vec![Script::json(
        503,
        "{\"error\":{\"code\":\"down\",\"message\":\"maintenance\"}}",
    )]);
    let r = run(
        against(&server.url()),
        &["--max-retries", "0", "get-agent", "a"],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains("503") && r.stderr.contains("down"),
        "{}",
        r.stderr
    );
    // transport
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let r = run(against(&url), &["--max-retries", "0", "get-agent", "a"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    // configuration / credentials
    let r = run(seclai(), &["--api-url", &d.url(), "get-agent", "a"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("seclai auth login"), "{}", r.stderr);
}

#[test]
fn no_secret_on_any_output() {
    let d = demo();
    let runs = [
        run(
            seclai().env("SECLAI_API_KEY", SECRET_KEY),
            &["--api-url", &d.url(), "-vv", "get-agent", "agent-1"],
        ),
        run(
            seclai(),
            &[
                "--api-url",
                &d.url(),
                "--api-key",
                SECRET_KEY,
                "-v",
                "list-agents",
            ],
        ),
        run(
            seclai(),
            &[
                "--api-url",
                &d.url(),
                &format!("--api-key={SECRET_KEY}"),
                "get-agent",
                "x",
            ],
        ),
        run(
            seclai(),
            &[
                "--api-url",
                "not a url",
                "--api-key",
                SECRET_KEY,
                "get-agent",
                "x",
            ],
        ),
        run(
            seclai(),
            &[
                "--api-url",
                &d.url(),
                "--api-key",
                SECRET_KEY,
                "--header",
                &format!("x-echo:{SECRET_KEY}"),
                "get-agent",
                "x",
            ],
        ),
    ];
    assert_eq!(runs[0].code, 4, "wrong key: 401");
    for r in &runs {
        assert!(
            !r.all_output().contains(SECRET_KEY),
            "secret printed: {}",
            r.all_output()
        );
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    let d = demo();
    let mut child = against(&d.url())
        .args(["download-source-export", "s", "e", "-o", "-"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_download_leaves_no_file() {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/zip\r\ncontent-length: 1000000\r\n\r\n";
    let server = RawServer::start(vec![
        Script::new()
            .write(head)
            .write(vec![b'x'; 4096])
            .then_hang(),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.zip");
    let child = against(&server.url())
        .args([
            "download-source-export",
            "s",
            "e",
            "-o",
            target.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary file appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: sending SIGINT to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGINT));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn version_names_the_pinned_api_version() {
    let r = run(seclai(), &["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(env!("CARGO_PKG_VERSION")));
    assert!(
        r.stdout
            .contains(seclai_gen::DEFAULT_VERSION.unwrap_or("unpinned"))
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(seclai(), &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("list-agents"), "{shell}");
    }
    assert_eq!(run(seclai(), &["completions", "tcsh"]).code, 2);
}

#[test]
fn help_command_shows_method_path_and_inputs() {
    let r = run(seclai(), &["help", "list-agents"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("GET /agents\n"), "{}", r.stdout);
    assert!(r.stdout.contains("--limit") && r.stdout.contains("--all"));
    let r = run(seclai(), &["help", "cancel-agent-run"]);
    assert!(
        r.stdout.contains("same as delete-agent-run"),
        "{}",
        r.stdout
    );
}

#[test]
fn snapshot_of_help_and_command_list() {
    let help = run(seclai(), &["--help"]);
    assert_eq!(help.code, 0);
    insta::assert_snapshot!("help", help.stdout);
    let list = run(seclai(), &["commands"]);
    assert_eq!(list.code, 0);
    let ops = seclai_gen::for_each_operation!(count_ops);
    assert_eq!(
        list.stdout.lines().count(),
        ops,
        "every operation is a command"
    );
    insta::assert_snapshot!("commands", list.stdout);
}

macro_rules! count_ops {
    ($( ($($t:tt)*); )*) => { 0usize $(+ { stringify!($($t)*); 1 })* };
}
use count_ops;
