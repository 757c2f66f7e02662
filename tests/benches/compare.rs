//! Benchmarks that print ratios against a baseline measured in the same run
//! (never timed tests). `cargo xtask bench` runs them; `-- --quick` is the
//! smoke mode CI uses (small counts, figures not meaningful).
//!
//! - GET an agent N times: `seclai` vs plain `reqwest`, `seclai-blocking`
//!   vs plain `ureq`, same headers, decoding into the same type.
//! - SSE decoding of a ~10 MB recorded run stream: our decoder vs the
//!   `eventsource-stream` crate on the same bytes.
//! - Peak memory of a 200 MiB upload from disk and a 200 MiB download to
//!   disk on both clients (each in a child process, RSS growth over the
//!   process's own baseline).

use seclai_tests::rt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const AGENT: &str = r#"{"id":"a1","name":"Bench agent","description":"d","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","prompt_model_auto_upgrade_strategy":"none","trigger_type":"manual","evaluation_mode":"off","max_retries":3,"retry_on_failure":true,"disabled":false}"#;

static CONNECTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn connections() -> usize {
    CONNECTIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A keep-alive HTTP/1.1 server: a path ending in `/download` streams
/// `download_bytes` bytes,
/// anything with a body is read and discarded, everything else gets AGENT.
fn server(download_bytes: u64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::thread::spawn(move || {
                let _ = serve(conn, download_bytes);
            });
        }
    });
    url
}

fn serve(conn: TcpStream, download_bytes: u64) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut len = 0u64;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink())?;
        if path.ends_with("/download") {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {download_bytes}\r\n\r\n"
            )?;
            let chunk = vec![b'z'; 64 * 1024];
            let mut left = download_bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..n])?;
                left -= n as u64;
            }
        } else if len > 0 {
            let body = r#"{"filename":"f","status":"processing","source_connection_content_version":"v","content_version_id":"v"}"#;
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )?;
        } else {
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{AGENT}",
                AGENT.len()
            )?;
        }
        out.flush()?;
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Alternate rounds of the two contenders; per-request medians.
fn compare(
    rounds: usize,
    n: usize,
    mut ours: impl FnMut(),
    mut base: impl FnMut(),
) -> (Duration, Duration) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    ours();
    base();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            ours();
        }
        a.push(t.elapsed() / n as u32);
        let t = Instant::now();
        for _ in 0..n {
            base();
        }
        b.push(t.elapsed() / n as u32);
    }
    (median(a), median(b))
}

fn row(name: &str, ours: Duration, base: Duration, baseline: &str) {
    println!(
        "| {name} | {:.1} µs | {:.1} µs ({baseline}) | {:.3}× |",
        ours.as_secs_f64() * 1e6,
        base.as_secs_f64() * 1e6,
        ours.as_secs_f64() / base.as_secs_f64()
    );
}

fn version() -> &'static str {
    seclai::DEFAULT_VERSION.unwrap_or("")
}

/// The GET contenders against `url`: seclai, plain reqwest, seclai-blocking,
/// plain ureq (same headers, same decode), and plain reqwest with the same
/// 60 s overall timeout seclai sets by default (a timer per request).
fn get_contenders(url: &str, rt: &'static tokio::runtime::Runtime) -> [Box<dyn FnMut()>; 5] {
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(url)
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let target = format!("{url}/agents/a1");
    let target2 = target.clone();
    let blocking = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(url)
        .build()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let timed = reqwest::Client::new();
    let target3 = target.clone();
    [
        Box::new(move || {
            rt.block_on(client.get_agent("a1").send()).unwrap();
        }),
        Box::new(move || rt.block_on(plain_reqwest_get(&http, &target, None))),
        Box::new(move || {
            blocking.get_agent("a1").send().unwrap();
        }),
        Box::new(move || {
            let mut r = agent
                .get(&target2)
                .header("x-api-key", "k")
                .header("seclai-version", version())
                .header("accept", "application/json")
                .header("user-agent", "seclai-rs/bench")
                .call()
                .unwrap();
            let bytes = r.body_mut().read_to_vec().unwrap();
            let _: seclai::types::AgentSummaryResponse = serde_json::from_slice(&bytes).unwrap();
        }),
        Box::new(move || {
            rt.block_on(plain_reqwest_get(
                &timed,
                &target3,
                Some(Duration::from_secs(60)),
            ))
        }),
    ]
}

