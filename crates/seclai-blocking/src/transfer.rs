//! File uploads (multipart, streamed from disk) and downloads (streamed,
//! written atomically), in constant memory.

use crate::Client;
use crate::client::{classify, read_body};
use seclai_core::download::{AtomicFile, Progress, content_length};
use seclai_core::error::decode_json;
use seclai_core::multipart::{BodySource, Upload};
use seclai_core::render::prepare_long;
use seclai_core::{Error, Result, StreamError, TransportError, TransportKind};
use seclai_gen::{Operation, ops, types};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl Client {
    /// Send any multipart operation with `upload` as its `file` part. A known
    /// size over 200 MiB is refused before sending; a path or bytes upload is
    /// retried like any request, a one-shot reader never.
    pub fn upload<O: Operation>(&self, op: O, upload: Upload) -> Result<O::Output> {
        let mut bodies = BodySource::new(upload)?;
        let mut make = move || bodies.next_body();
        let prepared = prepare_long(self.config(), &op, "application/json")?;
        let mut resp = self.open(prepared, None, Some(&mut make))?;
        let status = resp.status();
        let body = read_body(resp.body_mut(), u64::MAX).map_err(Error::Transport)?;
        decode_json(status, &body)
    }

    /// Upload a file to a source (`POST /sources/{id}/upload`).
    ///
    /// ```no_run
    /// # fn demo(client: seclai_blocking::Client) -> seclai_blocking::Result<()> {
    /// use seclai_blocking::Upload;
    /// let up = Upload::path("report.pdf")?.title("Q3").progress(|sent, total| println!("{sent}/{total:?}"));
    /// client.upload_file_to_source("source-id", up)?;
    /// # Ok(()) }
    /// ```
    pub fn upload_file_to_source(
        &self,
        source_connection_id: impl Into<String>,
        upload: Upload,
    ) -> Result<types::SourceFileUploadResponse> {
        self.upload(ops::UploadFileToSource::new(source_connection_id), upload)
    }

    /// Replace a content version with a file (`POST /contents/{id}/upload`).
    pub fn upload_file_to_content(
        &self,
        source_connection_content_version: impl Into<String>,
        upload: Upload,
    ) -> Result<types::ContentFileUploadResponse> {
        self.upload(
            ops::UploadFileToContent::new(source_connection_content_version),
            upload,
        )
    }

    /// Stage a file as agent run input (`POST /agents/{id}/upload-input`).
    pub fn upload_agent_input(
        &self,
        agent_id: impl Into<String>,
        upload: Upload,
    ) -> Result<types::UploadAgentInputApiResponse> {
        self.upload(ops::UploadAgentInput::new(agent_id), upload)
    }

    /// Start any binary operation and return its streaming body.
    pub fn download<O: Operation>(&self, op: O) -> Result<Download> {
        let prepared = prepare_long(self.config(), &op, "*/*")?;
        let idle = self.config().read_timeout();
        let resp = self.open(prepared, Some(idle), None)?;
        let headers = resp.headers().clone();
        let total = content_length(&headers);
        Ok(Download {
            reader: Some(resp.into_body().into_reader()),
            headers,
            idle,
            progress: Progress::from_callback(None, total),
        })
    }

    /// Download a finished source export (`GET /sources/{id}/exports/{export_id}/download`).
    ///
    /// ```no_run
    /// # fn demo(client: seclai_blocking::Client) -> seclai_blocking::Result<()> {
    /// client.download_source_export("source-id", "export-id")?.write_to("out.zip")?;
    /// # Ok(()) }
    /// ```
    pub fn download_source_export(
        &self,
        source_connection_id: impl Into<String>,
        export_id: impl Into<String>,
    ) -> Result<Download> {
        self.download(ops::DownloadSourceExport::new(
            source_connection_id,
            export_id,
        ))
    }

    /// Download a file a run step produced (`GET /v2/agent-runs/{run_id}/attachments/{attachment_id}`).
    pub fn download_agent_run_attachment(
        &self,
        run_id: impl Into<String>,
        attachment_id: impl Into<String>,
    ) -> Result<Download> {
        self.download(ops::DownloadAgentRunAttachment::new(run_id, attachment_id))
    }
}

/// A download in progress: headers now, body on demand (it implements
/// [`Read`]). No overall timeout applies; a read that waits longer than the
/// idle timeout (the client's read timeout) fails.
pub struct Download {
    reader: Option<ureq::BodyReader<'static>>,
    headers: http::HeaderMap,
    idle: Duration,
    progress: Progress,
}

seclai_core::download_common!(Download);

impl Download {
    fn to_error(&self, e: std::io::Error) -> Error {
        let err = classify(&ureq::Error::from(e)).with_maybe_sent(true);
        if err.kind == TransportKind::Timeout {
            Error::Stream(StreamError::IdleTimeout { after: self.idle })
        } else {
            Error::Transport(err)
        }
    }

    /// The whole body in memory (for small files).
    pub fn bytes(mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out).map_err(|e| self.to_error(e))?;
        Ok(out)
    }

    /// Stream the body to `path` through a temporary file in the same
    /// directory, renamed over `path` only when the whole body arrived; on
    /// any failure nothing is left at `path`.
    pub fn write_to(mut self, path: impl AsRef<Path>) -> Result<PathBuf> {
        let mut file = AtomicFile::create(path.as_ref())?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.read(&mut buf).map_err(|e| self.to_error(e))?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut file, &buf[..n]).map_err(|e| {
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
        let Some(r) = self.reader.as_mut() else {
            return Ok(0);
        };
        let n = r.read(buf)?;
        if n == 0 {
            self.reader = None;
        }
        self.progress.advance(n as u64);
        Ok(n)
    }
}
