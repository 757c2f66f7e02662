//! `seclai auth login|status|logout` and `seclai configure sso`: sign-in
//! through the SSO profile's hosted UI (authorization code + PKCE, loopback
//! redirect on 127.0.0.1) writing the token cache the SDKs read. The file
//! locations, formats and atomic writes are the core's (`seclai_core::sso`).

use crate::error::{CliError, usage};
use crate::output::Output;
use crate::sdk::Settings;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Arg, ArgAction, ArgMatches, Command};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use seclai_core::sso::{self, SsoProfile};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// The loopback port when neither `--port` nor the profile's
/// `sso_callback_port` names one.
pub const DEFAULT_CALLBACK_PORT: u16 = 8765;
/// How long `auth login` waits for the browser unless `--timeout` says otherwise.
const LOGIN_WAIT: Duration = Duration::from_secs(300);
/// The scopes asked for.
const SCOPES: &str = "openid email profile";

const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// The `auth` and `configure` command groups.
pub fn commands() -> Vec<Command> {
    vec![
        Command::new("auth")
            .about("Sign in through the SSO profile, show or remove the cached sign-in")
            .subcommand_required(true)
            .subcommands([
                Command::new("login")
                    .about("Sign in in the browser (authorization code + PKCE) and cache the tokens")
                    .arg(
                        Arg::new("port")
                            .long("port")
                            .value_name("PORT")
                            .value_parser(clap::value_parser!(u16))
                            .help("loopback port for the redirect (default: the profile's sso_callback_port, else 8765; 0 picks a free one)"),
                    )
                    .arg(
                        Arg::new("no-browser")
                            .long("no-browser")
                            .action(ArgAction::SetTrue)
                            .help("print the sign-in URL instead of opening a browser"),
                    ),
                Command::new("status").about("Show the profile, account, expiry and whether a refresh token is cached (never a token)"),
                Command::new("logout").about("Remove the profile's cached tokens"),
            ]),
        Command::new("configure")
            .about("Write settings to the config file the SDKs read")
            .subcommand_required(true)
            .subcommand(
                Command::new("sso")
                    .about("Write an SSO profile (--profile, else default)")
                    .args(["sso-domain", "sso-client-id", "sso-region", "sso-account-id", "sso-callback-port"].map(|k| {
                        Arg::new(k).long(k).value_name("VALUE").help(format!("{} of the profile", k.replace('-', "_")))
                    })),
            ),
    ]
}

/// The config directory, profile name and resolved profile.
fn profile(settings: &Settings) -> Result<(PathBuf, SsoProfile), CliError> {
    let env = |name: &str| std::env::var(name).ok();
    let dir = sso::config_dir(None, &env)
        .ok_or_else(|| CliError::Config("no home directory: set SECLAI_CONFIG_DIR".into()))?;
    let name = sso::profile_name(settings.profile.clone(), &env);
    let (p, _) = sso::load_profile(&dir, &name, &env)?;
    Ok((dir, p))
}

/// Run `auth …` or `configure …`.
pub fn dispatch(
    settings: &Settings,
    out: Output,
    group: &str,
    m: &ArgMatches,
) -> Result<(), CliError> {
    match (group, m.subcommand()) {
        ("auth", Some(("login", sub))) => login(settings, out, sub),
        ("auth", Some(("status", _))) => status(settings, out),
        ("auth", Some(("logout", _))) => logout(settings, out),
        ("configure", Some(("sso", sub))) => configure(settings, out, sub),
        _ => Err(usage(format!(
            "{group}: which command? see `seclai {group} --help`"
        ))),
    }
}

fn fmt_time(t: SystemTime) -> String {
    sso::format_rfc3339(t)
}

fn status(settings: &Settings, out: Output) -> Result<(), CliError> {
    let (dir, p) = profile(settings)?;
    let path = sso::cache_path(&dir, &p.domain, &p.client_id);
    let cache = sso::cache_status(&path)?;
    let mut v = json!({
        "profile": p.name,
        "account_id": p.account_id,
        "sso_domain": p.domain,
        "cache": path.display().to_string(),
        "signed_in": false,
    });
    if let Some(c) = &cache {
        let fresh = c
            .expires_at
            .is_some_and(|t| sso::is_fresh(t, SystemTime::now()));
        v["signed_in"] = Value::Bool(c.has_access_token);
        v["expires_at"] = c.expires_at.map(fmt_time).into();
        v["expired"] = Value::Bool(!fresh);
        v["refresh_token"] = Value::Bool(c.has_refresh_token);
    }
    out.json(&v)?;
    match cache {
        Some(c) if c.has_access_token => Ok(()),
        _ => Err(CliError::Config(format!(
            "profile {:?} is not signed in: run `seclai auth login`",
            p.name
        ))),
    }
}

