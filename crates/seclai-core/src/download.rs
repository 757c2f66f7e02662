//! Pieces for saving a streamed download to disk, without I/O on the network
//! side: picking a safe file name from the response headers, writing to a
//! temporary file that only replaces the target once the whole body has
//! arrived, and reporting progress.
//!
//! A transport's download loop is:
//!
//! ```no_run
//! # fn chunks() -> Vec<Vec<u8>> { Vec::new() }
//! use seclai_core::download::{AtomicFile, Progress, content_length};
//! use std::io::Write;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let headers = http::HeaderMap::new();
//! let mut file = AtomicFile::create("report.pdf".as_ref())?;
//! let mut progress = Progress::new(
//!     |done, total| eprintln!("{done}/{total:?}"),
//!     content_length(&headers),
//! );
//! for chunk in chunks() {
//!     file.write_all(&chunk)?;
//!     progress.advance(chunk.len() as u64);
//! }
//! let path = file.commit()?; // only now does `report.pdf` exist
//! # let _ = path;
//! # Ok(())
//! # }
//! ```
//!
//! If the loop stops early (an error, a dropped future), the [`AtomicFile`]
//! is dropped and its temporary file deleted, so nothing is left at the
//! target path.
//!
//! Errors: problems with the target path found before anything is written
//! ([`AtomicFile::create`]) are [`Error::InvalidRequest`]; failures while
//! finishing the file ([`AtomicFile::commit`]) are [`Error::Transport`] of
//! kind [`TransportKind::Io`]. Writes go through [`std::io::Write`] and
//! return plain [`std::io::Error`]s for the transport to convert.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::HeaderMap;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH};
use percent_encoding::percent_decode;

use crate::error::{Error, Result, TransportError, TransportKind};

/// Longest file name (in bytes) returned by [`file_name_from_headers`].
const MAX_NAME_BYTES: usize = 255;

/// Characters replaced by `_` in file names taken from a server: they are
/// path separators or reserved on common file systems.
const RESERVED: &[char] = &['<', '>', ':', '"', '|', '?', '*'];

/// Buffer size of [`AtomicFile`]'s writer.
const WRITE_BUFFER: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// File names
// ---------------------------------------------------------------------------

/// The file name a response suggests in its `Content-Disposition` header,
/// made safe to use as a single path component.
///
/// `filename*=UTF-8''…` (RFC 6266 / RFC 8187; `ISO-8859-1` is understood
/// too) is preferred over `filename="…"`. Directory parts are removed
/// (`../../etc/passwd` becomes `passwd`, `C:\x\y.txt` becomes `y.txt`),
/// control characters are dropped, characters reserved on common file
/// systems (`< > : " | ? *`) become `_`, and the result is cut to 255
/// bytes. `None` when there is no usable name (no header, no parameter, or
/// a name such as `..`).
pub fn file_name_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(CONTENT_DISPOSITION)
        .iter()
        .find_map(|v| file_name_from_disposition(&header_text(v.as_bytes())))
}

/// Like [`file_name_from_headers`] for the text of one `Content-Disposition`
/// value, e.g. `attachment; filename="a.pdf"`.
pub fn file_name_from_disposition(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for (name, value) in disposition_params(value) {
        if name.eq_ignore_ascii_case("filename*") {
            if extended.is_none() {
                extended = decode_ext_value(&value);
            }
        } else if name.eq_ignore_ascii_case("filename") && plain.is_none() {
            plain = Some(value);
        }
    }
    extended
        .and_then(|n| sanitize_file_name(&n))
        .or_else(|| plain.and_then(|n| sanitize_file_name(&n)))
}

/// Reduces `name` to a safe single path component (see
/// [`file_name_from_headers`] for the rules). `None` when nothing usable is
/// left.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if RESERVED.contains(&c) { '_' } else { c })
        .collect();
    let mut cleaned = cleaned.trim().to_owned();
    if cleaned.len() > MAX_NAME_BYTES {
        let mut cut = MAX_NAME_BYTES;
        while !cleaned.is_char_boundary(cut) {
            cut -= 1;
        }
        cleaned.truncate(cut);
    }
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        None
    } else {
        Some(cleaned)
    }
}

