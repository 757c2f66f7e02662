//! Client configuration: one [`ConfigBuilder`] shared by both clients, and the
//! validated [`ClientConfig`] it builds.

use crate::auth::{Credentials, TokenProvider};
use crate::error::{Error, Result};
use crate::retry::{RetryBudget, RetryPolicy};
use crate::secret::Secret;
use http::{HeaderMap, HeaderName, HeaderValue};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.seclai.com";
/// Header carrying the API key unless configured otherwise.
pub const DEFAULT_API_KEY_HEADER: &str = "x-api-key";
/// Header pinning the API version of a request.
pub const VERSION_HEADER: &str = "seclai-version";
/// Header selecting the account when authenticating with a bearer token.
pub const ACCOUNT_HEADER: &str = "x-account-id";
/// The default of [`ConfigBuilder::max_response_bytes`]: 32 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// The `User-Agent` sent by every request (a suffix may be appended).
pub const USER_AGENT: &str = concat!("seclai-rs/", env!("CARGO_PKG_VERSION"));
/// `Seclai-Version` values the generated types know.
pub use seclai_gen::{DEFAULT_VERSION, KNOWN_VERSIONS, LATEST};

/// Which `Seclai-Version` to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiVersion {
    /// The version the generated types describe ([`DEFAULT_VERSION`]).
    Default,
    /// A specific version.
    Pinned(String),
    /// Send no version header: the server applies the account's pinned
    /// version, which may not match these types. Opt-in only.
    Omit,
}

/// Where the environment comes from (the process, or a map in tests).
pub type EnvFn<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Settings shared by the async and the blocking client. Build with
/// [`ClientConfig::builder`]; each client's builder forwards to this one.
///
/// ```
/// use seclai_core::ClientConfig;
/// let config = ClientConfig::builder().api_key("sk-test").build().unwrap();
/// assert_eq!(config.base_url(), "https://api.seclai.com");
/// assert!(!format!("{config:?}").contains("sk-test"));
/// ```
#[derive(Clone, Default)]
pub struct ConfigBuilder {
    base_url: Option<String>,
    api_key: Option<Secret>,
    access_token: Option<Secret>,
    token_provider: Option<Arc<dyn TokenProvider>>,
    external_provider: bool,
    api_key_header: Option<String>,
    api_version: Option<ApiVersion>,
    allow_unknown_versions: bool,
    account_id: Option<String>,
    user_agent_suffix: Option<String>,
    proxy: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    timeout: Option<Option<Duration>>,
    max_response_bytes: Option<usize>,
    clock: Option<crate::engine::SharedClock>,
    retry: Option<RetryPolicy>,
    retry_budget: Option<RetryBudget>,
    default_headers: Vec<(String, String)>,
    ignore_env: bool,
    profile: Option<String>,
    config_dir: Option<PathBuf>,
    sso_base_url: Option<String>,
    sso_read_only: bool,
}

