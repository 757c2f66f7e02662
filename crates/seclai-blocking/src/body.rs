//! Bodies read as streams (run events, downloads). What a read means and
//! how long it may wait comes from the core's feeds; here are only the
//! ureq reads.

use crate::client::classify;
use bytes::Bytes;
use seclai_core::stream::{DownloadFeed, EventFeed, FeedStep, OpenedHead};
use seclai_core::{Error, Result, RunEvent, TransportError, TransportKind};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

type Reader = ureq::BodyReader<'static>;

fn read_some(
    reader: &mut Option<Reader>,
    buf: &mut [u8],
) -> std::result::Result<usize, TransportError> {
    let Some(r) = reader.as_mut() else {
        return Ok(0);
    };
    let read = r
        .read(buf)
        .map_err(|e| classify(ureq::Error::from(e)).with_maybe_sent(true));
    if !matches!(read, Ok(n) if n > 0) {
        *reader = None;
    }
    read
}

/// The items of a paged list, fetched as they are consumed.
pub struct ItemIter<T> {
    inner: Box<dyn Iterator<Item = Result<T>> + Send>,
}

impl<T> ItemIter<T> {
    pub(crate) fn new(inner: Box<dyn Iterator<Item = Result<T>> + Send>) -> Self {
        ItemIter { inner }
    }
}

impl<T> Iterator for ItemIter<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        self.inner.next()
    }
}

impl<T> std::fmt::Debug for ItemIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemIter")
    }
}

/// The events of a streamed run, as a blocking [`Iterator`] that owns its
/// connection; dropping it closes the connection.
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
    reader: Option<Reader>,
    buf: Vec<u8>,
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
    pub(crate) fn new(feed: EventFeed, reader: Reader) -> Self {
        RunStream {
            feed,
            reader: Some(reader),
            buf: vec![0; seclai_core::stream::EVENT_READ],
        }
    }

    /// Read to the end and return the `done` run (no polling): a failed
    /// run, an `error`/`timeout` event or an early end is an error.
    pub fn final_run(mut self) -> Result<seclai_core::seclai_gen::types::AgentRunResponse> {
        let mut fin = seclai_core::FinalRun::default();
        for item in self.by_ref() {
            if fin.on_item(item) {
                break;
            }
        }
        fin.finish(self.run_id())
    }
}

impl Iterator for RunStream {
    type Item = Result<RunEvent>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.feed.next_step() {
                FeedStep::Item(item) => return Some(item),
                FeedStep::End => {
                    self.reader = None;
                    return None;
                }
                FeedStep::ReadWhole(read) => {
                    let body = match self.reader.take() {
                        Some(mut r) => crate::driver::read_whole(&mut r, read, None),
                        None => Ok(Bytes::new()),
                    };
                    self.feed.on_whole(body);
                }
                // The per-read wait was set on the request (the idle
                // timeout) and the deadline bounds the whole body there too.
                FeedStep::Read(_) => match read_some(&mut self.reader, &mut self.buf) {
                    Ok(0) => self.feed.on_chunk(Ok(None)),
                    Ok(n) => self.feed.on_chunk(Ok(Some(&self.buf[..n]))),
                    Err(e) => self.feed.on_chunk(Err(e)),
                },
            }
        }
    }
}

/// A download in progress: the opening response now, the body on demand
/// (it implements [`Read`]). No overall timeout applies unless the call
/// set a deadline; a read that waits longer than the idle timeout fails.
pub struct Download {
    feed: DownloadFeed,
    reader: Option<Reader>,
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
    pub(crate) fn new(feed: DownloadFeed, reader: Reader) -> Self {
        Download {
            feed,
            reader: Some(reader),
        }
    }

    /// Report progress as `(bytes so far, total if known)`.
    pub fn progress(mut self, callback: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.feed.set_progress(callback);
        self
    }

    /// Read the next part of the body into `buf` (`0` at the end).
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.feed.next_read()?.is_none() {
            return Ok(0);
        }
        let read = read_some(&mut self.reader, buf);
        self.feed.on_read(read)
    }

    /// The whole body in memory (for small files).
    pub fn bytes(mut self) -> Result<Bytes> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                return Ok(Bytes::from(out));
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Stream the body to `path` through a temporary file in the same
    /// directory, renamed over `path` only when the whole body arrived; on
    /// any failure nothing is left at `path`.
    pub fn write_to(mut self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let mut file = seclai_core::download::AtomicFile::create(path.as_ref())?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).map_err(|e| {
                Error::Transport(TransportError::new(
                    TransportKind::Io,
                    format!("writing the download: {e}"),
                ))
            })?;
        }
        file.commit()
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_chunk(buf).map_err(std::io::Error::other)
    }
}
