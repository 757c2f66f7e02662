//! `cargo xtask generate [--spec PATH] [--out DIR] [--check]` and `cargo xtask ops [--spec PATH]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage:
  cargo xtask generate [--spec PATH] [--out DIR] [--check]
      regenerate crates/seclai-gen from the spec (default openapi/seclai.openapi.json);
      --check compares instead of writing and fails with a diff when stale
  cargo xtask ops [--spec PATH]
      print one line per operation: name METHOD /path [aliases]
  cargo xtask bench [--quick]
      run every benchmark (release build) and print one table of ratios and memory figures
  cargo xtask msrv
      check that no workspace member depends on a crate needing a newer Rust than it declares";

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    if args.first().map(String::as_str) == Some("bench") {
        return bench(&root, args.iter().any(|a| a == "--quick"));
    }
    if args.first().map(String::as_str) == Some("msrv") {
        return msrv(&root);
    }
    let mut spec = root.join("openapi/seclai.openapi.json");
    let mut out = root.join("crates/seclai-gen/src/generated");
    let mut check = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--spec" => match it.next() {
                Some(p) => spec = PathBuf::from(p),
                None => return usage_error("--spec needs a path"),
            },
            "--out" => match it.next() {
                Some(p) => out = PathBuf::from(p),
                None => return usage_error("--out needs a directory"),
            },
            "--check" => check = true,
            other => return usage_error(&format!("unknown argument {other:?}")),
        }
    }
    let overrides = root.join("openapi/overrides.toml");
    match args.first().map(String::as_str) {
        Some("generate") => generate(&spec, &overrides, &out, check),
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

fn bench(root: &Path, quick: bool) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(root)
        .args(["bench", "-p", "seclai-tests", "--bench", "compare", "--"]);
    if quick {
        cmd.arg("--quick");
    }
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
