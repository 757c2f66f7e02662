//! Call builders, defined once for both clients.
//!
//! Every call, whatever its kind, is a [`Call`]: the client that sends it
//! (a [`Driver`]), what to send (a [`Target`]: an operation descriptor or a
//! raw request) and the call's kind ([`Json`], [`Events`], [`Download`],
//! [`Multipart`]). The per-call options are methods of every kind; options
//! that only make sense for some kinds exist only on those (a compile
//! error elsewhere). How a call is sent is the driver's business: the async
//! client returns futures (and `Call` is `IntoFuture`), the blocking client
//! returns the result.

use crate::config::ClientConfig;
use crate::engine::{Answer, CallMachine, Expect};
use crate::error::{Error, Result};
use crate::exchange::Response;
use crate::multipart::Upload;
use crate::paging::{PageData, Pager};
use crate::raw::RawRequest;
use crate::render::{CallOptions, Prepared};
use crate::run_events::RunEventDecoder;
use seclai_gen::{Operation, Paginated};
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::time::Duration;

/// A client that can run the engine's steps: the async or the blocking
/// client. Users never implement it; it is how one [`Call`] type serves both.
pub trait Driver: Clone + Send + Sync + 'static {
    /// What sending returns: `Result<T>` (blocking) or a boxed future of it (async).
    type Out<T: Send + 'static>;
    /// An open event stream.
    type Events: Send + std::fmt::Debug + 'static;
    /// An open download.
    type Download: Send + std::fmt::Debug + 'static;
    /// Items of a paged list, fetched as they are consumed.
    type Items<T: Send + 'static>;

    /// The client's configuration.
    fn config(&self) -> &ClientConfig;

    /// Run `machine` to its end and hand the whole answer to `finish`.
    fn run<T, F>(&self, machine: Result<CallMachine>, finish: F) -> Self::Out<T>
    where
        T: Send + 'static,
        F: FnOnce(Answer) -> Result<T> + Send + 'static;

    /// Run `machine` until its answer opens and read it as run events.
    fn events(
        &self,
        machine: Result<CallMachine>,
        decoder: RunEventDecoder,
    ) -> Self::Out<Self::Events>;

    /// Run `machine` until its answer opens, for reading as a download.
    fn download(&self, machine: Result<CallMachine>) -> Self::Out<Self::Download>;

    /// The items of the pages `walk` asks for.
    fn items<T: DeserializeOwned + Send + 'static>(&self, walk: PageWalk<T>) -> Self::Items<T>;

    /// Every item of the pages `walk` asks for, in one vector.
    fn collect<T: DeserializeOwned + Send + 'static>(&self, walk: PageWalk<T>)
    -> Self::Out<Vec<T>>;

    /// Run a wait (stream-then-poll, call-then-poll, poll) to its end.
    fn wait<T>(&self, waiter: crate::wait::Waiter<T>) -> Self::Out<T>
    where
        T: crate::wait::Watched + DeserializeOwned + Send + 'static;
}

/// What a [`Call`] sends: an operation descriptor, or a raw request.
pub trait Target: Send + Sync + 'static {
    /// The decoded answer.
    type Output: Send + 'static;
    /// Render the request.
    fn render(&self, config: &ClientConfig, options: &CallOptions) -> Result<Prepared>;
    /// Decode a 2xx answer.
    fn decode(answer: Answer) -> Result<Response<Self::Output>>;
}

impl<O: Operation> Target for O {
    type Output = O::Output;
    fn render(&self, config: &ClientConfig, options: &CallOptions) -> Result<Prepared> {
        crate::render::prepare(config, self, options)
    }
    fn decode(answer: Answer) -> Result<Response<O::Output>> {
        answer.decode()
    }
}

impl Target for RawRequest {
    type Output = serde_json::Value;
    fn render(&self, config: &ClientConfig, options: &CallOptions) -> Result<Prepared> {
        let mut raw = self.clone();
        raw.options = options.clone();
        raw.prepare(config)
    }
    fn decode(answer: Answer) -> Result<Response<serde_json::Value>> {
        answer.json()
    }
}

/// Kind of a call whose answer is JSON, read whole.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

/// Kind of a call whose answer is an event stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct Events;

