//! Upload a file to a source with a title, metadata and a progress callback.
//!
//! Runs offline against the in-process demo server: `cargo run --example upload_file`.
//! Files are streamed from disk (constant memory); a known size over 200 MiB
//! is refused before anything is sent.

use seclai::Upload;
use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .build()?;

    // A file to send (use your own path).
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("handbook.md");
    std::fs::write(&path, "# Handbook\n\nBe kind.\n".repeat(10_000))?;

    let upload = Upload::path(&path)? // the file name and MIME type come from the path
        .title("Employee handbook")
        .metadata(serde_json::json!({"team": "people", "year": 2026}))
        .progress(|sent, total| match total {
            Some(total) => println!("  sent {sent} of {total} bytes"),
            None => println!("  sent {sent} bytes"),
        });
    let result = client.upload_file_to_source("source-1", upload).await?;
    println!(
        "{}: {} (content version {:?})",
        result.filename, result.status, result.content_version_id
    );

    // Bytes already in memory work too.
    let upload = Upload::bytes("hello.txt", b"hello, Seclai".to_vec()).mime_type("text/plain");
    let result = client.upload_file_to_source("source-1", upload).await?;
    println!("{}: {}", result.filename, result.status);
    Ok(())
}
