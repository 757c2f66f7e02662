use super::*;
use crate::auth::Credentials;
use crate::config::ClientConfig;

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

fn at(s: &str) -> SystemTime {
    parse_rfc3339(s).unwrap_or_else(|| panic!("{s} should parse"))
}

fn secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

// --- profiles --------------------------------------------------------------

const CONFIG: &str = "\
# written by seclai auth login
[default]
sso_account_id = acct-default
sso_region = eu-west-1
; a comment
[profile work]
sso_account_id=acct-work
  sso_domain = login.example.com  
[bare]
SSO_CLIENT_ID = client-bare

[profile empty]
";

#[test]
fn default_profile_reads_its_section() {
    let p = parse_profile(Some(CONFIG), "default", &no_env).unwrap();
    assert_eq!(p.name, "default");
    assert_eq!(p.account_id.as_deref(), Some("acct-default"));
    assert_eq!(p.region, "eu-west-1");
    assert_eq!(p.domain, DEFAULT_SSO_DOMAIN);
    assert_eq!(p.client_id, DEFAULT_SSO_CLIENT_ID);
}

#[test]
fn named_profile_inherits_from_default() {
    let p = parse_profile(Some(CONFIG), "work", &no_env).unwrap();
    assert_eq!(p.account_id.as_deref(), Some("acct-work"));
    assert_eq!(p.domain, "login.example.com");
    assert_eq!(p.region, "eu-west-1", "inherited from [default]");
    assert_eq!(p.client_id, DEFAULT_SSO_CLIENT_ID);
    let p = parse_profile(Some(CONFIG), "empty", &no_env).unwrap();
    assert_eq!(p.account_id.as_deref(), Some("acct-default"));
}

#[test]
fn bare_section_and_case_insensitive_keys() {
    let p = parse_profile(Some(CONFIG), "bare", &no_env).unwrap();
    assert_eq!(p.client_id, "client-bare");
    assert_eq!(p.account_id.as_deref(), Some("acct-default"));
}

#[test]
fn comments_and_junk_lines_are_ignored() {
    let text = "key_before_section = x\n#[profile hidden]\n[profile ok]\nnot a pair\n;sso_region = no\nsso_region = ap-south-1\n[broken\nsso_region = lost\n";
    let p = parse_profile(Some(text), "ok", &no_env).unwrap();
    assert_eq!(p.region, "ap-south-1");
    assert!(parse_profile(Some(text), "hidden", &no_env).is_err());
}

#[test]
fn env_overrides_the_file() {
    let env = env_of(&[
        ("SECLAI_SSO_DOMAIN", "env.example.com"),
        ("SECLAI_SSO_CLIENT_ID", "env-client"),
        ("SECLAI_SSO_REGION", "env-region"),
    ]);
    let p = parse_profile(Some(CONFIG), "work", &env).unwrap();
    assert_eq!(p.domain, "env.example.com");
    assert_eq!(p.client_id, "env-client");
    assert_eq!(p.region, "env-region");
    assert_eq!(p.account_id.as_deref(), Some("acct-work"));
}

#[test]
fn unknown_profile_is_named_in_the_error() {
    let e = parse_profile(Some(CONFIG), "nope", &no_env).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, Error::Config(_)));
    assert!(m.contains("\"nope\""), "{m}");
    assert!(
        m.contains("seclai auth login") && m.contains("SECLAI_API_KEY"),
        "{m}"
    );
    let e = parse_profile(None, "nope", &no_env).unwrap_err();
    assert!(e.to_string().contains("\"nope\""));
}

#[test]
fn missing_file_is_fine_for_default() {
    let p = parse_profile(None, "default", &no_env).unwrap();
    assert_eq!(p.domain, DEFAULT_SSO_DOMAIN);
    assert_eq!(p.client_id, DEFAULT_SSO_CLIENT_ID);
    assert_eq!(p.region, DEFAULT_SSO_REGION);
    assert_eq!(p.account_id, None);
}

#[test]
fn cache_file_name_for_production_defaults() {
    let p = cache_path(Path::new("/x"), DEFAULT_SSO_DOMAIN, DEFAULT_SSO_CLIENT_ID);
    assert_eq!(
        p,
        Path::new("/x/sso/cache/d140a3c5bc4e5a4c9013de0ce1a5e68b61e54a33.json")
    );
}