/// The baseline GET: the headers seclai sends, the same decode.
async fn plain_reqwest_get(http: &reqwest::Client, target: &str, timeout: Option<Duration>) {
    let mut req = http
        .get(target)
        .header("x-api-key", "k")
        .header("seclai-version", version())
        .header("accept", "application/json")
        .header("user-agent", "seclai-rs/bench");
    if let Some(t) = timeout {
        req = req.timeout(t);
    }
    let bytes = req.send().await.unwrap().bytes().await.unwrap();
    let _: seclai::types::AgentSummaryResponse = serde_json::from_slice(&bytes).unwrap();
}

fn bench_gets(quick: bool) {
    let (rounds, n) = if quick { (3, 20) } else { (7, 2000) };
    let url = server(0);
    let [mut ours, mut base, blocking, ureq_base, mut timed] = get_contenders(&url, rt());
    let (a, b) = compare(rounds, n, &mut ours, &mut base);
    row("async GET agent (seclai)", a, b, "plain reqwest");
    let (a, b) = compare(rounds, n, &mut ours, &mut timed);
    row(
        "async GET agent (seclai)",
        a,
        b,
        "plain reqwest, same 60 s timeout",
    );
    let (a, b) = compare(rounds, n, blocking, ureq_base);
    row("blocking GET agent (seclai-blocking)", a, b, "plain ureq");
    println!(
        "(server accepted {} connections for {} requests: keep-alive check)",
        connections(),
        6 * (rounds * n + 1)
    );
}

/// `--only K N`: run contender K (0 seclai, 1 reqwest, 2 seclai-blocking,
/// 3 ureq, 4 reqwest with a timeout) N times and nothing else, on a current-thread runtime so that the
/// instruction count is repeatable.
fn only(which: usize, n: usize) {
    let url = server(0);
    let rt = Box::leak(Box::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    ));
    let mut contenders = get_contenders(&url, rt);
    let f = &mut contenders[which];
    for _ in 0..n {
        f();
    }
}

/// Instructions one GET costs, client and server together: the count of
/// `--only K 1200` minus that of `--only K 200`, over 1000, under
/// `valgrind --tool=callgrind` (repeatable where wall time is not). `None`
/// when valgrind is not installed.
fn instructions_per_get(which: usize) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let count = |n: usize| -> Option<f64> {
        let out = std::process::Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(&exe)
            .args(["--only", &which.to_string(), &n.to_string()])
            .output()
            .ok()?;
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err.lines().find(|l| l.contains("Collected :"))?;
        line.rsplit(' ').next()?.trim().parse().ok()
    };
    Some((count(1200)? - count(200)?) / 1000.0)
}

fn bench_instructions() {
    let rows = [
        (
            "async GET agent, instructions (seclai)",
            0,
            1,
            "plain reqwest",
        ),
        (
            "async GET agent, instructions (seclai)",
            0,
            4,
            "plain reqwest, same 60 s timeout",
        ),
        (
            "blocking GET agent, instructions (seclai-blocking)",
            2,
            3,
            "plain ureq",
        ),
    ];
    for (name, ours, base, baseline) in rows {
        let (Some(ours), Some(base)) = (instructions_per_get(ours), instructions_per_get(base))
        else {
            println!("| {name} | (valgrind not installed: skipped) | | |");
            return;
        };
        println!(
            "| {name} | {:.1} k/req | {:.1} k/req ({baseline}) | {:.3}× |",
            ours / 1e3,
            base / 1e3,
            ours / base
        );
    }
}

fn recorded_stream(target_bytes: usize) -> Vec<u8> {
    let mut s = String::new();
    s.push_str(": keepalive\n\nevent: init\ndata: {\"run_id\":\"r1\",\"status\":\"pending\"}\n\n");
    let mut i = 0usize;
    while s.len() < target_bytes {
        s.push_str(&format!(
            "event: stream_token\ndata: {{\"run_id\":\"r1\",\"token\":\"tok{i} \"}}\n\n"
        ));
        if i.is_multiple_of(50) {
            s.push_str(": keepalive\n\n");
        }
        i += 1;
    }
    s.push_str("event: done\ndata: {\"run_id\":\"r1\",\"status\":\"completed\"}\n\n");
    s.into_bytes()
}

