//! Uploads and downloads.

use super::{client, client_with};
use crate::harness::Harness;
use seclai_core::call::{Call, Download, Multipart};
use seclai_core::multipart::Upload;
use seclai_core::{Error, StreamError, TransportKind};
use seclai_gen::ops;
use seclai_testkit::raw::{RawServer, Script};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn upload_response() -> Script {
    Script::json(
        200,
        r#"{"filename":"r.txt","status":"processing","source_connection_content_version":"v1","content_version_id":"v1"}"#,
    )
}

/// `client.upload_file_to_source(source, upload)`.
fn upload_to_source<H: Harness>(
    c: &H,
    source: &str,
    upload: Upload,
) -> Call<H, ops::UploadFileToSource, Multipart> {
    Call::new(c.clone(), ops::UploadFileToSource::new(source)).with_upload(upload)
}

/// `client.download_source_export(source, export)`.
fn source_export<H: Harness>(
    c: &H,
    source: &str,
    export: &str,
) -> Call<H, ops::DownloadSourceExport, Download> {
    Call::new(c.clone(), ops::DownloadSourceExport::new(source, export)).into_download()
}

pub fn uploads_stream_a_file_with_fields_and_progress<H: Harness>() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.txt");
    std::fs::write(&path, b"hello upload").unwrap();
    let server = RawServer::start(vec![upload_response()]);
    let seen = Arc::new(std::sync::Mutex::new((0u64, None)));
    let s2 = seen.clone();
    let up = Upload::path(&path)
        .unwrap()
        .title("Q3")
        .metadata(serde_json::json!({"k": "v"}))
        .progress(move |sent, total| *s2.lock().unwrap() = (sent, total));
    let r = H::block(upload_to_source(&client::<H>(&server), "src-1", up).send()).unwrap();
    assert_eq!(
        (r.filename.as_str(), r.status.as_str()),
        ("r.txt", "processing")
    );
    let req = &server.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path_and_query, "/sources/src-1/upload");
    assert!(
        req.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(
        req.header("content-length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(req.body.len())
    );
    let body = String::from_utf8_lossy(&req.body);
    assert!(body.contains("filename=\"report.txt\""), "{body}");
    assert!(body.contains("hello upload"));
    assert!(body.contains("name=\"title\"") && body.contains("Q3"));
    assert!(body.contains(r#"{"k":"v"}"#));
    assert_eq!(*seen.lock().unwrap(), (12, Some(12)));
}

pub fn a_path_upload_is_sent_again_after_a_429_and_a_one_shot_reader_is_not<H: Harness>() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.md");
    std::fs::write(&path, b"# twice").unwrap();
    let turned_away = Script::response(429, &[("retry-after", "0")], "");
    let server = RawServer::start(vec![turned_away.clone(), upload_response()]);
    let up = Upload::path(&path).unwrap();
    H::block(upload_to_source(&client::<H>(&server), "s", up).send()).unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].body, reqs[1].body,
        "the same complete body both times"
    );
    assert!(String::from_utf8_lossy(&reqs[1].body).contains("# twice"));

    let server = RawServer::start(vec![turned_away, upload_response()]);
    let up = Upload::reader("r.md", std::io::Cursor::new(b"# once".to_vec()), None);
    let e = H::block(upload_to_source(&client::<H>(&server), "s", up).send()).unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::TOO_MANY_REQUESTS), "{e}");
    assert_eq!(server.hits(), 1, "a reader cannot be replayed");
}

pub fn an_upload_whose_answer_stalls_ends_on_the_read_timeout<H: Harness>() {
    let head = seclai_testkit::raw::head(
        200,
        &[
            ("content-type", "application/json"),
            ("content-length", "100"),
        ],
    );
    let server = RawServer::start(vec![Script::silent_after(head)]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.read_timeout = Some(Duration::from_millis(300));
    });
    let started = Instant::now();
    let up = Upload::bytes("a.txt", b"abc".to_vec());
    let e = H::block(upload_to_source(&c, "s", up).send()).unwrap_err();
    assert!(
        matches!(e, Error::Transport(ref t) if t.kind == TransportKind::Timeout),
        "{e:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.hits(),
        1,
        "an upload is a POST: not resent after a timeout"
    );
}

