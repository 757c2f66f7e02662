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
    /// Each input with its facts, for help texts (a command line, a form).
    /// Empty for descriptors written by hand.
    const INPUTS: &'static [InputFact] = &[];
    /// Input checks that need no network: path parameters non-empty and not
    /// `.` or `..`, integers within the spec's limits. Rendering calls it, so
    /// a failing input is an error before anything is sent.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Where an input goes in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputLocation {
    /// A path segment.
    Path,
    /// A query parameter.
    Query,
    /// The JSON body (the whole body is one input).
    Body,
}

/// One input of an operation, described for help texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputFact {
    /// The name on the wire (`body` for the JSON body); the descriptor's
    /// field and setter are its snake-case form.
    pub name: &'static str,
    /// Path, query or body.
    pub location: InputLocation,
    /// The Rust type the descriptor stores, short form (`i64`, `String`, `CreateAgentRequest`).
    pub rust_type: &'static str,
    /// Whether the descriptor's `new` takes it.
    pub required: bool,
    /// One line: kind, required or optional, default, allowed values, limits, format.
    pub facts: &'static str,
}

impl InputFact {
    /// A path parameter (always required).
    pub const fn path(name: &'static str, rust_type: &'static str, facts: &'static str) -> Self {
        InputFact { name, location: InputLocation::Path, rust_type, required: true, facts }
    }
    /// A query parameter.
    pub const fn query(
        name: &'static str,
        rust_type: &'static str,
        required: bool,
        facts: &'static str,
    ) -> Self {
        InputFact { name, location: InputLocation::Query, rust_type, required, facts }
    }
    /// The JSON body (always required).
    pub const fn body(rust_type: &'static str, facts: &'static str) -> Self {
        InputFact { name: "body", location: InputLocation::Body, rust_type, required: true, facts }
    }
}

/// An integer input as users hold it: every primitive integer type converts
/// (`usize`, `u32`, `i64`, …), so no cast is needed. A value beyond the
/// range of `i64` saturates; inputs with limits are then checked before the
/// request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Integer(pub i64);

impl Integer {
    /// The value as sent.
    pub fn get(self) -> i64 {
        self.0
    }
}

macro_rules! integer_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Integer {
            fn from(v: $t) -> Self {
                Integer(i64::try_from(v).unwrap_or(if v > 0 as $t { i64::MAX } else { i64::MIN }))
            }
        }
    )*};
}
integer_from!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

impl std::fmt::Display for Integer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Integer {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Integer)
    }
}

impl<'de> serde::Deserialize<'de> for Integer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Integer)
    }
}

impl serde::Serialize for Integer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A field that may hold an integer to range-check: `i64`, `Option<i64>`,
/// or a tri-state `Option<Option<i64>>`.
pub trait IntField {
    /// The integer, if one is set.
    fn int(&self) -> Option<i64>;
}

impl IntField for i64 {
    fn int(&self) -> Option<i64> {
        Some(*self)
    }
}

impl IntField for i32 {
    fn int(&self) -> Option<i64> {
        Some(i64::from(*self))
    }
}

impl<T: IntField> IntField for Option<T> {
    fn int(&self) -> Option<i64> {
        self.as_ref().and_then(IntField::int)
    }
}

/// Check an integer input against its inclusive limits; the error names the
/// input, where it goes, its limits and the value.
pub fn check_range(
    what: &str,
    value: &impl IntField,
    min: Option<i64>,
    max: Option<i64>,
) -> Result<(), String> {
    let Some(v) = value.int() else {
        return Ok(());
    };
    if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
        let limits = match (min, max) {
            (Some(a), Some(b)) => format!("between {a} and {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => String::new(),
        };
        return Err(format!("{what} must be {limits} (got {v})"));
    }
    Ok(())
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