// --- timestamps ------------------------------------------------------------

#[test]
fn every_expires_at_spelling() {
    let base = at("2030-01-02T03:04:05Z");
    assert_eq!(secs(base), 1_893_553_445);
    assert_eq!(at("2030-01-02t03:04:05z"), base);
    assert_eq!(at("2030-01-02 03:04:05Z"), base);
    assert_eq!(at("2030-01-02T03:04:05+00:00"), base);
    assert_eq!(at("2030-01-02T03:04:05-00:00"), base);
    assert_eq!(at("2030-01-02T05:04:05+02:00"), base);
    assert_eq!(at("2030-01-01T21:34:05-05:30"), base);
    assert_eq!(
        at("2030-01-02T03:04:05.5Z"),
        base + Duration::from_millis(500)
    );
    assert_eq!(
        at("2030-01-02T03:04:05.123456+00:00"),
        base + Duration::from_micros(123_456)
    );
    assert_eq!(
        at("2030-01-02T03:04:05.123456789123Z"),
        base + Duration::from_nanos(123_456_789)
    );
    assert_eq!(secs(at("1970-01-01T00:00:00Z")), 0);
    assert_eq!(secs(at("2024-02-29T00:00:00Z")), 1_709_164_800);
    assert_eq!(secs(at("1969-12-31T23:59:59Z")), -1);
}

#[test]
fn malformed_timestamps_are_rejected() {
    for s in [
        "",
        "2030-01-02",
        "2030-01-02T03:04:05",
        "2030-01-02T03:04:05.Z",
        "2030-01-02T03:04:05+0200",
        "2030-01-02T03:04:05+02",
        "2030-01-02T03:04:05Zjunk",
        " 2030-01-02T03:04:05Z",
        "2030-13-02T03:04:05Z",
        "2030-00-02T03:04:05Z",
        "2030-02-29T03:04:05Z",
        "2030-04-31T03:04:05Z",
        "2030-01-02T24:04:05Z",
        "2030-01-02T03:60:05Z",
        "2030-01-02T03:04:61Z",
        "2030-01-02T03:04:05+24:00",
        "2030/01/02T03:04:05Z",
        "2030-01-02X03:04:05Z",
        "+030-01-02T03:04:05Z",
        "2030-01-02T03:04:05€",
        "２０３０-01-02T03:04:05Z",
        "1700000000",
    ] {
        assert!(parse_rfc3339(s).is_none(), "{s:?} should be rejected");
    }
}

#[test]
fn formatting_round_trips() {
    for s in [
        "1970-01-01T00:00:00Z",
        "2000-02-29T12:00:00Z",
        "2030-01-02T03:04:05Z",
        "2099-12-31T23:59:59Z",
    ] {
        assert_eq!(format_rfc3339(at(s)), s);
    }
    assert_eq!(
        format_rfc3339(at("2030-01-02T03:04:05.9Z")),
        "2030-01-02T03:04:05Z"
    );
}

#[test]
fn thirty_second_margin() {
    let now = at("2030-01-01T00:00:00Z");
    assert!(is_fresh(now + Duration::from_secs(31), now));
    assert!(is_fresh(now + Duration::from_millis(30_001), now));
    assert!(!is_fresh(now + Duration::from_secs(30), now));
    assert!(!is_fresh(now + Duration::from_secs(29), now));
    assert!(!is_fresh(now, now));
    assert!(!is_fresh(now - Duration::from_secs(60), now));
}

// --- sources over a temporary directory -----------------------------------

