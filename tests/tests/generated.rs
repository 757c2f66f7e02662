//! Checks on the generated crate: reviewer snapshots of the operation table,
//! the types and one rendered request per method; freshness of the committed
//! code; coverage of the seed method names; and older specs still generating
//! code that compiles.

use seclai_gen::Operation;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use xtask::model::OpModel;

/// Operations in the current spec (`openapi/seclai.openapi.json`).
const CURRENT_OPERATIONS: usize = 164;

/// Names the clients implement by hand rather than from the table.
const HELPERS: &[&str] = &[
    "paginate",
    "request",
    "run_agent_and_poll",
    "run_streaming_agent_and_wait",
];

/// The checkout under test, found at run time (a path baked in at compile
/// time would point at another checkout sharing this target directory).
fn workspace() -> PathBuf {
    xtask::workspace_root().expect("the tests run inside the workspace")
}

fn spec_path() -> PathBuf {
    workspace().join("openapi/seclai.openapi.json")
}

fn overrides_path() -> PathBuf {
    workspace().join("openapi/overrides.toml")
}

/// The committed structure-only copies of earlier specs.
fn history_dir() -> PathBuf {
    workspace().join("openapi/history")
}

/// The generator's output for the current spec, computed once per test binary.
fn generated() -> &'static xtask::Generated {
    static GENERATED: OnceLock<xtask::Generated> = OnceLock::new();
    GENERATED.get_or_init(|| {
        let spec = spec_path();
        xtask::generate(&spec, &overrides_path())
            .unwrap_or_else(|e| panic!("generation failed for {}: {e}", spec.display()))
    })
}

#[test]
fn operation_table() {
    insta::assert_snapshot!(
        "operation_table",
        xtask::listing::operation_table(&generated().ops)
    );
}

#[test]
fn types_listing() {
    insta::assert_snapshot!(
        "types_listing",
        xtask::listing::types_listing(&generated().files["types.rs"])
    );
}

#[test]
fn committed_code_is_fresh() {
    let dir = workspace().join("crates/seclai-gen/src/generated");
    let problems = xtask::check(&dir, generated());
    assert!(
        problems.is_empty(),
        "the committed generated code differs from what the generator produces \
         (run `cargo xtask generate`):\n{}",
        problems.join("\n\n")
    );
}

// ---------------------------------------------------------------------------
// Rendered requests
// ---------------------------------------------------------------------------

/// One entry of the `for_each_operation!` table, rendered with sample inputs.
struct Rendered {
    /// The method name (an alias when the entry is one).
    name: &'static str,
    /// The descriptor's `Operation::ID`.
    id: &'static str,
    /// `name\nMETHOD path\nbody\n`, or why it could not be built.
    block: Result<String, String>,
}

/// Deserialize one sample value into the type the descriptor takes.
fn decode<T: DeserializeOwned>(op: &str, input: &str, value: Option<Value>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{op}: the sample has no value for `{input}`"))?;
    let shown = value.to_string();
    serde_json::from_value(value).map_err(|e| {
        format!(
            "{op}: sample for `{input}` does not deserialize into {}: {e}\n  value: {shown}",
            std::any::type_name::<T>()
        )
    })
}

/// The sample for `model`, after checking that the table entry lists the
/// same required and optional inputs, in the same order, as the model.
fn sample_for(
    name: &str,
    model: &OpModel,
    required: &[&str],
    optional: &[&str],
    has_body: bool,
) -> Result<xtask::listing::Sample, String> {
    let idents = |want_required: bool| -> Vec<&str> {
        model
            .params
            .iter()
            .filter(|p| p.required == want_required)
            .map(|p| p.ident.as_str())
            .collect()
    };
    if idents(true) != required {
        return Err(format!(
            "{name}: table lists required inputs {required:?}, the model has {:?}",
            idents(true)
        ));
    }
    if idents(false) != optional {
        return Err(format!(
            "{name}: table lists optional inputs {optional:?}, the model has {:?}",
            idents(false)
        ));
    }
    if model.body.is_some() != has_body {
        return Err(format!(
            "{name}: table body presence ({has_body}) disagrees with the model ({:?})",
            model.body
        ));
    }
    Ok(xtask::listing::sample(&generated().doc, model))
}

