//! [`DemoSeclai`]: a small, stateful fake of the Seclai API for examples,
//! demos and quick end-to-end tests.
//!
//! Unlike [`FakeSeclai`](crate::FakeSeclai) (stub what you need) or
//! [`RawServer`] (script every byte), the demo server already knows a handful
//! of endpoints and keeps state between calls: agents you create can be
//! fetched and run, runs you start can be polled to completion.
//!
//! | Endpoint | Behaviour |
//! |---|---|
//! | `GET /version` | the version the request asked for |
//! | `GET /agents?page&limit` | seven seeded agents plus created ones, paginated |
//! | `POST /agents` | creates an agent (`name` required, else 422) |
//! | `GET /agents/{id}` | the agent, or 404 |
//! | `POST /agents/{id}/runs/stream` | `init`, one `stream_token` per word, `stream_end`, `done` |
//! | `POST /agents/{id}/runs` | a `pending` run |
//! | `GET /agents/runs/{run_id}` | `processing` on the first check, then `completed` |
//! | `POST /sources/{id}/upload` | accepts a multipart file, answers `processing` |
//! | `GET /sources/{id}/exports/{export_id}/download` | a ~200 KiB JSON-lines file |
//!
//! Every request must carry the API key [`DEMO_API_KEY`] (or any bearer
//! token); anything else is a 401. Every response has an `x-request-id`.
//!
//! ```
//! use seclai_testkit::demo::{DemoSeclai, DEMO_API_KEY};
//!
//! let demo = DemoSeclai::start();
//! // seclai::Client::builder().ignore_env().api_key(DEMO_API_KEY).base_url(demo.url()).build()
//! assert!(demo.url().starts_with("http://127.0.0.1:"));
//! # let _ = DEMO_API_KEY;
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::raw::{RawServer, RecordedRequest, Script};
use crate::sse::{SseScript, run_object};

/// The API key the demo server accepts.
pub const DEMO_API_KEY: &str = "demo-key";

/// Size of the export served by the download endpoint, in lines.
const EXPORT_LINES: usize = 2_500;

const SEED_AGENTS: [(&str, &str); 7] = [
    ("Support triage", "Sorts incoming tickets by urgency"),
    ("Invoice reader", "Pulls totals and due dates out of PDFs"),
    ("Release notes", "Drafts release notes from merged changes"),
    ("Meeting summarizer", "Turns transcripts into action items"),
    ("Contract checker", "Flags unusual clauses"),
    ("FAQ bot", "Answers questions from the knowledge base"),
    ("Lead scorer", "Ranks new sign-ups"),
];

struct DemoRun {
    agent_id: String,
    input: String,
    checks: usize,
}

struct State {
    agents: Vec<Value>,
    runs: HashMap<String, DemoRun>,
    next_agent: usize,
    next_run: usize,
    next_request: usize,
    next_upload: usize,
    token_delay: Duration,
}

impl State {
    fn new() -> Self {
        let mut state = State {
            agents: Vec::new(),
            runs: HashMap::new(),
            next_agent: 1,
            next_run: 1,
            next_request: 1,
            next_upload: 1,
            token_delay: Duration::from_millis(40),
        };
        for (name, description) in SEED_AGENTS {
            state.add_agent(name, Some(description));
        }
        state
    }

    fn add_agent(&mut self, name: &str, description: Option<&str>) -> Value {
        let id = format!("agent-{}", self.next_agent);
        self.next_agent += 1;
        let agent = json!({
            "id": id,
            "name": name,
            "description": description,
            "created_at": "2026-07-01T09:00:00Z",
            "updated_at": "2026-07-01T09:00:00Z",
            "trigger_type": "manual",
        });
        self.agents.push(agent.clone());
        agent
    }

    fn agent(&self, id: &str) -> Option<&Value> {
        self.agents.iter().find(|a| a["id"] == id)
    }

    fn start_run(&mut self, agent_id: &str, input: String) -> String {
        let run_id = format!("run-{}", self.next_run);
        self.next_run += 1;
        self.runs.insert(
            run_id.clone(),
            DemoRun {
                agent_id: agent_id.to_owned(),
                input,
                checks: 0,
            },
        );
        run_id
    }
}

/// The demo agent's answer to `input`.
fn reply(input: &str) -> String {
    format!("Hello from the demo agent! You asked: \"{input}\". Answers arrive one word at a time.")
}

