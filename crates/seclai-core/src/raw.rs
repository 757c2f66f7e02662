//! The untyped escape hatches, as data: a raw request (`client.request()`)
//! and a raw paginator (`client.paginate()`). Each client wraps these with
//! its own send method; the builders are defined once, here.

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::paging::Pager;
use crate::render::{CallOptions, Prepared, prepare_raw, raw_path};
use http::Method;
use seclai_gen::Pagination;

/// A request to any path, with query pairs and an optional JSON body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// HTTP method.
    pub method: Method,
    /// Path relative to the base URL (used as given).
    pub path: String,
    /// Query pairs, percent-encoded when rendered.
    pub query: Vec<(String, String)>,
    /// The serialized JSON body, or why it could not be serialized.
    pub body: Option<std::result::Result<Vec<u8>, String>>,
    /// Per-call options.
    pub options: CallOptions,
}

impl RawRequest {
    /// A request with no query and no body.
    pub fn new(method: Method, path: String) -> Self {
        RawRequest {
            method,
            path,
            query: Vec::new(),
            body: None,
            options: CallOptions::default(),
        }
    }

    /// Render it; an unserializable body is an [`Error::InvalidRequest`].
    pub fn prepare(&self, config: &ClientConfig) -> Result<Prepared> {
        let body = match &self.body {
            Some(Ok(b)) => Some(b.clone()),
            Some(Err(e)) => {
                return Err(Error::InvalidRequest(format!(
                    "cannot serialize the body: {e}"
                )));
            }
            None => None,
        };
        let body = crate::render::merge_extra_body(body, self.options.extra_body.as_ref())?;
        let path = raw_path(&self.path, &self.query);
        let idempotent = self.method.is_idempotent();
        prepare_raw(
            config,
            "request",
            self.method.clone(),
            &path,
            body,
            idempotent,
            &self.options,
        )
    }
}

/// What a raw paginator fetches: a list path, how it pages and where the
/// items are.
#[derive(Debug, Clone)]
pub struct RawPages {
    /// HTTP method (normally GET).
    pub method: Method,
    /// List path relative to the base URL.
    pub path: String,
    /// Envelope key of the items (default `data`).
    pub items_key: String,
    /// Page size sent as `limit`.
    pub limit: Option<i64>,
    /// Page by `offset` instead of `page`.
    pub offsets: bool,
    /// Stop after this many items.
    pub max_items: Option<usize>,
    /// Per-call options.
    pub options: CallOptions,
}

impl RawPages {
    /// Paging `path` with `method`, items under `data`.
    pub fn new(method: Method, path: String) -> Self {
        RawPages {
            method,
            path,
            items_key: "data".into(),
            limit: None,
            offsets: false,
            max_items: None,
            options: CallOptions::default(),
        }
    }

    /// The pager for these settings.
    pub fn pager(&self) -> Pager {
        let style = if self.offsets {
            Pagination::LimitOffset
        } else {
            Pagination::PageLimit
        };
        Pager::new(style, None, self.limit, self.max_items)
    }

    /// Render the request for page number (or offset) `position`.
    pub fn prepare(&self, config: &ClientConfig, position: i64) -> Result<Prepared> {
        let mut query = vec![(
            (if self.offsets { "offset" } else { "page" }).to_string(),
            position.to_string(),
        )];
        if let Some(l) = self.limit {
            query.push(("limit".into(), l.to_string()));
        }
        let path = raw_path(&self.path, &query);
        let idempotent = self.method.is_idempotent();
        prepare_raw(
            config,
            "paginate",
            self.method.clone(),
            &path,
            None,
            idempotent,
            &self.options,
        )
    }
}

/// A raw paginator over any list path, built by `client.paginate(method,
/// path)`; `.items()` hands out the items as JSON values (async: a stream;
/// blocking: an iterator).
#[must_use = "call .items() to get the items"]
pub struct RawPaginator<C> {
    client: C,
    pages: RawPages,
}

impl<C> std::fmt::Debug for RawPaginator<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPaginator")
            .field("method", &self.pages.method)
            .field("path", &self.pages.path)
            .finish_non_exhaustive()
    }
}

impl<C: crate::call::Driver> RawPaginator<C> {
    /// Paging `path` with `method` on `client`.
    pub fn new(client: C, method: Method, path: String) -> Self {
        RawPaginator {
            client,
            pages: RawPages::new(method, path),
        }
    }

    /// The envelope key holding the items (default `data`; `items` and a
    /// top-level array are also recognised).
    pub fn items_key(mut self, key: impl Into<String>) -> Self {
        self.pages.items_key = key.into();
        self
    }

    /// Page size sent as `limit`.
    pub fn limit(mut self, n: i64) -> Self {
        self.pages.limit = Some(n);
        self
    }

    /// Page with `offset` instead of `page`.
    pub fn offsets(mut self) -> Self {
        self.pages.offsets = true;
        self
    }

    /// Stop after this many items.
    pub fn max_items(mut self, n: usize) -> Self {
        self.pages.max_items = Some(n);
        self
    }

    /// The items as JSON values.
    pub fn items(self) -> C::Items<serde_json::Value> {
        self.items_as()
    }

    /// The items decoded into `T`.
    pub fn items_as<T: serde::de::DeserializeOwned + Send + 'static>(self) -> C::Items<T> {
        let pager = self.pages.pager();
        let config = self.client.config().clone();
        let key = self.pages.items_key.clone();
        let pages = self.pages;
        let walk = crate::call::PageWalk::new(
            pager,
            key,
            Box::new(move |pos| {
                let prepared = pages.prepare(&config, pos)?;
                Ok(crate::engine::CallMachine::new(
                    &config,
                    prepared,
                    crate::engine::Expect::Whole,
                ))
            }),
        );
        self.client.items(walk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig::builder()
            .api_key("k")
            .base_url("http://h")
            .build_with_env(&|_| None)
            .unwrap()
    }

    #[test]
    fn raw_requests_render_query_and_body() {
        let mut r = RawRequest::new(Method::POST, "/x?a=1".into());
        r.query.push(("b".into(), "c d".into()));
        r.body = Some(Ok(b"{}".to_vec()));
        let p = r.prepare(&config()).unwrap();
        assert_eq!(p.url, "http://h/x?a=1&b=c%20d");
        assert!(!p.idempotent);
        r.body = Some(Err("bad".into()));
        assert!(matches!(
            r.prepare(&config()),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn raw_pages_render_positions() {
        let mut p = RawPages::new(Method::GET, "/alerts".into());
        p.limit = Some(5);
        assert_eq!(
            p.prepare(&config(), 2).unwrap().url,
            "http://h/alerts?page=2&limit=5"
        );
        p.offsets = true;
        assert_eq!(
            p.prepare(&config(), 10).unwrap().url,
            "http://h/alerts?offset=10&limit=5"
        );
        assert_eq!(p.pager().next_position(), Some(0));
    }
}