fn render<O: Operation>(name: &str, op: &O) -> Result<String, String> {
    op.check()
        .map_err(|e| format!("{name}: sample inputs fail check(): {e}"))?;
    let body = match op.body() {
        Ok(Some(bytes)) => {
            String::from_utf8(bytes).map_err(|e| format!("{name}: body is not UTF-8: {e}"))?
        }
        Ok(None) => "(no body)".to_string(),
        Err(e) => return Err(format!("{name}: body does not serialize: {e}")),
    };
    Ok(format!(
        "{name}\n{} {}\n{body}\n",
        O::METHOD,
        op.path_and_query()
    ))
}

fn model_for<'a>(ops: &'a [OpModel], id: &str) -> Result<&'a OpModel, String> {
    ops.iter()
        .find(|m| m.name == id)
        .ok_or_else(|| format!("no operation model named {id:?}"))
}

/// `for_each_operation!` callback: one `Rendered` per entry.
macro_rules! render_entries {
    ($(
        ($name:ident, $desc:ident,
         [$($req:ident : $req_ty:ty),* $(,)?],
         [$($body_ty:ty)?],
         [$($opt:ident : $opt_ty:ty),* $(,)?],
         $kind:ident $(, $flag:ident)*);
    )*) => {{
        let ops = &generated().ops;
        let mut out: Vec<Rendered> = Vec::new();
        $(
            let name = stringify!($name);
            let id = <seclai_gen::ops::$desc as Operation>::ID;
            let block = (|| -> Result<String, String> {
                let model = model_for(ops, id)?;
                if model.name != name && !model.aliases.iter().any(|a| a == name) {
                    return Err(format!(
                        "{name}: descriptor {} has ID {id:?}, whose model knows no such name",
                        stringify!($desc)
                    ));
                }
                let kind = stringify!($kind);
                if kind != model.kind.token() {
                    return Err(format!(
                        "{name}: table kind `{kind}`, model kind `{}`",
                        model.kind.token()
                    ));
                }
                let flags: &[&str] = &[$(stringify!($flag)),*];
                let is_alias = name != model.name;
                if (flags.contains(&"primary") && is_alias) || (flags.contains(&"alias") && !is_alias) {
                    return Err(format!(
                        "{name}: marked {flags:?} but the model's primary name is {:?}",
                        model.name
                    ));
                }
                let body_types: &[&str] = &[$(stringify!($body_ty))?];
                let sample = sample_for(
                    name,
                    model,
                    &[$(stringify!($req)),*],
                    &[$(stringify!($opt)),*],
                    !body_types.is_empty(),
                )?;
                #[allow(unused_mut, unused_variables)]
                let mut required = sample.required.into_iter();
                #[allow(unused_mut, unused_variables)]
                let mut optional = sample.optional.into_iter();
                #[allow(unused_variables)]
                let body = sample.body;
                let op = seclai_gen::ops::$desc::new(
                    $(decode::<$req_ty>(name, stringify!($req), required.next())?,)*
                    $(decode::<$body_ty>(name, "body", body)?,)?
                );
                $(
                    let op = op.$opt(decode::<$opt_ty>(name, stringify!($opt), optional.next())?);
                )*
                render(name, &op)
            })();
            out.push(Rendered { name, id, block });
        )*
        out
    }};
}

/// Every table entry rendered with the spec's samples, once per test binary.
fn rendered_entries() -> &'static [Rendered] {
    static RENDERED: OnceLock<Vec<Rendered>> = OnceLock::new();
    RENDERED.get_or_init(|| seclai_gen::for_each_operation!(render_entries))
}

