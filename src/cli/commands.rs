//! The live commands: connect, run, print, and map the outcome to an exit status.

use std::time::Duration;

use serde_json::json;

use crate::cli::{
    ClusterArgs, ClusterCode, MigrateArgs, PlanArgs, PlanOutput, RollbackArgs, StatusArgs, exit,
    fail, usage,
};
use crate::live::fleet::Fleet;
use crate::live::{Cluster, LivePlan};
use crate::migrate::fleet::{FleetOptions, FleetRun};
use crate::migrate::lock::{Holder, Lock, LockError, while_locked};
use crate::migrate::report::{FleetFormat, render};
use crate::migrate::state::{Event, StateDir};
use crate::migrate::{MigrateOptions, Run, StageError};
use crate::plan::options::{PolicyMap, RolePaths};
use crate::plan::reconcile::Operation;
use crate::plan::{FleetPlan, SCHEMA};
use crate::report::{self, Format};

async fn connect(target: &ClusterArgs) -> Result<Cluster, i32> {
    let name = target.name()?;
    let sdk = crate::live::aws::sdk_config(&target.aws)
        .await
        .map_err(|e| fail(&e.to_string()))?;
    Cluster::connect(name, sdk, target.kubeconfig.clone(), target.context.clone())
        .await
        .map_err(|e| fail(&format!("cluster {name}: {e}")))
}

fn load_options(
    policy_map: Option<&std::path::Path>,
    role_paths: Option<&std::path::Path>,
) -> Result<(Option<PolicyMap>, Option<RolePaths>), i32> {
    let pm = policy_map
        .map(PolicyMap::load)
        .transpose()
        .map_err(|e| fail(&format!("--policy-map {e}")))?;
    let rp = role_paths
        .map(RolePaths::load)
        .transpose()
        .map_err(|e| fail(&format!("--role-paths {e}")))?;
    Ok((pm, rp))
}

/// Writes the output; the exit status to end with when it cannot be written.
fn print(text: &str) -> Result<(), i32> {
    crate::cli::emit(text)
}

