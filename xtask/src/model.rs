//! The operation model: one `OpModel` per operation of the normalized spec,
//! with names, inputs, output type, kind and pagination decided here.

use crate::error::{GenError, Result, ptr_token};
use crate::normalize::{FACTS, Obj, hoist_below, strip_api_affixes, strip_fastapi_suffix};
use crate::overrides::Overrides;
use heck::{ToSnakeCase, ToUpperCamelCase};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What an operation's answer is, which decides who sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON in, JSON (or nothing) out.
    Json,
    /// A `multipart/form-data` upload.
    Multipart,
    /// A `text/event-stream` answer.
    EventStream,
    /// A file download (non-JSON or schemaless answer).
    Binary,
}

impl Kind {
    /// The token used in the operation table.
    pub fn token(self) -> &'static str {
        match self {
            Kind::Json => "json",
            Kind::Multipart => "multipart",
            Kind::EventStream => "event_stream",
            Kind::Binary => "binary",
        }
    }
    /// The variant name in the generated `Kind` enum.
    pub fn variant(self) -> &'static str {
        match self {
            Kind::Json => "Json",
            Kind::Multipart => "Multipart",
            Kind::EventStream => "EventStream",
            Kind::Binary => "Binary",
        }
    }
}

/// How a list operation pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pagination {
    /// Not a paged list.
    None,
    /// `page` (1-based) and `limit` query parameters.
    PageLimit,
    /// `limit` and `offset` query parameters.
    LimitOffset,
}

impl Pagination {
    /// The variant name in the generated `Pagination` enum.
    pub fn variant(self) -> &'static str {
        match self {
            Pagination::None => "None",
            Pagination::PageLimit => "PageLimit",
            Pagination::LimitOffset => "LimitOffset",
        }
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path segment.
    Path,
    /// A query parameter.
    Query,
}

/// One path or query parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name on the wire.
    pub wire: String,
    /// Rust identifier (snake case).
    pub ident: String,
    /// Rust type (without `Option`), with `types::` paths.
    pub ty: String,
    /// Required (path parameters always are).
    pub required: bool,
    /// Path or query.
    pub location: Location,
    /// One line of facts (kind, required, default, limits, format).
    pub facts: String,
    /// Inclusive bounds of an integer input the spec limits.
    pub bounds: Option<(Option<i64>, Option<i64>)>,
}

/// What users pass for integer inputs: any primitive integer converts.
pub const INTEGER_INPUT: &str = "support::Integer";

