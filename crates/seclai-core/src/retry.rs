//! When to retry a failed request, and how long to wait first.
//!
//! [`RetryPolicy::decide`] is a pure function of the attempt number, whether
//! the request is idempotent, and what happened ([`Outcome`]). A transport
//! calls it after each failure and sleeps for the returned delay. A
//! [`RetryBudget`] shared by all clones of a client additionally limits how
//! many retries happen overall, so a struggling server is not hit by a storm
//! of repeats.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use http::StatusCode;

use crate::error::{Error, TransportKind};

/// Whether a status usually signals a temporary condition: 408, 429, 500,
/// 502, 503 or 504.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Settings that decide which failures are retried and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most retries after the first attempt (default 2; 0 disables retries).
    pub max_retries: u32,
    /// Back-off before the first retry; doubled for each later one
    /// (default 0.5 s).
    pub base_delay: Duration,
    /// Upper bound of the computed back-off (default 8 s).
    pub max_delay: Duration,
    /// Longest `Retry-After` the client is willing to honour (default 60 s).
    /// When the server asks for more, the error is returned instead.
    pub max_retry_after: Duration,
    /// Also retry non-idempotent requests (such as `POST`) after failures
    /// that may have reached the server (default `false`).
    pub retry_non_idempotent: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            retry_non_idempotent: false,
        }
    }
}

/// What happened to one attempt of a request that did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The request never left the client (DNS failure, connection refused).
    /// Resending is always safe.
    NotSent,
    /// The server answered with a non-2xx status.
    Status {
        /// The status received.
        status: StatusCode,
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// No response arrived.
    Transport {
        /// The category of the failure. [`TransportKind::Tls`] and
        /// [`TransportKind::Other`] are treated as permanent.
        kind: TransportKind,
        /// Whether the request may have reached the server. When `false`
        /// this is handled like [`Outcome::NotSent`].
        maybe_sent: bool,
    },
}

impl Outcome {
    /// Describes an SDK error as an outcome, or `None` for errors that no
    /// retry can fix (decode, stream, configuration and request errors).
    pub fn from_error(error: &Error) -> Option<Outcome> {
        match error {
            Error::Api(e) => Some(Outcome::Status {
                status: e.status,
                retry_after: e.retry_after,
            }),
            Error::Transport(e) => Some(Outcome::Transport {
                kind: e.kind,
                maybe_sent: e.maybe_sent,
            }),
            _ => None,
        }
    }
}