/// `plan --cluster NAME`: the plan of a live cluster and the operations `--to entries` would send.
pub async fn live_plan(args: PlanArgs) -> i32 {
    let output = match args.plan_output(false) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let (pm, rp) = match load_options(args.policy_map.as_deref(), args.role_paths.as_deref()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let target = ClusterArgs {
        cluster: args.cluster.clone(),
        fleet: None,
        aws: args.aws.clone(),
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        state_dir: None,
    };
    let mut cluster = match connect(&target).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let planned = crate::live::plan_cluster(
        &mut cluster,
        pm.as_ref(),
        rp.as_ref(),
        args.include_ineffective,
    );
    let plan = match planned.await {
        Ok(p) => p,
        Err(e) => {
            return fail(&format!(
                "cluster {}: {e}",
                target.cluster.as_deref().unwrap_or_default()
            ));
        }
    };
    let errors = plan.errors.clone();
    finish_live(&[plan], &errors, output)
}

/// `plan --fleet FILE`: the live plans of many clusters, read a few at a time.
pub async fn fleet_plan(args: PlanArgs) -> i32 {
    let (pm, rp) = match load_options(args.policy_map.as_deref(), args.role_paths.as_deref()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let path = args.fleet.clone().unwrap_or_default();
    let fleet = match crate::live::fleet::Fleet::load(&path) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let output = match args.plan_output(fleet.clusters.len() > 1) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let (plans, errors) = crate::live::fleet::plan(
        &fleet,
        &path,
        &args.aws,
        pm.as_ref(),
        rp.as_ref(),
        args.include_ineffective,
        args.concurrency,
    )
    .await;
    finish_live(&plans, &errors, output)
}

/// Prints live plans and errors, and returns the plan command's exit status.
fn finish_live(plans: &[LivePlan], errors: &[crate::plan::InputError], output: PlanOutput) -> i32 {
    eprint!("{}", report::render_errors(errors));
    match output {
        PlanOutput::Report(format) => {
            if let Err(code) = print(&render_live(plans, errors, format)) {
                return code;
            }
        }
        PlanOutput::Code {
            format,
            dir,
            settings,
        } => {
            let codes: Vec<ClusterCode> = plans
                .iter()
                .map(|p| ClusterCode {
                    cluster: p.plan.cluster.clone(),
                    place: Some((
                        p.snapshot.cluster.account.clone(),
                        p.snapshot.cluster.region.clone(),
                    )),
                    files: crate::iac::render(&iac_input(p), format, &settings),
                })
                .collect();
            if let Err(e) = crate::cli::emit_code(&codes, format, dir.as_deref()) {
                return fail(&e);
            }
        }
    }
    if !errors.is_empty() {
        exit::ERROR
    } else if plans.iter().any(|p| p.plan.summary.blockers > 0) {
        exit::BLOCKERS
    } else {
        exit::OK
    }
}

/// The code renderers' view of a live plan: the plan, and the entries and operations behind it.
pub fn iac_input(plan: &LivePlan) -> crate::iac::Input<'_> {
    crate::iac::Input {
        plan: &plan.plan,
        live: Some(crate::iac::Live {
            account: &plan.snapshot.cluster.account,
            region: &plan.snapshot.cluster.region,
            authentication_mode: plan.authentication_mode.as_deref(),
            existing: &plan.existing_entries,
            operations: &plan.operations,
        }),
        errors: &plan.errors,
    }
}

/// Renders live plans: the offline renderers for the mappings, then each cluster's operations.
pub fn render_live(
    plans: &[LivePlan],
    errors: &[crate::plan::InputError],
    format: Format,
) -> String {
    match format {
        Format::Json | Format::Yaml => {
            let doc = json!({"schema": SCHEMA, "clusters": plans, "errors": errors});
            match format {
                Format::Json => serde_json::to_string_pretty(&doc).expect("plans serialize") + "\n",
                _ => serde_saphyr::to_string(&doc).expect("plans serialize"),
            }
        }
        _ => {
            let fleet = FleetPlan {
                schema: SCHEMA,
                clusters: plans.iter().map(|p| p.plan.clone()).collect(),
                errors: errors.to_vec(),
            };
            let mut out = report::render(&fleet, format);
            for plan in plans {
                out.push_str(&format!(
                    "\n  Live {}: mode {}, {} existing access entries. Operations for `migrate --to entries`:\n",
                    plan.plan.cluster,
                    plan.authentication_mode.as_deref().unwrap_or("unknown"),
                    plan.existing_entries.len()
                ));
                if plan.operations.is_empty() {
                    out.push_str("    none\n");
                }
                for op in &plan.operations {
                    out.push_str(&format!("    {}\n", describe_operation(op)));
                }
            }
            out
        }
    }
}

fn describe_operation(op: &Operation) -> String {
    match op {
        Operation::Create { entry } => format!(
            "create    {} {}{}{}",
            entry.principal_arn,
            entry.entry_type,
            entry
                .username
                .as_ref()
                .map(|u| format!(" username={u}"))
                .unwrap_or_default(),
            if entry.kubernetes_groups.is_empty() {
                String::new()
            } else {
                format!(" groups={}", entry.kubernetes_groups.join(","))
            }
        ),
        Operation::Update {
            principal_arn,
            username,
            kubernetes_groups,
            ..
        } => format!(
            "update    {principal_arn}{} groups={}",
            username
                .as_ref()
                .map(|u| format!(" username={u}"))
                .unwrap_or_default(),
            kubernetes_groups.join(",")
        ),
        Operation::Associate {
            principal_arn,
            policy,
            ..
        } => {
            format!(
                "associate {principal_arn} {} ({})",
                policy.policy_name(),
                policy.access_scope
            )
        }
        Operation::Adopt { principal_arn } => {
            format!("adopt     {principal_arn} (already as planned)")
        }
        Operation::Conflict {
            principal_arn,
            reason,
        } => format!("CONFLICT  {principal_arn}: {reason}"),
    }
}

/// The one place a stage's outcome becomes what the operator reads and the exit status
/// (`StageError::exit_code`): refusals say `refused:` (nothing was changed), the rest `error:`.
fn stage_exit(result: Result<(), StageError>) -> i32 {
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            let code = e.exit_code();
            let label = if code == exit::REFUSED {
                "refused"
            } else {
                "error"
            };
            eprintln!("{label}: {e}");
            code
        }
    }
}

