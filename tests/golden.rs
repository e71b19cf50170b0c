//! Golden tests: the real binary plans every fixture under `testdata/rules/` and
//! `testdata/examples/`, and its stdout, stderr and exit status are compared with the
//! `.golden.*` files next to the fixture. Run with `UPDATE_GOLDEN=1` to rewrite them, then
//! review the diff: it is what the change does to users.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_aws-auth-migrate");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            (name.ends_with(".yaml") || name.ends_with(".json")) && !name.contains(".golden.")
        })
        .collect();
    files.sort();
    files
}

/// Runs `plan` on `fixture` (relative to the repository) with its `.args`, in `format`.
fn run(fixture: &Path, format: &str) -> (String, String, i32) {
    let rel = fixture.strip_prefix(root()).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(root())
        .arg("plan")
        .arg(rel)
        .args(["-o", format]);
    let args = fixture.with_extension("args");
    if args.exists() {
        cmd.args(std::fs::read_to_string(args).unwrap().split_whitespace());
    }
    let out = cmd.output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

/// Compares `actual` with the golden file, or rewrites it under UPDATE_GOLDEN=1.
fn check(golden: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(golden).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{} differs (UPDATE_GOLDEN=1 rewrites it; review the diff)\n--- expected\n{expected}\n--- actual\n{actual}",
            golden.display()
        ));
    }
}

fn golden_path(fixture: &Path, suffix: &str) -> PathBuf {
    let stem = fixture.file_stem().unwrap().to_string_lossy();
    fixture.with_file_name(format!("{stem}.golden.{suffix}"))
}

#[test]
fn every_rule_fixture_matches_its_golden_plan() {
    let mut failures = Vec::new();
    let mut codes = BTreeSet::new();
    for fixture in fixtures("testdata/rules") {
        let (stdout, stderr, status) = run(&fixture, "json");
        let plan: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON: {e}\n{stdout}", fixture.display()));
        for cluster in plan["clusters"].as_array().unwrap() {
            for f in cluster["findings"].as_array().unwrap() {
                codes.insert(f["code"].as_str().unwrap().to_string());
            }
        }
        // Very large plans keep only their summaries and findings as the golden.
        let golden = if stdout.len() > 200_000 {
            let brief: Vec<_> = plan["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| serde_json::json!({"summary": c["summary"], "findings": c["findings"]}))
                .collect();
            serde_json::to_string_pretty(&brief).unwrap() + "\n"
        } else {
            stdout
        };
        check(&golden_path(&fixture, "json"), &golden, &mut failures);
        check(
            &golden_path(&fixture, "stderr"),
            &format!("exit: {status}\n{stderr}"),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Codes only a live plan can produce are covered by tests/live.rs.
    const LIVE_ONLY: [&str; 3] = [
        "role-not-found",
        "role-name-invalid",
        "node-type-from-nodegroup",
    ];
    let missing: Vec<_> = aws_auth_migrate::model::findings::CATALOGUE
        .iter()
        .map(|c| c.code)
        .filter(|c| !codes.contains(*c) && !LIVE_ONLY.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "finding codes without a fixture in testdata/rules: {missing:?}"
    );
}

#[test]
fn examples_render_as_tables_and_markdown() {
    let mut failures = Vec::new();
    for fixture in fixtures("testdata/examples") {
        let (stdout, stderr, status) = run(&fixture, "table");
        check(
            &golden_path(&fixture, "txt"),
            &format!("exit: {status}\n{stderr}{stdout}"),
            &mut failures,
        );
        let (stdout, _, _) = run(&fixture, "markdown");
        check(&golden_path(&fixture, "md"), &stdout, &mut failures);
    }
    // A folder is a fleet: a summary first, and a broken file does not stop the others.
    let fleet = root().join("testdata/examples/fleet");
    let (stdout, stderr, status) = run(&fleet, "table");
    check(
        &root().join("testdata/examples/fleet.golden.txt"),
        &format!("exit: {status}\n{stderr}{stdout}"),
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