/// The verdict of [`RetryPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then send the request again.
    Retry(Duration),
    /// Stop and return the error to the caller.
    GiveUp,
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn disabled() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Decides what to do after a failed attempt, drawing jitter from the
    /// thread-local random generator.
    ///
    /// `attempt` is the number of retries already made (0 after the first
    /// failure). `idempotent` says whether repeating the request is harmless
    /// (see [`http::Method::is_idempotent`]).
    pub fn decide(&self, attempt: u32, idempotent: bool, outcome: &Outcome) -> Decision {
        self.decide_with(attempt, idempotent, outcome, |cap| {
            jitter(cap, |n| fastrand::u64(0..=n))
        })
    }

    /// Like [`decide`](Self::decide), with jitter from the given generator
    /// (seed it for reproducible delays).
    pub fn decide_with_rng(
        &self,
        attempt: u32,
        idempotent: bool,
        outcome: &Outcome,
        rng: &mut fastrand::Rng,
    ) -> Decision {
        self.decide_with(attempt, idempotent, outcome, |cap| {
            jitter(cap, |n| rng.u64(0..=n))
        })
    }

    /// Like [`decide`](Self::decide), with a custom jitter function that
    /// maps the back-off cap to the actual delay. It should return a value
    /// between zero and the cap; larger results are clamped to the cap.
    pub fn decide_with(
        &self,
        attempt: u32,
        idempotent: bool,
        outcome: &Outcome,
        mut jitter: impl FnMut(Duration) -> Duration,
    ) -> Decision {
        if attempt >= self.max_retries || !self.may_retry(idempotent, outcome) {
            return Decision::GiveUp;
        }
        if let Outcome::Status {
            retry_after: Some(wait),
            ..
        } = outcome
        {
            return if *wait > self.max_retry_after {
                Decision::GiveUp
            } else {
                Decision::Retry(*wait)
            };
        }
        let cap = self.backoff_cap(attempt);
        Decision::Retry(jitter(cap).min(cap))
    }

    /// Whether the outcome is retryable at all for this kind of request,
    /// ignoring the attempt count and delays.
    fn may_retry(&self, idempotent: bool, outcome: &Outcome) -> bool {
        let safe_to_repeat = idempotent || self.retry_non_idempotent;
        match *outcome {
            Outcome::NotSent => true,
            Outcome::Status { status, .. } => {
                // A 429 means the request was turned away unprocessed.
                status == StatusCode::TOO_MANY_REQUESTS
                    || (safe_to_repeat && is_retryable_status(status))
            }
            Outcome::Transport { kind, maybe_sent } => {
                let transient = matches!(
                    kind,
                    TransportKind::Connect | TransportKind::Timeout | TransportKind::Io
                );
                transient && (!maybe_sent || safe_to_repeat)
            }
        }
    }

    /// The largest back-off before retry number `attempt + 1`:
    /// `min(max_delay, base_delay * 2^attempt)`.
    pub fn backoff_cap(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

/// Picks a uniformly random duration in `[0, cap]` at nanosecond resolution
/// using `draw(n)`, which must return a value in `0..=n`.
fn jitter(cap: Duration, draw: impl FnOnce(u64) -> u64) -> Duration {
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(draw(nanos))
}

/// One token, in milli-tokens.
const TOKEN: u32 = 1000;

/// A token bucket that caps retries across every clone of a client.
///
/// Each retry withdraws one token; each successful request puts back a
/// fraction of one (0.1 by default). When the bucket is empty, failures are
/// returned without retrying until enough requests have succeeded again.
/// Clones share the same bucket. All operations are lock-free.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    /// Available milli-tokens.
    tokens: Arc<AtomicU32>,
    /// Bucket size in milli-tokens.
    capacity: u32,
    /// Milli-tokens returned per success.
    refill: u32,
}

impl RetryBudget {
    /// Default number of retries the bucket holds.
    pub const DEFAULT_CAPACITY: u32 = 20;
    /// Default milli-tokens returned per success (a tenth of a retry).
    pub const DEFAULT_REFILL_MILLIS: u32 = 100;

    /// A full bucket holding `retries` retries, refilled by a tenth of a
    /// retry per success.
    pub fn new(retries: u32) -> Self {
        Self::with_refill(retries, Self::DEFAULT_REFILL_MILLIS)
    }

    /// A full bucket holding `retries` retries, refilled by
    /// `refill_millis / 1000` of a retry per success.
    pub fn with_refill(retries: u32, refill_millis: u32) -> Self {
        let capacity = retries.saturating_mul(TOKEN);
        Self {
            tokens: Arc::new(AtomicU32::new(capacity)),
            capacity,
            refill: refill_millis,
        }
    }

