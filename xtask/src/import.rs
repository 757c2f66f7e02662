//! `cargo xtask import`: the structure-only copy of a Seclai OpenAPI document.
//!
//! The repository commits what generation reads (paths, operations,
//! parameters, bodies, responses, schemas with their enums, defaults, limits
//! and formats, `x-` extensions, operation summaries, titles) and leaves out
//! the prose: `description`, `example`, `examples`, `externalDocs`,
//! `$comment`, and `info.contact` / `info.termsOfService`. The copy is written
//! with sorted keys and two-space indentation, so importing a newer spec
//! shows the API change as a readable diff.
//!
//! A key is only dropped where it is a keyword. Maps whose keys are names
//! (`properties`, `paths`, `responses`, `content`, …) keep every entry, so a
//! schema property called `description` stays; values that are data (`enum`,
//! `default`, `const`, `x-…`, …) are copied untouched.
//!
//! The generated files' header carries the sha256 of this canonical form
//! (see [`crate::spec`]), so generating from the full document and from its
//! import gives the same bytes; [`verify`] proves it for each import.

use crate::error::{GenError, Result};
use crate::overrides::Overrides;
use crate::spec::{self, LoadedSpec};
use serde_json::{Map, Value};
use std::path::Path;

/// Keywords holding prose, dropped wherever they are keywords.
const PROSE: &[&str] = &[
    "description",
    "example",
    "examples",
    "externalDocs",
    "$comment",
    "contact",
    "termsOfService",
];

/// Keywords whose value is a map from names to OpenAPI objects: the names
/// are kept as they are and each value is visited as an object of its own.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
    "paths",
    "webhooks",
    "pathItems",
    "schemas",
    "parameters",
    "requestBodies",
    "responses",
    "headers",
    "content",
    "encoding",
    "links",
    "callbacks",
    "securitySchemes",
    "variables",
];

/// Keywords whose value is data (copied untouched, whatever keys it holds).
const DATA: &[&str] = &[
    "enum",
    "const",
    "default",
    "required",
    "security",
    "discriminator",
    "scopes",
];

/// The structure-only form of an OpenAPI document (keys in sorted order).
pub fn structure_only(doc: &Value) -> Value {
    match doc {
        Value::Object(obj) => {
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                let value = &obj[key];
                if PROSE.contains(&key.as_str()) {
                    continue;
                }
                let kept = if DATA.contains(&key.as_str()) || key.starts_with("x-") {
                    sorted(value)
                } else if NAME_MAPS.contains(&key.as_str()) && value.is_object() {
                    name_map(value)
                } else {
                    structure_only(value)
                };
                out.insert(key.clone(), kept);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(structure_only).collect()),
        other => other.clone(),
    }
}

/// A map from names to objects: every name kept, every value stripped.
fn name_map(value: &Value) -> Value {
    let Value::Object(obj) = value else {
        return structure_only(value);
    };
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    let mut out = Map::new();
    for key in keys {
        out.insert(key.clone(), structure_only(&obj[key]));
    }
    Value::Object(out)
}

