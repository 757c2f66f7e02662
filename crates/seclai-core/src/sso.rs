//! SSO profiles written by `seclai auth login` and their cached, refreshable
//! tokens: the last link of the credential chain.
//!
//! Everything here is transport-independent. This module reads the profile
//! file and the token cache, decides when a token must be refreshed, renders
//! the refresh request as an [`http::Request`] and rewrites the cache from the
//! answer. A transport only sends the request:
//!
//! ```text
//! loop {
//!     match credentials.resolve_step()? {
//!         ResolveStep::Ready(resolved) => break resolved,
//!         ResolveStep::Wait(wait) => wait.await?,       // or wait.wait()?
//!         ResolveStep::Refresh(ticket) => {
//!             // send ticket.request()?; then
//!             break ticket.complete(status, &headers, &body)?; // or ticket.fail(err)
//!         }
//!     }
//! }
//! ```
//!
//! One refresh is in flight per [`SsoSource`] at a time; concurrent callers
//! get a [`RefreshWait`] that completes (as a future, or blocking with
//! [`RefreshWait::wait`]) when that refresh ends, and share its failure.
//!
//! Files:
//!
//! - `<dir>/config`: INI with `[default]`, `[profile NAME]` or `[NAME]`
//!   sections and the keys `sso_account_id`, `sso_region`, `sso_client_id`,
//!   `sso_domain`; a named profile inherits unset keys from `[default]`.
//! - `<dir>/sso/cache/<sha1 hex of "<domain>|<client_id>">.json`: the token
//!   cache (`accessToken`, `refreshToken`, `idToken`, `expiresAt`, …). It is
//!   rewritten atomically (temporary file + rename), mode 0600 in a 0700
//!   directory on Unix, keeping fields this SDK does not know.

use crate::auth::{ResolveStep, Resolved};
use crate::config::EnvFn;
use crate::error::{ApiError, Error, Result, TransportError};
use crate::secret::Secret;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";
/// Cognito domain of the production login.
pub const DEFAULT_SSO_DOMAIN: &str = "auth.seclai.com";
/// OAuth client id of the production login.
pub const DEFAULT_SSO_CLIENT_ID: &str = "4bgf8v9qmc5puivbaqon9n5lmr";
/// AWS region of the production login.
pub const DEFAULT_SSO_REGION: &str = "us-west-2";
/// A cached token counts as valid only while it has more than this left.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Transports read at most this many bytes of a refresh answer.
pub const MAX_REFRESH_BODY: usize = 64 * 1024;
/// Token lifetime assumed when a refresh answer carries no `expires_in`.
const DEFAULT_EXPIRES_IN: u64 = 3600;
/// Longest `expires_in` believed (keeps the timestamp arithmetic in range).
const MAX_EXPIRES_IN: u64 = 10 * 365 * 24 * 3600;
/// The advice every "no usable SSO token" error ends with.
const LOGIN_HINT: &str = "run `seclai auth login` or set SECLAI_API_KEY";

// ---------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------

/// One SSO profile after inheritance from `[default]`, environment overrides
/// and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SsoProfile {
    /// The profile's name (`default` unless chosen).
    pub name: String,
    /// `sso_account_id`: sent as `X-Account-Id` unless one is set explicitly.
    pub account_id: Option<String>,
    /// `sso_region` (env `SECLAI_SSO_REGION`, default `us-west-2`).
    pub region: String,
    /// `sso_client_id` (env `SECLAI_SSO_CLIENT_ID`, default [`DEFAULT_SSO_CLIENT_ID`]).
    pub client_id: String,
    /// `sso_domain` (env `SECLAI_SSO_DOMAIN`, default `auth.seclai.com`).
    pub domain: String,
    /// `sso_callback_port`: the loopback port `seclai auth login` listens on
    /// for the sign-in redirect, when the profile names one.
    pub callback_port: Option<u16>,
}

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// The profile named by a section header line (`[default]`, `[profile
/// NAME]` or `[NAME]`, already trimmed); `None` for anything else.
fn section_name(line: &str) -> Option<String> {
    let inner = line.strip_prefix('[')?.strip_suffix(']')?.trim();
    let name = match inner.strip_prefix("profile") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim(),
        _ => inner,
    };
    (!name.is_empty()).then(|| name.to_string())
}

