//! Benchmarks that print ratios against a baseline measured in the same run
//! (never timed tests). `cargo xtask bench` runs them; `-- --quick` is the
//! smoke mode CI uses (small counts, figures not meaningful).
//!
//! - GET an agent N times: `seclai` vs plain `reqwest`, `seclai-blocking`
//!   vs plain `ureq`, same headers, decoding into the same type.
//! - SSE decoding of a ~10 MB recorded run stream: our decoder vs the
//!   `eventsource-stream` crate on the same bytes.
//! - Client CPU per event of a streamed run (`run_streaming_agent` with
//!   every token delivered, and `run_streaming_agent_and_wait`), blocking
//!   client and async client on a current-thread and a multi-thread tokio
//!   runtime, against the same bytes read by plain reqwest/ureq (the
//!   transport floor) and by `eventsource-stream` + `serde_json::Value`.
//! - Peak memory and client CPU of a 200 MiB upload from disk and a 200 MiB
//!   download to disk on both clients (each in a child process, RSS growth
//!   over the process's own baseline), and memory per open event stream
//!   with 1,000 streams open on one async client.
//!
//! CPU time is read from each thread's CPU clock (`clock_gettime`,
//! nanoseconds, up to date when read), leaving out the bench's own server
//! threads (named `srv`), so the figures are the client's alone.

use seclai::RunEvent;
use seclai::types::{AgentRunResponse, AgentRunStreamRequest};
use seclai_tests::rt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
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
    spawn_server_thread(move || {
        for conn in listener.incoming().flatten() {
            CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            spawn_server_thread(move || {
                let _ = serve(conn, download_bytes);
            });
        }
    });
    url
}

/// Server threads are named `srv` so that [`client_cpu`] leaves them out;
/// a small stack, since the memory bench holds 1,000 of them.
fn spawn_server_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name("srv".into())
        .stack_size(128 * 1024)
        .spawn(f)
        .unwrap();
}

/// The body of a streamed run with `tokens` tokens: `init`, the tokens,
/// `stream_end`, and a `done` whose output is the whole text (built once
/// per size and shared).
fn run_stream_body(tokens: usize) -> Arc<Vec<u8>> {
    static CACHE: OnceLock<Mutex<std::collections::HashMap<usize, Arc<Vec<u8>>>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(tokens)
        .or_insert_with(|| {
            let mut s = String::new();
            let mut text = String::new();
            s.push_str(&format!(
                ": keep-alive\n\nevent: init\ndata: {}\n\n",
                run_json("pending", "")
            ));
            for i in 0..tokens {
                let token = format!(" tok{}", i % 1000);
                s.push_str(&format!(
                    "event: stream_token\ndata: {{\"run_id\":\"run_1\",\"step_id\":\"s1\",\"token\":\"{token}\"}}\n\n"
                ));
                text.push_str(&token);
            }
            s.push_str("event: stream_end\ndata: {\"run_id\":\"run_1\",\"step_id\":\"s1\"}\n\n");
            s.push_str(&format!("event: done\ndata: {}\n\n", run_json("completed", &text)));
            Arc::new(s.into_bytes())
        })
        .clone()
}

fn run_json(status: &str, output: &str) -> String {
    format!(
        r#"{{"run_id":"run_1","agent_id":"a1","status":"{status}","output":{},"input":"hi","credits":null,"error_count":0,"priority":true,"attempts":[]}}"#,
        serde_json::to_string(output).unwrap()
    )
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
        if path == "/agents/hold/runs/stream" {
            // Held open until the client goes away: the open-stream bench.
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: init\ndata: {}\n\n",
                run_json("pending", "")
            )?;
            out.flush()?;
            std::io::copy(&mut reader, &mut std::io::sink())?;
            return Ok(());
        }
        if let Some(n) = path
            .strip_prefix("/agents/ev")
            .and_then(|p| p.strip_suffix("/runs/stream"))
        {
            let body = run_stream_body(n.parse().unwrap_or(0));
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )?;
            out.write_all(&body)?;
        } else if path.ends_with("/download") {
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

/// CPU time used so far by this process's threads, leaving out the bench
/// servers' (threads named `srv`): the sum of each thread's CPU clock
/// (`clock_gettime` on the thread's clock id), which the kernel brings up to
/// date when read. `/proc/*/schedstat` and `stat` are only brought up to
/// date at scheduler ticks (4 ms here), too coarse for stretches of a few
/// milliseconds. A thread that has exited no longer counts, so callers
/// subtract with `saturating_sub`.
fn client_cpu() -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    dir.flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim_end() != "srv")
        })
        .filter_map(|task| task.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(thread_cpu)
        .sum()
}

