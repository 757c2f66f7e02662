//! Rendering: descriptor + configuration + per-call options → a request
//! ready for a transport (credentials are added per attempt).

use crate::config::{
    ApiVersion, ClientConfig, DEFAULT_VERSION, VERSION_HEADER, check_version, header_pair,
};
use crate::error::{Error, Result};
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use seclai_gen::Operation;
use std::time::Duration;

/// [`VERSION_HEADER`] parsed once, at compile time.
const VERSION: HeaderName = HeaderName::from_static(VERSION_HEADER);

/// Options for one call; every call builder exposes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOptions {
    /// Overall timeout of one attempt (ordinary calls).
    pub timeout: Option<Duration>,
    /// Maximum retries for this call.
    pub max_retries: Option<u32>,
    /// `Seclai-Version` for this call (guarded like the client option).
    pub api_version: Option<String>,
    /// Extra headers for this call.
    pub headers: Vec<(String, String)>,
    /// Deadline of the whole call, retries and back-off included.
    pub deadline: Option<Duration>,
    /// Longest pause between two reads of a streamed answer (default: the
    /// client's read timeout).
    pub idle_timeout: Option<Duration>,
    /// Extra query pairs, appended to the operation's own.
    pub extra_query: Vec<(String, String)>,
    /// Fields merged into the JSON body (they win over typed fields).
    pub extra_body: Option<serde_json::Value>,
}

/// A request rendered for sending, minus credentials.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Operation id (method name) for logs and spans.
    pub id: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers (without credentials).
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Option<Vec<u8>>,
    /// Safe to repeat.
    pub idempotent: bool,
    /// Overall timeout of one attempt, if any.
    pub timeout: Option<Duration>,
    /// Maximum retries.
    pub max_retries: u32,
    /// Deadline of the whole call.
    pub deadline: Option<Duration>,
    /// Idle timeout of a streamed answer (`None`: the read timeout).
    pub idle_timeout: Option<Duration>,
}

impl Prepared {
    /// Whether the request goes out with a body: a rendered one, or an
    /// empty one (`Content-Length: 0`) for methods that carry a body
    /// (POST, PUT, PATCH). The same rule on both clients, so their
    /// requests are identical on the wire.
    pub fn carries_body(&self) -> bool {
        self.body.is_some() || matches!(self.method, Method::POST | Method::PUT | Method::PATCH)
    }
}

/// Render a descriptor.
pub fn prepare<O: Operation>(
    config: &ClientConfig,
    op: &O,
    options: &CallOptions,
) -> Result<Prepared> {
    op.check().map_err(Error::InvalidRequest)?;
    let body = op
        .body()
        .map_err(|e| Error::InvalidRequest(format!("cannot serialize the request body: {e}")))?;
    let body = merge_extra_body(body, options.extra_body.as_ref())?;
    prepare_raw(
        config,
        O::ID,
        O::METHOD,
        &op.path_and_query(),
        body,
        O::IDEMPOTENT,
        options,
    )
}

/// Render a request from parts (the `request()` escape hatch and helpers).
pub fn prepare_raw(
    config: &ClientConfig,
    id: &'static str,
    method: Method,
    path_and_query: &str,
    body: Option<Vec<u8>>,
    idempotent: bool,
    options: &CallOptions,
) -> Result<Prepared> {
    if !path_and_query.starts_with('/') {
        return Err(Error::InvalidRequest(format!(
            "path {path_and_query:?} must start with '/'"
        )));
    }
    if path_and_query
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ')
    {
        return Err(Error::InvalidRequest(
            "path contains spaces or control characters; percent-encode them".into(),
        ));
    }
    let url = if options.extra_query.is_empty() {
        format!("{}{}", config.base_url(), path_and_query)
    } else {
        format!(
            "{}{}",
            config.base_url(),
            raw_path(path_and_query, &options.extra_query)
        )
    };
    let mut headers = HeaderMap::new();
    headers.insert(USER_AGENT, config.user_agent().clone());
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let version = match (&options.api_version, config.api_version()) {
        (Some(v), _) => {
            check_version(v, config.allow_unknown_versions()).map_err(Error::InvalidRequest)?;
            Some(crate::config::header_value(v).map_err(Error::InvalidRequest)?)
        }
        (None, ApiVersion::Pinned(v)) => {
            Some(crate::config::header_value(v).map_err(Error::InvalidRequest)?)
        }
        (None, ApiVersion::Default) => DEFAULT_VERSION.map(HeaderValue::from_static),
        (None, ApiVersion::Omit) => None,
    };
    if let Some(v) = version {
        headers.insert(VERSION, v);
    }
    for (name, value) in config.default_headers() {
        headers.insert(name.clone(), value.clone());
    }
    for (name, value) in &options.headers {
        let (n, v) = header_pair(name, value).map_err(Error::InvalidRequest)?;
        if n.as_str() == VERSION_HEADER {
            check_version(value, config.allow_unknown_versions()).map_err(Error::InvalidRequest)?;
        }
        headers.insert(n, v);
    }
    Ok(Prepared {
        id,
        method,
        url,
        headers,
        body,
        idempotent,
        timeout: options.timeout.or(config.timeout()),
        max_retries: options
            .max_retries
            .unwrap_or(config.retry_policy().max_retries),
        deadline: options.deadline,
        idle_timeout: options.idle_timeout,
    })
}