/// The state directory and the connected cluster of a live command.
async fn open(target: &ClusterArgs) -> Result<(StateDir, Cluster), i32> {
    let states = StateDir::new(target.state_dir.as_deref()).map_err(|e| fail(&e.to_string()))?;
    Ok((states, connect(target).await?))
}

/// Takes the cluster's lock for `command`, or says who holds it (exit status 4).
async fn lock(
    cluster: &Cluster,
    run_id: &str,
    command: &str,
    take_over: bool,
) -> Result<Lock, i32> {
    let caller = crate::migrate::fleet::caller_arn(cluster).await;
    let holder = Holder::new(run_id, &caller, command);
    match Lock::acquire(&cluster.kube, &cluster.name, holder, take_over).await {
        Ok(l) => {
            if let Some(note) = l.taken_over() {
                eprintln!("note: {note}");
            }
            tracing::info!(cluster = %cluster.name, run_id, command, "cluster lock taken");
            Ok(l)
        }
        Err(LockError::Held(why)) => {
            eprintln!("refused: {why}");
            Err(exit::REFUSED)
        }
        Err(e) => Err(fail(&e.to_string())),
    }
}

/// `migrate --cluster NAME --to STAGE`, or `migrate --fleet FILE --to STAGE`.
pub async fn migrate(args: MigrateArgs) -> i32 {
    let (pm, rp) = match load_options(args.policy_map.as_deref(), args.role_paths.as_deref()) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let opts = MigrateOptions {
        yes: args.yes,
        confirm: args.confirm.clone(),
        allow_drop: args.allow_drop.clone(),
        update_timeout: Duration::from_secs(args.timeout),
        poll_interval: poll_interval(),
        probe_as: Vec::new(),
    };
    if let Some(fleet_file) = args.target.fleet.clone() {
        return migrate_fleet(&args, &fleet_file, pm.as_ref(), rp.as_ref(), opts).await;
    }
    let (states, mut cluster) = match open(&args.target).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let run_id = crate::migrate::state::new_run_id();
    let mutating = args.to != crate::migrate::Stage::Backup;
    let held = if mutating {
        match lock(
            &cluster,
            &run_id,
            &format!("migrate --to {}", args.to.name()),
            args.take_over_lock,
        )
        .await
        {
            Ok(l) => Some(l),
            Err(code) => return code,
        }
    } else {
        None
    };
    let mut out = |line: &str| crate::cli::say(line);
    let mut run = match Run::new(&mut cluster, &states, pm.as_ref(), rp.as_ref(), &mut out) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    tracing::info!(
        cluster = args.target.cluster.as_deref().unwrap_or_default(),
        run_id = %run_id,
        to = args.to.name(),
        "migration run started"
    );
    run.run_id = run_id;
    run.include_ineffective = args.include_ineffective;
    match held {
        Some(l) => {
            run.lock = Some(l.handle());
            stage_exit(while_locked(l, run.migrate(args.to, &opts)).await)
        }
        None => stage_exit(run.migrate(args.to, &opts).await),
    }
}

/// The fleet file and the state directory of a fleet command.
fn open_fleet(
    fleet_file: &std::path::Path,
    target: &ClusterArgs,
) -> Result<(Fleet, StateDir), i32> {
    let fleet = Fleet::load(fleet_file).map_err(|e| fail(&e))?;
    let states = StateDir::new(target.state_dir.as_deref()).map_err(|e| fail(&e.to_string()))?;
    Ok((fleet, states))
}