/// The CPU time of thread `tid` of this process, from its CPU clock: the
/// clock id glibc's `pthread_getcpuclockid` makes from a thread id (the
/// `CPUCLOCK_SCHED` clock of one thread).
fn thread_cpu(tid: libc::pid_t) -> Option<Duration> {
    let clock: libc::clockid_t = ((!tid) << 3) | 6;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid place for the answer; a thread that has
    // gone makes the call fail, nothing worse.
    let rc = unsafe { libc::clock_gettime(clock, &mut now) };
    (rc == 0).then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

/// Wall and client CPU time of one measured stretch.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
}

/// Runs `f` and returns what it cost.
fn cost(f: impl FnOnce()) -> Cost {
    let (t, c) = (Instant::now(), client_cpu());
    f();
    Cost {
        wall: t.elapsed(),
        cpu: client_cpu().saturating_sub(c),
    }
}

/// Runs each job `rounds` times, alternating, after one warm-up call each;
/// returns the median wall and CPU time per item (`items` per call).
fn costs(rounds: usize, items: usize, jobs: &mut [&mut dyn FnMut()]) -> Vec<Cost> {
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>)> = vec![Default::default(); jobs.len()];
    for job in jobs.iter_mut() {
        job();
    }
    for _ in 0..rounds {
        for (job, (wall, cpu)) in jobs.iter_mut().zip(&mut samples) {
            let c = cost(job);
            wall.push(c.wall / items as u32);
            cpu.push(c.cpu / items as u32);
        }
    }
    samples
        .into_iter()
        .map(|(wall, cpu)| Cost {
            wall: median(wall),
            cpu: median(cpu),
        })
        .collect()
}