const ACCESS: &str = "access-token-VALUE-1";
const REFRESH: &str = "refresh-token-VALUE-1";

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.tmp.path()
    }
    fn cache(&self) -> PathBuf {
        cache_path(self.path(), DEFAULT_SSO_DOMAIN, DEFAULT_SSO_CLIENT_ID)
    }
    fn write_config(&self, text: &str) {
        std::fs::write(self.path().join("config"), text).unwrap();
    }
    fn write_cache(&self, text: &str) {
        let p = self.cache();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn token(&self, expires_in: i64, refresh: Option<&str>) {
        let exp = if expires_in >= 0 {
            SystemTime::now() + Duration::from_secs(expires_in as u64)
        } else {
            SystemTime::now() - Duration::from_secs(expires_in.unsigned_abs())
        };
        let mut v = serde_json::json!({
            "accessToken": ACCESS,
            "idToken": "id-token-VALUE-1",
            "expiresAt": format_rfc3339(exp),
            "clientId": DEFAULT_SSO_CLIENT_ID,
            "region": DEFAULT_SSO_REGION,
            "cognitoDomain": DEFAULT_SSO_DOMAIN,
            "someFutureField": {"kept": [1, 2]},
        });
        if let Some(r) = refresh {
            v["refreshToken"] = r.into();
        }
        self.write_cache(&serde_json::to_string_pretty(&v).unwrap());
    }
    fn settings(&self) -> SsoSettings {
        let mut s = SsoSettings::new(self.path(), DEFAULT_PROFILE);
        s.base_url = Some("http://127.0.0.1:9".into());
        s
    }
    fn source(&self) -> Arc<SsoSource> {
        Arc::new(
            SsoSource::discover(self.settings(), &no_env)
                .unwrap()
                .expect("a login is there"),
        )
    }
    fn cache_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.cache()).unwrap()).unwrap()
    }
}

fn ticket(step: ResolveStep) -> RefreshTicket {
    match step {
        ResolveStep::Refresh(t) => t,
        other => panic!("expected a refresh, got {other:?}"),
    }
}

fn bearer(step: ResolveStep) -> String {
    match step {
        ResolveStep::Ready(Resolved::Bearer(t)) => t.expose().to_string(),
        other => panic!("expected a bearer token, got {other:?}"),
    }
}

