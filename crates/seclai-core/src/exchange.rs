//! The retry and status bookkeeping of one call across its attempts, for
//! the engine ([`crate::engine::CallMachine`]): each attempt's headers,
//! whether a status or a transport failure is retried (and after how long),
//! and the error for a final non-2xx answer.

use crate::auth::{self, Resolved};
use crate::config::ClientConfig;
use crate::error::{ApiError, Error, Result, TransportError};
use crate::ratelimit::{RateLimit, request_id};
use crate::render::Prepared;
use crate::retry::{Decision, Outcome, RetryPolicy};
use http::{HeaderMap, StatusCode};
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
    /// response), `None` to read the body.
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
    fn final_answers_are_checked_and_headers_carry_the_credentials() {
        let c = config();
        let x = Exchange::new(
            &c,
            prepare(&c, &GetAgent::new("a"), &CallOptions::default()).unwrap(),
        );
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "r1".parse().unwrap());
        let e = x
            .check_status(StatusCode::NOT_FOUND, &h, b"{\"detail\":\"nope\"}")
            .unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(e.request_id(), Some("r1"));
        assert!(x.check_status(StatusCode::OK, &h, b"{}").is_ok());
        let e = x.api_error(StatusCode::BAD_GATEWAY, &h, b"<html>");
        assert_eq!(e.status(), Some(StatusCode::BAD_GATEWAY));
        let headers = x.headers(&Resolved::ApiKey(Secret::new("k"))).unwrap();
        assert_eq!(headers["x-api-key"], "k");
    }
}
