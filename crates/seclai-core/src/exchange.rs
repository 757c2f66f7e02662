//! One call's life, without I/O: build each attempt's request, classify
//! what came back, decide retries, decode the answer. A transport's loop is
//! just: `request` → send → `retry_on_status` / `retry_on_error` → sleep or
//! read the body → `finish`.

use crate::auth::{self, Resolved};
use crate::config::ClientConfig;
use crate::error::{ApiError, Error, Result, TransportError, decode_json};
use crate::ratelimit::{RateLimit, request_id};
use crate::render::Prepared;
use crate::retry::{Decision, Outcome, RetryPolicy};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// A decoded answer with what the response said about itself.
#[derive(Debug, Clone)]
pub struct Response<T> {
    /// The decoded body.
    pub value: T,
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The server's request id, if sent.
    pub request_id: Option<String>,
    /// Rate-limit headers, if sent.
    pub rate_limit: Option<RateLimit>,
}

impl<T> Response<T> {
    /// A value with the metadata read from `headers`.
    pub fn new(value: T, status: StatusCode, headers: HeaderMap) -> Self {
        Response {
            value,
            status,
            request_id: request_id(&headers),
            rate_limit: RateLimit::from_headers(&headers),
            headers,
        }
    }

    /// Keep only the value.
    pub fn into_value(self) -> T {
        self.value
    }
}

/// Bodies of error responses are read up to this many bytes.
pub const MAX_ERROR_BODY_READ: usize = 64 * 1024;

/// The state of one call across its attempts.
#[derive(Debug)]
pub struct Exchange {
    config: ClientConfig,
    prepared: Prepared,
    policy: RetryPolicy,
    retries: u32,
    started: Instant,
}

impl Exchange {
    /// Start a call.
    pub fn new(config: &ClientConfig, prepared: Prepared) -> Self {
        let mut policy = config.retry_policy().clone();
        policy.max_retries = prepared.max_retries;
        Exchange {
            config: config.clone(),
            prepared,
            policy,
            retries: 0,
            started: Instant::now(),
        }
    }

    /// The configuration of the client making the call.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The rendered request.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The rendered request, to adjust before the first attempt.
    pub fn prepared_mut(&mut self) -> &mut Prepared {
        &mut self.prepared
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The headers of the next attempt: the rendered ones plus `resolved`
    /// credentials. For transports that build their own request type from
    /// [`prepared`](Self::prepared)'s method, URL and body.
    pub fn headers(&self, resolved: &Resolved) -> Result<HeaderMap> {
        let mut headers = self.prepared.headers.clone();
        auth::apply(&self.config, resolved, &mut headers)?;
        Ok(headers)
    }

    /// The request for the next attempt, with `resolved` credentials.
    pub fn request(&self, resolved: &Resolved) -> Result<http::Request<Vec<u8>>> {
        let headers = self.headers(resolved)?;
        let mut req = http::Request::builder()
            .method(self.prepared.method.clone())
            .uri(&self.prepared.url)
            .body(self.prepared.body.clone().unwrap_or_default())
            .map_err(|e| Error::InvalidRequest(format!("cannot build the request: {e}")))?;
        *req.headers_mut() = headers;
        Ok(req)
    }

    fn decide(&mut self, outcome: Outcome) -> Option<Duration> {
        match self
            .policy
            .decide(self.retries, self.prepared.idempotent, &outcome)
        {
            Decision::Retry(d) if self.config.retry_budget().try_withdraw() => {
                self.retries += 1;
                log_retry(self.prepared.id, self.retries, d, &outcome);
                Some(d)
            }
            _ => None,
        }
    }

    /// After a response head arrived: `Some(delay)` to retry (drop the
    /// response), `None` to read the body and [`finish`](Self::finish).
    pub fn retry_on_status(&mut self, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
        if status.is_success() || status.is_informational() || status.is_redirection() {
            return None;
        }
        let retry_after = crate::ratelimit::retry_after(headers, std::time::SystemTime::now());
        self.decide(Outcome::Status {
            status,
            retry_after,
        })
    }

    /// After a transport failure: `Ok(delay)` to retry, else the error.
    pub fn retry_on_error(&mut self, error: TransportError) -> Result<Duration> {
        let outcome = if error.maybe_sent {
            Outcome::Transport {
                kind: error.kind,
                maybe_sent: true,
            }
        } else {
            Outcome::NotSent
        };
        match self.decide(outcome) {
            Some(d) => Ok(d),
            None => Err(Error::Transport(error)),
        }
    }

    /// Decode a final answer into `T` (2xx) or an [`Error::Api`].
    pub fn finish<T: DeserializeOwned>(
        &self,
        status: StatusCode,
        headers: HeaderMap,
        body: &[u8],
    ) -> Result<Response<T>> {
        self.check_status(status, &headers, body)?;
        let value = decode_json(status, body)?;
        Ok(self.response(value, status, headers))
    }

    /// Like [`finish`](Self::finish) for one page of a list: the items
    /// under `items_key` (or `data`/`items`) and what the envelope says
    /// about paging.
    pub fn finish_page<T: DeserializeOwned>(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        items_key: &str,
    ) -> Result<crate::paging::PageData<T>> {
        self.check_status(status, headers, body)?;
        crate::paging::read_page(status, body, items_key)
    }

    /// Like [`finish`](Self::finish) for the untyped `request()` call: JSON
    /// becomes a value, other text a JSON string, an empty body `null`.
    pub fn finish_raw(
        &self,
        status: StatusCode,
        headers: HeaderMap,
        body: &[u8],
    ) -> Result<Response<serde_json::Value>> {
        self.check_status(status, &headers, body)?;
        let is_json = is_json_response(&headers);
        let value = if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else if is_json {
            decode_json(status, body)?
        } else {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        };
        Ok(self.response(value, status, headers))
    }

    /// An [`Error::Api`] for a non-2xx answer; counts successes for the budget.
    pub fn check_status(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<()> {
        log_done(
            self.prepared.id,
            status,
            headers,
            self.retries,
            self.started.elapsed(),
        );
        if status.is_success() {
            self.config.retry_budget().deposit_success();
            Ok(())
        } else {
            Err(Error::Api(Box::new(ApiError::from_response(
                status, headers, body,
            ))))
        }
    }

    /// The [`Error::Api`] for a final non-2xx answer whose (bounded) body was read.
    pub fn api_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
        match self.check_status(status, headers, body) {
            Err(e) => e,
            Ok(()) => Error::Api(Box::new(ApiError::from_response(status, headers, body))),
        }
    }

    fn response<T>(&self, value: T, status: StatusCode, headers: HeaderMap) -> Response<T> {
        Response::new(value, status, headers)
    }
}

/// Whether a response says its body is JSON (`application/json`, `+json`).
pub fn is_json_response(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"))
}

#[cfg(feature = "tracing")]
fn log_retry(id: &str, attempt: u32, delay: Duration, outcome: &Outcome) {
    tracing::debug!(
        operation = id,
        attempt,
        delay_ms = delay.as_millis() as u64,
        ?outcome,
        "seclai: retrying"
    );
}
#[cfg(not(feature = "tracing"))]
fn log_retry(_: &str, _: u32, _: Duration, _: &Outcome) {}

/// The final answer: a debug event, and the outcome recorded on the call's
/// span (the current one, entered by the transport) when anyone listens.
#[cfg(feature = "tracing")]
fn log_done(id: &str, status: StatusCode, headers: &HeaderMap, retries: u32, elapsed: Duration) {
    let elapsed_ms = elapsed.as_millis() as u64;
    tracing::debug!(
        operation = id,
        status = status.as_u16(),
        retries,
        elapsed_ms,
        "seclai: response"
    );
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("status", status.as_u16());
        span.record("attempts", retries + 1);
        span.record("elapsed_ms", elapsed_ms);
        if let Some(id) = request_id(headers) {
            span.record("request_id", id.as_str());
        }
    }
}
#[cfg(not(feature = "tracing"))]
fn log_done(_: &str, _: StatusCode, _: &HeaderMap, _: u32, _: Duration) {}