/// Kind of a call whose answer is downloaded (read as a stream of bytes).
#[derive(Debug, Clone, Copy, Default)]
pub struct Download;

/// Kind of a call that uploads a file as a multipart body.
#[derive(Debug)]
pub struct Multipart(Upload);

/// Kinds whose answer is read as a stream (they take `.idle_timeout()`).
pub trait Streamed {}
impl Streamed for Events {}
impl Streamed for Download {}

/// Kinds that send a JSON body (they take `.extra_body()`).
pub trait JsonBody {}
impl JsonBody for Json {}
impl JsonBody for Events {}

/// One call being set up: optional inputs and per-call options chain on it;
/// `.send()` sends it (async: `.await` it too). With the async client:
///
/// ```text
/// let agents = client
///     .list_agents()
///     .limit(20)
///     .timeout(Duration::from_secs(5))
///     .deadline(Duration::from_secs(20))
///     .header("x-trace", "svc-1")
///     .await?;
/// ```
#[must_use = "a call does nothing until it is sent"]
pub struct Call<C, T, K = Json> {
    client: C,
    target: T,
    options: CallOptions,
    kind: K,
}

impl<C: Clone, T: Clone, K: Clone> Clone for Call<C, T, K> {
    fn clone(&self) -> Self {
        Call {
            client: self.client.clone(),
            target: self.target.clone(),
            options: self.options.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl<C, T: std::fmt::Debug, K> std::fmt::Debug for Call<C, T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be credentials of other systems: names only.
        let headers: Vec<&str> = self
            .options
            .headers
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        f.debug_struct("Call")
            .field("target", &self.target)
            .field("kind", &std::any::type_name::<K>().rsplit("::").next())
            .field("timeout", &self.options.timeout)
            .field("deadline", &self.options.deadline)
            .field("header_names", &headers)
            .finish_non_exhaustive()
    }
}

impl<C, T> Call<C, T, Json> {
    /// A call of `target` (an operation descriptor, or a raw request) on `client`.
    pub fn new(client: C, target: T) -> Self {
        Call {
            client,
            target,
            options: CallOptions::default(),
            kind: Json,
        }
    }

    /// The same call, its answer read as an event stream.
    pub fn into_events(self) -> Call<C, T, Events> {
        self.into_kind(Events)
    }

    /// The same call, its answer downloaded.
    pub fn into_download(self) -> Call<C, T, Download> {
        self.into_kind(Download)
    }

    /// The same call, sending `upload` as its multipart `file` part.
    pub fn with_upload(self, upload: Upload) -> Call<C, T, Multipart> {
        self.into_kind(Multipart(upload))
    }
}

impl<C, T, K> Call<C, T, K> {
    fn into_kind<K2>(self, kind: K2) -> Call<C, T, K2> {
        Call {
            client: self.client,
            target: self.target,
            options: self.options,
            kind,
        }
    }

    /// The descriptor (or raw request) as configured so far.
    pub fn descriptor(&self) -> &T {
        &self.target
    }

    /// Change the descriptor in place (the generated input setters use this).
    #[doc(hidden)]
    pub fn map_target(mut self, f: impl FnOnce(T) -> T) -> Self {
        self.target = f(self.target);
        self
    }

    /// The options set so far.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// Longest time for each attempt of this call (sending, waiting and
    /// reading an ordinary answer). Streams and downloads use
    /// [`idle_timeout`](Call::idle_timeout) for their body instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Longest time for the whole call, every retry and back-off included
    /// (streams and downloads: until their last byte). When it passes the
    /// call ends with [`Error::Deadline`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }

    /// Maximum retries of this call.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.options.max_retries = Some(n);
        self
    }

    /// `Seclai-Version` of this call (the known-version guard applies).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.options.api_version = Some(version.into());
        self
    }

    /// An extra header (CR/LF and framing headers such as `content-length`
    /// are refused before sending).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.push((name.into(), value.into()));
        self
    }

    /// An extra query pair, appended after the operation's own (for inputs
    /// newer than this SDK).
    pub fn extra_query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.options
            .extra_query
            .push((name.into(), value.to_string()));
        self
    }

    fn machine(&self, expect: Expect) -> Result<CallMachine>
    where
        C: Driver,
        T: Target,
    {
        let prepared = self.target.render(self.client.config(), &self.options)?;
        Ok(CallMachine::new(self.client.config(), prepared, expect))
    }
}

