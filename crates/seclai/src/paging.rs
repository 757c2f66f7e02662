//! Auto-pagination: `'static` streams of items over any paged list call,
//! and over raw JSON paths like the Python SDK's `paginate`.

use crate::{Call, Client};
use futures_core::Stream;
use seclai_core::Result;
use seclai_core::paging::{Pager, prepare_page};
use seclai_gen::Paginated;
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
                let prepared = prepare_page(client.config(), &op, &options, pos);
                let client = client.clone();
                Box::pin(async move {
                    client
                        .execute(prepared?, |x, status, headers, body| {
                            x.finish_page(status, &headers, body, O::ITEMS_KEY)
                        })
                        .await
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
    pages: seclai_core::raw::RawPages,
}

impl RawPaginator {
    seclai_core::raw_pages_setters!();

    /// The items as JSON values.
    pub fn items(self) -> ItemStream<serde_json::Value> {
        self.items_as()
    }

    /// The items decoded into `T`.
    pub fn items_as<T: DeserializeOwned + Send + 'static>(self) -> ItemStream<T> {
        let pager = self.pages.pager();
        let (client, pages) = (self.client, self.pages);
        items(
            pager,
            Box::new(move |pos| {
                let prepared = pages.prepare(client.config(), pos);
                let (client, key) = (client.clone(), pages.items_key.clone());
                Box::pin(async move {
                    client
                        .execute(prepared?, |x, status, headers, body| {
                            x.finish_page(status, &headers, body, &key)
                        })
                        .await
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
