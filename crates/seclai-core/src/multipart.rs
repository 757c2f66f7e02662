//! A streaming `multipart/form-data` encoder for file uploads.
//!
//! An [`Upload`] describes the file (a path, bytes in memory, or any
//! reader) and the text fields sent with it. [`Upload::into_body`] turns it
//! into a [`MultipartBody`], which implements [`std::io::Read`] and produces
//! the encoded request body piece by piece: the text fields, then the file
//! read in chunks of the caller's buffer size (the file is never held in
//! memory whole), then the closing boundary. Memory use does not depend on
//! the file size.
//!
//! ```
//! use seclai_core::multipart::Upload;
//! use std::io::Read;
//! # fn main() -> seclai_core::Result<()> {
//! let upload = Upload::bytes("notes.txt", "hello").title("Notes");
//! let mut body = upload.into_body("file")?;
//! assert!(body.content_type().starts_with("multipart/form-data; boundary="));
//! let mut encoded = Vec::new();
//! body.read_to_end(&mut encoded).unwrap();
//! assert_eq!(Some(encoded.len() as u64), body.content_length());
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Problems found before sending ([`Upload::path`], [`Upload::check`],
//! [`Upload::into_body`]): a missing path, a directory, an unreadable file,
//! a file larger than [`MAX_UPLOAD_BYTES`] are [`Error::InvalidRequest`].
//! Problems while streaming (a reader failing halfway, a file changing size,
//! a reader of unknown size passing the limit) come out of
//! [`MultipartBody::read`](std::io::Read::read) as an [`io::Error`] wrapping
//! an [`UploadError`]; the transport finds it with [`upload_error`] and
//! reports it as [`Error::InvalidRequest`] (not retried: the same input
//! would fail again).
//!
//! # Retries
//!
//! A body made from a path or from bytes can be produced again with
//! [`MultipartBody::reopen`] (the file is reopened and read from the
//! start); a body made from a one-shot reader cannot, and `reopen` returns
//! `None`.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::download::{Progress, ProgressCallback};
use crate::error::{Error, Result};

/// Largest file the API accepts: 200 MiB.
pub const MAX_UPLOAD_BYTES: u64 = 209_715_200;

/// MIME type used when the file name says nothing.
const DEFAULT_MIME: &str = "application/octet-stream";

/// Characters left as they are in an RFC 8187 `filename*` value.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

// ---------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------

enum Source {
    Path {
        path: PathBuf,
        size: u64,
    },
    Bytes(Arc<Vec<u8>>),
    // The mutex only makes the body `Sync`; it is never locked while shared.
    Reader {
        reader: Mutex<Box<dyn Read + Send>>,
        size: Option<u64>,
    },
}

/// A file to upload, with the form fields sent alongside it.
///
/// Build one with [`path`](Self::path), [`bytes`](Self::bytes) or
/// [`reader`](Self::reader), adjust it with the setters, and hand it to an
/// upload method. The body carries, in order: `title`, `metadata`, the
/// other fields in the order given, then the file.
pub struct Upload {
    source: Source,
    file_name: String,
    mime_type: Option<String>,
    title: Option<String>,
    metadata: Option<Value>,
    fields: Vec<(String, String)>,
    progress: Option<ProgressCallback>,
    boundary: Option<String>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Path { path, .. } => format!("path {}", path.display()),
            Source::Bytes(b) => format!("{} bytes in memory", b.len()),
            Source::Reader { .. } => "reader".to_owned(),
        };
        f.debug_struct("Upload")
            .field("source", &source)
            .field("file_name", &self.file_name)
            .field("mime_type", &self.resolved_mime_type())
            .field("size", &self.size())
            .field("title", &self.title)
            .field("metadata", &self.metadata)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// The file at `path`. Its name becomes the file name and its extension
    /// picks the MIME type (`application/octet-stream` when unknown).
    ///
    /// Fails with [`Error::InvalidRequest`], naming the path, when it does
    /// not exist, cannot be read, is a directory or another non-regular
    /// file, or is larger than [`MAX_UPLOAD_BYTES`].
    pub fn path(path: impl AsRef<Path>) -> Result<Upload> {
        let path = path.as_ref();
        let meta = fs::metadata(path)
            .map_err(|e| Error::InvalidRequest(format!("cannot upload {}: {e}", path.display())))?;
        if meta.is_dir() {
            return Err(Error::InvalidRequest(format!(
                "cannot upload {}: it is a directory, not a file",
                path.display()
            )));
        }
        if !meta.is_file() {
            return Err(Error::InvalidRequest(format!(
                "cannot upload {}: not a regular file (use Upload::reader for streams)",
                path.display()
            )));
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_owned());
        let upload = Upload::new(
            Source::Path {
                path: path.to_path_buf(),
                size: meta.len(),
            },
            file_name,
        );
        upload.check()?;
        Ok(upload)
    }

    /// Bytes in memory, sent under `file_name` (which also picks the MIME
    /// type).
    pub fn bytes(file_name: impl Into<String>, data: impl Into<Vec<u8>>) -> Upload {
        Upload::new(Source::Bytes(Arc::new(data.into())), file_name.into())
    }

    /// The contents of `reader`, sent under `file_name` (which also picks the
    /// MIME type). With a known `size` the request has a `Content-Length`
    /// and exactly `size` bytes are read (a reader ending sooner fails the
    /// upload); without one the body length is unknown and the limit is
    /// enforced while streaming. A reader can be sent only once.
    pub fn reader(
        file_name: impl Into<String>,
        reader: impl Read + Send + 'static,
        size: Option<u64>,
    ) -> Upload {
        Upload::new(
            Source::Reader {
                reader: Mutex::new(Box::new(reader)),
                size,
            },
            file_name.into(),
        )
    }

    fn new(source: Source, file_name: String) -> Upload {
        Upload {
            source,
            file_name,
            mime_type: None,
            title: None,
            metadata: None,
            fields: Vec::new(),
            progress: None,
            boundary: None,
        }
    }

    /// The file name sent to the server.
    pub fn file_name(mut self, name: impl Into<String>) -> Upload {
        self.file_name = name.into();
        self
    }

    /// The file's MIME type, instead of the one guessed from its name.
    pub fn mime_type(mut self, mime: impl Into<String>) -> Upload {
        self.mime_type = Some(mime.into());
        self
    }

    /// The `title` form field.
    pub fn title(mut self, title: impl Into<String>) -> Upload {
        self.title = Some(title.into());
        self
    }

    /// The `metadata` form field, sent as JSON text.
    pub fn metadata(mut self, metadata: Value) -> Upload {
        self.metadata = Some(metadata);
        self
    }

    /// Another text form field. May be repeated, also with the same name.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Upload {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Called as file bytes are sent, with the bytes sent so far and the
    /// file size when known. A retried upload starts again from 0.
    pub fn progress(
        mut self,
        callback: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> Upload {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Uses `boundary` instead of a random one (for tests and reproducible
    /// output). It must be 1 to 70 characters from `A-Z a-z 0-9 ' ( ) + _ ,
    /// - . / : = ?` and must not occur in the text fields; both are checked
    /// by [`into_body`](Self::into_body).
    pub fn with_boundary(mut self, boundary: impl Into<String>) -> Upload {
        self.boundary = Some(boundary.into());
        self
    }

    /// Whether the body can be produced more than once (for retries): true
    /// for paths and bytes, false for readers.
    pub fn is_replayable(&self) -> bool {
        !matches!(self.source, Source::Reader { .. })
    }

    /// The file's size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        match &self.source {
            Source::Path { size, .. } => Some(*size),
            Source::Bytes(b) => Some(b.len() as u64),
            Source::Reader { size, .. } => *size,
        }
    }

    /// The MIME type that will be sent: the one set, else the one guessed
    /// from the file name.
    pub fn resolved_mime_type(&self) -> String {
        match &self.mime_type {
            Some(m) => m.clone(),
            None => mime_guess::from_path(&self.file_name)
                .first_raw()
                .unwrap_or(DEFAULT_MIME)
                .to_owned(),
        }
    }

    /// Checks everything that can be checked before sending: the size
    /// limit, a non-empty file name, a MIME type without control characters
    /// and a valid boundary. Errors are [`Error::InvalidRequest`].
    pub fn check(&self) -> Result<()> {
        if let Some(size) = self.size() {
            if size > MAX_UPLOAD_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "the file `{}` is {size} bytes, more than the upload limit of {MAX_UPLOAD_BYTES} bytes (200 MiB)",
                    self.file_name
                )));
            }
        }
        if self.file_name.is_empty() {
            return Err(Error::InvalidRequest(
                "the upload's file name must not be empty".into(),
            ));
        }
        let mime = self.resolved_mime_type();
        if mime.is_empty() || mime.chars().any(|c| c.is_control()) {
            return Err(Error::InvalidRequest(format!(
                "invalid MIME type {mime:?} for the upload"
            )));
        }
        if let Some(b) = &self.boundary {
            if !valid_boundary(b) {
                return Err(Error::InvalidRequest(format!(
                    "invalid multipart boundary {b:?}: use 1 to 70 letters, digits or '()+_,-./:=?"
                )));
            }
        }
        Ok(())
    }

    /// Encodes the upload with the file under the form field `file_field`
    /// (the API uses `file`).
    ///
    /// Runs [`check`](Self::check) first; a file given by path is opened
    /// here, so an unreadable file fails now with [`Error::InvalidRequest`].
    pub fn into_body(self, file_field: &str) -> Result<MultipartBody> {
        self.check()?;
        let mut text = Vec::new();
        if let Some(title) = &self.title {
            text.push(("title".to_owned(), title.clone()));
        }
        if let Some(meta) = &self.metadata {
            let json = serde_json::to_string(meta).map_err(|e| {
                Error::InvalidRequest(format!("cannot serialize the upload metadata: {e}"))
            })?;
            text.push(("metadata".to_owned(), json));
        }
        text.extend(self.fields.iter().cloned());

        let mime = self.resolved_mime_type();
        let clashes = |b: &str| {
            text.iter().any(|(n, v)| n.contains(b) || v.contains(b))
                || self.file_name.contains(b)
                || file_field.contains(b)
        };
        let boundary = match &self.boundary {
            Some(b) if clashes(b) => {
                return Err(Error::InvalidRequest(format!(
                    "the multipart boundary {b:?} occurs in the form fields"
                )));
            }
            Some(b) => b.clone(),
            None => {
                let mut b = random_boundary();
                while clashes(&b) {
                    b = random_boundary();
                }
                b
            }
        };

        let mut head = Vec::new();
        for (name, value) in &text {
            head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            head.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    escape_quoted(name)
                )
                .as_bytes(),
            );
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"",
            escape_quoted(file_field),
            escape_quoted(&self.file_name)
        );
        if !self.file_name.is_ascii() {
            disposition.push_str("; filename*=UTF-8''");
            disposition.extend(utf8_percent_encode(&self.file_name, ATTR_CHAR));
        }
        head.extend_from_slice(disposition.as_bytes());
        head.extend_from_slice(format!("\r\nContent-Type: {mime}\r\n\r\n").as_bytes());
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();

        let size = self.size();
        let payload = match self.source {
            Source::Path { path, size } => {
                let file = File::open(&path).map_err(|e| {
                    Error::InvalidRequest(format!("cannot upload {}: {e}", path.display()))
                })?;
                Payload::Path {
                    path,
                    size,
                    file: Some(file),
                }
            }
            Source::Bytes(data) => Payload::Bytes { data, pos: 0 },
            Source::Reader { reader, .. } => Payload::Reader(reader),
        };
        let layout = Arc::new(Layout {
            head,
            tail,
            content_type: format!("multipart/form-data; boundary={boundary}"),
            boundary,
            file_name: self.file_name,
            progress: self.progress,
        });
        Ok(MultipartBody::start(layout, payload, size))
    }
}