fn logout(settings: &Settings, out: Output) -> Result<(), CliError> {
    let (dir, p) = profile(settings)?;
    let path = sso::cache_path(&dir, &p.domain, &p.client_id);
    let removed = match std::fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(CliError::Failure(format!(
                "cannot remove {}: {e}",
                path.display()
            )));
        }
    };
    out.json(&json!({"profile": p.name, "removed": removed}))
}

fn configure(settings: &Settings, out: Output, m: &ArgMatches) -> Result<(), CliError> {
    let env = |name: &str| std::env::var(name).ok();
    let dir = sso::config_dir(None, &env)
        .ok_or_else(|| CliError::Config("no home directory: set SECLAI_CONFIG_DIR".into()))?;
    let name = sso::profile_name(settings.profile.clone(), &env);
    let mut entries = Vec::new();
    for k in [
        "sso-domain",
        "sso-client-id",
        "sso-region",
        "sso-account-id",
        "sso-callback-port",
    ] {
        if let Some(v) = m.get_one::<String>(k) {
            if k == "sso-callback-port" && v.parse::<u16>().is_err() {
                return Err(usage(format!("--{k} {v:?}: expected a port number")));
            }
            entries.push((k.replace('-', "_"), v.trim().to_string()));
        }
    }
    if entries.is_empty() {
        return Err(usage(
            "configure sso: give at least one of --sso-domain, --sso-client-id, --sso-region, --sso-account-id, --sso-callback-port",
        ));
    }
    let pairs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let path = sso::save_profile(&dir, &name, &pairs)?;
    out.json(&json!({"profile": name, "config": path.display().to_string()}))
}

/// Random bytes as base64url (PKCE verifier, state).
fn random_b64(n: usize) -> Result<String, CliError> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| CliError::Failure("no system randomness for the sign-in".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The S256 code challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn open_browser(url: &str) -> bool {
    use std::process::{Command as Proc, Stdio};
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = Proc::new("open");
        c.arg(url);
        c
    } else if cfg!(windows) {
        let mut c = Proc::new("rundll32");
        c.arg("url.dll,FileProtocolHandler").arg(url);
        c
    } else {
        let mut c = Proc::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}

fn login(settings: &Settings, out: Output, m: &ArgMatches) -> Result<(), CliError> {
    let (dir, p) = profile(settings)?;
    let base = sso::sso_base_url(&p, settings.sso_base_url.as_deref())?;
    let port = m
        .get_one::<u16>("port")
        .copied()
        .or(p.callback_port)
        .unwrap_or(DEFAULT_CALLBACK_PORT);
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
        CliError::Config(format!("cannot listen on 127.0.0.1:{port} for the sign-in redirect: {e} (choose another with --port)"))
    })?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::Failure(format!("loopback listener: {e}")))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let verifier = random_b64(32)?;
    let state = random_b64(16)?;
    let url = format!(
        "{base}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&code_challenge={}&code_challenge_method=S256&state={}",
        enc(&p.client_id),
        enc(&redirect),
        enc(SCOPES),
        challenge(&verifier),
        state
    );
    let opened = !m.get_flag("no-browser") && open_browser(&url);
    let mut err = std::io::stderr().lock();
    let _ = if opened {
        writeln!(
            err,
            "Opened the browser to sign in; if it did not appear, open:\n{url}"
        )
    } else {
        writeln!(err, "Open this URL in a browser to sign in:\n{url}")
    };
    let _ = err.flush();
    drop(err);
    let wait = settings.timeout.unwrap_or(LOGIN_WAIT);
    let code = wait_for_code(&listener, &state, wait)?;
    let body = exchange(&base, &p, &code, &redirect, &verifier, wait)?;
    let path = sso::cache_path(&dir, &p.domain, &p.client_id);
    let expires = sso::save_login(&path, &p, &body)?;
    out.json(&json!({
        "profile": p.name,
        "account_id": p.account_id,
        "cache": path.display().to_string(),
        "expires_at": fmt_time(expires),
    }))
}