/// A run snapshot with the demo's input and, once completed, its answer.
fn run_json(run_id: &str, run: &DemoRun, status: &str) -> Value {
    let output = (status == "completed").then(|| reply(&run.input));
    let mut v = run_object(run_id, &run.agent_id, status, output.as_deref());
    v["input"] = json!(run.input);
    v
}

/// A running demo server; see the [module docs](self). Dropping it stops it.
pub struct DemoSeclai {
    server: RawServer,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for DemoSeclai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoSeclai")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl DemoSeclai {
    /// Start the demo server on `127.0.0.1` with an ephemeral port.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::new()));
        let shared = Arc::clone(&state);
        let server = RawServer::with_handler(move |req| {
            let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
            let request_id = format!("req-{}", state.next_request);
            state.next_request += 1;
            route(&mut state, req).with_request_id(&request_id)
        });
        DemoSeclai { server, state }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The pause before each streamed event (default 40 ms; zero for tests).
    pub fn set_token_delay(&self, delay: Duration) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .token_delay = delay;
    }
}

/// A demo answer before its request id is attached.
enum Answer {
    Json(u16, Value),
    Raw(Script),
}

impl Answer {
    fn with_request_id(self, id: &str) -> Script {
        match self {
            Answer::Json(status, body) => Script::response(
                status,
                &[("content-type", "application/json"), ("x-request-id", id)],
                body.to_string(),
            ),
            Answer::Raw(script) => script,
        }
    }
}

fn detail(status: u16, message: impl Into<String>) -> Answer {
    Answer::Json(status, json!({ "detail": message.into() }))
}

fn query_param<'a>(req: &'a RecordedRequest, key: &str) -> Option<&'a str> {
    req.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn body_json(req: &RecordedRequest) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

fn route(state: &mut State, req: &RecordedRequest) -> Answer {
    let key_ok = req.header("x-api-key") == Some(DEMO_API_KEY);
    let bearer = req
        .header("authorization")
        .is_some_and(|v| v.starts_with("Bearer "));
    if !key_ok && !bearer {
        return Answer::Json(
            401,
            json!({"error": {"code": "INVALID_API_KEY", "message": "Invalid API key"}}),
        );
    }
    let segments: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["version"]) => {
            let default = seclai_gen::DEFAULT_VERSION.unwrap_or("");
            let asked = req.header("seclai-version").unwrap_or(default);
            Answer::Json(
                200,
                json!({
                    "default_version": default,
                    "effective_version": asked,
                    "known_versions": seclai_gen::KNOWN_VERSIONS,
                    "latest_version": seclai_gen::LATEST.unwrap_or(default),
                    "pinned_version": null,
                }),
            )
        }
        ("GET", ["agents"]) => list_agents(state, req),
        ("POST", ["agents"]) => {
            let body = body_json(req);
            match body["name"].as_str().filter(|n| !n.trim().is_empty()) {
                Some(name) => {
                    Answer::Json(200, state.add_agent(name, body["description"].as_str()))
                }
                None => Answer::Json(
                    422,
                    json!({"detail": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}]}),
                ),
            }
        }
        ("GET", ["agents", "runs", run_id]) => match state.runs.get_mut(*run_id) {
            Some(run) => {
                run.checks += 1;
                let status = if run.checks < 2 {
                    "processing"
                } else {
                    "completed"
                };
                Answer::Json(200, run_json(run_id, run, status))
            }
            None => detail(404, "Run not found"),
        },
        ("GET", ["agents", id]) => match state.agent(id) {
            Some(agent) => Answer::Json(200, agent.clone()),
            None => detail(404, "Agent not found"),
        },
        ("POST", ["agents", id, "runs", "stream"]) => stream_run(state, id, req),
        ("POST", ["agents", id, "runs"]) => {
            if state.agent(id).is_none() {
                return detail(404, "Agent not found");
            }
            let input = body_json(req)["input"].as_str().unwrap_or("").to_owned();
            let run_id = state.start_run(id, input);
            Answer::Json(200, run_json(&run_id, &state.runs[&run_id], "pending"))
        }
        ("POST", ["sources", _, "upload"]) => upload(state, req),
        ("GET", ["sources", _, "exports", export_id, "download"]) => {
            Answer::Raw(export_file(export_id))
        }
        (method, _) => detail(
            404,
            format!("the demo server has no route for {method} {}", req.path()),
        ),
    }
}