/// `migrate --fleet FILE --to STAGE`: every cluster of the file, in waves.
async fn migrate_fleet(
    args: &MigrateArgs,
    fleet_file: &std::path::Path,
    pm: Option<&PolicyMap>,
    rp: Option<&RolePaths>,
    mut opts: MigrateOptions,
) -> i32 {
    let (fleet, states) = match open_fleet(fleet_file, &args.target) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let n = fleet.clusters.len();
    if args.to == crate::migrate::Stage::Api {
        if args.fleet.confirm_fleet != Some(n) {
            eprintln!(
                "refused: the switch to API cannot be undone; pass --confirm-fleet {n} (the number of clusters in {}) to confirm it for the whole fleet",
                fleet_file.display()
            );
            return exit::REFUSED;
        }
        // Each cluster's own gate still runs; the fleet confirmation stands for the typed name.
        opts.confirm = Some(String::new());
    }
    if args.to != crate::migrate::Stage::Backup && !opts.yes {
        let question = format!(
            "Migrate {} to {}?",
            crate::report::plural(n, "cluster"),
            args.to.name()
        );
        match crate::migrate::confirm_interactively(&question) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("refused: nothing was changed: answer `y` or pass --yes");
                return exit::REFUSED;
            }
            Err(e) => return fail(&e.to_string()),
        }
    }
    opts.yes = true;
    let run = FleetRun {
        fleet: &fleet,
        fleet_file,
        defaults: &args.target.aws,
        states: &states,
        policy_map: pm,
        role_paths: rp,
        options: FleetOptions {
            concurrency: args.fleet.concurrency,
            per_account_region: args.fleet.per_account_region,
            canary: args.fleet.canary,
            max_failures: args.fleet.max_failures,
            take_over_lock: args.take_over_lock,
            include_ineffective: args.include_ineffective,
        },
    };
    let report = match run.migrate(args.to, &opts).await {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(path) = &args.fleet.report_html
        && let Err(e) =
            crate::migrate::state::write_atomic(path, render(&report, FleetFormat::Html).as_bytes())
    {
        return fail(&format!("--report-html {}: {e}", path.display()));
    }
    if let Err(code) = print(&render(&report, args.fleet.output)) {
        return code;
    }
    report.exit_code()
}

/// How often DescribeUpdate is polled at first (it backs off to 30 s).
fn poll_interval() -> Duration {
    std::env::var("AWS_AUTH_MIGRATE_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis)
}

/// `verify --cluster NAME`: the parity check, recorded for the `api` gate.
pub async fn verify(args: crate::cli::VerifyArgs) -> i32 {
    let pm = match load_options(args.policy_map.as_deref(), None) {
        Ok((pm, _)) => pm,
        Err(code) => return code,
    };
    let (states, mut cluster) = match open(&args.target).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let mut out = |line: &str| eprintln!("{line}");
    let mut run = match Run::new(&mut cluster, &states, pm.as_ref(), None, &mut out) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    run.include_ineffective = args.include_ineffective;
    let opts = MigrateOptions {
        allow_drop: args.allow_drop,
        probe_as: args.probe_as,
        ..MigrateOptions::default()
    };
    match run.verify(&opts).await {
        Ok(report) => {
            let written = print(&match args.output {
                Format::Json => {
                    serde_json::to_string_pretty(&report).expect("reports serialize") + "\n"
                }
                Format::Yaml => serde_saphyr::to_string(&report).expect("reports serialize"),
                Format::Markdown => crate::verify::render_markdown(&report),
                Format::Table => crate::verify::render_table(&report),
            });
            if let Err(code) = written {
                code
            } else if report.passed {
                exit::OK
            } else {
                exit::BLOCKERS
            }
        }
        Err(e) => stage_exit(Err(e)),
    }
}

/// `rollback --cluster NAME`.
pub async fn rollback(args: RollbackArgs) -> i32 {
    if args.target.fleet.is_some() {
        eprintln!("error: rollback works one cluster at a time: use --cluster NAME");
        return exit::USAGE;
    }
    let (states, mut cluster) = match open(&args.target).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let run_id = crate::migrate::state::new_run_id();
    let held = match lock(&cluster, &run_id, "rollback", args.take_over_lock).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut out = |line: &str| crate::cli::say(line);
    let mut run = match Run::new(&mut cluster, &states, None, None, &mut out) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string()),
    };
    run.run_id = run_id;
    run.lock = Some(held.handle());
    stage_exit(while_locked(held, run.rollback(args.yes)).await)
}

