//! Automatic pagination, without I/O.
//!
//! [`read_page`] turns one response body into a [`PageData`] (the items and
//! whatever the envelope said about paging); a [`Pager`] decides which
//! position to request next and when to stop. A transport's loop is:
//!
//! ```
//! # use seclai_core::paging::{Pager, read_page};
//! # use seclai_gen::{Operation, Paginated, ops::ListKnowledgeBases};
//! # fn send(_: &str) -> Vec<u8> { br#"{"knowledge_bases":[],"total":0,"page":1,"limit":20}"#.to_vec() }
//! # fn main() -> seclai_core::Result<()> {
//! let mut op = ListKnowledgeBases::new().limit(20);
//! let mut pager = Pager::for_operation(&op, Some(100));
//! while pager.next_position().is_some() {
//!     pager.apply(&mut op);
//!     let body = send(&op.path_and_query());
//!     let page = read_page::<serde_json::Value>(http::StatusCode::OK, &body, ListKnowledgeBases::ITEMS_KEY)?;
//!     for item in pager.observe(page) {
//!         // hand `item` to the caller
//! #       let _ = item;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # When paging stops
//!
//! After each page the pager stops when any of these holds:
//!
//! - the page is empty;
//! - the page's items are byte-for-byte the same as an earlier page's
//!   (a server ignoring `page`/`offset`); the repeated items are not
//!   returned again;
//! - the `max_items` cap is reached (the last page is cut to fit);
//! - [`MAX_PAGES`] pages have been fetched, or the next position would
//!   overflow;
//! - the server said so: `has_next`/`has_more` is `false`, or `page` has
//!   reached `pages`;
//! - when the server gave no `has_next`/`has_more`/`pages`: the items seen
//!   reach `total`, or the page is shorter than the page size (the `limit`
//!   the server reported, else the one requested).
//!
//! An explicit `has_next: true` wins over the `total` and short-page
//! guesses, because a server may cap the page size below the requested one.

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;

use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{DecodeError, Error, Result, decode_json};
use seclai_gen::{Paginated, Pagination};

/// Render the request for the page at `position` (a page number or an
/// offset, from [`Pager::next_position`]): `op` with its position set, or
/// as it is when the list is not paged.
pub fn prepare_page<O: Paginated>(
    config: &crate::config::ClientConfig,
    op: &O,
    options: &crate::render::CallOptions,
    position: i64,
) -> Result<crate::render::Prepared> {
    if O::PAGINATION == Pagination::None {
        return crate::render::prepare(config, op, options);
    }
    let mut op = op.clone();
    op.set_position(position);
    crate::render::prepare(config, &op, options)
}

/// Most pages one [`Pager`] fetches, whatever the server says.
pub const MAX_PAGES: u32 = 10_000;

/// One decoded page of a list response.
#[derive(Debug, Clone, PartialEq)]
pub struct PageData<T> {
    /// The page's items, in order.
    pub items: Vec<T>,
    /// Whether the server said there are more pages (`has_next`,
    /// `has_more`, or `page < pages`).
    pub has_next: Option<bool>,
    /// Total number of items across all pages, if reported.
    pub total: Option<u64>,
    /// The page number the server reported.
    pub page: Option<u64>,
    /// The page size the server reported.
    pub limit: Option<u64>,
    /// A hash of the items array's JSON, used to notice a repeated page.
    /// Equal for equal item arrays within one process.
    pub fingerprint: u64,
}

