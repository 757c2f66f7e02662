//! The async [`Client`], its builder and its send loop.

use crate::call::RawCall;
use bytes::Bytes;
use seclai_core::auth::{ResolveStep, Resolved};
use seclai_core::exchange::MAX_ERROR_BODY_READ;
use seclai_core::{
    ClientConfig, ConfigBuilder, Error, Exchange, Prepared, Result, Secret, TransportError,
    TransportKind,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TokenFuture = Pin<Box<dyn Future<Output = std::result::Result<String, BoxError>> + Send>>;
type AsyncProvider = Arc<dyn Fn() -> TokenFuture + Send + Sync>;

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    async_provider: Option<AsyncProvider>,
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
    inner: Arc<Inner>,
}

seclai_core::debug_shows_config!(Client, inner.config);

/// Builds a [`Client`]; every option of [`ConfigBuilder`] is here too.
#[derive(Default)]
pub struct ClientBuilder {
    config: ConfigBuilder,
    http: Option<reqwest::Client>,
    async_provider: Option<AsyncProvider>,
}

seclai_core::debug_shows_config!(ClientBuilder, config);

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
    let mut b = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout())
        .redirect(reqwest::redirect::Policy::none());
    if let Some(p) = config.proxy() {
        let proxy = reqwest::Proxy::all(p).map_err(|e| Error::Config(format!("proxy: {e}")))?;
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

    /// The underlying HTTP client (same name on the blocking client).
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Pin the account's API version (`PUT /version`), or clear the pin
    /// with `None` (sent as JSON `null`). A version this SDK does not know is
    /// refused unless `allow_unknown_versions` is set.
    pub async fn update_api_version(
        &self,
        version: Option<&str>,
    ) -> Result<seclai_gen::types::ApiVersionResponse> {
        let op = seclai_core::render::update_api_version_op(self.config(), version)?;
        crate::Call::new(self.clone(), op).send().await
    }

    /// An untyped request to any path (relative to the base URL), for
    /// endpoints newer than this SDK. Answers JSON, text (as a JSON string)
    /// or nothing (`null`).
    ///
    /// ```no_run
    /// # async fn demo(client: seclai::Client) -> seclai::Result<()> {
    /// let v = client.request(http::Method::GET, "/agents").query("limit", "5").await?;
    /// # let _ = v; Ok(()) }
    /// ```
    pub fn request(&self, method: http::Method, path: impl Into<String>) -> RawCall {
        RawCall::new(self.clone(), method, path.into())
    }

    async fn resolve(&self) -> Result<Resolved> {
        match &self.inner.async_provider {
            Some(p) => p()
                .await
                .map(|t| Resolved::Bearer(Secret::new(t)))
                .map_err(|e| Error::Config(format!("the token provider failed: {e}"))),
            None => loop {
                match self.inner.config.credentials().resolve_step()? {
                    ResolveStep::Ready(r) => return Ok(r),
                    ResolveStep::Wait(w) => w.await?,
                    ResolveStep::Refresh(ticket) => {
                        return match self.send_sso_refresh(ticket.request()?).await {
                            Ok((status, headers, body)) => ticket.complete(status, &headers, &body),
                            Err(e) => Err(ticket.fail(e)),
                        };
                    }
                }
            },
        }
    }

    /// Send the SSO token refresh rendered by the core; the answer's body is
    /// read up to `MAX_REFRESH_BODY` bytes.
    async fn send_sso_refresh(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes)> {
        let config = &self.inner.config;
        let mut req = reqwest::Request::try_from(req).map_err(|e| {
            Error::InvalidRequest(format!("cannot build the SSO refresh request: {e}"))
        })?;
        *req.timeout_mut() = config.timeout();
        let resp = self
            .inner
            .http
            .execute(req)
            .await
            .map_err(|e| Error::Transport(classify(&e)))?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let read = read_body(resp, seclai_core::sso::MAX_REFRESH_BODY);
        let body = tokio::time::timeout(config.read_timeout(), read)
            .await
            .unwrap_or_else(|_| {
                Err(TransportError::new(
                    TransportKind::Timeout,
                    "timed out reading the SSO refresh answer",
                ))
            })?;
        Ok((status, headers, body))
    }

    /// Send with retries and hand the final status, headers and body to
    /// `finish` (decode or error), all inside the call's span.
    pub(crate) async fn execute<R>(
        &self,
        prepared: Prepared,
        finish: impl FnOnce(&Exchange, http::StatusCode, http::HeaderMap, &[u8]) -> Result<R>,
    ) -> Result<R> {
        in_call_span(prepared, |prepared| async move {
            let (x, status, headers, body) = self.execute_inner(prepared).await?;
            finish(&x, status, headers, &body)
        })
        .await
    }

    /// Start a call whose answer is read as a stream (events, downloads,
    /// upload answers): send until a 2xx head arrives, inside the call's
    /// span, and count it as the call's outcome.
    pub(crate) async fn open(
        &self,
        prepared: Prepared,
        body: Option<&mut (dyn FnMut() -> Option<StreamBody> + Send)>,
    ) -> Result<reqwest::Response> {
        in_call_span(prepared, |prepared| async move {
            let mut x = Exchange::new(&self.inner.config, prepared);
            let resp = self.send_head_with(&mut x, body).await?;
            x.check_status(resp.status(), resp.headers(), &[])?;
            Ok(resp)
        })
        .await
    }

    async fn execute_inner(
        &self,
        prepared: Prepared,
    ) -> Result<(Exchange, http::StatusCode, http::HeaderMap, Bytes)> {
        let mut x = Exchange::new(&self.inner.config, prepared);
        loop {
            let mut resp = self.send_head(&mut x).await?;
            let status = resp.status();
            let headers = std::mem::take(resp.headers_mut());
            // With an overall timeout reqwest bounds the body read already;
            // without one, the read timeout bounds it here.
            let idle = match x.prepared().timeout {
                Some(_) => None,
                None => Some(self.inner.config.read_timeout()),
            };
            match read_answer(resp, idle).await {
                Ok(body) => return Ok((x, status, headers, body)),
                Err(e) => tokio::time::sleep(x.retry_on_error(e)?).await,
            }
        }
    }

    /// Send until a 2xx head arrives (retrying per the policy) and return the
    /// unread response; a final non-2xx becomes [`Error::Api`].
    pub(crate) async fn send_head(&self, x: &mut Exchange) -> Result<reqwest::Response> {
        self.send_head_with(x, None).await
    }

    /// [`send_head`](Self::send_head) with a streamed body: `body` yields a
    /// fresh body per attempt, or `None` when it cannot be replayed (the
    /// failure is then final).
    pub(crate) async fn send_head_with(
        &self,
        x: &mut Exchange,
        mut body: Option<&mut (dyn FnMut() -> Option<StreamBody> + Send)>,
    ) -> Result<reqwest::Response> {
        let mut replay_ok = true;
        // Parsed once per call; going through `http::Request` would parse
        // the URL twice per attempt (as a `Uri`, then again as a `Url`).
        let url = reqwest::Url::parse(&x.prepared().url)
            .map_err(|e| Error::InvalidRequest(format!("cannot build the request: {e}")))?;
        loop {
            let resolved = self.resolve().await?;
            let prepared = x.prepared();
            let mut req = reqwest::Request::new(prepared.method.clone(), url.clone());
            *req.headers_mut() = x.headers(&resolved)?;
            *req.timeout_mut() = prepared.timeout;
            if prepared.carries_body() {
                let bytes = prepared.body.clone().unwrap_or_default();
                *req.body_mut() = Some(bytes.into());
            }
            if let Some(make) = body.as_mut() {
                let Some(b) = make() else {
                    return Err(Error::InvalidRequest(
                        "the upload body cannot be sent again".into(),
                    ));
                };
                let h = req.headers_mut();
                h.insert(http::header::CONTENT_TYPE, b.content_type);
                if let Some(n) = b.length {
                    h.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(n));
                }
                *req.body_mut() = Some(b.body);
                replay_ok = b.replayable;
            }
            let delay = match self.inner.http.execute(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    match x
                        .retry_on_status(status, resp.headers())
                        .filter(|_| replay_ok)
                    {
                        Some(d) => d,
                        None if status.is_success() => return Ok(resp),
                        None => {
                            let headers = resp.headers().clone();
                            let body = read_body(resp, MAX_ERROR_BODY_READ)
                                .await
                                .unwrap_or_default();
                            return Err(x.api_error(status, &headers, &body));
                        }
                    }
                }
                Err(e) => {
                    if let Some(local) = seclai_core::multipart::upload_error(&e) {
                        return Err(local);
                    }
                    let err = classify(&e);
                    if !replay_ok {
                        return Err(Error::Transport(err));
                    }
                    x.retry_on_error(err)?
                }
            };
            tokio::time::sleep(delay).await;
        }
    }
}