fn valid_boundary(b: &str) -> bool {
    (1..=70).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c))
}

fn random_boundary() -> String {
    let mut b = String::from("seclai-");
    b.extend(std::iter::repeat_with(fastrand::alphanumeric).take(32));
    b
}

/// Makes `s` safe inside a quoted Content-Disposition parameter, the way
/// browsers do: `"` becomes `%22`, CR `%0D`, LF `%0A`.
fn escape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// MultipartBody
// ---------------------------------------------------------------------------

/// Everything about a body that does not change between replays.
struct Layout {
    head: Vec<u8>,
    tail: Vec<u8>,
    content_type: String,
    boundary: String,
    file_name: String,
    progress: Option<ProgressCallback>,
}

enum Payload {
    Path {
        path: PathBuf,
        size: u64,
        /// Opened by `into_body`; a reopened body opens it on first read.
        file: Option<File>,
    },
    Bytes {
        data: Arc<Vec<u8>>,
        pos: usize,
    },
    Reader(Mutex<Box<dyn Read + Send>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head(usize),
    File,
    Tail(usize),
    Done,
}

/// An encoded `multipart/form-data` request body, produced on demand
/// through [`std::io::Read`].
///
/// Send it with the [`content_type`](Self::content_type) header and, when
/// known, [`content_length`](Self::content_length). It is `Send + Sync`.
pub struct MultipartBody {
    layout: Arc<Layout>,
    payload: Payload,
    phase: Phase,
    size: Option<u64>,
    sent: u64,
    progress: Progress,
}

impl fmt::Debug for MultipartBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultipartBody")
            .field("content_type", &self.layout.content_type)
            .field("content_length", &self.content_length())
            .field("file_name", &self.layout.file_name)
            .field("file_bytes_sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl MultipartBody {
    fn start(layout: Arc<Layout>, payload: Payload, size: Option<u64>) -> MultipartBody {
        let progress = Progress::from_callback(layout.progress.clone(), size);
        MultipartBody {
            layout,
            payload,
            phase: Phase::Head(0),
            size,
            sent: 0,
            progress,
        }
    }

    /// The `Content-Type` header value, with the boundary.
    pub fn content_type(&self) -> &str {
        &self.layout.content_type
    }

    /// The boundary between parts.
    pub fn boundary(&self) -> &str {
        &self.layout.boundary
    }

    /// The exact body length, when the file size is known.
    pub fn content_length(&self) -> Option<u64> {
        (self.layout.head.len() as u64)
            .checked_add(self.size?)?
            .checked_add(self.layout.tail.len() as u64)
    }

    /// File bytes produced so far.
    pub fn file_bytes_sent(&self) -> u64 {
        self.sent
    }

    /// Whether [`reopen`](Self::reopen) can produce the body again.
    pub fn is_replayable(&self) -> bool {
        !matches!(self.payload, Payload::Reader(_))
    }

    /// A fresh copy of this body, from the start, for a retry: a path is
    /// reopened (on the first read, so an error then comes from `read`),
    /// bytes are shared. `None` for a body read from a one-shot reader.
    pub fn reopen(&self) -> Option<MultipartBody> {
        let payload = match &self.payload {
            Payload::Path { path, size, .. } => Payload::Path {
                path: path.clone(),
                size: *size,
                file: None,
            },
            Payload::Bytes { data, .. } => Payload::Bytes {
                data: data.clone(),
                pos: 0,
            },
            Payload::Reader(_) => return None,
        };
        Some(MultipartBody::start(
            self.layout.clone(),
            payload,
            self.size,
        ))
    }

    fn fail(&self, kind: io::ErrorKind, message: String, source: Option<io::Error>) -> io::Error {
        failure(&self.layout, kind, message, source)
    }

    /// Reads the next piece of the file into `buf` (never more than the
    /// declared size, never far past the limit).
    fn read_file(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let cap = match self.size {
            Some(size) => size.saturating_sub(self.sent),
            // One byte past the limit, to notice crossing it.
            None => (MAX_UPLOAD_BYTES + 1).saturating_sub(self.sent),
        };
        let want = buf.len().min(usize::try_from(cap).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let buf = &mut buf[..want];
        let result = match &mut self.payload {
            Payload::Bytes { data, pos } => {
                let rest = data.get(*pos..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
            Payload::Path { path, file, .. } => {
                if file.is_none() {
                    match File::open(&*path) {
                        Ok(f) => *file = Some(f),
                        Err(e) => {
                            let msg = format!("cannot open {}: {e}", path.display());
                            return Err(failure(&self.layout, e.kind(), msg, Some(e)));
                        }
                    }
                }
                match file {
                    Some(f) => f.read(buf),
                    None => Ok(0),
                }
            }
            Payload::Reader(reader) => reader
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .read(buf),
        };
        match result {
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                Err(e)
            }
            Err(e) => {
                let msg = format!("reading the file failed: {e}");
                Err(self.fail(e.kind(), msg, Some(e)))
            }
        }
    }

    /// Checks, once the file part has ended, that it had the promised size.
    fn finish_file(&mut self) -> io::Result<()> {
        match self.size {
            Some(size) if self.sent < size => Err(self.fail(
                io::ErrorKind::UnexpectedEof,
                format!("the file ended after {} of its {size} bytes", self.sent),
                None,
            )),
            Some(size) => {
                // A file on disk that grew would be cut silently; refuse.
                if let Payload::Path {
                    file: Some(file), ..
                } = &mut self.payload
                {
                    let mut probe = [0u8; 1];
                    let grew = loop {
                        match file.read(&mut probe) {
                            Ok(n) => break n > 0,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(_) => break false,
                        }
                    };
                    if grew {
                        return Err(failure(
                            &self.layout,
                            io::ErrorKind::InvalidData,
                            format!("the file grew past {size} bytes while being uploaded"),
                            None,
                        ));
                    }
                }
                Ok(())
            }
            None if self.sent > MAX_UPLOAD_BYTES => Err(self.too_large()),
            None => Ok(()),
        }
    }

    fn too_large(&self) -> io::Error {
        self.fail(
            io::ErrorKind::InvalidInput,
            format!(
                "the file is larger than the upload limit of {MAX_UPLOAD_BYTES} bytes (200 MiB)"
            ),
            None,
        )
    }
}

impl Read for MultipartBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.phase {
                Phase::Head(pos) => {
                    let rest = self.layout.head.get(pos..).unwrap_or_default();
                    if rest.is_empty() {
                        self.phase = Phase::File;
                        continue;
                    }
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    self.phase = Phase::Head(pos + n);
                    return Ok(n);
                }
                Phase::File => {
                    let n = self.read_file(buf)?;
                    if n == 0 {
                        self.finish_file()?;
                        self.phase = Phase::Tail(0);
                        continue;
                    }
                    self.sent = self.sent.saturating_add(n as u64);
                    if self.size.is_none() && self.sent > MAX_UPLOAD_BYTES {
                        return Err(self.too_large());
                    }
                    self.progress.advance(n as u64);
                    return Ok(n);
                }
                Phase::Tail(pos) => {
                    let rest = self.layout.tail.get(pos..).unwrap_or_default();
                    if rest.is_empty() {
                        self.phase = Phase::Done;
                        continue;
                    }
                    let n = rest.len().min(buf.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    self.phase = Phase::Tail(pos + n);
                    return Ok(n);
                }
                Phase::Done => return Ok(0),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Errors while streaming
// ---------------------------------------------------------------------------

fn failure(
    layout: &Layout,
    kind: io::ErrorKind,
    message: String,
    source: Option<io::Error>,
) -> io::Error {
    io::Error::new(
        kind,
        UploadError {
            message: format!("uploading `{}`: {message}", layout.file_name),
            source,
        },
    )
}

/// The bodies of one upload call, one per attempt: the first body, then
/// fresh copies for retries when the upload is replayable (a path or
/// bytes), none for a one-shot reader.
#[derive(Debug)]
pub struct BodySource {
    pending: Option<MultipartBody>,
    template: Option<MultipartBody>,
}

impl BodySource {
    /// Check `upload` (size limit, file present) and encode it with its
    /// file as the `file` part.
    pub fn new(upload: Upload) -> Result<BodySource> {
        let first = upload.into_body("file")?;
        Ok(BodySource {
            template: first.reopen(),
            pending: Some(first),
        })
    }

    /// The body for the next attempt, or `None` when it cannot be sent again.
    pub fn next_body(&mut self) -> Option<MultipartBody> {
        self.pending
            .take()
            .or_else(|| self.template.as_ref().and_then(MultipartBody::reopen))
    }
}

/// Why a [`MultipartBody`] stopped producing bytes: carried inside the
/// [`io::Error`] its `read` returns, so it survives the HTTP client's error
/// wrapping. Find it with [`upload_error`].
#[derive(Debug)]
pub struct UploadError {
    message: String,
    source: Option<io::Error>,
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UploadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Looks through `err` and its sources for an [`UploadError`] and turns it
/// into [`Error::InvalidRequest`]. Transports call this on a failed send to
/// tell a local read failure from a network one.
pub fn upload_error(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut current = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        if let Some(u) = e.downcast_ref::<UploadError>() {
            return Some(Error::InvalidRequest(u.message.clone()));
        }
        if let Some(u) = e
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<UploadError>())
        {
            return Some(Error::InvalidRequest(u.message.clone()));
        }
        depth += 1;
        if depth > 64 {
            break;
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_sources_replay_only_replayable_uploads() {
        let mut bytes = BodySource::new(Upload::bytes("a.txt", b"hi".to_vec())).unwrap();
        assert!(bytes.next_body().is_some());
        assert!(bytes.next_body().is_some(), "bytes can be sent again");
        let mut once = BodySource::new(Upload::reader("r.bin", std::io::empty(), None)).unwrap();
        assert!(once.next_body().is_some());
        assert!(once.next_body().is_none(), "a one-shot reader cannot");
    }
    use serde_json::json;
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn encode(body: &mut MultipartBody) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        body.read_to_end(&mut out)?;
        Ok(out)
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn exact_bytes_of_a_small_body() {
        let mut body = Upload::bytes("a.txt", "hello")
            .title("T")
            .metadata(json!({"k": 1}))
            .field("source", "sdk")
            .with_boundary("XyZ")
            .into_body("file")
            .unwrap();
        assert_eq!(body.content_type(), "multipart/form-data; boundary=XyZ");
        let out = encode(&mut body).unwrap();
        let expected = "--XyZ\r\n\
            Content-Disposition: form-data; name=\"title\"\r\n\r\nT\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"k\":1}\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"source\"\r\n\r\nsdk\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
            Content-Type: text/plain\r\n\r\n\
            hello\r\n\
            --XyZ--\r\n";
        assert_eq!(text(&out), expected);
        assert_eq!(body.content_length(), Some(out.len() as u64));
        // Reading past the end stays at the end.
        assert_eq!(body.read(&mut [0u8; 8]).unwrap(), 0);
    }

    #[test]
    fn escapes_names_and_encodes_non_ascii_file_names() {
        let mut body = Upload::bytes("ré\"sumé\r\n.pdf", vec![1u8, 2])
            .field("we\"ird\nname", "v")
            .with_boundary("b")
            .into_body("file")
            .unwrap();
        let out = text(&encode(&mut body).unwrap());
        assert!(out.contains("name=\"we%22ird%0Aname\""), "{out}");
        assert!(
            out.contains(
                "name=\"file\"; filename=\"ré%22sumé%0D%0A.pdf\"; filename*=UTF-8''r%C3%A9%22sum%C3%A9%0D%0A.pdf\r\n"
            ),
            "{out}"
        );
        assert!(out.contains("Content-Type: application/pdf\r\n"), "{out}");
        assert_eq!(out.matches("\r\n").count(), 10, "{out}");
    }

    #[test]
    fn mime_types() {
        assert_eq!(
            Upload::bytes("x.json", "").resolved_mime_type(),
            "application/json"
        );
        assert_eq!(
            Upload::bytes("x.unknownext", "").resolved_mime_type(),
            DEFAULT_MIME
        );
        assert_eq!(
            Upload::bytes("noext", "").resolved_mime_type(),
            DEFAULT_MIME
        );
        assert_eq!(
            Upload::bytes("x.txt", "")
                .mime_type("text/markdown")
                .resolved_mime_type(),
            "text/markdown"
        );
        // Renaming re-guesses.
        assert_eq!(
            Upload::bytes("x.txt", "")
                .file_name("y.png")
                .resolved_mime_type(),
            "image/png"
        );
        let e = Upload::bytes("x", "")
            .mime_type("text/plain\r\nX-Evil: 1")
            .check();
        assert!(matches!(e, Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn random_boundaries_and_bad_boundaries() {
        let a = Upload::bytes("a", "x").into_body("file").unwrap();
        let b = Upload::bytes("a", "x").into_body("file").unwrap();
        assert_ne!(a.boundary(), b.boundary());
        assert!(valid_boundary(a.boundary()));
        for bad in ["", "has space", "ü", &"x".repeat(71)] {
            let e = Upload::bytes("a", "x").with_boundary(bad).into_body("file");
            assert!(matches!(e, Err(Error::InvalidRequest(_))), "{bad:?}");
        }
        let e = Upload::bytes("a", "x")
            .field("f", "contains BND inside")
            .with_boundary("BND")
            .into_body("file");
        assert!(matches!(e, Err(Error::InvalidRequest(_))));
        assert!(matches!(
            Upload::bytes("", "x").into_body("file"),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn path_uploads_and_path_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.csv");
        fs::write(&file, "a,b\n1,2\n").unwrap();
        let up = Upload::path(&file).unwrap();
        assert_eq!(up.size(), Some(8));
        assert!(up.is_replayable());
        assert_eq!(up.resolved_mime_type(), "text/csv");
        let mut body = up.with_boundary("q").into_body("file").unwrap();
        let out = encode(&mut body).unwrap();
        assert!(text(&out).contains(
            "filename=\"data.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n\r\n--q--\r\n"
        ));
        assert_eq!(body.content_length(), Some(out.len() as u64));

        let e = Upload::path(dir.path()).unwrap_err();
        let Error::InvalidRequest(msg) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("directory"), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");

        let missing = dir.path().join("nope.txt");
        let e = Upload::path(&missing).unwrap_err();
        let Error::InvalidRequest(msg) = e else {
            panic!("{e:?}")
        };
        assert!(msg.contains("nope.txt"), "{msg}");
    }

    #[test]
    fn reopen_replays_paths_and_bytes_but_not_readers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.bin");
        fs::write(&file, [9u8; 1000]).unwrap();
        let mut first = Upload::path(&file).unwrap().into_body("file").unwrap();
        let a = encode(&mut first).unwrap();
        let mut again = first.reopen().unwrap();
        assert_eq!(encode(&mut again).unwrap(), a);

        let mut body = Upload::bytes("b", "xyz").into_body("file").unwrap();
        let mut half = [0u8; 10];
        body.read_exact(&mut half).unwrap();
        let mut fresh = body.reopen().unwrap();
        assert_eq!(&encode(&mut fresh).unwrap()[..10], &half);

        let up = Upload::reader("r", io::Cursor::new(vec![1u8]), Some(1));
        assert!(!up.is_replayable());
        let body = up.into_body("file").unwrap();
        assert!(!body.is_replayable());
        assert!(body.reopen().is_none());

        // A file deleted before the replay fails on read, not on reopen.
        fs::remove_file(&file).unwrap();
        let mut gone = first.reopen().unwrap();
        let e = encode(&mut gone).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(upload_error(&e).is_some());
    }

    #[test]
    fn oversize_is_rejected_before_sending() {
        let up = Upload::reader("big.bin", io::empty(), Some(209_715_201));
        let e = up.check().unwrap_err();
        let Error::InvalidRequest(msg) = &e else {
            panic!("{e:?}")
        };
        assert!(
            msg.contains("209715201") && msg.contains("209715200"),
            "{msg}"
        );
        assert!(matches!(
            up.into_body("file"),
            Err(Error::InvalidRequest(_))
        ));
        // Exactly the limit is fine.
        assert!(
            Upload::reader("ok", io::empty(), Some(MAX_UPLOAD_BYTES))
                .check()
                .is_ok()
        );
    }

    #[test]
    fn oversize_unsized_reader_fails_while_streaming() {
        let reader = io::repeat(0).take(MAX_UPLOAD_BYTES + 10);
        let mut body = Upload::reader("big", reader, None)
            .into_body("file")
            .unwrap();
        assert_eq!(body.content_length(), None);
        let mut buf = vec![0u8; 1 << 20];
        let e = loop {
            match body.read(&mut buf) {
                Ok(0) => panic!("streamed past the limit"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(body.file_bytes_sent() <= MAX_UPLOAD_BYTES + 1);
        let Some(Error::InvalidRequest(msg)) = upload_error(&e) else {
            panic!("{e:?}")
        };
        assert!(msg.contains("limit"), "{msg}");
    }

    struct Failing {
        left: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "boom"));
            }
            let n = self.left.min(buf.len());
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn failing_reader_propagates() {
        let mut body = Upload::reader("f", Failing { left: 10 }, None)
            .into_body("file")
            .unwrap();
        let e = encode(&mut body).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert!(e.to_string().contains("boom"), "{e}");
        // Found directly and through a wrapping error's source chain.
        assert!(matches!(upload_error(&e), Some(Error::InvalidRequest(_))));
        #[derive(Debug)]
        struct Wrapper(io::Error);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("send failed")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert!(upload_error(&Wrapper(e)).is_some());
        let plain = io::Error::new(io::ErrorKind::ConnectionReset, "network");
        assert!(upload_error(&plain).is_none());
    }

    #[test]
    fn short_and_long_readers_with_declared_size() {
        let mut body = Upload::reader("s", io::Cursor::new(vec![1u8; 5]), Some(8))
            .into_body("file")
            .unwrap();
        let e = encode(&mut body).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(upload_error(&e).is_some());

        // Only the declared bytes are read from a longer reader.
        let mut body = Upload::reader("l", io::Cursor::new(vec![1u8; 50]), Some(3))
            .with_boundary("z")
            .into_body("file")
            .unwrap();
        let out = encode(&mut body).unwrap();
        assert!(out.ends_with(b"\x01\x01\x01\r\n--z--\r\n"));
        assert_eq!(body.content_length(), Some(out.len() as u64));
    }

    #[test]
    fn file_that_grows_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.log");
        fs::write(&path, b"1234").unwrap();
        let mut body = Upload::path(&path).unwrap().into_body("file").unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"5678")
            .unwrap();
        let e = encode(&mut body).unwrap_err();
        assert!(e.to_string().contains("grew"), "{e}");
    }

    #[test]
    fn progress_totals() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let c = calls.clone();
        let mut body = Upload::bytes("p", vec![0u8; 10_000])
            .progress(move |sent, total| c.lock().unwrap().push((sent, total)))
            .into_body("file")
            .unwrap();
        let mut buf = [0u8; 4096];
        while body.read(&mut buf).unwrap() > 0 {}
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.last(), Some(&(10_000, Some(10_000))));
        assert!(calls.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(calls.len() >= 3);

        let n = Arc::new(AtomicU64::new(0));
        let n2 = n.clone();
        let mut body = Upload::reader("r", io::Cursor::new(vec![0u8; 300]), None)
            .progress(move |sent, total| {
                assert_eq!(total, None);
                n2.store(sent, Ordering::SeqCst);
            })
            .into_body("file")
            .unwrap();
        encode(&mut body).unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 300);
    }

    #[test]
    fn large_file_streams_in_small_chunks() {
        const SIZE: u64 = 50 * 1024 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let f = File::create(&path).unwrap();
        f.set_len(SIZE).unwrap();
        drop(f);
        let last = Arc::new(AtomicU64::new(0));
        let l = last.clone();
        let mut body = Upload::path(&path)
            .unwrap()
            .progress(move |sent, _| l.store(sent, Ordering::SeqCst))
            .with_boundary("BOUNDARY42")
            .into_body("file")
            .unwrap();
        let expected = body.content_length().unwrap();
        assert!(expected > SIZE);
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0u64;
        let mut largest = 0usize;
        let mut tail = Vec::new();
        loop {
            let n = body.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            largest = largest.max(n);
            total += n as u64;
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 64 {
                tail.drain(..tail.len() - 64);
            }
        }
        assert_eq!(total, expected);
        assert!(largest <= buf.len());
        assert!(tail.ends_with(b"\x00\r\n--BOUNDARY42--\r\n"));
        assert_eq!(last.load(Ordering::SeqCst), SIZE);
    }

    #[test]
    fn body_and_upload_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Upload>();
        assert_send_sync::<MultipartBody>();
        let dbg = format!("{:?}", Upload::bytes("d", "x").title("t"));
        assert!(dbg.contains("d"), "{dbg}");
    }

    proptest::proptest! {
        #[test]
        fn content_length_matches_output(
            name in "\\PC{0,20}",
            value in "\\PC{0,40}",
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            chunk in 1usize..64,
        ) {
            let upload = Upload::bytes(format!("f{name}"), data.clone()).field(name.clone(), value);
            let mut body = upload.into_body("file").unwrap();
            let mut out = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = body.read(&mut buf).unwrap();
                if n == 0 { break; }
                out.extend_from_slice(&buf[..n]);
            }
            proptest::prop_assert_eq!(body.content_length(), Some(out.len() as u64));
            let needle = [&data[..], b"\r\n--", body.boundary().as_bytes(), b"--\r\n"].concat();
            proptest::prop_assert!(out.ends_with(&needle));
        }
    }
}
