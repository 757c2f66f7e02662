//! `cargo xtask`: generates `crates/seclai-gen` from the Seclai OpenAPI spec.
//!
//! The pipeline: load → normalize → extract operations (hoisting inline
//! schemas) → types (progenitor/typify) → descriptors and table → format.
//! Same spec, same bytes.

pub mod emit;
pub mod error;
pub mod facts;
pub mod import;
pub mod listing;
pub mod model;
pub mod msrv;
pub mod normalize;
pub mod overrides;
pub mod spec;
pub mod typesgen;

use error::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The workspace root, found at run time: the nearest directory at or above
/// `CARGO_MANIFEST_DIR` (which `cargo run` and `cargo test` set for the
/// process) or, without it, the current directory, whose `Cargo.toml` has a
/// `[workspace]` table. Never a path baked in at compile time, so a moved or
/// copied checkout acts on itself even when it shares a target directory.
pub fn workspace_root() -> Option<PathBuf> {
    let start = match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().ok()?,
    };
    find_workspace_root(&start)
}

/// The nearest directory at or above `start` whose `Cargo.toml` declares a
/// `[workspace]`.
pub fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        let table: toml::Table = manifest.parse().ok()?;
        table.contains_key("workspace").then(|| dir.to_path_buf())
    })
}

/// Everything one run produces.
pub struct Generated {
    /// File path relative to `crates/seclai-gen/src/generated/` → contents.
    pub files: BTreeMap<String, String>,
    /// The operations, sorted by name.
    pub ops: Vec<model::OpModel>,
    /// The normalized document (components after hoisting).
    pub doc: serde_json::Value,
    /// Non-fatal notes (override entries for absent operations, …).
    pub warnings: Vec<String>,
    /// sha256 of the spec's structure-only form (see [`import`]).
    pub sha256: String,
}

/// Normalize a loaded spec and extract the operation models (no type generation).
pub fn analyze(
    loaded: &spec::LoadedSpec,
    overrides: &overrides::Overrides,
) -> Result<(serde_json::Value, Vec<model::OpModel>, Vec<String>)> {
    let file = loaded.file.as_str();
    let mut doc = loaded.doc.clone();
    let names: Vec<String> = doc
        .pointer("/components/schemas")
        .and_then(|v| v.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let renames =
        normalize::schema_renames(&names, &overrides.schemas).map_err(|e| e.in_file(file))?;
    normalize::apply_schema_renames(&mut doc, &renames);
    normalize::normalize_schemas(&mut doc).map_err(|e| e.in_file(file))?;
    normalize::hoist_inline_enums(&mut doc).map_err(|e| e.in_file(file))?;
    let (ops, warnings) = model::extract(&mut doc, overrides).map_err(|e| e.in_file(file))?;
    normalize::set_openapi_303(&mut doc);
    Ok((doc, ops, warnings))
}

/// Run the whole pipeline in memory.
pub fn generate(spec_path: &Path, overrides_path: &Path) -> Result<Generated> {
    let loaded = spec::load(spec_path)?;
    let overrides = overrides::Overrides::load(overrides_path)?;
    generate_loaded(&loaded, &overrides)
}

/// Run the pipeline on an already-loaded spec.
pub fn generate_loaded(
    loaded: &spec::LoadedSpec,
    overrides: &overrides::Overrides,
) -> Result<Generated> {
    let (doc, ops, warnings) = analyze(loaded, overrides)?;
    let types = typesgen::generate(&doc, &ops).map_err(|e| e.in_file(&loaded.file))?;
    let header = emit::header(&loaded.sha256);
    let mut files = BTreeMap::new();
    files.insert(
        "mod.rs".to_string(),
        header.clone() + &emit::root_module(&loaded.doc)?,
    );
    files.insert(
        "support.rs".to_string(),
        header.clone() + &emit::support_module()?,
    );
    let types_file = emit::format(quote::quote! {
        //! Request and response types, generated from the spec's components.
        #![allow(unused_imports)]
        use std::collections::BTreeMap;
        #types
    })?;
    files.insert("types.rs".to_string(), header.clone() + &types_file);
    files.insert(
        "ops.rs".to_string(),
        header.clone() + &emit::ops_module(&ops, &doc)?,
    );
    files.insert("table.rs".to_string(), header + &emit::table_module(&ops));
    Ok(Generated {
        files,
        ops,
        doc,
        warnings,
        sha256: loaded.sha256.clone(),
    })
}

/// Write the generated files into `dir`, removing stale `.rs` files there.
pub fn write(dir: &Path, generated: &Generated) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if path.extension().is_some_and(|e| e == "rs") && !generated.files.contains_key(&name) {
            std::fs::remove_file(&path)?;
        }
    }
    for (name, contents) in &generated.files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, contents)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

/// Compare with what is on disk; returns a short unified diff per stale file.
pub fn check(dir: &Path, generated: &Generated) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in &generated.files {
        let path = dir.join(name);
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if &have == want {
            continue;
        }
        let old_hash = have
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("// spec sha256: "))
            .unwrap_or("");
        let mut msg = String::new();
        if old_hash != generated.sha256 {
            msg.push_str(&format!(
                "spec changed (sha256 {} → {}): run `cargo xtask generate`\n",
                if old_hash.is_empty() {
                    "none"
                } else {
                    old_hash
                },
                generated.sha256
            ));
        }
        let diff = similar::TextDiff::from_lines(&have, want);
        let text = diff
            .unified_diff()
            .context_radius(2)
            .header(&format!("a/{name}"), &format!("b/{name}"))
            .to_string();
        let short: Vec<&str> = text.lines().take(60).collect();
        msg.push_str(&short.join("\n"));
        if text.lines().count() > 60 {
            msg.push_str(&format!(
                "\n… ({} more diff lines)",
                text.lines().count() - 60
            ));
        }
        problems.push(format!("{} is stale:\n{msg}", path.display()));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_workspace_manifest() {
        let dir = std::env::temp_dir().join(format!("xtask-root-{}", std::process::id()));
        let member = dir.join("ws/member/src");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(
            dir.join("ws/Cargo.toml"),
            "[workspace]\nmembers = [\"member\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("ws/member/Cargo.toml"),
            "[package]\nname = \"m\"\n",
        )
        .unwrap();
        assert_eq!(find_workspace_root(&member), Some(dir.join("ws")));
        assert_eq!(find_workspace_root(&dir.join("ws")), Some(dir.join("ws")));
        std::fs::remove_dir_all(&dir).unwrap();
        // This crate's own checkout is found from its manifest directory.
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = find_workspace_root(here).unwrap();
        assert!(root.join("xtask/Cargo.toml").is_file());
    }
}