/// Alternate rounds of the two contenders; per-request medians.
fn compare(
    rounds: usize,
    n: usize,
    mut ours: impl FnMut(),
    mut base: impl FnMut(),
) -> (Cost, Cost) {
    let mut ours = || {
        for _ in 0..n {
            ours();
        }
    };
    let mut base = || {
        for _ in 0..n {
            base();
        }
    };
    let c = costs(rounds, n, &mut [&mut ours, &mut base]);
    (c[0], c[1])
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn row(name: &str, ours: Cost, base: Cost, baseline: &str) {
    println!(
        "| {name} | {:.1} µs wall, {:.1} µs CPU | {:.1} µs wall, {:.1} µs CPU ({baseline}) | {:.3}× wall, {:.3}× CPU |",
        us(ours.wall),
        us(ours.cpu),
        us(base.wall),
        us(base.cpu),
        ours.wall.as_secs_f64() / base.wall.as_secs_f64(),
        ours.cpu.as_secs_f64() / base.cpu.as_secs_f64()
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

/// A tokio runtime on the calling thread, for the rest of the process.
fn current_thread_rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

fn bench_gets(quick: bool) {
    let (rounds, n) = if quick { (3, 20) } else { (7, 2000) };
    let url = server(0);
    let [mut ours, mut base, blocking, ureq_base, mut timed] = get_contenders(&url, rt());
    let (a, b) = compare(rounds, n, &mut ours, &mut base);
    row(
        "async GET agent (seclai, multi-thread runtime)",
        a,
        b,
        "plain reqwest",
    );
    let (a, b) = compare(rounds, n, &mut ours, &mut timed);
    row(
        "async GET agent (seclai, multi-thread runtime)",
        a,
        b,
        "plain reqwest, same 60 s timeout",
    );
    let [mut ours_ct, mut base_ct, _, _, _] = get_contenders(&url, current_thread_rt());
    let (a, b) = compare(rounds, n, &mut ours_ct, &mut base_ct);
    row(
        "async GET agent (seclai, current-thread runtime)",
        a,
        b,
        "plain reqwest, current-thread",
    );
    let (a, b) = compare(rounds, n, &mut ours_ct, &mut ours);
    row(
        "async GET agent, current-thread runtime (seclai)",
        a,
        b,
        "seclai on the multi-thread runtime",
    );
    let (a, b) = compare(rounds, n, blocking, ureq_base);
    row("blocking GET agent (seclai-blocking)", a, b, "plain ureq");
    println!(
        "(server accepted {} connections for {} requests: keep-alive check)",
        connections(),
        10 * (rounds + 1) * n
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
    let (a, b) = (a.wall, b.wall);
    let mb = bytes.len() as f64 / 1e6;
    println!(
        "| SSE framing {:.1} MB, owned events (`push`) | {:.0} MB/s | {:.0} MB/s (eventsource-stream) | {:.3}× time |",
        mb,
        mb / a.as_secs_f64(),
        mb / b.as_secs_f64(),
        a.as_secs_f64() / b.as_secs_f64()
    );
    let c = bench_sse_borrowed(&chunks, rounds);
    println!(
        "| SSE framing {:.1} MB, borrowed events (`push_with`) | {:.0} MB/s | {:.0} MB/s (eventsource-stream) | {:.3}× time |",
        mb,
        mb / c.as_secs_f64(),
        mb / b.as_secs_f64(),
        c.as_secs_f64() / b.as_secs_f64()
    );
}

/// The headers seclai sends when it opens a run stream, for the baselines.
const STREAM_HEADERS: [(&str, &str); 4] = [
    ("x-api-key", "k"),
    ("accept", "text/event-stream"),
    ("content-type", "application/json"),
    ("user-agent", "seclai-rs/bench"),
];
const STREAM_BODY: &str = r#"{"input":"hi"}"#;

/// What every contender does with one event, counted so that each run can
/// be checked: tokens delivered (and their bytes) or the final run.
#[derive(Default)]
struct Seen {
    tokens: usize,
    bytes: usize,
    done: bool,
}

/// The baselines' decoding of one event, the same work as ours through
/// `serde_json::Value`: with `wait`, only `init` and `done` into the run
/// type (others skipped by name); otherwise every payload into a `Value`,
/// the token copied out, `init`/`done` into the run type.
fn baseline_event(event: &str, data: &str, wait: bool, seen: &mut Seen) {
    if wait {
        if matches!(event, "init" | "done") {
            let run: AgentRunResponse = serde_json::from_str(data).unwrap();
            seen.done = run.status.as_str() == "completed";
        }
        return;
    }
    let v: serde_json::Value = serde_json::from_str(data).unwrap();
    match event {
        "stream_token" => {
            let token = v["token"].as_str().unwrap_or_default().to_string();
            seen.tokens += 1;
            seen.bytes += token.len();
        }
        "init" | "done" => {
            let run: AgentRunResponse = serde_json::from_value(v).unwrap();
            seen.done = run.status.as_str() == "completed";
        }
        _ => {}
    }
}

/// Ours, given a stream item: count a token or the final run.
fn our_event(item: seclai::Result<RunEvent>, seen: &mut Seen) {
    match item.unwrap() {
        RunEvent::StreamToken(token) => {
            seen.tokens += 1;
            seen.bytes += token.len();
        }
        RunEvent::Done(run) => seen.done = run.status.as_str() == "completed",
        _ => {}
    }
}

/// The core's verdict path (what `_and_wait` runs once it uses
/// `RunEventDecoder::verdict_only`) fed by plain transport chunks.
struct Verdict {
    pump: seclai_core::EventPump,
    waiter: seclai_core::StreamWaiter,
    done: bool,
}

impl Verdict {
    fn new() -> Self {
        Verdict {
            pump: seclai_core::EventPump::new(seclai_core::RunEventDecoder::verdict_only()),
            waiter: seclai_core::StreamWaiter::new(),
            done: false,
        }
    }
    fn feed(&mut self, chunk: &[u8]) {
        self.pump.on_bytes(chunk);
        while let Some(item) = self.pump.pop() {
            if let seclai_core::StreamNext::Done(run) = self.waiter.on_item(item) {
                self.done = run.status.as_str() == "completed";
            }
        }
    }
}

fn ureq_stream(agent: &ureq::Agent, url: &str) -> ureq::http::Response<ureq::Body> {
    let mut req = agent.post(url).header("seclai-version", version());
    for (k, v) in STREAM_HEADERS {
        req = req.header(k, v);
    }
    req.send(STREAM_BODY).unwrap()
}

async fn reqwest_stream(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let mut req = http.post(url).header("seclai-version", version());
    for (k, v) in STREAM_HEADERS {
        req = req.header(k, v);
    }
    req.body(STREAM_BODY).send().await.unwrap()
}

/// Drives a stream that never waits (chunks already read) to its end.
fn drain_ready<S: futures_util::Stream + Unpin>(mut s: S, mut f: impl FnMut(S::Item)) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        match std::pin::Pin::new(&mut s).poll_next(&mut cx) {
            std::task::Poll::Ready(Some(item)) => f(item),
            std::task::Poll::Ready(None) => return,
            std::task::Poll::Pending => panic!("a stream over a reader is never pending"),
        }
    }
}

type Job = Box<dyn FnMut() -> Seen>;

/// The blocking contenders for `tokens` tokens: [tokens, _and_wait, floor,
/// eventsource tokens, eventsource wait, core verdict path].
fn blocking_event_jobs(url: &str, tokens: usize) -> Vec<Job> {
    let client = || {
        seclai_blocking::Client::builder()
            .ignore_env()
            .api_key("k")
            .base_url(url)
            .build()
            .unwrap()
    };
    let (c1, c2) = (client(), client());
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let id = format!("ev{tokens}");
    let target = format!("{url}/agents/{id}/runs/stream");
    let req = AgentRunStreamRequest {
        input: Some("hi".into()),
        ..Default::default()
    };
    let (id1, id2, req1, req2) = (id.clone(), id, req.clone(), req);
    let sse = move |wait: bool| -> Job {
        let (agent, target) = (agent.clone(), target.clone());
        Box::new(move || {
            let mut seen = Seen::default();
            let mut resp = ureq_stream(&agent, &target);
            let mut reader = resp.body_mut().as_reader();
            let mut buf = vec![0u8; 64 * 1024];
            let chunks = std::iter::from_fn(move || {
                let n = reader.read(&mut buf).unwrap();
                (n > 0).then(|| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&buf[..n])))
            });
            use eventsource_stream::Eventsource;
            drain_ready(futures_util::stream::iter(chunks).eventsource(), |ev| {
                let ev = ev.unwrap();
                baseline_event(&ev.event, &ev.data, wait, &mut seen);
            });
            seen
        })
    };
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let target = format!("{url}/agents/ev{tokens}/runs/stream");
    let (agent2, target2) = (agent.clone(), target.clone());
    vec![
        Box::new(move || {
            let mut seen = Seen::default();
            for item in c1.run_streaming_agent(id1.clone(), &req1).send().unwrap() {
                our_event(item, &mut seen);
            }
            seen
        }),
        Box::new(move || {
            let run = c2.run_streaming_agent_and_wait(id2.clone(), &req2).unwrap();
            Seen {
                done: run.status.as_str() == "completed",
                ..Default::default()
            }
        }),
        Box::new(move || {
            let mut resp = ureq_stream(&agent, &target);
            let mut reader = resp.body_mut().as_reader();
            let mut buf = vec![0u8; 64 * 1024];
            let mut seen = Seen::default();
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                seen.bytes += n;
            }
            seen
        }),
        sse(false),
        sse(true),
        Box::new(move || {
            let mut resp = ureq_stream(&agent2, &target2);
            let mut reader = resp.body_mut().as_reader();
            let mut buf = vec![0u8; 64 * 1024];
            let mut v = Verdict::new();
            while !v.done {
                let n = reader.read(&mut buf).unwrap();
                assert!(n > 0, "the stream ended before done");
                v.feed(&buf[..n]);
            }
            Seen {
                done: true,
                ..Default::default()
            }
        }),
    ]
}

