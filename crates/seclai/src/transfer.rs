//! File uploads (multipart, streamed from disk) and downloads (streamed,
//! written atomically), in constant memory.

use crate::Client;
use crate::client::{StreamBody, classify, read_answer};
use bytes::Bytes;
use seclai_core::download::{AtomicFile, Progress, content_length};
use seclai_core::error::decode_json;
use seclai_core::multipart::{BodySource, MultipartBody, Upload};
use seclai_core::render::prepare_long;
use seclai_core::{Error, Result, StreamError, TransportError};
use seclai_gen::{Operation, ops, types};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The size of each of the two buffers a download is written through.
const WRITE_BATCH: usize = 64 * 1024;

/// Run local file I/O on tokio's blocking pool, never on the async task (a
/// slow disk or network file system must not stall the executor).
async fn off_task<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| io_error("file I/O", &e))
}

fn io_error(what: &str, e: &dyn std::fmt::Display) -> Error {
    Error::Transport(TransportError::new(
        seclai_core::TransportKind::Io,
        format!("{what}: {e}"),
    ))
}

/// How much of an upload is read per trip to the blocking pool. 64 KiB reads
/// cost about six futex calls each (one hand-off to the pool and back per
/// chunk); 256 KiB blocks cut the hand-offs fourfold while two blocks in
/// flight stay well under the 2 MiB memory budget of a transfer.
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
fn read_block(mut body: MultipartBody) -> BlockRead {
    tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(UPLOAD_BLOCK);
        let read = (&mut body)
            .take(UPLOAD_BLOCK as u64)
            .read_to_end(&mut buf)
            .map(|_| Bytes::from(buf));
        (body, read)
    })
}

/// Turn a multipart body into a streamed reqwest body: 256 KiB blocks read
/// on the blocking pool, the next one read while the current one is sent.
fn stream_body(body: MultipartBody) -> StreamBody {
    let content_type = http::HeaderValue::from_str(body.content_type())
        .unwrap_or_else(|_| http::HeaderValue::from_static("multipart/form-data"));
    let length = body.content_length();
    let replayable = body.is_replayable();
    let chunks = futures_util::stream::unfold(Some(ReadAhead::Idle(body)), |state| async move {
        let handle = match state? {
            ReadAhead::Idle(body) => read_block(body),
            ReadAhead::Reading(handle) => handle,
        };
        match handle.await {
            Ok((_, Ok(block))) if block.is_empty() => None,
            Ok((body, Ok(block))) => Some((Ok(block), Some(ReadAhead::Reading(read_block(body))))),
            Ok((_, Err(e))) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e)), None)),
        }
    });
    StreamBody {
        body: reqwest::Body::wrap_stream(chunks),
        content_type,
        length,
        replayable,
    }
}

impl Client {
    /// Send any multipart operation with `upload` as its `file` part. A known
    /// size over 200 MiB is refused before sending; a path or bytes upload is
    /// retried like any request, a one-shot reader never.
    pub async fn upload<O: Operation>(&self, op: O, upload: Upload) -> Result<O::Output> {
        let mut bodies = BodySource::new(upload)?;
        let mut make = move || bodies.next_body().map(stream_body);
        let prepared = prepare_long(self.config(), &op, "application/json")?;
        let resp = self.open(prepared, Some(&mut make)).await?;
        let status = resp.status();
        // The upload had no overall timeout; its answer gets the read one.
        let body = read_answer(resp, Some(self.config().read_timeout()))
            .await
            .map_err(Error::Transport)?;
        decode_json(status, &body)
    }

    /// Upload a file to a source (`POST /sources/{id}/upload`).
    ///
    /// ```no_run
    /// # async fn demo(client: seclai::Client) -> seclai::Result<()> {
    /// use seclai::Upload;
    /// let up = Upload::path("report.pdf")?.title("Q3").progress(|sent, total| println!("{sent}/{total:?}"));
    /// client.upload_file_to_source("source-id", up).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upload_file_to_source(
        &self,
        source_connection_id: impl Into<String>,
        upload: Upload,
    ) -> Result<types::SourceFileUploadResponse> {
        self.upload(ops::UploadFileToSource::new(source_connection_id), upload)
            .await
    }

    /// Replace a content version with a file (`POST /contents/{id}/upload`).
    pub async fn upload_file_to_content(
        &self,
        source_connection_content_version: impl Into<String>,
        upload: Upload,
    ) -> Result<types::ContentFileUploadResponse> {
        self.upload(
            ops::UploadFileToContent::new(source_connection_content_version),
            upload,
        )
        .await
    }

    /// Stage a file as agent run input (`POST /agents/{id}/upload-input`).
    pub async fn upload_agent_input(
        &self,
        agent_id: impl Into<String>,
        upload: Upload,
    ) -> Result<types::UploadAgentInputApiResponse> {
        self.upload(ops::UploadAgentInput::new(agent_id), upload)
            .await
    }

    /// Start any binary operation and return its streaming body.
    pub async fn download<O: Operation>(&self, op: O) -> Result<Download> {
        let prepared = prepare_long(self.config(), &op, "*/*")?;
        let resp = self.open(prepared, None).await?;
        let total = content_length(resp.headers());
        Ok(Download {
            headers: resp.headers().clone(),
            resp: Some(resp),
            idle: self.config().read_timeout(),
            progress: Progress::from_callback(None, total),
        })
    }

    /// Download a finished source export (`GET /sources/{id}/exports/{export_id}/download`).
    ///
    /// ```no_run
    /// # async fn demo(client: seclai::Client) -> seclai::Result<()> {
    /// client.download_source_export("source-id", "export-id").await?.write_to("out.zip").await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_source_export(
        &self,
        source_connection_id: impl Into<String>,
        export_id: impl Into<String>,
    ) -> Result<Download> {
        self.download(ops::DownloadSourceExport::new(
            source_connection_id,
            export_id,
        ))
        .await
    }

    /// Download a file a run step produced (`GET /v2/agent-runs/{run_id}/attachments/{attachment_id}`).
    pub async fn download_agent_run_attachment(
        &self,
        run_id: impl Into<String>,
        attachment_id: impl Into<String>,
    ) -> Result<Download> {
        self.download(ops::DownloadAgentRunAttachment::new(run_id, attachment_id))
            .await
    }
}

