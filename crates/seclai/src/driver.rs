//! The async driver: performs the engine's steps with reqwest and tokio.
//! Every decision (what to send, how long to wait, whether to retry, what
//! an answer means) comes from `seclai_core`; this file only does I/O.

use crate::body::{Download, ItemStream, RunStream, TimedBody};
use crate::client::{Client, classify};
use bytes::Bytes;
use futures_util::StreamExt;
use seclai_core::call::{Driver, PageWalk};
use seclai_core::engine::{
    Answer, Attempt, AttemptBody, BodyRead, CallMachine, Head, RefreshRequest,
};
use seclai_core::run_events::RunEventDecoder;
use seclai_core::stream::{DownloadFeed, EventFeed};
use seclai_core::wait::{Waiter, Watched};
use seclai_core::{Error, Result, TransportError, TransportKind};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A boxed, `Send`, `'static` future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// How a driven call ended: a whole answer, or an opened response.
type Driven = std::result::Result<Answer, (reqwest::Response, Head)>;

impl Driver for Client {
    type Out<T: Send + 'static> = BoxFuture<Result<T>>;
    type Events = RunStream;
    type Download = Download;
    type Items<T: Send + 'static> = ItemStream<T>;

    fn config(&self) -> &seclai_core::ClientConfig {
        &self.inner.config
    }

    fn run<T, F>(&self, machine: Result<CallMachine>, finish: F) -> BoxFuture<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce(Answer) -> Result<T> + Send + 'static,
    {
        let client = self.clone();
        Box::pin(async move { finish(client.answer(machine).await?) })
    }

    fn events(
        &self,
        machine: Result<CallMachine>,
        decoder: RunEventDecoder,
    ) -> BoxFuture<Result<RunStream>> {
        let client = self.clone();
        Box::pin(async move {
            let (resp, head) = client.open(machine).await?;
            let feed = EventFeed::new(head, decoder, client.inner.config.max_response_bytes());
            Ok(RunStream::new(feed, TimedBody::new(resp)))
        })
    }

    fn download(&self, machine: Result<CallMachine>) -> BoxFuture<Result<Download>> {
        let client = self.clone();
        Box::pin(async move {
            let (resp, head) = client.open(machine).await?;
            Ok(Download::new(DownloadFeed::new(head), TimedBody::new(resp)))
        })
    }

    fn items<T: DeserializeOwned + Send + 'static>(&self, walk: PageWalk<T>) -> ItemStream<T> {
        let state = (self.clone(), Some(walk));
        Box::pin(futures_util::stream::unfold(
            state,
            |(client, mut walk)| async move {
                let item = seclai_core::__next_item!(&client, &mut walk, [.await]);
                item.map(|item| (item, (client, walk)))
            },
        ))
    }

    fn collect<T: DeserializeOwned + Send + 'static>(
        &self,
        walk: PageWalk<T>,
    ) -> BoxFuture<Result<Vec<T>>> {
        use futures_util::TryStreamExt;
        let items = self.items(walk);
        Box::pin(items.try_collect())
    }

    fn wait<T>(&self, waiter: Waiter<T>) -> BoxFuture<Result<T>>
    where
        T: Watched + DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        Box::pin(async move { seclai_core::__drive_wait!(&client, waiter, [.await]) })
    }
}

impl Client {
    /// Run a call to its whole answer, inside its span.
    pub(crate) async fn answer(&self, machine: Result<CallMachine>) -> Result<Answer> {
        match self.drive(machine?).await? {
            Ok(a) => Ok(a),
            Err(_) => Err(Error::InvalidRequest("expected a whole answer".into())),
        }
    }

    /// Run a call until its answer opens, inside its span.
    pub(crate) async fn open(
        &self,
        machine: Result<CallMachine>,
    ) -> Result<(reqwest::Response, Head)> {
        match self.drive(machine?).await? {
            Err(opened) => Ok(opened),
            Ok(_) => Err(Error::InvalidRequest("expected a streamed answer".into())),
        }
    }