/// The async contenders on `rt`, in the order of [`blocking_event_jobs`].
fn async_event_jobs(url: &str, tokens: usize, rt: &'static tokio::runtime::Runtime) -> Vec<Job> {
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(url)
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let id = format!("ev{tokens}");
    let target = format!("{url}/agents/{id}/runs/stream");
    let req = AgentRunStreamRequest {
        input: Some("hi".into()),
        ..Default::default()
    };
    let ours = |wait: bool| -> Job {
        let (client, id, req) = (client.clone(), id.clone(), req.clone());
        Box::new(move || {
            rt.block_on(async {
                use futures_util::StreamExt;
                let mut seen = Seen::default();
                if wait {
                    let run = client
                        .run_streaming_agent_and_wait(id.clone(), &req)
                        .await
                        .unwrap();
                    seen.done = run.status.as_str() == "completed";
                } else {
                    let mut events = client.run_streaming_agent(id.clone(), &req).await.unwrap();
                    while let Some(item) = events.next().await {
                        our_event(item, &mut seen);
                    }
                }
                seen
            })
        })
    };
    let plain = |mode: u8| -> Job {
        let (http, target) = (http.clone(), target.clone());
        Box::new(move || {
            rt.block_on(async {
                use futures_util::StreamExt;
                let mut seen = Seen::default();
                let mut resp = reqwest_stream(&http, &target).await;
                match mode {
                    0 => {
                        while let Some(chunk) = resp.chunk().await.unwrap() {
                            seen.bytes += chunk.len();
                        }
                    }
                    1 | 2 => {
                        use eventsource_stream::Eventsource;
                        let mut events = resp.bytes_stream().eventsource();
                        while let Some(ev) = events.next().await {
                            let ev = ev.unwrap();
                            baseline_event(&ev.event, &ev.data, mode == 2, &mut seen);
                        }
                    }
                    _ => {
                        let mut v = Verdict::new();
                        while !v.done {
                            let chunk = resp.chunk().await.unwrap().expect("ended before done");
                            v.feed(&chunk);
                        }
                        seen.done = true;
                    }
                }
                seen
            })
        })
    };
    vec![
        ours(false),
        ours(true),
        plain(0),
        plain(1),
        plain(2),
        plain(3),
    ]
}

