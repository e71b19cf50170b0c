//! Property tests: no input, however broken, makes the reader, the translation or a renderer
//! panic. Arbitrary bytes, and mutations of every real fixture (near-valid YAML).

use aws_auth_migrate::plan::translate::Options;
use aws_auth_migrate::plan::{FleetPlan, SCHEMA, plan_source};
use aws_auth_migrate::report::{self, Format};
use aws_auth_migrate::source::SourceFile;
use proptest::prelude::*;

fn exercise(text: String) {
    let source = SourceFile::new("fuzz.yaml", text);
    let (plan, errors) = plan_source("fuzz", &source, Options::default());
    for e in &errors {
        assert!(e.location.line >= 1 && e.location.column >= 1);
    }
    let fleet = FleetPlan {
        schema: SCHEMA,
        clusters: plan.into_iter().collect(),
        errors,
    };
    for format in [Format::Table, Format::Json, Format::Yaml, Format::Markdown] {
        let _ = report::render(&fleet, format);
    }
    let _ = report::render_errors(&fleet.errors);
}

fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["testdata/rules", "testdata/examples"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if (name.ends_with(".yaml") || name.ends_with(".json"))
                && !name.contains(".golden.")
                && !name.starts_with("entry-limit")
            {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out.sort();
    out
}

/// Edits that keep a document almost valid: the kinds of slips people make in aws-auth.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    DuplicateLine(usize),
    SwapLines(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let tokens = prop::sample::select(vec![
        " ",
        "  ",
        "\t",
        "\n",
        "- ",
        ": ",
        "|",
        ">",
        "'",
        "\"",
        "[",
        "]",
        "{",
        "}",
        "{{",
        "}}",
        "#",
        "&a ",
        "*a",
        "<<: ",
        "!!str ",
        "~",
        "yes",
        "0777",
        "2024-01-01",
        "---\n",
        "...\n",
        "\\",
        "\u{feff}",
        "é",
        "\r\n",
        "arn:aws:iam::111122223333:role/x",
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..8).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), tokens).prop_map(|(a, t)| Edit::Insert(a, t)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::SwapLines),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for e in edits {
        let len = s.len().max(1);
        match *e {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(s.len());
                if at < end {
                    s.drain(at..end);
                }
            }
            Edit::Insert(at, t) => {
                let at = at % (s.len() + 1);
                s.splice(at..at, t.chars());
            }
            Edit::DuplicateLine(at) | Edit::SwapLines(at) => {
                let joined: String = s.iter().collect();
                let mut lines: Vec<&str> = joined.split('\n').collect();
                let i = at % lines.len();
                if matches!(e, Edit::DuplicateLine(_)) {
                    lines.insert(i, lines[i]);
                } else if i + 1 < lines.len() {
                    lines.swap(i, i + 1);
                }
                s = lines.join("\n").chars().collect();
            }
        }
    }
    s.into_iter().collect()
}

proptest! {
    // PROPTEST_CASES raises the count for a long local run; CI runs the default.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn near_valid_yaml_never_panics(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        let text = seeds[seed.index(seeds.len())].clone();
        exercise(apply(&text, &edits));
    }

    #[test]
    fn mutated_inner_yaml_never_panics(edits in prop::collection::vec(edit(), 1..8)) {
        // Mutate only the embedded mapRoles text, keeping the ConfigMap around it valid.
        let inner = "- rolearn: arn:aws:iam::111122223333:role/a\n  username: a:{{SessionName}}\n  groups:\n    - system:masters\n    - devs\n- userarn: arn:aws:iam::111122223333:user/b\n  groups: [x]\n";
        let mutated = apply(inner, &edits);
        let doc = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": mutated, "mapUsers": mutated, "mapAccounts": mutated},
        });
        exercise(serde_json::to_string_pretty(&doc).unwrap());
    }
}