#[test]
fn rendered_requests() {
    let rendered = rendered_entries();
    let failures: Vec<&str> = rendered
        .iter()
        .filter_map(|r| r.block.as_ref().err().map(String::as_str))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} table entries could not be built from the spec's samples:\n{}",
        failures.len(),
        rendered.len(),
        failures.join("\n")
    );

    // Every operation appears under its name and each alias, nothing else.
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for m in &generated().ops {
        expected.insert((m.name.clone(), m.name.clone()));
        for a in &m.aliases {
            expected.insert((a.clone(), m.name.clone()));
        }
    }
    let seen: BTreeSet<(String, String)> = rendered
        .iter()
        .map(|r| (r.name.to_string(), r.id.to_string()))
        .collect();
    assert_eq!(
        seen, expected,
        "table entries (name, ID) differ from the models"
    );
    assert_eq!(seen.len(), rendered.len(), "duplicate table entries");

    let text: String = rendered
        .iter()
        .map(|r| r.block.as_ref().expect("checked above").as_str())
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("rendered_requests", text);
}

/// Each rendered JSON body of the snapshot validates against the spec's own
/// JSON Schema for that operation's body: the raw 3.1 document, with its
/// `#/components/schemas/…` references resolved in place.
#[test]
fn rendered_bodies_match_the_spec_schemas() {
    let raw: Value =
        serde_json::from_str(&std::fs::read_to_string(spec_path()).expect("the spec is readable"))
            .expect("the spec is JSON");
    let components = raw.get("components").cloned().unwrap_or(Value::Null);
    let mut checked = 0;
    let mut failures = Vec::new();
    for r in rendered_entries() {
        let Ok(block) = &r.block else { continue };
        let Some(body) = block.lines().nth(2).filter(|b| *b != "(no body)") else {
            continue;
        };
        let model = model_for(&generated().ops, r.id).expect("checked by rendered_requests");
        let pointer = format!(
            "/paths/{}/{}/requestBody/content/application~1json/schema",
            model.path.replace('~', "~0").replace('/', "~1"),
            model.method.to_lowercase()
        );
        let Some(schema) = raw.pointer(&pointer) else {
            failures.push(format!("{}: no JSON body schema at {pointer}", r.name));
            continue;
        };
        // The body schema becomes the root of a document that also holds
        // the components, so `#/components/schemas/X` resolves in it.
        let mut root = serde_json::Map::new();
        root.insert("allOf".into(), Value::Array(vec![schema.clone()]));
        root.insert("components".into(), components.clone());
        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&Value::Object(root))
        {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{}: the spec's body schema does not compile: {e}",
                    r.name
                ));
                continue;
            }
        };
        if r.name == "create_agent" {
            // A control: the schema is really applied (its `$ref` resolves
            // and `name` is required), so an empty body is rejected.
            assert!(
                !validator.is_valid(&serde_json::json!({})),
                "the create_agent body schema accepts an empty object"
            );
        }
        let instance: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{}: rendered body is not JSON: {e}", r.name));
                continue;
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            failures.push(format!("{}: {body}\n  {}", r.name, errors.join("\n  ")));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "rendered bodies the spec's schemas reject:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 40, "only {checked} bodies were validated");
}

// ---------------------------------------------------------------------------
// Seed names
// ---------------------------------------------------------------------------

/// `for_each_operation!` callback: the method names in the table.
macro_rules! entry_names {
    ($(($name:ident, $($rest:tt)*);)*) => {
        vec![$(stringify!($name)),*]
    };
}

