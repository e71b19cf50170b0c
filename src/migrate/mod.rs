//! Carrying a plan out on live clusters: the per-cluster stages of the design
//! (`backup → dual → entries → verify → api`), each idempotent and resumable, every mutation
//! journaled before it is sent and after it returns; rollback; the cluster lock; fleet runs.
//!
//! - [`Run`] (here) is one invocation against one cluster: its journal context, the plan, and
//!   the sequence of stages ([`Run::migrate`]).
//! - [`backup`], [`mode`] (the mode switches and waiting on updates), [`entries`], [`gate`]
//!   (the switch to API and its safety gate), [`verify`] and [`rollback`] (a pure plan of undo
//!   operations folded from the journal, then its executor) each add their part of `Run`.
//! - [`state`] is the state directory: the typed journal and the backups.
//! - [`lock`] is the cluster lock, [`fleet`] and [`report`] run and report many clusters.

pub mod backup;
pub mod entries;
mod failpoint;
pub mod fleet;
pub mod gate;
pub mod lock;
pub mod mode;
pub mod report;
pub mod rollback;
pub mod state;
pub mod verify;

use std::io::IsTerminal;
use std::time::Duration;

use crate::live::eks::{ApiError, AuthenticationMode};
use crate::live::{Cluster, LiveError, LivePlan, plan_cluster};
use crate::plan::options::{PolicyMap, RolePaths};
use crate::plan::reconcile::Operation;
use crate::report::plural;
use state::{ClusterState, Event, JournalOp, Record, StateDir, Step, new_run_id, now};

pub use crate::plan::reconcile::{TAG_CREATED_BY, TAG_RUN_ID};

/// The stages `migrate --to` reaches, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Stage {
    Backup,
    Dual,
    Entries,
    Verify,
    Api,
}

impl Stage {
    pub fn name(self) -> &'static str {
        Step::from(self).name()
    }

    pub fn by_name(name: &str) -> Option<Stage> {
        [
            Stage::Backup,
            Stage::Dual,
            Stage::Entries,
            Stage::Verify,
            Stage::Api,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// What `migrate` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    pub yes: bool,
    /// The cluster name typed again, required for `api`.
    pub confirm: Option<String>,
    /// Mapping ids or ARNs that may be dropped by the switch to API.
    pub allow_drop: Vec<String>,
    /// How long to wait for one cluster update.
    pub update_timeout: Duration,
    pub poll_interval: Duration,
    /// Roles to assume for a verification as the real principal.
    pub probe_as: Vec<String>,
}

/// Why a stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("cannot write the state directory: {0}")]
    State(#[from] std::io::Error),
    /// Refused before changing anything (the gate, a missing confirmation, a lock).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Parity verification found lost permissions.
    #[error(
        "verification failed: {lost} permissions would be lost (see `aws-auth-migrate verify --cluster {cluster}`)"
    )]
    NotVerified { cluster: String, lost: usize },
    /// The cluster update of a mode switch ended otherwise than `Successful`.
    #[error("the switch to {target} (update {update_id}) ended {status}{}; the cluster is unchanged and the same command retries it", errors_suffix(.errors))]
    UpdateFailed {
        target: &'static str,
        update_id: String,
        status: String,
        errors: Vec<String>,
    },
    #[error(
        "update {update_id} is still in progress after {seconds}s; run the same command again to keep waiting"
    )]
    UpdateTimeout { update_id: String, seconds: u64 },
    /// A change failed part-way through the entries stage.
    #[error(
        "{source}; {done} operations done so far are journaled, and running the same command again continues from the cluster's state"
    )]
    Stopped {
        source: Box<StageError>,
        done: usize,
    },
    /// Existing entries that cannot be brought to the plan without deleting them.
    #[error("{} existing entries conflict with the plan:\n  {}", .0.len(), .0.join("\n  "))]
    Conflicts(Vec<String>),
    /// A create met an existing entry that cannot be brought to the plan.
    #[error("CreateAccessEntry: {principal_arn}: {reason}")]
    Conflict {
        principal_arn: String,
        reason: String,
    },
}

/// Why a run changed nothing: each reason says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("nothing was changed: answer `y` or pass --yes")]
    NotConfirmed,
    #[error("this changes the cluster and there is no terminal to ask on: pass --yes")]
    NoTerminal,
    #[error(
        "cluster {0} reports an authentication mode this tool does not know; nothing was changed"
    )]
    UnknownMode(String),
    #[error(
        "access entries cannot be created while the cluster is in CONFIG_MAP; run `--to dual` first"
    )]
    ConfigMapMode,
    #[error(
        "the cluster is in API mode: aws-auth is no longer consulted and EKS allows no way back, so deleting entries would only lock principals out. Nothing was changed; fix access through access entries instead"
    )]
    ApiMode,
    /// The safety gate of the switch to API, with every reason.
    #[error("the switch to API is refused; nothing was changed:\n  - {}", .0.join("\n  - "))]
    Gate(Vec<String>),
    #[error(
        "the lock on cluster {0} was lost (taken over, or not renewed in time): stopping before the next change; run the same command again once the other run is over"
    )]
    LockLost(String),
}