pub fn bad_uploads_fail_before_sending<H: Harness>() {
    let server = RawServer::start(vec![upload_response()]);
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Upload::path(dir.path().join("missing.pdf")),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        Upload::path(dir.path()),
        Err(Error::InvalidRequest(_))
    ));
    let big = Upload::reader("big.bin", std::io::repeat(0), Some(209_715_201));
    let call = Call::new(client::<H>(&server), ops::UploadAgentInput::new("a1")).with_upload(big);
    let e = H::block(call.send()).unwrap_err();
    assert!(
        matches!(e, Error::InvalidRequest(ref m) if m.contains("209715200") || m.contains("209,715,200") || m.contains("200 MiB")),
        "{e}"
    );
    assert_eq!(server.hits(), 0);
}

pub fn a_reader_failing_halfway_is_an_error_and_not_retried<H: Harness>() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }
    let server = RawServer::start(vec![upload_response()]);
    let up = Upload::reader("x.bin", Failing(100_000), None);
    let call = Call::new(client::<H>(&server), ops::UploadFileToContent::new("v1")).with_upload(up);
    let e = H::block(call.send()).unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert!(server.requests().len() <= 1);
}

pub fn downloads_stream_to_a_file_atomically<H: Harness>() {
    let payload = vec![7u8; 300_000];
    let server = RawServer::start(vec![Script::response(
        200,
        &[
            ("content-type", "application/zip"),
            (
                "content-disposition",
                "attachment; filename=\"../export.zip\"",
            ),
        ],
        payload.clone(),
    )]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.zip");
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    let dl = H::block(source_export(&client::<H>(&server), "src", "exp").send()).unwrap();
    assert_eq!(H::head(&dl).file_name().as_deref(), Some("export.zip"));
    assert_eq!(H::head(&dl).content_type(), Some("application/zip"));
    let dl = H::progress(dl, move |n, _| s2.store(n as usize, Ordering::SeqCst));
    H::write_to(dl, &target).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), payload);
    assert_eq!(seen.load(Ordering::SeqCst), payload.len());
    assert_eq!(
        server.requests()[0].path_and_query,
        "/sources/src/exports/exp/download"
    );
}

pub fn a_cut_download_leaves_nothing_behind<H: Harness>() {
    let server = RawServer::start(vec![Script::partial_body(200, 100_000, vec![1u8; 1000])]);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.bin");
    let call = Call::new(
        client::<H>(&server),
        ops::DownloadAgentRunAttachment::new("r1", "att"),
    )
    .into_download();
    let dl = H::block(call.send()).unwrap();
    assert!(H::write_to(dl, &target).is_err());
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temp file left"
    );
    let server = RawServer::start(vec![Script::json(404, r#"{"detail":"no export"}"#)]);
    let e = H::block(source_export(&client::<H>(&server), "s", "e").send()).unwrap_err();
    assert!(e.is_not_found());
}

pub fn a_slow_download_outlives_the_overall_timeout_and_a_silent_one_times_out<H: Harness>() {
    // Steady progress for ~3x the overall timeout: not cut.
    let chunks: Vec<_> = (0..6)
        .map(|_| (vec![5u8; 1000], Duration::from_millis(100)))
        .collect();
    let server = RawServer::start(vec![Script::chunked(
        200,
        &[("content-type", "application/octet-stream")],
        chunks,
    )]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.timeout = Some(Duration::from_millis(200));
        o.read_timeout = Some(Duration::from_secs(2));
    });
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("slow.bin");
    let dl = H::block(source_export(&c, "s", "e").send()).unwrap();
    H::write_to(dl, &target).unwrap();
    assert_eq!(std::fs::read(&target).unwrap().len(), 6000);

    // Headers and some bytes, then silence: the idle timeout ends it.
    let mut prefix = seclai_testkit::raw::head(200, &[("transfer-encoding", "chunked")]);
    prefix.extend(seclai_testkit::raw::chunk(&[1u8; 500]));
    let server = RawServer::start(vec![Script::silent_after(prefix)]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.read_timeout = Some(Duration::from_millis(300));
    });
    let target = dir.path().join("silent.bin");
    let started = Instant::now();
    let dl = H::block(source_export(&c, "s", "e").send()).unwrap();
    let e = H::write_to(dl, &target).unwrap_err();
    assert!(
        matches!(e, Error::Stream(StreamError::IdleTimeout { .. })),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only slow.bin; no temp file left"
    );
}