fn ok_answer(access: &str, refresh: Option<&str>) -> Vec<u8> {
    let mut v = serde_json::json!({
        "access_token": access,
        "id_token": "id-token-VALUE-2",
        "expires_in": 3600,
        "token_type": "Bearer",
    });
    if let Some(r) = refresh {
        v["refresh_token"] = r.into();
    }
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn discover_finds_nothing_in_an_empty_dir() {
    let d = Dir::new();
    assert!(
        SsoSource::discover(d.settings(), &no_env)
            .unwrap()
            .is_none()
    );
    // A named profile is an error, not "nothing".
    let mut s = d.settings();
    s.profile = "work".into();
    let e = SsoSource::discover(s, &no_env).unwrap_err();
    assert!(e.to_string().contains("\"work\""), "{e}");
}

#[test]
fn discover_with_only_a_config_or_only_a_cache() {
    let d = Dir::new();
    d.write_config("[default]\nsso_account_id = a1\n");
    let s = SsoSource::discover(d.settings(), &no_env).unwrap().unwrap();
    assert_eq!(s.profile().account_id.as_deref(), Some("a1"));
    let d = Dir::new();
    d.token(3600, None);
    assert!(
        SsoSource::discover(d.settings(), &no_env)
            .unwrap()
            .is_some()
    );
}

#[test]
fn unreadable_config_is_a_config_error() {
    let d = Dir::new();
    // A directory where the file should be: reading it fails (even as root).
    std::fs::create_dir(d.path().join("config")).unwrap();
    let e = SsoSource::discover(d.settings(), &no_env).unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert!(e.to_string().contains("seclai auth login"), "{e}");
}

#[test]
fn bad_domain_is_refused() {
    let d = Dir::new();
    d.write_config("[default]\nsso_domain = evil.com/path?x=\n");
    let mut s = d.settings();
    s.base_url = None;
    let e = SsoSource::discover(s, &no_env).unwrap_err();
    assert!(e.to_string().contains("sso_domain"), "{e}");
    let d = Dir::new();
    d.write_config("[default]\n");
    let mut s = d.settings();
    s.base_url = None;
    let src = SsoSource::discover(s, &no_env).unwrap().unwrap();
    assert_eq!(src.token_url(), "https://auth.seclai.com/oauth2/token");
}

#[test]
fn valid_token_is_ready_without_refresh() {
    let d = Dir::new();
    d.token(3600, Some(REFRESH));
    let s = d.source();
    assert_eq!(bearer(s.step().unwrap()), ACCESS);
    assert_eq!(s.current().unwrap().unwrap().expose(), ACCESS);
    let c = Credentials::Sso(s);
    assert!(matches!(c.resolve().unwrap(), Resolved::Bearer(t) if t.expose() == ACCESS));
}

#[test]
fn refresh_request_shape() {
    let d = Dir::new();
    d.token(10, Some("r/+= &x"));
    let s = d.source();
    let t = ticket(s.step().unwrap());
    let req = t.request().unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri(), "http://127.0.0.1:9/oauth2/token");
    assert_eq!(
        req.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(req.headers()["accept"], "application/json");
    assert!(
        req.headers()["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("seclai-rs/")
    );
    assert_eq!(
        String::from_utf8(req.body().clone()).unwrap(),
        format!(
            "grant_type=refresh_token&client_id={DEFAULT_SSO_CLIENT_ID}&refresh_token=r%2F%2B%3D%20%26x"
        )
    );
}

#[test]
fn expired_token_refreshes_and_rewrites_the_cache() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    assert!(s.current().unwrap().is_none());
    let e = Credentials::Sso(Arc::clone(&s)).resolve().unwrap_err();
    assert!(e.to_string().contains("resolve_step"), "{e}");
    let t = ticket(s.step().unwrap());
    let before = SystemTime::now();
    let r = t
        .complete(
            StatusCode::OK,
            &HeaderMap::new(),
            &ok_answer("access-NEW", None),
        )
        .unwrap();
    assert!(matches!(r, Resolved::Bearer(t) if t.expose() == "access-NEW"));
    let v = d.cache_json();
    assert_eq!(v["accessToken"], "access-NEW");
    assert_eq!(v["refreshToken"], REFRESH, "old refresh token kept");
    assert_eq!(v["idToken"], "id-token-VALUE-2");
    assert_eq!(v["someFutureField"], serde_json::json!({"kept": [1, 2]}));
    assert_eq!(v["cognitoDomain"], DEFAULT_SSO_DOMAIN);
    let exp = at(v["expiresAt"].as_str().unwrap());
    let lo = before + Duration::from_secs(3599);
    let hi = SystemTime::now() + Duration::from_secs(3601);
    assert!(exp >= lo && exp <= hi);
    // Served from memory and from the file afterwards.
    assert_eq!(bearer(s.step().unwrap()), "access-NEW");
    assert_eq!(bearer(d.source().step().unwrap()), "access-NEW");
}

#[test]
fn a_returned_refresh_token_replaces_the_old_one() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    ticket(s.step().unwrap())
        .complete(
            StatusCode::OK,
            &HeaderMap::new(),
            &ok_answer("a2", Some("refresh-NEW")),
        )
        .unwrap();
    assert_eq!(d.cache_json()["refreshToken"], "refresh-NEW");
}

#[test]
fn refresh_failure_leaves_the_cache_untouched() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let before = std::fs::read(d.cache()).unwrap();
    let s = d.source();
    let t = ticket(s.step().unwrap());
    let body = format!(r#"{{"error":"invalid_grant","echo":"{REFRESH}"}}"#);
    let e = t
        .complete(StatusCode::BAD_REQUEST, &HeaderMap::new(), body.as_bytes())
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST));
    let api = e.as_api().unwrap();
    assert!(api.body.contains("invalid_grant"));
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(REFRESH) && !shown.contains(ACCESS),
        "{shown}"
    );
    assert!(shown.contains("seclai auth login"), "{shown}");
    assert_eq!(std::fs::read(d.cache()).unwrap(), before);
    // Nothing left behind in the cache directory.
    assert_eq!(
        std::fs::read_dir(d.cache().parent().unwrap())
            .unwrap()
            .count(),
        1
    );
    // The next caller may try again.
    assert!(matches!(s.step().unwrap(), ResolveStep::Refresh(_)));
}

#[test]
fn a_2xx_without_a_token_is_an_error_and_shows_no_body() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let before = std::fs::read(d.cache()).unwrap();
    let s = d.source();
    for body in [
        &b"not json {"[..],
        br#"{"id_token":"leak-me"}"#,
        br#"{"access_token":""}"#,
    ] {
        let e = ticket(s.step().unwrap())
            .complete(StatusCode::OK, &HeaderMap::new(), body)
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert!(!e.to_string().contains("leak-me"));
    }
    assert_eq!(std::fs::read(d.cache()).unwrap(), before);
}

