//! Bodies read as streams (run events, downloads) and written as streams
//! (uploads). What a read means and how long it may wait comes from the
//! core's feeds; here are only the reqwest and tokio calls.

use crate::driver::SendProgress;
use bytes::Bytes;
use futures_core::Stream;
use seclai_core::engine::SharedClock;
use seclai_core::multipart::MultipartBody;
use seclai_core::stream::{DownloadFeed, EventFeed, FeedStep, OpenedHead};
use seclai_core::{Error, Result, RunEvent, TransportError, TransportKind};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// A stream of items that fetches pages as it goes; owns its client clone.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send>>;

type ChunkStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A response body read chunk by chunk, each read within a given time.
pub(crate) struct TimedBody {
    body: Option<ChunkStream>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl TimedBody {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        TimedBody {
            body: Some(Box::pin(resp.bytes_stream())),
            timer: None,
        }
    }

    /// The next non-empty chunk (`None` at the end), waiting at most `wait`.
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        wait: Duration,
    ) -> Poll<std::result::Result<Option<Bytes>, TransportError>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(Ok(None));
        };
        loop {
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)));
            let polled = body.as_mut().poll_next(cx);
            let result = match polled {
                Poll::Ready(Some(Ok(b))) if b.is_empty() => continue,
                Poll::Ready(Some(Ok(b))) => Ok(Some(b)),
                Poll::Ready(Some(Err(e))) => Err(crate::client::classify(e).with_maybe_sent(true)),
                Poll::Ready(None) => Ok(None),
                Poll::Pending => {
                    ready!(timer.as_mut().poll(cx));
                    Err(TransportError::new(
                        TransportKind::Timeout,
                        "no data within the idle timeout",
                    ))
                }
            };
            self.timer = None;
            if !matches!(result, Ok(Some(_))) {
                self.body = None;
            }
            return Poll::Ready(result);
        }
    }

    pub(crate) async fn next_chunk(
        &mut self,
        wait: Duration,
    ) -> std::result::Result<Option<Bytes>, TransportError> {
        std::future::poll_fn(|cx| self.poll_chunk(cx, wait)).await
    }
}

type WholeRead =
    Pin<Box<dyn std::future::Future<Output = std::result::Result<Bytes, TransportError>> + Send>>;

/// The events of a streamed run: a `'static` [`Stream`] that owns its
/// connection (no background task); dropping it closes the connection.
///
/// A server `error`/`timeout` event is an `Err` item
/// ([`StreamError::ServerError`](crate::StreamError::ServerError) /
/// [`ServerTimeout`](crate::StreamError::ServerTimeout)); a stream cut
/// before `done` ends with
/// [`StreamError::EndedEarly`](crate::StreamError::EndedEarly), a silent
/// one with [`IdleTimeout`](crate::StreamError::IdleTimeout), and a call
/// deadline that passes with [`Error::Deadline`].
pub struct RunStream {
    feed: EventFeed,
    body: TimedBody,
    whole: Option<WholeRead>,
}

impl std::fmt::Debug for RunStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.feed.fmt(f)
    }
}

impl std::ops::Deref for RunStream {
    type Target = EventFeed;
    /// The stream's state: `run_id()` once known, and `head()`, the
    /// opening response (status, headers, request id, rate limits).
    fn deref(&self) -> &EventFeed {
        &self.feed
    }
}

impl RunStream {
    pub(crate) fn new(feed: EventFeed, body: TimedBody) -> Self {
        RunStream {
            feed,
            body,
            whole: None,
        }
    }

    /// Read to the end and return the `done` run (no polling): a failed
    /// run, an `error`/`timeout` event or an early end is an error.
    pub async fn final_run(mut self) -> Result<seclai_core::seclai_gen::types::AgentRunResponse> {
        use futures_util::StreamExt;
        let mut fin = seclai_core::FinalRun::default();
        while let Some(item) = self.next().await {
            if fin.on_item(item) {
                break;
            }
        }
        fin.finish(self.run_id())
    }
}