/// A copy with every map's keys in sorted order, nothing dropped. (Without
/// serde_json's `preserve_order` maps are sorted anyway; with it, insertion
/// order is what gets written, so the order is made explicit here.)
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(obj) => {
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&obj[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The text `import` writes for `doc`: structure only, sorted keys,
/// two-space indentation, a final newline.
pub fn canonical_text(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&structure_only(doc))
        .expect("a serde_json::Value always serializes");
    text.push('\n');
    text
}

/// Read the document at `path` and return the text of its structure-only
/// copy, after checking that generating from the copy (named `out_name` in
/// messages) gives the same code as generating from the document. Errors
/// are the same one-paragraph errors as `generate`'s.
pub fn import(path: &Path, out_name: &str, overrides: &Overrides) -> Result<String> {
    let full = spec::load(path)?;
    import_loaded(&full, out_name, overrides)
}

/// [`import`] for a document already loaded.
pub fn import_loaded(full: &LoadedSpec, out_name: &str, overrides: &Overrides) -> Result<String> {
    let text = canonical_text(&full.doc);
    let imported = spec::parse(text.as_bytes(), out_name)?;
    verify(full, &imported, |l| crate::generate_loaded(l, overrides))?;
    Ok(text)
}

/// Check that generating from `full` and from `imported` gives the same
/// files. `generate` is the generator (a parameter so tests can stand in a
/// generator that reads a dropped field). The error names the first file
/// that differs and shows the start of the difference.
pub fn verify<G>(full: &LoadedSpec, imported: &LoadedSpec, generate: G) -> Result<()>
where
    G: Fn(&LoadedSpec) -> Result<crate::Generated>,
{
    let from_full = generate(full)?;
    let from_import = generate(imported).map_err(|e| {
        GenError::at(
            e.pointer.clone(),
            format!(
                "the full document generates, but its structure-only copy does not \
                 (import drops something generation needs): {}",
                e.message
            ),
        )
        .in_file(&full.file)
    })?;
    let names = from_full.files.keys().chain(from_import.files.keys());
    for name in names {
        let a = from_full.files.get(name).map(String::as_str).unwrap_or("");
        let b = from_import
            .files
            .get(name)
            .map(String::as_str)
            .unwrap_or("");
        if a == b {
            continue;
        }
        let diff = short_diff(a, b, &format!("{name} (full)"), &format!("{name} (import)"));
        return Err(GenError::at(
            "",
            format!(
                "generating from the structure-only copy gives different code than from \
                 the full document, so generation reads something `import` drops; teach \
                 xtask/src/import.rs to keep it. First difference, in {name}:\n{diff}"
            ),
        )
        .in_file(&full.file));
    }
    Ok(())
}

/// A unified diff of `old` → `new`, cut to its first 40 lines.
pub fn short_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    const MAX: usize = 40;
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(2)
        .header(old_name, new_name)
        .to_string();
    let total = text.lines().count();
    let mut out: Vec<&str> = text.lines().take(MAX).collect();
    let more;
    if total > MAX {
        more = format!("… ({} more diff lines)", total - MAX);
        out.push(&more);
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_prose_keywords_but_keeps_names_and_data() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "T", "version": "1", "description": "prose",
                     "contact": {"email": "a@b"}, "termsOfService": "x"},
            "externalDocs": {"url": "https://example.invalid"},
            "tags": [{"name": "agents", "description": "prose"}],
            "paths": {"/description": {"get": {
                "summary": "List",
                "description": "prose",
                "parameters": [{"name": "description", "in": "query",
                                "description": "prose", "example": "e",
                                "schema": {"type": "string", "examples": ["e"]}}],
                "responses": {
                    "default": {"description": "prose", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Thing"},
                        "example": {"a": 1}}}}
                }
            }}},
            "components": {"schemas": {
                "description": {"type": "object", "description": "a schema named description"},
                "Thing": {
                    "type": "object",
                    "title": "Thing",
                    "description": "prose",
                    "$comment": "c",
                    "required": ["description", "example"],
                    "properties": {
                        "description": {"type": "string", "description": "prose", "maxLength": 9},
                        "example": {"type": "string", "default": "x", "format": "uri"},
                        "examples": {"type": "integer", "minimum": 1},
                        "meta": {"type": "object",
                                 "default": {"description": "data, kept", "example": 1}},
                        "kind": {"enum": ["description", "example"]}
                    }
                }
            }},
            "x-seclai-versions": {"known": ["a"], "description": "data, kept"}
        });
        let want = json!({
            "openapi": "3.1.0",
            "info": {"title": "T", "version": "1"},
            "tags": [{"name": "agents"}],
            "paths": {"/description": {"get": {
                "summary": "List",
                "parameters": [{"name": "description", "in": "query",
                                "schema": {"type": "string"}}],
                "responses": {
                    "default": {"content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Thing"}}}}
                }
            }}},
            "components": {"schemas": {
                "description": {"type": "object"},
                "Thing": {
                    "type": "object",
                    "title": "Thing",
                    "required": ["description", "example"],
                    "properties": {
                        "description": {"type": "string", "maxLength": 9},
                        "example": {"type": "string", "default": "x", "format": "uri"},
                        "examples": {"type": "integer", "minimum": 1},
                        "meta": {"type": "object",
                                 "default": {"description": "data, kept", "example": 1}},
                        "kind": {"enum": ["description", "example"]}
                    }
                }
            }},
            "x-seclai-versions": {"known": ["a"], "description": "data, kept"}
        });
        assert_eq!(structure_only(&doc), want);
    }

    #[test]
    fn canonical_text_is_sorted_indented_and_idempotent() {
        let doc = json!({"paths": {}, "openapi": "3.1.0", "info": {"version": "1", "title": "T"}});
        let text = canonical_text(&doc);
        assert_eq!(
            text,
            "{\n  \"info\": {\n    \"title\": \"T\",\n    \"version\": \"1\"\n  },\n  \
             \"openapi\": \"3.1.0\",\n  \"paths\": {}\n}\n"
        );
        let again: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(canonical_text(&again), text);
    }

    /// A small spec with prose everywhere, and a property and a parameter
    /// named like the dropped keywords.
    fn fixture() -> LoadedSpec {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "T", "version": "1", "description": "About the API."},
            "x-seclai-versions": {"known": ["2026-01-01"], "default": "2026-01-01",
                                  "latest": "2026-01-01"},
            "paths": {"/items/{item_id}": {"get": {
                "operationId": "get_item_api_items__item_id__get",
                "summary": "Get an item",
                "description": "Returns the item.",
                "parameters": [
                    {"name": "item_id", "in": "path", "required": true,
                     "description": "Which item.", "schema": {"type": "string"}},
                    {"name": "description", "in": "query", "example": "x",
                     "schema": {"anyOf": [{"type": "string"}, {"type": "null"}],
                                "description": "Filter."}}
                ],
                "responses": {"200": {"description": "The item.", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Item"},
                                         "example": {"id": "1"}}}}}
            }}},
            "components": {"schemas": {"Item": {
                "type": "object", "title": "Item", "description": "An item.",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "title": "Id", "examples": ["1"]},
                    "description": {"type": "string", "description": "Its text.",
                                    "default": ""},
                    "kind": {"enum": ["a", "b"], "description": "Kind."}
                }
            }}}
        });
        spec::parse(doc.to_string().as_bytes(), "full.json").unwrap()
    }

    #[test]
    fn import_generates_the_same_code_as_the_full_document() {
        let full = fixture();
        let overrides = Overrides::default();
        let text = import_loaded(&full, "copy.json", &overrides).unwrap();
        assert!(!text.contains("About the API"));
        assert!(!text.contains("Returns the item"));
        assert!(
            text.contains("\"description\": {"),
            "the property stays:\n{text}"
        );
        let imported = spec::parse(text.as_bytes(), "copy.json").unwrap();
        assert_eq!(imported.sha256, full.sha256);
        let a = crate::generate_loaded(&full, &overrides).unwrap();
        let b = crate::generate_loaded(&imported, &overrides).unwrap();
        assert_eq!(a.files, b.files);
        assert!(
            a.files["ops.rs"].contains("Get an item"),
            "summaries are kept"
        );
        assert!(
            a.files["types.rs"].contains("description"),
            "the field is generated"
        );
    }

    #[test]
    fn a_generator_reading_dropped_prose_is_refused() {
        let full = fixture();
        let overrides = Overrides::default();
        let imported = spec::parse(canonical_text(&full.doc).as_bytes(), "copy.json").unwrap();
        // Stands in for a generator change that starts reading descriptions.
        let reads_prose = |l: &LoadedSpec| {
            let mut g = crate::generate_loaded(l, &overrides)?;
            let prose = l
                .doc
                .pointer("/paths/~1items~1{item_id}/get/description")
                .and_then(Value::as_str)
                .unwrap_or("");
            g.files
                .get_mut("ops.rs")
                .expect("ops.rs is generated")
                .push_str(&format!("// {prose}\n"));
            Ok(g)
        };
        let e = verify(&full, &imported, reads_prose).unwrap_err();
        assert_eq!(e.file, "full.json");
        assert!(e.message.contains("in ops.rs"), "{e}");
        assert!(e.message.contains("-// Returns the item."), "{e}");
        verify(&full, &imported, |l| crate::generate_loaded(l, &overrides)).unwrap();
    }

    #[test]
    fn bad_input_is_the_generate_error() {
        let overrides = Overrides::default();
        let e = import(Path::new("/nonexistent/x.json"), "out.json", &overrides).unwrap_err();
        assert_eq!(e.file, "/nonexistent/x.json");
        let e = spec::parse(br#"{"openapi":"2.0"}"#, "x.json")
            .and_then(|l| import_loaded(&l, "out.json", &overrides))
            .unwrap_err();
        assert_eq!(e.pointer, "/openapi");
    }

    #[test]
    fn short_diff_is_cut() {
        let old: String = (0..100).map(|i| format!("{i}\n")).collect();
        let new: String = (0..100).map(|i| format!("{}\n", i * 2)).collect();
        let d = short_diff(&old, &new, "a", "b");
        assert_eq!(d.lines().count(), 41, "{d}");
        assert!(d.ends_with("more diff lines)"), "{d}");
        assert!(d.starts_with("--- a\n+++ b\n"), "{d}");
    }
}
