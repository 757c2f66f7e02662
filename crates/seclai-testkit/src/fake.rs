//! [`FakeSeclai`]: an in-process fake of the Seclai HTTP API built on
//! [`httpmock`].
//!
//! Today this is a thin wrapper: start it, point the client at
//! [`FakeSeclai::url`] and register expectations through
//! [`FakeSeclai::server`] with httpmock's own API.
//!
//! ```
//! use seclai_testkit::fake::FakeSeclai;
//!
//! let fake = FakeSeclai::start();
//! let mock = fake.server().mock(|when, then| {
//!     when.method("GET").path("/agents");
//!     then.status(200).header("content-type", "application/json").body("[]");
//! });
//! // ... exercise the client against `fake.url()` ...
//! assert_eq!(mock.calls(), 0);
//! ```

use std::fmt;

use httpmock::{Mock, MockServer};
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

/// A fake Seclai API server running in-process on `127.0.0.1`.
///
/// Dropping it returns the underlying [`MockServer`] to httpmock's pool
/// (with all of its mocks removed).
pub struct FakeSeclai {
    server: MockServer,
}

impl fmt::Debug for FakeSeclai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSeclai")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl FakeSeclai {
    /// Starts (or takes from httpmock's pool) a local mock server.
    ///
    /// This may block while httpmock's server pool is exhausted.
    pub fn start() -> Self {
        Self {
            server: MockServer::start(),
        }
    }

    /// The base URL of the fake, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.base_url()
    }

    /// The base URL joined with `path` (which should start with `/`).
    pub fn url_for(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The underlying httpmock server, for registering mocks with httpmock's
    /// API (`server().mock(|when, then| ...)`).
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
        self.server.mock(|when, then| {
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
        self.server.mock(|when, then| {
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
        self.server.mock(|when, then| {
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
        let mock = fake.server().mock(|when, then| {
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
    }
}