/// Where to save a download inside `dir`: the name from the response's
/// `Content-Disposition`, else `fallback` (sanitized the same way), else
/// `download`.
pub fn target_in_dir(dir: &Path, headers: &HeaderMap, fallback: &str) -> PathBuf {
    let name = file_name_from_headers(headers)
        .or_else(|| sanitize_file_name(fallback))
        .unwrap_or_else(|| "download".to_owned());
    dir.join(name)
}

/// The `Content-Length` of a response, if present and valid.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Header bytes as text: UTF-8 when valid, else each byte as the Latin-1
/// character of the same value (what HTTP/1.1 historically meant).
fn header_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The `name=value` parameters after the disposition type, with quoted
/// strings unquoted. Tolerates missing quotes, stray semicolons and
/// parameters without a value.
fn disposition_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    // Skip the disposition type (`attachment`, `inline`, ...).
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ';').is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && *c != ';') {
            name.push(c);
        }
        let name = name.trim().to_owned();
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    other => value.push(other),
                }
            }
            // Ignore anything between the closing quote and the next `;`.
            while chars.next_if(|c| *c != ';').is_some() {}
        } else {
            while let Some(c) = chars.next_if(|c| *c != ';') {
                value.push(c);
            }
            value = value.trim().to_owned();
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

/// Decodes an RFC 8187 `charset'language'percent-encoded` value.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?.trim();
    let _language = parts.next()?;
    let encoded = parts.next()?;
    let bytes: Vec<u8> = percent_decode(encoded.as_bytes()).collect();
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        Some(bytes.iter().map(|&b| char::from(b)).collect())
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// AtomicFile
// ---------------------------------------------------------------------------

/// A file that appears at its target path only when complete.
///
/// Bytes are written to a uniquely named temporary file next to the target
/// (same directory, so the final rename does not cross file systems).
/// [`commit`](Self::commit) flushes, syncs and renames it over the target;
/// dropping an `AtomicFile` without committing deletes the temporary file,
/// leaving any previous file at the target untouched.
pub struct AtomicFile {
    writer: Option<BufWriter<File>>,
    temp: PathBuf,
    target: PathBuf,
    written: u64,
    committed: bool,
}

impl fmt::Debug for AtomicFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicFile")
            .field("temp", &self.temp)
            .field("target", &self.target)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl AtomicFile {
    /// Creates the temporary file for `target` in the target's directory.
    ///
    /// Fails with [`Error::InvalidRequest`] when `target` has no file name,
    /// is an existing directory, or its directory does not exist or is not
    /// writable.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let Some(name) = target.file_name() else {
            return Err(Error::InvalidRequest(format!(
                "download target {} has no file name",
                target.display()
            )));
        };
        if target.is_dir() {
            return Err(Error::InvalidRequest(format!(
                "download target {} is a directory",
                target.display()
            )));
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut stem = name.to_string_lossy().into_owned();
        if stem.len() > 200 {
            let mut cut = 200;
            while !stem.is_char_boundary(cut) {
                cut -= 1;
            }
            stem.truncate(cut);
        }
        let mut last_err = None;
        for _ in 0..16 {
            let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
                .take(12)
                .collect();
            let temp = dir.join(format!(".{stem}.{suffix}.part"));
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        writer: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
                        temp,
                        target: target.to_path_buf(),
                        written: 0,
                        committed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(create_error(target, &e)),
            }
        }
        let e = last_err.unwrap_or_else(|| io::Error::other("no free temporary name"));
        Err(create_error(target, &e))
    }

    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file being written.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Flushes and syncs the data, then renames the temporary file over the
    /// target (replacing an existing file). Returns the target path.
    ///
    /// On failure the temporary file is deleted and the target is left as
    /// it was; the error is an [`Error::Transport`] of kind
    /// [`TransportKind::Io`].
    pub fn commit(mut self) -> Result<PathBuf> {
        let Some(writer) = self.writer.take() else {
            return Err(commit_error(
                &self.target,
                io::Error::other("file already closed"),
            ));
        };
        let file = writer
            .into_inner()
            .map_err(|e| commit_error(&self.target, e.into_error()))?;
        file.sync_all().map_err(|e| commit_error(&self.target, e))?;
        drop(file);
        fs::rename(&self.temp, &self.target).map_err(|e| commit_error(&self.target, e))?;
        self.committed = true;
        sync_parent(&self.target);
        Ok(self.target.clone())
    }

    /// Deletes the temporary file now (what dropping does).
    pub fn discard(self) {
        drop(self);
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("file already closed"))?;
        let n = writer.write(buf)?;
        self.written = self.written.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            // Close the handle first: some platforms refuse to delete open files.
            drop(self.writer.take());
            let _ = fs::remove_file(&self.temp);
        }
    }
}