/// Client CPU per event of a streamed run, every contender on the same
/// server in the same run.
fn bench_events(quick: bool) {
    let url = server(0);
    let sizes: &[usize] = if quick { &[1_000] } else { &[10_000, 100_000] };
    let rounds = if quick { 2 } else { 7 };
    println!(
        "\n| streamed run, client CPU per event | events | seclai | transport floor (same bytes, plain client) | eventsource-stream + serde_json::Value | core verdict path (plain client + verdict-only decoder) |\n|---|---|---|---|---|---|"
    );
    for &tokens in sizes {
        let events = tokens + 3;
        let flavours: [(&str, Vec<Job>); 3] = [
            ("blocking", blocking_event_jobs(&url, tokens)),
            (
                "async, current-thread",
                async_event_jobs(&url, tokens, current_thread_rt()),
            ),
            ("async, multi-thread", async_event_jobs(&url, tokens, rt())),
        ];
        for (flavour, mut jobs) in flavours {
            let checks: Vec<std::cell::Cell<bool>> =
                (0..jobs.len()).map(|_| Default::default()).collect();
            let mut wrapped: Vec<Box<dyn FnMut()>> = jobs
                .iter_mut()
                .zip(&checks)
                .enumerate()
                .map(|(i, (job, ok))| {
                    Box::new(move || {
                        let seen = job();
                        // Floor jobs count bytes; token jobs all tokens; the rest the verdict.
                        ok.set(match i {
                            0 | 3 => seen.tokens == tokens && seen.done,
                            2 => seen.bytes > 0,
                            _ => seen.done,
                        });
                    }) as Box<dyn FnMut()>
                })
                .collect();
            let mut refs: Vec<&mut dyn FnMut()> = wrapped
                .iter_mut()
                .map(|b| &mut **b as &mut dyn FnMut())
                .collect();
            let c = costs(rounds, events, &mut refs);
            drop(refs);
            drop(wrapped);
            assert!(
                checks.iter().all(|c| c.get()),
                "a contender did not do the whole work"
            );
            let per = |c: Cost| format!("{:.3} µs", us(c.cpu));
            let vs = |a: Cost, b: Cost| a.cpu.as_secs_f64() / b.cpu.as_secs_f64();
            println!(
                "| {flavour}: `run_streaming_agent`, every token | {events} | {} | {} ({:.2}×) | {} ({:.2}×) | |",
                per(c[0]),
                per(c[2]),
                vs(c[0], c[2]),
                per(c[3]),
                vs(c[0], c[3])
            );
            println!(
                "| {flavour}: `run_streaming_agent_and_wait` | {events} | {} | {} ({:.2}×) | {} ({:.2}×) | {} ({:.2}×) |",
                per(c[1]),
                per(c[2]),
                vs(c[1], c[2]),
                per(c[4]),
                vs(c[1], c[4]),
                per(c[5]),
                vs(c[5], c[2])
            );
        }
    }
    println!("(ratios: seclai's CPU over the baseline's; the last column's is over the floor)");
}