    fn drive(&self, machine: CallMachine) -> impl Future<Output = Result<Driven>> + Send + '_ {
        #[cfg(feature = "tracing")]
        let span = seclai_core::engine::span(&machine);
        let run = async move { seclai_core::__drive_call!(self, machine, [.await]) };
        #[cfg(feature = "tracing")]
        return tracing::Instrument::instrument(run, span);
        #[cfg(not(feature = "tracing"))]
        run
    }

    async fn io_fetch_token(&self) -> std::result::Result<String, crate::client::BoxError> {
        match &self.inner.async_provider {
            Some(provider) => provider().await,
            None => Err("this client has no async token provider".into()),
        }
    }

    async fn io_await_refresh(&self, wait: seclai_core::sso::RefreshWait) -> Result<()> {
        wait.await
    }

    async fn io_read_whole(
        &self,
        resp: reqwest::Response,
        read: BodyRead,
    ) -> std::result::Result<Bytes, TransportError> {
        read_whole(resp, read).await
    }

    async fn io_sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }

    async fn io_next_event(&self, events: &mut RunStream) -> Option<Result<seclai_core::RunEvent>> {
        events.next().await
    }

    /// Send one attempt and wait for its head: within the head timeout once
    /// the body is sent, and while an upload is being sent, within the idle
    /// timeout of the server's last read.
    async fn io_send(&self, a: Attempt) -> std::result::Result<reqwest::Response, TransportError> {
        let url = reqwest::Url::parse(&a.url).map_err(|e| {
            TransportError::new(TransportKind::Other, format!("invalid URL: {e}"))
                .with_maybe_sent(false)
        })?;
        let mut req = reqwest::Request::new(a.method, url);
        *req.headers_mut() = a.headers;
        *req.timeout_mut() = a.timeouts.total;
        let head = a.timeouts.head + a.timeouts.connect;
        let upload = match a.body {
            AttemptBody::None => None,
            AttemptBody::Bytes(b) => {
                *req.body_mut() = Some(b.into());
                None
            }
            AttemptBody::Multipart(m) => Some(m),
        };
        let Some(upload) = upload else {
            // A small body goes out at once: the head must follow within
            // the read timeout (one timer, no progress tracking).
            return match tokio::time::timeout(head, self.inner.http.execute(req)).await {
                Ok(r) => r.map_err(classify),
                Err(_) => Err(TransportError::new(
                    TransportKind::Timeout,
                    "no response head within the read timeout",
                )),
            };
        };
        let clock = self.inner.config.clock().clone();
        let progress = Arc::new(SendProgress::new(clock.now()));
        *req.body_mut() = Some(crate::body::upload_body(
            upload,
            progress.clone(),
            clock.clone(),
        ));
        let idle = a.timeouts.idle.max(a.timeouts.connect);
        let mut sent = Box::pin(self.inner.http.execute(req));
        loop {
            let now = clock.now();
            let wait = match progress.finished_at() {
                Some(at) => head.saturating_sub(now.saturating_duration_since(at)),
                None => idle.saturating_sub(now.saturating_duration_since(progress.last())),
            };
            match tokio::time::timeout(wait, &mut sent).await {
                Ok(r) => return r.map_err(classify),
                Err(_) => {
                    let now = clock.now();
                    let expired = match progress.finished_at() {
                        Some(at) => now.saturating_duration_since(at) >= head,
                        None => now.saturating_duration_since(progress.last()) >= idle,
                    };
                    if expired {
                        let what = if progress.finished_at().is_some() {
                            "no response head within the read timeout"
                        } else {
                            "the server stopped reading the request body"
                        };
                        return Err(TransportError::new(TransportKind::Timeout, what));
                    }
                }
            }
        }
    }

    /// Send the SSO token refresh and read its (bounded) answer.
    async fn io_refresh(
        &self,
        r: RefreshRequest,
    ) -> std::result::Result<(http::StatusCode, http::HeaderMap, Bytes), TransportError> {
        let mut req = reqwest::Request::try_from(r.request).map_err(|e| {
            TransportError::new(
                TransportKind::Other,
                format!("cannot build the SSO refresh: {e}"),
            )
        })?;
        *req.timeout_mut() = Some(r.timeout);
        let call = async {
            let mut resp = self.inner.http.execute(req).await.map_err(classify)?;
            let (status, headers) = (resp.status(), std::mem::take(resp.headers_mut()));
            let read = BodyRead {
                limit: r.limit,
                timeout: r.timeout,
                idle: r.timeout,
            };
            Ok((status, headers, read_whole(resp, read).await?))
        };
        tokio::time::timeout(r.timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(TransportError::new(
                    TransportKind::Timeout,
                    "the SSO refresh timed out",
                ))
            })
    }
}

/// When an attempt's request body was last read by the connection, and
/// when it was read to its end.
pub(crate) struct SendProgress {
    base: Instant,
    last_ns: AtomicU64,
    finished_ns: AtomicU64,
    finished: AtomicBool,
}

impl SendProgress {
    fn new(now: Instant) -> Self {
        SendProgress {
            base: now,
            last_ns: AtomicU64::new(0),
            finished_ns: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        }
    }

    fn offset(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The connection took more of the body.
    pub(crate) fn advance(&self, now: Instant) {
        self.last_ns.store(self.offset(now), Ordering::Relaxed);
    }

    /// The body is all sent.
    pub(crate) fn finish(&self, now: Instant) {
        self.finished_ns.store(self.offset(now), Ordering::Relaxed);
        self.finished.store(true, Ordering::Release);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_nanos(self.last_ns.load(Ordering::Relaxed))
    }

    fn finished_at(&self) -> Option<Instant> {
        self.finished
            .load(Ordering::Acquire)
            .then(|| self.base + Duration::from_nanos(self.finished_ns.load(Ordering::Relaxed)))
    }
}

/// Read a whole body: at most `read.limit + 1` bytes (one more tells the
/// engine the limit was passed; nothing after it is read), each chunk
/// within the idle timeout and all of it within the read's timeout.
pub(crate) async fn read_whole(
    mut resp: reqwest::Response,
    read: BodyRead,
) -> std::result::Result<Bytes, TransportError> {
    let cap = read.limit.saturating_add(1);
    // One timer for the whole read (a trickle cannot stretch it, and the
    // client's own read timeout catches a silent server); a body that
    // arrives in one chunk, the common case, is kept without a copy.
    let all = async {
        let hint = resp.content_length().unwrap_or(0).min(1 << 20) as usize;
        let mut first: Option<Bytes> = None;
        let mut joined = bytes::BytesMut::new();
        let mut len = 0usize;
        while len < cap {
            let Some(mut chunk) = resp
                .chunk()
                .await
                .map_err(|e| classify(e).with_maybe_sent(true))?
            else {
                break;
            };
            chunk.truncate(cap - len);
            len += chunk.len();
            match first.take() {
                None if joined.is_empty() => first = Some(chunk),
                earlier => {
                    if let Some(earlier) = earlier {
                        joined.reserve(hint.min(cap));
                        joined.extend_from_slice(&earlier);
                    }
                    joined.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| joined.freeze()))
    };
    tokio::time::timeout(read.timeout, all)
        .await
        .unwrap_or_else(|_| {
            Err(TransportError::new(
                TransportKind::Timeout,
                "timed out reading the response body",
            ))
        })
}
