//! [`FakeSeclai`]: an in-process fake of the Seclai HTTP API built on
//! [`httpmock`].
//!
//! Start it, point the client at [`FakeSeclai::url`] and register
//! expectations with [`FakeSeclai::stub`] (by operation descriptor) or
//! [`FakeSeclai::mock`] (httpmock's own `when`/`then` API).
//!
//! A request that no mock matches is answered with
//! [`UNMATCHED_STATUS`] (501) and a JSON body naming its method and path,
//! never with a 404 that a test of the not-found path could mistake for the
//! answer it expects; it is also recorded, and
//! [`FakeSeclai::assert_no_unmatched`] fails the test when there was one.
//!
//! ```
//! use seclai_testkit::fake::FakeSeclai;
//!
//! let fake = FakeSeclai::start();
//! let mock = fake.mock(|when, then| {
//!     when.method("GET").path("/agents");
//!     then.status(200).header("content-type", "application/json").body("[]");
//! });
//! // ... exercise the client against `fake.url()` ...
//! assert_eq!(mock.calls(), 0);
//! fake.assert_no_unmatched();
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use httpmock::{HttpMockRequest, HttpMockResponse, Mock, MockServer, Then, When};
use seclai_gen::Operation;
use serde::Serialize;

/// A regex matching a path template: `{param}` matches one segment.
pub fn template_regex(template: &str) -> String {
    let mut re = String::from("^");
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        re.push_str(&escape(&rest[..start]));
        match rest[start..].find('}') {
            Some(end) => {
                re.push_str("[^/]+");
                rest = &rest[start + end + 1..];
            }
            None => {
                re.push_str(&escape(&rest[start..]));
                rest = "";
            }
        }
    }
    re.push_str(&escape(rest));
    re.push('$');
    re
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status [`FakeSeclai`] answers a request no mock matches with
/// (501 Not Implemented: the fake implements no such call). The clients do
/// not retry it, and it is not a 404 a not-found test would accept.
pub const UNMATCHED_STATUS: u16 = 501;

/// A fake Seclai API server running in-process on `127.0.0.1`.
///
/// Dropping it returns the underlying [`MockServer`] to httpmock's pool
/// (with all of its mocks removed).
pub struct FakeSeclai {
    server: MockServer,
    /// `METHOD /path?query` of every request no mock matched, in order.
    unmatched: Arc<Mutex<Vec<String>>>,
    /// Id of the catch-all mock, kept the most recently registered one
    /// (httpmock tries mocks in the order they were registered).
    fallback: Mutex<usize>,
}

impl fmt::Debug for FakeSeclai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSeclai")
            .field("url", &self.url())
            .field("unmatched", &self.unmatched().len())
            .finish_non_exhaustive()
    }
}

/// `/path?query` of a request target that may be an absolute URL.
fn path_and_query(uri: &str) -> &str {
    match uri.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => uri,
    }
}

/// Register the catch-all: any request, answered with [`UNMATCHED_STATUS`]
/// and recorded in `unmatched`. Returns its mock id.
fn register_fallback(server: &MockServer, unmatched: &Arc<Mutex<Vec<String>>>) -> usize {
    let seen = Arc::clone(unmatched);
    server
        .mock(move |_when, then| {
            then.respond_with(move |req: &HttpMockRequest| {
                let call = format!("{} {}", req.method_str(), path_and_query(req.uri_str()));
                let body = serde_json::json!({
                    "detail": format!(
                        "seclai-testkit: no mock matches {call}; register one with \
                         FakeSeclai::stub or FakeSeclai::mock"
                    )
                });
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(call);
                HttpMockResponse::builder()
                    .status(UNMATCHED_STATUS)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .build()
            });
        })
        .id()
}

impl FakeSeclai {
    /// Starts (or takes from httpmock's pool) a local mock server.
    ///
    /// This may block while httpmock's server pool is exhausted.
    pub fn start() -> Self {
        let server = MockServer::start();
        let unmatched = Arc::new(Mutex::new(Vec::new()));
        let fallback = Mutex::new(register_fallback(&server, &unmatched));
        Self {
            server,
            unmatched,
            fallback,
        }
    }

    /// Register a mock with httpmock's `when`/`then` API. Register mocks
    /// here rather than on [`FakeSeclai::server`]: this keeps the catch-all
    /// for unmatched requests behind every mock.
    pub fn mock<F>(&self, config: F) -> Mock<'_>
    where
        F: FnOnce(When, Then),
    {
        let mock = self.server.mock(config);
        let mut fallback = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
        // The new catch-all first, then the old one goes: never a moment
        // without one.
        let old = std::mem::replace(
            &mut *fallback,
            register_fallback(&self.server, &self.unmatched),
        );
        Mock::new(old, &self.server).delete();
        mock
    }