/// The future `make` builds from `prepared`, run inside the span of that
/// call (`tracing` feature; without it, the future itself).
fn in_call_span<F: Future>(
    prepared: Prepared,
    make: impl FnOnce(Prepared) -> F,
) -> impl Future<Output = F::Output> {
    #[cfg(feature = "tracing")]
    {
        let span = seclai_core::exchange::span(&prepared);
        tracing::Instrument::instrument(make(prepared), span)
    }
    #[cfg(not(feature = "tracing"))]
    make(prepared)
}

/// A streamed request body for one attempt.
pub(crate) struct StreamBody {
    pub(crate) body: reqwest::Body,
    pub(crate) content_type: http::HeaderValue,
    pub(crate) length: Option<u64>,
    pub(crate) replayable: bool,
}

/// Read a body, keeping at most `limit` bytes (error bodies are bounded).
/// A body that arrives in one chunk (the common case for JSON answers) is
/// returned as that chunk, without a copy.
pub(crate) async fn read_body(
    mut resp: reqwest::Response,
    limit: usize,
) -> std::result::Result<Bytes, TransportError> {
    // Sized from Content-Length when known (capped, so a lying header
    // cannot make us reserve much).
    let hint = resp.content_length().unwrap_or(0).min(1 << 20) as usize;
    let mut first: Option<Bytes> = None;
    let mut joined = bytes::BytesMut::new();
    let mut len = 0usize;
    while len < limit {
        match resp.chunk().await {
            Ok(Some(mut chunk)) => {
                chunk.truncate(limit - len);
                len += chunk.len();
                match first.take() {
                    None if joined.is_empty() => first = Some(chunk),
                    earlier => {
                        if let Some(earlier) = earlier {
                            joined.reserve(hint.min(limit));
                            joined.extend_from_slice(&earlier);
                        }
                        joined.extend_from_slice(&chunk);
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return Err(classify(&e).with_maybe_sent(true)),
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

/// Read a whole answer, failing with a timeout when it takes longer than
/// `limit` (`None`: the request's own overall timeout bounds it).
pub(crate) async fn read_answer(
    resp: reqwest::Response,
    limit: Option<std::time::Duration>,
) -> std::result::Result<Bytes, TransportError> {
    let Some(limit) = limit else {
        return read_body(resp, usize::MAX).await;
    };
    tokio::time::timeout(limit, read_body(resp, usize::MAX))
        .await
        .unwrap_or_else(|_| {
            Err(TransportError::new(
                TransportKind::Timeout,
                "timed out reading the response body",
            )
            .with_maybe_sent(true))
        })
}

/// Map a reqwest error onto the core's transport error.
pub(crate) fn classify(e: &reqwest::Error) -> TransportError {
    let (kind, maybe_sent) = if is_tls_failure(e) {
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
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    TransportError::new(kind, message).with_maybe_sent(maybe_sent)
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