#[test]
fn seed_names_are_covered() {
    assert_eq!(
        generated().ops.len(),
        CURRENT_OPERATIONS,
        "operation count of the current spec"
    );
    let path = workspace().join("openapi/python-sdk-methods.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the seed method list at {}: {e}",
            path.display()
        )
    });
    let table: Vec<&str> = seclai_gen::for_each_operation!(entry_names);
    let known: BTreeSet<&str> = table
        .iter()
        .copied()
        .chain(HELPERS.iter().copied())
        .collect();
    let seeds: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!seeds.is_empty(), "{} lists no names", path.display());
    let missing: Vec<&str> = seeds
        .iter()
        .copied()
        .filter(|s| !known.contains(s))
        .collect();
    assert!(
        missing.is_empty(),
        "seed methods with no operation or helper of that name: {missing:?}"
    );
}

// ---------------------------------------------------------------------------
// Older specs
// ---------------------------------------------------------------------------

/// Expected operation counts of the specs in `openapi/history`.
const HISTORY: &[(&str, usize)] = &[
    ("seclai-2026-05-22", 135),
    ("seclai-2026-06-05", 138),
    ("seclai-2026-07-26", 162),
];

/// Render a TOML value (enough for a Cargo manifest).
fn toml_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => serde_json::to_string(s).expect("strings serialize"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_value).collect::<Vec<_>>().join(", ")
        ),
        toml::Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        serde_json::to_string(k).expect("strings serialize")
    }
}

fn inherits(v: &toml::Value) -> bool {
    v.get("workspace").and_then(toml::Value::as_bool) == Some(true)
}

/// `crates/seclai-gen/Cargo.toml` as a standalone manifest: inherited fields
/// and dependencies resolved from the root manifest, plus an empty
/// `[workspace]` so cargo does not look for an enclosing one.
fn standalone_manifest() -> String {
    let root_dir = workspace();
    let read = |p: &Path| -> toml::Table {
        let text = std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
        text.parse()
            .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", p.display()))
    };
    let root = read(&root_dir.join("Cargo.toml"));
    let mut manifest = read(&root_dir.join("crates/seclai-gen/Cargo.toml"));
    let ws = root["workspace"].as_table().expect("[workspace]");
    let ws_package = ws["package"].as_table().expect("[workspace.package]");
    let ws_deps = ws["dependencies"]
        .as_table()
        .expect("[workspace.dependencies]");

    let package = manifest["package"].as_table_mut().expect("[package]");
    for (key, value) in package.iter_mut() {
        if inherits(value) {
            *value = ws_package
                .get(key.as_str())
                .unwrap_or_else(|| panic!("workspace.package.{key} is not set"))
                .clone();
        }
    }
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = manifest.get_mut(section).and_then(|d| d.as_table_mut()) else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            if !inherits(dep) {
                continue;
            }
            let mut resolved = match ws_deps.get(name.as_str()) {
                Some(toml::Value::String(v)) => {
                    let mut t = toml::Table::new();
                    t.insert("version".into(), toml::Value::String(v.clone()));
                    t
                }
                Some(toml::Value::Table(t)) => t.clone(),
                other => panic!("workspace dependency {name}: unexpected {other:?}"),
            };
            if let Some(toml::Value::String(p)) = resolved.get("path") {
                let abs = root_dir.join(p).display().to_string();
                resolved.insert("path".into(), toml::Value::String(abs));
            }
            let local = dep.as_table().expect("inheriting dependency is a table");
            for (k, v) in local {
                match k.as_str() {
                    "workspace" => {}
                    "features" => {
                        let mut all = resolved
                            .get("features")
                            .and_then(|f| f.as_array())
                            .cloned()
                            .unwrap_or_default();
                        all.extend(v.as_array().cloned().unwrap_or_default());
                        resolved.insert("features".into(), toml::Value::Array(all));
                    }
                    _ => {
                        resolved.insert(k.clone(), v.clone());
                    }
                }
            }
            *dep = toml::Value::Table(resolved);
        }
    }

    let mut out = String::new();
    for (section, body) in &manifest {
        let toml::Value::Table(t) = body else {
            out.insert_str(
                0,
                &format!("{} = {}\n", toml_key(section), toml_value(body)),
            );
            continue;
        };
        out.push_str(&format!("[{}]\n", toml_key(section)));
        for (k, v) in t {
            out.push_str(&format!("{} = {}\n", toml_key(k), toml_value(v)));
        }
        out.push('\n');
    }
    out.push_str("[workspace]\n");
    out
}