/// Parse the INI text of a config file into sections of `key = value`.
fn parse_ini(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for raw in text.trim_start_matches('\u{feff}').lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            current = section_name(line);
            if let Some(name) = &current {
                sections.entry(name.clone()).or_default();
            }
            continue;
        }
        let (Some(section), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        if !key.is_empty() {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key, value.trim().to_string());
        }
    }
    sections
}

/// Resolve profile `name` from the text of a config file (`None`: no file).
///
/// A missing file is fine for `default`; any other name must have a section.
pub fn parse_profile(text: Option<&str>, name: &str, env: EnvFn<'_>) -> Result<SsoProfile> {
    let sections = text.map(parse_ini).unwrap_or_default();
    let empty = BTreeMap::new();
    let defaults = sections.get(DEFAULT_PROFILE).unwrap_or(&empty);
    let own = match sections.get(name) {
        Some(s) => s,
        None if name == DEFAULT_PROFILE => &empty,
        None => {
            let known: Vec<&str> = sections.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(Error::Config(format!(
                "SSO profile {name:?} is not in the config file (profiles found: {known}); \
                 {LOGIN_HINT}"
            )));
        }
    };
    let get = |key: &str| {
        own.get(key)
            .or_else(|| defaults.get(key))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let pick = |var: &str, key: &str, default: &str| {
        env(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .or_else(|| get(key))
            .unwrap_or_else(|| default.to_string())
    };
    Ok(SsoProfile {
        name: name.to_string(),
        account_id: get("sso_account_id"),
        region: pick("SECLAI_SSO_REGION", "sso_region", DEFAULT_SSO_REGION),
        client_id: pick(
            "SECLAI_SSO_CLIENT_ID",
            "sso_client_id",
            DEFAULT_SSO_CLIENT_ID,
        ),
        domain: pick("SECLAI_SSO_DOMAIN", "sso_domain", DEFAULT_SSO_DOMAIN),
        callback_port: get("sso_callback_port").and_then(|p| p.parse().ok()),
    })
}

/// Read `<dir>/config` and resolve profile `name`; also says whether the file
/// exists.
pub fn load_profile(dir: &Path, name: &str, env: EnvFn<'_>) -> Result<(SsoProfile, bool)> {
    let path = dir.join("config");
    let text = match read_guarded(&path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read the SSO config {}: {e}; {LOGIN_HINT}",
                path.display()
            )));
        }
    };
    let found = text.is_some();
    Ok((parse_profile(text.as_deref(), name, env)?, found))
}

/// The SSO directory: `explicit`, else `SECLAI_CONFIG_DIR`, else `~/.seclai`
/// (`HOME`, or `USERPROFILE` on Windows); `None` without any of them.
pub fn config_dir(explicit: Option<PathBuf>, env: EnvFn<'_>) -> Option<PathBuf> {
    explicit
        .or_else(|| env("SECLAI_CONFIG_DIR").map(PathBuf::from))
        .or_else(|| {
            env("HOME")
                .or_else(|| env("USERPROFILE"))
                .map(|home| PathBuf::from(home).join(".seclai"))
        })
}

/// The profile name: `explicit`, else `SECLAI_PROFILE`, else `default`
/// (blank values count as unset).
pub fn profile_name(explicit: Option<String>, env: EnvFn<'_>) -> String {
    explicit
        .or_else(|| env("SECLAI_PROFILE"))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string())
}

/// The base URL of a profile's sign-in endpoints (`/oauth2/authorize`,
/// `/oauth2/token`): `base_url` when given (tests, private deployments),
/// else `https://<sso_domain>` after checking the domain is a host name.
pub fn sso_base_url(profile: &SsoProfile, base_url: Option<&str>) -> Result<String> {
    let base = match base_url {
        Some(url) => crate::config::parse_base_url(url)
            .map_err(|_| Error::Config(format!("sso_base_url {url:?} is not an http(s) URL")))?,
        None => {
            let d = &profile.domain;
            let bad = || {
                Error::Config(format!(
                    "sso_domain {d:?} of SSO profile {:?} is not a host name",
                    profile.name
                ))
            };
            let ok = d
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
            if !ok || d.starts_with(['.', '-', ':']) {
                return Err(bad());
            }
            crate::config::parse_base_url(&format!("https://{d}")).map_err(|_| bad())?
        }
    };
    Ok(base.to_string())
}