/// SSE framing alone through the borrowing API (no allocation per event).
fn bench_sse_borrowed(chunks: &[bytes::Bytes], rounds: usize) -> Duration {
    let mut v = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let mut d = seclai_core::SseDecoder::new();
        let mut n = 0usize;
        for c in chunks {
            d.push_with(c, |e| n += e.map(|e| e.data.len()).unwrap_or(0));
        }
        d.finish_with(|e| n += e.map(|e| e.data.len()).unwrap_or(0));
        assert!(n > 10);
        v.push(t.elapsed());
    }
    median(v)
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
    if kind.contains("upload") {
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
    // `-ct`: the async client on a current-thread runtime.
    let runtime = if kind.ends_with("-ct") {
        current_thread_rt()
    } else {
        rt()
    };
    // Warm up both stacks so the baseline includes their fixed costs.
    runtime.block_on(a.get_agent("a1").send()).unwrap();
    b.get_agent("a1").send().unwrap();
    // Reset the peak (VmHWM) to the current RSS so setup is not counted.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let baseline = rss_kib("VmRSS:");
    let cpu = client_cpu();
    match kind.trim_end_matches("-ct") {
        "async-upload" => {
            runtime
                .block_on(
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
            runtime
                .block_on(async {
                    a.download_source_export("s", "e")
                        .await?
                        .write_to(&target)
                        .await
                })
                .unwrap();
        }
        "reqwest-download" => {
            // The baseline: plain reqwest, each chunk written with tokio::fs.
            runtime.block_on(async {
                use futures_util::StreamExt;
                use tokio::io::AsyncWriteExt;
                let http = reqwest::Client::new();
                let resp = http
                    .get(format!("{url}/sources/s/exports/e/download"))
                    .header("x-api-key", "k")
                    .send()
                    .await
                    .unwrap();
                let mut file = tokio::fs::File::create(&target).await.unwrap();
                let mut body = resp.bytes_stream();
                while let Some(chunk) = body.next().await {
                    file.write_all(&chunk.unwrap()).await.unwrap();
                }
                file.flush().await.unwrap();
            });
        }
        _ => {
            b.download_source_export("s", "e")
                .send()
                .unwrap()
                .write_to(&target)
                .unwrap();
        }
    }
    let cpu = client_cpu().saturating_sub(cpu);
    let peak = rss_kib("VmHWM:");
    if kind.contains("download") {
        // The figure means nothing unless the whole body went through.
        assert_eq!(std::fs::metadata(&target).unwrap().len(), size);
    }
    println!("{baseline} {peak} {}", cpu.as_micros());
}

/// Child mode: open `n` event streams on one async client against the
/// parent's server and print `baseline_kib with_streams_kib`.
fn child_streams(url: &str, n: usize) {
    use futures_util::StreamExt;
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key("k")
        .base_url(url)
        .build()
        .unwrap();
    let req = AgentRunStreamRequest::default();
    let open = || async {
        let mut s = client.run_streaming_agent("hold", &req).await.unwrap();
        assert!(matches!(s.next().await, Some(Ok(RunEvent::Init(_)))));
        s
    };
    // Warm up: one stream opened and closed, so fixed costs are in the baseline.
    drop(rt().block_on(open()));
    std::thread::sleep(Duration::from_millis(200));
    let baseline = rss_kib("VmRSS:");
    let streams: Vec<_> = rt().block_on(futures_util::future::join_all((0..n).map(|_| open())));
    let with = rss_kib("VmRSS:");
    assert_eq!(streams.len(), n);
    println!("{baseline} {with}");
}

fn bench_memory(quick: bool) {
    let size: u64 = if quick { 16 << 20 } else { 200 << 20 };
    let runs = if quick { 1 } else { 5 };
    let exe = std::env::current_exe().unwrap();
    let kinds = [
        "async-upload",
        "async-upload-ct",
        "blocking-upload",
        "async-download",
        "async-download-ct",
        "reqwest-download",
        "reqwest-download-ct",
        "blocking-download",
    ];
    // (RSS growth in MiB, client CPU, process baseline in MiB) of each run
    // of each kind. The kinds take turns, run after run, so that a machine
    // that speeds up or slows down during the bench moves them alike.
    let mut samples: Vec<Vec<(f64, Duration, f64)>> = vec![Vec::new(); kinds.len()];
    for _ in 0..runs {
        for (kind, samples) in kinds.iter().zip(&mut samples) {
            let out = std::process::Command::new(&exe)
                .args(["--child", kind, &size.to_string()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let nums: Vec<u64> = text
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            let [baseline, peak, micros] = nums[..] else {
                println!(
                    "| {kind} | failed: {} |",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
                continue;
            };
            samples.push((
                peak.saturating_sub(baseline) as f64 / 1024.0,
                Duration::from_micros(micros),
                baseline as f64 / 1024.0,
            ));
        }
    }
    let mut cpu_of = std::collections::HashMap::new();
    for (kind, samples) in kinds.iter().zip(samples) {
        let Some(&(_, _, base)) = samples.last() else {
            continue;
        };
        let list: Vec<String> = samples.iter().map(|s| format!("{:.2}", s.0)).collect();
        let cpu = median(samples.iter().map(|s| s.1).collect());
        cpu_of.insert(*kind, cpu);
        println!(
            "| {kind} {} MiB | client CPU {:.3} s (median of {}); peak RSS +{} MiB over the process baseline ({base:.1} MiB) | | |",
            size >> 20,
            cpu.as_secs_f64(),
            samples.len(),
            list.join(" / "),
        );
    }
    for (what, flavour) in [
        ("upload", ""),
        ("upload", "-ct"),
        ("download", ""),
        ("download", "-ct"),
    ] {
        if let (Some(a), Some(b)) = (
            cpu_of.get(format!("async-{what}{flavour}").as_str()),
            cpu_of.get(format!("blocking-{what}").as_str()),
        ) {
            let runtime = if flavour.is_empty() {
                "multi-thread"
            } else {
                "current-thread"
            };
            println!(
                "| async {what} client CPU ({runtime} runtime) | {:.3} s | {:.3} s (blocking client) | {:.2}× |",
                a.as_secs_f64(),
                b.as_secs_f64(),
                a.as_secs_f64() / b.as_secs_f64()
            );
        }
    }
}

/// Memory per open event stream: `n` streams held open at once on one
/// async client (in a child process, against this process's server).
fn bench_open_streams(quick: bool) {
    let n = if quick { 50 } else { 1000 };
    let url = server(0);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--child-streams", &url, &n.to_string()])
        .output()
        .unwrap();
    let nums: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums[..] {
        [baseline, with] => println!(
            "| memory per open event stream ({n} open on one async client) | {:.1} KiB | | |",
            with.saturating_sub(baseline) as f64 / n as f64
        ),
        _ => println!(
            "| memory per open event stream | failed: {} | | |",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--child-streams") {
        child_streams(&args[i + 1], args[i + 2].parse().unwrap());
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--only-events") {
        // For profiling one streamed-run contender (e.g. under callgrind):
        // `--only-events TOKENS JOB [async]`, JOB as in
        // `blocking_event_jobs` (or `async_event_jobs` on a current-thread
        // runtime).
        let url = server(0);
        let tokens = args[i + 1].parse().unwrap();
        let mut jobs = if args.get(i + 3).is_some_and(|a| a == "async") {
            async_event_jobs(&url, tokens, current_thread_rt())
        } else {
            blocking_event_jobs(&url, tokens)
        };
        let _ = jobs[args[i + 2].parse::<usize>().unwrap()]();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--only") {
        only(args[i + 1].parse().unwrap(), args[i + 2].parse().unwrap());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--section NAME` runs one part: gets, sse, memory, streams or events.
    let section = args
        .iter()
        .position(|a| a == "--section")
        .and_then(|i| args.get(i + 1));
    let run = |name: &str| section.is_none_or(|s| s == name);
    println!("| benchmark | ours | baseline | ratio |\n|---|---|---|---|");
    if run("gets") {
        bench_gets(quick);
        if !quick {
            bench_instructions();
        }
    }
    if run("sse") {
        bench_sse(quick);
    }
    if run("memory") {
        bench_memory(quick);
    }
    if run("streams") {
        bench_open_streams(quick);
    }
    if run("events") {
        bench_events(quick);
    }
    if quick {
        println!("(quick mode: smoke run only, figures are not meaningful)");
    }
}