impl StageError {
    /// The exit status the command ends with (README, "Exit status").
    pub fn exit_code(&self) -> i32 {
        match self {
            StageError::Refused(_) => crate::cli::exit::REFUSED,
            StageError::NotVerified { .. } => crate::cli::exit::BLOCKERS,
            _ => crate::cli::exit::ERROR,
        }
    }
}

fn errors_suffix(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}

impl From<crate::live::kube::KubeError> for StageError {
    fn from(e: crate::live::kube::KubeError) -> Self {
        StageError::Live(LiveError::Kube(e))
    }
}

/// A run: one invocation's journal context.
pub struct Run<'a> {
    pub cluster: &'a mut Cluster,
    pub state: ClusterState,
    pub run_id: String,
    pub policy_map: Option<&'a PolicyMap>,
    pub role_paths: Option<&'a RolePaths>,
    /// `--include-ineffective`: role ARNs with a path are planned too.
    pub include_ineffective: bool,
    pub out: &'a mut dyn FnMut(&str),
    /// The cluster lock this run holds: once lost, no further change is sent.
    pub lock: Option<lock::LockHandle>,
    /// Blocker findings of the last plan (`code: message`), for reports.
    pub blockers: Vec<String>,
    /// A spinner of its own while an update runs (on a terminal); a fleet run shows its
    /// progress in its own bars instead, and gets a line.
    pub spinner: bool,
}

impl<'a> Run<'a> {
    pub fn new(
        cluster: &'a mut Cluster,
        states: &StateDir,
        policy_map: Option<&'a PolicyMap>,
        role_paths: Option<&'a RolePaths>,
        out: &'a mut dyn FnMut(&str),
    ) -> Result<Self, StageError> {
        let info = &cluster.info;
        let state = states.cluster(&info.account, &info.region, &info.name)?;
        Ok(Run {
            cluster,
            state,
            run_id: new_run_id(),
            policy_map,
            role_paths,
            include_ineffective: false,
            out,
            lock: None,
            blockers: Vec::new(),
            spinner: true,
        })
    }

    /// Appends one record to the cluster's journal (fsync'd before it returns).
    fn journal(&self, stage: Step, event: Event) -> Result<(), StageError> {
        // Every change is journaled as an intent before it is sent: the one place to stop a
        // run whose cluster lock was taken over or expired.
        if matches!(event, Event::Intent { .. }) && self.lock.as_ref().is_some_and(|l| l.lost()) {
            return Err(Refusal::LockLost(self.cluster.name.clone()).into());
        }
        self.state.append(&Record {
            time: now(),
            run_id: self.run_id.clone(),
            stage,
            event,
        })?;
        Ok(())
    }

    /// Sends one change through `call` with the journal around it: the intent (with the
    /// request token, when the call takes one) before, `Done` or `Failed` after. `failpoint`
    /// numbers the change for the crash tests.
    async fn journaled<T, E, F>(
        &self,
        stage: Step,
        op: &JournalOp,
        token: Option<String>,
        failpoint: usize,
        call: F,
    ) -> Result<T, StageError>
    where
        E: Into<StageError> + std::fmt::Display,
        F: std::future::Future<Output = Result<T, E>>,
    {
        self.journal(
            stage,
            Event::Intent {
                op: op.clone(),
                token,
            },
        )?;
        failpoint::hit_n(stage, "before-send", failpoint);
        match call.await {
            Ok(v) => {
                self.journal(stage, Event::Done { op: op.clone() })?;
                failpoint::hit_n(stage, "after-send", failpoint);
                Ok(v)
            }
            Err(e) => {
                self.journal(
                    stage,
                    Event::Failed {
                        op: op.clone(),
                        error: e.to_string(),
                    },
                )?;
                Err(e.into())
            }
        }
    }

    fn say(&mut self, line: &str) {
        (self.out)(line);
    }

