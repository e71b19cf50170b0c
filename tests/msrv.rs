//! `rust-version` tells the truth: no lower than what the code needs. Clippy's
//! `incompatible_msrv` lint (run with `-D warnings` in CI) catches standard-library APIs newer
//! than `rust-version`; this test catches language features it cannot see: let-chains
//! (`if let … && …`, stable in Rust 1.88 with edition 2024).

use std::path::Path;

fn rust_version() -> (u32, u32) {
    let toml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml");
    let line = toml
        .lines()
        .find(|l| l.trim_start().starts_with("rust-version ="))
        .expect("a rust-version in Cargo.toml");
    let version = line.split('"').nth(1).expect("a quoted version");
    let mut parts = version
        .split('.')
        .map(|p| p.parse::<u32>().expect("a number"));
    (parts.next().unwrap(), parts.next().unwrap_or(0))
}

/// Files under `dir` (recursively) with the given extension.
fn files(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// A let-chain: `if let`/`while let` continued with `&&`, or a condition line `&& let …`.
fn uses_let_chains(text: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("&& let ") {
            return Some(i + 1);
        }
        if (t.starts_with("if let ")
            || t.starts_with("} else if let ")
            || t.starts_with("while let "))
            && t.contains(" && ")
            && !t.contains("//")
        {
            return Some(i + 1);
        }
    }
    None
}

#[test]
fn rust_version_covers_the_let_chains_the_code_uses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for dir in ["src", "sim/src", "tests", "benches"] {
        files(&root.join(dir), "rs", &mut sources);
    }
    let using: Vec<String> = sources
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            uses_let_chains(&text).map(|line| format!("{}:{line}", p.display()))
        })
        .collect();
    assert!(
        !using.is_empty(),
        "the scan finds the let-chains the code has"
    );
    assert!(
        rust_version() >= (1, 88),
        "rust-version {:?} is older than the let-chains at {} need (1.88)",
        rust_version(),
        using.join(", ")
    );
}

#[test]
fn the_scan_tells_let_chains_from_plain_conditions() {
    assert_eq!(uses_let_chains("if let Some(x) = y && x > 1 {"), Some(1));
    assert_eq!(
        uses_let_chains("if let Some(x) = y\n    && let Some(z) = x {"),
        Some(2)
    );
    assert_eq!(uses_let_chains("if a && b {\nif let Some(x) = y {"), None);
}
