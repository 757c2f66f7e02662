//! Our override tables (`openapi/overrides.toml`): method names, aliases,
//! operation kinds the spec does not state, and schema renames.

use crate::error::{GenError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One `[operations."METHOD /path"]` entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OpOverride {
    /// The method name both clients expose.
    pub name: Option<String>,
    /// Further method names for the same operation.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `json`, `multipart`, `event-stream` or `binary`.
    pub kind: Option<String>,
    /// A hand-written helper owns the method name (the clients skip it).
    #[serde(default)]
    pub helper: bool,
}

/// The whole table.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// Keyed by `"METHOD /path"`.
    #[serde(default)]
    pub operations: BTreeMap<String, OpOverride>,
    /// Original component name → our name.
    #[serde(default)]
    pub schemas: BTreeMap<String, String>,
}

impl Overrides {
    /// Read the table; a missing file means no overrides.
    pub fn load(path: &Path) -> Result<Overrides> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| e.in_file(&file)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Overrides::default()),
            Err(e) => Err(GenError::at("", format!("cannot read overrides: {e}")).in_file(&file)),
        }
    }

    /// Parse the TOML text.
    pub fn parse(text: &str) -> Result<Overrides> {
        let o: Overrides = toml::from_str(text)
            .map_err(|e| GenError::at("", format!("invalid override table: {e}")))?;
        for (key, entry) in &o.operations {
            if let Some(kind) = &entry.kind
                && !matches!(
                    kind.as_str(),
                    "json" | "multipart" | "event-stream" | "binary"
                )
            {
                return Err(GenError::at(
                    format!("/operations/{key}/kind"),
                    format!("unknown kind {kind:?}; use json, multipart, event-stream or binary"),
                ));
            }
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_rejects_unknown_kinds() {
        let o = Overrides::parse(
            r#"
            [operations."DELETE /x/{id}"]
            name = "delete_x"
            aliases = ["cancel_x"]
            helper = true
            [schemas]
            "a__B" = "AB"
            "#,
        )
        .unwrap();
        assert_eq!(o.operations["DELETE /x/{id}"].aliases, vec!["cancel_x"]);
        assert!(o.operations["DELETE /x/{id}"].helper);
        assert_eq!(o.schemas["a__B"], "AB");
        let e = Overrides::parse("[operations.\"GET /x\"]\nkind = \"xml\"\n").unwrap_err();
        assert!(e.message.contains("unknown kind"));
        assert!(Overrides::parse("[operations.\"GET /x\"]\nnmae = \"x\"\n").is_err());
    }
}
