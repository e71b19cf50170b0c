//! Conformance of the simulator to AWS's published API models (issue 8, item 13).
//!
//! `tests/conformance/check_models.py` drives an in-process simulator with botocore (the AWS
//! CLI's client library, pinned in `.ci/requirements.txt`) and checks every raw response against
//! botocore's model of the operation: member names, types, enums, required members, HTTP statuses,
//! error codes per operation. The operations it must cover are the ones the tool calls: the list
//! `TOOL_OPERATIONS` of the script, checked here against the AWS SDK calls in `src/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eks_sim::Sim;

const SCRIPT: &str = "tests/conformance/check_models.py";
const WORLD: &str = "tests/conformance/world.yaml";
/// Far above the few seconds a run takes: a hung simulator or interpreter fails instead of
/// blocking CI.
const TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A finished run of the script.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "exit {:?} after {:.1?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs the script with `python`, `args` and only the environment in `env` (plus PATH), killing
/// it after [`TIMEOUT`]. Blocking: call it off the runtime's threads.
fn run_script(python: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let out = tempfile::tempdir().expect("a temporary directory");
    let stdout_path = out.path().join("stdout");
    let stderr_path = out.path().join("stderr");
    let mut cmd = Command::new(python);
    cmd.arg(root().join(SCRIPT))
        .args(args)
        .current_dir(out.path())
        // The developer's AWS settings must not reach the clients: only what is set here does.
        .env_clear()
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"));
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let status = loop {
        match child.try_wait().expect("waiting for the script") {
            Some(status) => break Some(status),
            None if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut stderr = read(&stderr_path);
    if status.is_none() {
        stderr.push_str(&format!("\nkilled after {TIMEOUT:?}\n"));
    }
    Run {
        code: status.and_then(|s| s.code()),
        stdout: read(&stdout_path),
        stderr,
        elapsed: started.elapsed(),
    }
}

/// `TOOL_OPERATIONS` of the script: `service:Operation` strings.
fn script_tool_operations() -> Vec<String> {
    let text = std::fs::read_to_string(root().join(SCRIPT)).expect("the script");
    let start = text
        .find("TOOL_OPERATIONS = (")
        .expect("the script defines TOOL_OPERATIONS = (…)");
    let body = &text[start..];
    let body = &body[..body.find("\n)").expect("TOOL_OPERATIONS ends with `)`")];
    body.lines()
        .filter_map(|l| {
            let l = l.trim().trim_end_matches(',');
            l.strip_prefix('"')?.strip_suffix('"').map(str::to_string)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Verbs of AWS operation names, as the SDKs' fluent methods start (`describe_cluster()`).
const OPERATION_VERBS: [&str; 16] = [
    "list_",
    "describe_",
    "create_",
    "update_",
    "delete_",
    "associate_",
    "disassociate_",
    "get_",
    "put_",
    "assume_",
    "tag_",
    "untag_",
    "batch_",
    "start_",
    "register_",
    "deregister_",
];

/// Methods of the standard library that look like operations to the scan (`m.get_mut().…`).
/// A false positive of the scan belongs here; a real SDK call never does.
const NOT_OPERATIONS: [&str; 5] = [
    // clap's, in the man page command.
    "get_subcommands",
    "get_mut",
    "get_ref",
    "get_pin_mut",
    // IAM's role field, read by `snapshot`.
    "assume_role_policy_document",
];

/// Calls that reach AWS without a fluent call in `src/`: (text in the source, operation).
const INDIRECT_CALLS: [(&str, &str); 1] = [
    // `--role-arn`: aws-config's provider calls STS AssumeRole.
    ("AssumeRoleProvider", "AssumeRole"),
];

/// `describe_cluster` → `DescribeCluster`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// SDK fluent calls in `text`: `receiver.verb_noun()` followed by more of the chain (`.name(…)`,
/// `.send()`), where the receiver is a value (a client), not the result of another call. Returns
/// (line, method).
fn fluent_calls(text: &str) -> Vec<(usize, String)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = text[i..].find("()") {
        let close = i + off;
        i = close + 2;
        // The method name before `()`.
        let mut start = close;
        while start > 0 && (bytes[start - 1].is_ascii_lowercase() || bytes[start - 1] == b'_') {
            start -= 1;
        }
        let name = &text[start..close];
        if !OPERATION_VERBS.iter().any(|v| name.starts_with(v)) || NOT_OPERATIONS.contains(&name) {
            continue;
        }
        // `.` before the name (whitespace allowed), and an identifier before the dot.
        let before = text[..start].trim_end();
        let Some(receiver) = before.strip_suffix('.') else {
            continue;
        };
        let receiver = receiver.trim_end();
        if !receiver
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        // The chain goes on after `()`.
        if !text[i..].trim_start().starts_with('.') {
            continue;
        }
        let line = text[..start].matches('\n').count() + 1;
        out.push((line, name.to_string()));
    }
    out
}

/// Every AWS operation the tool calls must be driven by the script, and every operation the
/// script lists as the tool's must still be called by the tool.
#[test]
fn the_script_covers_every_aws_operation_the_tool_calls() {
    let listed = script_tool_operations();
    assert!(
        listed.len() >= 10,
        "TOOL_OPERATIONS of {SCRIPT} looks unparsed: {listed:?}"
    );
    let op_name = |svc_op: &String| svc_op.split_once(':').map(|(_, o)| o.to_string());
    let listed_ops: Vec<String> = listed.iter().filter_map(op_name).collect();

    let mut files = Vec::new();
    // AWS is called only from the network code and the commands' wiring (tests/layout.rs
    // keeps the offline core free of it).
    for dir in ["live", "migrate", "cli"] {
        rust_files(&root().join("src").join(dir), &mut files);
    }
    let mut called: Vec<(String, String)> = Vec::new(); // (operation, where)
    for f in &files {
        let text = std::fs::read_to_string(f).expect("a source file");
        let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        for (line, method) in fluent_calls(&text) {
            called.push((camel(&method), format!("{rel}:{line} `.{method}()`")));
        }
        for (needle, op) in INDIRECT_CALLS {
            if let Some(at) = text.find(needle) {
                let line = text[..at].matches('\n').count() + 1;
                called.push((op.to_string(), format!("{rel}:{line} `{needle}`")));
            }
        }
    }
    assert!(
        called.iter().any(|(op, _)| op == "DescribeCluster"),
        "the scan of src/ found no `.describe_cluster()`: it is broken ({called:?})"
    );

    let missing: Vec<String> = called
        .iter()
        .filter(|(op, _)| !listed_ops.contains(op))
        .map(|(op, at)| format!("{op} (called at {at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "the tool calls AWS operations {SCRIPT} does not check against the API models; add each \
         to TOOL_OPERATIONS and drive it in run() (or, if the scan mistook a method of another \
         type for an SDK call, add it to NOT_OPERATIONS here):\n  {}",
        missing.join("\n  ")
    );
    let unused: Vec<&String> = listed
        .iter()
        .filter(|svc_op| {
            let op = op_name(svc_op).unwrap_or_default();
            !called.iter().any(|(c, _)| *c == op)
        })
        .collect();
    assert!(
        unused.is_empty(),
        "TOOL_OPERATIONS of {SCRIPT} names operations the tool no longer calls (move them to \
         OTHER_OPERATIONS): {unused:?}"
    );
}

#[test]
fn the_scan_finds_fluent_calls_and_nothing_else() {
    let text = "let out = self\n    .client\n    .describe_cluster()\n    .name(n)\n    .send();\n\
                let me = sts.get_caller_identity().send().await;\n\
                let x = self.eks.describe_cluster(&name).await;\n\
                let y = thing.get_mut().unwrap().list_items().next();\n\
                let z = get_config();\n";
    let found: Vec<String> = fluent_calls(text).into_iter().map(|(_, m)| m).collect();
    assert_eq!(found, ["describe_cluster", "get_caller_identity"]);
    assert_eq!(
        camel("list_associated_access_policies"),
        "ListAssociatedAccessPolicies"
    );
}

/// The checks of the script find what they are meant to find (wrong member names and types,
/// missing required members, unmodeled error codes, wrong statuses), so a pass means something.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_checks_catch_nonconforming_responses() {
    let Some(python) = common::python_with(&["botocore"]) else {
        return;
    };
    let run = tokio::task::spawn_blocking(move || run_script(&python, &["--self-test"], &[]))
        .await
        .expect("the runner thread");
    assert_eq!(run.code, Some(0), "{}", run.text());
}

/// The simulator answers every call of the sequence as botocore's models say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_responses_conform_to_the_botocore_models() {
    let Some(python) = common::python_with(&["botocore"]) else {
        return;
    };
    let sim = Sim::from_yaml_file(&root().join(WORLD), 11).expect("the conformance world loads");
    let server = eks_sim::start(sim.clone())
        .await
        .expect("simulator starts on 127.0.0.1");
    let key = sim.default_caller().expect("the world names its caller");
    let secret = sim.access_key(&key).expect("the caller's key").secret;
    let env = vec![
        ("AWS_ENDPOINT_URL", server.aws_url()),
        ("AWS_REGION", common::REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ];
    let run = tokio::task::spawn_blocking(move || run_script(&python, &[], &env))
        .await
        .expect("the runner thread");
    assert_eq!(
        run.code,
        Some(0),
        "the simulator does not conform to the AWS models:\n{}",
        run.text()
    );
    assert!(
        run.stdout.starts_with("conformance: "),
        "no summary line:\n{}",
        run.text()
    );
    eprintln!("{}", run.stdout.trim_end());
    // The script really drove this simulator: every operation of the tool reached it.
    let counters = sim.counters().snapshot();
    for op in script_tool_operations() {
        assert!(
            counters.operation(&op) > 0,
            "the simulator saw no {op}: {:?}",
            counters.by_operation
        );
    }
    drop(server);
}