#[test]
fn read_only_never_refreshes() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let mut settings = d.settings();
    settings.read_only = true;
    let s = Arc::new(SsoSource::discover(settings, &no_env).unwrap().unwrap());
    let e = s.step().unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert!(e.to_string().contains("seclai auth login"), "{e}");
    assert!(e.to_string().contains("sso_read_only"), "{e}");
}

#[test]
fn expired_without_refresh_token_asks_to_log_in() {
    let d = Dir::new();
    d.token(-60, None);
    let e = d.source().step().unwrap_err();
    assert!(e.to_string().contains("seclai auth login"), "{e}");
}

#[test]
fn within_the_margin_counts_as_expired() {
    let d = Dir::new();
    d.token(20, Some(REFRESH));
    assert!(matches!(
        d.source().step().unwrap(),
        ResolveStep::Refresh(_)
    ));
    d.token(120, Some(REFRESH));
    assert_eq!(bearer(d.source().step().unwrap()), ACCESS);
}

#[test]
fn corrupt_or_incomplete_caches_are_config_errors() {
    let cases: &[&str] = &[
        "",
        "{",
        "[]",
        "null",
        "{\"accessToken\": 42}",
        "{\"refreshToken\": \"refresh-token-VALUE-1\"}",
        "{\"accessToken\": \"\", \"expiresAt\": \"2099-01-01T00:00:00Z\"}",
        "{\"accessToken\": \"access-token-VALUE-1\", \"expiresAt\": 5,",
        "\u{0}\u{ff}garbage",
    ];
    for text in cases {
        let d = Dir::new();
        d.write_cache(text);
        let before = std::fs::read(d.cache()).unwrap();
        let e = d.source().step().unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Config(_)), "{text:?}: {m}");
        assert!(m.contains("seclai auth login"), "{text:?}: {m}");
        assert!(m.contains("SECLAI_API_KEY"), "{text:?}: {m}");
        assert!(!m.contains(ACCESS) && !m.contains(REFRESH), "{m}");
        assert_eq!(std::fs::read(d.cache()).unwrap(), before);
    }
}

#[test]
fn missing_or_unreadable_cache_is_a_config_error() {
    let d = Dir::new();
    d.write_config("[default]\n");
    let e = d.source().step().unwrap_err();
    assert!(e.to_string().contains("no SSO token"), "{e}");
    assert!(e.to_string().contains("seclai auth login"), "{e}");
    std::fs::create_dir_all(d.cache()).unwrap();
    let e = d.source().step().unwrap_err();
    assert!(e.to_string().contains("cannot read"), "{e}");
}

#[test]
fn unparseable_expiry_is_treated_as_expired() {
    let d = Dir::new();
    d.write_cache(&format!(
        r#"{{"accessToken":"{ACCESS}","refreshToken":"{REFRESH}","expiresAt":"soon"}}"#
    ));
    assert!(matches!(
        d.source().step().unwrap(),
        ResolveStep::Refresh(_)
    ));
}

#[test]
fn secrets_stay_out_of_debug_and_display() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    let step = s.step().unwrap();
    let c = Credentials::Sso(Arc::clone(&s));
    let shown = format!("{s:?} {step:?} {c:?} {:?}", s.profile());
    assert!(
        !shown.contains(ACCESS) && !shown.contains(REFRESH),
        "{shown}"
    );
    let file = parse_cache(&std::fs::read(d.cache()).unwrap(), &d.cache()).unwrap();
    let shown = format!("{file:?}");
    assert!(
        !shown.contains(ACCESS) && !shown.contains(REFRESH),
        "{shown}"
    );
    let t = ticket(step);
    let e = t.fail(Error::Transport(TransportError::new(
        crate::error::TransportKind::Connect,
        "connection refused",
    )));
    assert!(!format!("{e} {e:?}").contains(REFRESH));
    // A valid token too.
    d.token(3600, Some(REFRESH));
    let s = d.source();
    let step = s.step().unwrap();
    let shown = format!("{step:?} {s:?}");
    assert!(!shown.contains(ACCESS), "{shown}");
}

