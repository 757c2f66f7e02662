//! `cargo xtask msrv`: every workspace member's declared `rust-version`
//! must be at least that of everything it builds with.
//!
//! Only one toolchain is installed where CI runs, so the crates cannot be
//! compiled with the oldest compiler they claim to support. What can be
//! checked is the claim itself: walking `cargo metadata`'s resolved graph
//! (normal and build dependencies, every target platform), no dependency
//! may declare a newer `rust-version` than the member that pulls it in.
//! Standard-library items newer than the declared version are caught by
//! clippy's `incompatible_msrv` lint, which reads the same field.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// A `rust-version` as (major, minor, patch); a missing patch is 0.
pub type RustVersion = (u64, u64, u64);

/// Parse `"1.85"` or `"1.85.0"`.
pub fn parse_version(s: &str) -> Option<RustVersion> {
    let mut parts = s.trim().split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    parts.next().is_none().then_some((major, minor, patch))
}

/// One dependency that needs a newer compiler than the member using it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// The workspace member.
    pub member: String,
    /// Its declared `rust-version`.
    pub member_version: String,
    /// The dependency (name and version).
    pub dependency: String,
    /// The dependency's declared `rust-version`.
    pub needs: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} declares rust-version {} but depends on {} which needs {}",
            self.member, self.member_version, self.dependency, self.needs
        )
    }
}

/// What [`check`] found: the members checked (name and rust-version) and
/// the violations.
pub type Report = (Vec<(String, String)>, Vec<Violation>);

/// Check the output of `cargo metadata --format-version 1`.
pub fn check(metadata: &Value) -> Result<Report, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let by_id: HashMap<&str, &Value> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata: no resolve graph (was --no-deps given?)")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let members = metadata["workspace_members"]
        .as_array()
        .ok_or("cargo metadata: no workspace members")?;
    let mut checked = Vec::new();
    let mut violations = BTreeSet::new();
    for member in members.iter().filter_map(Value::as_str) {
        let pkg = by_id.get(member).ok_or("cargo metadata: unknown member")?;
        let name = pkg["name"].as_str().unwrap_or("?").to_string();
        let Some(declared) = pkg["rust_version"].as_str() else {
            return Err(format!("{name} declares no rust-version"));
        };
        let limit =
            parse_version(declared).ok_or(format!("{name}: bad rust-version {declared:?}"))?;
        checked.push((name.clone(), declared.to_string()));
        for dep in build_closure(member, &nodes) {
            let Some(p) = by_id.get(dep) else { continue };
            let Some(needs) = p["rust_version"].as_str() else {
                continue;
            };
            if parse_version(needs).is_some_and(|v| v > limit) {
                violations.insert(Violation {
                    member: name.clone(),
                    member_version: declared.to_string(),
                    dependency: format!(
                        "{} {}",
                        p["name"].as_str().unwrap_or("?"),
                        p["version"].as_str().unwrap_or("?")
                    ),
                    needs: needs.to_string(),
                });
            }
        }
    }
    Ok((checked, violations.into_iter().collect()))
}

/// Every package `root` builds with: its normal and build dependencies,
/// transitively (dev-dependencies of the root only count for its tests,
/// and those of dependencies never count).
fn build_closure<'a>(root: &'a str, nodes: &HashMap<&'a str, &'a Value>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let builds = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].as_str() != Some("dev"));
            if let (true, Some(dep_id)) = (builds, dep["pkg"].as_str())
                && seen.insert(dep_id)
            {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pkg(id: &str, rv: Option<&str>) -> Value {
        json!({"id": id, "name": id, "version": "1.0.0", "rust_version": rv})
    }

    fn dep(id: &str, kind: Option<&str>) -> Value {
        json!({"pkg": id, "dep_kinds": [{"kind": kind, "target": null}]})
    }

    #[test]
    fn versions_parse_with_or_without_patch() {
        assert_eq!(parse_version("1.85"), Some((1, 85, 0)));
        assert_eq!(parse_version("1.85.1"), Some((1, 85, 1)));
        assert!(parse_version("1.85.0") < parse_version("1.88"));
        assert_eq!(parse_version("1.x"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn newer_normal_and_build_deps_are_violations_dev_deps_are_not() {
        let meta = json!({
            "workspace_members": ["app"],
            "packages": [
                pkg("app", Some("1.85")),
                pkg("old", Some("1.70")),
                pkg("deep", Some("1.88.0")),
                pkg("builder", Some("1.90")),
                pkg("devonly", Some("1.99")),
                pkg("unset", None),
            ],
            "resolve": {"nodes": [
                {"id": "app", "deps": [dep("old", None), dep("builder", Some("build")), dep("devonly", Some("dev")), dep("unset", None)]},
                {"id": "old", "deps": [dep("deep", None)]},
                {"id": "deep", "deps": []},
                {"id": "builder", "deps": []},
                {"id": "devonly", "deps": []},
                {"id": "unset", "deps": []},
            ]},
        });
        let (checked, v) = check(&meta).unwrap();
        assert_eq!(checked, vec![("app".to_string(), "1.85".to_string())]);
        let deps: Vec<&str> = v.iter().map(|v| v.dependency.as_str()).collect();
        assert_eq!(deps, ["builder 1.0.0", "deep 1.0.0"]);
        assert!(v[1].to_string().contains("app declares rust-version 1.85"));
    }

    #[test]
    fn a_member_without_rust_version_is_an_error() {
        let meta = json!({
            "workspace_members": ["app"],
            "packages": [pkg("app", None)],
            "resolve": {"nodes": [{"id": "app", "deps": []}]},
        });
        assert!(
            check(&meta)
                .unwrap_err()
                .contains("app declares no rust-version")
        );
    }
}