/// The token cache file of a login: `<dir>/sso/cache/<sha1("<domain>|<client_id>")>.json`.
pub fn cache_path(config_dir: &Path, domain: &str, client_id: &str) -> PathBuf {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(format!("{domain}|{client_id}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    config_dir
        .join("sso")
        .join("cache")
        .join(format!("{hex}.json"))
}

// ---------------------------------------------------------------------------
// RFC 3339 timestamps
// ---------------------------------------------------------------------------

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// The number made of `b[from..to]`, all ASCII digits.
fn digits(b: &[u8], from: usize, to: usize) -> Option<u32> {
    let part = b.get(from..to)?;
    if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

/// Parse an RFC 3339 timestamp: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`
/// (`t`/`z` in lower case and a space instead of `T` are accepted). Anything
/// else, including out-of-range fields, is `None`.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let year = i64::from(digits(b, 0, 4)?);
    let month = digits(b, 5, 7)?;
    let day = digits(b, 8, 10)?;
    let hour = digits(b, 11, 13)?;
    let minute = digits(b, 14, 16)?;
    let second = digits(b, 17, 19)?;
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if sep(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let count = i - start;
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && sep(i + 3, b':') => {
            let (h, m) = (digits(b, i + 1, i + 3)?, digits(b, i + 4, i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = i64::from(h * 3600 + m * 60);
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)?
    } else {
        UNIX_EPOCH.checked_sub(whole)?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// Format a time as RFC 3339 in UTC with whole seconds (`2030-01-02T03:04:05Z`).
pub fn format_rfc3339(t: SystemTime) -> String {
    let secs: i64 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether a token expiring at `expires_at` is still usable at `now`
/// (more than [`EXPIRY_MARGIN`] left).
pub fn is_fresh(expires_at: SystemTime, now: SystemTime) -> bool {
    is_fresh_within(expires_at, now, EXPIRY_MARGIN)
}

/// [`is_fresh`] with a given margin.
fn is_fresh_within(expires_at: SystemTime, now: SystemTime, margin: Duration) -> bool {
    now.checked_add(margin)
        .is_some_and(|limit| limit < expires_at)
}

/// The refresh margin of a token that lives `lifetime`: [`EXPIRY_MARGIN`],
/// but never more than half the lifetime, so a token the endpoint issues
/// for less than a minute is refreshed once, not on every call.
fn margin_for(lifetime: Duration) -> Duration {
    EXPIRY_MARGIN.min(lifetime / 2)
}

/// Largest SSO config or token cache file read (1 MiB).
pub const MAX_SSO_FILE: u64 = 1024 * 1024;

/// Read an SSO config or cache file, refusing what could be a trap: not a
/// regular file (a FIFO would block forever, a device never end), larger
/// than [`MAX_SSO_FILE`], writable by every user, or owned by another user
/// (root excepted). The error says which.
pub fn read_guarded(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o002 != 0 {
            return Err(io::Error::other(
                "it is writable by every user (run `chmod o-w` on it)",
            ));
        }
        // /proc/self belongs to this process's effective user (Linux).
        if let Ok(me) = std::fs::metadata("/proc/self") {
            if meta.uid() != me.uid() && meta.uid() != 0 {
                return Err(io::Error::other("it is owned by another user"));
            }
        }
    }
    if meta.len() > MAX_SSO_FILE {
        return Err(io::Error::other("it is larger than 1 MiB"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SSO_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SSO_FILE {
        return Err(io::Error::other("it is larger than 1 MiB"));
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------
// The token cache file
// ---------------------------------------------------------------------------

/// The JSON of a token cache file. Fields this SDK does not know are kept
/// in `extra` and written back unchanged.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CacheFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cognito_domain: Option<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for CacheFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheFile")
            .field("expires_at", &self.expires_at)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Parse cache bytes; the error names only the position, never the content.
fn parse_cache(bytes: &[u8], path: &Path) -> Result<CacheFile> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::Config(format!(
            "the SSO token cache {} is not valid (line {}, column {}); {LOGIN_HINT}",
            path.display(),
            e.line(),
            e.column()
        ))
    })
}

/// The answer of the token endpoint.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

fn expires_in(v: Option<&serde_json::Value>) -> u64 {
    let secs = match v {
        None | Some(serde_json::Value::Null) => DEFAULT_EXPIRES_IN,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f > 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(_) => 0,
    };
    secs.min(MAX_EXPIRES_IN)
}

/// Write `bytes` to `path` atomically: a new temporary file in the same
/// directory (mode 0600 on Unix), synced, then renamed over `path`. The
/// directory is created if needed (0700 on Unix). On failure the temporary
/// file is removed and `path` is untouched.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Err(io::Error::other("the cache path has no directory")),
    };
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut last = None;
    for _ in 0..16 {
        let suffix: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(12)
            .collect();
        let temp = dir.join(format!(".{name}.{}.{suffix}.tmp", std::process::id()));
        match open_private(&temp) {
            Ok(mut file) => {
                let written = file
                    .write_all(bytes)
                    .and_then(|()| file.sync_all())
                    .and_then(|()| {
                        drop(file);
                        std::fs::rename(&temp, path)
                    });
                if written.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                return written;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // A directory reached through a symlink is someone's shared place (a
    // link into /tmp, say): leave its mode alone.
    if std::fs::symlink_metadata(dir)?.file_type().is_symlink() {
        return Ok(());
    }
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// `application/x-www-form-urlencoded` body of `pairs`.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, FORM),
                utf8_percent_encode(v, FORM)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------------------
// Sign-in and profile files (`seclai auth login`, `seclai configure sso`)
// ---------------------------------------------------------------------------

/// What may be shown of a token cache (never a token).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStatus {
    /// When the access token expires (`None`: no readable `expiresAt`).
    pub expires_at: Option<SystemTime>,
    /// Whether the cache holds an access token.
    pub has_access_token: bool,
    /// Whether the cache holds a refresh token.
    pub has_refresh_token: bool,
}

/// Read the token cache at `path` for display: `Ok(None)` when there is
/// none; a file that cannot be read or parsed is an [`Error::Config`] that
/// names only the position of the problem.
pub fn cache_status(path: &Path) -> Result<Option<CacheStatus>> {
    let bytes = match read_guarded(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read the SSO token cache {}: {e}",
                path.display()
            )));
        }
    };
    let file = parse_cache(&bytes, path)?;
    let present = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.trim().is_empty());
    Ok(Some(CacheStatus {
        expires_at: file.expires_at.as_deref().and_then(parse_rfc3339),
        has_access_token: present(&file.access_token),
        has_refresh_token: present(&file.refresh_token),
    }))
}

/// Write the token cache of a completed sign-in for `profile` at `path`
/// (see [`cache_path`]) from the token endpoint's 2xx answer body, in the
/// format the SDKs read, atomically, 0600 in a 0700 directory. Returns when
/// the access token expires. An answer without an access token is an
/// [`Error::Config`] that does not show the body.
pub fn save_login(path: &Path, profile: &SsoProfile, token_answer: &[u8]) -> Result<SystemTime> {
    let bad =
        || Error::Config("the SSO token endpoint answered without a usable access_token".into());
    let answer: TokenAnswer = serde_json::from_slice(token_answer).map_err(|_| bad())?;
    let access = answer
        .access_token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(bad)?;
    let now = SystemTime::now();
    let expires_at = now
        .checked_add(Duration::from_secs(expires_in(answer.expires_in.as_ref())))
        .unwrap_or(now);
    let file = CacheFile {
        access_token: Some(access),
        refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
        id_token: answer.id_token.filter(|t| !t.is_empty()),
        expires_at: Some(format_rfc3339(expires_at)),
        client_id: Some(profile.client_id.clone()),
        region: Some(profile.region.clone()),
        cognito_domain: Some(profile.domain.clone()),
        extra: serde_json::Map::new(),
    };
    let mut out = serde_json::to_vec_pretty(&file)
        .map_err(|e| Error::Config(format!("cannot encode the SSO token cache: {e}")))?;
    out.push(b'\n');
    write_atomic(path, &out).map_err(|e| {
        Error::Config(format!(
            "cannot write the SSO token cache {}: {e}",
            path.display()
        ))
    })?;
    Ok(expires_at)
}

/// Set `entries` (`key = value`) in profile `name`'s section of
/// `<dir>/config` (`[default]`, else `[profile NAME]`), creating the file or
/// the section when missing and keeping every other line as it was. Written
/// atomically, 0600 in a 0700 directory. Returns the file's path.
pub fn save_profile(dir: &Path, name: &str, entries: &[(&str, &str)]) -> Result<PathBuf> {
    let bad =
        |what: &str| Error::Config(format!("{what} must be one line without `[`, `]` or `=`"));
    if name.trim().is_empty() || name.contains(['[', ']', '\n', '\r']) {
        return Err(bad("the profile name"));
    }
    for (key, value) in entries {
        if key.contains(['=', '[', ']', '\n', '\r']) || value.contains(['\n', '\r']) {
            return Err(bad(key));
        }
    }
    let path = dir.join("config");
    let text = match read_guarded(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read the SSO config {}: {e}",
                path.display()
            )));
        }
    };
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let start = lines
        .iter()
        .position(|l| section_name(l.trim()).as_deref() == Some(name));
    let start = match start {
        Some(i) => i,
        None => {
            if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                lines.push(String::new());
            }
            lines.push(if name == DEFAULT_PROFILE {
                "[default]".to_string()
            } else {
                format!("[profile {name}]")
            });
            lines.len() - 1
        }
    };
    for (key, value) in entries {
        let end = (start + 1..lines.len())
            .find(|&i| lines[i].trim_start().starts_with('['))
            .unwrap_or(lines.len());
        let line = format!("{key} = {value}");
        let existing = (start + 1..end).find(|&i| {
            lines[i]
                .split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        });
        match existing {
            Some(i) => lines[i] = line,
            None => {
                let mut at = end;
                while at > start + 1 && lines[at - 1].trim().is_empty() {
                    at -= 1;
                }
                lines.insert(at, line);
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    write_atomic(&path, out.as_bytes()).map_err(|e| {
        Error::Config(format!(
            "cannot write the SSO config {}: {e}",
            path.display()
        ))
    })?;
    Ok(path)
}

// ---------------------------------------------------------------------------
// The credential source
// ---------------------------------------------------------------------------

/// Where and how to look for an SSO login.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SsoSettings {
    /// The config directory (`~/.seclai` unless chosen).
    pub config_dir: PathBuf,
    /// The profile name.
    pub profile: String,
    /// Replaces `https://<domain>` as the token endpoint's base (tests).
    pub base_url: Option<String>,
    /// Never refresh or write the cache; an expired token is an error.
    pub read_only: bool,
    /// `User-Agent` of the refresh request.
    pub user_agent: HeaderValue,
}

impl SsoSettings {
    /// Settings for `profile` in `config_dir`, writable, production endpoint.
    pub fn new(config_dir: impl Into<PathBuf>, profile: impl Into<String>) -> Self {
        SsoSettings {
            config_dir: config_dir.into(),
            profile: profile.into(),
            base_url: None,
            read_only: false,
            user_agent: HeaderValue::from_static(crate::config::USER_AGENT),
        }
    }
}

/// A token known to be valid until `expires_at`.
#[derive(Clone)]
struct Token {
    access: Secret,
    expires_at: SystemTime,
    margin: Duration,
}

/// A refresh's failure, kept so that callers who waited for it get it too.
#[derive(Debug, Clone)]
enum Failure {
    Api(Box<ApiError>),
    Transport(crate::error::TransportKind, String, bool),
    Config(String),
}

impl Failure {
    fn of(e: &Error) -> Failure {
        match e {
            Error::Api(a) => Failure::Api(a.clone()),
            Error::Transport(t) => Failure::Transport(t.kind, t.message.clone(), t.maybe_sent),
            Error::Config(m) => Failure::Config(m.clone()),
            other => Failure::Config(other.to_string()),
        }
    }

    fn to_error(&self) -> Error {
        match self {
            Failure::Api(a) => Error::Api(a.clone()),
            Failure::Transport(kind, message, sent) => {
                Error::Transport(TransportError::new(*kind, message.clone()).with_maybe_sent(*sent))
            }
            Failure::Config(m) => Error::Config(m.clone()),
        }
    }
}

#[derive(Default)]
struct State {
    /// The last token seen valid (from the file or a refresh).
    token: Option<Token>,
    /// A refresh is in flight.
    in_flight: bool,
    /// Counts refreshes begun; names the one in flight.
    round: u64,
    /// How refresh `round` failed, if it did.
    failure: Option<(u64, Failure)>,
    /// Futures waiting for the refresh in flight.
    wakers: Vec<Waker>,
}

/// The SSO link of the credential chain: one profile, its token cache and
/// the state of its refresh. Shared by every clone of a client.
pub struct SsoSource {
    profile: SsoProfile,
    config_dir: PathBuf,
    cache_path: PathBuf,
    token_url: String,
    read_only: bool,
    user_agent: HeaderValue,
    state: Mutex<State>,
    done: Condvar,
}

impl fmt::Debug for SsoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSource")
            .field("profile", &self.profile.name)
            .field("config_dir", &self.config_dir)
            .field("cache_path", &self.cache_path)
            .field("token_url", &self.token_url)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl SsoSource {
    /// Load the profile and locate its token cache. `Ok(None)` when neither
    /// the config file nor the cache exists (nothing to authenticate with);
    /// an unreadable config file, an unknown named profile or a bad domain is
    /// an [`Error::Config`]. The token itself is read when first needed.
    pub fn discover(settings: SsoSettings, env: EnvFn<'_>) -> Result<Option<SsoSource>> {
        let (profile, config_found) = load_profile(&settings.config_dir, &settings.profile, env)?;
        let cache_path = cache_path(&settings.config_dir, &profile.domain, &profile.client_id);
        let cache_found = match std::fs::metadata(&cache_path) {
            Ok(_) => true,
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        };
        if !config_found && !cache_found {
            return Ok(None);
        }
        let base = sso_base_url(&profile, settings.base_url.as_deref())?;
        if profile.client_id.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::Config(format!(
                "sso_client_id of SSO profile {:?} contains control characters",
                profile.name
            )));
        }
        Ok(Some(SsoSource {
            profile,
            config_dir: settings.config_dir,
            cache_path,
            token_url: format!("{base}/oauth2/token"),
            read_only: settings.read_only,
            user_agent: settings.user_agent,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        }))
    }

    /// The resolved profile.
    pub fn profile(&self) -> &SsoProfile {
        &self.profile
    }

    /// The token cache file.
    pub fn cache_path(&self) -> &Path {
        &self.cache_path
    }

    /// The token endpoint (`https://<domain>/oauth2/token` unless overridden).
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// Whether refreshing (and writing the cache) is disabled.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_cache(&self) -> Result<CacheFile> {
        let bytes = read_guarded(&self.cache_path).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::NotFound {
                "no SSO token is cached".to_string()
            } else {
                format!("cannot read the SSO token cache: {e}")
            };
            Error::Config(format!(
                "{what} for profile {:?} ({}); {LOGIN_HINT}",
                self.profile.name,
                self.cache_path.display()
            ))
        })?;
        parse_cache(&bytes, &self.cache_path)
    }

    /// The valid access token from memory or the cache file, with the file's
    /// content; `Err` when the cache is missing, unreadable or has no token.
    fn load(&self, st: &mut State, now: SystemTime) -> Result<(Option<Secret>, CacheFile)> {
        let file = self.read_cache()?;
        let Some(access) = file
            .access_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        else {
            return Err(Error::Config(format!(
                "the SSO token cache {} has no accessToken; {LOGIN_HINT}",
                self.cache_path.display()
            )));
        };
        let expires_at = file.expires_at.as_deref().and_then(parse_rfc3339);
        match expires_at {
            Some(exp) if is_fresh(exp, now) => {
                let access = Secret::new(access);
                st.token = Some(Token {
                    access: access.clone(),
                    expires_at: exp,
                    margin: EXPIRY_MARGIN,
                });
                Ok((Some(access), file))
            }
            _ => Ok((None, file)),
        }
    }

    /// The current token if it is valid, without ever refreshing. `Ok(None)`
    /// means it has expired.
    pub fn current(&self) -> Result<Option<Secret>> {
        let now = SystemTime::now();
        let mut st = self.lock();
        if let Some(t) = st
            .token
            .as_ref()
            .filter(|t| is_fresh_within(t.expires_at, now, t.margin))
        {
            return Ok(Some(t.access.clone()));
        }
        self.load(&mut st, now).map(|(token, _)| token)
    }

    /// The next step towards a valid token: ready, wait for the refresh in
    /// flight, or refresh (this caller is then the only one doing so).
    pub fn step(self: &Arc<Self>) -> Result<ResolveStep> {
        let now = SystemTime::now();
        let mut st = self.lock();
        if let Some(t) = st
            .token
            .as_ref()
            .filter(|t| is_fresh_within(t.expires_at, now, t.margin))
        {
            return Ok(ResolveStep::Ready(Resolved::Bearer(t.access.clone())));
        }
        if st.in_flight {
            return Ok(ResolveStep::Wait(RefreshWait {
                source: Arc::clone(self),
                round: st.round,
            }));
        }
        let (token, file) = self.load(&mut st, now)?;
        if let Some(access) = token {
            return Ok(ResolveStep::Ready(Resolved::Bearer(access)));
        }
        if self.read_only {
            return Err(Error::Config(format!(
                "the SSO token of profile {:?} has expired and sso_read_only forbids refreshing it; \
                 {LOGIN_HINT}",
                self.profile.name
            )));
        }
        let Some(refresh) = file.refresh_token.filter(|t| !t.trim().is_empty()) else {
            return Err(Error::Config(format!(
                "the SSO token of profile {:?} has expired and there is no refresh token; {LOGIN_HINT}",
                self.profile.name
            )));
        };
        st.in_flight = true;
        st.round += 1;
        st.failure = None;
        Ok(ResolveStep::Refresh(RefreshTicket {
            source: Arc::clone(self),
            round: st.round,
            refresh_token: Secret::new(refresh),
            finished: false,
        }))
    }

    /// The refresh request for `refresh_token`.
    fn refresh_request(&self, refresh_token: &Secret) -> Result<http::Request<Vec<u8>>> {
        let body = form_encode(&[
            ("grant_type", "refresh_token"),
            ("client_id", &self.profile.client_id),
            ("refresh_token", refresh_token.expose()),
        ]);
        http::Request::builder()
            .method(http::Method::POST)
            .uri(&self.token_url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, self.user_agent.clone())
            .body(body.into_bytes())
            .map_err(|e| Error::Config(format!("cannot build the SSO refresh request: {e}")))
    }

    /// Rewrite the cache with a refreshed token, keeping everything else in
    /// it. Skipped when the file disappeared or no longer parses (a logout
    /// or a new login happened meanwhile).
    fn write_refreshed(
        &self,
        answer: &TokenAnswer,
        access: &str,
        expires_at: SystemTime,
    ) -> io::Result<()> {
        let bytes = match read_guarded(&self.cache_path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let Ok(mut file) = serde_json::from_slice::<CacheFile>(&bytes) else {
            return Ok(());
        };
        file.access_token = Some(access.to_string());
        file.expires_at = Some(format_rfc3339(expires_at));
        if let Some(id) = answer.id_token.as_deref().filter(|t| !t.is_empty()) {
            file.id_token = Some(id.to_string());
        }
        if let Some(r) = answer.refresh_token.as_deref().filter(|t| !t.is_empty()) {
            file.refresh_token = Some(r.to_string());
        }
        let mut out = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
        out.push(b'\n');
        write_atomic(&self.cache_path, &out)
    }
}

