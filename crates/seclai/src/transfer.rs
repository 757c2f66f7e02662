//! File uploads (multipart, streamed from disk) and downloads (streamed,
//! written atomically), in constant memory.

use crate::Client;
use crate::client::{StreamBody, classify, read_body};
use bytes::Bytes;
use seclai_core::download::{AtomicFile, Progress, content_length};
use seclai_core::multipart::{BodySource, MultipartBody, Upload};
use seclai_core::render::prepare_long;
use seclai_core::{Error, Exchange, Result, StreamError, TransportError};
use seclai_gen::{Operation, ops, types};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHUNK: usize = 64 * 1024;

/// Turn a multipart body into a streamed reqwest body (64 KiB reads; the
/// reads are local disk reads done on the calling task).
fn stream_body(body: MultipartBody) -> StreamBody {
    let content_type = http::HeaderValue::from_str(body.content_type())
        .unwrap_or_else(|_| http::HeaderValue::from_static("multipart/form-data"));
    let length = body.content_length();
    let replayable = body.is_replayable();
    let chunks = futures_util::stream::unfold(Some(body), |state| async move {
        let mut body = state?;
        let mut buf = vec![0u8; CHUNK];
        match body.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), Some(body)))
            }
            Err(e) => Some((Err(e), None)),
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
        let mut x = Exchange::new(self.config(), prepared);
        let resp = self.send_head_with(&mut x, Some(&mut make)).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = read_body(resp, usize::MAX)
            .await
            .map_err(Error::Transport)?;
        x.finish(status, headers, &body)
            .map(seclai_core::Response::into_value)
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
        let mut x = Exchange::new(self.config(), prepared);
        let resp = self.send_head(&mut x).await?;
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

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type())
            .field("file_name", &self.file_name())
            .field("content_length", &self.content_length())
            .finish_non_exhaustive()
    }
}

impl Download {
    seclai_core::download_accessors!();

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
    /// any failure nothing is left at `path`.
    pub async fn write_to(mut self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let mut file = AtomicFile::create(path.as_ref())?;
        while let Some(b) = self.chunk().await? {
            file.write_all(&b).map_err(|e| {
                Error::Transport(TransportError::new(
                    seclai_core::TransportKind::Io,
                    format!("writing the download: {e}"),
                ))
            })?;
        }
        file.commit()
    }
}
