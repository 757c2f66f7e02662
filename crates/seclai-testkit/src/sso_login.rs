//! [`FakeSsoLogin`]: a fake hosted sign-in for the authorization-code flow
//! with PKCE, so a test can play the browser.
//!
//! | Endpoint | Behaviour |
//! |---|---|
//! | `GET /oauth2/authorize` | checks `response_type=code`, the client id, `code_challenge_method=S256` and a loopback `redirect_uri`; answers `302` to `redirect_uri?code=…&state=…` (the state echoed) |
//! | `POST /oauth2/token` | `grant_type=authorization_code`: the code (single use), client id and redirect URI must match the authorization and `BASE64URL(SHA256(code_verifier))` the challenge; answers tokens, else `400 {"error":"invalid_grant"}` |
//!
//! ```
//! use seclai_testkit::FakeSsoLogin;
//! let sso = FakeSsoLogin::start("my-client");
//! assert!(sso.url().starts_with("http://127.0.0.1:"));
//! ```

use crate::raw::{RawServer, RecordedRequest, Script};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// The access token the fake hands out (suffixed with a counter).
pub const FAKE_ACCESS_TOKEN: &str = "fake-sso-access-token";
/// The refresh token the fake hands out (suffixed with a counter).
pub const FAKE_REFRESH_TOKEN: &str = "fake-sso-refresh-token";

struct Grant {
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct State {
    grants: HashMap<String, Grant>,
    next: usize,
    issued: Vec<String>,
}

/// A running fake sign-in; see the [module docs](self). Dropping it stops it.
pub struct FakeSsoLogin {
    server: RawServer,
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for FakeSsoLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeSsoLogin")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

/// Decoded `application/x-www-form-urlencoded` pairs (query or body).
fn form(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_answer(status: u16, body: serde_json::Value) -> Script {
    Script::response(
        status,
        &[("content-type", "application/json")],
        body.to_string(),
    )
}

fn error(code: &str) -> Script {
    json_answer(400, json!({"error": code}))
}

/// A percent-encoded query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn route(state: &mut State, client_id: &str, req: &RecordedRequest) -> Script {
    match (req.method.as_str(), req.path()) {
        ("GET", "/oauth2/authorize") => {
            let q = form(req.query().unwrap_or(""));
            let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
            let redirect = get("redirect_uri");
            if get("response_type") != "code"
                || get("client_id") != client_id
                || get("code_challenge_method") != "S256"
                || get("code_challenge").is_empty()
                || !redirect.starts_with("http://127.0.0.1:")
            {
                return error("invalid_request");
            }
            state.next += 1;
            let code = format!("fake-code-{}", state.next);
            state.grants.insert(
                code.clone(),
                Grant {
                    challenge: get("code_challenge").to_string(),
                    redirect_uri: redirect.to_string(),
                },
            );
            let location = format!(
                "{redirect}?code={}&state={}",
                encode(&code),
                encode(get("state"))
            );
            Script::response(302, &[("location", &location)], "")
        }
        ("POST", "/oauth2/token") => {
            let f = form(&req.body_text());
            let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
            if get("grant_type") != "authorization_code" {
                return error("unsupported_grant_type");
            }
            if get("client_id") != client_id {
                return error("invalid_client");
            }
            let Some(grant) = state.grants.remove(get("code")) else {
                return error("invalid_grant");
            };
            let verifier = get("code_verifier");
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if grant.redirect_uri != get("redirect_uri")
                || verifier.len() < 43
                || computed != grant.challenge
            {
                return error("invalid_grant");
            }
            let n = state.issued.len() + 1;
            let access = format!("{FAKE_ACCESS_TOKEN}-{n}");
            state.issued.push(access.clone());
            json_answer(
                200,
                json!({
                    "access_token": access,
                    "refresh_token": format!("{FAKE_REFRESH_TOKEN}-{n}"),
                    "id_token": format!("fake-sso-id-token-{n}"),
                    "expires_in": 3600,
                    "token_type": "Bearer",
                }),
            )
        }
        _ => json_answer(404, json!({"error": "not_found"})),
    }
}

impl FakeSsoLogin {
    /// Start on `127.0.0.1` (ephemeral port), accepting `client_id`.
    pub fn start(client_id: &str) -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let client_id = client_id.to_string();
        let server = RawServer::with_handler(move |req| {
            let mut st = shared.lock().unwrap_or_else(PoisonError::into_inner);
            route(&mut st, &client_id, req)
        });
        FakeSsoLogin { server, state }
    }

    /// The base URL, `http://127.0.0.1:PORT` (the endpoints are under `/oauth2/`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The access tokens issued so far, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .issued
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        let f = form("a=x%2Fy+z&b=%41&c=%zz&d");
        assert_eq!(f["a"], "x/y z");
        assert_eq!(f["b"], "A");
        assert_eq!(f["c"], "%zz");
        assert_eq!(f["d"], "");
        assert_eq!(decode("%4"), "%4");
    }
}