// ---------------------------------------------------------------------------
// Tickets and waits
// ---------------------------------------------------------------------------

/// The right (and duty) to perform one refresh. Send [`request`](Self::request),
/// then call [`complete`](Self::complete) with the answer or
/// [`fail`](Self::fail) with the transport's error. Dropping the ticket
/// unfinished (e.g. a cancelled future) lets the next caller refresh.
pub struct RefreshTicket {
    source: Arc<SsoSource>,
    round: u64,
    refresh_token: Secret,
    finished: bool,
}

impl fmt::Debug for RefreshTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTicket")
            .field("token_url", &self.source.token_url)
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

impl RefreshTicket {
    /// The refresh request: a form POST to `<base>/oauth2/token` with
    /// `grant_type=refresh_token`, `client_id` and `refresh_token`. Its body
    /// holds a secret: never log it.
    pub fn request(&self) -> Result<http::Request<Vec<u8>>> {
        self.source.refresh_request(&self.refresh_token)
    }

    /// Hand over the token endpoint's answer (body read up to
    /// [`MAX_REFRESH_BODY`]). On success the cache is rewritten and the new
    /// credential returned; otherwise the cache is untouched and the error
    /// (an [`Error::Api`] with status and bounded body for a non-2xx answer)
    /// is also given to everyone who waited.
    pub fn complete(
        mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Resolved> {
        match self.accept(status, headers, body) {
            Ok(token) => {
                let access = token.access.clone();
                self.finish(Some(token), None);
                Ok(Resolved::Bearer(access))
            }
            Err(e) => {
                self.finish(None, Some(Failure::of(&e)));
                Err(e)
            }
        }
    }

    /// Report that the request could not be sent or answered; returns the
    /// error, which waiting callers receive too. The cache is untouched.
    pub fn fail(mut self, error: Error) -> Error {
        self.finish(None, Some(Failure::of(&error)));
        error
    }

    fn accept(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<Token> {
        let src = &self.source;
        if !status.is_success() {
            let text = String::from_utf8_lossy(body);
            let text = self.refresh_token.redact(&text);
            let mut api = ApiError::from_response(status, headers, text.as_bytes());
            api.message = format!(
                "the SSO token refresh at {} failed: {}; {LOGIN_HINT}",
                src.token_url, api.message
            );
            return Err(Error::Api(Box::new(api)));
        }
        let bad = || {
            Error::Config(format!(
                "the SSO token endpoint {} answered {} without a usable access_token; {LOGIN_HINT}",
                src.token_url,
                status.as_u16()
            ))
        };
        let answer: TokenAnswer = serde_json::from_slice(body).map_err(|_| bad())?;
        let access = answer
            .access_token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(bad)?
            .to_string();
        let now = SystemTime::now();
        let lifetime = Duration::from_secs(expires_in(answer.expires_in.as_ref()));
        let expires_at = now.checked_add(lifetime).unwrap_or(now);
        if let Err(_e) = src.write_refreshed(&answer, &access, expires_at) {
            // The token is still good for this process; only the cache write
            // failed (e.g. a read-only file system).
            #[cfg(feature = "tracing")]
            tracing::warn!(
                cache = %src.cache_path.display(),
                error = %_e,
                "seclai: could not rewrite the SSO token cache"
            );
        }
        Ok(Token {
            access: Secret::new(access),
            expires_at,
            margin: margin_for(lifetime),
        })
    }

    fn finish(&mut self, token: Option<Token>, failure: Option<Failure>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let wakers = {
            let mut st = self.source.lock();
            if let Some(t) = token {
                st.token = Some(t);
            }
            if st.round == self.round {
                st.in_flight = false;
                st.failure = failure.map(|f| (self.round, f));
            }
            std::mem::take(&mut st.wakers)
        };
        self.source.done.notify_all();
        for w in wakers {
            w.wake();
        }
    }
}

impl Drop for RefreshTicket {
    fn drop(&mut self) {
        self.finish(None, None);
    }
}

/// Waits for the refresh another caller is performing. Await it, or call
/// [`wait`](Self::wait) to block; then ask for the next step again. It ends
/// with that refresh's error if it failed.
pub struct RefreshWait {
    source: Arc<SsoSource>,
    round: u64,
}

impl fmt::Debug for RefreshWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshWait")
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

impl RefreshWait {
    fn check(&self, st: &State) -> Option<Result<()>> {
        if st.in_flight && st.round == self.round {
            return None;
        }
        Some(match &st.failure {
            Some((round, f)) if *round == self.round => Err(f.to_error()),
            _ => Ok(()),
        })
    }

    /// Block the current thread until the refresh ends.
    pub fn wait(self) -> Result<()> {
        let mut st = self.source.lock();
        loop {
            if let Some(r) = self.check(&st) {
                return r;
            }
            st = self
                .source
                .done
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Future for RefreshWait {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self.source.lock();
        match self.check(&st) {
            Some(r) => Poll::Ready(r),
            None => {
                if !st.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    st.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests;