impl std::fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("access_token", &self.access_token)
            .field(
                "token_provider",
                &self.token_provider.as_ref().map(|_| "<fn>"),
            )
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// Base URL; a path prefix (`https://host/prefix`) is kept. Default:
    /// `SECLAI_API_URL`, else `https://api.seclai.com`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// Authenticate with an API key (sent in the API-key header).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(key));
        self
    }
    /// Authenticate with a static OAuth bearer token.
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(Secret::new(token));
        self
    }
    /// Authenticate with a bearer token fetched per request from `provider`.
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.token_provider = Some(Arc::new(provider));
        self
    }
    /// Marks that a transport supplies its own credential (e.g. an async
    /// token provider), so the credential checks count it.
    pub fn external_credential(mut self) -> Self {
        self.external_provider = true;
        self
    }
    /// Header name for the API key (default `x-api-key`).
    pub fn api_key_header(mut self, name: impl Into<String>) -> Self {
        self.api_key_header = Some(name.into());
        self
    }
    /// Pin `Seclai-Version` (must be one of [`KNOWN_VERSIONS`] unless
    /// [`allow_unknown_versions`](Self::allow_unknown_versions) is set).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(ApiVersion::Pinned(version.into()));
        self
    }
    /// Send no `Seclai-Version` header. The server then answers in the
    /// account's pinned version, which these types may not describe.
    pub fn omit_api_version(mut self) -> Self {
        self.api_version = Some(ApiVersion::Omit);
        self
    }
    /// Accept `Seclai-Version` values this SDK does not know.
    pub fn allow_unknown_versions(mut self, allow: bool) -> Self {
        self.allow_unknown_versions = allow;
        self
    }
    /// `X-Account-Id` to send with bearer credentials.
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = Some(id.into());
        self
    }
    /// Appended to the `User-Agent` (`seclai-rs/<version> <suffix>`).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.user_agent_suffix = Some(suffix.into());
        self
    }
    /// HTTP(S) proxy URL for every request.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }
    /// Trust an extra root certificate (PEM) in addition to the defaults.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }
    /// Time allowed to connect (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }
    /// Longest silence while reading a response (default 60 s).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = Some(d);
        self
    }
    /// The largest JSON answer a call reads (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`], 32 MiB). A bigger answer fails with a
    /// typed error as soon as the limit is passed; the rest is not read.
    /// Streams and downloads are not affected (they never buffer).
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// The clock every timeout, deadline, back-off and poll is measured on
    /// (default: the system's monotonic clock). Tests pass a
    /// [`ManualClock`](crate::engine::ManualClock) to run those decisions
    /// without waiting.
    pub fn clock(mut self, clock: std::sync::Arc<dyn crate::engine::Clock>) -> Self {
        self.clock = Some(crate::engine::SharedClock(clock));
        self
    }

    /// Overall time for one attempt of an ordinary call (default 60 s;
    /// streams and downloads use only the read timeout).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(Some(d));
        self
    }
    /// No overall timeout for ordinary calls.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = Some(None);
        self
    }
    /// The retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }
    /// Shortcut for the retry policy's `max_retries` (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        let mut p = self.retry.take().unwrap_or_default();
        p.max_retries = n;
        self.retry = Some(p);
        self
    }
    /// Retry POST/PATCH after a failure that may have reached the server
    /// (only safe when the server deduplicates).
    pub fn retry_non_idempotent(mut self, yes: bool) -> Self {
        let mut p = self.retry.take().unwrap_or_default();
        p.retry_non_idempotent = yes;
        self.retry = Some(p);
        self
    }
    /// The per-client retry budget, shared by clones of the client.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.retry_budget = Some(budget);
        self
    }
    /// A header sent with every request.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.default_headers.push((name.into(), value.into()));
        self
    }
    /// Ignore `SECLAI_*` environment variables (useful in tests). The
    /// default SSO directory `~/.seclai` is then not consulted either; an
    /// explicit [`config_dir`](Self::config_dir) still is.
    pub fn ignore_env(mut self) -> Self {
        self.ignore_env = true;
        self
    }
    /// SSO profile to use when no other credential is given (default:
    /// `SECLAI_PROFILE`, else `default`).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }
    /// Directory holding the SSO `config` file and `sso/cache` (default:
    /// `SECLAI_CONFIG_DIR`, else `~/.seclai`).
    pub fn config_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_dir = Some(path.into());
        self
    }
    /// Base URL of the SSO token endpoint, replacing `https://<sso_domain>`
    /// (for tests and private deployments).
    pub fn sso_base_url(mut self, url: impl Into<String>) -> Self {
        self.sso_base_url = Some(url.into());
        self
    }
    /// Never refresh the SSO token nor write its cache: an expired token is
    /// then an error asking to run `seclai auth login`.
    pub fn sso_read_only(mut self, yes: bool) -> Self {
        self.sso_read_only = yes;
        self
    }

    /// Validate and build, reading `SECLAI_API_URL` and `SECLAI_API_KEY`, and
    /// as the last link the SSO profile (`SECLAI_PROFILE`,
    /// `SECLAI_CONFIG_DIR`, `SECLAI_SSO_*`, `HOME`).
    pub fn build(self) -> Result<ClientConfig> {
        let ignore = self.ignore_env;
        self.build_with_env(&|name| if ignore { None } else { process_env(name) })
    }

    /// Build with an explicit environment lookup.
    pub fn build_with_env(self, env: EnvFn<'_>) -> Result<ClientConfig> {
        let base = self
            .base_url
            .clone()
            .or_else(|| env("SECLAI_API_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = parse_base_url(&base)?;

        let mut ua = USER_AGENT.to_string();
        if let Some(s) = &self.user_agent_suffix {
            ua.push(' ');
            ua.push_str(s);
        }
        let user_agent =
            header_value(&ua).map_err(|e| Error::Config(format!("user agent: {e}")))?;

        let explicit = [
            self.api_key.is_some(),
            self.access_token.is_some(),
            self.token_provider.is_some() || self.external_provider,
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if explicit > 1 {
            return Err(Error::Config(
                "more than one credential given: set only one of api_key, access_token or a token provider".into(),
            ));
        }
        let credentials = if let Some(k) = self.api_key.clone() {
            check_secret("api_key", &k)?;
            Credentials::ApiKey(k)
        } else if let Some(t) = self.access_token.clone() {
            check_secret("access_token", &t)?;
            Credentials::Bearer(t)
        } else if let Some(p) = self.token_provider.clone() {
            Credentials::Provider(p)
        } else if self.external_provider {
            Credentials::External
        } else if let Some(k) = env("SECLAI_API_KEY") {
            let k = Secret::new(k.trim());
            check_secret("SECLAI_API_KEY", &k)?;
            Credentials::ApiKey(k)
        } else if let Some(source) = self.sso_source(env, &user_agent)? {
            Credentials::Sso(Arc::new(source))
        } else {
            return Err(Error::Config(
                "no credentials: run `seclai auth login` or set SECLAI_API_KEY \
                 (or pass an API key, an access token or a token provider)"
                    .into(),
            ));
        };

        let api_key_header = HeaderName::from_bytes(
            self.api_key_header
                .as_deref()
                .unwrap_or(DEFAULT_API_KEY_HEADER)
                .as_bytes(),
        )
        .map_err(|_| Error::Config("api_key_header is not a valid header name".into()))?;

        let api_version = self.api_version.clone().unwrap_or(ApiVersion::Default);
        if let ApiVersion::Pinned(v) = &api_version {
            check_version(v, self.allow_unknown_versions).map_err(Error::Config)?;
        }
        let mut default_headers = HeaderMap::new();
        for (name, value) in &self.default_headers {
            let (n, v) = header_pair(name, value).map_err(Error::Config)?;
            if n.as_str() == VERSION_HEADER {
                check_version(value, self.allow_unknown_versions).map_err(Error::Config)?;
            }
            default_headers.append(n, v);
        }
        let account_id = match (&self.account_id, &credentials) {
            (Some(id), _) => {
                Some(header_value(id).map_err(|e| Error::Config(format!("account_id: {e}")))?)
            }
            (None, Credentials::Sso(s)) => match &s.profile().account_id {
                Some(id) => Some(header_value(id).map_err(|e| {
                    Error::Config(format!(
                        "sso_account_id of SSO profile {:?}: {e}",
                        s.profile().name
                    ))
                })?),
                None => None,
            },
            (None, _) => None,
        };
        if let Some(p) = &self.proxy {
            parse_base_url(p).map_err(|_| {
                Error::Config(format!(
                    "proxy {:?} is not an http(s) URL",
                    crate::secret::redact_url(p)
                ))
            })?;
        }
        let retry = self.retry.clone().unwrap_or_default();
        Ok(ClientConfig {
            inner: Arc::new(Inner {
                base_url,
                credentials,
                api_key_header,
                api_version,
                allow_unknown_versions: self.allow_unknown_versions,
                account_id,
                user_agent,
                proxy: self.proxy.clone(),
                root_certificates: self.root_certificates.clone(),
                connect_timeout: self.connect_timeout.unwrap_or(Duration::from_secs(10)),
                read_timeout: self.read_timeout.unwrap_or(Duration::from_secs(60)),
                timeout: self.timeout.unwrap_or(Some(Duration::from_secs(60))),
                max_response_bytes: self
                    .max_response_bytes
                    .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                clock: self.clock.clone().unwrap_or_default(),
                retry,
                retry_budget: self.retry_budget.clone().unwrap_or_default(),
                default_headers,
            }),
        })
    }
}

impl ConfigBuilder {
    /// The SSO link: profile and directory from the builder, the environment
    /// or the defaults; `None` when there is no directory (no `HOME`) or
    /// nothing in it.
    fn sso_source(
        &self,
        env: EnvFn<'_>,
        user_agent: &HeaderValue,
    ) -> Result<Option<crate::sso::SsoSource>> {
        let Some(dir) = crate::sso::config_dir(self.config_dir.clone(), env) else {
            return Ok(None);
        };
        let profile = crate::sso::profile_name(self.profile.clone(), env);
        let mut settings = crate::sso::SsoSettings::new(dir, profile);
        settings.base_url = self.sso_base_url.clone();
        settings.read_only = self.sso_read_only;
        settings.user_agent = user_agent.clone();
        crate::sso::SsoSource::discover(settings, env)
    }
}

fn check_secret(what: &str, s: &Secret) -> Result<()> {
    if s.is_blank() {
        return Err(Error::Config(format!("{what} is empty")));
    }
    header_value(s.expose()).map(|_| ()).map_err(|_| {
        Error::Config(format!(
            "{what} contains characters not allowed in a header (line breaks or control characters)"
        ))
    })
}

/// A header value, refusing CR, LF and other control characters.
pub fn header_value(v: &str) -> std::result::Result<HeaderValue, String> {
    if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("header values must not contain CR, LF or NUL".into());
    }
    HeaderValue::from_str(v).map_err(|_| "header value contains invalid characters".to_string())
}

/// Headers that describe the message's framing or connection: the HTTP
/// client sets them, and a caller's value could corrupt the request (a
/// `content-length` that cuts the body short, a second `host`).
pub const RESERVED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// Validate a header name and value (reserved names are refused).
pub fn header_pair(
    name: &str,
    value: &str,
) -> std::result::Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    if RESERVED_HEADERS.contains(&n.as_str()) {
        return Err(format!(
            "header {name} is set by the HTTP client from the request itself and cannot be given"
        ));
    }
    let v = header_value(value).map_err(|e| format!("header {name}: {e}"))?;
    Ok((n, v))
}

