//! Credentials and the headers they become.

use crate::config::ClientConfig;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::sso::{RefreshTicket, RefreshWait, SsoSource};
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};

/// Produces a bearer token, called once per request (e.g. read from a vault
/// or refreshed elsewhere). Closures `Fn() -> Result<String, E>` qualify.
pub trait TokenProvider: Send + Sync {
    /// The current token.
    fn token(&self) -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>>;
}

impl<F, E> TokenProvider for F
where
    F: Fn() -> std::result::Result<String, E> + Send + Sync,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn token(&self) -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>> {
        self().map_err(Into::into)
    }
}

/// Where a request's credential comes from, in the chain's order.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// An API key (explicit or `SECLAI_API_KEY`).
    ApiKey(Secret),
    /// A static bearer token.
    Bearer(Secret),
    /// A bearer token from a provider, per request.
    Provider(std::sync::Arc<dyn TokenProvider>),
    /// A bearer token the transport resolves itself (an async provider).
    External,
    /// The token of an SSO profile (`seclai auth login`), refreshed through
    /// the transport when it has expired; see [`Credentials::resolve_step`].
    Sso(std::sync::Arc<SsoSource>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::ApiKey(_) => "ApiKey(***)",
            Credentials::Bearer(_) => "Bearer(***)",
            Credentials::Provider(_) => "Provider(<fn>)",
            Credentials::External => "External(<fn>)",
            Credentials::Sso(s) => return write!(f, "Sso(profile {:?})", s.profile().name),
        })
    }
}

/// The next thing a transport does to obtain a request's credential
/// ([`Credentials::resolve_step`]).
#[derive(Debug)]
pub enum ResolveStep {
    /// Use this credential.
    Ready(Resolved),
    /// Send [`RefreshTicket::request`] and hand the answer to
    /// [`RefreshTicket::complete`] (which yields the credential), or a
    /// transport failure to [`RefreshTicket::fail`].
    Refresh(RefreshTicket),
    /// Another caller is refreshing: await this (or call
    /// [`RefreshWait::wait`]), then ask for the next step again.
    Wait(RefreshWait),
}

/// A credential resolved for one request.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// An API key.
    ApiKey(Secret),
    /// A bearer token.
    Bearer(Secret),
}

impl Credentials {
    /// The step both transports take per request: every source but SSO is
    /// [`ResolveStep::Ready`] at once (as [`resolve`](Self::resolve)); SSO
    /// may ask for a refresh, or to wait for the one in flight.
    pub fn resolve_step(&self) -> Result<ResolveStep> {
        match self {
            Credentials::Sso(s) => s.step(),
            other => other.resolve().map(ResolveStep::Ready),
        }
    }

    /// Resolve without network I/O (providers are called here). `External`
    /// needs the transport's token and is an error here; so is an expired SSO
    /// token, which only [`resolve_step`](Self::resolve_step) can refresh.
    pub fn resolve(&self) -> Result<Resolved> {
        match self {
            Credentials::ApiKey(k) => Ok(Resolved::ApiKey(k.clone())),
            Credentials::Bearer(t) => Ok(Resolved::Bearer(t.clone())),
            Credentials::Provider(p) => p
                .token()
                .map(|t| Resolved::Bearer(Secret::new(t)))
                .map_err(|e| Error::Config(format!("the token provider failed: {e}"))),
            Credentials::External => Err(Error::Config(
                "this client's token provider must be awaited by its transport".into(),
            )),
            Credentials::Sso(s) => match s.current()? {
                Some(t) => Ok(Resolved::Bearer(t)),
                None => Err(Error::Config(format!(
                    "the SSO token of profile {:?} has expired; it is refreshed through a \
                     client's transport (Credentials::resolve_step)",
                    s.profile().name
                ))),
            },
        }
    }
}

/// [`ACCOUNT_HEADER`](crate::config::ACCOUNT_HEADER) parsed at compile time.
const ACCOUNT: http::HeaderName = http::HeaderName::from_static(crate::config::ACCOUNT_HEADER);

/// Add the credential headers: the API-key header, or `Authorization:
/// Bearer` plus `X-Account-Id` when an account id is configured.
pub fn apply(config: &ClientConfig, resolved: &Resolved, headers: &mut HeaderMap) -> Result<()> {
    let bad = |what: &str| {
        Error::InvalidRequest(format!(
            "the {what} contains characters not allowed in a header (line breaks or control characters)"
        ))
    };
    match resolved {
        Resolved::ApiKey(k) => {
            let mut v = HeaderValue::from_str(k.expose()).map_err(|_| bad("API key"))?;
            v.set_sensitive(true);
            headers.insert(config.api_key_header().clone(), v);
        }
        Resolved::Bearer(t) => {
            if t.is_blank() {
                return Err(Error::Config("the bearer token is empty".into()));
            }
            let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose()))
                .map_err(|_| bad("bearer token"))?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
            if let Some(id) = config.account_id() {
                headers.insert(ACCOUNT, id.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_called_and_errors_hide_nothing_secret() {
        let c = Credentials::Provider(std::sync::Arc::new(|| {
            Ok::<_, std::io::Error>("tok".to_string())
        }));
        assert!(matches!(c.resolve().unwrap(), Resolved::Bearer(t) if t.expose() == "tok"));
        let c = Credentials::Provider(std::sync::Arc::new(|| {
            Err::<String, _>(std::io::Error::other("vault down"))
        }));
        assert!(c.resolve().unwrap_err().to_string().contains("vault down"));
        assert_eq!(format!("{c:?}"), "Provider(<fn>)");
    }

    #[test]
    fn account_id_only_with_bearer() {
        let config = ClientConfig::builder()
            .api_key("k")
            .account_id("acc")
            .build_with_env(&|_| None)
            .unwrap();
        let mut h = HeaderMap::new();
        apply(&config, &Resolved::ApiKey(Secret::new("k")), &mut h).unwrap();
        assert!(h.get("x-account-id").is_none());
        assert_eq!(h.get("x-api-key").unwrap(), "k");
        let mut h = HeaderMap::new();
        apply(&config, &Resolved::Bearer(Secret::new("t")), &mut h).unwrap();
        assert_eq!(h.get("x-account-id").unwrap(), "acc");
        assert_eq!(h.get("authorization").unwrap(), "Bearer t");
        let e = apply(
            &config,
            &Resolved::Bearer(Secret::new("t\r\nx: y")),
            &mut HeaderMap::new(),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("x: y"));
    }
}