/// The JSON body with `extra`'s fields merged in (they replace typed fields
/// of the same name). `extra` must be an object; a call with no body gets
/// `extra` as its body.
pub fn merge_extra_body(
    body: Option<Vec<u8>>,
    extra: Option<&serde_json::Value>,
) -> Result<Option<Vec<u8>>> {
    let Some(extra) = extra else {
        return Ok(body);
    };
    let serde_json::Value::Object(fields) = extra else {
        return Err(Error::InvalidRequest(
            "extra_body must be a JSON object; its fields are merged into the body".into(),
        ));
    };
    let mut merged = match &body {
        Some(b) => match serde_json::from_slice::<serde_json::Value>(b) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => {
                return Err(Error::InvalidRequest(
                    "extra_body needs a call whose body is a JSON object".into(),
                ));
            }
        },
        None => serde_json::Map::new(),
    };
    for (k, v) in fields {
        merged.insert(k.clone(), v.clone());
    }
    serde_json::to_vec(&merged)
        .map(Some)
        .map_err(|e| Error::InvalidRequest(format!("cannot serialize the request body: {e}")))
}

/// `path` plus percent-encoded `query` pairs, for the untyped `request()`.
/// The path is used as given (encode ids yourself, or use the typed methods).
pub fn raw_path(path: &str, query: &[(String, String)]) -> String {
    let mut q = seclai_gen::support::Query::new(String::new());
    for (k, v) in query {
        q.pair(k, v);
    }
    let pairs = q.finish();
    match (path.contains('?'), pairs.strip_prefix('?')) {
        (true, Some(rest)) => format!("{path}&{rest}"),
        _ => format!("{path}{pairs}"),
    }
}

/// The `PUT /version` descriptor for `update_api_version(Some(v))` (pin,
/// after the known-version guard) or `update_api_version(None)` (JSON `null`
/// clears the pin).
pub fn update_api_version_op(
    config: &ClientConfig,
    version: Option<&str>,
) -> Result<seclai_gen::ops::UpdateApiVersion> {
    if let Some(v) = version {
        check_version(v, config.allow_unknown_versions()).map_err(Error::InvalidRequest)?;
    }
    let body = seclai_gen::types::UpdateApiVersionRequest {
        version: Some(version.map(str::to_string)),
    };
    Ok(seclai_gen::ops::UpdateApiVersion::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use seclai_gen::ops::GetAgent;

    fn config() -> ClientConfig {
        ClientConfig::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9/prefix/")
            .build_with_env(&|_| None)
            .unwrap()
    }

    #[test]
    fn renders_url_headers_and_version() {
        let p = prepare(&config(), &GetAgent::new("a/b"), &CallOptions::default()).unwrap();
        assert_eq!(p.url, "http://127.0.0.1:9/prefix/agents/a%2Fb");
        assert_eq!(p.method, Method::GET);
        assert!(p.idempotent);
        assert_eq!(
            p.headers.get(VERSION_HEADER).map(|v| v.to_str().unwrap()),
            DEFAULT_VERSION
        );
        assert!(
            p.headers.get("x-api-key").is_none(),
            "credentials are added per attempt"
        );
    }

    #[test]
    fn version_updates_pin_clear_and_guard() {
        let c = config();
        let known = seclai_gen::KNOWN_VERSIONS.first().copied().unwrap_or("x");
        let op = update_api_version_op(&c, Some(known)).unwrap();
        assert_eq!(
            op.body().unwrap().unwrap(),
            format!("{{\"version\":\"{known}\"}}").into_bytes()
        );
        let op = update_api_version_op(&c, None).unwrap();
        assert_eq!(op.body().unwrap().unwrap(), b"{\"version\":null}".to_vec());
        if !seclai_gen::KNOWN_VERSIONS.is_empty() {
            assert!(matches!(
                update_api_version_op(&c, Some("1900-01-01")),
                Err(Error::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn rejects_bad_ids_headers_and_versions() {
        let c = config();
        let e = prepare(&c, &GetAgent::new(".."), &CallOptions::default()).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)));
        let o = CallOptions {
            headers: vec![("x-a".into(), "1\r\nx-b: 2".into())],
            ..Default::default()
        };
        assert!(matches!(
            prepare(&c, &GetAgent::new("a"), &o),
            Err(Error::InvalidRequest(_))
        ));
        let o = CallOptions {
            api_version: Some("1900-01-01".into()),
            ..Default::default()
        };
        assert!(matches!(
            prepare(&c, &GetAgent::new("a"), &o),
            Err(Error::InvalidRequest(_))
        ));
        let o = CallOptions {
            headers: vec![("Seclai-Version".into(), "1900-01-01".into())],
            ..Default::default()
        };
        assert!(matches!(
            prepare(&c, &GetAgent::new("a"), &o),
            Err(Error::InvalidRequest(_))
        ));
    }
}