fn create_error(target: &Path, e: &io::Error) -> Error {
    Error::InvalidRequest(format!(
        "cannot create a file next to {}: {e}",
        target.display()
    ))
}

fn commit_error(target: &Path, e: io::Error) -> Error {
    Error::Transport(
        TransportError::new(
            TransportKind::Io,
            format!("cannot finish writing {}: {e}", target.display()),
        )
        .with_source(e),
    )
}

/// Makes the rename durable where the platform allows syncing a directory.
#[cfg(unix)]
fn sync_parent(target: &Path) {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_parent(_: &Path) {}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

/// A progress callback: bytes done so far and the total, when known.
pub type ProgressCallback = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// Counts transferred bytes and reports them to a callback.
#[derive(Clone)]
pub struct Progress {
    callback: Option<ProgressCallback>,
    done: u64,
    total: Option<u64>,
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress")
            .field("done", &self.done)
            .field("total", &self.total)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl Progress {
    /// Reports to `callback`; `total` is the expected byte count, if known.
    pub fn new(
        callback: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
        total: Option<u64>,
    ) -> Self {
        Self::from_callback(Some(Arc::new(callback)), total)
    }

    /// Reports to a shared callback, or only counts when `None`.
    pub fn from_callback(callback: Option<ProgressCallback>, total: Option<u64>) -> Self {
        Progress {
            callback,
            done: 0,
            total,
        }
    }

    /// Counts `n` more bytes and, when `n > 0`, calls the callback with the
    /// new count and the total.
    pub fn advance(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.done = self.done.saturating_add(n);
        if let Some(cb) = &self.callback {
            cb(self.done, self.total);
        }
    }

    /// Bytes counted so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// The expected total, if known.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Sets the expected total (e.g. once the response headers arrive).
    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::sync::Mutex;

    fn headers(disposition: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_bytes(disposition).unwrap(),
        );
        h
    }

    #[test]
    fn plain_and_extended_names() {
        let h = headers(br#"attachment; filename="report 2024.pdf""#);
        assert_eq!(
            file_name_from_headers(&h).as_deref(),
            Some("report 2024.pdf")
        );

        let h = headers(b"attachment; filename=plain.txt");
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("plain.txt"));

        let h = headers(
            br#"attachment; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt"#,
        );
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("€ rates.txt"));

        // Extended form wins even when it comes first.
        let h = headers(b"attachment; filename*=utf-8'en'r%C3%A9sum%C3%A9.pdf; filename=x.pdf");
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("résumé.pdf"));

        let h = headers(b"attachment; filename*=ISO-8859-1''caf%E9.txt");
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("café.txt"));

        // Bad extended value: fall back to the plain one.
        let h = headers(b"attachment; filename*=UTF-8''%FF%FE; filename=\"ok.bin\"");
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("ok.bin"));

        let h = headers(br#"attachment; filename="a \"quoted\" name.txt""#);
        assert_eq!(
            file_name_from_headers(&h).as_deref(),
            Some("a _quoted_ name.txt")
        );

        // Raw UTF-8 in the header.
        let h = headers("attachment; filename=\"naïve.txt\"".as_bytes());
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("naïve.txt"));
    }

    #[test]
    fn missing_or_unusable_names() {
        assert_eq!(file_name_from_headers(&HeaderMap::new()), None);
        for v in [
            &b"inline"[..],
            b"attachment;",
            b"attachment; filename=",
            b"attachment; filename=\"..\"",
            b"attachment; filename=\"../\"",
            b"attachment; name=\"x\"",
            b"attachment; filename*=UTF-8''",
            b";;;=;=\"",
        ] {
            assert_eq!(file_name_from_headers(&headers(v)), None, "{v:?}");
        }
    }

    #[test]
    fn path_traversal_is_stripped() {
        let h = headers(br#"attachment; filename="../../etc/passwd""#);
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("passwd"));
        let h = headers(b"attachment; filename*=UTF-8''..%2F..%2Fetc%2Fshadow");
        assert_eq!(file_name_from_headers(&h).as_deref(), Some("shadow"));
        assert_eq!(
            sanitize_file_name(r"C:\Windows\evil.dll").as_deref(),
            Some("evil.dll")
        );
        assert_eq!(sanitize_file_name("a\u{0}b\nc").as_deref(), Some("abc"));
        assert_eq!(sanitize_file_name("x:y").as_deref(), Some("x_y"));
        let long = "é".repeat(300);
        let cut = sanitize_file_name(&long).unwrap();
        assert!(cut.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn target_and_length_helpers() {
        let dir = Path::new("/tmp/x");
        let h = headers(br#"attachment; filename="../r.csv""#);
        assert_eq!(target_in_dir(dir, &h, "f"), dir.join("r.csv"));
        assert_eq!(
            target_in_dir(dir, &HeaderMap::new(), "../f.bin"),
            dir.join("f.bin")
        );
        assert_eq!(
            target_in_dir(dir, &HeaderMap::new(), ".."),
            dir.join("download")
        );
        let mut h = HeaderMap::new();
        assert_eq!(content_length(&h), None);
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("1234"));
        assert_eq!(content_length(&h), Some(1234));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("-1"));
        assert_eq!(content_length(&h), None);
    }

    #[test]
    fn commit_renames_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        fs::write(&target, b"old").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        let temp = f.temp_path().to_path_buf();
        assert_eq!(temp.parent(), Some(dir.path()));
        f.write_all(b"new contents").unwrap();
        assert_eq!(f.bytes_written(), 12);
        // Not visible until committed.
        assert_eq!(fs::read(&target).unwrap(), b"old");
        let path = f.commit().unwrap();
        assert_eq!(path, target);
        assert_eq!(fs::read(&target).unwrap(), b"new contents");
        assert!(!temp.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn drop_removes_temp_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("cut.bin");
        let mut f = AtomicFile::create(&target).unwrap();
        let temp = f.temp_path().to_path_buf();
        f.write_all(&[7u8; 100_000]).unwrap();
        assert!(temp.exists());
        drop(f);
        assert!(!temp.exists());
        assert!(!target.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        // An existing file survives a cut download.
        fs::write(&target, b"keep").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"partial").unwrap();
        f.discard();
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temp_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("same");
        let a = AtomicFile::create(&target).unwrap();
        let b = AtomicFile::create(&target).unwrap();
        assert_ne!(a.temp_path(), b.temp_path());
    }

    #[test]
    fn bad_targets_are_invalid_requests() {
        let dir = tempfile::tempdir().unwrap();
        let e = AtomicFile::create(dir.path()).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
        let e = AtomicFile::create(&dir.path().join("missing/sub/file")).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
        let e = AtomicFile::create(Path::new("/")).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e:?}");
    }

    #[test]
    fn commit_failure_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"x").unwrap();
        let temp = f.temp_path().to_path_buf();
        // A directory appears at the target: the rename must fail.
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), b"y").unwrap();
        let e = f.commit().unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
        assert!(!temp.exists());
    }

    #[test]
    fn progress_reports() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let mut p = Progress::new(move |d, t| s.lock().unwrap().push((d, t)), Some(10));
        p.advance(4);
        p.advance(0);
        p.advance(6);
        assert_eq!(p.done(), 10);
        assert_eq!(*seen.lock().unwrap(), vec![(4, Some(10)), (10, Some(10))]);
        let mut quiet = Progress::from_callback(None, None);
        quiet.advance(u64::MAX);
        quiet.advance(5);
        assert_eq!(quiet.done(), u64::MAX);
        quiet.set_total(Some(1));
        assert_eq!(quiet.total(), Some(1));
    }
}