/// Decodes one page of a list response.
///
/// `body` must be JSON. The items are the array under `items_key` (the key
/// the operation's spec declares, [`Paginated::ITEMS_KEY`]), else under
/// `data`, else under `items`; a top-level array is a page of items without
/// metadata, and `null` under `items_key` is an empty page. Metadata comes
/// from a `pagination` object (`page`, `limit`, `total`, `pages`,
/// `has_next`), falling back to top-level `page`, `limit`, `total`, `pages`,
/// `has_next` and `has_more`. Numbers may be JSON numbers or numeric
/// strings; anything else is ignored.
///
/// Errors are [`Error::Decode`]: a body that is not JSON, has no item
/// array, or an item that does not decode as `T` (with its path, such as
/// `$.data[3].id`).
pub fn read_page<T: DeserializeOwned>(
    status: StatusCode,
    body: &[u8],
    items_key: &str,
) -> Result<PageData<T>> {
    let root: Value = decode_json(status, body)?;
    let (base, array, meta) = match root {
        Value::Array(items) => ("$".to_owned(), items, Map::new()),
        Value::Object(mut map) => {
            let (key, items) = take_items(&mut map, items_key).ok_or_else(|| {
                decode_error(
                    status,
                    "$",
                    format!(
                        "no list of items in the response: expected an array under `{items_key}`, `data` or `items`"
                    ),
                )
            })?;
            (member_path("$", &key), items, map)
        }
        other => {
            return Err(decode_error(
                status,
                "$",
                format!(
                    "expected a JSON object or array for a list page, found {}",
                    kind_of(&other)
                ),
            ));
        }
    };

    let fingerprint = fingerprint(&array);
    let mut items = Vec::with_capacity(array.len());
    for (i, item) in array.iter().enumerate() {
        items.push(decode_item(status, item, &format!("{base}[{i}]"))?);
    }

    let pagination = meta.get("pagination").and_then(Value::as_object);
    let number = |name: &str| {
        pagination
            .and_then(|p| p.get(name))
            .and_then(as_count)
            .or_else(|| meta.get(name).and_then(as_count))
    };
    let flag = |name: &str| {
        pagination
            .and_then(|p| p.get(name))
            .and_then(as_flag)
            .or_else(|| meta.get(name).and_then(as_flag))
    };
    let page = number("page");
    let pages = number("pages");
    let has_next = flag("has_next")
        .or_else(|| flag("has_more"))
        .or_else(|| Some(page? < pages?));
    Ok(PageData {
        items,
        has_next,
        total: number("total"),
        page,
        limit: number("limit"),
        fingerprint,
    })
}

/// Removes the item array from an envelope, trying `items_key`, `data` and
/// `items` in that order. `null` under `items_key` counts as empty.
fn take_items(map: &mut Map<String, Value>, items_key: &str) -> Option<(String, Vec<Value>)> {
    if matches!(map.get(items_key), Some(Value::Null)) {
        return Some((items_key.to_owned(), Vec::new()));
    }
    for key in [items_key, "data", "items"] {
        if matches!(map.get(key), Some(Value::Array(_))) {
            if let Some(Value::Array(items)) = map.remove(key) {
                return Some((key.to_owned(), items));
            }
        }
    }
    None
}

/// Decodes one item; on failure, re-parses its JSON text to locate the
/// problem and reports it under `path`.
fn decode_item<T: DeserializeOwned>(status: StatusCode, item: &Value, path: &str) -> Result<T> {
    match T::deserialize(item) {
        Ok(v) => Ok(v),
        Err(first) => {
            let text = serde_json::to_vec(item).unwrap_or_default();
            match decode_json::<T>(status, &text) {
                // Decoding from text can accept what decoding from a value
                // did not (e.g. some number forms); take it.
                Ok(v) => Ok(v),
                Err(Error::Decode(mut d)) => {
                    let rest = d.path.strip_prefix('$').unwrap_or_default();
                    d.path = format!("{path}{rest}");
                    Err(Error::Decode(d))
                }
                Err(_) => Err(decode_error(status, path, first.to_string())),
            }
        }
    }
}

fn decode_error(status: StatusCode, path: &str, message: String) -> Error {
    Error::Decode(DecodeError::new(status, path, message))
}