/// The known-version guard.
pub fn check_version(v: &str, allow_unknown: bool) -> std::result::Result<(), String> {
    if allow_unknown || KNOWN_VERSIONS.is_empty() || KNOWN_VERSIONS.contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "unknown Seclai-Version {v:?}; known versions are {KNOWN_VERSIONS:?} \
             (enable allow_unknown_versions to send it anyway)"
        ))
    }
}

/// Check and normalize a base URL: `http(s)://host[:port][/prefix]`, no
/// query or fragment; the trailing slash is removed.
pub fn parse_base_url(s: &str) -> Result<String> {
    let t = s.trim();
    let bad = || {
        Error::Config(format!(
            "base URL {s:?} is not an http(s) URL like https://api.seclai.com"
        ))
    };
    let uri: http::Uri = t.parse().map_err(|_| bad())?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(bad()),
    }
    if uri.host().is_none_or(str::is_empty) || uri.query().is_some() || t.contains('#') {
        return Err(bad());
    }
    Ok(t.trim_end_matches('/').to_string())
}

struct Inner {
    base_url: String,
    credentials: Credentials,
    api_key_header: HeaderName,
    api_version: ApiVersion,
    allow_unknown_versions: bool,
    account_id: Option<HeaderValue>,
    user_agent: HeaderValue,
    proxy: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    connect_timeout: Duration,
    read_timeout: Duration,
    timeout: Option<Duration>,
    max_response_bytes: usize,
    clock: crate::engine::SharedClock,
    retry: RetryPolicy,
    retry_budget: RetryBudget,
    default_headers: HeaderMap,
}