impl Stream for RunStream {
    type Item = Result<RunEvent>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(read) = this.whole.as_mut() {
                let body = ready!(read.as_mut().poll(cx));
                this.whole = None;
                this.feed.on_whole(body);
                continue;
            }
            match this.feed.next_step() {
                FeedStep::Item(item) => return Poll::Ready(Some(item)),
                FeedStep::End => {
                    this.body.body = None;
                    return Poll::Ready(None);
                }
                FeedStep::ReadWhole(read) => {
                    let mut body = std::mem::replace(
                        &mut this.body,
                        TimedBody {
                            body: None,
                            timer: None,
                        },
                    );
                    this.whole = Some(Box::pin(async move {
                        let cap = read.limit.saturating_add(1);
                        let mut out = bytes::BytesMut::new();
                        let all = async {
                            while out.len() < cap {
                                match body.next_chunk(read.idle).await? {
                                    Some(c) => {
                                        out.extend_from_slice(&c[..c.len().min(cap - out.len())])
                                    }
                                    None => break,
                                }
                            }
                            Ok(())
                        };
                        match tokio::time::timeout(read.timeout, all).await {
                            Ok(Ok(())) => Ok(out.freeze()),
                            Ok(Err(e)) => Err(e),
                            Err(_) => Err(TransportError::new(
                                TransportKind::Timeout,
                                "timed out reading the answer",
                            )),
                        }
                    }));
                }
                FeedStep::Read(wait) => {
                    let chunk = ready!(this.body.poll_chunk(cx, wait));
                    match chunk {
                        Ok(Some(bytes)) => this.feed.on_bytes(bytes),
                        Ok(None) => this.feed.on_chunk(Ok(None)),
                        Err(e) => this.feed.on_chunk(Err(e)),
                    }
                }
            }
        }
    }
}

/// A download in progress: the opening response now, the body on demand
/// (a [`Stream`] of chunks). No overall timeout applies unless the call set
/// a deadline; a read that waits longer than the idle timeout fails.
pub struct Download {
    feed: DownloadFeed,
    body: TimedBody,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.feed.fmt(f)
    }
}

impl std::ops::Deref for Download {
    type Target = OpenedHead;
    /// The opening response: `status()`, `headers()`, `content_type()`,
    /// `file_name()`, `content_length()`, `request_id()`.
    fn deref(&self) -> &OpenedHead {
        self.feed.head()
    }
}

impl Download {
    pub(crate) fn new(feed: DownloadFeed, body: TimedBody) -> Self {
        Download { feed, body }
    }

    /// Report progress as `(bytes so far, total if known)`.
    pub fn progress(mut self, callback: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.feed.set_progress(callback);
        self
    }

    /// The next chunk of the body, `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        std::future::poll_fn(|cx| self.poll_chunk(cx)).await
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>>> {
        let wait = match self.feed.next_read() {
            Ok(Some(wait)) => wait,
            Ok(None) => return Poll::Ready(Ok(None)),
            Err(e) => return Poll::Ready(Err(e)),
        };
        let read = ready!(self.body.poll_chunk(cx, wait));
        Poll::Ready(match read {
            Ok(Some(b)) => self.feed.on_read(Ok(b.len())).map(|_| Some(b)),
            Ok(None) => self.feed.on_read(Ok(0)).map(|_| None),
            Err(e) => self.feed.on_read(Err(e)).map(|_| None),
        })
    }

    /// The whole body in memory (for small files).
    pub async fn bytes(mut self) -> Result<Bytes> {
        let mut out = bytes::BytesMut::new();
        while let Some(b) = self.chunk().await? {
            out.extend_from_slice(&b);
        }
        Ok(out.freeze())
    }

    /// Stream the body to `path` through a temporary file in the same
    /// directory, renamed over `path` only when the whole body arrived; on
    /// any failure nothing is left at `path`. The file is written on
    /// tokio's blocking pool while the next part of the body arrives.
    pub async fn write_to(mut self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let target = path.as_ref().to_path_buf();
        let file = off_task(move || seclai_core::download::AtomicFile::create(&target)).await??;
        let mut writer = BatchWriter::new(file);
        loop {
            match self.chunk().await {
                Ok(Some(chunk)) => writer.push(chunk).await?,
                Ok(None) => return writer.finish().await,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            }
        }
    }
}

impl Stream for Download {
    type Item = Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        self.get_mut().poll_chunk(cx).map(Result::transpose)
    }
}

// ---------------------------------------------------------------------------
// Uploads
// ---------------------------------------------------------------------------

/// How much of an upload is read per trip to the blocking pool: 256 KiB
/// blocks cut the hand-offs to the pool (about six futex calls each) by four
/// against 64 KiB, while two blocks in flight stay well under the 2 MiB
/// memory budget of a transfer.
const UPLOAD_BLOCK: usize = 256 * 1024;