impl<C, T, K: Streamed> Call<C, T, K> {
    /// Longest pause between two reads of the answer's body (default: the
    /// client's read timeout).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.options.idle_timeout = Some(idle);
        self
    }
}

impl<C, T, K: JsonBody> Call<C, T, K> {
    /// Fields merged into the JSON body, for fields newer than this SDK's
    /// types. `fields` must be a JSON object; its fields replace typed
    /// fields of the same name. Anything else is [`Error::InvalidRequest`]
    /// when sent.
    pub fn extra_body(mut self, fields: serde_json::Value) -> Self {
        self.options.extra_body = Some(fields);
        self
    }
}

impl<C: Driver, T: Target> Call<C, T, Json> {
    /// Send and decode the answer.
    pub fn send(self) -> C::Out<T::Output> {
        let machine = self.machine(Expect::Whole);
        self.client
            .run(machine, |a| T::decode(a).map(Response::into_value))
    }

    /// Send, and return the answer with status, headers, request id and
    /// rate limits.
    pub fn send_with_meta(self) -> C::Out<Response<T::Output>> {
        let machine = self.machine(Expect::Whole);
        self.client.run(machine, T::decode)
    }

    /// Send, and return the answer as JSON with every field the server
    /// sent (typed answers drop fields this SDK does not know).
    pub fn send_json(self) -> C::Out<serde_json::Value> {
        let machine = self.machine(Expect::Whole);
        self.client
            .run(machine, |a| a.json().map(Response::into_value))
    }
}

impl<C: Driver, T: Target> Call<C, T, Multipart> {
    fn upload_machine(self) -> (C, Result<CallMachine>) {
        let machine = self
            .machine(Expect::Whole)
            .and_then(|m| m.with_upload(self.kind.0));
        (self.client, machine)
    }

    /// Upload and decode the answer.
    pub fn send(self) -> C::Out<T::Output> {
        let (client, machine) = self.upload_machine();
        client.run(machine, |a| T::decode(a).map(Response::into_value))
    }

    /// Upload, and return the answer with its metadata.
    pub fn send_with_meta(self) -> C::Out<Response<T::Output>> {
        let (client, machine) = self.upload_machine();
        client.run(machine, T::decode)
    }

    /// Upload, and return the answer as JSON with every field.
    pub fn send_json(self) -> C::Out<serde_json::Value> {
        let (client, machine) = self.upload_machine();
        client.run(machine, |a| a.json().map(Response::into_value))
    }
}

impl<C: Driver, T: Target> Call<C, T, Events> {
    /// Open the stream. A non-2xx is this call's error; the events then
    /// arrive within the idle timeout of each other (and the deadline).
    pub fn send(self) -> C::Out<C::Events> {
        let machine = self
            .machine(Expect::Stream)
            .map(|m| m.accept("text/event-stream"));
        self.client.events(machine, RunEventDecoder::new())
    }
}

impl<C: Driver, T: Target> Call<C, T, Download> {
    /// Open the download. A non-2xx is this call's error.
    pub fn send(self) -> C::Out<C::Download> {
        let machine = self.machine(Expect::Stream).map(|m| m.accept("*/*"));
        self.client.download(machine)
    }
}

impl<C: Driver, O: Paginated> Call<C, O, Json> {
    /// Every item of every page, fetched as they are consumed (async: a
    /// `'static` stream; blocking: an iterator). Stops on `has_next ==
    /// false`, the total, a short or empty page, or a page that repeats.
    pub fn paginate(self) -> C::Items<O::Item> {
        self.paginate_max(None)
    }

    /// Like [`paginate`](Self::paginate), stopping after `max_items` items.
    pub fn paginate_max(self, max_items: Option<usize>) -> C::Items<O::Item> {
        let (client, walk) = self.walk(max_items);
        client.items(walk)
    }

    /// At most `max_items` items, fetched page by page, in one vector.
    pub fn collect_all(self, max_items: usize) -> C::Out<Vec<O::Item>> {
        let (client, walk) = self.walk(Some(max_items));
        client.collect(walk)
    }

