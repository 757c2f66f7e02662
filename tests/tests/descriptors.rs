//! Focused checks of descriptor rendering and of the generated types' serde
//! behaviour (open enums, nullable fields, tri-state PATCH fields).

use seclai_gen::Operation;
use seclai_gen::ops::{CancelSourceExport, GetAgent, Search};
use seclai_gen::types::{AgentRunResponse, DocsSearchMode, UpdateAgentRequest};
use serde_json::json;

#[test]
fn path_parameters_stay_in_one_segment() {
    let op = GetAgent::new("a/b?c#d%e..f é");
    assert_eq!(op.path_and_query(), "/agents/a%2Fb%3Fc%23d%25e..f%20%C3%A9");
    assert_eq!(op.check(), Ok(()));

    let op = CancelSourceExport::new("s 1", "../e");
    assert_eq!(op.path_and_query(), "/sources/s%201/exports/..%2Fe/cancel");
}

#[test]
fn check_rejects_empty_and_dot_segments() {
    for bad in ["", ".", ".."] {
        let err = GetAgent::new(bad)
            .check()
            .expect_err("must reject a dot or empty segment");
        assert!(err.contains("agent_id"), "error names the parameter: {err}");
    }
    // The second path parameter is checked too.
    let err = CancelSourceExport::new("src", "..")
        .check()
        .expect_err("must reject `..`");
    assert!(err.contains("export_id"), "{err}");
    // Dots inside a longer value are harmless.
    assert_eq!(GetAgent::new("...").check(), Ok(()));
    assert_eq!(GetAgent::new("a..b").check(), Ok(()));
}

#[test]
fn query_values_are_encoded() {
    let op = Search::new("x y").entity_type("a b&c=d#e");
    assert_eq!(
        op.path_and_query(),
        "/search?q=x%20y&entity_type=a%20b%26c%3Dd%23e"
    );
    // Unset optional parameters are left out.
    assert_eq!(Search::new("q").path_and_query(), "/search?q=q");
    assert_eq!(
        Search::new("q").limit(5).path_and_query(),
        "/search?q=q&limit=5"
    );
}

#[test]
fn open_enums_keep_unknown_values() {
    let mode: DocsSearchMode = serde_json::from_value(json!("hybrid-v2")).unwrap();
    assert_eq!(mode, DocsSearchMode::Unknown("hybrid-v2".to_string()));
    assert_eq!(mode.as_str(), "hybrid-v2");
    assert_eq!(serde_json::to_value(&mode).unwrap(), json!("hybrid-v2"));

    let known: DocsSearchMode = serde_json::from_value(json!("semantic")).unwrap();
    assert_eq!(known, DocsSearchMode::Semantic);
    assert_eq!(serde_json::to_value(&known).unwrap(), json!("semantic"));
}

#[test]
fn missing_nullable_response_fields_deserialize() {
    let run: AgentRunResponse = serde_json::from_value(json!({
        "attempts": [],
        "error_count": 0,
        "priority": false,
        "run_id": "run-1",
        "status": "completed"
    }))
    .expect("nullable fields may be absent");
    assert_eq!(run.output, None);
    assert_eq!(run.credits, None);
    assert_eq!(run.run_id, "run-1");

    let run: AgentRunResponse = serde_json::from_value(json!({
        "attempts": [],
        "error_count": 0,
        "priority": false,
        "run_id": "run-1",
        "status": "completed",
        "output": null,
        "credits": 1.5
    }))
    .unwrap();
    assert_eq!(run.output, None);
    assert_eq!(run.credits, Some(1.5));
}

#[test]
fn patch_fields_are_tri_state() {
    let omitted = UpdateAgentRequest::default();
    let cleared = UpdateAgentRequest {
        description: Some(None),
        ..Default::default()
    };
    let set = UpdateAgentRequest {
        description: Some(Some("new".to_string())),
        ..Default::default()
    };
    // Other fields (e.g. `set_*` flags with a spec default) may be present;
    // only the `description` key matters here.
    let description = |body: &UpdateAgentRequest| {
        serde_json::to_value(body)
            .unwrap()
            .as_object()
            .expect("an object")
            .get("description")
            .cloned()
    };
    assert_eq!(description(&omitted), None, "None omits the key");
    assert_eq!(
        description(&cleared),
        Some(json!(null)),
        "Some(None) sends null"
    );
    assert_eq!(
        description(&set),
        Some(json!("new")),
        "Some(Some(v)) sends v"
    );

    let back: UpdateAgentRequest = serde_json::from_value(json!({"description": null})).unwrap();
    assert_eq!(back.description, Some(None));
    let back: UpdateAgentRequest = serde_json::from_value(json!({})).unwrap();
    assert_eq!(back.description, None);
    let back: UpdateAgentRequest = serde_json::from_value(json!({"description": "x"})).unwrap();
    assert_eq!(back.description, Some(Some("x".to_string())));

    // The body a descriptor sends follows the same rules.
    let op = seclai_gen::ops::UpdateAgent::new("a", cleared);
    let body = op.body().unwrap().expect("PATCH has a body");
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent.get("description"), Some(&json!(null)));
}