/// The committed earlier specs by name (file name without `.openapi.json`).
fn history_specs() -> BTreeMap<String, PathBuf> {
    let history = history_dir();
    std::fs::read_dir(&history)
        .unwrap_or_else(|e| {
            panic!(
                "cannot list the historical specs at {} ({e})",
                history.display()
            )
        })
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let stem = p.file_name().unwrap().to_string_lossy();
            let stem = stem.strip_suffix(".openapi.json").unwrap_or(&stem);
            let stem = stem.strip_suffix(".json").unwrap_or(stem).to_string();
            (stem, p)
        })
        .collect()
}

/// The committed specs are structure-only copies in canonical form, as
/// `cargo xtask import` writes them: no prose, sorted keys, fixed indentation.
/// (CI also re-imports each from the document it came from.)
#[test]
fn committed_specs_are_canonical_imports() {
    let mut paths = vec![spec_path()];
    paths.extend(history_specs().into_values());
    assert_eq!(paths.len(), 1 + HISTORY.len());
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let canonical = xtask::import::canonical_text(&doc);
        if canonical != text {
            panic!(
                "{} is not what `cargo xtask import` writes; re-import it from its source:\n{}",
                path.display(),
                xtask::import::short_diff(&text, &canonical, "committed", "canonical")
            );
        }
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

#[test]
fn history_specs_generate_and_compile() {
    let root = workspace();
    let overrides = xtask::overrides::Overrides::load(&overrides_path())
        .unwrap_or_else(|e| panic!("overrides: {e}"));

    // The current spec goes through the same entry point.
    let spec = spec_path();
    let loaded = xtask::spec::load(&spec).unwrap_or_else(|e| panic!("{e}"));
    let current = xtask::generate_loaded(&loaded, &overrides).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current.ops.len(), CURRENT_OPERATIONS, "current spec");

    let history = history_dir();
    let found = history_specs();
    let expected: BTreeSet<&str> = HISTORY.iter().map(|(n, _)| *n).collect();
    let names: BTreeSet<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        expected,
        "historical specs in {} (add their expected operation counts here)",
        history.display()
    );

    // One throwaway crate, rewritten per spec, so dependencies build once.
    let dir = tempfile::tempdir().expect("tempdir");
    let krate = dir.path();
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(krate.join("Cargo.toml"), standalone_manifest()).unwrap();
    std::fs::copy(
        root.join("crates/seclai-gen/src/lib.rs"),
        krate.join("src/lib.rs"),
    )
    .unwrap();
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let target = root.join("target/history-check");

    let mut failures = Vec::new();
    for &(name, count) in HISTORY {
        let path = &found[name];
        let loaded = xtask::spec::load(path).unwrap_or_else(|e| panic!("{e}"));
        let generated = match xtask::generate_loaded(&loaded, &overrides) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: generation failed: {e}"));
                continue;
            }
        };
        if generated.ops.len() != count {
            failures.push(format!(
                "{name}: {} operations, expected {count}",
                generated.ops.len()
            ));
        }
        xtask::write(&krate.join("src/generated"), &generated).expect("write generated files");
        let started = std::time::Instant::now();
        let output = Command::new(cargo())
            .args(["check", "--offline", "--quiet"])
            .current_dir(krate)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("run cargo check");
        eprintln!(
            "{name}: cargo check {} in {:.1?}",
            if output.status.success() {
                "passed"
            } else {
                "FAILED"
            },
            started.elapsed()
        );
        if !output.status.success() {
            failures.push(format!(
                "{name}: the generated crate does not compile ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