fn member_path(base: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_') {
        format!("{base}.{key}")
    } else {
        let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"));
        format!("{base}[{quoted}]")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A non-negative whole number from a JSON number or numeric string.
fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0)
                .then_some(f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Feeds written bytes into a hasher, so a value can be hashed through its
/// JSON text without building the text.
struct HashWriter(DefaultHasher);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fingerprint(items: &[Value]) -> u64 {
    let mut w = HashWriter(DefaultHasher::new());
    w.0.write_usize(items.len());
    // Writing into a hasher cannot fail, and neither can serializing a Value.
    let _ = serde_json::to_writer(&mut w, items);
    w.0.finish()
}

// ---------------------------------------------------------------------------
// Pager
// ---------------------------------------------------------------------------

/// Decides which page to fetch next and when to stop (see the
/// [module docs](self) for the rules).
#[derive(Debug, Clone)]
pub struct Pager {
    style: Pagination,
    position: i64,
    page_size: Option<u64>,
    max_items: Option<usize>,
    max_pages: u32,
    yielded: usize,
    pages: u32,
    seen: HashSet<u64>,
    page_size_hint: Option<u64>,
    done: bool,
}

impl Pager {
    /// A pager for an operation paged by `pagination`.
    ///
    /// `start_position` is the first page number (`PageLimit`, default and
    /// minimum 1) or offset (`LimitOffset`, default and minimum 0);
    /// `page_size` is the `limit` sent with each request, if any;
    /// `max_items` caps the items returned overall. With
    /// [`Pagination::None`] exactly one page is fetched.
    pub fn new(
        pagination: Pagination,
        start_position: Option<i64>,
        page_size: Option<i64>,
        max_items: Option<usize>,
    ) -> Pager {
        let position = match pagination {
            Pagination::PageLimit => start_position.unwrap_or(1).max(1),
            Pagination::LimitOffset => start_position.unwrap_or(0).max(0),
            Pagination::None => 0,
        };
        let page_size = page_size
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0);
        Pager {
            style: pagination,
            position,
            page_size,
            max_items,
            max_pages: MAX_PAGES,
            yielded: 0,
            pages: 0,
            seen: HashSet::new(),
            page_size_hint: page_size,
            done: max_items == Some(0),
        }
    }

    /// A pager starting from `op`'s current position and page size.
    pub fn for_operation<O: Paginated>(op: &O, max_items: Option<usize>) -> Pager {
        Pager::new(O::PAGINATION, op.position(), op.page_size(), max_items)
    }

    /// Lowers the page limit below [`MAX_PAGES`] (higher values are
    /// clamped to it).
    pub fn with_max_pages(mut self, max_pages: u32) -> Pager {
        self.max_pages = max_pages.min(MAX_PAGES);
        if self.max_pages == 0 {
            self.done = true;
        }
        self
    }

    /// The page number or offset to request next; `None` when finished.
    pub fn next_position(&self) -> Option<i64> {
        (!self.done).then_some(self.position)
    }

    /// Sets `op`'s page number or offset to [`next_position`](Self::next_position)
    /// (nothing when finished or not paged).
    pub fn apply<O: Paginated>(&self, op: &mut O) {
        if self.style == Pagination::None {
            return;
        }
        if let Some(position) = self.next_position() {
            op.set_position(position);
        }
    }

    /// Records the page fetched at [`next_position`](Self::next_position)
    /// and returns the items to hand out: all of them, fewer when the
    /// `max_items` cap is reached, none for an empty or repeated page (or
    /// when already finished). Afterwards `next_position` says whether to
    /// continue.
    pub fn observe<T>(&mut self, page: PageData<T>) -> Vec<T> {
        if self.done {
            return Vec::new();
        }
        self.pages = self.pages.saturating_add(1);
        let count = page.items.len();
        if count == 0 || !self.seen.insert(page.fingerprint) {
            self.done = true;
            return Vec::new();
        }
        let mut items = page.items;
        if let Some(max) = self.max_items {
            let remaining = max.saturating_sub(self.yielded);
            if items.len() >= remaining {
                items.truncate(remaining);
                self.done = true;
            }
        }
        self.yielded = self.yielded.saturating_add(items.len());

        let reported_size = page.limit.filter(|n| *n > 0);
        if self.page_size_hint.is_none() {
            self.page_size_hint = reported_size.or(Some(count as u64));
        }
        let count_u64 = count as u64;
        match page.has_next {
            Some(false) => self.done = true,
            Some(true) => {}
            None => {
                if let Some(total) = page.total {
                    if self.items_through_this_page(count_u64, reported_size) >= total {
                        self.done = true;
                    }
                }
                if let Some(size) = reported_size.or(self.page_size) {
                    if count_u64 < size {
                        self.done = true;
                    }
                }
            }
        }

        let next = match self.style {
            Pagination::PageLimit => self.position.checked_add(1),
            Pagination::LimitOffset => i64::try_from(count)
                .ok()
                .and_then(|n| self.position.checked_add(n)),
            Pagination::None => None,
        };
        match next {
            Some(p) if p > self.position => self.position = p,
            _ => self.done = true,
        }
        if self.pages >= self.max_pages {
            self.done = true;
        }
        items
    }

    /// How many items of the whole list come up to the end of the page just
    /// fetched (counting items before the starting position).
    fn items_through_this_page(&self, count: u64, reported_size: Option<u64>) -> u64 {
        let before = match self.style {
            Pagination::LimitOffset => u64::try_from(self.position).unwrap_or(0),
            Pagination::PageLimit => {
                let size = reported_size
                    .or(self.page_size)
                    .or(self.page_size_hint)
                    .unwrap_or(count);
                u64::try_from(self.position.saturating_sub(1))
                    .unwrap_or(0)
                    .saturating_mul(size)
            }
            Pagination::None => 0,
        };
        before.saturating_add(count)
    }

    /// Whether paging has finished.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Items handed out so far.
    pub fn items_yielded(&self) -> usize {
        self.yielded
    }

    /// Pages observed so far.
    pub fn pages_fetched(&self) -> u32 {
        self.pages
    }

    /// How the operation pages.
    pub fn pagination(&self) -> Pagination {
        self.style
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seclai_gen::ops::{ListExperiments, ListKnowledgeBases};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: u64,
    }

    fn page<T: DeserializeOwned>(body: Value, key: &str) -> Result<PageData<T>> {
        read_page(StatusCode::OK, body.to_string().as_bytes(), key)
    }

    fn ids(items: &[Item]) -> Vec<u64> {
        items.iter().map(|i| i.id).collect()
    }

    /// A page of `ids` with the given metadata.
    fn data(ids: std::ops::Range<u64>) -> PageData<Item> {
        let items: Vec<Value> = ids.map(|id| json!({ "id": id })).collect();
        page(json!({ "data": items }), "data").unwrap()
    }

    fn with(mut p: PageData<Item>, f: impl FnOnce(&mut PageData<Item>)) -> PageData<Item> {
        f(&mut p);
        p
    }

    #[test]
    fn data_and_pagination_envelope() {
        let p: PageData<Item> = page(
            json!({
                "data": [{"id": 1}, {"id": 2}],
                "pagination": {"page": 1, "limit": 2, "total": 5, "pages": 3, "has_next": true, "has_prev": false}
            }),
            "data",
        )
        .unwrap();
        assert_eq!(ids(&p.items), [1, 2]);
        assert_eq!(
            (p.has_next, p.total, p.page, p.limit),
            (Some(true), Some(5), Some(1), Some(2))
        );
    }

    #[test]
    fn named_key_envelope_with_top_level_metadata() {
        let p: PageData<Item> = page(
            json!({"knowledge_bases": [{"id": 7}], "total": 1, "page": 1, "limit": 20}),
            "knowledge_bases",
        )
        .unwrap();
        assert_eq!(ids(&p.items), [7]);
        assert_eq!(
            (p.has_next, p.total, p.page, p.limit),
            (None, Some(1), Some(1), Some(20))
        );
    }

    #[test]
    fn fallback_keys_and_metadata_forms() {
        // Declared key missing: `data`, then `items`, then a bare array.
        let p: PageData<Item> =
            page(json!({"items": [{"id": 1}], "has_more": false}), "turns").unwrap();
        assert_eq!((ids(&p.items), p.has_next), (vec![1], Some(false)));
        let p: PageData<Item> = page(json!([{"id": 3}]), "x").unwrap();
        assert_eq!((ids(&p.items), p.total), (vec![3], None));
        let p: PageData<Item> = page(json!({"x": null, "total": 0}), "x").unwrap();
        assert!(p.items.is_empty());
        // The declared key wins over `data`.
        let p: PageData<Item> = page(
            json!({"data": [{"id": 1}], "alerts": [{"id": 2}]}),
            "alerts",
        )
        .unwrap();
        assert_eq!(ids(&p.items), [2]);
        // `pages` gives `has_next` when nothing else does; strings and
        // whole floats count as numbers; nonsense is ignored.
        let p: PageData<Item> = page(
            json!({"data": [], "page": "3", "pages": 3.0, "total": -1, "limit": "x"}),
            "data",
        )
        .unwrap();
        assert_eq!(
            (p.page, p.has_next, p.total, p.limit),
            (Some(3), Some(false), None, None)
        );
        let p: PageData<Item> = page(
            json!({"data": [], "pagination": {"has_next": "true"}}),
            "data",
        )
        .unwrap();
        assert_eq!(p.has_next, Some(true));
    }

    #[test]
    fn malformed_pages_are_decode_errors() {
        let e = page::<Item>(json!({"data": [{"id": 1}, {"id": "two"}]}), "data").unwrap_err();
        let Error::Decode(d) = e else { panic!("{e:?}") };
        assert_eq!(d.path, "$.data[1].id");
        let e = page::<Item>(json!([{"id": 1}, {}]), "data").unwrap_err();
        let Error::Decode(d) = e else { panic!("{e:?}") };
        assert_eq!(d.path, "$[1]");
        assert!(d.message.contains("id"), "{}", d.message);
        let e = page::<Item>(json!({"odd key": [1]}), "odd key").unwrap_err();
        let Error::Decode(d) = e else { panic!("{e:?}") };
        assert_eq!(d.path, r#"$["odd key"][0]"#);

        for body in [
            &b"not json"[..],
            b"",
            b"42",
            b"{\"data\": {}}",
            b"{\"total\": 3}",
        ] {
            let e = read_page::<Item>(StatusCode::OK, body, "data").unwrap_err();
            assert!(matches!(e, Error::Decode(_)), "{body:?}: {e:?}");
        }
    }

    #[test]
    fn fingerprints_follow_content() {
        assert_eq!(data(0..3).fingerprint, data(0..3).fingerprint);
        assert_ne!(data(0..3).fingerprint, data(1..4).fingerprint);
        assert_ne!(data(0..0).fingerprint, data(0..1).fingerprint);
    }

    /// Drives a pager against a fake server; returns the items and the
    /// positions requested.
    fn drive(
        mut pager: Pager,
        mut server: impl FnMut(i64) -> PageData<Item>,
    ) -> (Vec<u64>, Vec<i64>) {
        let mut out = Vec::new();
        let mut asked = Vec::new();
        while let Some(pos) = pager.next_position() {
            asked.push(pos);
            assert!(asked.len() <= MAX_PAGES as usize + 1);
            out.extend(ids(&pager.observe(server(pos))));
        }
        (out, asked)
    }

    #[test]
    fn page_style_stops_on_has_next_false() {
        let pager = Pager::new(Pagination::PageLimit, None, Some(2), None);
        let (items, asked) = drive(pager, |p| {
            let start = (p as u64 - 1) * 2;
            with(data(start..start + 2), |d| d.has_next = Some(p < 3))
        });
        assert_eq!(items, [0, 1, 2, 3, 4, 5]);
        assert_eq!(asked, [1, 2, 3]);
    }

    #[test]
    fn explicit_has_next_beats_short_pages() {
        // The server caps pages at 2 although 10 were requested.
        let pager = Pager::new(Pagination::PageLimit, None, Some(10), None);
        let (items, asked) = drive(pager, |p| {
            let start = (p as u64 - 1) * 2;
            with(data(start..start + 2), |d| {
                d.has_next = Some(p < 2);
                d.total = Some(2);
            })
        });
        assert_eq!((items, asked), (vec![0, 1, 2, 3], vec![1, 2]));
    }

    #[test]
    fn offset_style_stops_at_total() {
        let pager = Pager::new(Pagination::LimitOffset, None, Some(3), None);
        let (items, asked) = drive(pager, |o| {
            let o = o as u64;
            with(data(o..(o + 3).min(6)), |d| d.total = Some(6))
        });
        assert_eq!(items, [0, 1, 2, 3, 4, 5]);
        assert_eq!(asked, [0, 3]);

        // Starting part-way counts the skipped items against the total.
        let pager = Pager::new(Pagination::LimitOffset, Some(4), Some(3), None);
        let (items, _) = drive(pager, |o| {
            let o = o as u64;
            with(data(o..(o + 3).min(6)), |d| d.total = Some(6))
        });
        assert_eq!(items, [4, 5]);
    }

    #[test]
    fn page_style_total_with_start_page() {
        let pager = Pager::new(Pagination::PageLimit, Some(2), None, None);
        let (items, asked) = drive(pager, |p| {
            let start = (p as u64 - 1) * 2;
            with(data(start..start + 2), |d| {
                d.total = Some(6);
                d.limit = Some(2);
            })
        });
        assert_eq!((items, asked), (vec![2, 3, 4, 5], vec![2, 3]));
    }

    #[test]
    fn short_page_stops() {
        let pager = Pager::new(Pagination::LimitOffset, None, Some(4), None);
        let (items, asked) = drive(pager, |o| {
            let o = o as u64;
            data(o..(o + 4).min(6))
        });
        assert_eq!((items, asked), (vec![0, 1, 2, 3, 4, 5], vec![0, 4]));

        // Without a requested size, the size the server reports is used.
        let pager = Pager::new(Pagination::PageLimit, None, None, None);
        let (items, _) = drive(pager, |p| {
            let start = (p as u64 - 1) * 5;
            with(data(start..(start + 5).min(7)), |d| d.limit = Some(5))
        });
        assert_eq!(items.len(), 7);
    }

    #[test]
    fn empty_page_stops() {
        let pager = Pager::new(Pagination::PageLimit, None, None, None);
        let (items, asked) = drive(pager, |p| {
            if p < 3 {
                data(p as u64 * 10..p as u64 * 10 + 2)
            } else {
                data(0..0)
            }
        });
        assert_eq!((items, asked), (vec![10, 11, 20, 21], vec![1, 2, 3]));
    }

    #[test]
    fn repeated_page_stops_without_duplicates() {
        // A server that ignores `page` and always sends the first page.
        let pager = Pager::new(Pagination::PageLimit, None, Some(3), None);
        let (items, asked) = drive(pager, |_| data(0..3));
        assert_eq!((items, asked), (vec![0, 1, 2], vec![1, 2]));

        // A server that ignores `limit` and `offset` alike.
        let pager = Pager::new(Pagination::LimitOffset, None, Some(2), None);
        let (items, asked) = drive(pager, |_| with(data(0..5), |d| d.has_next = Some(true)));
        assert_eq!((items, asked), (vec![0, 1, 2, 3, 4], vec![0, 5]));
    }

    #[test]
    fn max_items_cuts_the_last_page() {
        let pager = Pager::new(Pagination::LimitOffset, None, Some(4), Some(6));
        let (items, asked) = drive(pager, |o| {
            with(data(o as u64..o as u64 + 4), |d| d.has_next = Some(true))
        });
        assert_eq!((items, asked), (vec![0, 1, 2, 3, 4, 5], vec![0, 4]));

        let pager = Pager::new(Pagination::PageLimit, None, None, Some(4));
        let (items, asked) = drive(pager, |p| data(p as u64 * 4..p as u64 * 4 + 4));
        assert_eq!((items, asked), (vec![4, 5, 6, 7], vec![1]));

        let pager = Pager::new(Pagination::PageLimit, None, None, Some(0));
        assert_eq!(pager.next_position(), None);
    }

    #[test]
    fn endless_server_hits_the_page_guard() {
        let pager = Pager::new(Pagination::PageLimit, None, None, None);
        let (items, asked) = drive(pager, |p| {
            with(data(p as u64..p as u64 + 1), |d| d.has_next = Some(true))
        });
        assert_eq!(asked.len(), MAX_PAGES as usize);
        assert_eq!(items.len(), MAX_PAGES as usize);

        let pager = Pager::new(Pagination::PageLimit, None, None, None).with_max_pages(3);
        let (_, asked) = drive(pager, |p| {
            with(data(p as u64..p as u64 + 1), |d| d.has_next = Some(true))
        });
        assert_eq!(asked, [1, 2, 3]);
    }

    #[test]
    fn position_overflow_stops() {
        let pager = Pager::new(Pagination::LimitOffset, Some(i64::MAX - 1), None, None);
        let (items, asked) = drive(pager, |_| with(data(0..3), |d| d.has_next = Some(true)));
        assert_eq!((items.len(), asked.len()), (3, 1));
        let pager = Pager::new(Pagination::PageLimit, Some(i64::MAX), None, None);
        let (_, asked) = drive(pager, |_| with(data(0..3), |d| d.has_next = Some(true)));
        assert_eq!(asked.len(), 1);
    }

    #[test]
    fn start_positions_are_clamped_and_unpaged_fetches_once() {
        assert_eq!(
            Pager::new(Pagination::PageLimit, Some(-5), None, None).next_position(),
            Some(1)
        );
        assert_eq!(
            Pager::new(Pagination::PageLimit, None, None, None).next_position(),
            Some(1)
        );
        assert_eq!(
            Pager::new(Pagination::LimitOffset, Some(-1), None, None).next_position(),
            Some(0)
        );
        let pager = Pager::new(Pagination::None, None, None, None);
        let (items, asked) = drive(pager, |_| with(data(0..2), |d| d.has_next = Some(true)));
        assert_eq!((items.len(), asked.len()), (2, 1));
    }

    #[test]
    fn observe_after_done_returns_nothing() {
        let mut pager = Pager::new(Pagination::PageLimit, None, None, None);
        assert_eq!(pager.observe(data(0..0)).len(), 0);
        assert!(pager.is_done());
        assert!(pager.observe(data(0..3)).is_empty());
        assert_eq!(pager.pages_fetched(), 1);
        assert_eq!(pager.items_yielded(), 0);
    }

    #[test]
    fn apply_sets_page_or_offset() {
        let mut op = ListKnowledgeBases::new().limit(2);
        let mut pager = Pager::for_operation(&op, None);
        assert_eq!(pager.pagination(), Pagination::PageLimit);
        pager.apply(&mut op);
        assert_eq!(op.position(), Some(1));
        pager.observe(with(data(0..2), |d| d.has_next = Some(true)));
        pager.apply(&mut op);
        assert_eq!(op.position(), Some(2));

        let mut op = ListExperiments::new();
        op.set_position(10);
        let mut pager = Pager::for_operation(&op, None);
        pager.observe(with(data(0..4), |d| d.has_next = Some(true)));
        pager.apply(&mut op);
        assert_eq!(op.position(), Some(14));
    }

    proptest::proptest! {
        #[test]
        fn read_page_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = read_page::<Item>(StatusCode::OK, &body, "data");
        }

        #[test]
        fn read_page_never_panics_on_jsonish(body in r#"[{}\[\]":,a-z0-9 .\-]{0,120}"#) {
            let _ = read_page::<Value>(StatusCode::OK, body.as_bytes(), "data");
        }
    }
}
