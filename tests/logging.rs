//! `-v`/`RUST_LOG` diagnostics of the real binary against the simulator: the AWS SDK's and
//! kube-rs' requests show, and no credential, session token, EKS token or signature does.

mod common;
mod live_support;

use live_support::*;

/// What no log line may hold, beyond the world's secrets that [`run`] already looks for.
const NEVER: [&str; 6] = [
    "X-Amz-Signature=",
    "X-Amz-Security-Token=",
    "Signature=",
    "Bearer ",
    "<SecretAccessKey>",
    "<SessionToken>",
];

#[track_caller]
fn assert_clean(out: &Output, what: &str) {
    for s in NEVER {
        assert!(!out.stderr.contains(s), "{what}: stderr holds {s:?}");
        assert!(!out.stdout.contains(s), "{what}: stdout holds {s:?}");
    }
    // No colours: stderr is not a terminal (and NO_COLOR is set).
    assert!(
        !out.stderr.contains('\u{1b}'),
        "{what}: ANSI escapes on stderr"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_show_requests_and_never_a_credential() {
    let (sim, server, state) = serve_with_state(base().cluster(tutorial_cluster())).await;
    let plan = ["plan", "--cluster", CLUSTER, "-o", "json"];

    // Without -v: nothing but the tool's own messages.
    let quiet = run(&sim, &server, state.path(), &plan, &[]).await;
    quiet.expect_code(0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.text());

    // -v: the tool's steps.
    let v = run(
        &sim,
        &server,
        state.path(),
        &[&plan[..], &["-v"]].concat(),
        &[],
    )
    .await;
    v.expect_code(0);
    assert!(v.stderr.contains("cluster described"), "{}", v.stderr);
    assert!(!v.stderr.contains("aws_smithy_runtime"), "{}", v.stderr);

    // -vv and -vvv (also before the subcommand): the SDK's and kube-rs' requests too, and the
    // AssumeRole of --role-arn, whose answer holds session credentials, and EKS tokens made with
    // them.
    let mut entries = vec!["-vvv"];
    entries.extend(TO_ENTRIES);
    for (args, env, what) in [
        ([&plan[..], &["-vv"]].concat(), vec![], "plan -vv"),
        ([&plan[..], &["-vvv"]].concat(), vec![], "plan -vvv"),
        (entries, vec![], "-vvv migrate --to entries"),
        (
            plan.to_vec(),
            vec![(
                "RUST_LOG",
                "trace,aws_sigv4=trace,aws_smithy_runtime::client::orchestrator=trace",
            )],
            "RUST_LOG=trace plan",
        ),
    ] {
        let out = run(&sim, &server, state.path(), &args, &env).await;
        out.expect_code(0);
        assert_clean(&out, what);
        for shown in [
            // The tool's own events.
            "cluster described",
            "Kubernetes API client ready",
            // The SDK's request logs: the operation and its endpoint.
            "aws_smithy_runtime",
            "DescribeCluster",
            "AssumeRole",
            // kube-rs' request span.
            "kube_client",
            "/api/v1/namespaces/kube-system/configmaps/aws-auth",
        ] {
            assert!(
                out.stderr.contains(shown),
                "{what}: no {shown:?} in\n{}",
                out.stderr
            );
        }
        if what.contains("trace") || what.contains("vvv") {
            assert!(out.stderr.contains("TRACE"), "{what}");
        }
    }
}
