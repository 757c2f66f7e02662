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

#[cfg(test)]
mod tests {
    use super::*;

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