/// A validated configuration; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct ClientConfig {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner;
        f.debug_struct("ClientConfig")
            .field("base_url", &i.base_url)
            .field("credentials", &i.credentials)
            .field("api_version", &i.api_version)
            .field("timeout", &i.timeout)
            .field("retry", &i.retry)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Start a builder.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }
    /// Base URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
    /// The credential source.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }
    /// Header carrying the API key.
    pub fn api_key_header(&self) -> &HeaderName {
        &self.inner.api_key_header
    }
    /// The version choice.
    pub fn api_version(&self) -> &ApiVersion {
        &self.inner.api_version
    }
    /// Whether unknown versions pass the guard.
    pub fn allow_unknown_versions(&self) -> bool {
        self.inner.allow_unknown_versions
    }
    /// `X-Account-Id` for bearer credentials.
    pub fn account_id(&self) -> Option<&HeaderValue> {
        self.inner.account_id.as_ref()
    }
    /// `User-Agent`.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.inner.user_agent
    }
    /// Proxy URL.
    pub fn proxy(&self) -> Option<&str> {
        self.inner.proxy.as_deref()
    }
    /// Extra root certificates (PEM).
    pub fn root_certificates(&self) -> &[Vec<u8>] {
        &self.inner.root_certificates
    }
    /// Connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.inner.connect_timeout
    }
    /// Read (idle) timeout.
    pub fn read_timeout(&self) -> Duration {
        self.inner.read_timeout
    }
    /// Overall timeout of one attempt of an ordinary call.
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }
    /// The largest JSON answer a call reads.
    pub fn max_response_bytes(&self) -> usize {
        self.inner.max_response_bytes
    }

    /// The clock timeouts, deadlines and back-off are measured on.
    pub fn clock(&self) -> &crate::engine::SharedClock {
        &self.inner.clock
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }
    /// Retry budget (shared by clones).
    pub fn retry_budget(&self) -> &RetryBudget {
        &self.inner.retry_budget
    }
    /// Headers sent with every request.
    pub fn default_headers(&self) -> &HeaderMap {
        &self.inner.default_headers
    }
}

