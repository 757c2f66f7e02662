//! The blocking [`Client`], its builder and its send loop.

use crate::call::RawCall;
use bytes::Bytes;
use seclai_core::exchange::MAX_ERROR_BODY_READ;
use seclai_core::multipart::MultipartBody;
use seclai_core::{
    ClientConfig, ConfigBuilder, Error, Exchange, Prepared, Result, TransportError, TransportKind,
};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

struct Inner {
    config: ClientConfig,
    http: ureq::Agent,
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
    inner: Arc<Inner>,
}

seclai_core::debug_shows_config!(Client, inner.config);

/// Builds a [`Client`]; every option of [`ConfigBuilder`] is here too.
#[derive(Default)]
pub struct ClientBuilder {
    config: ConfigBuilder,
    http: Option<ureq::Agent>,
}

seclai_core::debug_shows_config!(ClientBuilder, config);

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
        let proxy = ureq::Proxy::new(p).map_err(|e| Error::Config(format!("proxy: {e}")))?;
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
    /// Start a builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment (`SECLAI_API_KEY`, `SECLAI_API_URL`).
    pub fn from_env() -> Result<Client> {
        Client::builder().build()
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The underlying HTTP agent (same name on the async client).
    pub fn http_client(&self) -> &ureq::Agent {
        &self.inner.http
    }

    /// Pin the account's API version (`PUT /version`), or clear the pin
    /// with `None` (sent as JSON `null`). A version this SDK does not know is
    /// refused unless `allow_unknown_versions` is set.
    pub fn update_api_version(
        &self,
        version: Option<&str>,
    ) -> Result<seclai_gen::types::ApiVersionResponse> {
        let op = seclai_core::render::update_api_version_op(self.config(), version)?;
        crate::Call::new(self.clone(), op).send()
    }

    /// An untyped request to any path (relative to the base URL), for
    /// endpoints newer than this SDK. Answers JSON, text (as a JSON string)
    /// or nothing (`null`).
    ///
    /// ```no_run
    /// # fn demo(client: seclai_blocking::Client) -> seclai_blocking::Result<()> {
    /// let v = client.request(http::Method::GET, "/agents").query("limit", "5").send()?;
    /// # let _ = v; Ok(()) }
    /// ```
    pub fn request(&self, method: http::Method, path: impl Into<String>) -> RawCall {
        RawCall::new(self.clone(), method, path.into())
    }

    /// Send with retries and hand the final status, headers and body to
    /// `finish` (decode or error), all inside the call's span.
    pub(crate) fn execute<R>(
        &self,
        prepared: Prepared,
        finish: impl FnOnce(&Exchange, http::StatusCode, http::HeaderMap, &[u8]) -> Result<R>,
    ) -> Result<R> {
        #[cfg(feature = "tracing")]
        let span = seclai_core::exchange::span(&prepared);
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let (x, status, headers, body) = self.execute_inner(prepared)?;
        finish(&x, status, headers, &body)
    }

    /// Start a call whose answer is read as a stream (events, downloads,
    /// upload answers): send until a 2xx head arrives, inside the call's
    /// span, and count it as the call's outcome.
    pub(crate) fn open(
        &self,
        prepared: Prepared,
        idle: Option<Duration>,
        body: Option<&mut dyn FnMut() -> Option<MultipartBody>>,
    ) -> Result<http::Response<ureq::Body>> {
        #[cfg(feature = "tracing")]
        let span = seclai_core::exchange::span(&prepared);
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        let mut x = Exchange::new(&self.inner.config, prepared);
        let resp = self.send_head_with(&mut x, idle, body)?;
        x.check_status(resp.status(), resp.headers(), &[])?;
        Ok(resp)
    }

    fn execute_inner(
        &self,
        prepared: Prepared,
    ) -> Result<(Exchange, http::StatusCode, http::HeaderMap, Bytes)> {
        let mut x = Exchange::new(&self.inner.config, prepared);
        loop {
            let mut resp = self.send_head(&mut x, None)?;
            let status = resp.status();
            let headers = std::mem::take(resp.headers_mut());
            match read_body(resp.body_mut(), u64::MAX) {
                Ok(body) => return Ok((x, status, headers, body)),
                Err(e) => std::thread::sleep(x.retry_on_error(e)?),
            }
        }
    }

    /// Send until a 2xx head arrives (retrying per the policy) and return the
    /// unread response; a final non-2xx becomes [`Error::Api`]. `idle`
    /// overrides the per-read timeout (streams and downloads).
    pub(crate) fn send_head(
        &self,
        x: &mut Exchange,
        idle: Option<Duration>,
    ) -> Result<http::Response<ureq::Body>> {
        self.send_head_with(x, idle, None)
    }

    /// [`send_head`](Self::send_head) with a streamed multipart body: `body`
    /// yields a fresh body per attempt, or `None` when it cannot be replayed.
    pub(crate) fn send_head_with(
        &self,
        x: &mut Exchange,
        idle: Option<Duration>,
        mut body: Option<&mut dyn FnMut() -> Option<MultipartBody>>,
    ) -> Result<http::Response<ureq::Body>> {
        let mut replay_ok = true;
        loop {
            let resolved = self.resolve()?;
            let req = x.request(&resolved)?;
            let sent = match body.as_mut() {
                None => self.send(req, x.prepared(), idle),
                Some(make) => {
                    let Some(b) = make() else {
                        return Err(Error::InvalidRequest(
                            "the upload body cannot be sent again".into(),
                        ));
                    };
                    replay_ok = b.is_replayable();
                    let (mut parts, _) = req.into_parts();
                    if let Ok(v) = http::HeaderValue::from_str(b.content_type()) {
                        parts.headers.insert(http::header::CONTENT_TYPE, v);
                    }
                    if let Some(n) = b.content_length() {
                        parts
                            .headers
                            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(n));
                    }
                    let req =
                        http::Request::from_parts(parts, ureq::SendBody::from_owned_reader(b));
                    self.run(req, x.prepared().timeout, idle)
                }
            };
            let delay = match sent {
                Ok(mut resp) => {
                    let status = resp.status();
                    match x
                        .retry_on_status(status, resp.headers())
                        .filter(|_| replay_ok)
                    {
                        Some(d) => d,
                        None if status.is_success() => return Ok(resp),
                        None => {
                            let body = read_body(resp.body_mut(), MAX_ERROR_BODY_READ as u64)
                                .unwrap_or_default();
                            return Err(x.api_error(status, resp.headers(), &body));
                        }
                    }
                }
                Err(e) => {
                    let local = match &e {
                        ureq::Error::Io(io) => seclai_core::multipart::upload_error(io),
                        other => seclai_core::multipart::upload_error(other),
                    };
                    if let Some(local) = local {
                        return Err(local);
                    }
                    let err = classify(&e);
                    if !replay_ok {
                        return Err(Error::Transport(err));
                    }
                    x.retry_on_error(err)?
                }
            };
            std::thread::sleep(delay);
        }
    }

    /// This request's credential; an expired SSO token is refreshed here (one
    /// refresh per credential source, other threads wait for it).
    fn resolve(&self) -> Result<seclai_core::auth::Resolved> {
        use seclai_core::auth::ResolveStep;
        loop {
            match self.inner.config.credentials().resolve_step()? {
                ResolveStep::Ready(r) => return Ok(r),
                ResolveStep::Wait(w) => w.wait()?,
                ResolveStep::Refresh(ticket) => {
                    return match self.send_sso_refresh(ticket.request()?) {
                        Ok((status, headers, body)) => ticket.complete(status, &headers, &body),
                        Err(e) => Err(ticket.fail(e)),
                    };
                }
            }
        }
    }

    /// Send the SSO token refresh rendered by the core; the answer's body is
    /// read up to `MAX_REFRESH_BODY` bytes.
    fn send_sso_refresh(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes)> {
        let mut resp = self
            .run(req, self.inner.config.timeout(), None)
            .map_err(|e| Error::Transport(classify(&e)))?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let limit = seclai_core::sso::MAX_REFRESH_BODY as u64;
        let body = read_body(resp.body_mut(), limit)?;
        Ok((status, headers, body))
    }

    /// One attempt. Methods that carry a body get one even when empty
    /// (`Content-Length: 0`); the others go without.
    fn send(
        &self,
        req: http::Request<Vec<u8>>,
        prepared: &Prepared,
        idle: Option<Duration>,
    ) -> std::result::Result<http::Response<ureq::Body>, ureq::Error> {
        if prepared.carries_body() {
            self.run(req, prepared.timeout, idle)
        } else {
            let (parts, _) = req.into_parts();
            self.run(http::Request::from_parts(parts, ()), prepared.timeout, idle)
        }
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        req: http::Request<S>,
        timeout: Option<Duration>,
        idle: Option<Duration>,
    ) -> std::result::Result<http::Response<ureq::Body>, ureq::Error> {
        let agent = &self.inner.http;
        let mut cfg = agent.configure_request(req).http_status_as_error(false);
        if timeout != self.inner.config.timeout() {
            // A per-call timeout, or none for streams and downloads; the
            // agent's deadline (the configured one) applies otherwise.
            cfg = cfg
                .timeout_recv_response(timeout)
                .timeout_recv_body(timeout);
        }
        if let Some(d) = idle {
            cfg = cfg.timeout_per_read(Some(d));
        }
        agent.run(cfg.build())
    }
}

/// Read a body, keeping at most `limit` bytes (error bodies are bounded).
pub(crate) fn read_body(
    body: &mut ureq::Body,
    limit: u64,
) -> std::result::Result<Bytes, TransportError> {
    // Sized from Content-Length when known (capped, so a lying header
    // cannot make us reserve much), to spare the regrowth copies.
    let hint = body.content_length().unwrap_or(0).min(1 << 20).min(limit) as usize;
    let mut buf = Vec::with_capacity(hint);
    match body.as_reader().take(limit).read_to_end(&mut buf) {
        Ok(_) => Ok(Bytes::from(buf)),
        Err(e) => Err(classify(&ureq::Error::from(e)).with_maybe_sent(true)),
    }
}

/// Map a ureq error onto the core's transport error.
pub(crate) fn classify(e: &ureq::Error) -> TransportError {
    use ureq::Error as E;
    let (kind, maybe_sent) = match e {
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
    TransportError::new(kind, e.to_string()).with_maybe_sent(maybe_sent)
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
