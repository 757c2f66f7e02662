//! Human-readable listings for reviewers (insta snapshots, `cargo xtask ops`)
//! and sample inputs for the rendered-request snapshot.

use crate::model::{Location, OpModel, Pagination};
use quote::ToTokens;
use serde_json::{Map, Value, json};

/// A Rust type with every path prefix removed, as reviewers read it:
/// `::std::option::Option<::std::string::String>` → `Option<String>`,
/// `Vec<types::AgentSummaryResponse>` → `Vec<AgentSummaryResponse>`.
pub fn short_type(ty: &str) -> String {
    let mut out = String::with_capacity(ty.len());
    let mut rest = ty;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("::") {
            rest = after;
            continue;
        }
        let word_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '#'))
            .unwrap_or(rest.len());
        if word_len == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            if c == ',' {
                out.push(' ');
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let (word, after) = rest.split_at(word_len);
        match after.strip_prefix("::") {
            Some(next) => rest = next,
            None => {
                out.push_str(word);
                rest = after;
            }
        }
    }
    out.replace(",  ", ", ")
}

/// `cargo xtask ops`: `name METHOD /path`, then any aliases.
pub fn ops_lines(ops: &[OpModel]) -> String {
    let mut out = String::new();
    for op in ops {
        out.push_str(&format!("{} {} {}", op.name, op.method, op.path));
        for a in &op.aliases {
            out.push(' ');
            out.push_str(a);
        }
        out.push('\n');
    }
    out
}

/// One line per operation: name, method, path, inputs, output, kind,
/// idempotency, pagination.
pub fn operation_table(ops: &[OpModel]) -> String {
    let mut out = String::new();
    for op in ops {
        let inputs: Vec<String> = op
            .params
            .iter()
            .map(|p| {
                let loc = if p.location == Location::Path {
                    "path"
                } else {
                    "query"
                };
                let opt = if p.required { "" } else { "?" };
                format!("{}{opt}:{}:{loc}", p.wire, short_type(&p.ty))
            })
            .chain(op.body.iter().map(|b| format!("body:{}", short_type(b))))
            .collect();
        let pages = match (&op.pagination, &op.page_items) {
            (Pagination::None, _) | (_, None) => "-".to_string(),
            (p, Some((k, t))) => format!("{p:?}({k}: {})", short_type(t)),
        };
        out.push_str(&format!(
            "{} {} {} [{}] -> {} {:?} idempotent={} pages={}{}\n",
            op.name,
            op.method,
            op.path,
            inputs.join(", "),
            short_type(&op.output),
            op.kind,
            op.idempotent,
            pages,
            if op.aliases.is_empty() {
                String::new()
            } else {
                format!(" aliases={}", op.aliases.join(","))
            }
        ));
    }
    out
}

/// One line per type of `types.rs`: name, fields with their Rust types, or
/// enum variants.
pub fn types_listing(types_rs: &str) -> String {
    let Ok(file) = syn::parse_file(types_rs) else {
        return "types.rs does not parse".into();
    };
    // Constructors: `new(required…)` and `Default`, shown after the fields.
    let mut ctors: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for item in &file.items {
        match item {
            syn::Item::Struct(s) if derives_default(&s.attrs) => {
                ctors
                    .entry(s.ident.to_string())
                    .or_default()
                    .push("Default".into());
            }
            syn::Item::Impl(i) => {
                let name = short_type(&i.self_ty.to_token_stream().to_string().replace(' ', ""));
                if i.trait_
                    .as_ref()
                    .is_some_and(|(p, _)| p.segments.last().is_some_and(|s| s.ident == "Default"))
                {
                    ctors.entry(name).or_default().push("Default".into());
                } else if let Some(new) = i.items.iter().find_map(|it| match it {
                    syn::ImplItem::Fn(f) if f.sig.ident == "new" => Some(f),
                    _ => None,
                }) {
                    let args: Vec<String> = new
                        .sig
                        .inputs
                        .iter()
                        .filter_map(|a| match a {
                            syn::FnArg::Typed(t) => Some(t.pat.to_token_stream().to_string()),
                            syn::FnArg::Receiver(_) => None,
                        })
                        .collect();
                    ctors
                        .entry(name)
                        .or_default()
                        .push(format!("new({})", args.join(", ")));
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    for item in &file.items {
        match item {
            syn::Item::Struct(s) => {
                let fields: Vec<String> = s
                    .fields
                    .iter()
                    .map(|f| {
                        let t = short_type(&f.ty.to_token_stream().to_string().replace(' ', ""));
                        match &f.ident {
                            Some(i) => format!("{i}: {t}"),
                            None => t,
                        }
                    })
                    .collect();
                let made = ctors
                    .get(&s.ident.to_string())
                    .map(|c| format!(" {}", c.join(" ")))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "struct {} {{ {} }}{made}\n",
                    s.ident,
                    fields.join(", ")
                ));
            }
            syn::Item::Enum(e) => {
                let vars: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| match &v.fields {
                        syn::Fields::Unit => v.ident.to_string(),
                        f => format!(
                            "{}{}",
                            v.ident,
                            short_type(&f.to_token_stream().to_string().replace(' ', ""))
                        ),
                    })
                    .collect();
                out.push_str(&format!("enum {} {{ {} }}\n", e.ident, vars.join(", ")));
            }
            syn::Item::Type(t) => {
                out.push_str(&format!(
                    "type {} = {}\n",
                    t.ident,
                    short_type(&t.ty.to_token_stream().to_string().replace(' ', ""))
                ));
            }
            _ => {}
        }
    }
    out
}

fn derives_default(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("derive") && a.to_token_stream().to_string().contains("Default"))
}

