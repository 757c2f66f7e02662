//! Auto-pagination: iterators of items over any paged list call, and over
//! raw JSON paths like the Python SDK's `paginate`.

use crate::{Call, Client};
use seclai_core::Result;
use seclai_core::paging::{PageData, Pager, prepare_page};
use seclai_gen::Paginated;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;

type Fetch<T> = Box<dyn FnMut(i64) -> Result<PageData<T>> + Send>;

/// An iterator of items that fetches pages as it goes; owns its client clone.
pub struct ItemIter<T> {
    pager: Pager,
    fetch: Fetch<T>,
    buf: VecDeque<T>,
    failed: bool,
}

impl<T> std::fmt::Debug for ItemIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemIter")
            .field("pager", &self.pager)
            .finish_non_exhaustive()
    }
}

impl<T> Iterator for ItemIter<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(item) = self.buf.pop_front() {
                return Some(Ok(item));
            }
            if self.failed {
                return None;
            }
            let pos = self.pager.next_position()?;
            match (self.fetch)(pos) {
                Ok(page) => self.buf.extend(self.pager.observe(page)),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn items<T>(pager: Pager, fetch: Fetch<T>) -> ItemIter<T> {
    ItemIter {
        pager,
        fetch,
        buf: VecDeque::new(),
        failed: false,
    }
}

impl<O: Paginated> Call<O> {
    /// Every item of every page, fetched lazily. Stops on
    /// `has_next == false`, the total, a short or empty page, or a page that
    /// repeats.
    ///
    /// ```no_run
    /// # fn demo(client: seclai_blocking::Client) -> seclai_blocking::Result<()> {
    /// let agents: Vec<_> = client.list_agents().limit(100).paginate().collect::<Result<_, _>>()?;
    /// # let _: Vec<seclai_blocking::types::AgentSummaryResponse> = agents; Ok(()) }
    /// ```
    pub fn paginate(self) -> ItemIter<O::Item> {
        self.paginate_max(None)
    }

    /// Like [`paginate`](Self::paginate), stopping after `max_items` items.
    pub fn paginate_max(self, max_items: Option<usize>) -> ItemIter<O::Item> {
        let pager = Pager::for_operation(&self.op, max_items);
        let (client, op, options) = (self.client, self.op, self.options);
        items(
            pager,
            Box::new(move |pos| {
                let prepared = prepare_page(client.config(), &op, &options, pos)?;
                client.execute(prepared, |x, status, headers, body| {
                    x.finish_page(status, &headers, body, O::ITEMS_KEY)
                })
            }),
        )
    }

    /// Collect at most `max_items` items into a vector.
    pub fn collect_all(self, max_items: usize) -> Result<Vec<O::Item>> {
        self.paginate_max(Some(max_items)).collect()
    }
}

/// A raw paginator over any list path, built by [`Client::paginate`].
#[derive(Debug, Clone)]
#[must_use = "call .items() to get the iterator"]
pub struct RawPaginator {
    client: Client,
    pages: seclai_core::raw::RawPages,
}

impl RawPaginator {
    seclai_core::raw_pages_setters!();

    /// The items as JSON values.
    pub fn items(self) -> ItemIter<serde_json::Value> {
        self.items_as()
    }

    /// The items decoded into `T`.
    pub fn items_as<T: DeserializeOwned>(self) -> ItemIter<T> {
        let pager = self.pages.pager();
        let (client, pages) = (self.client, self.pages);
        items(
            pager,
            Box::new(move |pos| {
                let prepared = pages.prepare(client.config(), pos)?;
                client.execute(prepared, |x, status, headers, body| {
                    x.finish_page(status, &headers, body, &pages.items_key)
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
            pages: seclai_core::raw::RawPages::new(method, path.into()),
        }
    }
}
