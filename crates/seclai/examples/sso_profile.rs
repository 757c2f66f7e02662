//! Authenticate with an SSO profile from `seclai auth login` instead of an API key.
//!
//! An illustration for your own machine: `cargo run --example sso_profile`
//! builds a client from the `dev` profile and prints which credential was
//! chosen; it sends nothing unless you add `-- --call` (one read-only call).
//!
//! Credentials are looked up in this order, first match wins:
//! 1. `.api_key(..)`, `.access_token(..)` or a token provider on the builder;
//! 2. `SECLAI_API_KEY`;
//! 3. the SSO profile: `.profile(..)`, else `SECLAI_PROFILE`, else `default`,
//!    read from `.config_dir(..)`, else `SECLAI_CONFIG_DIR`, else `~/.seclai`.
//!
//! Without touching code, the same choice can be made from the environment:
//! `SECLAI_PROFILE=dev cargo run --example ...` with `Client::from_env()`.
//! Expired tokens are refreshed and the cache rewritten when needed;
//! `.sso_read_only(true)` turns that off. `.ignore_env()` also skips
//! `~/.seclai`, which is why the other examples use it.

use std::process::ExitCode;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    let built = seclai::Client::builder()
        .profile("dev") // the `[profile dev]` section of ~/.seclai/config
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build();
    let client = match built {
        Ok(client) => client,
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "Log in first with `seclai auth login --profile dev`, or set SECLAI_API_KEY."
            );
            return ExitCode::FAILURE;
        }
    };
    // Debug output never contains secrets: e.g. `Sso(profile "dev")` or `ApiKey(***)`.
    println!("credential: {:?}", client.config().credentials());
    println!("base URL:   {}", client.config().base_url());

    if std::env::args().any(|a| a == "--call") {
        match client.get_api_version().await {
            Ok(v) => println!("authenticated; API version {}", v.effective_version),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
