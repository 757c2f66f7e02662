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
/// shape read here (decide with `serde_json`). Compact JSON takes the
/// shortest path: whitespace is looked for only where a delimiter is not.
pub(crate) fn plain_string_field(json: &str, key: &str) -> Option<Option<Range<usize>>> {
    let b = json.as_bytes();
    if let Some(found) = compact_strings(b, key.as_bytes()) {
        return Some(found);
    }
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(None);
    }
    let mut found = None;
    loop {
        let name = string(b, i)?;
        i = name.end + 1;
        if b.get(i) != Some(&b':') {
            i = skip_ws(b, i);
            if b.get(i) != Some(&b':') {
                return None;
            }
        }
        i += 1;
        if b.get(i) != Some(&b'"') {
            i = skip_ws(b, i);
        }
        let is_key = b[name] == *key.as_bytes();
        if b.get(i) == Some(&b'"') {
            let text = string(b, i)?;
            i = text.end + 1;
            if is_key {
                if found.is_some() {
                    return None;
                }
                found = Some(text);
            }
        } else {
            if is_key {
                return None;
            }
            i = scalar(b, i)?;
        }
        let mut c = *b.get(i)?;
        if c != b',' && c != b'}' {
            i = skip_ws(b, i);
            c = *b.get(i)?;
        }
        i += 1;
        match c {
            b',' => {
                if b.get(i) != Some(&b'"') {
                    i = skip_ws(b, i);
                }
            }
            b'}' => return (skip_ws(b, i) == b.len()).then_some(found),
            _ => return None,
        }
    }
}

/// The shape nearly every token payload has, read with the fewest checks:
/// `{"k":"v","k":"v"}`, no whitespace, string values only. `None` for
/// anything else, which the general reader above then takes.
#[inline]
fn compact_strings(b: &[u8], key: &[u8]) -> Option<Option<Range<usize>>> {
    if b.first() != Some(&b'{') {
        return None;
    }
    if b.len() == 2 && b[1] == b'}' {
        return Some(None);
    }
    let mut found = None;
    let mut i = 1;
    loop {
        let name = string(b, i)?;
        if b.get(name.end + 1) != Some(&b':') {
            return None;
        }
        let text = string(b, name.end + 2)?;
        if b[name] == *key {
            if found.is_some() {
                return None;
            }
            found = Some(text.clone());
        }
        match b.get(text.end + 1) {
            Some(b',') => i = text.end + 2,
            Some(b'}') if text.end + 2 == b.len() => return Some(found),
            _ => return None,
        }
    }
}

/// Past JSON whitespace.
#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// The text of the string opening at `b[i]` (a quote), if it has no escapes
/// or control bytes; looked through eight bytes at a time.
#[inline]
fn string(b: &[u8], i: usize) -> Option<Range<usize>> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut rest = b.get(start..)?;
    let mut at = start;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let mask = stops(u64::from_le_bytes(*word));
        if mask != 0 {
            let end = at + (mask.trailing_zeros() / 8) as usize;
            return (b[end] == b'"').then_some(start..end);
        }
        at += 8;
        rest = tail;
    }
    let p = rest
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    (rest[p] == b'"').then_some(start..at + p)
}

/// The high bit of each byte of `w` (bytes in little-endian order) that is
/// a quote, a backslash or below 0x20. Only the lowest flag is exact (a
/// borrow can flag a byte above a true one), which is all `string` uses.
#[inline]
fn stops(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let slash = zero(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (quote | slash | control) & HIGH
}

/// A number, `true`, `false` or `null` at `b[i]`: the index after it.
fn scalar(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
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
            r#"{token":"a"}"#,
            r#"{"a":"b",c":"d"}"#,
            r#"{"a" "b"}"#,
            r#"{"a":"b" "c":"d"}"#,
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
            Just("a"),
        ]
    }

    proptest! {
        /// The word-at-a-time search finds what a byte loop finds.
        #[test]
        fn strings_end_where_a_byte_loop_says(
            b in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'\\'), Just(0x1fu8), Just(0x20u8), Just(b'a'),
                            Just(0x80u8), Just(0xffu8), Just(0u8), any::<u8>()], 0..40),
            at in 0usize..8,
        ) {
            let mut b = b;
            let at = at.min(b.len());
            b.insert(at, b'"');
            let stop = b.iter().skip(at + 1).position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            let expect = stop.filter(|&p| b[at + 1 + p] == b'"').map(|p| at + 1..at + 1 + p);
            prop_assert_eq!(string(&b, at), expect);
        }

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
