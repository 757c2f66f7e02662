//! Typed webhook payloads.
//!
//! Seclai posts a JSON object with an `event` name and a `data` object to a
//! configured URL. [`WebhookEvent::parse`] reads such a body; event names
//! and fields this SDK does not know are kept, so a newer server never makes
//! parsing fail.
//!
//! ```
//! use seclai_core::webhook::{WebhookEvent, WebhookEventKind};
//! let body = br#"{"event":"agent.run.completed","data":{"run_id":"r1","status":"completed"}}"#;
//! let event = WebhookEvent::parse(body).unwrap();
//! assert_eq!(event.event, WebhookEventKind::AgentRunCompleted);
//! assert_eq!(event.run_id(), Some("r1"));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::{DecodeError, Error, Result, decode_json};

/// The kind of a webhook event. Unknown names are kept in
/// [`Unknown`](Self::Unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WebhookEventKind {
    /// `agent.run.completed`: an agent run finished successfully.
    AgentRunCompleted,
    /// `agent.run.failed`: an agent run ended with an error.
    AgentRunFailed,
    /// Any other event name, as sent.
    Unknown(String),
}

impl WebhookEventKind {
    /// The event name as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            WebhookEventKind::AgentRunCompleted => "agent.run.completed",
            WebhookEventKind::AgentRunFailed => "agent.run.failed",
            WebhookEventKind::Unknown(name) => name,
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> WebhookEventKind {
        match name {
            "agent.run.completed" => WebhookEventKind::AgentRunCompleted,
            "agent.run.failed" => WebhookEventKind::AgentRunFailed,
            other => WebhookEventKind::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for WebhookEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WebhookEventKind {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WebhookEventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(WebhookEventKind::from_name(&name))
    }
}

/// One webhook delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// What happened.
    pub event: WebhookEventKind,
    /// The event's payload (`null` when the body had none). Any JSON value
    /// is accepted; see [`run_id`](Self::run_id) and friends for the common
    /// fields.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
    /// Every other top-level field, as sent.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl WebhookEvent {
    /// Parses a webhook body.
    ///
    /// Fails with [`Error::Decode`] when the body is not a JSON object or
    /// has no string `event` field.
    pub fn parse(body: &[u8]) -> Result<WebhookEvent> {
        let value: Value = decode_json(StatusCode::OK, body)?;
        let kind = match &value {
            Value::Object(map) => match map.get("event") {
                Some(Value::String(_)) => None,
                Some(_) => Some("`event` must be a string"),
                None => Some("missing field `event`"),
            },
            _ => Some("a webhook body must be a JSON object"),
        };
        if let Some(message) = kind {
            let path = if matches!(value, Value::Object(_)) {
                "$.event"
            } else {
                "$"
            };
            return Err(Error::Decode(DecodeError::new(
                StatusCode::OK,
                path,
                message,
            )));
        }
        serde_json::from_value(value)
            .map_err(|e| Error::Decode(DecodeError::new(StatusCode::OK, "$", e.to_string())))
    }

    /// A string field of `data`, else of the top level.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.data
            .get(name)
            .and_then(Value::as_str)
            .or_else(|| self.extra.get(name).and_then(Value::as_str))
    }

    /// The run the event is about (`run_id`).
    pub fn run_id(&self) -> Option<&str> {
        self.field("run_id")
    }

    /// The agent the event is about (`agent_id`).
    pub fn agent_id(&self) -> Option<&str> {
        self.field("agent_id")
    }

    /// The run's status (`status`).
    pub fn status(&self) -> Option<&str> {
        self.field("status")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_known_events() {
        let e = WebhookEvent::parse(
            br#"{"event":"agent.run.completed","data":{"run_id":"r1","agent_id":"a1","status":"completed","output":"hi"},"timestamp":"2024-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(e.event, WebhookEventKind::AgentRunCompleted);
        assert_eq!(
            (e.run_id(), e.agent_id(), e.status()),
            (Some("r1"), Some("a1"), Some("completed"))
        );
        assert_eq!(e.data["output"], "hi");
        assert_eq!(e.extra["timestamp"], "2024-01-01T00:00:00Z");

        let e = WebhookEvent::parse(br#"{"event":"agent.run.failed","run_id":"r2"}"#).unwrap();
        assert_eq!(e.event, WebhookEventKind::AgentRunFailed);
        assert_eq!(e.data, Value::Null);
        assert_eq!(e.run_id(), Some("r2"));
    }

    #[test]
    fn keeps_unknown_events_and_fields() {
        let body =
            json!({"event": "content.indexed", "data": [1, 2], "id": 9, "nested": {"a": true}});
        let e = WebhookEvent::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(e.event, WebhookEventKind::Unknown("content.indexed".into()));
        assert_eq!(e.event.to_string(), "content.indexed");
        assert_eq!(e.run_id(), None);
        assert_eq!(e.extra.len(), 2);
        // Round-trips to the same JSON.
        assert_eq!(serde_json::to_value(&e).unwrap(), body);
    }

    #[test]
    fn rejects_bad_bodies_with_decode_errors() {
        for (body, path) in [
            (&b"not json"[..], None),
            (b"", Some("$")),
            (b"[]", Some("$")),
            (b"{}", Some("$.event")),
            (b"{\"event\": 5}", Some("$.event")),
            (b"{\"data\": {}}", Some("$.event")),
        ] {
            match WebhookEvent::parse(body) {
                Err(Error::Decode(d)) => {
                    if let Some(p) = path {
                        assert_eq!(d.path, p, "{body:?}");
                    }
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for name in ["agent.run.completed", "agent.run.failed", "x"] {
            assert_eq!(WebhookEventKind::from_name(name).as_str(), name);
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = WebhookEvent::parse(&body);
        }
    }
}
