//! `cargo xtask generate [--spec PATH] [--out DIR] [--check]`, `cargo xtask import PATH
//! [--out FILE] [--check]`, `cargo xtask ops [--spec PATH]`, `bench` and `msrv`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage:
  cargo xtask generate [--spec PATH] [--out DIR] [--check]
      regenerate crates/seclai-gen from the spec (default openapi/seclai.openapi.json);
      --check compares instead of writing and fails with a diff when stale
  cargo xtask import PATH [--out FILE] [--check]
      write the structure-only copy of the OpenAPI document at PATH (default
      openapi/seclai.openapi.json), after checking it generates the same code;
      --check compares instead of writing and fails with a diff when different
  cargo xtask ops [--spec PATH]
      print one line per operation: name METHOD /path [aliases]
  cargo xtask bench [--quick] [--section gets|sse|memory|streams|events]
      run the benchmarks (release build) and print one table of ratios and memory figures
  cargo xtask msrv
      check that no workspace member depends on a crate needing a newer Rust than it declares";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = xtask::workspace_root() else {
        eprintln!(
            "cannot find the workspace: no Cargo.toml with a [workspace] table at or above \
             CARGO_MANIFEST_DIR or the current directory; run `cargo xtask` inside the checkout"
        );
        return ExitCode::FAILURE;
    };
    if args.first().map(String::as_str) == Some("bench") {
        return bench(&root, &args[1..]);
    }
    if args.first().map(String::as_str) == Some("msrv") {
        return msrv(&root);
    }
    let import = args.first().map(String::as_str) == Some("import");
    let mut spec = root.join("openapi/seclai.openapi.json");
    let mut out = if import {
        spec.clone()
    } else {
        root.join("crates/seclai-gen/src/generated")
    };
    let mut source = None;
    let mut check = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--spec" if !import => match it.next() {
                Some(p) => spec = PathBuf::from(p),
                None => return usage_error("--spec needs a path"),
            },
            "--out" => match it.next() {
                Some(p) => out = PathBuf::from(p),
                None => return usage_error("--out needs a path"),
            },
            "--check" => check = true,
            p if import && source.is_none() && !p.starts_with("--") => {
                source = Some(PathBuf::from(p));
            }
            other => return usage_error(&format!("unknown argument {other:?}")),
        }
    }
    let overrides = root.join("openapi/overrides.toml");
    match args.first().map(String::as_str) {
        Some("generate") => generate(&spec, &overrides, &out, check),
        Some("import") => match source {
            Some(source) => import_spec(&source, &overrides, &out, check),
            None => usage_error("import needs the path of an OpenAPI document"),
        },
        Some("ops") => match xtask::spec::load(&spec)
            .and_then(|l| Ok((l, xtask::overrides::Overrides::load(&overrides)?)))
            .and_then(|(l, o)| xtask::analyze(&l, &o))
        {
            Ok((_, ops, _)) => {
                print!("{}", xtask::listing::ops_lines(&ops));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        _ => usage_error("expected a command"),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("{msg}\n{USAGE}");
    ExitCode::FAILURE
}

fn generate(spec: &Path, overrides: &Path, out: &Path, check: bool) -> ExitCode {
    let generated = match xtask::generate(spec, overrides) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    for w in &generated.warnings {
        eprintln!("{w}");
    }
    if check {
        let problems = xtask::check(out, &generated);
        if problems.is_empty() {
            eprintln!(
                "seclai-gen is up to date ({} operations)",
                generated.ops.len()
            );
            return ExitCode::SUCCESS;
        }
        for p in problems {
            eprintln!("{p}");
        }
        eprintln!("generated code is stale: run `cargo xtask generate`");
        return ExitCode::FAILURE;
    }
    match xtask::write(out, &generated) {
        Ok(()) => {
            let lines: usize = generated.files.values().map(|f| f.lines().count()).sum();
            eprintln!(
                "generated {} operations, {lines} lines into {}",
                generated.ops.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn import_spec(source: &Path, overrides: &Path, out: &Path, check: bool) -> ExitCode {
    let out_name = out.display().to_string();
    let text = match xtask::overrides::Overrides::load(overrides)
        .and_then(|o| xtask::import::import(source, &out_name, &o))
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        let have = std::fs::read_to_string(out).unwrap_or_default();
        if have == text {
            eprintln!("{out_name} is the import of {}", source.display());
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "{out_name} differs from the import of {}:\n{}\nrun `cargo xtask import {} --out {out_name}`",
            source.display(),
            xtask::import::short_diff(
                &have,
                &text,
                &out_name,
                &format!("import of {}", source.display())
            ),
            source.display()
        );
        return ExitCode::FAILURE;
    }
    let tmp = out.with_extension("json.tmp");
    let written = out
        .parent()
        .map_or(Ok(()), |dir| {
            if dir.as_os_str().is_empty() {
                Ok(())
            } else {
                std::fs::create_dir_all(dir)
            }
        })
        .and_then(|()| std::fs::write(&tmp, &text))
        .and_then(|()| std::fs::rename(&tmp, out));
    match written {
        Ok(()) => {
            eprintln!(
                "imported {} into {out_name} ({} bytes, {} lines)",
                source.display(),
                text.len(),
                text.lines().count()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("cannot write {out_name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bench binary, passing on its own arguments (`--quick`,
/// `--section NAME`).
fn bench(root: &Path, args: &[String]) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(root)
        .args(["bench", "-p", "seclai-tests", "--bench", "compare", "--"])
        .args(args);
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cannot run cargo bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn msrv(root: &Path) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = match std::process::Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
    {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => {
            eprintln!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("cannot run cargo metadata: {e}");
            return ExitCode::FAILURE;
        }
    };
    let metadata = match serde_json::from_slice(&out) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cargo metadata printed something that is not JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    match xtask::msrv::check(&metadata) {
        Ok((checked, violations)) if violations.is_empty() => {
            for (name, version) in checked {
                eprintln!("{name}: rust-version {version}, no dependency needs more");
            }
            ExitCode::SUCCESS
        }
        Ok((_, violations)) => {
            for v in violations {
                eprintln!("{v}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
