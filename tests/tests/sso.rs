//! SSO profiles and token refresh, against both clients: the cached token
//! of `seclai auth login` is found, refreshed through each client's own HTTP
//! stack, and the shared cache is never corrupted.

use seclai_testkit::raw::{RawServer, RecordedRequest, Script};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CACHE_NAME: &str = "d140a3c5bc4e5a4c9013de0ce1a5e68b61e54a33.json";
const CLIENT_ID: &str = "4bgf8v9qmc5puivbaqon9n5lmr";
const OLD_ACCESS: &str = "old-access-token-1";
const REFRESH: &str = "refresh-token-1";
const NEW_ACCESS: &str = "new-access-token-2";

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS(.f)Z` (UTC only; enough
/// for what the SDK writes).
fn unix(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().expect("digits");
    assert!(s.ends_with('Z'), "{s}");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (y, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A config directory with a profile and a cached token.
struct Login {
    dir: tempfile::TempDir,
}

impl Login {
    /// `expires_at` is written verbatim.
    fn new(expires_at: &str) -> Login {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config"),
            "# seclai auth login\n[default]\nsso_account_id = acct-sso-7\n",
        )
        .unwrap();
        let login = Login { dir };
        std::fs::create_dir_all(login.cache().parent().unwrap()).unwrap();
        let cache = serde_json::json!({
            "accessToken": OLD_ACCESS,
            "refreshToken": REFRESH,
            "idToken": "id-token-1",
            "expiresAt": expires_at,
            "clientId": CLIENT_ID,
            "region": "us-west-2",
            "cognitoDomain": "auth.seclai.com",
            "writtenBy": "cli 1.2.3",
        });
        std::fs::write(login.cache(), serde_json::to_vec_pretty(&cache).unwrap()).unwrap();
        login
    }
    fn valid() -> Login {
        Login::new("2999-01-01T00:00:00.000000+00:00")
    }
    fn expired() -> Login {
        Login::new("2020-01-01T00:00:00Z")
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn cache(&self) -> PathBuf {
        self.dir.path().join("sso").join("cache").join(CACHE_NAME)
    }
    fn cache_bytes(&self) -> Vec<u8> {
        std::fs::read(self.cache()).unwrap()
    }
    fn cache_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.cache_bytes()).unwrap()
    }
}

/// Serves `/oauth2/token` with `token` (after `delay`) and every other path
/// with an unread count.
fn server(token: Script, delay: Duration) -> RawServer {
    RawServer::with_handler(move |req| {
        if req.path() == "/oauth2/token" {
            Script::new().sleep(delay).then(token.clone())
        } else {
            Script::json(200, r#"{"count": 1}"#)
        }
    })
}

fn token_ok() -> Script {
    Script::json(
        200,
        format!(
            r#"{{"access_token":"{NEW_ACCESS}","id_token":"id-token-2","expires_in":3600,"token_type":"Bearer"}}"#
        ),
    )
}

fn refreshes(server: &RawServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/oauth2/token")
        .collect()
}

fn api_calls(server: &RawServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path() != "/oauth2/token")
        .collect()
}

type Call = Box<dyn Fn() -> Result<(), seclai::Error>>;
type Make = fn(&Path, &RawServer, bool) -> Call;

fn async_client(dir: &Path, server: &RawServer, read_only: bool) -> Call {
    let c = async_builder(dir, server)
        .sso_read_only(read_only)
        .build()
        .unwrap();
    Box::new(move || {
        seclai_tests::rt()
            .block_on(async { c.get_unread_model_alert_count().await })
            .map(drop)
    })
}

fn blocking_client(dir: &Path, server: &RawServer, read_only: bool) -> Call {
    let c = blocking_builder(dir, server)
        .sso_read_only(read_only)
        .build()
        .unwrap();
    Box::new(move || c.get_unread_model_alert_count().send().map(drop))
}

fn async_builder(dir: &Path, server: &RawServer) -> seclai::ClientBuilder {
    seclai::Client::builder()
        .ignore_env()
        .config_dir(dir)
        .base_url(server.url())
        .sso_base_url(server.url())
        .max_retries(0)
}

fn blocking_builder(dir: &Path, server: &RawServer) -> seclai_blocking::ClientBuilder {
    seclai_blocking::Client::builder()
        .ignore_env()
        .config_dir(dir)
        .base_url(server.url())
        .sso_base_url(server.url())
        .max_retries(0)
}

// --- scenarios, run against each client ------------------------------------

/// A token endpoint that issues tokens living less than the refresh margin
/// is asked once per token, not once per call.
fn short_lived_tokens_are_refreshed_once(make: Make) {
    let login = Login::expired();
    let short = Script::json(
        200,
        format!(r#"{{"access_token":"{NEW_ACCESS}","expires_in":20,"token_type":"Bearer"}}"#),
    );
    let server = server(short, Duration::ZERO);
    let call = make(login.path(), &server, false);
    for _ in 0..5 {
        call().unwrap();
    }
    assert_eq!(refreshes(&server).len(), 1);
}

/// A cache that is not a regular file, is writable by everyone, or is a
/// device is refused with an error naming the file and the reason, at once.
fn hostile_cache_files_are_refused(make: Make) {
    use std::os::unix::fs::PermissionsExt;
    let login = Login::valid();
    let cache = login.cache();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o666)).unwrap();
    let server = server(token_ok(), Duration::ZERO);
    let e = make(login.path(), &server, false)()
        .unwrap_err()
        .to_string();
    assert!(e.contains("writable by every user"), "{e}");
    std::fs::remove_file(&cache).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &cache).unwrap();
    let started = std::time::Instant::now();
    let e = make(login.path(), &server, false)()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    std::fs::remove_file(&cache).unwrap();
    let fifo = std::process::Command::new("mkfifo")
        .arg(&cache)
        .status()
        .unwrap();
    assert!(fifo.success());
    let e = make(login.path(), &server, false)()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(api_calls(&server).is_empty());
}

fn valid_token_is_sent_with_the_profile_account(make: Make) {
    let login = Login::valid();
    let before = login.cache_bytes();
    let server = server(token_ok(), Duration::ZERO);
    let call = make(login.path(), &server, false);
    call().unwrap();
    call().unwrap();
    assert!(refreshes(&server).is_empty());
    for req in api_calls(&server) {
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {OLD_ACCESS}").as_str())
        );
        assert_eq!(req.header("x-account-id"), Some("acct-sso-7"));
        assert!(req.header("x-api-key").is_none());
    }
    assert_eq!(login.cache_bytes(), before);
}

fn expired_token_is_refreshed(make: Make) {
    let login = Login::expired();
    let server = server(token_ok(), Duration::ZERO);
    let call = make(login.path(), &server, false);
    let start = now();
    call().unwrap();
    call().unwrap();

    let r = refreshes(&server);
    assert_eq!(r.len(), 1, "the refreshed token is reused");
    let r = &r[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(r.header("authorization").is_none());
    let mut form: Vec<&str> = std::str::from_utf8(&r.body).unwrap().split('&').collect();
    form.sort_unstable();
    assert_eq!(
        form,
        [
            format!("client_id={CLIENT_ID}").as_str(),
            "grant_type=refresh_token",
            &format!("refresh_token={REFRESH}"),
        ]
    );

    let api = api_calls(&server);
    assert_eq!(api.len(), 2);
    for req in &api {
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {NEW_ACCESS}").as_str())
        );
        assert_eq!(req.header("x-account-id"), Some("acct-sso-7"));
    }

    let cache = login.cache_json();
    assert_eq!(cache["accessToken"], NEW_ACCESS);
    assert_eq!(
        cache["refreshToken"], REFRESH,
        "the old refresh token is kept"
    );
    assert_eq!(cache["idToken"], "id-token-2");
    assert_eq!(cache["writtenBy"], "cli 1.2.3", "unknown fields are kept");
    let expires = unix(cache["expiresAt"].as_str().unwrap());
    assert!(
        (start + 3590..=now() + 3610).contains(&expires),
        "{expires}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(login.cache())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Only the cache file: no temporary file left behind.
    let names = std::fs::read_dir(login.cache().parent().unwrap())
        .unwrap()
        .count();
    assert_eq!(names, 1);
}

fn refresh_failure_leaves_the_cache_alone(make: Make) {
    let login = Login::expired();
    let before = login.cache_bytes();
    let body = r#"{"error":"invalid_grant","error_description":"Refresh Token has expired"}"#;
    let server = server(Script::json(400, body), Duration::ZERO);
    let call = make(login.path(), &server, false);
    let e = call().unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::BAD_REQUEST), "{e}");
    let api = e.as_api().expect("an API error");
    assert!(
        api.body.contains("Refresh Token has expired"),
        "{}",
        api.body
    );
    assert!(api.body.len() <= 8 * 1024);
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("seclai auth login"), "{shown}");
    assert!(
        !shown.contains(REFRESH) && !shown.contains(OLD_ACCESS),
        "{shown}"
    );
    assert_eq!(login.cache_bytes(), before, "cache byte-identical");
    assert!(api_calls(&server).is_empty());
    assert_eq!(refreshes(&server).len(), 1);
}

fn read_only_mode_errors(make: Make) {
    let login = Login::expired();
    let before = login.cache_bytes();
    let server = server(token_ok(), Duration::ZERO);
    let call = make(login.path(), &server, true);
    let e = call().unwrap_err();
    assert!(matches!(e, seclai::Error::Config(_)), "{e}");
    assert!(e.to_string().contains("seclai auth login"), "{e}");
    assert_eq!(server.hits(), 0);
    assert_eq!(login.cache_bytes(), before);
    // A valid token is used as is.
    let login = Login::valid();
    make(login.path(), &server, true)().unwrap();
    assert_eq!(api_calls(&server).len(), 1);
}

fn corrupt_cache_asks_to_log_in(make: Make) {
    let login = Login::valid();
    std::fs::write(login.cache(), br#"{"accessToken": "half-writ"#).unwrap();
    let server = server(token_ok(), Duration::ZERO);
    let e = make(login.path(), &server, false)().unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, seclai::Error::Config(_)), "{m}");
    assert!(
        m.contains("seclai auth login") && m.contains("SECLAI_API_KEY"),
        "{m}"
    );
    assert!(!m.contains("half-writ"), "{m}");
    assert_eq!(server.hits(), 0);
}

#[test]
fn async_valid_token_is_sent_with_the_profile_account() {
    valid_token_is_sent_with_the_profile_account(async_client);
}
#[test]
fn blocking_valid_token_is_sent_with_the_profile_account() {
    valid_token_is_sent_with_the_profile_account(blocking_client);
}
#[test]
fn async_expired_token_is_refreshed() {
    expired_token_is_refreshed(async_client);
}
#[test]
fn blocking_expired_token_is_refreshed() {
    expired_token_is_refreshed(blocking_client);
}
#[test]
fn async_refresh_failure_leaves_the_cache_alone() {
    refresh_failure_leaves_the_cache_alone(async_client);
}
#[test]
fn blocking_refresh_failure_leaves_the_cache_alone() {
    refresh_failure_leaves_the_cache_alone(blocking_client);
}
#[test]
fn async_read_only_mode_errors() {
    read_only_mode_errors(async_client);
}
#[test]
fn blocking_read_only_mode_errors() {
    read_only_mode_errors(blocking_client);
}
#[test]
fn async_corrupt_cache_asks_to_log_in() {
    corrupt_cache_asks_to_log_in(async_client);
}
#[test]
fn blocking_corrupt_cache_asks_to_log_in() {
    corrupt_cache_asks_to_log_in(blocking_client);
}

#[test]
fn no_login_at_all_is_a_build_error_for_both_clients() {
    let empty = tempfile::tempdir().unwrap();
    let server = server(token_ok(), Duration::ZERO);
    let e = async_builder(empty.path(), &server).build().unwrap_err();
    assert!(e.to_string().contains("seclai auth login"), "{e}");
    let e = blocking_builder(empty.path(), &server).build().unwrap_err();
    assert!(e.to_string().contains("SECLAI_API_KEY"), "{e}");
    let e = async_builder(empty.path(), &server)
        .profile("team")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("\"team\""), "{e}");
    // An explicit key still wins over the profile.
    let login = Login::valid();
    let c = blocking_builder(login.path(), &server)
        .api_key("sk-1")
        .build()
        .unwrap();
    c.get_unread_model_alert_count().send().unwrap();
    assert_eq!(server.requests()[0].header("x-api-key"), Some("sk-1"));
}

// --- one refresh for many concurrent callers -------------------------------

fn check_single_refresh(login: &Login, server: &RawServer, n: usize) {
    assert_eq!(refreshes(server).len(), 1, "exactly one refresh");
    let api = api_calls(server);
    assert_eq!(api.len(), n);
    for req in &api {
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {NEW_ACCESS}").as_str())
        );
    }
    assert_eq!(login.cache_json()["accessToken"], NEW_ACCESS);
}

#[test]
fn async_concurrent_calls_share_one_refresh() {
    let login = Login::expired();
    let server = server(token_ok(), Duration::from_millis(300));
    let c = async_builder(login.path(), &server).build().unwrap();
    let rt = seclai_tests::rt();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = c.clone();
            rt.spawn(async move { c.get_unread_model_alert_count().await })
        })
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    check_single_refresh(&login, &server, 50);
}

#[test]
fn blocking_concurrent_calls_share_one_refresh() {
    let login = Login::expired();
    let server = server(token_ok(), Duration::from_millis(300));
    let c = blocking_builder(login.path(), &server).build().unwrap();
    for r in blocking_calls_at_once(&c, 50) {
        r.unwrap();
    }
    check_single_refresh(&login, &server, 50);
}

/// `n` threads released together, each making one call.
fn blocking_calls_at_once(
    c: &seclai_blocking::Client,
    n: usize,
) -> Vec<seclai_blocking::Result<()>> {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let c = c.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                c.get_unread_model_alert_count().send().map(drop)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn concurrent_callers_share_a_refresh_failure() {
    let login = Login::expired();
    let before = login.cache_bytes();
    let server = server(
        Script::json(400, r#"{"error":"invalid_grant"}"#),
        Duration::from_millis(300),
    );
    let c = blocking_builder(login.path(), &server).build().unwrap();
    for r in blocking_calls_at_once(&c, 10) {
        let e = r.unwrap_err();
        assert_eq!(e.status(), Some(http::StatusCode::BAD_REQUEST), "{e}");
    }
    // Everyone waiting on the refresh gets its failure; nobody retries it.
    assert_eq!(refreshes(&server).len(), 1);
    assert_eq!(login.cache_bytes(), before);
}

#[test]
fn async_short_lived_tokens_are_refreshed_once() {
    short_lived_tokens_are_refreshed_once(async_client);
}
#[test]
fn blocking_short_lived_tokens_are_refreshed_once() {
    short_lived_tokens_are_refreshed_once(blocking_client);
}
#[test]
fn async_hostile_cache_files_are_refused() {
    hostile_cache_files_are_refused(async_client);
}
#[test]
fn blocking_hostile_cache_files_are_refused() {
    hostile_cache_files_are_refused(blocking_client);
}