fn bench_sse(quick: bool) {
    let bytes = recorded_stream(if quick { 200_000 } else { 10_000_000 });
    let chunks: Vec<bytes::Bytes> = bytes
        .chunks(16 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    let rounds = if quick { 3 } else { 9 };
    let ours = || {
        let mut d = seclai_core::SseDecoder::new();
        let mut n = 0usize;
        for c in &chunks {
            n += d.push(c).len();
        }
        n += d.finish().len();
        assert!(n > 10);
    };
    let theirs = || {
        use eventsource_stream::Eventsource;
        use futures_util::StreamExt;
        let s = futures_util::stream::iter(
            chunks
                .iter()
                .cloned()
                .map(Ok::<_, std::convert::Infallible>),
        );
        let n = rt().block_on(s.eventsource().count());
        assert!(n > 10);
    };
    let (a, b) = compare(rounds, 1, ours, theirs);
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "| SSE decode {:.1} MB | {:.0} MB/s | {:.0} MB/s (eventsource-stream) | {:.3}× time |",
        mb,
        mb / a.as_secs_f64(),
        mb / b.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64()
    );
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: one transfer, then print `baseline_kib peak_kib`.
fn child(kind: &str, size: u64) {
    let dir = tempfile::tempdir().unwrap();
    let url = server(size);
    let file = dir.path().join("upload.bin");
    if kind.ends_with("upload") {
        let mut f = std::fs::File::create(&file).unwrap();
        let chunk = vec![b'u'; 1 << 20];
        for _ in 0..(size >> 20) {
            f.write_all(&chunk).unwrap();
        }
    }
    let target = dir.path().join("download.bin");
    let a = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(&url)
        .build()
        .unwrap();
    let b = seclai_blocking::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(&url)
        .build()
        .unwrap();
    // Warm up both stacks so the baseline includes their fixed costs.
    rt().block_on(a.get_agent("a1").send()).unwrap();
    b.get_agent("a1").send().unwrap();
    // Reset the peak (VmHWM) to the current RSS so setup is not counted.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let baseline = rss_kib("VmRSS:");
    match kind {
        "async-upload" => {
            rt().block_on(
                a.upload_file_to_source("s", seclai::Upload::path(&file).unwrap())
                    .send(),
            )
            .unwrap();
        }
        "blocking-upload" => {
            b.upload_file_to_source("s", seclai_blocking::Upload::path(&file).unwrap())
                .send()
                .unwrap();
        }
        "async-download" => {
            rt().block_on(async {
                a.download_source_export("s", "e")
                    .await?
                    .write_to(&target)
                    .await
            })
            .unwrap();
        }
        _ => {
            b.download_source_export("s", "e")
                .send()
                .unwrap()
                .write_to(&target)
                .unwrap();
        }
    }
    let peak = rss_kib("VmHWM:");
    if kind.ends_with("download") {
        // The figure means nothing unless the whole body went through.
        assert_eq!(std::fs::metadata(&target).unwrap().len(), size);
    }
    println!("{baseline} {peak}");
}

fn bench_memory(quick: bool) {
    let size: u64 = if quick { 16 << 20 } else { 200 << 20 };
    let exe = std::env::current_exe().unwrap();
    for kind in [
        "async-upload",
        "blocking-upload",
        "async-download",
        "blocking-download",
    ] {
        let out = std::process::Command::new(&exe)
            .args(["--child", kind, &size.to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let nums: Vec<u64> = text
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        if nums.len() != 2 {
            println!(
                "| {kind} | failed: {} |",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            continue;
        }
        println!(
            "| {kind} {} MiB | peak RSS +{:.2} MiB over the process baseline ({:.1} MiB) | | |",
            size >> 20,
            nums[1].saturating_sub(nums[0]) as f64 / 1024.0,
            nums[0] as f64 / 1024.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--only") {
        only(args[i + 1].parse().unwrap(), args[i + 2].parse().unwrap());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    println!("| benchmark | ours | baseline | ratio |\n|---|---|---|---|");
    bench_gets(quick);
    if !quick {
        bench_instructions();
    }
    bench_sse(quick);
    bench_memory(quick);
    if quick {
        println!("(quick mode: smoke run only, figures are not meaningful)");
    }
}