/// Forwards every [`ConfigBuilder`] setter from a client builder with a
/// `config: ConfigBuilder` field, so both clients offer the same options
/// without writing them twice.
#[macro_export]
macro_rules! forward_config_setters {
    () => {
        $crate::forward_config_setters!(@fwd
            /// Base URL; a path prefix is kept (default `SECLAI_API_URL`, else `https://api.seclai.com`).
            base_url(url: impl Into<String>);
            /// Authenticate with an API key.
            api_key(key: impl Into<String>);
            /// Authenticate with a static bearer token.
            access_token(token: impl Into<String>);
            /// Header name for the API key (default `x-api-key`).
            api_key_header(name: impl Into<String>);
            /// Pin `Seclai-Version` (guarded against unknown values).
            api_version(version: impl Into<String>);
            /// Accept `Seclai-Version` values this SDK does not know.
            allow_unknown_versions(allow: bool);
            /// `X-Account-Id` to send with bearer credentials.
            account_id(id: impl Into<String>);
            /// Appended to the `User-Agent`.
            user_agent_suffix(suffix: impl Into<String>);
            /// HTTP(S) proxy URL.
            proxy(url: impl Into<String>);
            /// Trust an extra root certificate (PEM).
            add_root_certificate_pem(pem: impl Into<Vec<u8>>);
            /// Connect timeout (default 10 s).
            connect_timeout(d: ::std::time::Duration);
            /// Read (idle) timeout (default 60 s).
            read_timeout(d: ::std::time::Duration);
            /// Overall timeout of one attempt of an ordinary call (default 60 s).
            timeout(d: ::std::time::Duration);
            /// The largest JSON answer read (default 32 MiB).
            max_response_bytes(limit: usize);
            /// The clock timeouts and back-off are measured on (tests).
            clock(clock: ::std::sync::Arc<dyn $crate::engine::Clock>);
            /// The retry policy.
            retry_policy(policy: $crate::RetryPolicy);
            /// Maximum retries per call (default 2).
            max_retries(n: u32);
            /// Retry non-idempotent requests that may have reached the server.
            retry_non_idempotent(yes: bool);
            /// The per-client retry budget.
            retry_budget(budget: $crate::RetryBudget);
            /// Ignore `SECLAI_*` environment variables (and the default `~/.seclai`).
            ignore_env();
            /// SSO profile used when no other credential is given (default `SECLAI_PROFILE`, else `default`).
            profile(name: impl Into<String>);
            /// Directory of the SSO `config` and token cache (default `SECLAI_CONFIG_DIR`, else `~/.seclai`).
            config_dir(path: impl Into<::std::path::PathBuf>);
            /// Base URL of the SSO token endpoint, replacing `https://<sso_domain>`.
            sso_base_url(url: impl Into<String>);
            /// Never refresh the SSO token nor write its cache.
            sso_read_only(yes: bool);
            /// Send no `Seclai-Version` header (the account's pinned version applies).
            omit_api_version();
            /// No overall timeout for ordinary calls.
            no_timeout();
        );
        /// A header sent with every request.
        pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.config = self.config.default_header(name, value);
            self
        }
        /// Authenticate with a bearer token produced per request by `provider`.
        pub fn token_provider(mut self, provider: impl $crate::auth::TokenProvider + 'static) -> Self {
            self.config = self.config.token_provider(provider);
            self
        }
    };
    (@fwd $( $(#[$m:meta])* $name:ident($($arg:ident : $ty:ty),*); )*) => {
        $(
            $(#[$m])*
            pub fn $name(mut self, $($arg: $ty),*) -> Self {
                self.config = self.config.$name($($arg),*);
                self
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_key_and_url_are_read() {
        let c = ClientConfig::builder()
            .build_with_env(&env(&[
                ("SECLAI_API_KEY", "sk-env"),
                ("SECLAI_API_URL", "http://h:1/p/"),
            ]))
            .unwrap();
        assert_eq!(c.base_url(), "http://h:1/p");
        assert!(matches!(c.credentials(), Credentials::ApiKey(k) if k.expose() == "sk-env"));
    }

    #[test]
    fn explicit_credentials_win_and_conflicts_fail() {
        let c = ClientConfig::builder()
            .access_token("tok")
            .build_with_env(&env(&[("SECLAI_API_KEY", "sk-env")]))
            .unwrap();
        assert!(matches!(c.credentials(), Credentials::Bearer(_)));
        let e = ClientConfig::builder()
            .api_key("k")
            .access_token("t")
            .build_with_env(&env(&[]))
            .unwrap_err();
        assert!(e.to_string().contains("more than one credential"), "{e}");
        let e = ClientConfig::builder()
            .build_with_env(&env(&[]))
            .unwrap_err();
        assert!(e.to_string().contains("SECLAI_API_KEY"), "{e}");
    }

    #[test]
    fn bad_inputs_are_config_errors() {
        let e = |b: ConfigBuilder| {
            b.api_key("k")
                .build_with_env(&env(&[]))
                .unwrap_err()
                .to_string()
        };
        assert!(e(ClientConfig::builder().base_url("ftp://x")).contains("base URL"));
        assert!(e(ClientConfig::builder().base_url("not a url")).contains("base URL"));
        assert!(e(ClientConfig::builder().default_header("x-a", "a\r\nb")).contains("CR, LF"));
        assert!(
            e(ClientConfig::builder().api_version("1999-01-01")).contains("unknown Seclai-Version")
        );
        assert!(
            e(ClientConfig::builder().default_header("Seclai-Version", "1999-01-01"))
                .contains("unknown")
        );
        let e = ClientConfig::builder()
            .api_key("a\nb")
            .build_with_env(&env(&[]))
            .unwrap_err();
        assert!(!e.to_string().contains("a\nb"));
        assert!(
            ClientConfig::builder()
                .api_key("k")
                .api_version("1999-01-01")
                .allow_unknown_versions(true)
                .build_with_env(&env(&[]))
                .is_ok()
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let b = ClientConfig::builder().api_key("sk-secret-1");
        assert!(!format!("{b:?}").contains("sk-secret-1"));
        let c = b.build_with_env(&env(&[])).unwrap();
        assert!(!format!("{c:?}").contains("sk-secret-1"));
    }
}