// --- concurrency -----------------------------------------------------------

#[test]
fn waiters_share_one_refresh_and_its_outcome() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    let t = ticket(s.step().unwrap());
    let ResolveStep::Wait(w1) = s.step().unwrap() else {
        panic!("expected to wait")
    };
    let ResolveStep::Wait(w2) = s.step().unwrap() else {
        panic!("expected to wait")
    };
    let e = t.fail(Error::Config("boom".into()));
    assert!(e.to_string().contains("boom"));
    assert!(w1.wait().unwrap_err().to_string().contains("boom"));
    // Later callers start afresh.
    let t = ticket(s.step().unwrap());
    let ResolveStep::Wait(w3) = s.step().unwrap() else {
        panic!("expected to wait")
    };
    t.complete(StatusCode::OK, &HeaderMap::new(), &ok_answer("a3", None))
        .unwrap();
    w3.wait().unwrap();
    // w2 waited on the failed round but looks only after a later refresh
    // succeeded: it is simply told to ask again.
    w2.wait().unwrap();
    assert_eq!(bearer(s.step().unwrap()), "a3");
}

#[test]
fn a_dropped_ticket_releases_waiters() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    let t = ticket(s.step().unwrap());
    let ResolveStep::Wait(w) = s.step().unwrap() else {
        panic!("expected to wait")
    };
    drop(t);
    w.wait().unwrap();
    assert!(matches!(s.step().unwrap(), ResolveStep::Refresh(_)));
}

#[test]
fn threads_make_exactly_one_refresh() {
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    let refreshes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&s);
            let refreshes = Arc::clone(&refreshes);
            std::thread::spawn(move || {
                loop {
                    match s.step().unwrap() {
                        ResolveStep::Ready(Resolved::Bearer(t)) => return t.expose().to_string(),
                        ResolveStep::Ready(_) => panic!("not a bearer token"),
                        ResolveStep::Wait(w) => w.wait().unwrap(),
                        ResolveStep::Refresh(t) => {
                            refreshes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(50));
                            let r = t
                                .complete(
                                    StatusCode::OK,
                                    &HeaderMap::new(),
                                    &ok_answer("a-t", None),
                                )
                                .unwrap();
                            let Resolved::Bearer(b) = r else { panic!() };
                            return b.expose().to_string();
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), "a-t");
    }
    assert_eq!(refreshes.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn the_wait_future_completes_when_the_refresh_ends() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Wake;
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    let s = d.source();
    let t = ticket(s.step().unwrap());
    let ResolveStep::Wait(mut w) = s.step().unwrap() else {
        panic!("expected to wait")
    };
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut w).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut w).poll(&mut cx).is_pending());
    t.complete(StatusCode::OK, &HeaderMap::new(), &ok_answer("a4", None))
        .unwrap();
    assert!(flag.0.load(Ordering::SeqCst));
    assert!(matches!(
        Pin::new(&mut w).poll(&mut cx),
        Poll::Ready(Ok(()))
    ));
}

// --- cache writes ----------------------------------------------------------

#[cfg(unix)]
#[test]
fn cache_writes_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new();
    let path = d.path().join("sso").join("cache").join("x.json");
    write_atomic(&path, b"{}").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // A looser existing directory and file are tightened on rewrite.
    std::fs::set_permissions(
        path.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_atomic(&path, b"{\"a\":1}").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}");
}

#[cfg(unix)]
#[test]
fn refreshed_cache_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new();
    d.token(-60, Some(REFRESH));
    std::fs::set_permissions(d.cache(), std::fs::Permissions::from_mode(0o644)).unwrap();
    ticket(d.source().step().unwrap())
        .complete(StatusCode::OK, &HeaderMap::new(), &ok_answer("a5", None))
        .unwrap();
    let mode = std::fs::metadata(d.cache()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_failed_write_leaves_the_target_and_no_temp_files() {
    let d = Dir::new();
    let dir = d.path().join("c");
    std::fs::create_dir_all(dir.join("target.json")).unwrap();
    std::fs::write(dir.join("target.json").join("inside"), b"x").unwrap();
    // Renaming a file over a non-empty directory fails.
    assert!(write_atomic(&dir.join("target.json"), b"new").is_err());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("target.json")]);
    assert!(dir.join("target.json").is_dir());
}