/// The span a transport wraps one call in (`tracing` feature): operation
/// and method from the start; status, attempts, elapsed time and the
/// server's request id once the answer is in.
#[cfg(feature = "tracing")]
pub fn span(prepared: &Prepared) -> tracing::Span {
    use tracing::field::Empty;
    tracing::debug_span!(
        "seclai.call",
        operation = prepared.id,
        method = %prepared.method,
        status = Empty,
        attempts = Empty,
        elapsed_ms = Empty,
        request_id = Empty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{CallOptions, prepare};
    use crate::secret::Secret;
    use seclai_gen::ops::{CancelExperiment, GetAgent};

    fn config() -> ClientConfig {
        ClientConfig::builder()
            .api_key("k")
            .build_with_env(&|_| None)
            .unwrap()
    }

    #[test]
    fn retries_get_on_503_but_not_post() {
        let c = config();
        let mut x = Exchange::new(
            &c,
            prepare(&c, &GetAgent::new("a"), &CallOptions::default()).unwrap(),
        );
        assert!(
            x.retry_on_status(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new())
                .is_some()
        );
        let mut x = Exchange::new(
            &c,
            prepare(&c, &CancelExperiment::new("e"), &CallOptions::default()).unwrap(),
        );
        assert!(
            x.retry_on_status(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new())
                .is_none()
        );
        assert!(
            x.retry_on_status(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new())
                .is_some()
        );
    }

    #[test]
    fn finish_decodes_and_reports_errors() {
        let c = config();
        let x = Exchange::new(
            &c,
            prepare(&c, &GetAgent::new("a"), &CallOptions::default()).unwrap(),
        );
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "r1".parse().unwrap());
        let e = x
            .finish::<serde_json::Value>(StatusCode::NOT_FOUND, h, b"{\"detail\":\"nope\"}")
            .unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(e.request_id(), Some("r1"));
        let r = x
            .finish_raw(StatusCode::OK, HeaderMap::new(), b"plain")
            .unwrap();
        assert_eq!(r.value, serde_json::json!("plain"));
        let req = x.request(&Resolved::ApiKey(Secret::new("k"))).unwrap();
        assert_eq!(req.headers()["x-api-key"], "k");
    }
}
