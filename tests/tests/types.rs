//! Request and response types users hold: constructors and `Default` with
//! the spec's defaults, what is (not) serialized, tolerant decoding, integer
//! inputs of any primitive type, and range checks before anything is sent.

use seclai_gen::Operation;
use seclai_gen::ops::{ListAgents, TestCompactionPromptStandalone};
use seclai_gen::support::InputLocation;
use seclai_gen::types::{
    AgentRunAttemptResponse, CreateAgentRequest, RemoveEmailDomainResponse, RunStatus,
    SendTestEmailResponse, StandaloneTestCompactionRequest, UpdateSourceBody,
};
use serde_json::json;

#[test]
fn new_takes_only_required_fields_and_fills_spec_defaults() {
    let req = CreateAgentRequest::new("bot").description("answers mail");
    assert_eq!(req.name, "bot");
    assert_eq!(req.trigger_type, "dynamic_input", "the spec default");
    // Unset optional fields are left out, never sent as null; a field with
    // a spec default is sent with its value.
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"name": "bot", "description": "answers mail", "trigger_type": "dynamic_input"})
    );
}

#[test]
fn types_without_required_fields_default_to_the_spec_defaults() {
    let body = UpdateSourceBody::default();
    let sent = serde_json::to_value(&body).unwrap();
    assert!(
        sent.as_object().unwrap().values().all(|v| !v.is_null()),
        "an unset field went out as null: {sent}"
    );
    // Setters, and struct update syntax from `Default`; a tri-state field
    // can still be sent as an explicit null.
    let body = UpdateSourceBody::default().name("docs");
    assert_eq!(serde_json::to_value(&body).unwrap()["name"], "docs");
    let body = UpdateSourceBody {
        name: Some(None),
        ..Default::default()
    };
    assert_eq!(serde_json::to_value(&body).unwrap()["name"], json!(null));
}

#[test]
fn a_response_missing_a_defaulted_field_decodes_to_the_default() {
    let r: SendTestEmailResponse = serde_json::from_value(json!({})).unwrap();
    assert!(r.sent, "spec default of `sent` is true");
    let r: RemoveEmailDomainResponse = serde_json::from_value(json!({})).unwrap();
    assert!(r.removed);
    assert_eq!(r.cleanup_note, None);
}

#[test]
fn unknown_fields_and_enum_values_still_decode() {
    let r: SendTestEmailResponse =
        serde_json::from_value(json!({"sent": false, "added_later": {"x": 1}})).unwrap();
    assert!(!r.sent);
    let status: RunStatus = serde_json::from_value(json!("paused_for_review")).unwrap();
    assert_eq!(status, RunStatus::Unknown("paused_for_review".into()));
    // Inside a response type too, next to a field this SDK does not know.
    let attempt: AgentRunAttemptResponse = serde_json::from_value(json!({
        "status": "paused_for_review", "started_at": null, "ended_at": null,
        "duration": null, "error": null, "brand_new_field": [1, 2]
    }))
    .unwrap();
    assert_eq!(attempt.status.as_str(), "paused_for_review");
}

#[test]
fn integer_inputs_take_any_primitive_integer() {
    let n: usize = 50;
    let op = ListAgents::new().limit(n).page(2u32);
    assert_eq!(op.path_and_query(), "/agents?page=2&limit=50");
    assert_eq!(op.check(), Ok(()));
    let op = ListAgents::new().limit(7i64).page(1u8);
    assert_eq!(op.path_and_query(), "/agents?page=1&limit=7");
    // A literal needs no suffix.
    assert_eq!(ListAgents::new().limit(5).limit, Some(5));
}

#[test]
fn out_of_range_integers_fail_check_naming_the_input_and_limits() {
    let err = ListAgents::new().limit(500usize).check().unwrap_err();
    assert!(
        err.contains("`limit`") && err.contains("between 1 and 100") && err.contains("500"),
        "{err}"
    );
    let err = ListAgents::new().page(0u32).check().unwrap_err();
    assert!(
        err.contains("`page`") && err.contains("at least 1"),
        "{err}"
    );
    // Beyond i64: saturates, then fails the same check.
    let err = ListAgents::new().limit(u64::MAX).check().unwrap_err();
    assert!(err.contains("between 1 and 100"), "{err}");

    // Body fields with limits are checked too.
    let body = StandaloneTestCompactionRequest {
        entry_count: 1,
        ..StandaloneTestCompactionRequest::new("summarize")
    };
    let err = TestCompactionPromptStandalone::new(body)
        .check()
        .unwrap_err();
    assert!(
        err.contains("body field `entry_count`") && err.contains("between 2 and 20"),
        "{err}"
    );
    let ok = StandaloneTestCompactionRequest::new("summarize").entry_count(20usize);
    assert_eq!(TestCompactionPromptStandalone::new(ok).check(), Ok(()));
}

#[test]
fn inputs_are_described_as_data() {
    let limit = ListAgents::INPUTS
        .iter()
        .find(|i| i.name == "limit")
        .expect("limit is listed");
    assert_eq!(limit.location, InputLocation::Query);
    assert!(!limit.required);
    assert_eq!(limit.rust_type, "i64");
    assert_eq!(limit.facts, "integer, optional, default `20`, 1 to 100");
    let body = TestCompactionPromptStandalone::INPUTS
        .iter()
        .find(|i| i.location == InputLocation::Body)
        .expect("the body is listed");
    assert_eq!(body.rust_type, "StandaloneTestCompactionRequest");
    assert!(body.required);
}