#[test]
fn a_logged_out_cache_is_not_resurrected() {
    let d = Dir::new();
    d.write_config("[default]\n");
    d.token(-60, Some(REFRESH));
    let s = d.source();
    let t = ticket(s.step().unwrap());
    std::fs::remove_file(d.cache()).unwrap();
    t.complete(StatusCode::OK, &HeaderMap::new(), &ok_answer("a6", None))
        .unwrap();
    assert!(!d.cache().exists());
    assert_eq!(bearer(s.step().unwrap()), "a6", "kept in memory");
}

#[test]
fn expires_in_spellings() {
    use serde_json::json;
    assert_eq!(expires_in(None), DEFAULT_EXPIRES_IN);
    assert_eq!(expires_in(Some(&json!(60))), 60);
    assert_eq!(expires_in(Some(&json!(60.7))), 60);
    assert_eq!(expires_in(Some(&json!("90"))), 90);
    assert_eq!(expires_in(Some(&json!(-5))), 0);
    assert_eq!(expires_in(Some(&json!(u64::MAX))), MAX_EXPIRES_IN);
    assert_eq!(expires_in(Some(&json!([1]))), 0);
}

// --- the chain in ConfigBuilder --------------------------------------------

#[test]
fn the_chain_ends_with_the_sso_profile() {
    let d = Dir::new();
    d.write_config("[default]\nsso_account_id = acct-1\n[profile work]\nsso_account_id = acct-w\nsso_domain = w.example.com\n");
    d.token(3600, Some(REFRESH));
    let dir = d.path().to_str().unwrap();

    // Through the environment.
    let c = ClientConfig::builder()
        .build_with_env(&env_of(&[("SECLAI_CONFIG_DIR", dir)]))
        .unwrap();
    assert!(matches!(c.credentials(), Credentials::Sso(_)));
    assert_eq!(c.account_id().unwrap(), "acct-1");
    assert!(!format!("{c:?}").contains(ACCESS));

    // HOME/.seclai is the default directory.
    let home = Dir::new();
    std::fs::create_dir(home.path().join(".seclai")).unwrap();
    std::fs::write(home.path().join(".seclai").join("config"), "[default]\n").unwrap();
    let c = ClientConfig::builder()
        .build_with_env(&env_of(&[("HOME", home.path().to_str().unwrap())]))
        .unwrap();
    assert!(matches!(c.credentials(), Credentials::Sso(_)));

    // An explicit account id wins; SECLAI_API_KEY and explicit keys come first.
    let c = ClientConfig::builder()
        .config_dir(d.path())
        .account_id("explicit")
        .build_with_env(&no_env)
        .unwrap();
    assert_eq!(c.account_id().unwrap(), "explicit");
    let c = ClientConfig::builder()
        .config_dir(d.path())
        .build_with_env(&env_of(&[("SECLAI_API_KEY", "sk")]))
        .unwrap();
    assert!(matches!(c.credentials(), Credentials::ApiKey(_)));
    assert!(c.account_id().is_none());

    // The profile from the builder, else SECLAI_PROFILE.
    let c = ClientConfig::builder()
        .config_dir(d.path())
        .profile("work")
        .build_with_env(&no_env)
        .unwrap();
    assert_eq!(c.account_id().unwrap(), "acct-w");
    let Credentials::Sso(s) = c.credentials() else {
        panic!()
    };
    assert_eq!(s.token_url(), "https://w.example.com/oauth2/token");
    let c = ClientConfig::builder()
        .config_dir(d.path())
        .build_with_env(&env_of(&[("SECLAI_PROFILE", "work")]))
        .unwrap();
    assert_eq!(c.account_id().unwrap(), "acct-w");

    // An unknown profile is named.
    let e = ClientConfig::builder()
        .config_dir(d.path())
        .profile("ghost")
        .build_with_env(&no_env)
        .unwrap_err();
    assert!(e.to_string().contains("\"ghost\""), "{e}");

    // Explicit settings work with ignore_env (build() with the env ignored).
    let c = ClientConfig::builder()
        .ignore_env()
        .config_dir(d.path())
        .profile("work")
        .sso_base_url("http://127.0.0.1:1/")
        .sso_read_only(true)
        .build()
        .unwrap();
    let Credentials::Sso(s) = c.credentials() else {
        panic!()
    };
    assert_eq!(s.token_url(), "http://127.0.0.1:1/oauth2/token");
    assert!(s.read_only());
    let e = ClientConfig::builder()
        .config_dir(d.path())
        .sso_base_url("ftp://x")
        .build_with_env(&no_env)
        .unwrap_err();
    assert!(e.to_string().contains("sso_base_url"), "{e}");
}