impl Param {
    /// The type a constructor or setter takes for this input.
    pub fn input_ty(&self) -> &str {
        if self.ty == "i64" {
            INTEGER_INPUT
        } else {
            &self.ty
        }
    }
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpModel {
    /// Method name (snake case).
    pub name: String,
    /// Further method names for the same operation.
    pub aliases: Vec<String>,
    /// Descriptor type name (upper camel case).
    pub type_name: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/agents/{agent_id}`.
    pub path: String,
    /// The spec's one-line summary, if any.
    pub summary: Option<String>,
    /// Path parameters in template order, then query parameters.
    pub params: Vec<Param>,
    /// JSON body type, if the operation takes one.
    pub body: Option<String>,
    /// Output type (`()` when there is nothing to decode).
    pub output: String,
    /// JSON, multipart, event stream or binary.
    pub kind: Kind,
    /// How it pages.
    pub pagination: Pagination,
    /// For paged lists: the envelope key of the items and their Rust type.
    pub page_items: Option<(String, String)>,
    /// True for GET/HEAD/PUT/DELETE/OPTIONS.
    pub idempotent: bool,
    /// A hand-written helper owns the name (set by the override table).
    pub helper: bool,
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Rust keywords that need `r#` as identifiers.
pub fn rust_ident(name: &str) -> String {
    let snake = name.to_snake_case();
    let snake = if snake.is_empty() {
        "value".to_string()
    } else {
        snake
    };
    let snake = if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("p{snake}")
    } else {
        snake
    };
    match snake.as_str() {
        "type" | "ref" | "match" | "fn" | "struct" | "enum" | "impl" | "mod" | "use" | "where"
        | "loop" | "move" | "static" | "const" | "trait" | "true" | "false" | "in" | "for"
        | "if" | "else" | "let" | "mut" | "pub" | "return" | "self" | "super" | "crate"
        | "async" | "await" | "dyn" | "box" | "yield" | "try" | "abstract" | "final"
        | "override" | "macro" | "priv" | "virtual" | "unsized" | "typeof" | "become" | "do"
        | "gen" | "break" | "continue" | "extern" | "unsafe" | "as" => format!("r#{snake}"),
        _ => snake,
    }
}

/// The Rust type of a schema when it is simple enough to name inline, else
/// `None` (the schema must be hoisted into a component).
pub fn rust_type(s: &Value) -> Option<String> {
    let obj = s.as_object()?;
    let nullable = obj.get("nullable") == Some(&Value::Bool(true));
    let inner = rust_type_inner(obj)?;
    Some(if nullable {
        format!("Option<{inner}>")
    } else {
        inner
    })
}

fn rust_type_inner(obj: &Obj) -> Option<String> {
    if let Some(Value::String(r)) = obj.get("$ref") {
        return Some(format!("types::{}", r.rsplit('/').next()?));
    }
    if let Some(Value::Array(all)) = obj.get("allOf") {
        if all.len() == 1
            && obj
                .keys()
                .all(|k| matches!(k.as_str(), "allOf" | "nullable" | "default" | FACTS))
        {
            return rust_type_inner(all[0].as_object()?);
        }
        return None;
    }
    if obj.contains_key("enum") || obj.contains_key("anyOf") || obj.contains_key("oneOf") {
        return None;
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("string") => Some("String".into()),
        Some("integer") => Some(
            match obj.get("format").and_then(Value::as_str) {
                Some("int32") => "i32",
                _ => "i64",
            }
            .into(),
        ),
        Some("number") => Some("f64".into()),
        Some("boolean") => Some("bool".into()),
        Some("array") => {
            let items = obj.get("items")?;
            Some(format!("Vec<{}>", rust_type(items)?))
        }
        Some("object") | None => {
            if obj.contains_key("properties") {
                return None;
            }
            match obj.get("additionalProperties") {
                Some(Value::Bool(true)) => {
                    Some("::std::collections::BTreeMap<String, ::serde_json::Value>".into())
                }
                Some(v @ Value::Object(_)) => Some(format!(
                    "::std::collections::BTreeMap<String, {}>",
                    rust_type(v)?
                )),
                _ => Some("::serde_json::Value".into()),
            }
        }
        _ => None,
    }
}

/// Name the operations, decide their kinds, hoist inline schemas into
/// components, and return the models sorted by name.
pub fn extract(doc: &mut Value, overrides: &Overrides) -> Result<(Vec<OpModel>, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut raw = Vec::new();
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (path, item) in &paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            raw.push((
                path.clone(),
                method.clone(),
                op.clone(),
                item.get("parameters").cloned(),
            ));
        }
    }
    let mut used_overrides = BTreeSet::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut models = Vec::new();
    let mut taken: BTreeSet<String> = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    for (path, method, op, path_level_params) in raw {
        let key = format!("{} {}", method.to_uppercase(), path);
        let ptr = format!("/paths/{}/{}", ptr_token(&path), method);
        let ov = overrides.operations.get(&key).cloned().unwrap_or_default();
        if overrides.operations.contains_key(&key) {
            used_overrides.insert(key.clone());
        }
        let op_id = op.get("operationId").and_then(Value::as_str);
        let name = match (&ov.name, op_id) {
            (Some(n), _) => n.clone(),
            (None, Some(id)) => strip_api_affixes(&strip_fastapi_suffix(id, &method, &path)),
            (None, None) => {
                return Err(GenError::at(
                    ptr,
                    "operation has no operationId; name it in openapi/overrides.toml",
                ));
            }
        };
        let name = name.to_snake_case();
        for n in std::iter::once(&name).chain(ov.aliases.iter()) {
            if let Some(prev) = names.insert(n.clone(), key.clone()) {
                return Err(GenError::at(
                    ptr.clone(),
                    format!(
                        "operations `{prev}` and `{key}` would both be named `{n}`; \
                         give one a name in openapi/overrides.toml"
                    ),
                ));
            }
        }
        let type_name = name.to_upper_camel_case();

        // Parameters: path-level then operation-level; client headers leave.
        let mut params = Vec::new();
        let mut all = Vec::new();
        if let Some(Value::Array(ps)) = path_level_params {
            all.extend(ps);
        }
        if let Some(Value::Array(ps)) = op.get("parameters") {
            all.extend(ps.iter().cloned());
        }
        for (i, p) in all.iter().enumerate() {
            let p = resolve_param(doc, p).ok_or_else(|| {
                GenError::at(
                    format!("{ptr}/parameters/{i}"),
                    "parameter reference does not resolve",
                )
            })?;
            let location = match p.get("in").and_then(Value::as_str) {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                Some("header") | Some("cookie") => continue,
                other => {
                    return Err(GenError::at(
                        format!("{ptr}/parameters/{i}/in"),
                        format!("unsupported parameter location {other:?}"),
                    ));
                }
            };
            let wire = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let required =
                location == Location::Path || p.get("required") == Some(&Value::Bool(true));
            let schema = p
                .get("schema")
                .cloned()
                .unwrap_or(Value::Object(Obj::new()));
            let mut plain = schema.as_object().cloned().unwrap_or_default();
            plain.remove("nullable");
            let facts = crate::facts::line(doc, &plain, required);
            let bounds = crate::facts::int_bounds(&plain);
            let schema = strip_nullable(schema);
            let ty = match rust_type(&schema) {
                Some(t) => t,
                None => {
                    let hint = format!("{type_name}_{wire}");
                    hoist(&schema, &hint, &mut taken, &mut hoisted)?
                }
            };
            let ident = rust_ident(&wire);
            if params.iter().any(|q: &Param| q.ident == ident) {
                return Err(GenError::at(
                    format!("{ptr}/parameters/{i}"),
                    format!("two parameters of `{name}` map to the Rust name `{ident}`"),
                ));
            }
            params.push(Param {
                wire,
                ident,
                ty,
                required,
                location,
                facts,
                bounds,
            });
        }
        let order = path_order(&path);
        params.sort_by_key(|p| match p.location {
            Location::Path => order
                .iter()
                .position(|n| *n == p.wire)
                .unwrap_or(usize::MAX),
            Location::Query => usize::MAX,
        });
        for seg in &order {
            if !params
                .iter()
                .any(|p| p.location == Location::Path && &p.wire == seg)
            {
                return Err(GenError::at(
                    ptr.clone(),
                    format!("path parameter `{{{seg}}}` is not declared"),
                ));
            }
        }

        // Body.
        let mut kind = Kind::Json;
        let mut body = None;
        if let Some(Value::Object(content)) = op.get("requestBody").and_then(|b| b.get("content")) {
            if content.contains_key("multipart/form-data") {
                kind = Kind::Multipart;
            } else if let Some(media) = content.iter().find(|(ct, _)| is_json(ct)).map(|x| x.1) {
                let schema = media
                    .get("schema")
                    .cloned()
                    .unwrap_or(Value::Object(Obj::new()));
                let ty = match rust_type(&schema) {
                    Some(t) => t,
                    None => hoist(
                        &schema,
                        &format!("{type_name}_body"),
                        &mut taken,
                        &mut hoisted,
                    )?,
                };
                body = Some(ty);
            } else {
                return Err(GenError::at(
                    format!("{ptr}/requestBody"),
                    format!(
                        "unsupported request media types {:?}",
                        content.keys().collect::<Vec<_>>()
                    ),
                ));
            }
        }

        // Output.
        let mut output = "()".to_string();
        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let success = responses.iter().find(|(code, _)| code.starts_with('2'));
        if let Some((code, resp)) = success {
            let content = resp
                .get("content")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if content.contains_key("text/event-stream") {
                kind = Kind::EventStream;
            } else if content.keys().any(|ct| !is_json(ct)) {
                // Any non-JSON media type (a PDF, an image, …) means the
                // answer is a file, even if a JSON manifest is among them.
                kind = Kind::Binary;
            } else if let Some(media) = content.iter().find(|(ct, _)| is_json(ct)).map(|x| x.1) {
                let schema = media
                    .get("schema")
                    .cloned()
                    .unwrap_or(Value::Object(Obj::new()));
                output = match rust_type(&schema) {
                    Some(t) => t,
                    None => {
                        let hint = format!("{type_name}_response");
                        hoist(&schema, &hint, &mut taken, &mut hoisted)?
                    }
                };
            }
            let _ = code;
        }
        if let Some(k) = &ov.kind {
            kind = match k.as_str() {
                "multipart" => Kind::Multipart,
                "event-stream" => Kind::EventStream,
                "binary" => Kind::Binary,
                _ => Kind::Json,
            };
        }
        if matches!(kind, Kind::Binary | Kind::EventStream) {
            output = "()".into();
        }
        let method_upper = method.to_uppercase();
        let idempotent = matches!(
            method_upper.as_str(),
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS"
        );
        let summary = op
            .get("summary")
            .and_then(Value::as_str)
            .map(|s| s.lines().next().unwrap_or_default().trim().to_string())
            .filter(|s| !s.is_empty());
        models.push(OpModel {
            name,
            aliases: ov.aliases.clone(),
            helper: ov.helper,
            type_name,
            method: method_upper,
            path,
            summary,
            params,
            body,
            output,
            kind,
            pagination: Pagination::None,
            page_items: None,
            idempotent,
        });
    }
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        for (name, schema) in hoisted {
            schemas.insert(name, schema);
        }
    }
    for m in &mut models {
        let (pagination, items) = detect_pagination(doc, m);
        m.pagination = pagination;
        m.page_items = items;
    }
    for key in overrides.operations.keys() {
        if !used_overrides.contains(key) {
            warnings.push(format!(
                "warning: openapi/overrides.toml names `{key}`, which this spec does not have"
            ));
        }
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((models, warnings))
}