/// The query parameters of a request target, decoded.
fn query_params(target: &str) -> Vec<(String, String)> {
    let q = target.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><html><body><p>{text}</p></body></html>");
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Read one request head (up to 16 KiB) and return its target.
fn read_target(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next()?.split_whitespace();
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_string)
}

/// Wait for the browser's redirect to the loopback listener and return the
/// authorization code (the state must match).
fn wait_for_code(listener: &TcpListener, state: &str, wait: Duration) -> Result<String, CliError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| CliError::Failure(format!("loopback listener: {e}")))?;
    let deadline = Instant::now() + wait;
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let Some(target) = read_target(&mut stream) else {
                    continue;
                };
                if target.split('?').next() != Some("/callback") {
                    respond(&mut stream, "404 Not Found", "Not the sign-in redirect.");
                    continue;
                }
                let params = query_params(&target);
                let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                if get("state").as_deref() != Some(state) {
                    respond(
                        &mut stream,
                        "400 Bad Request",
                        "This sign-in answer does not belong to this login.",
                    );
                    return Err(CliError::Config("the sign-in redirect carried the wrong state; run `seclai auth login` again".into()));
                }
                if let Some(e) = get("error") {
                    respond(
                        &mut stream,
                        "200 OK",
                        "Sign-in refused. You can close this tab.",
                    );
                    let detail = get("error_description").unwrap_or_default();
                    return Err(CliError::Config(format!("sign-in refused: {e} {detail}")));
                }
                match get("code").filter(|c| !c.is_empty()) {
                    Some(code) => {
                        respond(
                            &mut stream,
                            "200 OK",
                            "Signed in to Seclai. You can close this tab.",
                        );
                        return Ok(code);
                    }
                    None => {
                        respond(
                            &mut stream,
                            "400 Bad Request",
                            "The redirect carried no code.",
                        );
                        return Err(CliError::Config(
                            "the sign-in redirect carried no code".into(),
                        ));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(CliError::Config(format!(
                        "no sign-in within {} s; run `seclai auth login` again",
                        wait.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(CliError::Failure(format!("loopback listener: {e}"))),
        }
    }
}

/// Exchange the code at the token endpoint; returns the 2xx answer body.
fn exchange(
    base: &str,
    p: &SsoProfile,
    code: &str,
    redirect: &str,
    verifier: &str,
    wait: Duration,
) -> Result<Vec<u8>, CliError> {
    let url = format!("{base}/oauth2/token");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", p.client_id.as_str()),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ]
    .iter()
    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
    .collect::<Vec<_>>()
    .join("&");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(wait.min(Duration::from_secs(60))))
        .build()
        .into();
    let mut resp = agent
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .send(form.as_bytes())
        .map_err(|e| {
            CliError::Sdk(seclai_blocking::Error::Transport(
                seclai_blocking::TransportError::new(
                    seclai_blocking::TransportKind::Connect,
                    format!("token exchange at {url}: {e}"),
                ),
            ))
        })?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .with_config()
        .limit(seclai_core::sso::MAX_REFRESH_BODY as u64)
        .read_to_vec()
        .map_err(|e| CliError::Failure(format!("reading the token answer: {e}")))?;
    if !status.is_success() {
        let code = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        return Err(CliError::Config(format!(
            "the token exchange at {url} answered {}: {code}",
            status.as_u16()
        )));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenge_is_base64url_sha256_without_padding() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU2p1r-wW1gFWFOEjXk"),
            // computed independently with Python hashlib + base64.urlsafe_b64encode
            "ds6m7b3BphPhC5KVSTwj-8sjyMhumHpOHDawE-oZNgQ"
        );
    }

    #[test]
    fn redirect_query_is_decoded() {
        let q = query_params("/callback?code=a%2Fb+c&state=xyz&empty");
        assert_eq!(q[0], ("code".into(), "a/b c".into()));
        assert_eq!(q[1], ("state".into(), "xyz".into()));
        assert_eq!(q[2], ("empty".into(), String::new()));
    }
}
