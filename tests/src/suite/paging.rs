//! Paged lists.

use super::{client, client_with};
use crate::harness::Harness;
use seclai_core::call::Call;
use seclai_core::raw::RawPaginator;
use seclai_gen::ops;
use seclai_testkit::raw::{RawServer, RecordedRequest, Script};

fn agent_json(i: usize) -> serde_json::Value {
    serde_json::json!({"id": format!("a{i}"), "name": "A", "created_at": "t", "updated_at": "t",
        "prompt_model_auto_upgrade_strategy": "none"})
}

fn query_num(req: &RecordedRequest, key: &str) -> Option<usize> {
    req.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}="))?.parse().ok())
}

/// `client.list_agents()`.
fn list_agents<H: Harness>(c: &H) -> Call<H, ops::ListAgents> {
    Call::new(c.clone(), ops::ListAgents::new())
}

pub fn paginate_walks_every_page<H: Harness>() {
    let server = RawServer::with_handler(|req| {
        let page = query_num(req, "page").unwrap_or(1);
        let items: Vec<_> = (0..2)
            .map(|i| agent_json(page * 10 + i))
            .filter(|_| page <= 3)
            .collect();
        let items = if page == 3 {
            items[..1].to_vec()
        } else {
            items
        };
        Script::json(200, serde_json::json!({"data": items,
            "pagination": {"page": page, "limit": 2, "total": 5, "pages": 3, "has_next": page < 3, "has_prev": page > 1}}).to_string())
    });
    let items = H::all_items(list_agents(&client::<H>(&server)).limit(2).paginate()).unwrap();
    let ids: Vec<_> = items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, ["a10", "a11", "a20", "a21", "a30"]);
    let qs: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.path_and_query.clone())
        .collect();
    assert_eq!(
        qs,
        [
            "/agents?page=1&limit=2",
            "/agents?page=2&limit=2",
            "/agents?page=3&limit=2"
        ]
    );
    let capped = H::all_items(
        list_agents(&client::<H>(&server))
            .limit(2)
            .paginate_max(Some(3)),
    )
    .unwrap();
    assert_eq!(capped.len(), 3);
}

pub fn paginate_stops_on_repeats_and_servers_that_ignore_limit<H: Harness>() {
    let server = RawServer::with_handler(|_| {
        let items: Vec<_> = (0..5).map(agent_json).collect();
        Script::json(
            200,
            serde_json::json!({"data": items, "pagination": {"has_next": true}}).to_string(),
        )
    });
    let items = H::all_items(list_agents(&client::<H>(&server)).limit(2).paginate()).unwrap();
    assert_eq!(items.len(), 5, "the repeated page is not yielded again");
    assert_eq!(server.hits(), 2);
}

pub fn raw_paginate_reads_declared_envelopes<H: Harness>() {
    let server = RawServer::with_handler(|req| {
        let page = query_num(req, "page").unwrap_or(1);
        let kbs: Vec<_> = (0..2)
            .map(|i| serde_json::json!({"id": page * 10 + i}))
            .collect();
        Script::json(
            200,
            serde_json::json!({"knowledge_bases": kbs, "total": 4, "page": page, "limit": 2})
                .to_string(),
        )
    });
    let pages = RawPaginator::new(
        client::<H>(&server),
        http::Method::GET,
        "/knowledge_bases".into(),
    );
    let items = H::all_items(pages.items_key("knowledge_bases").limit(2).items()).unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(server.hits(), 2, "stops once the total is reached");
}

pub fn paginate_reports_errors_as_items<H: Harness>() {
    let server = RawServer::start(vec![Script::json(500, r#"{"detail":"boom"}"#)]);
    let c: H = client_with(&server, |o| {
        o.api_key = Some("k".into());
        o.max_retries = Some(0);
    });
    let e = H::all_items(list_agents(&c).paginate()).unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
}