fn is_json(ct: &str) -> bool {
    ct == "application/json" || ct.ends_with("+json")
}

/// Query parameters are optional already; `Option<Option<T>>` means nothing.
fn strip_nullable(mut s: Value) -> Value {
    if let Some(o) = s.as_object_mut() {
        o.remove("nullable");
        o.remove("default");
    }
    s
}

fn resolve_param(doc: &Value, p: &Value) -> Option<Value> {
    match p.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.strip_prefix('#')?).cloned(),
        None => Some(p.clone()),
    }
}

fn path_order(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

/// Move an inline schema into a new component named from `hint`.
fn hoist(
    schema: &Value,
    hint: &str,
    taken: &mut BTreeSet<String>,
    out: &mut Vec<(String, Value)>,
) -> Result<String> {
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    let mut s = schema.clone();
    if let Some(o) = s.as_object_mut() {
        o.remove("nullable");
        hoist_below(o, hint, taken, out)?;
    }
    let mut name = hint.to_upper_camel_case();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{}{n}", hint.to_upper_camel_case());
        n += 1;
    }
    taken.insert(name.clone());
    out.push((name.clone(), s));
    Ok(if nullable {
        format!("Option<types::{name}>")
    } else {
        format!("types::{name}")
    })
}

fn detect_pagination(doc: &Value, m: &OpModel) -> (Pagination, Option<(String, String)>) {
    let has = |n: &str| {
        m.params
            .iter()
            .any(|p| p.location == Location::Query && p.wire == n)
    };
    let pagination = if has("page") && has("limit") {
        Pagination::PageLimit
    } else if has("offset") && has("limit") {
        Pagination::LimitOffset
    } else {
        return (Pagination::None, None);
    };
    let Some(name) = m.output.strip_prefix("types::") else {
        return (Pagination::None, None);
    };
    let Some(props) = doc
        .pointer(&format!("/components/schemas/{name}/properties"))
        .and_then(Value::as_object)
    else {
        return (Pagination::None, None);
    };
    let arrays: Vec<(&String, &Value)> = props
        .iter()
        .filter(|(_, s)| s.get("type").and_then(Value::as_str) == Some("array"))
        .collect();
    let chosen = arrays
        .iter()
        .find(|(k, _)| *k == "data")
        .or_else(|| arrays.iter().find(|(k, _)| *k == "items"))
        .or_else(|| {
            if arrays.len() == 1 {
                arrays.first()
            } else {
                None
            }
        });
    match chosen.and_then(|(k, s)| Some(((*k).clone(), rust_type(s.get("items")?)?))) {
        Some(items) => (pagination, Some(items)),
        None => (Pagination::None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn simple_schemas_map_to_rust_types() {
        assert_eq!(rust_type(&json!({"type":"string"})).unwrap(), "String");
        assert_eq!(
            rust_type(&json!({"type":"integer","nullable":true})).unwrap(),
            "Option<i64>"
        );
        assert_eq!(
            rust_type(&json!({"type":"array","items":{"$ref":"#/components/schemas/A"}})).unwrap(),
            "Vec<types::A>"
        );
        assert_eq!(
            rust_type(&json!({"allOf":[{"$ref":"#/components/schemas/A"}],"nullable":true}))
                .unwrap(),
            "Option<types::A>"
        );
        assert_eq!(rust_type(&json!({})).unwrap(), "::serde_json::Value");
        assert!(rust_type(&json!({"type":"object","properties":{}})).is_none());
        assert!(rust_type(&json!({"enum":["a"]})).is_none());
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(rust_ident("type"), "r#type");
        assert_eq!(rust_ident("agentId"), "agent_id");
        assert_eq!(rust_ident("1st"), "p1st");
    }

    fn spec() -> Value {
        json!({"openapi":"3.0.3","components":{"schemas":{
            "List":{"type":"object","properties":{"data":{"type":"array","items":{"$ref":"#/components/schemas/Item"}}}},
            "Item":{"type":"object","properties":{"id":{"type":"string"}}}}},
          "paths":{
            "/items":{"get":{"operationId":"list_items_api_items_get","parameters":[
                {"name":"page","in":"query","schema":{"type":"integer"}},
                {"name":"limit","in":"query","schema":{"type":"integer"}},
                {"name":"kind","in":"query","schema":{"enum":["a","b"],"nullable":true}}],
              "responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/List"}}}}}}},
            "/items/{item_id}":{"delete":{"operationId":"delete_item_api_items__item_id__delete",
              "parameters":[{"name":"item_id","in":"path","required":true,"schema":{"type":"string"}}],
              "responses":{"204":{"description":""}}}},
            "/items/{item_id}/file":{"get":{"operationId":"f","parameters":[{"name":"item_id","in":"path","schema":{"type":"string"}}],
              "responses":{"200":{"content":{"application/pdf":{"schema":{"type":"string"}}}}}}}}})
    }

    #[test]
    fn extracts_names_kinds_pagination_and_hoists() {
        let mut doc = spec();
        let ov = Overrides::parse(
            "[operations.\"DELETE /items/{item_id}\"]\naliases = [\"cancel_item\"]\n[operations.\"GET /missing\"]\nname = \"x\"\n",
        )
        .unwrap();
        let (ops, warnings) = extract(&mut doc, &ov).unwrap();
        assert_eq!(warnings.len(), 1);
        let names: Vec<_> = ops.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, vec!["delete_item", "f", "list_items"]);
        let list = &ops[2];
        assert_eq!(list.pagination, Pagination::PageLimit);
        assert_eq!(list.page_items, Some(("data".into(), "types::Item".into())));
        assert_eq!(list.params[2].ty, "types::ListItemsKind");
        assert!(doc.pointer("/components/schemas/ListItemsKind").is_some());
        assert_eq!(ops[0].aliases, vec!["cancel_item"]);
        assert_eq!(ops[0].output, "()");
        assert_eq!(ops[1].kind, Kind::Binary);
    }

    #[test]
    fn name_collisions_name_both_operations() {
        let mut doc = spec();
        let ov =
            Overrides::parse("[operations.\"DELETE /items/{item_id}\"]\nname = \"list_items\"\n")
                .unwrap();
        let e = extract(&mut doc, &ov).unwrap_err();
        assert!(
            e.message.contains("GET /items") && e.message.contains("DELETE /items/{item_id}"),
            "{e}"
        );
    }
}