fn list_agents(state: &State, req: &RecordedRequest) -> Answer {
    let page = query_param(req, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let limit = query_param(req, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 100);
    let total = state.agents.len();
    let pages = total.div_ceil(limit);
    let data: Vec<&Value> = state
        .agents
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    Answer::Json(
        200,
        json!({
            "data": data,
            "pagination": {"page": page, "limit": limit, "total": total, "pages": pages,
                "has_next": page < pages, "has_prev": page > 1},
        }),
    )
}

fn stream_run(state: &mut State, agent_id: &str, req: &RecordedRequest) -> Answer {
    if state.agent(agent_id).is_none() {
        return detail(404, "Agent not found");
    }
    let input = body_json(req)["input"].as_str().unwrap_or("").to_owned();
    let run_id = state.start_run(agent_id, input);
    let run = state.runs.get_mut(&run_id).expect("just inserted");
    run.checks = 2; // streamed to the end: later checks say `completed`
    let answer = reply(&run.input);
    let mut sse = SseScript::new()
        .event_json("init", &run_json(&run_id, run, "pending"))
        .event_json("status", &json!({"run_id": run_id, "status": "processing"}));
    for word in answer.split_inclusive(' ') {
        sse = sse.event_json("stream_token", &json!({"run_id": run_id, "token": word}));
    }
    let sse = sse
        .event_json("stream_end", &json!({"run_id": run_id}))
        .event_json("done", &run_json(&run_id, run, "completed"));
    let delay = state.token_delay;
    let chunks = sse
        .into_chunks()
        .into_iter()
        .map(|(bytes, _)| (bytes, delay))
        .collect();
    Answer::Raw(Script::event_stream(chunks))
}

fn upload(state: &mut State, req: &RecordedRequest) -> Answer {
    let is_multipart = req
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    let body = req.body_text();
    let filename = body
        .split("filename=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned);
    let Some(filename) = filename.filter(|_| is_multipart) else {
        return detail(422, "expected a multipart body with a `file` part");
    };
    let version = format!("cv-{}", state.next_upload);
    state.next_upload += 1;
    Answer::Json(
        200,
        json!({
            "filename": filename,
            "status": "processing",
            "content_version_id": version,
            "source_connection_content_version_id": version,
        }),
    )
}

fn export_file(export_id: &str) -> Script {
    let mut body = String::new();
    for i in 1..=EXPORT_LINES {
        body.push_str(&format!(
            "{{\"id\":\"content-{i}\",\"title\":\"Document {i}\",\"text\":\"Lorem ipsum dolor sit amet, line {i}.\"}}\n"
        ));
    }
    let disposition = format!("attachment; filename=\"{export_id}.jsonl\"");
    Script::response(
        200,
        &[
            ("content-type", "application/x-ndjson"),
            ("content-disposition", &disposition),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{request_raw, split_response};

    fn get(demo: &DemoSeclai, target: &str, key: &str) -> (String, Value) {
        let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\nx-api-key: {key}\r\n\r\n");
        let response = request_raw(&demo.url(), req.as_bytes());
        let (head, body) = split_response(&response);
        (head, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[test]
    fn lists_pages_and_checks_the_key() {
        let demo = DemoSeclai::start();
        let (head, body) = get(&demo, "/agents?page=3&limit=3", DEMO_API_KEY);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("x-request-id: req-1"), "{head}");
        assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["pagination"]["has_next"], false);
        let (head, _) = get(&demo, "/agents", "wrong");
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        let (head, body) = get(&demo, "/agents/agent-404", DEMO_API_KEY);
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        assert_eq!(body["detail"], "Agent not found");
    }

    #[test]
    fn a_run_is_processing_then_completed() {
        let demo = DemoSeclai::start();
        let run_id = {
            let mut state = demo.state.lock().unwrap();
            state.start_run("agent-1", "hi".into())
        };
        let target = format!("/agents/runs/{run_id}");
        assert_eq!(get(&demo, &target, DEMO_API_KEY).1["status"], "processing");
        let (_, run) = get(&demo, &target, DEMO_API_KEY);
        assert_eq!(run["status"], "completed");
        assert_eq!(run["output"], reply("hi"));
    }
}
