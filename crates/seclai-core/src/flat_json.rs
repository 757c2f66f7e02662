//! A quick reader for the one JSON shape on the hot path of a streamed
//! run: a `stream_token` payload, a flat object whose values are plain
//! strings, numbers, booleans or `null`.
//!
//! It only ever answers for input it has fully checked. Anything outside
//! that shape (an escape in a string, a nested value, a repeated key, or
//! invalid JSON) gets `None`, and the caller parses with `serde_json`,
//! which stays the judge of what is valid. A property test holds the two
//! to the same answers.

use std::ops::Range;

/// The byte range of the text of the string value of `key` in the flat
/// object `json`: `Some(Some(range))` when present, `Some(None)` when the
/// object is valid and has no such key, `None` when `json` is not of the
/// shape read here (decide with `serde_json`).
pub(crate) fn plain_string_field(json: &str, key: &str) -> Option<Option<Range<usize>>> {
    let b = json.as_bytes();
    // An escape or a raw control byte (which includes whitespace other
    // than spaces) anywhere sends the payload to serde_json. Checked in
    // one pass without early exit, which the compiler vectorises; then a
    // string ends at the next quote.
    if b.iter()
        .fold(false, |odd, &c| odd | (c == b'\\') | (c < 0x20))
    {
        return None;
    }
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    let mut found = None;
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(None);
    }
    loop {
        let (name, after) = string(b, i)?;
        i = skip_ws(b, after);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_ws(b, i + 1);
        let end = value(b, start)?;
        if &b[name] == key.as_bytes() {
            if found.is_some() || b[start] != b'"' {
                return None;
            }
            found = Some(start + 1..end - 1);
        }
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return (skip_ws(b, i + 1) == b.len()).then_some(found),
            _ => return None,
        }
    }
}

/// Past the spaces at `b[i..]` (the only whitespace left, see above).
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// A string opening at `b[i]` (the input has no escapes or control
/// bytes): the range of its text and the index after its closing quote.
fn string(b: &[u8], i: usize) -> Option<(Range<usize>, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let len = b[i + 1..].iter().position(|&c| c == b'"')?;
    Some((i + 1..i + 1 + len, i + 2 + len))
}

/// A value of the flat shape opening at `b[i]`: the index after it.
fn value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string(b, i).map(|(_, end)| end),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => number(b, i),
        _ => None,
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |b: &[u8], i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(b, i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::borrow::Cow;

    /// What serde_json makes of the same payload: the `token` text, or
    /// `None` when it refuses it.
    fn by_serde(json: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct P<'a> {
            #[serde(default, borrow)]
            token: Cow<'a, str>,
        }
        serde_json::from_str::<P<'_>>(json)
            .ok()
            .map(|p| p.token.into_owned())
    }

    fn quick(json: &str) -> Option<String> {
        plain_string_field(json, "token")
            .map(|r| r.map(|r| json[r].to_string()).unwrap_or_default())
    }

    #[test]
    fn typical_payloads_are_read_here() {
        for (json, token) in [
            (r#"{"run_id":"r1","step_id":"s1","token":" tok1"}"#, " tok1"),
            (
                r#" { "token" : "é✓" , "n": -0.5e+3, "b": true, "z": null } "#,
                "é✓",
            ),
            (r#"{"index":0,"token":""}"#, ""),
            (r#"{}"#, ""),
            (r#"{"run_id":"r1"}"#, ""),
        ] {
            assert_eq!(quick(json).as_deref(), Some(token), "{json}");
            assert_eq!(by_serde(json).as_deref(), Some(token), "{json}");
        }
    }

    #[test]
    fn other_shapes_are_left_to_serde() {
        for json in [
            r#"{"token":"a\nb"}"#,
            r#"{"token":"a","token":"b"}"#,
            r#"{"token":1}"#,
            r#"{"token":"a","x":{"y":1}}"#,
            r#"{"token":"a"} x"#,
            r#"{"token":"a",}"#,
            r#"{"n":01}"#,
            r#"{"n":1.}"#,
            r#"{"n":1e}"#,
            r#"{"n":tru}"#,
            "{\"token\":\"a\u{1}\"}",
            r#"["token"]"#,
            r#"{"token":"a""#,
            "",
        ] {
            assert_eq!(plain_string_field(json, "token"), None, "{json}");
        }
    }

    fn piece() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("{"),
            Just("}"),
            Just("\"token\""),
            Just("\"run_id\""),
            Just(":"),
            Just(","),
            Just("\"a b\""),
            Just("\"x\\n\""),
            Just("\""),
            Just(" "),
            Just("1"),
            Just("-0.5e3"),
            Just("0"),
            Just("."),
            Just("e"),
            Just("true"),
            Just("null"),
            Just("[1]"),
            Just("\u{1}"),
        ]
    }

    proptest! {
        /// Whatever this reader answers, serde_json answers the same.
        #[test]
        fn agrees_with_serde_json(pieces in proptest::collection::vec(piece(), 0..14)) {
            let json = pieces.concat();
            if let Some(token) = quick(&json) {
                prop_assert_eq!(by_serde(&json), Some(token), "{}", json);
            }
        }

        /// The same over well-formed objects, which it must mostly read.
        #[test]
        fn reads_flat_objects(
            fields in proptest::collection::vec(
                (prop_oneof![Just("token"), Just("run_id"), Just("i")],
                 prop_oneof![Just("\"t k\"".to_string()), Just("12".to_string()),
                             Just("false".to_string()), Just("\"\\u0041\"".to_string())]),
                0..4),
        ) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
            let json = format!("{{{}}}", body.join(","));
            match quick(&json) {
                Some(token) => prop_assert_eq!(by_serde(&json), Some(token)),
                None => prop_assert!(json.contains('\\') || fields.iter().filter(|(k, _)| *k == "token").count() > 1
                    || fields.iter().any(|(k, v)| *k == "token" && !v.starts_with('"'))),
            }
        }
    }
}