    /// Takes one retry's worth of tokens. Returns `false`, taking nothing,
    /// when less than one full token is left.
    pub fn try_withdraw(&self) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                t.checked_sub(TOKEN)
            })
            .is_ok()
    }

    /// Records a successful request, returning part of a token.
    pub fn deposit_success(&self) {
        let capacity = self.capacity;
        let refill = self.refill;
        // The closure always returns Some, so this cannot fail.
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(refill).min(capacity))
            });
    }

    /// How many whole retries are currently available.
    pub fn available(&self) -> u32 {
        self.tokens.load(Ordering::Acquire) / TOKEN
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ApiError, TransportError};
    use http::HeaderMap;

    const SECOND: Duration = Duration::from_secs(1);

    fn status(code: u16) -> Outcome {
        Outcome::Status {
            status: StatusCode::from_u16(code).expect("valid status"),
            retry_after: None,
        }
    }

    fn transport(kind: TransportKind, maybe_sent: bool) -> Outcome {
        Outcome::Transport { kind, maybe_sent }
    }

    /// Jitter that always takes the full cap, making delays predictable.
    fn full(cap: Duration) -> Duration {
        cap
    }

    fn retries(p: &RetryPolicy, idempotent: bool, o: &Outcome) -> bool {
        matches!(p.decide_with(0, idempotent, o, full), Decision::Retry(_))
    }

    #[test]
    fn defaults() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_retries, 2);
        assert_eq!(p.base_delay, Duration::from_millis(500));
        assert_eq!(p.max_delay, 8 * SECOND);
        assert_eq!(p.max_retry_after, 60 * SECOND);
        assert!(!p.retry_non_idempotent);
        assert_eq!(RetryPolicy::disabled().max_retries, 0);
    }

    #[test]
    fn never_more_than_max_retries() {
        let p = RetryPolicy::default();
        let o = Outcome::NotSent;
        assert!(matches!(
            p.decide_with(0, true, &o, full),
            Decision::Retry(_)
        ));
        assert!(matches!(
            p.decide_with(1, true, &o, full),
            Decision::Retry(_)
        ));
        assert_eq!(p.decide_with(2, true, &o, full), Decision::GiveUp);
        assert_eq!(p.decide_with(u32::MAX, true, &o, full), Decision::GiveUp);
        assert_eq!(
            RetryPolicy::disabled().decide(0, true, &o),
            Decision::GiveUp
        );
    }

    #[test]
    fn not_sent_retried_for_any_method() {
        let p = RetryPolicy::default();
        for idempotent in [true, false] {
            assert!(retries(&p, idempotent, &Outcome::NotSent));
            assert!(retries(
                &p,
                idempotent,
                &transport(TransportKind::Connect, false)
            ));
            assert!(retries(
                &p,
                idempotent,
                &transport(TransportKind::Timeout, false)
            ));
            assert!(retries(
                &p,
                idempotent,
                &transport(TransportKind::Io, false)
            ));
        }
    }

    #[test]
    fn too_many_requests_retried_for_any_method() {
        let p = RetryPolicy::default();
        assert!(retries(&p, true, &status(429)));
        assert!(retries(&p, false, &status(429)));
    }

    #[test]
    fn server_errors_only_when_idempotent_or_opted_in() {
        let p = RetryPolicy::default();
        let opted = RetryPolicy {
            retry_non_idempotent: true,
            ..RetryPolicy::default()
        };
        for code in [408, 500, 502, 503, 504] {
            assert!(retries(&p, true, &status(code)), "{code}");
            assert!(!retries(&p, false, &status(code)), "{code}");
            assert!(retries(&opted, false, &status(code)), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422, 501, 505] {
            assert!(!retries(&p, true, &status(code)), "{code}");
            assert!(!retries(&opted, false, &status(code)), "{code}");
        }
    }

    #[test]
    fn maybe_sent_transport_errors() {
        let p = RetryPolicy::default();
        let opted = RetryPolicy {
            retry_non_idempotent: true,
            ..RetryPolicy::default()
        };
        for kind in [TransportKind::Timeout, TransportKind::Io] {
            let o = transport(kind, true);
            assert!(retries(&p, true, &o), "{kind:?}");
            assert!(!retries(&p, false, &o), "{kind:?}");
            assert!(retries(&opted, false, &o), "{kind:?}");
        }
        for kind in [TransportKind::Tls, TransportKind::Other] {
            for sent in [true, false] {
                assert!(!retries(&opted, true, &transport(kind, sent)), "{kind:?}");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_or_gives_up() {
        let p = RetryPolicy::default();
        let o = Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(30 * SECOND),
        };
        assert_eq!(p.decide(0, false, &o), Decision::Retry(30 * SECOND));
        let o = Outcome::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(60 * SECOND),
        };
        assert_eq!(p.decide(1, true, &o), Decision::Retry(60 * SECOND));
        let o = Outcome::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(61 * SECOND),
        };
        assert_eq!(p.decide(0, true, &o), Decision::GiveUp);
        // Retry-After does not make an unsafe request retryable.
        let o = Outcome::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(SECOND),
        };
        assert_eq!(p.decide(0, false, &o), Decision::GiveUp);
    }

    #[test]
    fn backoff_cap_doubles_and_saturates() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_cap(0), Duration::from_millis(500));
        assert_eq!(p.backoff_cap(1), SECOND);
        assert_eq!(p.backoff_cap(2), 2 * SECOND);
        assert_eq!(p.backoff_cap(4), 8 * SECOND);
        assert_eq!(p.backoff_cap(5), 8 * SECOND);
        assert_eq!(p.backoff_cap(u32::MAX), 8 * SECOND);
        let huge = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(huge.backoff_cap(3), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = RetryPolicy {
            max_retries: 10,
            ..RetryPolicy::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let mut below_half = false;
        for attempt in 0..10 {
            let cap = p.backoff_cap(attempt);
            for _ in 0..200 {
                match p.decide_with_rng(attempt, true, &status(503), &mut rng) {
                    Decision::Retry(d) => {
                        assert!(d <= cap, "{d:?} > {cap:?}");
                        below_half |= d < cap / 2;
                    }
                    Decision::GiveUp => panic!("expected a retry"),
                }
            }
            // The unseeded path obeys the same cap.
            match p.decide(attempt, true, &status(503)) {
                Decision::Retry(d) => assert!(d <= cap),
                Decision::GiveUp => panic!("expected a retry"),
            }
        }
        assert!(below_half, "delays should be spread over the range");
        // Same seed, same delays.
        let a = p.decide_with_rng(3, true, &status(503), &mut fastrand::Rng::with_seed(1));
        let b = p.decide_with_rng(3, true, &status(503), &mut fastrand::Rng::with_seed(1));
        assert_eq!(a, b);
        // Custom jitter beyond the cap is clamped.
        assert_eq!(
            p.decide_with(0, true, &status(503), |_| Duration::MAX),
            Decision::Retry(Duration::from_millis(500))
        );
    }

    #[test]
    fn outcome_from_error() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("2"));
        let e: Error = ApiError::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"").into();
        assert_eq!(
            Outcome::from_error(&e),
            Some(Outcome::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(2 * SECOND)
            })
        );
        let e: Error = TransportError::new(TransportKind::Connect, "refused").into();
        assert_eq!(
            Outcome::from_error(&e),
            Some(transport(TransportKind::Connect, false))
        );
        assert_eq!(Outcome::from_error(&Error::Config("x".into())), None);
    }

    #[test]
    fn budget_exhausts_and_refills() {
        let b = RetryBudget::new(3);
        assert_eq!(b.available(), 3);
        assert!(b.try_withdraw());
        assert!(b.try_withdraw());
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
        assert_eq!(b.available(), 0);
        for _ in 0..9 {
            b.deposit_success();
        }
        assert!(!b.try_withdraw(), "0.9 of a token is not enough");
        b.deposit_success();
        assert!(b.try_withdraw());
        // Deposits never exceed the capacity.
        for _ in 0..1000 {
            b.deposit_success();
        }
        assert_eq!(b.available(), 3);
    }

    #[test]
    fn budget_is_shared_by_clones() {
        let a = RetryBudget::new(2);
        let b = a.clone();
        assert!(a.try_withdraw());
        assert!(b.try_withdraw());
        assert!(!a.try_withdraw());
        assert_eq!(
            RetryBudget::default().available(),
            RetryBudget::DEFAULT_CAPACITY
        );
        let fast = RetryBudget::with_refill(1, 1000);
        assert!(fast.try_withdraw());
        fast.deposit_success();
        assert!(fast.try_withdraw());
        let empty = RetryBudget::new(0);
        assert!(!empty.try_withdraw());
        empty.deposit_success();
        assert!(!empty.try_withdraw());
    }

    #[test]
    fn budget_is_thread_safe() {
        let budget = RetryBudget::new(100);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let b = budget.clone();
                std::thread::spawn(move || (0..50).filter(|_| b.try_withdraw()).count())
            })
            .collect();
        let taken: usize = handles
            .into_iter()
            .map(|h| h.join().expect("thread finished"))
            .sum();
        assert_eq!(taken, 100, "exactly the capacity is handed out");
        assert_eq!(budget.available(), 0);

        let handles: Vec<_> = (0..4)
            .map(|_| {
                let b = budget.clone();
                std::thread::spawn(move || (0..100).for_each(|_| b.deposit_success()))
            })
            .collect();
        for h in handles {
            h.join().expect("thread finished");
        }
        assert_eq!(budget.available(), 40);
    }
}
