//! Minimal std-only HTTP client helpers shared by this crate's unit tests.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Connects to `base_url` (`http://host:port`), sends `request` verbatim and
/// reads until the server closes the connection (or resets it).
pub(crate) fn request_raw(base_url: &str, request: &[u8]) -> Vec<u8> {
    let addr = base_url
        .strip_prefix("http://")
        .expect("test client only speaks plain http");
    let addr = addr.trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).expect("connect to test server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    stream.write_all(request).expect("send request");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading response failed: {e}"),
        }
    }
    received
}

/// Splits a raw response into its head (without the blank line) and body bytes.
pub(crate) fn split_response(response: &[u8]) -> (String, Vec<u8>) {
    match response.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(pos) => (
            String::from_utf8_lossy(&response[..pos + 2]).into_owned(),
            response[pos + 4..].to_vec(),
        ),
        None => (String::from_utf8_lossy(response).into_owned(), Vec::new()),
    }
}

/// Removes chunked transfer framing (no extensions, no trailers).
pub(crate) fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap(), 16)
            .expect("hex chunk size");
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n", "chunk must end with CRLF");
        body = &body[size + 2..];
    }
}