/// Sample inputs for one operation, as JSON: required parameters in order,
/// optional parameters in order, and the body.
pub struct Sample {
    /// Values of required path/query parameters, in descriptor order.
    pub required: Vec<Value>,
    /// Values of optional parameters, in descriptor order.
    pub optional: Vec<Value>,
    /// A body instance, when the operation takes one.
    pub body: Option<Value>,
}

/// Build a sample for `op` from the normalized document.
pub fn sample(doc: &Value, op: &OpModel) -> Sample {
    let value_for = |ty: &str, name: &str| sample_for_type(doc, ty, name, 0);
    Sample {
        required: op
            .params
            .iter()
            .filter(|p| p.required)
            .map(|p| value_for(&p.ty, &p.wire))
            .collect(),
        optional: op
            .params
            .iter()
            .filter(|p| !p.required)
            .map(|p| value_for(&p.ty, &p.wire))
            .collect(),
        body: op.body.as_deref().map(|b| value_for(b, "body")),
    }
}

fn sample_for_type(doc: &Value, ty: &str, name: &str, depth: usize) -> Value {
    if let Some(inner) = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')) {
        return sample_for_type(doc, inner, name, depth);
    }
    if let Some(inner) = ty.strip_prefix("Vec<").and_then(|t| t.strip_suffix('>')) {
        return json!([sample_for_type(doc, inner, name, depth)]);
    }
    match ty {
        "String" => json!(format!("{name}-1")),
        "i64" | "i32" => json!(2),
        "f64" => json!(0.5),
        "bool" => json!(true),
        _ if ty.starts_with("::std::collections::BTreeMap") => json!({}),
        _ if ty.contains("serde_json::Value") => json!({"k": "v"}),
        _ => match ty.strip_prefix("types::") {
            Some(n) => doc
                .pointer(&format!("/components/schemas/{n}"))
                .map(|s| sample_schema(doc, s, name, depth))
                .unwrap_or(Value::Null),
            None => Value::Null,
        },
    }
}

fn sample_schema(doc: &Value, s: &Value, name: &str, depth: usize) -> Value {
    if depth > 6 {
        return Value::Null;
    }
    let Some(o) = s.as_object() else {
        return json!({});
    };
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        let n = r.rsplit('/').next().unwrap_or_default();
        return sample_for_type(doc, &format!("types::{n}"), name, depth + 1);
    }
    if let Some(Value::Array(all)) = o.get("allOf")
        && let Some(first) = all.first()
    {
        return sample_schema(doc, first, name, depth + 1);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(v)) = o.get(key)
            && let Some(first) = v.first()
        {
            return sample_schema(doc, first, name, depth + 1);
        }
    }
    if let Some(Value::Array(vals)) = o.get("enum") {
        return vals.first().cloned().unwrap_or(Value::Null);
    }
    match o.get("type").and_then(Value::as_str) {
        Some("string") => json!(format!("{name}-1")),
        Some("integer") => json!(2),
        Some("number") => json!(0.5),
        Some("boolean") => json!(true),
        Some("array") => match o.get("items") {
            Some(i) => json!([sample_schema(doc, i, name, depth + 1)]),
            None => json!([]),
        },
        _ => {
            let mut m = Map::new();
            let required: Vec<&str> = o
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(Value::Object(props)) = o.get("properties") {
                for (k, p) in props {
                    if required.contains(&k.as_str()) {
                        m.insert(k.clone(), sample_schema(doc, p, k, depth + 1));
                    }
                }
            }
            Value::Object(m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_type;

    #[test]
    fn types_read_short() {
        assert_eq!(
            short_type("::std::option::Option<::std::string::String>"),
            "Option<String>"
        );
        assert_eq!(
            short_type("Vec<types::AgentSummaryResponse>"),
            "Vec<AgentSummaryResponse>"
        );
        assert_eq!(
            short_type("::std::collections::BTreeMap<String,::serde_json::Value>"),
            "BTreeMap<String, Value>"
        );
        assert_eq!(short_type("(::std::vec::Vec<i64>)"), "(Vec<i64>)");
        assert_eq!(short_type("i64"), "i64");
    }
}