    /// The requests no mock matched so far, as `METHOD /path?query`, in the
    /// order they arrived.
    pub fn unmatched(&self) -> Vec<String> {
        self.unmatched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fail (panic, as test assertions do) when any request matched no
    /// mock, listing them.
    #[track_caller]
    pub fn assert_no_unmatched(&self) {
        let unmatched = self.unmatched();
        assert!(
            unmatched.is_empty(),
            "{} request(s) reached the fake Seclai with no matching mock:\n  {}",
            unmatched.len(),
            unmatched.join("\n  ")
        );
    }

    /// The base URL of the fake, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// The base URL joined with `path` (which should start with `/`).
    pub fn url_for(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The underlying httpmock server (its port, its request history).
    /// Mocks registered straight on it come after the catch-all for
    /// unmatched requests and are never reached: use [`FakeSeclai::mock`].
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Answer every call of operation `O` (whatever its path parameters)
    /// with `status` and `body` serialized as JSON.
    ///
    /// ```
    /// use seclai_testkit::fake::FakeSeclai;
    /// use seclai_gen::ops::GetAgent;
    /// let fake = FakeSeclai::start();
    /// let mock = fake.stub::<GetAgent>(404, &serde_json::json!({"detail": "Agent not found"}));
    /// assert_eq!(mock.calls(), 0);
    /// ```
    pub fn stub<O: Operation>(&self, status: u16, body: &impl Serialize) -> Mock<'_> {
        let json = serde_json::to_vec(body).unwrap_or_default();
        let re = template_regex(O::PATH);
        self.mock(|when, then| {
            when.method(O::METHOD.as_str()).path_matches(re.as_str());
            then.status(status)
                .header("content-type", "application/json")
                .body(json);
        })
    }

    /// Answer exactly this call (its method and rendered path) with
    /// `status` and `body` as JSON.
    pub fn stub_call<O: Operation>(&self, op: &O, status: u16, body: &impl Serialize) -> Mock<'_> {
        let json = serde_json::to_vec(body).unwrap_or_default();
        let rendered = op.path_and_query();
        let path = rendered.split('?').next().unwrap_or_default().to_string();
        let decoded = percent_decode(&path);
        self.mock(|when, then| {
            when.method(O::METHOD.as_str()).path(decoded.as_str());
            then.status(status)
                .header("content-type", "application/json")
                .body(json);
        })
    }

    /// Answer every call of `O` with a raw status, headers and body.
    pub fn stub_raw<O: Operation>(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Mock<'_> {
        let re = template_regex(O::PATH);
        let body = body.into();
        self.mock(|when, then| {
            when.method(O::METHOD.as_str()).path_matches(re.as_str());
            let mut t = then.status(status);
            for (k, v) in headers {
                t = t.header(*k, *v);
            }
            t.body(body);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{request_raw, split_response};

    #[test]
    fn mock_is_hit_by_a_plain_tcp_request() {
        let fake = FakeSeclai::start();
        let mock = fake.mock(|when, then| {
            when.method("GET")
                .path("/agents/ag_1")
                .query_param("expand", "runs")
                .header("x-api-key", "secret");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"id":"ag_1"}"#);
        });

        let port = fake.server().port();
        let request = format!(
            "GET /agents/ag_1?expand=runs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             x-api-key: secret\r\nConnection: close\r\n\r\n"
        );
        let response = request_raw(&fake.url(), request.as_bytes());
        let (head, body) = split_response(&response);

        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, br#"{"id":"ag_1"}"#);
        assert_eq!(mock.calls(), 1);
        assert_eq!(fake.url_for("/x"), format!("{}/x", fake.url()));
        fake.assert_no_unmatched();
    }

    #[test]
    fn path_and_query_drops_scheme_and_authority() {
        assert_eq!(path_and_query("http://127.0.0.1:1/a?b=1"), "/a?b=1");
        assert_eq!(path_and_query("http://127.0.0.1:1"), "/");
        assert_eq!(path_and_query("/a"), "/a");
    }

    fn get(fake: &FakeSeclai, path: &str) -> (String, Vec<u8>) {
        let port = fake.server().port();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        let response = request_raw(&fake.url(), request.as_bytes());
        let (head, body) = split_response(&response);
        (head.to_string(), body.to_vec())
    }

    #[test]
    fn unmatched_requests_get_a_clear_error_and_are_counted() {
        let fake = FakeSeclai::start();
        // Registered before and after other mocks: the catch-all stays last.
        let agents = fake.mock(|when, then| {
            when.method("GET").path("/agents");
            then.status(200).body("[]");
        });
        let gone = fake.stub::<seclai_gen::ops::GetAgent>(404, &serde_json::json!({"detail": "x"}));

        let (head, _) = get(&fake, "/agents");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (head, _) = get(&fake, "/agents/a1");
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        assert_eq!((agents.calls(), gone.calls()), (1, 1));
        assert!(fake.unmatched().is_empty());

        let (head, body) = get(&fake, "/nope?x=1");
        assert!(head.starts_with("HTTP/1.1 501"), "{head}");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("GET /nope?x=1"), "{detail}");
        assert_eq!(fake.unmatched(), vec!["GET /nope?x=1".to_string()]);

        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fake.assert_no_unmatched();
        }));
        let message = failed.unwrap_err();
        let message = message.downcast_ref::<String>().unwrap();
        assert!(message.contains("GET /nope?x=1"), "{message}");
    }
}
