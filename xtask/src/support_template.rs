// The fixed part of the generated crate: the `Operation` trait and the small
// helpers every descriptor uses. Copied verbatim into
// `crates/seclai-gen/src/generated/support.rs` by `cargo xtask generate`.

//! Traits and helpers shared by every generated operation descriptor.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

pub use http::Method;

/// Who sends an operation: the generic call path (`Json`) or a hand-written helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// JSON (or empty) request and JSON (or empty) answer.
    Json,
    /// `multipart/form-data` upload.
    Multipart,
    /// `text/event-stream` answer.
    EventStream,
    /// Binary download.
    Binary,
}

/// How a list operation pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pagination {
    /// Not paged.
    None,
    /// `page` (from 1) and `limit`.
    PageLimit,
    /// `limit` and `offset`.
    LimitOffset,
}

/// One API operation, described as data. Transports render and send it.
pub trait Operation: Clone + Send + Sync + 'static {
    /// The decoded answer (`()` for empty answers, helpers and downloads).
    type Output: DeserializeOwned + Send + 'static;
    /// Method name, e.g. `get_agent`.
    const ID: &'static str;
    /// HTTP method.
    const METHOD: Method;
    /// Path template, e.g. `/agents/{agent_id}`.
    const PATH: &'static str;
    /// Safe to repeat (GET, HEAD, PUT, DELETE).
    const IDEMPOTENT: bool;
    /// JSON, multipart, event stream or binary.
    const KIND: Kind;
    /// How it pages.
    const PAGINATION: Pagination;
    /// Path with percent-encoded segments, then the query string.
    fn path_and_query(&self) -> String;
    /// The JSON body, if the operation has one.
    fn body(&self) -> Result<Option<Vec<u8>>, serde_json::Error>;
    /// Input checks that need no network (path parameters non-empty, not `.` or `..`).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A paged list operation.
pub trait Paginated: Operation {
    /// One element of the list.
    type Item: DeserializeOwned + Send + 'static;
    /// The key of the item array in the envelope this spec declares.
    const ITEMS_KEY: &'static str;
    /// Set the page number (`PageLimit`) or offset (`LimitOffset`).
    fn set_position(&mut self, value: i64);
    /// The current page number or offset, if set.
    fn position(&self) -> Option<i64>;
    /// The requested page size, if set.
    fn page_size(&self) -> Option<i64>;
}

/// Everything but RFC 3986 unreserved characters is escaped, so `/ ? # %`
/// and non-ASCII stay inside one segment.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Append `value` as one percent-encoded path segment.
pub fn push_segment(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, COMPONENT));
}

/// A path parameter must be non-empty and not `.` or `..` (URL parsers
/// would resolve those away and send the request to another resource).
pub fn check_segment(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value == "." || value == ".." {
        Err(format!(
            "path parameter `{name}` must not be empty, `.` or `..` (got {value:?})"
        ))
    } else {
        Ok(())
    }
}

/// A path plus query string under construction.
pub struct Query {
    out: String,
    any: bool,
}

impl Query {
    /// Start after `path`.
    pub fn new(path: String) -> Self {
        Query { out: path, any: false }
    }
    /// Append `name=value`, both percent-encoded.
    pub fn pair(&mut self, name: &str, value: &str) {
        self.out.push(if self.any { '&' } else { '?' });
        self.any = true;
        self.out.extend(utf8_percent_encode(name, COMPONENT));
        self.out.push('=');
        self.out.extend(utf8_percent_encode(value, COMPONENT));
    }
    /// The finished path and query.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A value that can be written as query parameter(s).
pub trait QueryValue {
    /// Write `name=value` pairs; lists repeat the name, `None` writes nothing.
    fn write_query(&self, name: &str, q: &mut Query);
}

impl QueryValue for String {
    fn write_query(&self, name: &str, q: &mut Query) {
        q.pair(name, self);
    }
}

impl QueryValue for str {
    fn write_query(&self, name: &str, q: &mut Query) {
        q.pair(name, self);
    }
}

impl QueryValue for bool {
    fn write_query(&self, name: &str, q: &mut Query) {
        q.pair(name, if *self { "true" } else { "false" });
    }
}

macro_rules! display_query {
    ($($t:ty),*) => {$(
        impl QueryValue for $t {
            fn write_query(&self, name: &str, q: &mut Query) {
                q.pair(name, &self.to_string());
            }
        }
    )*};
}
display_query!(i32, i64, u32, u64, f32, f64);

impl<T: QueryValue + ?Sized> QueryValue for &T {
    fn write_query(&self, name: &str, q: &mut Query) {
        (**self).write_query(name, q);
    }
}

impl<T: QueryValue> QueryValue for Option<T> {
    fn write_query(&self, name: &str, q: &mut Query) {
        if let Some(v) = self {
            v.write_query(name, q);
        }
    }
}

impl<T: QueryValue> QueryValue for Vec<T> {
    fn write_query(&self, name: &str, q: &mut Query) {
        for v in self {
            v.write_query(name, q);
        }
    }
}

/// Deserialize a tri-state field: absent → `None` (by `#[serde(default)]`),
/// `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn tri_state<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}
