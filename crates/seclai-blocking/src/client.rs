//! The blocking [`Client`] and its builder.

use seclai_core::{ClientConfig, ConfigBuilder, Error, Result, TransportError, TransportKind};
use std::sync::Arc;

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) http: ureq::Agent,
}

/// The blocking Seclai client. Cheap to clone (one `Arc`), `Send + Sync`.
///
/// ```no_run
/// # fn demo() -> seclai_blocking::Result<()> {
/// let client = seclai_blocking::Client::from_env()?;
/// let agents = client.list_agents().limit(50).send()?;
/// let agent = client.get_agent("agent-id").send()?;
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
    http: Option<ureq::Agent>,
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

    /// Use this `ureq::Agent` (its own timeouts, proxy, TLS and redirect
    /// settings then apply; the builder's connect/read timeouts, proxy and
    /// root certificates are not applied to it). Whatever the agent says,
    /// HTTP error statuses are answered as [`Error::Api`], and the per-call
    /// timeout is set on each request that has one.
    pub fn http_client(mut self, agent: ureq::Agent) -> Self {
        self.http = Some(agent);
        self
    }

    /// Validate the options and build the client.
    pub fn build(self) -> Result<Client> {
        let config = self.config.build()?;
        let http = match self.http {
            Some(h) => h,
            None => build_http(&config)?,
        };
        Ok(Client {
            inner: Arc::new(Inner { config, http }),
        })
    }
}

/// The agent for a configuration: timeouts per phase (no overall deadline,
/// which is set per request), no redirects, statuses as responses.
fn build_http(config: &ClientConfig) -> Result<ureq::Agent> {
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(config.connect_timeout()))
        .timeout_per_read(Some(config.read_timeout()))
        // The per-attempt deadline as two phase limits (response head, then
        // body): ureq 3's `timeout_global` costs ~80 µs a call on a local
        // keep-alive GET (measured by `cargo xtask bench`), these nothing.
        .timeout_recv_response(config.timeout())
        .timeout_recv_body(config.timeout());
    if let Ok(ua) = config.user_agent().to_str() {
        // Requests carry their own User-Agent; this one is what a proxy sees
        // on CONNECT.
        b = b.user_agent(ua);
    }
    if let Some(p) = config.proxy() {
        let proxy = ureq::Proxy::new(p).map_err(|_| {
            Error::Config(format!(
                "proxy {} is not usable",
                seclai_core::secret::redact_url(p)
            ))
        })?;
        b = b.proxy(Some(proxy));
    }
    #[cfg(any(feature = "rustls", feature = "native-tls"))]
    {
        b = b.tls_config(tls_config(config)?);
    }
    #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
    if !config.root_certificates().is_empty() {
        return Err(Error::Config(
            "root certificates need TLS: enable the `rustls` or `native-tls` feature".into(),
        ));
    }
    Ok(b.build().new_agent())
}

/// TLS settings: the chosen provider (native-tls wins when both features
/// are on, as with the async client), and the configured extra roots on top
/// of the Mozilla set.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
fn tls_config(config: &ClientConfig) -> Result<ureq::tls::TlsConfig> {
    use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};

    let provider = if cfg!(feature = "native-tls") {
        TlsProvider::NativeTls
    } else {
        TlsProvider::Rustls
    };
    let mut b = TlsConfig::builder().provider(provider);
    if !config.root_certificates().is_empty() {
        // ureq replaces the default roots with a given set, so the given set
        // is the Mozilla roots plus the extras.
        let mut certs: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()))
            .collect();
        for pem in config.root_certificates() {
            let before = certs.len();
            for item in ureq::tls::parse_pem(pem) {
                let item = item.map_err(|e| Error::Config(format!("root certificate: {e}")))?;
                if let PemItem::Certificate(c) = item {
                    certs.push(c);
                }
            }
            if certs.len() == before {
                return Err(Error::Config(
                    "root certificate: no PEM certificate found".into(),
                ));
            }
        }
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    } else if cfg!(feature = "native-tls") {
        // The platform's roots, as reqwest's native-tls backend uses.
        b = b.root_certs(RootCerts::PlatformVerifier);
    }
    Ok(b.build())
}

impl Client {
    /// The underlying HTTP agent (same name on the async client).
    pub fn http_client(&self) -> &ureq::Agent {
        &self.inner.http
    }
}

/// Map a ureq error onto the core's transport error.
pub(crate) fn classify(e: ureq::Error) -> TransportError {
    use ureq::Error as E;
    let (kind, maybe_sent) = match &e {
        E::HostNotFound | E::ConnectionFailed | E::ConnectProxyFailed(_) => {
            (TransportKind::Connect, false)
        }
        // ureq reports a refused or unroutable connect as a plain I/O error;
        // these kinds only arise before anything was written.
        E::Io(io) if is_connect_error(io.kind()) => (TransportKind::Connect, false),
        // rustls reports handshake failures (bad certificate, …) through I/O.
        E::Io(io) if is_tls_io(io) => (TransportKind::Tls, true),
        E::Timeout(t) => (
            TransportKind::Timeout,
            !matches!(t, ureq::Timeout::Resolve | ureq::Timeout::Connect),
        ),
        E::Io(_) | E::Protocol(_) | E::BodyStalled => (TransportKind::Io, true),
        E::Tls(_) | E::TlsRequired => (TransportKind::Tls, true),
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        E::Pem(_) => (TransportKind::Tls, true),
        #[cfg(feature = "rustls")]
        E::Rustls(_) => (TransportKind::Tls, true),
        #[cfg(feature = "native-tls")]
        E::NativeTls(_) | E::Der(_) => (TransportKind::Tls, true),
        _ => (TransportKind::Other, true),
    };
    let err = TransportError::new(kind, e.to_string()).with_maybe_sent(maybe_sent);
    // The I/O error itself, so that a failure of the upload's own reader
    // is recognised in the chain.
    match e {
        ureq::Error::Io(io) => err.with_source(io),
        other => err.with_source(other),
    }
}

#[cfg(feature = "rustls")]
fn is_tls_io(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>())
}

#[cfg(not(feature = "rustls"))]
fn is_tls_io(_: &std::io::Error) -> bool {
    false
}

fn is_connect_error(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        kind,
        K::ConnectionRefused
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::AddrNotAvailable
    )
}
