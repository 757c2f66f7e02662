//! The normalizer: small, named rewrites of the spec (as JSON) that turn what
//! FastAPI emits (OpenAPI 3.1) into what progenitor/typify read well (3.0.3),
//! and up-front checks that name the offending schema instead of letting the
//! type generator panic or silently merge types.

use crate::error::{GenError, Result, ptr_token};
use heck::ToUpperCamelCase;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A JSON object (a schema, an operation, …).
pub type Obj = Map<String, Value>;

/// Keywords we understand in a schema object. Anything else (other than
/// `x-` extensions) is reported, with its pointer, rather than guessed at.
const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "enum",
    "const",
    "nullable",
    "default",
    "format",
    "description",
    "title",
    "examples",
    "example",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
    "deprecated",
    "contentMediaType",
    "contentEncoding",
    "$comment",
    "discriminator",
];

/// Visit every schema object under `v` (itself included), children first.
pub fn walk_schema(
    v: &mut Value,
    ptr: &str,
    f: &mut dyn FnMut(&str, &mut Obj) -> Result<()>,
) -> Result<()> {
    let Value::Object(obj) = v else {
        return Ok(());
    };
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = obj.get_mut(key) {
            for (name, s) in props.iter_mut() {
                walk_schema(s, &format!("{ptr}/{key}/{}", ptr_token(name)), f)?;
            }
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        match obj.get_mut(key) {
            Some(s @ Value::Object(_)) => walk_schema(s, &format!("{ptr}/{key}"), f)?,
            Some(Value::Array(items)) => {
                for (i, s) in items.iter_mut().enumerate() {
                    walk_schema(s, &format!("{ptr}/{key}/{i}"), f)?;
                }
            }
            _ => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(Value::Array(items)) = obj.get_mut(key) {
            for (i, s) in items.iter_mut().enumerate() {
                walk_schema(s, &format!("{ptr}/{key}/{i}"), f)?;
            }
        }
    }
    f(ptr, obj)
}

/// Visit every schema root of the document: components, parameters, bodies
/// and responses of every operation.
pub fn walk_all_schemas(
    doc: &mut Value,
    f: &mut dyn FnMut(&str, &mut Obj) -> Result<()>,
) -> Result<()> {
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        for (name, s) in schemas.iter_mut() {
            walk_schema(s, &format!("/components/schemas/{}", ptr_token(name)), f)?;
        }
    }
    let Some(Value::Object(paths)) = doc.get_mut("paths") else {
        return Ok(());
    };
    for (path, item) in paths.iter_mut() {
        let Value::Object(item) = item else { continue };
        let base = format!("/paths/{}", ptr_token(path));
        for (method, op) in item.iter_mut() {
            let at = format!("{base}/{method}");
            let Value::Object(op) = op else { continue };
            if let Some(Value::Array(params)) = op.get_mut("parameters") {
                for (i, p) in params.iter_mut().enumerate() {
                    if let Some(s) = p.get_mut("schema") {
                        walk_schema(s, &format!("{at}/parameters/{i}/schema"), f)?;
                    }
                }
            }
            if let Some(Value::Object(content)) =
                op.get_mut("requestBody").and_then(|b| b.get_mut("content"))
            {
                for (ct, media) in content.iter_mut() {
                    if let Some(s) = media.get_mut("schema") {
                        let p = format!("{at}/requestBody/content/{}/schema", ptr_token(ct));
                        walk_schema(s, &p, f)?;
                    }
                }
            }
            if let Some(Value::Object(responses)) = op.get_mut("responses") {
                for (code, r) in responses.iter_mut() {
                    if let Some(Value::Object(content)) = r.get_mut("content") {
                        for (ct, media) in content.iter_mut() {
                            if let Some(s) = media.get_mut("schema") {
                                let p = format!(
                                    "{at}/responses/{code}/content/{}/schema",
                                    ptr_token(ct)
                                );
                                walk_schema(s, &p, f)?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Rule: reject keywords we do not know, naming the schema.
pub fn check_known_keywords(ptr: &str, s: &Obj) -> Result<()> {
    for key in s.keys() {
        if !key.starts_with("x-") && !KNOWN_KEYWORDS.contains(&key.as_str()) {
            return Err(GenError::at(
                ptr,
                format!(
                    "schema keyword `{key}` is not supported by the generator; \
                     teach xtask/src/normalize.rs about it"
                ),
            ));
        }
    }
    Ok(())
}

/// Rule: drop prose (`description`, `title`, examples). Generated code carries
/// facts only, and typify merges same-titled inline types.
pub fn drop_prose(s: &mut Obj) {
    for key in ["description", "title", "examples", "example", "$comment"] {
        s.remove(key);
    }
}

/// Where [`drop_validation`] keeps the limits and string formats it takes
/// off a schema: the generator writes them into docs and range checks, and
/// the type generator never sees them (`typesgen` strips the key).
pub const FACTS: &str = "x-facts";

/// Limits and formats kept as facts; the rest of the validation keywords are
/// dropped outright.
const FACT_KEYWORDS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "format",
];

/// Rule: take validation keywords and string formats off the schema. Types
/// stay plain (`String`, `i64`, `f64`); the server validates. Integer/number
/// widths stay. Date-time strings stay `String`: the server's timestamps are
/// not all RFC 3339 with an offset, and a response must never fail on them.
/// Limits and formats move under [`FACTS`] for docs and range checks.
pub fn drop_validation(s: &mut Obj) {
    let keep_format = matches!(
        s.get("format").and_then(Value::as_str),
        Some("int32" | "int64" | "float" | "double")
    );
    let mut facts = match s.remove(FACTS) {
        Some(Value::Object(f)) => f,
        _ => Obj::new(),
    };
    for key in FACT_KEYWORDS {
        if *key == "format" && keep_format {
            continue;
        }
        if let Some(v) = s.remove(*key) {
            facts.insert((*key).to_string(), v);
        }
    }
    for key in [
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "discriminator",
    ] {
        s.remove(key);
    }
    if !facts.is_empty() {
        s.insert(FACTS.into(), Value::Object(facts));
    }
}

/// The keys of a schema that say something about its type (everything but
/// the kept facts).
pub fn structural_len(s: &Obj) -> usize {
    s.len() - usize::from(s.contains_key(FACTS))
}

/// Rule: `const: v` → `enum: [v]` (3.0 has no `const`).
pub fn const_to_enum(s: &mut Obj) {
    if let Some(c) = s.remove("const") {
        s.insert("enum".into(), Value::Array(vec![c]));
    }
}

/// Rule: 3.1 type arrays (`type: ["string", "null"]`) → `type` + `nullable`.
pub fn type_array_to_nullable(ptr: &str, s: &mut Obj) -> Result<()> {
    match s.get("type") {
        Some(Value::Array(types)) => {
            let mut rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            let nullable = rest.len() != types.len();
            match rest.len() {
                0 => {
                    s.remove("type");
                }
                1 => {
                    s.insert("type".into(), rest.remove(0));
                }
                _ => {
                    let variants = rest.into_iter().map(|t| json!({ "type": t })).collect();
                    s.remove("type");
                    s.insert("anyOf".into(), Value::Array(variants));
                }
            }
            if nullable {
                s.insert("nullable".into(), Value::Bool(true));
            }
            Ok(())
        }
        Some(Value::String(t)) if t == "null" => {
            s.remove("type");
            s.insert("nullable".into(), Value::Bool(true));
            Ok(())
        }
        Some(Value::String(_)) | None => Ok(()),
        Some(other) => Err(GenError::at(
            format!("{ptr}/type"),
            format!("`type` must be a string or an array of strings, found {other}"),
        )),
    }
}

fn is_null_schema(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null")
        || (v.get("nullable") == Some(&Value::Bool(true))
            && v.as_object().is_some_and(|o| structural_len(o) == 1))
}

/// Rule: `anyOf`/`oneOf` `[X, {type: null}]` → `X` + `nullable` (a `$ref` X
/// becomes `allOf: [$ref]` + `nullable`, the 3.0 spelling).
pub fn any_of_null_to_nullable(s: &mut Obj) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(members)) = s.get(key) else {
            continue;
        };
        if !members.iter().any(is_null_schema) {
            continue;
        }
        let mut rest: Vec<Value> = members
            .iter()
            .filter(|m| !is_null_schema(m))
            .cloned()
            .collect();
        s.remove(key);
        s.insert("nullable".into(), Value::Bool(true));
        if rest.len() == 1 {
            match rest.remove(0) {
                Value::Object(member)
                    if member.contains_key("$ref") && structural_len(&member) == 1 =>
                {
                    s.insert("allOf".into(), json!([{ "$ref": member["$ref"] }]));
                    merge_facts(s, member.get(FACTS));
                }
                Value::Object(member) => {
                    for (k, v) in member {
                        if k == "nullable" {
                            continue;
                        }
                        if k == FACTS {
                            merge_facts(s, Some(&v));
                            continue;
                        }
                        s.entry(k).or_insert(v);
                    }
                }
                other => {
                    s.insert("allOf".into(), Value::Array(vec![other]));
                }
            }
        } else if !rest.is_empty() {
            s.insert(key.into(), Value::Array(rest));
        }
    }
}

/// Add the facts of a merged member to `s`'s own (`s`'s win on a clash).
fn merge_facts(s: &mut Obj, facts: Option<&Value>) {
    let Some(Value::Object(more)) = facts else {
        return;
    };
    let mut own = match s.remove(FACTS) {
        Some(Value::Object(f)) => f,
        _ => Obj::new(),
    };
    for (k, v) in more {
        own.entry(k.clone()).or_insert_with(|| v.clone());
    }
    s.insert(FACTS.into(), Value::Object(own));
}

/// Rule: a `$ref` with sibling keywords (ignored in 3.0) → `allOf: [$ref]`
/// plus the siblings, so `default`/`nullable` next to a reference survive.
pub fn ref_siblings_to_all_of(s: &mut Obj) {
    if structural_len(s) > 1 && s.contains_key("$ref") {
        let r = s.remove("$ref").unwrap_or(Value::Null);
        s.insert("allOf".into(), json!([{ "$ref": r }]));
    }
}

/// Apply every schema-level rule to every schema in the document.
pub fn normalize_schemas(doc: &mut Value) -> Result<()> {
    walk_all_schemas(doc, &mut |ptr, s| {
        check_known_keywords(ptr, s)?;
        drop_prose(s);
        drop_validation(s);
        const_to_enum(s);
        type_array_to_nullable(ptr, s)?;
        any_of_null_to_nullable(s);
        ref_siblings_to_all_of(s);
        Ok(())
    })
}

/// Rule: declare the document 3.0.3 (what progenitor reads) once rewritten.
pub fn set_openapi_303(doc: &mut Value) {
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("openapi".into(), Value::String("3.0.3".into()));
    }
}

/// Rule: FastAPI's operation ids end in `_<mount path>_<method>`; strip it.
/// `get_agent_api_agents__agent_id__get` on `GET /agents/{agent_id}` → `get_agent`.
pub fn strip_fastapi_suffix(operation_id: &str, method: &str, path: &str) -> String {
    let slug = |p: &str| -> String {
        p.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    for prefix in ["/api", ""] {
        let suffix = format!("{}_{}", slug(&format!("{prefix}{path}")), method);
        if let Some(stem) = operation_id.strip_suffix(&suffix)
            && !stem.is_empty()
        {
            return stem.to_string();
        }
    }
    operation_id.to_string()
}

/// Rule: FastAPI handler names often carry `api_` / `_api` / `_endpoint`
/// affixes that say nothing to a caller; drop them.
pub fn strip_api_affixes(name: &str) -> String {
    let mut n = name;
    if let Some(rest) = n.strip_prefix("api_") {
        n = rest;
    }
    for suffix in ["_api", "_endpoint"] {
        if let Some(rest) = n.strip_suffix(suffix) {
            n = rest;
        }
    }
    if n.is_empty() {
        name.to_string()
    } else {
        n.to_string()
    }
}

/// Rule: component names. `routers__api__agents__AgentListResponse` →
/// `AgentListResponse`; everything UpperCamelCase; override table first;
/// a clash the table does not resolve fails naming both originals.
pub fn schema_renames(
    names: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for name in names {
        let new = match overrides.get(name) {
            Some(n) => n.clone(),
            None => match name.strip_prefix("Body_") {
                // FastAPI names form bodies `Body_<operation id>`.
                Some(rest) => {
                    let stem = rest.split("_api_").next().unwrap_or(rest);
                    format!("{}Body", stem.to_upper_camel_case())
                }
                None => {
                    let short = name.rsplit("__").next().unwrap_or(name);
                    short.to_upper_camel_case()
                }
            },
        };
        if new.is_empty() || !new.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(GenError::at(
                format!("/components/schemas/{}", ptr_token(name)),
                format!(
                    "schema name {name:?} does not give a Rust type name; add it to [schemas] in openapi/overrides.toml"
                ),
            ));
        }
        if let Some(prev) = taken.insert(new.clone(), name.clone()) {
            return Err(GenError::at(
                format!("/components/schemas/{}", ptr_token(name)),
                format!(
                    "schemas {prev:?} and {name:?} would both be named `{new}`; \
                     add one of them to [schemas] in openapi/overrides.toml"
                ),
            ));
        }
        out.insert(name.clone(), new);
    }
    Ok(out)
}

/// Rewrite every `#/components/schemas/X` reference and component key.
pub fn apply_schema_renames(doc: &mut Value, renames: &BTreeMap<String, String>) {
    fn rewrite(v: &mut Value, renames: &BTreeMap<String, String>) {
        match v {
            Value::Object(obj) => {
                for (k, child) in obj.iter_mut() {
                    if k == "$ref" {
                        if let Value::String(r) = child
                            && let Some(old) = r.strip_prefix("#/components/schemas/")
                            && let Some(new) = renames.get(old)
                        {
                            *r = format!("#/components/schemas/{new}");
                        }
                    } else {
                        rewrite(child, renames);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| rewrite(i, renames)),
            _ => {}
        }
    }
    rewrite(doc, renames);
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        let old = std::mem::take(schemas);
        for (k, v) in old {
            let new = renames.get(&k).cloned().unwrap_or(k);
            schemas.insert(new, v);
        }
    }
}

/// Is this schema a string enum (the kind we emit as an open enum)?
pub fn is_string_enum(s: &Obj) -> bool {
    match s.get("enum") {
        Some(Value::Array(vals)) => !vals.is_empty() && vals.iter().all(Value::is_string),
        _ => false,
    }
}

/// Rule: hoist every inline string enum below a component into a component
/// of its own (`<Parent><Property>`), so every enum is named and open.
pub fn hoist_inline_enums(doc: &mut Value) -> Result<()> {
    let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") else {
        return Ok(());
    };
    let mut taken: BTreeSet<String> = schemas.keys().cloned().collect();
    let mut new_components = Vec::new();
    for (name, s) in schemas.iter_mut() {
        if let Value::Object(obj) = s {
            hoist_below(obj, name, &mut taken, &mut new_components)?;
        }
    }
    for (name, s) in new_components {
        schemas.insert(name, s);
    }
    Ok(())
}

/// Replace a nested enum schema by a reference to a new component.
pub fn hoist_below(
    obj: &mut Obj,
    hint: &str,
    taken: &mut BTreeSet<String>,
    out: &mut Vec<(String, Value)>,
) -> Result<()> {
    let mut visit = |child: &mut Value, child_hint: String| -> Result<()> {
        let Value::Object(c) = child else {
            return Ok(());
        };
        if is_string_enum(c) {
            let mut name = child_hint.to_upper_camel_case();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}{n}", child_hint.to_upper_camel_case());
                n += 1;
            }
            taken.insert(name.clone());
            let nullable = c.remove("nullable") == Some(Value::Bool(true));
            let default = c.remove("default");
            let mut replacement = Obj::new();
            replacement.insert(
                "allOf".into(),
                json!([{ "$ref": format!("#/components/schemas/{name}") }]),
            );
            if nullable {
                replacement.insert("nullable".into(), Value::Bool(true));
            }
            if let Some(d) = default {
                replacement.insert("default".into(), d);
            }
            out.push((name, Value::Object(std::mem::take(c))));
            *c = replacement;
            Ok(())
        } else {
            hoist_below(c, &child_hint, taken, out)
        }
    };
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for (prop, s) in props.iter_mut() {
            visit(s, format!("{hint}_{prop}"))?;
        }
    }
    if let Some(s @ Value::Object(_)) = obj.get_mut("items") {
        visit(s, format!("{hint}_item"))?;
    }
    if let Some(s @ Value::Object(_)) = obj.get_mut("additionalProperties") {
        visit(s, format!("{hint}_value"))?;
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(items)) = obj.get_mut(key) {
            for (i, s) in items.iter_mut().enumerate() {
                visit(s, format!("{hint}_variant{i}"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Obj {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn unknown_keywords_are_named() {
        let e = check_known_keywords("/components/schemas/X", &obj(json!({"if": {}}))).unwrap_err();
        assert_eq!(e.pointer, "/components/schemas/X");
        assert!(e.message.contains("`if`"));
        assert!(check_known_keywords("/x", &obj(json!({"type": "string", "x-foo": 1}))).is_ok());
    }

    #[test]
    fn prose_is_dropped() {
        let mut s = obj(json!({"type":"string","description":"d","title":"T","example":"e"}));
        drop_prose(&mut s);
        assert_eq!(Value::Object(s), json!({"type":"string"}));
    }

    #[test]
    fn validation_and_string_formats_move_to_facts() {
        let mut s =
            obj(json!({"type":"string","format":"date-time","maxLength":3,"readOnly":true}));
        drop_validation(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"type":"string","x-facts":{"format":"date-time","maxLength":3}})
        );
        let mut s = obj(json!({"type":"integer","format":"int32","exclusiveMinimum":0.0}));
        drop_validation(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"type":"integer","format":"int32","x-facts":{"exclusiveMinimum":0.0}})
        );
        let mut s = obj(json!({"type":"boolean"}));
        drop_validation(&mut s);
        assert_eq!(Value::Object(s), json!({"type":"boolean"}));
    }

    #[test]
    fn facts_survive_nullable_merges() {
        let mut s = obj(json!({"anyOf":[
            {"type":"integer","x-facts":{"minimum":1}},{"type":"null"}],"x-facts":{"maximum":5}}));
        any_of_null_to_nullable(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"type":"integer","nullable":true,"x-facts":{"maximum":5,"minimum":1}})
        );
        let mut s = obj(json!({"$ref":"#/components/schemas/A","x-facts":{"minimum":1}}));
        ref_siblings_to_all_of(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"$ref":"#/components/schemas/A","x-facts":{"minimum":1}})
        );
    }

    #[test]
    fn const_becomes_enum() {
        let mut s = obj(json!({"const":"a"}));
        const_to_enum(&mut s);
        assert_eq!(Value::Object(s), json!({"enum":["a"]}));
    }

    #[test]
    fn type_arrays_become_nullable() {
        let mut s = obj(json!({"type":["string","null"]}));
        type_array_to_nullable("/x", &mut s).unwrap();
        assert_eq!(Value::Object(s), json!({"type":"string","nullable":true}));
        let mut s = obj(json!({"type":"null"}));
        type_array_to_nullable("/x", &mut s).unwrap();
        assert_eq!(Value::Object(s), json!({"nullable":true}));
        let mut s = obj(json!({"type":["string","integer"]}));
        type_array_to_nullable("/x", &mut s).unwrap();
        assert_eq!(
            Value::Object(s),
            json!({"anyOf":[{"type":"string"},{"type":"integer"}]})
        );
        let mut s = obj(json!({"type":3}));
        assert_eq!(
            type_array_to_nullable("/x", &mut s).unwrap_err().pointer,
            "/x/type"
        );
    }

    #[test]
    fn any_of_null_becomes_nullable() {
        let mut s = obj(json!({"anyOf":[{"type":"string"},{"type":"null"}],"default":null}));
        any_of_null_to_nullable(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"type":"string","nullable":true,"default":null})
        );
        let mut s = obj(json!({"anyOf":[{"$ref":"#/components/schemas/A"},{"type":"null"}]}));
        any_of_null_to_nullable(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"allOf":[{"$ref":"#/components/schemas/A"}],"nullable":true})
        );
        let mut s = obj(json!({"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}));
        any_of_null_to_nullable(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"anyOf":[{"type":"string"},{"type":"integer"}],"nullable":true})
        );
    }

    #[test]
    fn ref_siblings_move_into_all_of() {
        let mut s = obj(json!({"$ref":"#/components/schemas/A","default":"x"}));
        ref_siblings_to_all_of(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({"allOf":[{"$ref":"#/components/schemas/A"}],"default":"x"})
        );
        let mut s = obj(json!({"$ref":"#/components/schemas/A"}));
        ref_siblings_to_all_of(&mut s);
        assert_eq!(Value::Object(s), json!({"$ref":"#/components/schemas/A"}));
    }

    #[test]
    fn fastapi_suffixes_and_affixes_are_stripped() {
        assert_eq!(
            strip_fastapi_suffix(
                "get_agent_api_agents__agent_id__get",
                "get",
                "/agents/{agent_id}"
            ),
            "get_agent"
        );
        assert_eq!(strip_fastapi_suffix("plain", "get", "/x"), "plain");
        assert_eq!(strip_api_affixes("api_get_x"), "get_x");
        assert_eq!(strip_api_affixes("block_sender_api"), "block_sender");
        assert_eq!(strip_api_affixes("cancel_endpoint"), "cancel");
        assert_eq!(strip_api_affixes("get_api_version"), "get_api_version");
    }

    #[test]
    fn schema_names_shorten_and_clashes_fail() {
        let names = vec![
            "a__b__Foo".to_string(),
            "Bar_baz".to_string(),
            "Body_upload_x_api_x__id__upload_post".to_string(),
        ];
        let r = schema_renames(&names, &BTreeMap::new()).unwrap();
        assert_eq!(r["Body_upload_x_api_x__id__upload_post"], "UploadXBody");
        assert_eq!(r["a__b__Foo"], "Foo");
        assert_eq!(r["Bar_baz"], "BarBaz");
        let names = vec!["a__Foo".to_string(), "b__Foo".to_string()];
        let e = schema_renames(&names, &BTreeMap::new()).unwrap_err();
        assert!(
            e.message.contains("a__Foo") && e.message.contains("b__Foo"),
            "{e}"
        );
        let fix = BTreeMap::from([("b__Foo".to_string(), "BFoo".to_string())]);
        assert_eq!(schema_renames(&names, &fix).unwrap()["b__Foo"], "BFoo");
    }

    #[test]
    fn renames_rewrite_references() {
        let mut doc = json!({"components":{"schemas":{"a__Foo":{"type":"object"},
            "B":{"properties":{"f":{"$ref":"#/components/schemas/a__Foo"}}}}}});
        let r = BTreeMap::from([
            ("a__Foo".to_string(), "Foo".to_string()),
            ("B".to_string(), "B".to_string()),
        ]);
        apply_schema_renames(&mut doc, &r);
        assert_eq!(
            doc.pointer("/components/schemas/B/properties/f/$ref")
                .unwrap(),
            "#/components/schemas/Foo"
        );
        assert!(doc.pointer("/components/schemas/Foo").is_some());
    }

    #[test]
    fn inline_enums_are_hoisted() {
        let mut doc = json!({"components":{"schemas":{"Run":{"properties":{
            "status":{"enum":["a","b"],"type":"string","nullable":true},
            "tags":{"type":"array","items":{"enum":["x"]}}}}}}});
        hoist_inline_enums(&mut doc).unwrap();
        assert_eq!(
            doc.pointer("/components/schemas/Run/properties/status")
                .unwrap(),
            &json!({"allOf":[{"$ref":"#/components/schemas/RunStatus"}],"nullable":true})
        );
        assert_eq!(
            doc.pointer("/components/schemas/RunStatus").unwrap(),
            &json!({"enum":["a","b"],"type":"string"})
        );
        assert!(doc.pointer("/components/schemas/RunTagsItem").is_some());
    }

    #[test]
    fn walk_reaches_operation_schemas() {
        let mut doc = json!({"paths":{"/a":{"get":{"parameters":[{"schema":{"title":"x"}}],
            "responses":{"200":{"content":{"application/json":{"schema":{"title":"y"}}}}}}}}});
        let mut seen = vec![];
        walk_all_schemas(&mut doc, &mut |p, _| {
            seen.push(p.to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                "/paths/~1a/get/parameters/0/schema",
                "/paths/~1a/get/responses/200/content/application~1json/schema"
            ]
        );
    }
}