/// `status --cluster NAME`, or `status --fleet FILE`.
pub async fn status(args: StatusArgs) -> i32 {
    if let Some(fleet_file) = &args.target.fleet {
        let (fleet, states) = match open_fleet(fleet_file, &args.target) {
            Ok(o) => o,
            Err(code) => return code,
        };
        return match crate::migrate::fleet::status(&fleet, fleet_file, &args.target.aws, &states)
            .await
        {
            Ok(text) => print(&text).err().unwrap_or(exit::OK),
            Err(e) => fail(&e.to_string()),
        };
    }
    let (states, cluster) = match open(&args.target).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let info = &cluster.info;
    let state = match states.cluster(&info.account, &info.region, &info.name) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let records = match state.records() {
        Ok(r) => r,
        Err(e) => {
            return fail(&format!(
                "the journal {}: {e}",
                state.journal_path().display()
            ));
        }
    };
    let backups = state.backups().unwrap_or_default();
    let stage = crate::migrate::stage_summary(info.authentication_mode, &records, &backups);
    let mut text = format!(
        "cluster {} ({}/{})\n  mode   {}\n  stage  {stage}\n  state  {}\n",
        info.name,
        info.account,
        info.region,
        info.authentication_mode.map_or("unknown", |m| m.as_str()),
        state.dir().display()
    );
    text.push_str(&format!("  backups ({}):\n", backups.len()));
    for b in &backups {
        text.push_str(&format!("    {}\n", b.display()));
    }
    let verification = records.iter().rev().find_map(|r| match &r.event {
        Event::Verified {
            passed, plan_hash, ..
        } => Some(format!(
            "{} for plan {plan_hash} at {}",
            if *passed { "passed" } else { "failed" },
            r.time
        )),
        _ => None,
    });
    text.push_str(&format!(
        "  last verification: {}\n",
        verification.unwrap_or_else(|| "none".into())
    ));
    text.push_str(&format!(
        "  journal ({} records, last {}):\n",
        records.len(),
        args.last.min(records.len())
    ));
    for r in records.iter().rev().take(args.last).rev() {
        let what = match &r.event {
            Event::RunStarted { command } => format!("run started: {command}"),
            Event::BackupWritten { path } => format!("backup written: {path}"),
            Event::Intent { op, .. } => format!("intent: {op}"),
            Event::Done { op } => format!("done: {op}"),
            Event::Failed { op, error } => format!("FAILED: {op}: {error}"),
            Event::ModeUpdateRequested { target, update_id } => {
                format!("mode update to {target} requested ({update_id})")
            }
            Event::ModeUpdateFinished {
                target,
                update_id,
                status,
            } => format!("mode update to {target} ({update_id}) {status}"),
            Event::Verified { passed, .. } => {
                format!("verification {}", if *passed { "passed" } else { "failed" })
            }
            Event::RunFinished { outcome } => format!("run finished: {outcome}"),
        };
        text.push_str(&format!(
            "    {} {} {:<8} {what}\n",
            r.time, r.run_id, r.stage
        ));
    }
    print(&text).err().unwrap_or(exit::OK)
}

/// `snapshot --fleet FILE -o world.yaml`: an eks-sim world copied from live clusters.
pub async fn snapshot(args: crate::live::snapshot::SnapshotArgs) -> i32 {
    crate::live::snapshot::run(args).await
}
