//! A string wrapper for credentials that never shows its value in logs.

use std::fmt;

/// An API key, bearer token or other credential.
///
/// The wrapped value is only reachable through [`Secret::expose`]; both
/// [`Debug`](fmt::Debug) and [`Display`](fmt::Display) print a fixed mask, so
/// a `Secret` can sit inside configuration structs that get logged with
/// `{:?}` without leaking the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the raw credential, e.g. to place it in a request header.
    ///
    /// Keep the returned string out of logs and error messages.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns `true` when the credential is the empty string (ignoring
    /// surrounding whitespace), which is never a usable key.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl Secret {
    /// `text` with this secret masked in every spelling a server might echo
    /// it in: as is, percent-encoded (either case, `+` or `%20` for
    /// spaces) and JSON-escaped. Secrets shorter than 4 characters are
    /// left alone (masking them would garble ordinary text).
    pub fn redact(&self, text: &str) -> String {
        redact_all(text, std::slice::from_ref(self))
    }
}

/// `text` with each of `secrets` masked in every spelling (see
/// [`Secret::redact`]).
pub fn redact_all(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        let raw = secret.expose();
        if raw.chars().count() < 4 {
            continue;
        }
        for spelling in spellings(raw) {
            if out.contains(&spelling) {
                out = out.replace(&spelling, "***");
            }
        }
    }
    out
}

fn spellings(raw: &str) -> Vec<String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let upper = utf8_percent_encode(raw, NON_ALPHANUMERIC).to_string();
    let lower = lower_hex_escapes(&upper);
    let form_upper = upper.replace("%20", "+");
    let form_lower = lower.replace("%20", "+");
    let json = serde_json::to_string(raw).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let mut all = vec![raw.to_string(), upper, lower, form_upper, form_lower, json];
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    all
}

fn lower_hex_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// `url` with any password in its user-info masked, for error messages
/// that name a proxy.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_secret_is_masked() {
        let s = Secret::new("rt/abc+d e=é");
        let echoed = format!(
            "raw {} pct %s form {} lower {} json {}",
            "rt/abc+d e=é",
            "rt%2Fabc%2Bd+e%3D%C3%A9",
            "rt%2fabc%2bd%20e%3d%c3%a9",
            serde_json::to_string("rt/abc+d e=é").unwrap()
        );
        let out = s.redact(&echoed);
        assert!(!out.contains("abc"), "{out}");
        assert_eq!(out.matches("***").count(), 4, "{out}");
    }

    #[test]
    fn proxy_passwords_are_masked() {
        assert_eq!(
            redact_url("http://u:pw@proxy:8080/x"),
            "http://u:***@proxy:8080/x"
        );
        assert_eq!(redact_url("http://proxy:8080"), "http://proxy:8080");
    }

    #[test]
    fn debug_and_display_are_masked() {
        let s = Secret::new("sk-live-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s:#?}"), "Secret(***)");
        assert_eq!(s.to_string(), "***");
        assert!(!format!("{s:?}{s}").contains("very-secret"));
    }

    #[test]
    fn masked_inside_containers() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Config {
            key: Secret,
        }
        let c = Config {
            key: Secret::from("abc123"),
        };
        assert!(!format!("{c:?}").contains("abc123"));
        assert!(!format!("{:?}", Some(c.key.clone())).contains("abc123"));
    }

    #[test]
    fn expose_clone_eq() {
        let a = Secret::new(String::from("k"));
        let b = a.clone();
        assert_eq!(a, b);
        assert_eq!(b.expose(), "k");
        assert_ne!(a, Secret::new("other"));
        assert!(Secret::new("  ").is_blank());
        assert!(!a.is_blank());
    }
}