/// Where the upload's reader stands: idle between reads, or reading the
/// next block on the blocking pool while the previous one is being sent.
enum ReadAhead {
    Idle(MultipartBody),
    Reading(BlockRead),
}

/// A block being read on the blocking pool; it hands the body back.
type BlockRead = tokio::task::JoinHandle<(MultipartBody, std::io::Result<Bytes>)>;

/// Reads the next block of `body` on the blocking pool.
///
/// The block is read with reads as large as what is left of it (one or two
/// per block from a file): `read_to_end` would start at 8 KiB and double,
/// six reads a block, and zero the buffer piece by piece as it goes.
fn read_block(mut body: MultipartBody) -> BlockRead {
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0; UPLOAD_BLOCK];
        let mut len = 0;
        let read = loop {
            match buf.get_mut(len..).map(|rest| body.read(rest)) {
                None | Some(Ok(0)) => break Ok(()),
                Some(Ok(n)) => len += n,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Some(Err(e)) => break Err(e),
            }
        };
        buf.truncate(len);
        (body, read.map(|()| Bytes::from(buf)))
    })
}

/// Turn a multipart body into a streamed reqwest body: 256 KiB blocks read
/// on the blocking pool, the next one read while the current one is sent;
/// every block the connection takes is progress (the write-idle bound).
pub(crate) fn upload_body(
    body: MultipartBody,
    progress: Arc<SendProgress>,
    clock: SharedClock,
) -> reqwest::Body {
    let chunks = futures_util::stream::unfold(Some(ReadAhead::Idle(body)), move |state| {
        let (progress, clock) = (progress.clone(), clock.clone());
        async move {
            progress.advance(clock.now());
            let handle = match state? {
                ReadAhead::Idle(body) => read_block(body),
                ReadAhead::Reading(handle) => handle,
            };
            match handle.await {
                Ok((_, Ok(block))) if block.is_empty() => {
                    progress.finish(clock.now());
                    None
                }
                Ok((body, Ok(block))) => {
                    Some((Ok(block), Some(ReadAhead::Reading(read_block(body)))))
                }
                Ok((_, Err(e))) => Some((Err(e), None)),
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        }
    });
    reqwest::Body::wrap_stream(chunks)
}

// ---------------------------------------------------------------------------
// Writing downloads
// ---------------------------------------------------------------------------

/// How many bytes of received chunks are gathered before they are written
/// (a large chunk is written on its own).
const WRITE_BATCH: usize = 64 * 1024;

/// Run local file I/O on tokio's blocking pool, never on the async task.
async fn off_task<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| io_error("file I/O", &e))
}

fn io_error(what: &str, e: &dyn std::fmt::Display) -> Error {
    Error::Transport(TransportError::new(
        TransportKind::Io,
        format!("{what}: {e}"),
    ))
}

/// Writes a download on tokio's blocking pool, a batch at a time. The
/// chunks are written as received, never copied, and the next chunk is
/// read only once they are written: the HTTP library's read buffers are
/// released as soon as possible, and a 200 MiB download costs no more CPU
/// than the blocking client's (copying into buffers of our own and writing
/// them while reading on cost 1.2 to 1.4 times as much, for no less peak
/// memory).
struct BatchWriter {
    file: Option<seclai_core::download::AtomicFile>,
    batch: Vec<Bytes>,
    batched: usize,
}

impl BatchWriter {
    fn new(file: seclai_core::download::AtomicFile) -> Self {
        BatchWriter {
            file: Some(file),
            batch: Vec::new(),
            batched: 0,
        }
    }

    async fn push(&mut self, chunk: Bytes) -> Result<()> {
        self.batched += chunk.len();
        self.batch.push(chunk);
        if self.batched >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io_error("writing the download", &"an earlier write failed"))?;
        let batch = std::mem::take(&mut self.batch);
        self.batched = 0;
        let file = off_task(move || {
            for chunk in &batch {
                file.write_all(chunk)?;
            }
            Ok::<_, std::io::Error>(file)
        })
        .await?
        .map_err(|e| io_error("writing the download", &e))?;
        self.file = Some(file);
        Ok(())
    }

    async fn finish(mut self) -> Result<PathBuf> {
        if !self.batch.is_empty() {
            self.flush().await?;
        }
        match self.file.take() {
            Some(file) => off_task(move || file.commit()).await?,
            None => Err(io_error("writing the download", &"an earlier write failed")),
        }
    }

    async fn abort(mut self) {
        if let Some(file) = self.file.take() {
            let _ = off_task(move || file.discard()).await;
        }
    }
}