    /// The `clientRequestToken` of one logical mutation, journaled with its intent.
    ///
    /// It is derived from the cluster, the stage, the operation and how many times this same
    /// operation has been answered before (journaled done; for a mode switch, its update
    /// requested): every send of it until it is answered (the SDK's retries, the tool's own, a
    /// rerun after a crash between the send and the journal) carries the same token, so EKS
    /// answers a resend with the first reply instead of acting twice; once answered, the next
    /// identical operation (after a rollback, or after the update it started failed) gets a new
    /// one, so it acts again.
    fn request_token(&self, stage: Step, op: &JournalOp) -> Result<String, StageError> {
        let answered = |event: &Event| match (event, op) {
            (
                Event::ModeUpdateRequested { target, .. },
                JournalOp::SwitchMode {
                    authentication_mode,
                },
            ) => target == authentication_mode,
            (Event::Done { op: done }, _) => done == op,
            _ => false,
        };
        let done_before = self
            .state
            .records()?
            .iter()
            .filter(|r| r.stage == stage && answered(&r.event))
            .count();
        let info = &self.cluster.info;
        Ok(request_token(
            &format!("{}/{}/{}", info.account, info.region, info.name),
            stage,
            op,
            done_before,
        ))
    }

    /// The token for `op` when its call takes one.
    fn token_for(&self, stage: Step, op: &JournalOp) -> Result<Option<String>, StageError> {
        op.takes_request_token()
            .then(|| self.request_token(stage, op))
            .transpose()
    }

    pub async fn plan(&mut self) -> Result<LivePlan, StageError> {
        Ok(plan_cluster(
            self.cluster,
            self.policy_map,
            self.role_paths,
            self.include_ineffective,
        )
        .await?)
    }

    /// Runs every stage up to `to`, skipping those already done.
    pub async fn migrate(&mut self, to: Stage, opts: &MigrateOptions) -> Result<(), StageError> {
        let plan = self.plan().await?;
        self.blockers = plan
            .plan
            .findings
            .iter()
            .filter(|f| f.severity == crate::model::Severity::Blocker)
            .map(|f| format!("{}: {}", f.code, f.message))
            .collect();
        let mode = self.cluster.info.authentication_mode;
        let Some(mode) = mode else {
            return Err(Refusal::UnknownMode(self.cluster.name.clone()).into());
        };
        let s = &plan.plan.summary;
        let header = format!(
            "cluster {} ({}/{}), mode {}: {} -> {}, {}; {}",
            self.cluster.name,
            self.cluster.info.account,
            self.cluster.info.region,
            mode.as_str(),
            plural(s.effective_mappings, "mapping"),
            plural(s.access_entries, "access entry"),
            plural(s.policy_associations, "policy association"),
            plural(s.blockers, "blocker")
        );
        self.say(&header);
        let steps = steps_to(to, mode);
        let describe: Vec<String> = steps
            .iter()
            .map(|s| describe_step(*s, &plan, mode))
            .collect();
        self.say(&format!("will run: {}", describe.join(", ")));
        let mutating = steps
            .iter()
            .any(|s| !matches!(s, Stage::Backup | Stage::Verify));
        if mutating && !opts.yes && !confirm_interactively("Proceed?")? {
            return Err(Refusal::NotConfirmed.into());
        }
        self.journal(
            Step::Migrate,
            Event::RunStarted {
                command: format!("migrate --to {}", to.name()),
            },
        )?;
        let result = self.run_steps(&steps, plan, opts).await;
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("stopped: {e}"),
        };
        self.journal(Step::Migrate, Event::RunFinished { outcome })?;
        result
    }

    async fn run_steps(
        &mut self,
        steps: &[Stage],
        plan: LivePlan,
        opts: &MigrateOptions,
    ) -> Result<(), StageError> {
        for step in steps {
            tracing::info!(cluster = %self.cluster.name, stage = step.name(), "stage started");
            match step {
                Stage::Backup => self.backup(&plan)?,
                Stage::Dual => {
                    self.switch_mode(AuthenticationMode::ApiAndConfigMap, opts)
                        .await?
                }
                Stage::Entries => self.entries().await?,
                Stage::Verify => {
                    let report = self.verify(opts).await?;
                    // On the way to API the gate refuses with every reason, this one among
                    // them (the mappings that would be dropped are named there).
                    if !report.passed && !steps.contains(&Stage::Api) {
                        return Err(StageError::NotVerified {
                            cluster: self.cluster.name.clone(),
                            lost: report.lost(),
                        });
                    }
                }
                Stage::Api => self.api(opts).await?,
            }
        }
        Ok(())
    }
}

/// The stages a run to `to` goes through from `mode`: the ones already behind the cluster are
/// left out (the mode only moves forward).
pub fn steps_to(to: Stage, mode: AuthenticationMode) -> Vec<Stage> {
    let mut steps = vec![Stage::Backup];
    if to >= Stage::Dual && mode == AuthenticationMode::ConfigMap {
        steps.push(Stage::Dual);
    }
    for stage in [Stage::Entries, Stage::Verify, Stage::Api] {
        if to >= stage && mode != AuthenticationMode::Api {
            steps.push(stage);
        }
    }
    steps
}

