//! Download a source export to a file, with progress, written atomically.
//!
//! Runs offline against the in-process demo server: `cargo run --example download_export`.
//! The body is streamed to a temporary file next to the target and renamed
//! only when complete, so a failed download never leaves a partial file.

use seclai_testkit::demo::{DEMO_API_KEY, DemoSeclai};
use std::sync::atomic::{AtomicU64, Ordering};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let demo = DemoSeclai::start();
    let client = seclai::Client::builder()
        .ignore_env()
        .api_key(DEMO_API_KEY)
        .base_url(demo.url())
        .build()?;
    let out_dir = tempfile::tempdir()?; // use your own directory

    // Headers first: name, type and size are known before the body is read.
    let download = client
        .download_source_export("source-1", "export-42")
        .await?;
    let name = download.file_name().unwrap_or_else(|| "export.bin".into());
    println!(
        "{name}: {:?}, {:?} bytes",
        download.content_type(),
        download.content_length()
    );

    let shown = AtomicU64::new(0); // print every 25%, not every chunk
    let path = download
        .progress(move |done, total| {
            let pct = done * 100 / total.unwrap_or(u64::MAX).max(1);
            if pct >= shown.load(Ordering::Relaxed) + 25 || pct == 100 {
                shown.store(pct, Ordering::Relaxed);
                println!("  {pct:>3}%");
            }
        })
        .write_to(out_dir.path().join(&name))
        .await?;
    println!(
        "saved {} ({} bytes)",
        path.display(),
        std::fs::metadata(&path)?.len()
    );

    // Small files can be read into memory instead.
    let bytes = client
        .download_source_export("source-1", "export-43")
        .await?
        .bytes()
        .await?;
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    println!(
        "in memory: {} bytes; first line {}",
        bytes.len(),
        String::from_utf8_lossy(first_line)
    );

    // Or chunk by chunk, e.g. to hash or forward the body.
    let mut download = client
        .download_source_export("source-1", "export-44")
        .await?;
    let mut chunks = 0;
    while let Some(chunk) = download.chunk().await? {
        chunks += usize::from(!chunk.is_empty());
    }
    println!("streamed in {chunks} chunks");
    Ok(())
}
