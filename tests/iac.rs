//! Infrastructure-as-code output (issue 9): goldens per format for the shipped examples, the
//! output checked by validators written by others (python-hcl2 for HCL, cfn-lint against AWS's
//! resource specification, PyYAML and eksctl's ClusterConfig field names), the declarations
//! compared with the plan they come from, and two live runs against the simulator: import
//! blocks for exactly the entries EKS made at the mode switch, and `verify` and the `api` gate
//! after an "apply" of the Terraform output straight through the EKS API.

mod common;
mod live_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use eks_sim::SimServer;
use live_support::*;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_aws-auth-migrate");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The offline inputs: the shipped examples and the fixture of awkward strings.
const INPUTS: [(&str, &[&str]); 4] = [
    ("testdata/examples/prod.yaml", &[]),
    ("testdata/examples/fleet/dev.yaml", &[]),
    ("testdata/examples/fleet/staging.yaml", &[]),
    (
        "testdata/iac/tricky.yaml",
        &["--policy-map", "testdata/iac/tricky.policy-map.yaml"],
    ),
];

const FORMATS: [&str; 4] = ["terraform", "terraform-module", "cloudformation", "eksctl"];

/// The golden's extension for a format.
fn extension(format: &str) -> &'static str {
    match format {
        "terraform" => "tf",
        "terraform-module" => "module.tf",
        "cloudformation" => "cfn.yaml",
        _ => "eksctl.yaml",
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn plan(args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .current_dir(root())
        .arg("plan")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Compares `actual` with the golden file, or rewrites it under UPDATE_GOLDEN=1.
fn check(golden: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
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

/// Every file under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = dir
        .is_dir()
        .then(|| dir.to_path_buf())
        .into_iter()
        .collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_format_matches_its_golden_for_the_shipped_examples() {
    let mut failures = Vec::new();
    for format in FORMATS {
        let run = plan(&["testdata/examples/prod.yaml", "-o", format]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
        assert!(run.stderr.is_empty(), "{format}: {}", run.stderr);
        check(
            &root().join(format!("testdata/iac/prod.golden.{}", extension(format))),
            &run.stdout,
            &mut failures,
        );
        let run = plan(&[
            "testdata/iac/tricky.yaml",
            "--policy-map",
            "testdata/iac/tricky.policy-map.yaml",
            "-o",
            format,
        ]);
        check(
            &root().join(format!("testdata/iac/tricky.golden.{}", extension(format))),
            &run.stdout,
            &mut failures,
        );
        // The fleet folder: one folder per cluster, the broken file reported and the others
        // still written (exit 1, as for any plan with an unreadable input).
        let dir = tempfile::tempdir().unwrap();
        let run = plan(&[
            "testdata/examples/fleet",
            "-o",
            format,
            "--iac-dir",
            dir.path().to_str().unwrap(),
        ]);
        let golden_dir = root().join("testdata/iac/fleet").join(format);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            let _ = std::fs::remove_dir_all(&golden_dir);
        }
        check(
            &golden_dir.join("run.golden.txt"),
            &format!(
                "exit: {}\n{}{}",
                run.code,
                run.stderr,
                run.stdout.replace(dir.path().to_str().unwrap(), "DIR")
            ),
            &mut failures,
        );
        let written = tree(dir.path());
        for file in &written {
            let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
            check(&golden_dir.join(file), &text, &mut failures);
        }
        let expected: Vec<PathBuf> = tree(&golden_dir)
            .into_iter()
            .filter(|p| p != Path::new("run.golden.txt"))
            .collect();
        if expected != written {
            failures.push(format!(
                "{format}: the fleet wrote {written:?}, the goldens have {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn bad_combinations_are_usage_errors() {
    for (args, says) in [
        (
            &["testdata/examples/fleet", "-o", "terraform"][..],
            "for several clusters (a folder, several files or a fleet) add --iac-dir DIR",
        ),
        (
            &[
                "testdata/examples/prod.yaml",
                "testdata/iac/tricky.yaml",
                "-o",
                "eksctl",
            ][..],
            "add --iac-dir DIR",
        ),
        (
            &["testdata/examples/prod.yaml", "--iac-dir", "out"][..],
            "--iac-dir goes with an infrastructure-as-code format",
        ),
        (
            &[
                "testdata/examples/prod.yaml",
                "-o",
                "terraform",
                "--terraform-module",
                "eks",
            ][..],
            "--terraform-module goes with -o terraform-module",
        ),
        (
            &[
                "testdata/examples/prod.yaml",
                "-o",
                "terraform-module",
                "--terraform-module",
                "bad name",
            ][..],
            "is not a Terraform module name",
        ),
    ] {
        let run = plan(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    // A module name of your own goes into the import addresses; the plan is offline, so there
    // are none, but the hint names the module block.
    let run = plan(&[
        "testdata/examples/prod.yaml",
        "-o",
        "terraform-module",
        "--terraform-module",
        "cluster",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("`module \"cluster\"`"),
        "{}",
        run.stdout
    );
}

// ------------------------------------------------------------------------------------------------
// Validators (Python, from .ci/requirements.txt)
// ------------------------------------------------------------------------------------------------

/// Runs `script` with `python`, the file `path` as its argument; stdout, or a panic with stderr.
fn python(python: &Path, script: &str, path: &Path) -> (i32, String, String) {
    let out = Command::new(python)
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// HCL parsed by python-hcl2.
fn hcl(py: &Path, text: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "main.tf", text);
    let (code, stdout, stderr) = python(
        py,
        "import hcl2, json, sys\nprint(json.dumps(hcl2.load(open(sys.argv[1]))))",
        &path,
    );
    assert_eq!(code, 0, "python-hcl2 refuses the output: {stderr}\n{text}");
    serde_json::from_str(&stdout).unwrap()
}

/// cfn-lint's verdict on a template: exit status and report.
fn cfn_lint(py: &Path, path: &Path) -> (i32, String) {
    let (code, stdout, stderr) = python(
        py,
        "import sys\nfrom cfnlint.runner import main\nsys.argv = ['cfn-lint', sys.argv[1]]\nsys.exit(main())",
        path,
    );
    (code, format!("{stdout}{stderr}"))
}

/// A template as cfn-lint reads it (short-form functions such as `!Ref` included).
fn cfn_json(py: &Path, path: &Path) -> Value {
    let (code, stdout, stderr) = python(
        py,
        "import json, sys\nfrom cfnlint.decode.cfn_yaml import loads\nprint(json.dumps(loads(open(sys.argv[1]).read())))",
        path,
    );
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// YAML as PyYAML reads it: YAML 1.1, like the Go YAML reader behind eksctl.
fn yaml11(py: &Path, text: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "eksctl.yaml", text);
    let (code, stdout, stderr) = python(
        py,
        "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &path,
    );
    assert_eq!(code, 0, "PyYAML refuses the output: {stderr}\n{text}");
    serde_json::from_str(&stdout).unwrap()
}

// ------------------------------------------------------------------------------------------------
// What the schemas allow (from the AWS provider's and terraform-aws-eks's documentation)
// ------------------------------------------------------------------------------------------------

/// `aws_eks_access_entry` arguments; the rest of its schema (`access_entry_arn`, `created_at`,
/// `modified_at`, `tags_all`, `id`) is computed and never written.
const ENTRY_REQUIRED: [&str; 2] = ["cluster_name", "principal_arn"];
const ENTRY_OPTIONAL: [&str; 5] = ["kubernetes_groups", "region", "tags", "type", "user_name"];
/// `aws_eks_access_policy_association` arguments (`associated_at`, `modified_at`, `id` are
/// computed).
const ASSOCIATION_REQUIRED: [&str; 4] = [
    "access_scope",
    "cluster_name",
    "policy_arn",
    "principal_arn",
];
const ASSOCIATION_OPTIONAL: [&str; 1] = ["region"];
/// Its `access_scope` block.
const SCOPE_REQUIRED: [&str; 1] = ["type"];
const SCOPE_OPTIONAL: [&str; 1] = ["namespaces"];
/// An `import` block with an id.
const IMPORT_KEYS: [&str; 2] = ["id", "to"];
/// An item of the terraform-aws-eks module's `access_entries`, and of its
/// `policy_associations`.
const MODULE_ENTRY_REQUIRED: [&str; 1] = ["principal_arn"];
const MODULE_ENTRY_OPTIONAL: [&str; 5] = [
    "kubernetes_groups",
    "policy_associations",
    "tags",
    "type",
    "user_name",
];
const MODULE_POLICY_KEYS: [&str; 2] = ["access_scope", "policy_arn"];

/// The keys of a parsed HCL object, without python-hcl2's own (`__is_block__`, comments).
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .filter(|k| !k.starts_with("__"))
        .cloned()
        .collect()
}

#[track_caller]
fn assert_schema(what: &str, v: &Value, required: &[&str], optional: &[&str]) {
    let have = keys(v);
    for r in required {
        assert!(have.contains(*r), "{what} lacks the required `{r}`: {v}");
    }
    for k in &have {
        assert!(
            required.contains(&k.as_str()) || optional.contains(&k.as_str()),
            "{what} has `{k}`, which the schema does not have: {v}"
        );
    }
}

/// The value of an HCL string literal as python-hcl2 hands it over (quotes and escapes as
/// written): HCL's escapes undone, `$${` and `%%{` back to `${` and `%{`.
fn hcl_string(v: &Value) -> String {
    let raw = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a string literal: {raw}"));
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('u') => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                other => panic!("unknown escape \\{other:?} in {raw}"),
            },
            '$' | '%' if chars.peek() == Some(&c) => {
                chars.next();
                assert_eq!(chars.peek(), Some(&'{'), "{raw}");
                out.push(c);
            }
            '$' | '%' if chars.peek() == Some(&'{') => {
                panic!("{raw}: an interpolation or directive in a literal")
            }
            c => out.push(c),
        }
    }
    out
}

fn hcl_strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(hcl_string)
        .collect()
}

/// A reference expression (`${a.b}`) as python-hcl2 writes it, without `${` `}`.
fn hcl_reference(v: &Value) -> String {
    let s = v.as_str().unwrap();
    s.strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a reference: {s}"))
        .to_string()
}

// ------------------------------------------------------------------------------------------------
// Declarations, from any format, compared with the plan
// ------------------------------------------------------------------------------------------------

/// One access entry as some code declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decl {
    entry_type: String,
    username: Option<String>,
    groups: BTreeSet<String>,
    /// Policy ARN → (scope type, namespaces).
    policies: BTreeMap<String, (String, BTreeSet<String>)>,
    tags: BTreeMap<String, String>,
    /// Declared as existing (imported).
    imported: bool,
}

type Decls = BTreeMap<String, Decl>;

fn scope_of(kind: &str, namespaces: Vec<String>) -> (String, BTreeSet<String>) {
    (kind.to_string(), namespaces.into_iter().collect())
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// What the plan document says the code must declare: the planned entries, and for a live
/// plan the entries the cluster has besides (declared as they are), imported when they exist.
fn expected(plan: &Value) -> Decls {
    let cluster = &plan["clusters"][0];
    let mut out = Decls::new();
    let existing: BTreeMap<String, &Value> = cluster["existingEntries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["principalArn"].as_str().unwrap().to_lowercase(), e))
                .collect()
        })
        .unwrap_or_default();
    let decl = |e: &Value, imported: bool| {
        let node = e["type"] != "STANDARD";
        Decl {
            entry_type: e["type"].as_str().unwrap().to_string(),
            username: if node {
                None
            } else {
                e["username"].as_str().map(str::to_string)
            },
            groups: if node {
                BTreeSet::new()
            } else {
                strs(&e["kubernetesGroups"]).into_iter().collect()
            },
            policies: e["accessPolicies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["policyArn"].as_str().unwrap().to_string(),
                        scope_of(
                            p["accessScope"]["type"].as_str().unwrap(),
                            strs(&p["accessScope"]["namespaces"]),
                        ),
                    )
                })
                .collect(),
            tags: BTreeMap::new(),
            imported,
        }
    };
    for m in cluster["mappings"].as_array().unwrap() {
        if let Some(e) = m.get("accessEntry") {
            let lower = e["principalArn"].as_str().unwrap().to_lowercase();
            let have = existing.get(&lower);
            let mut d = decl(e, have.is_some());
            if let Some(have) = have {
                // The tests' clusters only have entries EKS made, which match the plan but for
                // the username EKS chose where the plan leaves it to EKS.
                if d.username.is_none() && d.entry_type == "STANDARD" {
                    d.username = have["username"].as_str().map(str::to_string);
                }
            }
            let arn = have
                .map(|h| h["principalArn"].as_str().unwrap())
                .unwrap_or(e["principalArn"].as_str().unwrap());
            out.insert(arn.to_string(), d);
        }
    }
    for (lower, e) in &existing {
        if !out.keys().any(|k| k.to_lowercase() == *lower) {
            out.insert(
                e["principalArn"].as_str().unwrap().to_string(),
                decl(e, true),
            );
        }
    }
    out
}

/// The plan document of the same inputs.
fn offline_plan_json(input: &str, extra: &[&str]) -> Value {
    let mut args = vec![input, "-o", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&plan(&args).stdout).unwrap()
}

/// Terraform resources and imports: checked against the provider's schema, and read back as
/// declarations. `cluster` is the literal every resource and import id must name.
fn terraform_decls(doc: &Value, cluster: &str) -> Decls {
    let mut entries: BTreeMap<String, (String, Decl)> = BTreeMap::new();
    let mut associations = Vec::new();
    for block in doc["resource"].as_array().into_iter().flatten() {
        for (kind, named) in block.as_object().unwrap() {
            for (name, body) in named.as_object().unwrap() {
                let name = name.trim_matches('"').to_string();
                match kind.trim_matches('"') {
                    "aws_eks_access_entry" => {
                        assert_schema(&name, body, &ENTRY_REQUIRED, &ENTRY_OPTIONAL);
                        assert_eq!(hcl_string(&body["cluster_name"]), cluster);
                        let entry_type = hcl_string(&body["type"]);
                        let node = entry_type != "STANDARD";
                        if node {
                            assert!(
                                body.get("user_name").is_none()
                                    && body.get("kubernetes_groups").is_none(),
                                "{name}: node entries carry no username or groups"
                            );
                        }
                        let decl = Decl {
                            entry_type,
                            username: body.get("user_name").map(hcl_string),
                            groups: body
                                .get("kubernetes_groups")
                                .map(hcl_strings)
                                .unwrap_or_default()
                                .into_iter()
                                .collect(),
                            policies: BTreeMap::new(),
                            tags: body
                                .get("tags")
                                .map(|t| {
                                    t.as_object()
                                        .unwrap()
                                        .iter()
                                        .map(|(k, v)| {
                                            (k.trim_matches('"').to_string(), hcl_string(v))
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                            imported: false,
                        };
                        let arn = hcl_string(&body["principal_arn"]);
                        assert!(
                            entries.insert(name.clone(), (arn, decl)).is_none(),
                            "{name}"
                        );
                    }
                    "aws_eks_access_policy_association" => {
                        assert_schema(&name, body, &ASSOCIATION_REQUIRED, &ASSOCIATION_OPTIONAL);
                        assert_eq!(hcl_string(&body["cluster_name"]), cluster);
                        let scope = &body["access_scope"].as_array().unwrap()[0];
                        assert_schema(&name, scope, &SCOPE_REQUIRED, &SCOPE_OPTIONAL);
                        let kind = hcl_string(&scope["type"]);
                        let namespaces =
                            scope.get("namespaces").map(hcl_strings).unwrap_or_default();
                        assert_eq!(kind == "namespace", !namespaces.is_empty(), "{name}");
                        associations.push((
                            name,
                            hcl_reference(&body["principal_arn"]),
                            hcl_string(&body["policy_arn"]),
                            scope_of(&kind, namespaces),
                        ));
                    }
                    other => panic!("unexpected resource type {other}"),
                }
            }
        }
    }
    let mut association_names = BTreeMap::new();
    for (name, reference, policy, scope) in associations {
        let entry = reference
            .strip_prefix("aws_eks_access_entry.")
            .and_then(|r| r.strip_suffix(".principal_arn"))
            .unwrap_or_else(|| panic!("{name}: principal_arn = {reference}"));
        let (arn, decl) = entries
            .get_mut(entry)
            .unwrap_or_else(|| panic!("{name}: no {entry}"));
        assert!(
            decl.policies.insert(policy.clone(), scope).is_none(),
            "{name}"
        );
        association_names.insert(name, (arn.clone(), policy));
    }
    for import in doc["import"].as_array().into_iter().flatten() {
        assert_eq!(
            keys(import),
            IMPORT_KEYS.iter().map(|s| s.to_string()).collect()
        );
        let to = hcl_reference(&import["to"]);
        let id = hcl_string(&import["id"]);
        if let Some(name) = to.strip_prefix("aws_eks_access_entry.") {
            let (arn, decl) = entries
                .get_mut(name)
                .unwrap_or_else(|| panic!("import of {to}"));
            assert_eq!(id, format!("{cluster}:{arn}"), "the provider's import id");
            decl.imported = true;
        } else if let Some(name) = to.strip_prefix("aws_eks_access_policy_association.") {
            let (arn, policy) = &association_names[name];
            assert_eq!(
                id,
                format!("{cluster}#{arn}#{policy}"),
                "the provider's import id"
            );
        } else {
            panic!("import of {to}");
        }
    }
    entries.into_values().collect()
}

/// The module's `access_entries` local and the imports at the module's addresses.
fn module_decls(doc: &Value, cluster: &str, module: &str) -> Decls {
    let local = &doc["locals"][0]["eks_access_entries"];
    let mut by_key: BTreeMap<String, (String, Decl)> = BTreeMap::new();
    for key in keys(local) {
        let body = &local[&key];
        assert_schema(&key, body, &MODULE_ENTRY_REQUIRED, &MODULE_ENTRY_OPTIONAL);
        let mut policies = BTreeMap::new();
        if let Some(p) = body.get("policy_associations") {
            for pkey in keys(p) {
                let assoc = &p[&pkey];
                assert_eq!(
                    keys(assoc),
                    MODULE_POLICY_KEYS.iter().map(|s| s.to_string()).collect()
                );
                let scope = &assoc["access_scope"];
                assert_schema(&pkey, scope, &SCOPE_REQUIRED, &SCOPE_OPTIONAL);
                policies.insert(
                    hcl_string(&assoc["policy_arn"]),
                    scope_of(
                        &hcl_string(&scope["type"]),
                        scope.get("namespaces").map(hcl_strings).unwrap_or_default(),
                    ),
                );
            }
        }
        let decl = Decl {
            entry_type: body.get("type").map_or("STANDARD".into(), hcl_string),
            username: body.get("user_name").map(hcl_string),
            groups: body
                .get("kubernetes_groups")
                .map(hcl_strings)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            policies,
            tags: body
                .get("tags")
                .map(|t| {
                    t.as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.trim_matches('"').to_string(), hcl_string(v)))
                        .collect()
                })
                .unwrap_or_default(),
            imported: false,
        };
        by_key.insert(key.clone(), (hcl_string(&body["principal_arn"]), decl));
    }
    let entry_prefix = format!("module.{module}.aws_eks_access_entry.this[\"");
    let association_prefix = format!("module.{module}.aws_eks_access_policy_association.this[\"");
    for import in doc["import"].as_array().into_iter().flatten() {
        assert_eq!(
            keys(import),
            IMPORT_KEYS.iter().map(|s| s.to_string()).collect()
        );
        let to = hcl_reference(&import["to"]);
        let id = hcl_string(&import["id"]);
        if let Some(key) = to
            .strip_prefix(&entry_prefix)
            .and_then(|r| r.strip_suffix("\"]"))
        {
            let (arn, decl) = by_key
                .get_mut(key)
                .unwrap_or_else(|| panic!("import of {to}"));
            assert_eq!(id, format!("{cluster}:{arn}"));
            decl.imported = true;
        } else if let Some(key) = to
            .strip_prefix(&association_prefix)
            .and_then(|r| r.strip_suffix("\"]"))
        {
            // The module names an association ENTRYKEY_POLICYKEY.
            let found = by_key.iter().find_map(|(k, (arn, decl))| {
                let p = key.strip_prefix(&format!("{k}_"))?;
                let policy = decl
                    .policies
                    .keys()
                    .find(|pa| doc_policy_key(local, k, pa).as_deref() == Some(p))?;
                Some(format!("{cluster}#{arn}#{policy}"))
            });
            assert_eq!(Some(id), found, "import of {to}");
        } else {
            panic!("import of {to}");
        }
    }
    by_key.into_values().collect()
}

/// The key the module's local gives `policy` within entry `entry`.
fn doc_policy_key(local: &Value, entry: &str, policy: &str) -> Option<String> {
    let p = local[entry].get("policy_associations")?;
    keys(p)
        .into_iter()
        .find(|k| hcl_string(&p[k]["policy_arn"]) == policy)
}

/// The template's `AWS::EKS::AccessEntry` resources; imported = `DeletionPolicy: Retain`.
fn cloudformation_decls(doc: &Value) -> Decls {
    let mut out = Decls::new();
    for (id, r) in doc["Resources"].as_object().unwrap() {
        assert_eq!(r["Type"], "AWS::EKS::AccessEntry", "{id}");
        let p = &r["Properties"];
        assert_eq!(p["ClusterName"], json!({"Ref": "ClusterName"}), "{id}");
        let policies = p["AccessPolicies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    a["PolicyArn"].as_str().unwrap().to_string(),
                    scope_of(
                        a["AccessScope"]["Type"].as_str().unwrap(),
                        strs(&a["AccessScope"]["Namespaces"]),
                    ),
                )
            })
            .collect();
        let decl = Decl {
            entry_type: p["Type"].as_str().unwrap().to_string(),
            username: p["Username"].as_str().map(str::to_string),
            groups: strs(&p["KubernetesGroups"]).into_iter().collect(),
            policies,
            tags: p["Tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    (
                        t["Key"].as_str().unwrap().to_string(),
                        t["Value"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
            imported: r["DeletionPolicy"] == "Retain",
        };
        out.insert(p["PrincipalArn"].as_str().unwrap().to_string(), decl);
    }
    out
}

/// The eksctl ClusterConfig, checked against the field names of `testdata/iac`'s fixture and
/// eksctl's validation rules; its entries as declarations (none is imported: eksctl cannot).
fn eksctl_decls(doc: &Value) -> Decls {
    let fixture: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(root().join("testdata/iac/eksctl-clusterconfig.fields.yaml"))
            .unwrap(),
    )
    .unwrap();
    let check = |what: &str, v: &Value| {
        let object = &fixture["objects"][what];
        let fields = strs(&object["fields"]);
        let have = keys(v);
        for k in &have {
            assert!(
                fields.contains(k),
                "{what} has `{k}`, which eksctl does not know: {v}"
            );
        }
        for r in strs(&object["required"]) {
            assert!(have.contains(&r), "{what} lacks `{r}`: {v}");
        }
    };
    let allowed = |field: &str, value: &Value| {
        let values = strs(&fixture["values"][field]);
        assert!(
            values.iter().any(|a| Some(a.as_str()) == value.as_str()),
            "{field} {value} is not one of {values:?}"
        );
    };
    check("ClusterConfig", doc);
    allowed("apiVersion", &doc["apiVersion"]);
    allowed("kind", &doc["kind"]);
    check("ClusterMeta", &doc["metadata"]);
    let access = &doc["accessConfig"];
    check("AccessConfig", access);
    allowed("authenticationMode", &access["authenticationMode"]);
    let mut out = Decls::new();
    for e in access["accessEntries"].as_array().unwrap() {
        check("AccessEntry", e);
        allowed("type", &e["type"]);
        let node = e["type"] != "STANDARD";
        if node {
            for k in ["kubernetesGroups", "kubernetesUsername", "accessPolicies"] {
                assert!(e.get(k).is_none(), "a node entry with {k}: {e}");
            }
        }
        let mut policies = BTreeMap::new();
        for p in e["accessPolicies"].as_array().into_iter().flatten() {
            check("AccessPolicy", p);
            check("AccessScope", &p["accessScope"]);
            allowed("scope", &p["accessScope"]["type"]);
            let namespaces = strs(&p["accessScope"]["namespaces"]);
            assert_eq!(
                p["accessScope"]["type"] == "namespace",
                !namespaces.is_empty(),
                "eksctl: namespaces exactly with namespace scope: {p}"
            );
            policies.insert(
                p["policyARN"].as_str().unwrap().to_string(),
                scope_of(p["accessScope"]["type"].as_str().unwrap(), namespaces),
            );
        }
        let arn = e["principalARN"].as_str().unwrap().to_string();
        let decl = Decl {
            entry_type: e["type"].as_str().unwrap().to_string(),
            username: e["kubernetesUsername"].as_str().map(str::to_string),
            groups: strs(&e["kubernetesGroups"]).into_iter().collect(),
            policies,
            tags: BTreeMap::new(),
            imported: false,
        };
        assert!(
            out.insert(arn.clone(), decl).is_none(),
            "eksctl: {arn} twice"
        );
    }
    out
}

/// Every mapping that stays in aws-auth appears in a comment with its blockers' codes.
#[track_caller]
fn assert_kept_are_commented(plan: &Value, text: &str) {
    let cluster = &plan["clusters"][0];
    for m in cluster["mappings"].as_array().unwrap() {
        if m["action"] != "keep" {
            continue;
        }
        let id = m["id"].as_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with('#') && l.contains(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} stays in aws-auth but no comment names it:\n{text}"));
        assert!(line.contains(m["arn"].as_str().unwrap()), "{line}");
        for f in cluster["findings"].as_array().unwrap() {
            if f["mapping"] == m["id"] && f["severity"] == "blocker" {
                let code = f["code"].as_str().unwrap();
                assert!(
                    text.lines().any(|l| l.trim_start().starts_with('#')
                        && l.contains(&format!("blocker {code}"))),
                    "{id}: its blocker {code} is not named"
                );
            }
        }
    }
}

#[test]
fn terraform_output_parses_with_python_hcl2_and_declares_the_plan() {
    let Some(py) = common::python_with(&["hcl2"]) else {
        return;
    };
    for (input, extra) in INPUTS {
        let cluster = Path::new(input).file_stem().unwrap().to_str().unwrap();
        let want = expected(&offline_plan_json(input, extra));
        let mut args = vec![input, "-o", "terraform"];
        args.extend_from_slice(extra);
        let run = plan(&args);
        let got = terraform_decls(&hcl(&py, &run.stdout), cluster);
        assert_eq!(
            got, want,
            "{input}: terraform declares something else than the plan"
        );
        assert_kept_are_commented(&offline_plan_json(input, extra), &run.stdout);

        let mut args = vec![input, "-o", "terraform-module"];
        args.extend_from_slice(extra);
        let run = plan(&args);
        let got = module_decls(&hcl(&py, &run.stdout), cluster, "eks");
        assert_eq!(
            got, want,
            "{input}: the module's access_entries differ from the plan"
        );
        assert_kept_are_commented(&offline_plan_json(input, extra), &run.stdout);
    }
}

#[test]
fn cloudformation_output_passes_cfn_lint_and_declares_the_plan() {
    let Some(py) = common::python_with(&["cfnlint"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (input, extra) in INPUTS {
        let plan_doc = offline_plan_json(input, extra);
        let mut args = vec![input, "-o", "cloudformation"];
        args.extend_from_slice(extra);
        let run = plan(&args);
        let name = format!(
            "{}.yaml",
            Path::new(input).file_stem().unwrap().to_str().unwrap()
        );
        let path = write_temp(dir.path(), &name, &run.stdout);
        let (code, report) = cfn_lint(&py, &path);
        assert_eq!(code, 0, "{input}: cfn-lint: {report}");
        assert_eq!(
            cloudformation_decls(&cfn_json(&py, &path)),
            expected(&plan_doc),
            "{input}"
        );
        assert_kept_are_commented(&plan_doc, &run.stdout);
    }
    // cfn-lint does check: a property the resource type does not have fails.
    let bad = write_temp(
        dir.path(),
        "bad.yaml",
        &std::fs::read_to_string(root().join("testdata/iac/prod.golden.cfn.yaml"))
            .unwrap()
            .replace("Username:", "UserName:"),
    );
    assert_ne!(cfn_lint(&py, &bad).0, 0);
}

#[test]
fn eksctl_output_uses_only_clusterconfig_fields_and_declares_the_plan() {
    let Some(py) = common::python_with(&["yaml"]) else {
        return;
    };
    for (input, extra) in INPUTS {
        let plan_doc = offline_plan_json(input, extra);
        let mut args = vec![input, "-o", "eksctl"];
        args.extend_from_slice(extra);
        let run = plan(&args);
        // YAML 1.1 (eksctl's reader) and YAML 1.2 (serde-saphyr) read the same values.
        let doc = yaml11(&py, &run.stdout);
        let doc12: Value = serde_saphyr::from_str(&run.stdout).unwrap();
        assert_eq!(doc, doc12, "{input}");
        assert_eq!(eksctl_decls(&doc), expected(&plan_doc), "{input}");
        assert_kept_are_commented(&plan_doc, &run.stdout);
    }
}

// ------------------------------------------------------------------------------------------------
// Live: the simulator after the switch to API_AND_CONFIG_MAP
// ------------------------------------------------------------------------------------------------

const TO_DUAL: [&str; 6] = ["migrate", "--cluster", CLUSTER, "--to", "dual", "--yes"];

/// The ids of the import blocks of a parsed Terraform file: entries (`CLUSTER:ARN`) and
/// associations (`CLUSTER#ARN#POLICY`).
fn import_ids(doc: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let ids: Vec<String> = doc["import"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| hcl_string(&i["id"]))
        .collect();
    let (associations, entries): (Vec<String>, Vec<String>) =
        ids.into_iter().partition(|id| id.contains('#'));
    (
        entries.into_iter().collect(),
        associations.into_iter().collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_plan_after_dual_imports_exactly_the_entries_eks_made() {
    let Some(py) = common::python_with(&["hcl2", "cfnlint", "yaml"]) else {
        return;
    };
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    run(&sim, &server, state.path(), &TO_DUAL, &[])
        .await
        .expect_code(0);
    assert_eq!(mode(&sim), "API_AND_CONFIG_MAP");
    // What EKS made at the switch: the node, Fargate and creator entries, and the creator's
    // admin policy.
    let made = live_support::entries(&sim);
    assert_eq!(
        made.keys().cloned().collect::<Vec<_>>(),
        [
            creator_arn(),
            role(A, "FargatePodRole"),
            role(A, "NodeRole"),
            role(A, "WinNodeRole"),
        ],
        "{made:#?}"
    );
    let entry_ids: BTreeSet<String> = made.keys().map(|a| format!("{CLUSTER}:{a}")).collect();
    let association_ids: BTreeSet<String> = made
        .iter()
        .flat_map(|(a, e)| e.policies.keys().map(move |p| format!("{CLUSTER}#{a}#{p}")))
        .collect();
    assert_eq!(association_ids.len(), 1);
    let (_, plan_doc) = live_support::plan_json(&sim, &server, state.path()).await;
    let want = expected(&plan_doc);
    assert_eq!(
        want.values().filter(|d| d.imported).count(),
        made.len(),
        "{want:#?}"
    );

    let tf = run(
        &sim,
        &server,
        state.path(),
        &["plan", "--cluster", CLUSTER, "-o", "terraform"],
        &[],
    )
    .await;
    tf.expect_code(0);
    let doc = hcl(&py, &tf.stdout);
    assert_eq!(
        import_ids(&doc),
        (entry_ids.clone(), association_ids.clone()),
        "{}",
        tf.stdout
    );
    assert_eq!(terraform_decls(&doc, CLUSTER), want, "{}", tf.stdout);

    let module = run(
        &sim,
        &server,
        state.path(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "-o",
            "terraform-module",
            "--terraform-module",
            "cluster",
        ],
        &[],
    )
    .await;
    module.expect_code(0);
    let doc = hcl(&py, &module.stdout);
    assert_eq!(
        import_ids(&doc),
        (entry_ids.clone(), association_ids.clone())
    );
    assert_eq!(
        module_decls(&doc, CLUSTER, "cluster"),
        want,
        "{}",
        module.stdout
    );

    // CloudFormation: the template, the import template and the import list, all valid.
    let dir = tempfile::tempdir().unwrap();
    run(
        &sim,
        &server,
        state.path(),
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "-o",
            "cloudformation",
            "--iac-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await
    .expect_code(0);
    let folder = dir.path().join(CLUSTER);
    for file in ["access-entries.yaml", "import.yaml"] {
        let (code, report) = cfn_lint(&py, &folder.join(file));
        assert_eq!(code, 0, "{file}: {report}");
    }
    assert_eq!(
        cloudformation_decls(&cfn_json(&py, &folder.join("access-entries.yaml"))),
        want
    );
    let imported = cloudformation_decls(&cfn_json(&py, &folder.join("import.yaml")));
    assert_eq!(
        imported.keys().collect::<Vec<_>>(),
        made.keys().collect::<Vec<_>>()
    );
    assert!(imported.values().all(|d| d.imported));
    let list: Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("resources-to-import.json")).unwrap(),
    )
    .unwrap();
    let identifiers: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["ResourceType"], "AWS::EKS::AccessEntry");
            assert_eq!(r["ResourceIdentifier"]["ClusterName"], CLUSTER);
            format!(
                "{CLUSTER}:{}",
                r["ResourceIdentifier"]["PrincipalArn"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(identifiers, entry_ids);

    // eksctl creates what does not exist and names the rest in comments.
    let eksctl = run(
        &sim,
        &server,
        state.path(),
        &["plan", "--cluster", CLUSTER, "-o", "eksctl"],
        &[],
    )
    .await;
    eksctl.expect_code(0);
    let created: Decls = want
        .iter()
        .filter(|(_, d)| !d.imported)
        .map(|(a, d)| (a.clone(), d.clone()))
        .collect();
    let doc = yaml11(&py, &eksctl.stdout);
    assert_eq!(doc["metadata"]["region"], REGION);
    assert_eq!(eksctl_decls(&doc), created);
    for arn in made.keys() {
        assert!(
            eksctl
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with('#') && l.contains(arn.as_str())),
            "{arn} is not named:\n{}",
            eksctl.stdout
        );
    }
}

/// Does what `terraform apply` would do with the resources that are not imported: creates the
/// entries (untagged) and associates the policies, straight through the EKS API.
async fn apply_terraform(server: &SimServer, doc: &Value) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(server.aws_url())
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_credential_types::Credentials::new(
            ADMIN_KEY,
            ADMIN_SECRET,
            None,
            None,
            "terraform",
        ))
        .load()
        .await;
    let eks = aws_sdk_eks::Client::new(&sdk);
    let imported: BTreeSet<String> = doc["import"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| hcl_reference(&i["to"]))
        .collect();
    let resources = |kind: &str| -> Vec<(String, Value)> {
        doc["resource"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.get(format!("\"{kind}\"")))
            .flat_map(|named| {
                named
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(n, body)| (n.trim_matches('"').to_string(), body.clone()))
                    .collect::<Vec<_>>()
            })
            .filter(|(n, _)| !imported.contains(&format!("{kind}.{n}")))
            .collect()
    };
    let mut principals = BTreeMap::new();
    for (name, body) in doc["resource"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("\"aws_eks_access_entry\""))
        .flat_map(|named| named.as_object().unwrap().clone())
    {
        principals.insert(
            name.trim_matches('"').to_string(),
            hcl_string(&body["principal_arn"]),
        );
    }
    for (_, body) in resources("aws_eks_access_entry") {
        eks.create_access_entry()
            .cluster_name(hcl_string(&body["cluster_name"]))
            .principal_arn(hcl_string(&body["principal_arn"]))
            .r#type(hcl_string(&body["type"]))
            .set_username(body.get("user_name").map(hcl_string))
            .set_kubernetes_groups(body.get("kubernetes_groups").map(hcl_strings))
            .send()
            .await
            .expect("CreateAccessEntry");
    }
    for (_, body) in resources("aws_eks_access_policy_association") {
        let entry = hcl_reference(&body["principal_arn"]);
        let entry = entry
            .strip_prefix("aws_eks_access_entry.")
            .and_then(|r| r.strip_suffix(".principal_arn"))
            .unwrap();
        let scope = &body["access_scope"][0];
        eks.associate_access_policy()
            .cluster_name(hcl_string(&body["cluster_name"]))
            .principal_arn(&principals[entry])
            .policy_arn(hcl_string(&body["policy_arn"]))
            .access_scope(
                AccessScope::builder()
                    .r#type(AccessScopeType::from(hcl_string(&scope["type"]).as_str()))
                    .set_namespaces(scope.get("namespaces").map(hcl_strings))
                    .build(),
            )
            .send()
            .await
            .expect("AssociateAccessPolicy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_made_by_an_iac_apply_pass_verify_and_the_api_gate() {
    let Some(py) = common::python_with(&["hcl2"]) else {
        return;
    };
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    let people = tutorial_people(&sim);
    let before = observe_all(&sim, &people).await;
    run(&sim, &server, state.path(), &TO_DUAL, &[])
        .await
        .expect_code(0);
    let tf = run(
        &sim,
        &server,
        state.path(),
        &["plan", "--cluster", CLUSTER, "-o", "terraform"],
        &[],
    )
    .await;
    tf.expect_code(0);
    apply_terraform(&server, &hcl(&py, &tf.stdout)).await;

    // The cluster is now as the plan wants it: nothing left for the tool to send, and nothing
    // carries the tool's tag, so rollback could never delete what the IaC owns.
    let (_, doc) = live_support::plan_json(&sim, &server, state.path()).await;
    let operations = doc["clusters"][0]["operations"].as_array().unwrap();
    assert!(
        operations.iter().all(|o| o["op"] == "adopt"),
        "{operations:#?}"
    );
    let entries = live_support::entries(&sim);
    assert_eq!(entries.len(), 8, "{entries:#?}");
    assert!(
        entries.values().all(|e| e.created_by.is_none()),
        "{entries:#?}"
    );
    let counted = mutation_counts(&sim);

    run(
        &sim,
        &server,
        state.path(),
        &["verify", "--cluster", CLUSTER],
        &[],
    )
    .await
    .expect_code(0);
    let api = run(&sim, &server, state.path(), &TO_API, &[]).await;
    api.expect_code(0);
    assert_eq!(mode(&sim), "API");
    // The switch was the tool's only change.
    let mut want = counted;
    want[5] += 1;
    assert_eq!(mutation_counts(&sim), want, "{}", api.text());
    assert_eq!(live_support::entries(&sim), entries);
    let after = observe_all(&sim, &people).await;
    assert_same_access(
        &people,
        &before,
        &after,
        "after an IaC apply and the switch to API",
    );
}
