//! The layout keeps its promise: the offline core (`source`, `awsauth`, `model`, `plan`,
//! `verify`, `report`, `iac`) links no network crate and reaches into no live module, and the
//! README's layout section names the tree as it is.

use std::path::{Path, PathBuf};

const CORE: [&str; 7] = [
    "source", "awsauth", "model", "plan", "verify", "report", "iac",
];
const FORBIDDEN: [&str; 9] = [
    "tokio",
    "kube::",
    "aws_sdk_",
    "aws_config",
    "aws_sigv4",
    "futures::",
    "crate::live",
    "crate::migrate",
    "crate::cli",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_offline_core_links_no_network_code() {
    let mut offenders = Vec::new();
    for dir in CORE {
        let mut files = Vec::new();
        rust_files(&root().join("src").join(dir), &mut files);
        assert!(!files.is_empty(), "src/{dir} exists");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for word in FORBIDDEN {
                    if code.contains(word) {
                        offenders.push(format!("{}:{}: {word}", f.display(), i + 1));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn the_readme_layout_names_every_folder_of_src_and_nothing_that_is_gone() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## Layout")
        .nth(1)
        .expect("a Layout section")
        .split("\n## ")
        .next()
        .unwrap();
    let block = section.split("```").nth(1).expect("a code block");
    let named: Vec<&str> = block
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.contains('/'))
        .collect();
    for path in &named {
        assert!(
            root().join(path.trim_end_matches('/')).exists(),
            "README's layout names {path}, which does not exist"
        );
    }
    for entry in std::fs::read_dir(root().join("src")).unwrap().flatten() {
        if entry.path().is_dir() {
            let name = format!("src/{}/", entry.file_name().to_string_lossy());
            assert!(
                named.contains(&name.as_str()),
                "README's layout lacks {name}"
            );
        }
    }
}