fn describe_step(step: Stage, plan: &LivePlan, mode: AuthenticationMode) -> String {
    match step {
        Stage::Dual => "dual (CONFIG_MAP -> API_AND_CONFIG_MAP, one-way)".to_string(),
        Stage::Entries => {
            let count = |f: fn(&Operation) -> bool| plan.operations.iter().filter(|o| f(o)).count();
            format!(
                "entries ({} to create, {} to update, {} policy associations, {} to adopt{})",
                count(|o| matches!(o, Operation::Create { .. })),
                count(|o| matches!(o, Operation::Update { .. })),
                count(|o| matches!(o, Operation::Associate { .. })),
                count(|o| matches!(o, Operation::Adopt { .. })),
                if mode == AuthenticationMode::ConfigMap {
                    "; recomputed after dual"
                } else {
                    ""
                }
            )
        }
        Stage::Api => "api (API_AND_CONFIG_MAP -> API, irreversible)".to_string(),
        Stage::Verify => "verify (SubjectAccessReview parity)".to_string(),
        Stage::Backup => "backup".to_string(),
    }
}

/// A `clientRequestToken` (UUID-shaped, as the SDKs make them) derived from the cluster
/// (`ACCOUNT/REGION/NAME`), the stage, the operation and its generation (how many times the
/// same operation was answered before). Deterministic, so a resend after a crash carries it
/// again.
pub fn request_token(cluster: &str, stage: Step, op: &JournalOp, generation: usize) -> String {
    use sha2::{Digest, Sha256};
    let op = serde_json::to_string(op).expect("journal operations serialize");
    let mut h = Sha256::new();
    for part in [cluster, stage.name(), &op, &generation.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let x = hex::encode(h.finalize());
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A spinner on a terminal (not in CI), for long waits.
fn progress_spinner() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() || std::env::var_os("CI").is_some() {
        return None;
    }
    let s = indicatif::ProgressBar::new_spinner();
    s.enable_steady_tick(Duration::from_millis(120));
    Some(s)
}

/// Asks on the terminal; refuses without one.
pub fn confirm_interactively(question: &str) -> Result<bool, StageError> {
    if !std::io::stdin().is_terminal() {
        return Err(Refusal::NoTerminal.into());
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Where a cluster stands, from its mode and its journal.
pub fn stage_summary(
    mode: Option<AuthenticationMode>,
    records: &[Record],
    backups: &[std::path::PathBuf],
) -> &'static str {
    let entries_done = records
        .iter()
        .any(|r| r.stage == Step::Entries && matches!(r.event, Event::Done { .. }));
    match mode {
        Some(AuthenticationMode::Api) => "api: done (aws-auth is no longer consulted)",
        Some(AuthenticationMode::ApiAndConfigMap) if entries_done => {
            "entries: access entries reconciled; next: verify, then api"
        }
        Some(AuthenticationMode::ApiAndConfigMap) => "dual: both sources active; next: entries",
        Some(AuthenticationMode::ConfigMap) if !backups.is_empty() => "backup: taken; next: dual",
        Some(AuthenticationMode::ConfigMap) => "not started",
        None => "unknown mode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::reconcile::AccessEntryRequest;

    fn create(arn: &str) -> JournalOp {
        JournalOp::Create {
            entry: AccessEntryRequest {
                principal_arn: arn.into(),
                entry_type: crate::model::EntryType::Standard,
                username: None,
                kubernetes_groups: Vec::new(),
                principal_id: None,
            },
        }
    }

    #[test]
    fn request_tokens_are_stable_per_operation_and_new_per_generation() {
        let op = create("arn:aws:iam::1:role/a");
        let other = create("arn:aws:iam::1:role/b");
        let t = request_token("1/us-east-1/prod", Step::Entries, &op, 0);
        assert_eq!(t, request_token("1/us-east-1/prod", Step::Entries, &op, 0));
        assert_eq!(t.len(), 36);
        assert_eq!(t.matches('-').count(), 4);
        for different in [
            request_token("1/us-east-1/prod", Step::Entries, &op, 1),
            request_token("1/us-east-1/prod", Step::Entries, &other, 0),
            request_token("1/us-east-1/prod", Step::Rollback, &op, 0),
            request_token("1/us-east-1/dev", Step::Entries, &op, 0),
        ] {
            assert_ne!(t, different);
        }
    }

    #[test]
    fn a_run_goes_through_the_stages_still_ahead_of_the_cluster() {
        use AuthenticationMode::*;
        assert_eq!(steps_to(Stage::Backup, ConfigMap), [Stage::Backup]);
        assert_eq!(
            steps_to(Stage::Entries, ConfigMap),
            [Stage::Backup, Stage::Dual, Stage::Entries]
        );
        assert_eq!(
            steps_to(Stage::Api, ApiAndConfigMap),
            [Stage::Backup, Stage::Entries, Stage::Verify, Stage::Api]
        );
        assert_eq!(steps_to(Stage::Api, Api), [Stage::Backup]);
    }
}