/// A download in progress: headers now, body on demand. No overall timeout
/// applies; a read that waits longer than the idle timeout fails.
pub struct Download {
    resp: Option<reqwest::Response>,
    headers: http::HeaderMap,
    idle: Duration,
    progress: Progress,
}

seclai_core::download_common!(Download);

impl Download {
    /// The next chunk of the body, `None` at the end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let Some(resp) = self.resp.as_mut() else {
            return Ok(None);
        };
        match tokio::time::timeout(self.idle, resp.chunk()).await {
            Err(_) => {
                self.resp = None;
                Err(Error::Stream(StreamError::IdleTimeout { after: self.idle }))
            }
            Ok(Ok(Some(b))) => {
                self.progress.advance(b.len() as u64);
                Ok(Some(b))
            }
            Ok(Ok(None)) => {
                self.resp = None;
                Ok(None)
            }
            Ok(Err(e)) => {
                self.resp = None;
                Err(Error::Transport(classify(&e).with_maybe_sent(true)))
            }
        }
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
        let file = off_task(move || AtomicFile::create(&target)).await??;
        let mut writer = BackgroundWriter::new(file);
        loop {
            match self.chunk().await {
                // Copied out and dropped at once, so that the connection can
                // reuse its buffer instead of allocating another.
                Ok(Some(chunk)) => writer.push(&chunk).await?,
                Ok(None) => return writer.finish().await,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            }
        }
    }
}

type WriteResult = std::io::Result<(AtomicFile, Vec<u8>)>;

/// Writes a download on the blocking pool while the next batch fills: two
/// reusable buffers, at most one write in flight, so memory stays at
/// `2 * WRITE_BATCH` whatever the file's size.
struct BackgroundWriter {
    /// The file and the spare buffer, when no write is in flight.
    idle: Option<(AtomicFile, Vec<u8>)>,
    /// The write in flight; it hands back the file and its buffer.
    in_flight: Option<tokio::task::JoinHandle<WriteResult>>,
    filling: Vec<u8>,
}

impl BackgroundWriter {
    fn new(file: AtomicFile) -> Self {
        BackgroundWriter {
            idle: Some((file, Vec::with_capacity(WRITE_BATCH))),
            in_flight: None,
            filling: Vec::with_capacity(WRITE_BATCH),
        }
    }

    async fn push(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let n = (WRITE_BATCH - self.filling.len()).min(data.len());
            self.filling.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.filling.len() == WRITE_BATCH {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Wait for the write in flight (if any), then start writing `filling`.
    async fn flush(&mut self) -> Result<()> {
        let (mut file, mut spare) = self.settle().await?;
        spare.clear();
        let full = std::mem::replace(&mut self.filling, spare);
        // On failure the file is dropped (its temporary deleted) right there.
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            file.write_all(&full)?;
            Ok((file, full))
        }));
        Ok(())
    }

    /// The file and a buffer, once no write is in flight.
    async fn settle(&mut self) -> Result<(AtomicFile, Vec<u8>)> {
        if let Some(write) = self.in_flight.take() {
            return write
                .await
                .map_err(|e| io_error("file I/O", &e))?
                .map_err(|e| io_error("writing the download", &e));
        }
        self.idle
            .take()
            .ok_or_else(|| io_error("writing the download", &"an earlier write failed"))
    }

    async fn finish(mut self) -> Result<PathBuf> {
        if !self.filling.is_empty() {
            self.flush().await?;
        }
        let (file, _) = self.settle().await?;
        off_task(move || file.commit()).await?
    }

    /// Give up: the temporary file is deleted, off the task.
    async fn abort(mut self) {
        if let Ok((file, _)) = self.settle().await {
            let _ = off_task(move || file.discard()).await;
        }
    }
}
