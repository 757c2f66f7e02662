//! Command-line text to operation inputs: path arguments, optional flags
//! (parsed with serde), and the JSON body from `--body`/`--set`/`--input`.

use crate::error::{CliError, usage};
use clap::ArgMatches;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::io::Read;

/// The clap id of a path parameter.
pub fn path_id(name: &str) -> String {
    format!("p:{name}")
}

/// The clap id of an optional input.
pub fn opt_id(name: &str) -> String {
    format!("q:{name}")
}

/// An input's name as written on the command line (`r#type` → `type`).
pub fn bare(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// A path parameter's value (clap made it required).
pub fn required(m: &ArgMatches, name: &str) -> Result<String, CliError> {
    m.try_get_one::<String>(&path_id(bare(name)))
        .ok()
        .flatten()
        .cloned()
        .ok_or_else(|| usage(format!("missing argument {}", bare(name).to_uppercase())))
}

/// A flag's text as JSON: the text itself when it parses as JSON, else the
/// text as a JSON string.
pub fn text_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Decode a flag's text into `T`; a string type also takes text that happens
/// to parse as another JSON value (`--search 42`).
pub fn parse_as<T: DeserializeOwned>(flag: &str, text: &str) -> Result<T, CliError> {
    let value = text_value(text);
    let first = serde_json::from_value::<T>(value.clone());
    match first {
        Ok(v) => Ok(v),
        Err(e) => {
            if !value.is_string() {
                if let Ok(v) = serde_json::from_value::<T>(Value::String(text.to_string())) {
                    return Ok(v);
                }
            }
            Err(usage(format!("invalid value {text:?} for --{flag}: {e}")))
        }
    }
}

/// An optional input's value, if given.
pub fn optional<T: DeserializeOwned>(m: &ArgMatches, name: &str) -> Result<Option<T>, CliError> {
    let Some(text) = m.try_get_one::<String>(&opt_id(bare(name))).ok().flatten() else {
        return Ok(None);
    };
    parse_as(&crate::table::flag_name(bare(name)), text).map(Some)
}

/// Read `--body` text: inline JSON, `@file`, or `-` for standard input.
fn body_source(spec: &str) -> Result<String, CliError> {
    if spec == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read the body from standard input: {e}")))?;
        Ok(text)
    } else if let Some(path) = spec.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read the body file {path:?}: {e}")))
    } else {
        Ok(spec.to_string())
    }
}

/// Set `value` at a dotted `key` (`a.b=1` → `{"a":{"b":1}}`).
fn set_path(obj: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), CliError> {
    let mut parts = key.split('.').peekable();
    let mut cur = obj;
    while let Some(part) = parts.next() {
        if part.is_empty() {
            return Err(usage(format!("--set {key}: empty key segment")));
        }
        if parts.peek().is_none() {
            cur.insert(part.to_string(), value);
            return Ok(());
        }
        let slot = cur
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        cur = slot.as_object_mut().expect("made an object just above");
    }
    Ok(())
}

/// The merged JSON body: `--body` (an object), then each `--set key=value`,
/// then `--input TEXT` as the `input` field.
pub fn body_value(m: &ArgMatches) -> Result<Value, CliError> {
    let mut obj = Map::new();
    if let Some(spec) = m.try_get_one::<String>("body").ok().flatten() {
        let text = body_source(spec)?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| usage(format!("--body is not valid JSON: {e}")))?;
        match value {
            Value::Object(o) => obj = o,
            other => {
                return Err(usage(format!(
                    "--body must be a JSON object, not {}",
                    kind_of(&other)
                )));
            }
        }
    }
    if let Some(sets) = m.try_get_many::<String>("set").ok().flatten() {
        for s in sets {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| usage(format!("--set {s:?} needs the form key=value")))?;
            set_path(&mut obj, k.trim(), text_value(v))?;
        }
    }
    if let Some(text) = m.try_get_one::<String>("input").ok().flatten() {
        obj.insert("input".into(), Value::String(text.clone()));
    }
    Ok(Value::Object(obj))
}

/// The body decoded into the operation's request type.
pub fn body<T: DeserializeOwned>(m: &ArgMatches) -> Result<T, CliError> {
    serde_json::from_value(body_value(m)?).map_err(|e| usage(format!("the body does not fit: {e}")))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_text_parses_as_json_else_string() {
        assert_eq!(parse_as::<i64>("limit", "5").unwrap(), 5);
        assert_eq!(parse_as::<String>("search", "42").unwrap(), "42");
        assert_eq!(parse_as::<String>("search", "hello").unwrap(), "hello");
        assert_eq!(
            parse_as::<Vec<String>>("ids", "[\"a\",\"b\"]").unwrap(),
            ["a", "b"]
        );
        assert!(parse_as::<i64>("limit", "five").is_err());
        assert!(parse_as::<bool>("flagged-only", "maybe").is_err());
    }

    #[test]
    fn dotted_set_keys_nest() {
        let mut o = Map::new();
        set_path(&mut o, "a.b", Value::from(1)).unwrap();
        set_path(&mut o, "a.c", Value::from("x")).unwrap();
        assert_eq!(
            Value::Object(o),
            serde_json::json!({"a": {"b": 1, "c": "x"}})
        );
        assert!(set_path(&mut Map::new(), "a..b", Value::Null).is_err());
    }
}
