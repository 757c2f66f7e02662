//! Parity of the two clients: for every plain operation (and alias) of the
//! table, both clients expose a method of that name, and for the same
//! inputs put the same request on the wire (method, path, query, headers
//! except transport-level ones, body).

// Entries without inputs leave the input iterators unused.
#![allow(unused_mut, unused_variables)]

use seclai_testkit::raw::{RawServer, RecordedRequest, Script};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::OnceLock;

fn analyzed() -> &'static (Value, Vec<xtask::model::OpModel>) {
    static A: OnceLock<(Value, Vec<xtask::model::OpModel>)> = OnceLock::new();
    A.get_or_init(|| {
        // Found at run time: a compile-time path could be another checkout's.
        let root = xtask::workspace_root().expect("the tests run inside the workspace");
        let spec = root.join("openapi/seclai.openapi.json");
        let loaded = xtask::spec::load(&spec).unwrap_or_else(|e| panic!("{e}"));
        let overrides =
            xtask::overrides::Overrides::load(&root.join("openapi/overrides.toml")).unwrap();
        let (doc, ops, _) = xtask::analyze(&loaded, &overrides).unwrap();
        (doc, ops)
    })
}

fn value<T: DeserializeOwned>(name: &str, v: Option<&Value>) -> T {
    let v = v.cloned().unwrap_or(Value::Null);
    serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{name}: sample {v} does not decode: {e}"))
}

/// What must match: everything but connection-level headers.
fn wire(r: &RecordedRequest) -> String {
    let mut headers: Vec<String> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| !matches!(k.as_str(), "host" | "connection" | "accept-encoding"))
        .filter(|(k, v)| !(k == "content-length" && v == "0"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    headers.sort();
    format!(
        "{} {}\n{}\n{}",
        r.method,
        r.path_and_query,
        headers.join("\n"),
        String::from_utf8_lossy(&r.body)
    )
}

macro_rules! parity {
    ($(
        ($name:ident, $desc:ident, [$($req:ident : $req_ty:ty),*], [$($body_ty:ty)?], [$($opt:ident : $opt_ty:ty),*], $kind:ident, $flag:ident, $role:ident);
    )*) => {{
        let (doc, ops) = analyzed();
        let a = RawServer::start(vec![Script::json(404, r#"{"detail":"x"}"#)]);
        let b = RawServer::start(vec![Script::json(404, r#"{"detail":"x"}"#)]);
        let async_client = seclai::Client::builder().ignore_env().api_key("k").max_retries(0).base_url(a.url()).build().unwrap();
        let blocking_client = seclai_blocking::Client::builder().ignore_env().api_key("k").max_retries(0).base_url(b.url()).build().unwrap();
        let mut names = Vec::new();
        $(
            parity!(@one $flag, $name, $desc, ops, doc, async_client, blocking_client, names,
                [$($req : $req_ty),*], [$($body_ty)?], [$($opt : $opt_ty),*]);
        )*
        (a, b, names)
    }};
    (@one helper, $($rest:tt)*) => {};
    (@one plain, $name:ident, $desc:ident, $ops:ident, $doc:ident, $ac:ident, $bc:ident, $names:ident,
        [$($req:ident : $req_ty:ty),*], [$($body_ty:ty)?], [$($opt:ident : $opt_ty:ty),*]) => {{
        let id = <seclai_gen::ops::$desc as seclai_gen::Operation>::ID;
        let model = $ops.iter().find(|m| m.name == id).expect("model for descriptor");
        let sample = xtask::listing::sample($doc, model);
        let n = stringify!($name);
        let mut reqs = sample.required.iter();
        $( let $req: $req_ty = value(n, reqs.next()); )*
        $( let body: $body_ty = value(n, sample.body.as_ref()); )?
        let mut opts = sample.optional.iter();
        $( let $opt: $opt_ty = value(n, opts.next()); )*
        let call = $ac.$name($($req.clone(),)* $(&<$body_ty as Clone>::clone(&body))?);
        $( let call = call.$opt($opt.clone()); )*
        let _ = seclai_tests::rt().block_on(async move { call.await });
        let call = $bc.$name($($req.clone(),)* $(&<$body_ty as Clone>::clone(&body))?);
        $( let call = call.$opt($opt.clone()); )*
        let _ = call.send();
        $names.push(n);
    }};
}

#[test]
fn both_clients_send_identical_requests_for_every_operation() {
    let (a, b, names) = seclai_gen::for_each_operation!(parity);
    let (ra, rb) = (a.requests(), b.requests());
    assert_eq!(ra.len(), names.len(), "every async call reached the server");
    assert_eq!(
        rb.len(),
        names.len(),
        "every blocking call reached the server"
    );
    let mut mismatches = Vec::new();
    for ((name, x), y) in names.iter().zip(&ra).zip(&rb) {
        if wire(x) != wire(y) {
            mismatches.push(format!(
                "{name}:\n--- async\n{}\n--- blocking\n{}",
                wire(x),
                wire(y)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
    // The method list both clients share, for review when the table changes.
    insta::assert_snapshot!("client_methods", names.join("\n"));
}
