//! Reading rate-limit, retry and request-id information from response headers.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};

// Names parsed at compile time: a lookup by `&str` parses the name on every
// call, which shows up in the per-request instruction count.
const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Rate-limit counters reported by the server on a response.
///
/// Each field is `None` when its header is missing or does not hold a
/// non-negative integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimit {
    /// Requests allowed in the current window (`X-RateLimit-Limit`).
    pub limit: Option<u64>,
    /// Requests still available in the current window (`X-RateLimit-Remaining`).
    pub remaining: Option<u64>,
    /// When the window resets (`X-RateLimit-Reset`), exactly as the server
    /// sent it: usually seconds until the reset or a Unix timestamp.
    pub reset: Option<u64>,
}

impl RateLimit {
    /// Reads the `X-RateLimit-*` headers.
    ///
    /// Returns `None` when none of the three headers carries a usable value.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let rl = RateLimit {
            limit: header_u64(headers, &LIMIT),
            remaining: header_u64(headers, &REMAINING),
            reset: header_u64(headers, &RESET),
        };
        if rl == RateLimit::default() {
            None
        } else {
            Some(rl)
        }
    }
}

/// Parses a header as a non-negative integer. A fractional value such as
/// `"12.5"` is truncated; anything else yields `None`.
fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Option<u64> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let f = text.parse::<f64>().ok()?;
    // `as` saturates for large values; NaN/inf/negative are rejected first.
    (f.is_finite() && f >= 0.0).then_some(f as u64)
}

/// Header names that may carry the server-assigned request id, in order of
/// preference.
const REQUEST_ID_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("request-id"),
    HeaderName::from_static("x-amzn-requestid"),
];

/// Returns the request id the server attached to a response, if any.
///
/// Looks at `x-request-id`, then `request-id`, then `x-amzn-requestid`.
/// Blank values are skipped; bytes that are not UTF-8 are replaced.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(name)?;
        let text = String::from_utf8_lossy(value.as_bytes());
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    })
}

/// Reads the `Retry-After` header, relative to `now`.
///
/// Accepts a number of seconds (fractions allowed) or an HTTP date; a date in
/// the past yields [`Duration::ZERO`]. The value is not capped here.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?, now)
}

/// Parses a single `Retry-After` header value; see [`retry_after`].
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "wait very long": saturate, so
        // the retry policy sees a wait beyond its cap and does not retry.
        return Some(
            text.parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    if let Ok(secs) = text.parse::<f64>() {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_too_long_to_represent_saturate() {
        let now = SystemTime::now();
        for v in ["99999999999999999999999", "1e300", "inf", "+inf"] {
            let parsed = parse_retry_after(&HeaderValue::from_static(v), now);
            assert_eq!(parsed, Some(Duration::MAX), "{v}");
        }
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("-1"), now),
            None
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("NaN"), now),
            None
        );
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("valid test header"));
        }
        map
    }

    #[test]
    fn reads_all_three() {
        let h = headers(&[
            ("X-RateLimit-Limit", "100"),
            ("x-ratelimit-remaining", " 7 "),
            ("X-RATELIMIT-RESET", "30"),
        ]);
        assert_eq!(
            RateLimit::from_headers(&h),
            Some(RateLimit {
                limit: Some(100),
                remaining: Some(7),
                reset: Some(30)
            })
        );
    }

    #[test]
    fn none_when_absent_or_all_garbage() {
        assert_eq!(RateLimit::from_headers(&HeaderMap::new()), None);
        let h = headers(&[("x-ratelimit-limit", "lots"), ("x-ratelimit-reset", "-3")]);
        assert_eq!(RateLimit::from_headers(&h), None);
    }

    #[test]
    fn partial_and_garbage_fields() {
        let h = headers(&[
            ("x-ratelimit-limit", "abc"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1.9"),
        ]);
        assert_eq!(
            RateLimit::from_headers(&h),
            Some(RateLimit {
                limit: None,
                remaining: Some(0),
                reset: Some(1)
            })
        );
        let h = headers(&[
            ("x-ratelimit-limit", "NaN"),
            ("x-ratelimit-remaining", "inf"),
        ]);
        assert_eq!(RateLimit::from_headers(&h), None);
    }

    #[test]
    fn request_id_order_and_blank() {
        let h = headers(&[("request-id", "second"), ("x-amzn-requestid", "third")]);
        assert_eq!(request_id(&h).as_deref(), Some("second"));
        let h = headers(&[("x-request-id", "first"), ("request-id", "second")]);
        assert_eq!(request_id(&h).as_deref(), Some("first"));
        let h = headers(&[("x-request-id", "  "), ("x-amzn-requestid", "third")]);
        assert_eq!(request_id(&h).as_deref(), Some("third"));
        assert_eq!(request_id(&HeaderMap::new()), None);
    }

    #[test]
    fn request_id_non_ascii_is_lossy() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-request-id",
            HeaderValue::from_bytes(b"id-\xff").expect("obs-text is allowed"),
        );
        assert_eq!(request_id(&h).as_deref(), Some("id-\u{fffd}"));
    }

    #[test]
    fn retry_after_seconds() {
        let now = SystemTime::now();
        let h = headers(&[("retry-after", "120")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        let h = headers(&[("retry-after", "0.5")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(500)));
        for bad in ["-1", "soon", "", "NaN"] {
            let h = headers(&[("retry-after", bad)]);
            assert_eq!(retry_after(&h, now), None, "{bad:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(45));
        let h = headers(&[("retry-after", &later)]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(45)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(45));
        let h = headers(&[("retry-after", &earlier)]);
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
    }
}
