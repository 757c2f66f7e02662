//! Facts about a schema, in our own words: its JSON type, whether it is
//! required, its default, allowed values, limits and format. They become the
//! generated docs, the `Operation::INPUTS` help lines and the range checks of
//! bounded integers. The spec's description prose is never read here.

use crate::normalize::{FACTS, Obj, is_string_enum};
use serde_json::Value;

/// Enum values listed in full up to this many; beyond, the docs name the type.
const MAX_LISTED_VALUES: usize = 16;

/// A fact value under [`FACTS`] or on the schema itself.
fn fact<'a>(s: &'a Obj, key: &str) -> Option<&'a Value> {
    s.get(FACTS).and_then(|f| f.get(key)).or_else(|| s.get(key))
}

/// A number as written in docs: `2` rather than `2.0`.
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => v.to_string(),
    }
}

/// A JSON value in backticks, safe inside a doc comment.
fn code(v: &Value) -> String {
    let text = v.to_string();
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// The referenced component of `s`, directly or through a one-member `allOf`.
fn target<'a>(doc: &'a Value, s: &'a Obj) -> Option<(&'a str, &'a Obj)> {
    let r = match s.get("allOf") {
        Some(Value::Array(all)) if all.len() == 1 => all[0].get("$ref"),
        _ => s.get("$ref"),
    }?
    .as_str()?;
    let name = r.rsplit('/').next()?;
    let schema = doc
        .pointer(&format!("/components/schemas/{name}"))?
        .as_object()?;
    Some((name, schema))
}

fn enum_values(s: &Obj) -> Vec<&Value> {
    s.get("enum")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn allowed(values: &[&Value], type_name: Option<&str>) -> String {
    match (values.len(), type_name) {
        (1, _) => format!("always {}", code(values[0])),
        (n, Some(t)) if n > MAX_LISTED_VALUES => format!("one of the {n} values of `{t}`"),
        _ => {
            let list: Vec<String> = values.iter().map(|v| code(v)).collect();
            format!("one of {}", list.join(", "))
        }
    }
}

/// What kind of JSON value `s` is, with allowed values for enums and the
/// element kind of arrays and maps.
pub fn kind(doc: &Value, s: &Obj) -> String {
    if let Some((name, t)) = target(doc, s) {
        if is_string_enum(t) {
            return allowed(&enum_values(t), Some(name));
        }
        return match t.get("type").and_then(Value::as_str) {
            Some("object") | None if t.contains_key("properties") => format!("object `{name}`"),
            _ => format!("`{name}` ({})", kind(doc, t)),
        };
    }
    let values = enum_values(s);
    if !values.is_empty() {
        return allowed(&values, None);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(members)) = s.get(key) {
            let kinds: Vec<String> = members
                .iter()
                .filter_map(Value::as_object)
                .map(|m| kind(doc, m))
                .collect();
            return format!("either {}", kinds.join(" or "));
        }
    }
    match s.get("type").and_then(Value::as_str) {
        Some("array") => match s.get("items").and_then(Value::as_object) {
            Some(items) => {
                let limits = limits(items);
                if limits.is_empty() {
                    format!("array of {}", kind(doc, items))
                } else {
                    format!("array of {} ({})", kind(doc, items), limits.join(", "))
                }
            }
            None => "array".into(),
        },
        Some(t @ ("string" | "integer" | "number" | "boolean")) => t.to_string(),
        _ => match s.get("additionalProperties") {
            Some(Value::Object(v)) => format!("map of string to {}", kind(doc, v)),
            _ if s.contains_key("properties") => "object".into(),
            Some(Value::Bool(true)) => "object".into(),
            _ => "any JSON value".into(),
        },
    }
}

/// Inclusive bounds of an integer schema, if it has any.
pub fn int_bounds(s: &Obj) -> Option<(Option<i64>, Option<i64>)> {
    if s.get("type").and_then(Value::as_str) != Some("integer") {
        return None;
    }
    let f = |k: &str| fact(s, k).and_then(Value::as_f64);
    let exclusive = |k: &str| fact(s, k) == Some(&Value::Bool(true));
    let min = match (f("minimum"), f("exclusiveMinimum")) {
        (_, Some(e)) => Some(e.floor() as i64 + 1),
        (Some(m), None) if exclusive("exclusiveMinimum") => Some(m.floor() as i64 + 1),
        (Some(m), None) => Some(m.ceil() as i64),
        (None, None) => None,
    };
    let max = match (f("maximum"), f("exclusiveMaximum")) {
        (_, Some(e)) => Some(e.ceil() as i64 - 1),
        (Some(m), None) if exclusive("exclusiveMaximum") => Some(m.ceil() as i64 - 1),
        (Some(m), None) => Some(m.floor() as i64),
        (None, None) => None,
    };
    (min.is_some() || max.is_some()).then_some((min, max))
}

/// `1 to 100`, `at least 1`, `at most 100`.
pub fn range_words(min: Option<impl ToString>, max: Option<impl ToString>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{} to {}", a.to_string(), b.to_string()),
        (Some(a), None) => format!("at least {}", a.to_string()),
        (None, Some(b)) => format!("at most {}", b.to_string()),
        (None, None) => String::new(),
    }
}

