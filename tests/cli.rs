//! The binary's contract: exit statuses, formats, and errors that never stop other inputs.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_aws-auth-migrate");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn readme_example_plans() {
    let out = run(&["plan", "testdata/examples/prod.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "prod.yaml has warnings but no blockers"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("Cluster prod (testdata/examples/prod.yaml)"),
        "{stdout}"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn blockers_exit_three() {
    let out = run(&["plan", "testdata/examples/fleet/staging.yaml"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn malformed_file_is_located_and_others_are_still_planned() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a-bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth\n",
    )
    .unwrap();
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rules/system-masters.yaml");
    std::fs::copy(good, dir.path().join("b-good.yaml")).unwrap();
    let out = Command::new(BIN)
        .args(["plan", "-o", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: ") && first.contains("a-bad.yaml:"),
        "{stderr}"
    );
    assert!(
        stderr.contains(" | metadata: {name: aws-auth"),
        "the line is quoted: {stderr}"
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(plan["clusters"][0]["cluster"], "b-good");
    assert_eq!(plan["errors"].as_array().unwrap().len(), 1);
    assert_eq!(plan["errors"][0]["location"]["line"], 3);
}

#[test]
fn missing_file_and_bad_options_are_errors() {
    let out = run(&["plan", "testdata/does-not-exist.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read the file"));

    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.yaml");
    std::fs::write(
        &map,
        "groups:\n  reader: {policy: AmazonEKSAutoNodePolicy}\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["plan", "testdata/rules/custom-group.yaml", "--policy-map"])
        .arg(&map)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not an access policy for people"));
    assert!(
        out.stdout.is_empty(),
        "nothing is planned with a broken option file"
    );
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(run(&["plan"]).status.code(), Some(2));
    assert_eq!(
        run(&["plan", "x.yaml", "--account", "12"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["plan", "x.yaml", "-o", "xml"]).status.code(), Some(2));
}

#[test]
fn json_and_yaml_carry_the_same_versioned_plan() {
    let json = run(&["plan", "-o", "json", "testdata/examples/prod.yaml"]);
    let yaml = run(&["plan", "-o", "yaml", "testdata/examples/prod.yaml"]);
    let from_json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let from_yaml: serde_json::Value = serde_saphyr::from_slice(&yaml.stdout).unwrap();
    assert_eq!(from_json["schema"], "aws-auth-migrate.plan/v1");
    assert_eq!(from_json, from_yaml);
}

#[test]
fn markdown_is_a_pull_request_comment() {
    let out = run(&["plan", "-o", "markdown", "testdata/examples/prod.yaml"]);
    let md = text(&out.stdout);
    assert!(md.starts_with("# aws-auth migration plan\n"));
    assert!(md.contains("| Action | From | Principal |"));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["plan", "testdata/rules/entry-limit.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(3), "the plan's own status, not a crash");
}

/// The subcommands as the binary defines them, so a new one is checked without editing here.
fn subcommands() -> Vec<String> {
    use clap::CommandFactory as _;
    aws_auth_migrate::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn completions_for_every_shell_know_the_subcommands_and_options() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(out.stderr.is_empty(), "{shell}");
        let script = text(&out.stdout);
        // fish names long options without their dashes (`-l fleet`).
        let long = if shell == "fish" { "-l " } else { "--" };
        for word in ["migrate", "rollback"]
            .map(String::from)
            .into_iter()
            .chain(["fleet", "to", "verbose"].map(|o| format!("{long}{o}")))
        {
            assert!(script.contains(&word), "{shell}: no {word}");
        }
    }
    // bash reads the script and registers it for the binary's name.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aws-auth-migrate.bash");
    std::fs::write(&file, run(&["completions", "bash"]).stdout).unwrap();
    let out = Command::new("bash")
        .args([
            "-c",
            "source \"$1\" && complete -p aws-auth-migrate",
            "bash",
        ])
        .arg(&file)
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let registered = text(&out.stdout);
    assert!(
        registered.starts_with("complete ")
            && registered.contains(" -F _aws__auth__migrate aws-auth-migrate"),
        "{registered}"
    );
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_man_page_names_every_subcommand() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    let page = text(&out.stdout);
    // After the preamble's definition of the apostrophe string, the title.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap();
    assert!(first.starts_with(".TH aws-auth-migrate 1 "), "{page}");
    assert!(page.contains("\n.SH SYNOPSIS\n") && page.contains("\n.SH SUBCOMMANDS\n"));
    let names = subcommands();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(
            page.contains(&format!(
                "aws\\-auth\\-migrate\\-{}(1)",
                name.replace('-', "\\-")
            )),
            "{name} is not in the page"
        );
        // Each has a page of its own, with its options.
        let sub = run(&["man", &name]);
        assert_eq!(sub.status.code(), Some(0), "{name}");
        let sub = text(&sub.stdout);
        assert!(
            sub.contains(&format!(".TH aws-auth-migrate-{name} 1 ")),
            "{sub}"
        );
        assert!(sub.contains("\n.SH OPTIONS\n"), "{name}");
    }
    let migrate = text(&run(&["man", "migrate"]).stdout);
    assert!(migrate.contains("\\fB\\-\\-to\\fR") && migrate.contains("\\fB\\-\\-fleet\\fR"));
    let out = run(&["man", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("one of: plan, migrate"));
}

#[test]
fn verbose_is_accepted_anywhere_and_quiet_by_default() {
    for args in [
        &["-v", "plan", "testdata/examples/prod.yaml"][..],
        &["plan", "-vv", "testdata/examples/prod.yaml"],
        &["plan", "testdata/examples/prod.yaml", "--verbose"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
    }
    // A filter RUST_LOG cannot parse is said, and -v's is used.
    let out = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["plan", "testdata/examples/prod.yaml"])
        .env("RUST_LOG", "aws_auth_migrate=loud")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).starts_with("warning: RUST_LOG is not a valid filter"),
        "{}",
        text(&out.stderr)
    );
}
