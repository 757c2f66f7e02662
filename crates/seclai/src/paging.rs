//! Auto-pagination: `'static` streams of items over any paged list call,
//! and over raw JSON paths like the Python SDK's `paginate`.

use crate::{Call, Client};
use futures_core::Stream;
use seclai_core::paging::{Pager, read_page};
use seclai_core::render::{prepare, prepare_raw, raw_path};
use seclai_core::{CallOptions, Result};
use seclai_gen::{Paginated, Pagination};
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::pin::Pin;

/// A stream of items that fetches pages as it goes; owns its client clone.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

/// One page fetch, in the shape both paginators share.
type Fetch<T> =
    Box<dyn FnMut(i64) -> crate::BoxFuture<Result<seclai_core::paging::PageData<T>>> + Send>;

fn items<T: Send + 'static>(pager: Pager, fetch: Fetch<T>) -> ItemStream<T> {
    let state = (VecDeque::<T>::new(), false, pager, fetch);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut buf, failed, mut pager, mut fetch)| async move {
            loop {
                if let Some(item) = buf.pop_front() {
                    return Some((Ok(item), (buf, failed, pager, fetch)));
                }
                if failed {
                    return None;
                }
                let pos = pager.next_position()?;
                match fetch(pos).await {
                    Ok(page) => buf.extend(pager.observe(page)),
                    Err(e) => return Some((Err(e), (buf, true, pager, fetch))),
                }
            }
        },
    ))
}

impl<O: Paginated> Call<O> {
    /// Every item of every page, fetched lazily (a `'static` stream; move it
    /// into a task if you like). Stops on `has_next == false`, the total,
    /// a short or empty page, or a page that repeats.
    ///
    /// ```no_run
    /// # async fn demo(client: seclai::Client) -> seclai::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let agents: Vec<_> = client.list_agents().limit(100).paginate().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn paginate(self) -> ItemStream<O::Item> {
        self.paginate_max(None)
    }

    /// Like [`paginate`](Self::paginate), stopping after `max_items` items.
    pub fn paginate_max(self, max_items: Option<usize>) -> ItemStream<O::Item> {
        let pager = Pager::for_operation(&self.op, max_items);
        let (client, op, options) = (self.client, self.op, self.options);
        items(
            pager,
            Box::new(move |pos| {
                let (client, mut op, options) = (client.clone(), op.clone(), options.clone());
                Box::pin(async move {
                    if O::PAGINATION != Pagination::None {
                        op.set_position(pos);
                    }
                    let prepared = prepare(client.config(), &op, &options)?;
                    let (x, status, headers, body) = client.execute(prepared).await?;
                    x.check_status(status, &headers, &body)?;
                    read_page(status, &body, O::ITEMS_KEY)
                })
            }),
        )
    }

    /// Collect at most `max_items` items into a vector.
    pub async fn collect_all(self, max_items: usize) -> Result<Vec<O::Item>> {
        use futures_util::TryStreamExt;
        self.paginate_max(Some(max_items)).try_collect().await
    }
}

/// A raw paginator over any list path, built by [`Client::paginate`].
#[derive(Debug, Clone)]
#[must_use = "call .items() to get the stream"]
pub struct RawPaginator {
    client: Client,
    method: http::Method,
    path: String,
    items_key: String,
    limit: Option<i64>,
    offsets: bool,
    max_items: Option<usize>,
    options: CallOptions,
}

impl RawPaginator {
    /// The envelope key holding the items (default `data`; `items` and a
    /// top-level array are also recognised).
    pub fn items_key(mut self, key: impl Into<String>) -> Self {
        self.items_key = key.into();
        self
    }
    /// Page size sent as `limit`.
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = Some(n);
        self
    }
    /// Page with `offset` instead of `page`.
    pub fn offsets(mut self) -> Self {
        self.offsets = true;
        self
    }
    /// Stop after this many items.
    pub fn max_items(mut self, n: usize) -> Self {
        self.max_items = Some(n);
        self
    }
    /// The items as JSON values.
    pub fn items(self) -> ItemStream<serde_json::Value> {
        self.items_as()
    }
    /// The items decoded into `T`.
    pub fn items_as<T: DeserializeOwned + Send + 'static>(self) -> ItemStream<T> {
        let style = if self.offsets {
            Pagination::LimitOffset
        } else {
            Pagination::PageLimit
        };
        let pager = Pager::new(style, None, self.limit, self.max_items);
        let this = self;
        items(
            pager,
            Box::new(move |pos| {
                let this = this.clone();
                Box::pin(async move {
                    let mut query = vec![(
                        (if this.offsets { "offset" } else { "page" }).to_string(),
                        pos.to_string(),
                    )];
                    if let Some(l) = this.limit {
                        query.push(("limit".into(), l.to_string()));
                    }
                    let path = raw_path(&this.path, &query);
                    let idempotent = this.method.is_idempotent();
                    let prepared = prepare_raw(
                        this.client.config(),
                        "paginate",
                        this.method.clone(),
                        &path,
                        None,
                        idempotent,
                        &this.options,
                    )?;
                    let (x, status, headers, body) = this.client.execute(prepared).await?;
                    x.check_status(status, &headers, &body)?;
                    read_page(status, &body, &this.items_key)
                })
            }),
        )
    }
}

impl Client {
    /// Page through any list path, like the Python SDK's `paginate`:
    /// `client.paginate(Method::GET, "/agents").items()`.
    pub fn paginate(&self, method: http::Method, path: impl Into<String>) -> RawPaginator {
        RawPaginator {
            client: self.clone(),
            method,
            path: path.into(),
            items_key: "data".into(),
            limit: None,
            offsets: false,
            max_items: None,
            options: CallOptions::default(),
        }
    }
}