/// Limits and format of `s` itself, one phrase each.
fn limits(s: &Obj) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::String(f)) = fact(s, "format")
        && !matches!(f.as_str(), "int32" | "int64" | "float" | "double")
    {
        out.push(format!("format `{f}`"));
    }
    if let Some((min, max)) = int_bounds(s) {
        out.push(range_words(min, max));
    } else {
        let f = |k: &str| fact(s, k).filter(|v| v.is_number()).map(num);
        let b = |k: &str| fact(s, k) == Some(&Value::Bool(true));
        match (f("minimum"), f("exclusiveMinimum")) {
            (_, Some(e)) => out.push(format!("greater than {e}")),
            (Some(m), None) if b("exclusiveMinimum") => out.push(format!("greater than {m}")),
            (Some(m), None) => out.push(format!("at least {m}")),
            _ => {}
        }
        match (f("maximum"), f("exclusiveMaximum")) {
            (_, Some(e)) => out.push(format!("less than {e}")),
            (Some(m), None) if b("exclusiveMaximum") => out.push(format!("less than {m}")),
            (Some(m), None) => out.push(format!("at most {m}")),
            _ => {}
        }
    }
    let pair = |lo: &str, hi: &str, unit: &str| -> Option<String> {
        let lo = fact(s, lo).map(num);
        let hi = fact(s, hi).map(num);
        (lo.is_some() || hi.is_some()).then(|| format!("{} {unit}", range_words(lo, hi)))
    };
    out.extend(pair("minLength", "maxLength", "characters"));
    out.extend(pair("minItems", "maxItems", "items"));
    out.extend(pair("minProperties", "maxProperties", "keys"));
    if fact(s, "uniqueItems") == Some(&Value::Bool(true)) {
        out.push("items unique".into());
    }
    if let Some(m) = fact(s, "multipleOf") {
        out.push(format!("a multiple of {}", num(m)));
    }
    if let Some(Value::String(p)) = fact(s, "pattern") {
        out.push(format!("matches {}", code(&Value::String(p.clone()))));
    }
    out
}

/// One line of facts about a field or input: kind, required or optional,
/// nullable, default, limits and format. No trailing period.
pub fn line(doc: &Value, s: &Obj, required: bool) -> String {
    let mut parts = vec![kind(doc, s)];
    parts.push(if required { "required" } else { "optional" }.into());
    if s.get("nullable") == Some(&Value::Bool(true)) {
        parts.push("may be null".into());
    }
    if let Some(d) = s.get("default").filter(|d| !d.is_null()) {
        parts.push(format!("default {}", code(d)));
    }
    parts.extend(limits(s));
    if let Some((_, t)) = target(doc, s)
        && !is_string_enum(t)
    {
        parts.extend(limits(t));
    }
    parts.join(", ")
}

/// Facts about an object schema: its required fields.
pub fn object_line(s: &Obj) -> String {
    let required: Vec<String> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|r| format!("`{r}`"))
                .collect()
        })
        .unwrap_or_default();
    let fields = s
        .get("properties")
        .and_then(Value::as_object)
        .map_or(0, Obj::len);
    match required.len() {
        0 => format!("JSON object with {fields} fields, none required"),
        _ => format!(
            "JSON object with {fields} fields; required: {}",
            required.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn integer_bounds_from_both_exclusive_forms() {
        let b = |v| int_bounds(&obj(v));
        assert_eq!(
            b(json!({"type":"integer","x-facts":{"minimum":1.0,"maximum":100.0}})),
            Some((Some(1), Some(100)))
        );
        assert_eq!(
            b(json!({"type":"integer","x-facts":{"exclusiveMinimum":0.0}})),
            Some((Some(1), None))
        );
        assert_eq!(
            b(json!({"type":"integer","x-facts":{"minimum":0,"exclusiveMinimum":true}})),
            Some((Some(1), None))
        );
        assert_eq!(b(json!({"type":"integer"})), None);
        assert_eq!(b(json!({"type":"number","x-facts":{"minimum":1}})), None);
    }

    #[test]
    fn lines_state_the_facts() {
        let doc = json!({"components":{"schemas":{
            "Mode":{"type":"string","enum":["a","b"]},
            "Thing":{"type":"object","properties":{"x":{"type":"string"}}}}}});
        let l = |v, r| line(&doc, &obj(v), r);
        assert_eq!(
            l(
                json!({"type":"integer","default":20,"x-facts":{"minimum":1,"maximum":100}}),
                false
            ),
            "integer, optional, default `20`, 1 to 100"
        );
        assert_eq!(
            l(
                json!({"type":"string","nullable":true,"x-facts":{"format":"uuid","maxLength":36}}),
                true
            ),
            "string, required, may be null, format `uuid`, at most 36 characters"
        );
        assert_eq!(
            l(
                json!({"allOf":[{"$ref":"#/components/schemas/Mode"}],"default":"a"}),
                false
            ),
            "one of `\"a\"`, `\"b\"`, optional, default `\"a\"`"
        );
        assert_eq!(
            l(json!({"$ref":"#/components/schemas/Thing"}), true),
            "object `Thing`, required"
        );
        assert_eq!(
            l(
                json!({"type":"array","items":{"type":"string","x-facts":{"format":"uuid"}},"x-facts":{"maxItems":5}}),
                false
            ),
            "array of string (format `uuid`), optional, at most 5 items"
        );
        assert_eq!(l(json!({"enum":["x"]}), true), "always `\"x\"`, required");
        assert_eq!(
            object_line(&obj(json!({"properties":{"a":{},"b":{}},"required":["a"]}))),
            "JSON object with 2 fields; required: `a`"
        );
    }
}