#[test]
fn nothing_found_keeps_the_no_credentials_error() {
    let d = Dir::new();
    for env in [
        env_of(&[]),
        env_of(&[("HOME", d.path().to_str().unwrap())]),
        env_of(&[("SECLAI_CONFIG_DIR", d.path().to_str().unwrap())]),
    ] {
        let e = ClientConfig::builder().build_with_env(&env).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Config(_)));
        assert!(
            m.contains("seclai auth login") && m.contains("SECLAI_API_KEY"),
            "{m}"
        );
    }
    let e = ClientConfig::builder()
        .ignore_env()
        .config_dir(d.path().join("missing"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("seclai auth login"), "{e}");
}

#[test]
fn save_login_writes_what_the_source_reads() {
    let dir = Dir::new();
    let profile = parse_profile(None, DEFAULT_PROFILE, &no_env).unwrap();
    let path = cache_path(dir.path(), &profile.domain, &profile.client_id);
    let answer = ok_answer(ACCESS, Some(REFRESH));
    let expires = save_login(&path, &profile, &answer).unwrap();
    assert!(is_fresh(expires, SystemTime::now()));
    let status = cache_status(&path).unwrap().unwrap();
    assert!(status.has_access_token && status.has_refresh_token);
    assert_eq!(status.expires_at.map(secs), Some(secs(expires)));
    let src = dir.source();
    assert_eq!(bearer(src.step().unwrap()), ACCESS);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(save_login(&path, &profile, b"{\"token_type\":\"Bearer\"}").is_err());
    assert_eq!(cache_status(&dir.path().join("none.json")).unwrap(), None);
}

#[test]
fn save_profile_edits_one_section_and_keeps_the_rest() {
    let dir = Dir::new();
    dir.write_config(
        "# mine\n[default]\nsso_region = eu-west-1\n\n[profile other]\nsso_domain = x.example\n",
    );
    save_profile(
        dir.path(),
        "other",
        &[("sso_domain", "y.example"), ("sso_client_id", "cid")],
    )
    .unwrap();
    save_profile(dir.path(), "new", &[("sso_account_id", "acc")]).unwrap();
    let text = std::fs::read_to_string(dir.path().join("config")).unwrap();
    assert!(
        text.starts_with("# mine\n[default]\nsso_region = eu-west-1\n"),
        "{text}"
    );
    let other = parse_profile(Some(&text), "other", &no_env).unwrap();
    assert_eq!(
        (other.domain.as_str(), other.client_id.as_str()),
        ("y.example", "cid")
    );
    assert_eq!(other.region, "eu-west-1");
    let new = parse_profile(Some(&text), "new", &no_env).unwrap();
    assert_eq!(new.account_id.as_deref(), Some("acc"));
    assert!(save_profile(dir.path(), "x", &[("k", "a\nb")]).is_err());
}

#[cfg(unix)]
#[test]
fn a_cache_directory_reached_through_a_symlink_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let shared = tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let link = tmp.path().join("cache");
    std::os::unix::fs::symlink(&shared, &link).unwrap();
    super::create_private_dir(&link).unwrap();
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o1777);
}

#[test]
fn short_lifetimes_get_half_their_lifetime_as_margin() {
    assert_eq!(
        super::margin_for(Duration::from_secs(3600)),
        super::EXPIRY_MARGIN
    );
    assert_eq!(
        super::margin_for(Duration::from_secs(20)),
        Duration::from_secs(10)
    );
}
