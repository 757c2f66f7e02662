//! Loading the spec: read, parse, check the OpenAPI version, hash (of the
//! structure-only form, see [`crate::import`]).

use crate::error::{GenError, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A parsed spec plus what we need to know about the file it came from.
pub struct LoadedSpec {
    /// The document, as JSON.
    pub doc: Value,
    /// Display name of the file, for error messages.
    pub file: String,
    /// Lower-case hex sha256 of the document's structure-only form (what
    /// `cargo xtask import` writes), so a document and its import hash alike.
    pub sha256: String,
}

/// Read and parse `path`. Missing files, invalid JSON and unsupported
/// OpenAPI versions are errors naming the file (and pointer).
pub fn load(path: &Path) -> Result<LoadedSpec> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        GenError::at(
            "",
            format!(
                "cannot read the spec ({e}). The checkout's copy is \
                 openapi/seclai.openapi.json (see openapi/README.md); `generate` and `ops` \
                 read another with --spec PATH."
            ),
        )
        .in_file(&file)
    })?;
    parse(&bytes, &file)
}

/// Parse spec bytes already in memory.
pub fn parse(bytes: &[u8], file: &str) -> Result<LoadedSpec> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        GenError::at(
            "",
            format!(
                "the spec is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
        .in_file(file)
    })?;
    check_version(&doc).map_err(|e| e.in_file(file))?;
    let sha256 = Sha256::digest(crate::import::canonical_text(&doc).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(LoadedSpec {
        doc,
        file: file.to_string(),
        sha256,
    })
}

/// Only OpenAPI 3.0.x and 3.1.x are understood.
pub fn check_version(doc: &Value) -> Result<()> {
    let Some(obj) = doc.as_object() else {
        return Err(GenError::at("", "the spec must be a JSON object"));
    };
    match obj.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") || v.starts_with("3.1.") => Ok(()),
        Some(v) => Err(GenError::at(
            "/openapi",
            format!("unsupported OpenAPI version {v:?}; this generator reads 3.0.x and 3.1.x"),
        )),
        None => Err(GenError::at(
            "/openapi",
            "missing the `openapi` version field; is this an OpenAPI document?",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_json_with_position() {
        let e = parse(b"{\"openapi\": ", "x.json").err().unwrap();
        assert_eq!(e.file, "x.json");
        assert!(e.message.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn rejects_unknown_versions() {
        let e = parse(br#"{"openapi":"2.0"}"#, "x.json").err().unwrap();
        assert_eq!(e.pointer, "/openapi");
        let e = parse(br#"{"swagger":"2.0"}"#, "x.json").err().unwrap();
        assert!(e.message.contains("missing"));
        assert!(parse(br#"{"openapi":"3.1.0"}"#, "x.json").is_ok());
    }

    #[test]
    fn hash_ignores_prose_and_key_order() {
        let a = parse(
            br#"{"openapi":"3.1.0","info":{"title":"T","version":"1","description":"x"}}"#,
            "a.json",
        )
        .unwrap();
        let b = parse(
            b"{\n  \"info\": {\"version\": \"1\", \"title\": \"T\"},\n  \"openapi\": \"3.1.0\"\n}\n",
            "b.json",
        )
        .unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.sha256.len(), 64);
        let c = parse(
            br#"{"openapi":"3.1.0","info":{"title":"U","version":"1"}}"#,
            "c.json",
        )
        .unwrap();
        assert_ne!(a.sha256, c.sha256, "structure changes the hash");
    }

    #[test]
    fn missing_file_names_the_path() {
        let e = load(Path::new("/nonexistent/spec.json")).err().unwrap();
        assert_eq!(e.file, "/nonexistent/spec.json");
        assert!(e.message.contains("--spec"));
    }
}