    fn walk(self, max_items: Option<usize>) -> (C, PageWalk<O::Item>) {
        let pager = Pager::for_operation(&self.target, max_items);
        let (client, op, options) = (self.client, self.target, self.options);
        let config = client.config().clone();
        let walk = PageWalk::new(
            pager,
            O::ITEMS_KEY.to_string(),
            Box::new(move |pos| {
                let prepared = crate::paging::prepare_page(&config, &op, &options, pos)?;
                Ok(CallMachine::new(&config, prepared, Expect::Whole))
            }),
        );
        (client, walk)
    }
}

// ---------------------------------------------------------------------------
// Raw requests
// ---------------------------------------------------------------------------

impl<C, K> Call<C, RawRequest, K> {
    /// Add a query parameter (repeat for lists).
    pub fn query(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.target.query.push((name.into(), value.to_string()));
        self
    }

    /// A JSON body.
    pub fn json<B: serde::Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.target.body = Some(serde_json::to_vec(body).map_err(|e| e.to_string()));
        self
    }
}

// ---------------------------------------------------------------------------
// Page walks
// ---------------------------------------------------------------------------

/// Renders the call that fetches the page at a position.
pub type FetchPage = Box<dyn FnMut(i64) -> Result<CallMachine> + Send>;

/// What a driver does next while handing out the items of a paged list.
/// (The call variant is large; one is alive per page fetch.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum PageStep<T> {
    /// Hand out this item.
    Item(T),
    /// Run this call and give its answer to [`PageWalk::on_page`].
    Fetch(Result<CallMachine>),
    /// Hand out this error; the walk ends after it.
    Fail(Error),
    /// No more items.
    End,
}

/// The items of a paged list, page after page: which page to fetch, the
/// items not handed out yet, when to stop. Drivers loop over
/// [`next_step`](Self::next_step).
pub struct PageWalk<T> {
    pager: Pager,
    items_key: String,
    fetch: FetchPage,
    buffer: VecDeque<T>,
    failed: Option<Error>,
    over: bool,
}

impl<T> std::fmt::Debug for PageWalk<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageWalk")
            .field("pager", &self.pager)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> PageWalk<T> {
    /// A walk over the pages `fetch` renders, items under `items_key`.
    pub fn new(pager: Pager, items_key: String, fetch: FetchPage) -> Self {
        PageWalk {
            pager,
            items_key,
            fetch,
            buffer: VecDeque::new(),
            failed: None,
            over: false,
        }
    }

    /// The next thing to do.
    pub fn next_step(&mut self) -> PageStep<T> {
        if let Some(item) = self.buffer.pop_front() {
            return PageStep::Item(item);
        }
        if let Some(e) = self.failed.take() {
            self.over = true;
            return PageStep::Fail(e);
        }
        if self.over {
            return PageStep::End;
        }
        match self.pager.next_position() {
            Some(pos) => PageStep::Fetch((self.fetch)(pos)),
            None => PageStep::End,
        }
    }

    /// The answer of the last [`PageStep::Fetch`].
    pub fn on_page(&mut self, answer: Result<Answer>) {
        let page: Result<PageData<T>> =
            answer.and_then(|a| crate::paging::read_page(a.status, &a.body, &self.items_key));
        match page {
            Ok(page) => self.buffer.extend(self.pager.observe(page)),
            Err(e) => self.failed = Some(e),
        }
    }
}

// ---------------------------------------------------------------------------
// Awaiting a call (the async client)
// ---------------------------------------------------------------------------

/// `IntoFuture` for the call kinds: `.await` sends, when the driver's
/// `send` returns a future (the async client).
macro_rules! await_sends {
    ($($kind:ident => $out:ty;)*) => {$(
        impl<C: Driver, T: Target> std::future::IntoFuture for Call<C, T, $kind>
        where
            C::Out<$out>: std::future::Future<Output = Result<$out>>,
        {
            type Output = Result<$out>;
            type IntoFuture = C::Out<$out>;
            fn into_future(self) -> Self::IntoFuture {
                self.send()
            }
        }
    )*};
}

await_sends! {
    Json => T::Output;
    Multipart => T::Output;
    Events => C::Events;
    Download => C::Download;
}
