//! The async [`Client`] and its builder.

use seclai_core::{ClientConfig, ConfigBuilder, Error, Result, TransportError, TransportKind};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<String, BoxError>> + Send>>;
pub(crate) type AsyncProvider = Arc<dyn Fn() -> TokenFuture + Send + Sync>;

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) http: reqwest::Client,
    pub(crate) async_provider: Option<AsyncProvider>,
}

/// The async Seclai client. Cheap to clone (one `Arc`), `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> seclai::Result<()> {
/// let client = seclai::Client::from_env()?;
/// let agents = client.list_agents().limit(50).await?;
/// let agent = client.get_agent("agent-id").await?;
/// # let _ = (agents, agent); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// Builds a [`Client`]; every option of [`ConfigBuilder`] is here too.
#[derive(Default)]
pub struct ClientBuilder {
    config: ConfigBuilder,
    http: Option<reqwest::Client>,
    async_provider: Option<AsyncProvider>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    seclai_core::forward_config_setters!();

    /// Use this `reqwest::Client` (its own timeouts, proxy and TLS settings
    /// then apply; the builder's connect/read timeouts, proxy and root
    /// certificates are not applied to it).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Authenticate with a bearer token produced per request by an async
    /// function (e.g. a vault lookup).
    pub fn async_token_provider<F, Fut, E>(mut self, provider: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<String, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let provider = Arc::new(provider);
        self.async_provider = Some(Arc::new(move || {
            let fut = provider();
            Box::pin(async move { fut.await.map_err(Into::into) }) as TokenFuture
        }));
        self
    }

    /// Validate the options and build the client.
    pub fn build(self) -> Result<Client> {
        let mut config = self.config;
        if self.async_provider.is_some() {
            config = config.external_credential();
        }
        let config = config.build()?;
        let http = match self.http {
            Some(h) => h,
            None => build_http(&config)?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                http,
                async_provider: self.async_provider,
            }),
        })
    }
}

fn build_http(config: &ClientConfig) -> Result<reqwest::Client> {
    // Every read on the socket (response head and body) also waits at most
    // the read timeout: a second bound under the engine's own.
    let mut b = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout())
        .read_timeout(config.read_timeout())
        .redirect(reqwest::redirect::Policy::none());
    if let Some(p) = config.proxy() {
        let proxy = reqwest::Proxy::all(p).map_err(|_| {
            Error::Config(format!(
                "proxy {} is not usable",
                seclai_core::secret::redact_url(p)
            ))
        })?;
        b = b.proxy(proxy);
    }
    #[cfg(any(feature = "rustls", feature = "native-tls"))]
    for pem in config.root_certificates() {
        let cert = reqwest::Certificate::from_pem(pem)
            .map_err(|e| Error::Config(format!("root certificate: {e}")))?;
        b = b.add_root_certificate(cert);
    }
    #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
    if !config.root_certificates().is_empty() {
        return Err(Error::Config(
            "root certificates need TLS: enable the `rustls` or `native-tls` feature".into(),
        ));
    }
    b.build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

impl Client {
    /// The underlying HTTP client (same name on the blocking client).
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }
}

/// Map a reqwest error onto the core's transport error.
pub(crate) fn classify(e: reqwest::Error) -> TransportError {
    let (kind, maybe_sent) = if is_tls_failure(&e) {
        // A failed handshake (bad certificate, a peer that does not speak
        // TLS) fails the same way on every attempt: not worth a retry, and
        // the same kind the blocking client reports.
        (TransportKind::Tls, true)
    } else if e.is_connect() {
        (TransportKind::Connect, false)
    } else if e.is_timeout() {
        (TransportKind::Timeout, true)
    } else if e.is_body() || e.is_decode() || e.is_request() {
        (TransportKind::Io, true)
    } else {
        (TransportKind::Other, true)
    };
    let mut message = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    TransportError::new(kind, message)
        .with_maybe_sent(maybe_sent)
        .with_source(e)
}

/// Whether a TLS library's error is somewhere in the chain. An `io::Error`
/// is stepped into through `get_ref()`: its `source()` skips the error it
/// wraps (hyper-rustls nests the rustls error two `io::Error`s deep).
fn is_tls_failure(e: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if is_tls_error(err) {
            return true;
        }
        next = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as _),
            None => err.source(),
        };
    }
    false
}

fn is_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    #[cfg(feature = "rustls")]
    if err.is::<rustls::Error>() {
        return true;
    }
    #[cfg(feature = "native-tls")]
    if err.is::<native_tls::Error>() {
        return true;
    }
    let _ = err;
    false
}
