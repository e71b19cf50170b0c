//! The per-cluster stages (docs/authentication-modes.md#how-the-tool-moves-a-cluster):
//! `backup → dual → entries → api`, each idempotent and resumable, every mutation journaled
//! before it is sent and after it returns; and rollback.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use aws_sdk_eks::types::UpdateStatus;
use serde_json::json;

use crate::eks::{ApiError, AuthenticationMode};
use crate::live::{Cluster, LiveError, LivePlan, configmap_json, plan_cluster};
use crate::model::{AccessScope, CLUSTER_ADMIN_POLICY, EntryType};
use crate::options::{PolicyMap, RolePaths};
use crate::reconcile::{ExistingEntry, Operation, reconcile};
use crate::report::plural;
use crate::state::{ClusterState, Event, Record, StateDir, new_run_id, now, write_atomic};
use crate::translate::Action;

/// Tag keys on entries the tool creates: they mark what rollback may delete.
pub const TAG_CREATED_BY: &str = "aws-auth-migrate/created-by";
pub const TAG_RUN_ID: &str = "aws-auth-migrate/run-id";

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
        match self {
            Stage::Backup => "backup",
            Stage::Dual => "dual",
            Stage::Entries => "entries",
            Stage::Verify => "verify",
            Stage::Api => "api",
        }
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
    #[error("{0}")]
    Refused(String),
    /// Parity verification found lost permissions.
    #[error("{0}")]
    NotVerified(String),
    #[error("{0}")]
    Failed(String),
}

impl From<crate::kubeapi::KubeError> for StageError {
    fn from(e: crate::kubeapi::KubeError) -> Self {
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
    pub lock: Option<crate::migrate::lock::LockHandle>,
    /// Blocker findings of the last plan (`code: message`), for reports.
    pub blockers: Vec<String>,
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
        })
    }

    fn journal(&self, stage: &str, event: Event) -> Result<(), StageError> {
        // Every change is journaled as an intent before it is sent: the one place to stop a
        // run whose cluster lock was taken over or expired.
        if matches!(event, Event::Intent { .. }) && self.lock.as_ref().is_some_and(|l| l.lost()) {
            return Err(StageError::Refused(format!(
                "the lock on cluster {} was lost (taken over, or not renewed in time): stopping before the next change; run the same command again once the other run is over",
                self.cluster.name
            )));
        }
        self.state.append(&Record {
            time: now(),
            run_id: self.run_id.clone(),
            stage: stage.to_string(),
            event,
        })?;
        Ok(())
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
    fn request_token(&self, stage: &str, op: &serde_json::Value) -> Result<String, StageError> {
        let mode = op
            .get("authenticationMode")
            .and_then(|m| m.as_str())
            .filter(|_| op["op"] == "UpdateClusterConfig");
        let answered = |event: &Event| match (event, mode) {
            (Event::ModeUpdateRequested { target, .. }, Some(mode)) => target == mode,
            (Event::Done { op: done }, None) => done == op,
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
        let mode_name = mode.map_or("unknown", |m| m.as_str());
        if mode.is_none() {
            return Err(StageError::Refused(format!(
                "cluster {} reports an authentication mode this tool does not know; nothing was changed",
                self.cluster.name
            )));
        }
        let s = &plan.plan.summary;
        let header = format!(
            "cluster {} ({}/{}), mode {mode_name}: {} -> {}, {}; {}",
            self.cluster.name,
            self.cluster.info.account,
            self.cluster.info.region,
            plural(s.effective_mappings, "mapping"),
            plural(s.access_entries, "access entry"),
            plural(s.policy_associations, "policy association"),
            plural(s.blockers, "blocker")
        );
        self.say(&header);
        let mut steps = Vec::new();
        if to >= Stage::Backup {
            steps.push(Stage::Backup);
        }
        if to >= Stage::Dual && mode == Some(AuthenticationMode::ConfigMap) {
            steps.push(Stage::Dual);
        }
        if to >= Stage::Entries && mode != Some(AuthenticationMode::Api) {
            steps.push(Stage::Entries);
        }
        if to >= Stage::Verify && mode != Some(AuthenticationMode::Api) {
            steps.push(Stage::Verify);
        }
        if to >= Stage::Api && mode != Some(AuthenticationMode::Api) {
            steps.push(Stage::Api);
        }
        let describe: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Stage::Dual => "dual (CONFIG_MAP -> API_AND_CONFIG_MAP, one-way)".to_string(),
                Stage::Entries => {
                    let count = |f: fn(&Operation) -> bool| plan.operations.iter().filter(|o| f(o)).count();
                    format!(
                        "entries ({} to create, {} to update, {} policy associations, {} to adopt{})",
                        count(|o| matches!(o, Operation::Create { .. })),
                        count(|o| matches!(o, Operation::Update { .. })),
                        count(|o| matches!(o, Operation::Associate { .. })),
                        count(|o| matches!(o, Operation::Adopt { .. })),
                        if mode == Some(AuthenticationMode::ConfigMap) { "; recomputed after dual" } else { "" }
                    )
                }
                Stage::Api => "api (API_AND_CONFIG_MAP -> API, irreversible)".to_string(),
                Stage::Verify => "verify (SubjectAccessReview parity)".to_string(),
                Stage::Backup => "backup".to_string(),
            })
            .collect();
        self.say(&format!("will run: {}", describe.join(", ")));
        let mutating = steps
            .iter()
            .any(|s| !matches!(s, Stage::Backup | Stage::Verify));
        if mutating && !opts.yes && !confirm_interactively("Proceed?")? {
            return Err(StageError::Refused(
                "nothing was changed: answer `y` or pass --yes".into(),
            ));
        }
        self.journal(
            "migrate",
            Event::RunStarted {
                command: format!("migrate --to {}", to.name()),
            },
        )?;
        let result = self.run_steps(&steps, plan, opts).await;
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("stopped: {e}"),
        };
        self.journal("migrate", Event::RunFinished { outcome })?;
        result
    }

    async fn run_steps(
        &mut self,
        steps: &[Stage],
        plan: LivePlan,
        opts: &MigrateOptions,
    ) -> Result<(), StageError> {
        for step in steps {
            match step {
                Stage::Backup => self.backup(&plan)?,
                Stage::Dual => {
                    self.switch_mode(AuthenticationMode::ApiAndConfigMap, opts)
                        .await?
                }
                Stage::Entries => self.entries(opts).await?,
                Stage::Verify => {
                    let report = self.verify(opts).await?;
                    if !report.passed {
                        let why = format!(
                            "verification failed: {} permissions would be lost (see `aws-auth-migrate verify --cluster {}`)",
                            report.lost(),
                            self.cluster.name
                        );
                        // On the way to API the gate refuses with every reason, this one among
                        // them (the mappings that would be dropped are named there).
                        if !steps.contains(&Stage::Api) {
                            return Err(StageError::NotVerified(why));
                        }
                    }
                }
                Stage::Api => self.api(opts).await?,
            }
        }
        Ok(())
    }

    /// Writes aws-auth as fetched, the entries and the cluster's access state, once per run.
    pub fn backup(&mut self, plan: &LivePlan) -> Result<(), StageError> {
        let dir = self.state.backup_dir(&self.run_id)?;
        let snap = &plan.snapshot;
        if let Some(cm) = &snap.aws_auth {
            write_atomic(&dir.join("aws-auth.json"), configmap_json(cm).as_bytes())?;
        }
        let cluster = json!({
            "cluster": snap.cluster,
            "accessEntries": snap.entries,
            "nodeRoles": snap.node_roles,
            "awsAuthPresent": snap.aws_auth.is_some(),
        });
        let mut text = serde_json::to_string_pretty(&cluster).expect("JSON values serialize");
        text.push('\n');
        write_atomic(&dir.join("cluster.json"), text.as_bytes())?;
        self.journal(
            "backup",
            Event::BackupWritten {
                path: dir.display().to_string(),
            },
        )?;
        self.say(&format!("backup   written to {}", dir.display()));
        Ok(())
    }

    /// Waits for updates that are already running, so the switch never races one.
    async fn wait_for_running_updates(&mut self, opts: &MigrateOptions) -> Result<(), StageError> {
        let name = self.cluster.name.clone();
        for id in self.cluster.eks.updates_in_progress(&name).await? {
            self.say(&format!("waiting  another update ({id}) is in progress"));
            let (status, errors) = self.wait_update(&id, opts).await?;
            self.say(&format!(
                "         update {id} ended {}{}",
                status.as_str(),
                errors_suffix(&errors)
            ));
        }
        Ok(())
    }

    async fn wait_update(
        &mut self,
        id: &str,
        opts: &MigrateOptions,
    ) -> Result<(UpdateStatus, Vec<String>), StageError> {
        let start = Instant::now();
        let spinner = progress_spinner();
        let mut delay = opts.poll_interval;
        loop {
            let (status, errors) = self
                .cluster
                .eks
                .describe_update(&self.cluster.name, id)
                .await?;
            if status != UpdateStatus::InProgress {
                if let Some(s) = &spinner {
                    s.finish_and_clear();
                }
                return Ok((status, errors));
            }
            let elapsed = start.elapsed();
            if elapsed > opts.update_timeout {
                if let Some(s) = &spinner {
                    s.finish_and_clear();
                }
                return Err(StageError::Failed(format!(
                    "update {id} is still in progress after {}s; run the same command again to keep waiting",
                    elapsed.as_secs()
                )));
            }
            if let Some(s) = &spinner {
                s.set_message(format!("update {id} in progress ({}s)", elapsed.as_secs()));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2)
                .min(Duration::from_secs(30))
                .max(opts.poll_interval);
        }
    }

    /// UpdateClusterConfig to `target`, waiting for it; a no-op when the cluster is there.
    async fn switch_mode(
        &mut self,
        target: AuthenticationMode,
        opts: &MigrateOptions,
    ) -> Result<(), StageError> {
        let stage = if target == AuthenticationMode::Api {
            "api"
        } else {
            "dual"
        };
        self.wait_for_running_updates(opts).await?;
        self.cluster.info = self
            .cluster
            .eks
            .describe_cluster(&self.cluster.name)
            .await?;
        let current = self.cluster.info.authentication_mode;
        let reached = match target {
            AuthenticationMode::ApiAndConfigMap => current != Some(AuthenticationMode::ConfigMap),
            _ => current == Some(target),
        };
        if reached {
            self.say(&format!(
                "{stage:<8} already done: the cluster is in {}",
                current.map_or("?", |m| m.as_str())
            ));
            return Ok(());
        }
        let op = json!({"op": "UpdateClusterConfig", "authenticationMode": target.as_str()});
        let token = self.request_token(stage, &op)?;
        self.journal(
            stage,
            Event::Intent {
                op: op.clone(),
                token: Some(token.clone()),
            },
        )?;
        failpoint(stage, "before-send");
        // Another update can start between the check above and this call (EKS starts some
        // itself): ResourceInUse then means wait for it and try again, a few times.
        let mut attempts = 0;
        let id = loop {
            attempts += 1;
            match self
                .cluster
                .eks
                .update_mode(&self.cluster.name, target, &token)
                .await
            {
                Ok(id) => break id,
                Err(e) if e.is("ResourceInUseException") && attempts < 4 => {
                    self.say(&format!(
                        "{stage:<8} another update started meanwhile; waiting for it"
                    ));
                    self.wait_for_running_updates(opts).await?;
                }
                Err(e) => {
                    self.journal(
                        stage,
                        Event::Failed {
                            op,
                            error: e.to_string(),
                        },
                    )?;
                    return Err(e.into());
                }
            }
        };
        self.journal(
            stage,
            Event::ModeUpdateRequested {
                target: target.as_str().into(),
                update_id: id.clone(),
            },
        )?;
        failpoint(stage, "after-send");
        let (status, errors) = self.wait_update(&id, opts).await?;
        self.journal(
            stage,
            Event::ModeUpdateFinished {
                target: target.as_str().into(),
                update_id: id.clone(),
                status: status.as_str().into(),
            },
        )?;
        if status != UpdateStatus::Successful {
            return Err(StageError::Failed(format!(
                "the switch to {} (update {id}) ended {}{}; the cluster is unchanged and the same command retries it",
                target.as_str(),
                status.as_str(),
                errors_suffix(&errors)
            )));
        }
        self.cluster.info = self
            .cluster
            .eks
            .describe_cluster(&self.cluster.name)
            .await?;
        self.say(&format!(
            "{stage:<8} the cluster is now in {}",
            target.as_str()
        ));
        Ok(())
    }

    /// Reconciles access entries to the plan, re-reading the cluster first (EKS may have
    /// created entries at the mode switch).
    async fn entries(&mut self, _opts: &MigrateOptions) -> Result<(), StageError> {
        let plan = self.plan().await?;
        if self.cluster.info.authentication_mode == Some(AuthenticationMode::ConfigMap) {
            return Err(StageError::Refused(
                "access entries cannot be created while the cluster is in CONFIG_MAP; run `--to dual` first".into(),
            ));
        }
        let cluster = self.cluster.name.clone();
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut conflicts = Vec::new();
        let mut mutation = 0usize;
        for op in &plan.operations {
            match op {
                Operation::Adopt { .. } => {
                    *counts.entry("adopted").or_default() += 1;
                    continue;
                }
                Operation::Conflict {
                    principal_arn,
                    reason,
                } => {
                    conflicts.push(format!("{principal_arn}: {reason}"));
                    continue;
                }
                _ => {}
            }
            mutation += 1;
            let value = serde_json::to_value(op).expect("operations serialize");
            let token = op
                .takes_request_token()
                .then(|| self.request_token("entries", &value))
                .transpose()?;
            self.journal(
                "entries",
                Event::Intent {
                    op: value.clone(),
                    token: token.clone(),
                },
            )?;
            failpoint_n("entries", "before-send", mutation);
            let result = self
                .apply(&cluster, op, token.as_deref().unwrap_or_default())
                .await;
            match result {
                Ok(word) => {
                    self.journal("entries", Event::Done { op: value })?;
                    *counts.entry(word).or_default() += 1;
                }
                Err(e) => {
                    self.journal(
                        "entries",
                        Event::Failed {
                            op: value,
                            error: e.to_string(),
                        },
                    )?;
                    return Err(StageError::Failed(format!(
                        "{e}; {} operations done so far are journaled, and running the same command again continues from the cluster's state",
                        mutation - 1
                    )));
                }
            }
            failpoint_n("entries", "after-send", mutation);
        }
        let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        self.say(&format!(
            "entries  {}",
            if summary.is_empty() {
                "nothing to do".to_string()
            } else {
                summary.join(", ")
            }
        ));
        if !conflicts.is_empty() {
            return Err(StageError::Failed(format!(
                "{} existing entries conflict with the plan:\n  {}",
                conflicts.len(),
                conflicts.join("\n  ")
            )));
        }
        Ok(())
    }

    /// Sends one operation. A create that finds the entry already there (an earlier attempt
    /// did succeed, or EKS made it) is reconciled against what exists instead of failing.
    async fn apply(
        &mut self,
        cluster: &str,
        op: &Operation,
        token: &str,
    ) -> Result<&'static str, ApiError> {
        let eks = self.cluster.eks.clone();
        match op {
            Operation::Create { entry } => {
                let tags = BTreeMap::from([
                    (TAG_CREATED_BY.to_string(), "aws-auth-migrate".to_string()),
                    (TAG_RUN_ID.to_string(), self.run_id.clone()),
                ]);
                match eks.create_entry(cluster, entry, &tags, token).await {
                    Ok(()) => Ok("created"),
                    Err(e) if e.is("ResourceInUseException") => {
                        let existing = eks.describe_entry(cluster, &entry.principal_arn).await?;
                        // An entry with the tool's tag is its own (an earlier attempt did get
                        // through); any other was made by EKS or someone else, and is adopted:
                        // rollback must restore it, not delete it.
                        let ours = existing.as_ref().is_some_and(|e| {
                            e.tags.get(TAG_CREATED_BY).map(String::as_str)
                                == Some("aws-auth-migrate")
                        });
                        if !ours {
                            let adopt = json!({"op": "adopt", "principalArn": entry.principal_arn});
                            self.journal("entries", Event::Done { op: adopt })
                                .map_err(|e| ApiError {
                                    operation: "journal",
                                    code: "Io".into(),
                                    message: e.to_string(),
                                })?;
                        }
                        let want = crate::model::AccessEntry {
                            principal_arn: entry.principal_arn.clone(),
                            entry_type: entry.entry_type,
                            username: entry.username.clone(),
                            kubernetes_groups: entry.kubernetes_groups.clone(),
                            access_policies: Vec::new(),
                            principal_id: entry.principal_id.clone(),
                        };
                        for follow in reconcile(std::slice::from_ref(&want), existing.as_slice()) {
                            match &follow {
                                Operation::Update {
                                    principal_arn,
                                    username,
                                    kubernetes_groups,
                                    ..
                                } => {
                                    let value = serde_json::to_value(&follow)
                                        .expect("operations serialize");
                                    let journal_err = |e: StageError| ApiError {
                                        operation: "journal",
                                        code: "Io".into(),
                                        message: e.to_string(),
                                    };
                                    let token = self
                                        .request_token("entries", &value)
                                        .map_err(journal_err)?;
                                    self.journal(
                                        "entries",
                                        Event::Intent {
                                            op: value.clone(),
                                            token: Some(token.clone()),
                                        },
                                    )
                                    .map_err(journal_err)?;
                                    eks.update_entry(
                                        cluster,
                                        principal_arn,
                                        username.as_deref(),
                                        kubernetes_groups,
                                        &token,
                                    )
                                    .await?;
                                    self.journal("entries", Event::Done { op: value })
                                        .map_err(journal_err)?;
                                }
                                Operation::Conflict { reason, .. } => {
                                    return Err(ApiError {
                                        operation: "CreateAccessEntry",
                                        code: "Conflict".into(),
                                        message: reason.clone(),
                                    });
                                }
                                _ => {}
                            }
                        }
                        Ok("adopted")
                    }
                    Err(e) => Err(e),
                }
            }
            Operation::Update {
                principal_arn,
                username,
                kubernetes_groups,
                ..
            } => {
                eks.update_entry(
                    cluster,
                    principal_arn,
                    username.as_deref(),
                    kubernetes_groups,
                    token,
                )
                .await?;
                Ok("updated")
            }
            Operation::Associate {
                principal_arn,
                policy,
                ..
            } => {
                eks.associate(cluster, principal_arn, policy).await?;
                Ok("policy associations")
            }
            Operation::Adopt { .. } | Operation::Conflict { .. } => Ok("adopted"),
        }
    }

    /// The switch to API, only through the safety gate.
    async fn api(&mut self, opts: &MigrateOptions) -> Result<(), StageError> {
        let plan = self.plan().await?;
        let verification = self.last_verification()?;
        let mut refusals = gate(&plan, opts, &self.cluster.name, &plan.snapshot.caller_arn);
        let hash = crate::parity::plan_hash(
            &plan
                .plan
                .mappings
                .iter()
                .filter_map(|m| m.access_entry.clone())
                .collect::<Vec<_>>(),
        );
        refusals.extend(verification_refusal(verification, &hash));
        let running = self
            .cluster
            .eks
            .updates_in_progress(&self.cluster.name)
            .await?;
        if !running.is_empty() {
            refusals.push(format!(
                "an update is in progress ({}); wait for it",
                running.join(", ")
            ));
        }
        if !refusals.is_empty() {
            return Err(StageError::Refused(format!(
                "the switch to API is refused; nothing was changed:\n  - {}",
                refusals.join("\n  - ")
            )));
        }
        self.switch_mode(AuthenticationMode::Api, opts).await?;
        self.say("api      done: aws-auth is no longer consulted; it is kept in the cluster and in the backup");
        Ok(())
    }

    /// The plan hash and outcome of the latest verification in the journal.
    fn last_verification(&self) -> Result<Option<(String, bool)>, StageError> {
        Ok(self
            .state
            .records()?
            .iter()
            .rev()
            .find_map(|r| match &r.event {
                Event::Verified {
                    plan_hash, passed, ..
                } => Some((plan_hash.clone(), *passed)),
                _ => None,
            }))
    }

    /// Parity verification: journaled with the plan's hash, the report kept next to the journal.
    pub async fn verify(
        &mut self,
        opts: &MigrateOptions,
    ) -> Result<crate::parity::ParityReport, StageError> {
        let plan = self.plan().await?;
        let (rbac, resources) = crate::parity::read_rbac(&self.cluster.kube).await?;
        let declared = self
            .policy_map
            .map(|pm| pm.groups.values().map(|g| g.policy.clone()).collect())
            .unwrap_or_default();
        let inputs = crate::parity::Inputs {
            cluster: &self.cluster.name,
            mappings: &plan.plan.mappings,
            existing: &plan.existing_entries,
            rbac: &rbac,
            resources: &resources,
            declared_policies: declared,
            allow_drop: &opts.allow_drop,
            created_ids: created_ids(&self.state.records()?),
        };
        let mut report = crate::parity::verify(&self.cluster.kube, &inputs).await?;
        if !opts.probe_as.is_empty() {
            crate::parity::probe_as(
                &mut report,
                &opts.probe_as,
                &self.cluster.sdk,
                &self.cluster.info,
            )
            .await;
        }
        let mut text = serde_json::to_string_pretty(&report).expect("reports serialize");
        text.push('\n');
        write_atomic(&self.state.dir().join("verification.json"), text.as_bytes())?;
        self.journal(
            "verify",
            Event::Verified {
                plan_hash: report.plan_hash.clone(),
                passed: report.passed,
                detail: format!(
                    "{} principals, {} lost, {} gained, {} identities, {} reviews",
                    report.principals.len(),
                    report.lost(),
                    report.gained(),
                    report.identities,
                    report.reviews
                ),
            },
        )?;
        self.say(&format!(
            "verify   {}: {} principals, {} lost, {} gained ({} identities, {} SubjectAccessReviews)",
            if report.passed { "passed" } else { "FAILED" },
            report.principals.len(),
            report.lost(),
            report.gained(),
            report.identities,
            report.reviews
        ));
        Ok(report)
    }

    /// Undoes what the tool did, while the cluster is in API_AND_CONFIG_MAP.
    pub async fn rollback(&mut self, yes: bool) -> Result<(), StageError> {
        let cluster = self.cluster.name.clone();
        self.cluster.info = self.cluster.eks.describe_cluster(&cluster).await?;
        match self.cluster.info.authentication_mode {
            Some(AuthenticationMode::Api) => {
                return Err(StageError::Refused(
                    "the cluster is in API mode: aws-auth is no longer consulted and EKS allows no way back, so deleting entries would only lock principals out. Nothing was changed; fix access through access entries instead".into(),
                ));
            }
            Some(AuthenticationMode::ConfigMap) => {
                self.say("rollback the cluster is in CONFIG_MAP: no access entries exist, aws-auth governs access; nothing to undo");
                return Ok(());
            }
            _ => {}
        }
        let records = self.state.records()?;
        let undo = changes_to_undo(&records);
        let existing: BTreeMap<String, ExistingEntry> = self
            .cluster
            .eks
            .list_entries(&cluster)
            .await?
            .into_iter()
            .map(|e| (e.principal_arn.to_lowercase(), e))
            .collect();
        let mut steps: Vec<Operation> = Vec::new();
        let mut notes = Vec::new();
        let mut deletes = Vec::new();
        for arn in &undo.created {
            match existing.get(&arn.to_lowercase()) {
                Some(e)
                    if e.tags.get(TAG_CREATED_BY).map(String::as_str)
                        == Some("aws-auth-migrate") =>
                {
                    deletes.push(e.principal_arn.clone());
                }
                Some(e) => notes.push(format!(
                    "{}: not deleted, it does not carry the tool's tag (someone recreated it?)",
                    e.principal_arn
                )),
                None => {}
            }
        }
        for (arn, original) in &undo.adopted {
            let Some(have) = existing.get(&arn.to_lowercase()) else {
                continue;
            };
            if let Some((username, groups)) = &original.identity
                && (have.username.as_ref() != username.as_ref()
                    || &have.kubernetes_groups != groups)
            {
                steps.push(Operation::Update {
                    principal_arn: have.principal_arn.clone(),
                    username: username.clone(),
                    kubernetes_groups: groups.clone(),
                    previous_username: have.username.clone(),
                    previous_groups: have.kubernetes_groups.clone(),
                });
            }
            for (policy_arn, scope) in &original.policies {
                steps.push(match scope {
                    Some(scope) => Operation::Associate {
                        principal_arn: have.principal_arn.clone(),
                        policy: crate::model::PolicyAssociation {
                            policy_arn: policy_arn.clone(),
                            access_scope: scope.clone(),
                        },
                        previous_scope: None,
                    },
                    None => Operation::Conflict {
                        // Encodes a disassociation for the journal.
                        principal_arn: have.principal_arn.clone(),
                        reason: format!("disassociate {policy_arn}"),
                    },
                });
            }
        }
        self.say(&format!(
            "rollback cluster {}: {} entries the tool created to delete, {} changed entries to restore",
            cluster,
            deletes.len(),
            steps.len()
        ));
        if (!deletes.is_empty() || !steps.is_empty()) && !yes && !confirm_interactively("Proceed?")?
        {
            return Err(StageError::Refused(
                "nothing was changed: answer `y` or pass --yes".into(),
            ));
        }
        self.journal(
            "rollback",
            Event::RunStarted {
                command: "rollback".into(),
            },
        )?;
        let eks = self.cluster.eks.clone();
        for arn in &deletes {
            let op = json!({"op": "delete", "principalArn": arn});
            self.journal(
                "rollback",
                Event::Intent {
                    op: op.clone(),
                    token: None,
                },
            )?;
            match eks.delete_entry(&cluster, arn).await {
                Ok(()) => self.journal("rollback", Event::Done { op })?,
                Err(e) => {
                    self.journal(
                        "rollback",
                        Event::Failed {
                            op,
                            error: e.to_string(),
                        },
                    )?;
                    return Err(e.into());
                }
            }
        }
        for step in &steps {
            let op = match step {
                Operation::Conflict {
                    principal_arn,
                    reason,
                } => {
                    json!({"op": "disassociate", "principalArn": principal_arn, "policyArn": reason.trim_start_matches("disassociate ")})
                }
                other => serde_json::to_value(other).expect("operations serialize"),
            };
            let token = step
                .takes_request_token()
                .then(|| self.request_token("rollback", &op))
                .transpose()?;
            self.journal(
                "rollback",
                Event::Intent {
                    op: op.clone(),
                    token: token.clone(),
                },
            )?;
            let result = match step {
                Operation::Update {
                    principal_arn,
                    username,
                    kubernetes_groups,
                    ..
                } => {
                    eks.update_entry(
                        &cluster,
                        principal_arn,
                        username.as_deref(),
                        kubernetes_groups,
                        token.as_deref().unwrap_or_default(),
                    )
                    .await
                }
                Operation::Associate {
                    principal_arn,
                    policy,
                    ..
                } => eks.associate(&cluster, principal_arn, policy).await,
                Operation::Conflict {
                    principal_arn,
                    reason,
                } => {
                    eks.disassociate(
                        &cluster,
                        principal_arn,
                        reason.trim_start_matches("disassociate "),
                    )
                    .await
                }
                _ => Ok(()),
            };
            match result {
                Ok(()) => self.journal("rollback", Event::Done { op })?,
                Err(e) => {
                    self.journal(
                        "rollback",
                        Event::Failed {
                            op,
                            error: e.to_string(),
                        },
                    )?;
                    return Err(e.into());
                }
            }
        }
        self.journal(
            "rollback",
            Event::RunFinished {
                outcome: "ok".into(),
            },
        )?;
        // The tool never edits aws-auth; say whether it still matches the first backup.
        let current = self.cluster.kube.aws_auth().await?;
        if let Some(first) = self.state.backups()?.first() {
            let backed_up = std::fs::read_to_string(first.join("aws-auth.json")).ok();
            let now_text = current.as_ref().map(configmap_json);
            if backed_up != now_text {
                self.say(&format!(
                    "rollback aws-auth differs from the backup in {}: someone changed it since; the tool left it as it is:",
                    first.display()
                ));
                let diff = data_diff(
                    backed_up.as_deref().unwrap_or_default(),
                    now_text.as_deref().unwrap_or_default(),
                );
                for line in diff.lines() {
                    self.say(&format!("         {line}"));
                }
            }
        }
        for n in notes {
            self.say(&format!("rollback {n}"));
        }
        let remaining: Vec<&ExistingEntry> = existing
            .values()
            .filter(|e| {
                !deletes
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&e.principal_arn))
            })
            .collect();
        self.say(&format!(
            "rollback done: aws-auth governs every principal without an access entry again. What remains: the mode stays API_AND_CONFIG_MAP (EKS never goes back to CONFIG_MAP), and {} entries the tool did not create (EKS's node, Fargate and creator entries among them)",
            remaining.len()
        ));
        Ok(())
    }
}

/// Principal ARN (lower-cased) → IAM unique id, for every entry the journal says the tool
/// created with the id known.
pub fn created_ids(records: &[Record]) -> std::collections::HashMap<String, String> {
    records
        .iter()
        .filter(|r| r.stage == "entries")
        .filter_map(|r| match &r.event {
            Event::Done { op } if op.get("op").and_then(|v| v.as_str()) == Some("create") => {
                let arn = op.pointer("/entry/principalArn")?.as_str()?.to_lowercase();
                let id = op.pointer("/entry/principalId")?.as_str()?.to_string();
                Some((arn, id))
            }
            _ => None,
        })
        .collect()
}

/// What the journal says the tool changed and has not undone.
#[derive(Debug, Default, PartialEq)]
pub struct Undo {
    /// Principals whose entries the tool created (or may have: an intent without a result).
    pub created: BTreeSet<String>,
    /// Entries the tool adopted and changed, with what they had before its first change.
    pub adopted: BTreeMap<String, Original>,
}

#[derive(Debug, Default, PartialEq)]
pub struct Original {
    pub identity: Option<(Option<String>, Vec<String>)>,
    /// Policy ARN → scope it had before (`None`: it was not associated).
    pub policies: BTreeMap<String, Option<AccessScope>>,
}

/// Folds the journal into the changes still in effect.
pub fn changes_to_undo(records: &[Record]) -> Undo {
    let mut undo = Undo::default();
    for r in records {
        let (op, done_or_intent) = match &r.event {
            Event::Intent { op, .. } => (op, false),
            Event::Done { op } => (op, true),
            _ => continue,
        };
        let arn = op
            .get("principalArn")
            .and_then(|v| v.as_str())
            .map(str::to_lowercase);
        let arn = arn.or_else(|| {
            op.pointer("/entry/principalArn")
                .and_then(|v| v.as_str())
                .map(str::to_lowercase)
        });
        let Some(arn) = arn else { continue };
        let kind = op.get("op").and_then(|v| v.as_str()).unwrap_or_default();
        match (r.stage.as_str(), kind) {
            ("entries", "create") => {
                undo.created.insert(arn);
            }
            // A create that found someone else's entry: it is adopted, not the tool's.
            ("entries", "adopt") => {
                undo.created.remove(&arn);
            }
            ("entries", "update") if !undo.created.contains(&arn) => {
                let original = undo.adopted.entry(arn).or_default();
                if original.identity.is_none() {
                    let username = op
                        .get("previousUsername")
                        .and_then(|v| v.as_str())
                        .map(str::to_string);
                    let groups = op
                        .get("previousGroups")
                        .and_then(|v| v.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|g| g.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    original.identity = Some((username, groups));
                }
            }
            ("entries", "associate") if !undo.created.contains(&arn) => {
                let Some(policy) = op.pointer("/policy/policyArn").and_then(|v| v.as_str()) else {
                    continue;
                };
                let previous = op
                    .get("previousScope")
                    .filter(|v| !v.is_null())
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                undo.adopted
                    .entry(arn)
                    .or_default()
                    .policies
                    .entry(policy.to_string())
                    .or_insert(previous);
            }
            ("rollback", "delete") if done_or_intent => {
                undo.created.remove(&arn);
            }
            ("rollback", _) if done_or_intent => {
                undo.adopted.remove(&arn);
            }
            _ => {}
        }
    }
    undo
}

/// The safety gate before the irreversible switch to API
/// (docs/authentication-modes.md#the-api-safety-gate). Returns every reason to refuse; empty
/// means the switch may go ahead.
pub fn gate(
    plan: &LivePlan,
    opts: &MigrateOptions,
    cluster: &str,
    caller_arn: &str,
) -> Vec<String> {
    let mut refusals = Vec::new();
    if opts.confirm.as_deref() != Some(cluster) {
        refusals.push(format!(
            "type the cluster name to confirm: --confirm {cluster}"
        ));
    }
    if plan.snapshot.cluster.authentication_mode != Some(AuthenticationMode::ApiAndConfigMap) {
        refusals.push(format!(
            "the cluster is in {}, not API_AND_CONFIG_MAP; run --to entries first",
            plan.authentication_mode
                .as_deref()
                .unwrap_or("an unknown mode")
        ));
    }
    let allowed = |m: &crate::translate::PlannedMapping| {
        opts.allow_drop
            .iter()
            .any(|a| a == &m.mapping.id.to_string() || a.eq_ignore_ascii_case(&m.mapping.arn))
    };
    for m in plan
        .plan
        .mappings
        .iter()
        .filter(|m| m.action == Action::Keep && !allowed(m))
    {
        refusals.push(format!(
            "{} ({}) would be dropped: it has no access entry (see its blocker); fix it or name it with --allow-drop {}",
            m.mapping.id, m.mapping.arn, m.mapping.id
        ));
    }
    for op in &plan.operations {
        let what = match op {
            Operation::Adopt { .. } => continue,
            Operation::Create { .. } => "has no access entry yet",
            Operation::Update { .. } => {
                "has an entry whose username or groups differ from aws-auth"
            }
            Operation::Associate { .. } => "lacks a planned access policy",
            Operation::Conflict { .. } => "has a conflicting entry",
        };
        refusals.push(format!("{} {what}; run --to entries", op.principal_arn()));
    }
    let is_admin = |e: &ExistingEntry| {
        e.entry_type == EntryType::Standard.as_str()
            && e.access_policies.iter().any(|p| {
                p.policy_arn.ends_with(&format!("/{CLUSTER_ADMIN_POLICY}"))
                    && p.access_scope == AccessScope::Cluster
            })
    };
    if !plan.existing_entries.iter().any(is_admin) {
        refusals.push("no access entry has AmazonEKSClusterAdminPolicy at cluster scope: nobody could administer the cluster".into());
    }
    let caller = caller_principal(caller_arn);
    let caller_admin = plan
        .existing_entries
        .iter()
        .filter(|e| is_admin(e))
        .any(|e| {
            crate::arn::parse(&e.principal_arn)
                .ok()
                .is_some_and(|p| Some((p.account.clone(), p.name.to_lowercase())) == caller)
        });
    if !caller_admin {
        refusals.push(format!(
            "your own principal ({caller_arn}) has no cluster-admin access entry; after the switch you could not undo a mistake"
        ));
    }
    refusals
}

/// A line diff of the `data` of two ConfigMap JSON documents (backup, current), per key.
pub fn data_diff(before: &str, after: &str) -> String {
    let data = |text: &str| -> BTreeMap<String, String> {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("data").cloned())
            .and_then(|d| serde_json::from_value(d).ok())
            .unwrap_or_default()
    };
    let (a, b) = (data(before), data(after));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut out = String::new();
    for key in keys {
        let (x, y) = (
            a.get(key).map_or("", String::as_str),
            b.get(key).map_or("", String::as_str),
        );
        if x == y {
            continue;
        }
        out.push_str(&format!("--- backup {key}\n+++ current {key}\n"));
        out.push_str(&line_diff(x, y));
    }
    if out.is_empty() {
        out.push_str("(the data is the same; metadata such as labels or annotations changed)\n");
    }
    out
}

/// Lines only in `a` as `-`, only in `b` as `+`, common ones as ` ` (longest common subsequence).
fn line_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    out
}

/// Why the latest verification (plan hash, passed) does not cover the plan `hash`, if it does not.
pub fn verification_refusal(last: Option<(String, bool)>, hash: &str) -> Option<String> {
    match last {
        Some((h, true)) if h == hash => None,
        Some((h, true)) => Some(format!(
            "the last passing verification was for plan {h}, but the plan is now {hash}; run --to verify again"
        )),
        Some((_, false)) => Some(
            "the last verification failed: permissions would be lost; fix them and run --to verify"
                .into(),
        ),
        None => Some("no verification has passed for this cluster; run --to verify".into()),
    }
}

/// (account, lower-cased name) of the role or user behind an STS caller ARN.
/// A `clientRequestToken` (UUID-shaped, as the SDKs make them) derived from the cluster
/// (`ACCOUNT/REGION/NAME`), the stage, the operation and its generation (how many times the
/// same operation was done before). Deterministic, so a resend after a crash carries it again.
pub fn request_token(
    cluster: &str,
    stage: &str,
    op: &serde_json::Value,
    generation: usize,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [cluster, stage, &op.to_string(), &generation.to_string()] {
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

fn caller_principal(arn: &str) -> Option<(String, String)> {
    let p = crate::arn::parse(arn).ok()?;
    Some((p.account, p.name.to_lowercase()))
}

fn errors_suffix(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}

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
        return Err(StageError::Refused(
            "this changes the cluster and there is no terminal to ask on: pass --yes".into(),
        ));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Test hook: `AWS_AUTH_MIGRATE_FAILPOINT=STAGE:POINT[:N]` aborts the process there (the N-th
/// time for entries), so crash-and-resume can be tested deterministically.
fn failpoint(stage: &str, point: &str) {
    failpoint_n(stage, point, 1);
}

fn failpoint_n(stage: &str, point: &str, n: usize) {
    let Ok(spec) = std::env::var("AWS_AUTH_MIGRATE_FAILPOINT") else {
        return;
    };
    let mut parts = spec.split(':');
    let (s, p, count) = (
        parts.next(),
        parts.next(),
        parts.next().and_then(|c| c.parse().ok()).unwrap_or(1),
    );
    if s == Some(stage) && p == Some(point) && count == n {
        eprintln!("failpoint {spec}: aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_auth_changes_are_shown_as_a_diff() {
        let before = r#"{"data": {"mapRoles": "- rolearn: a\n  username: a\n", "mapUsers": "- userarn: u\n"}}"#;
        let after = r#"{"data": {"mapRoles": "- rolearn: a\n  username: b\n"}}"#;
        assert_eq!(
            data_diff(before, after),
            "--- backup mapRoles\n+++ current mapRoles\n - rolearn: a\n-  username: a\n+  username: b\n--- backup mapUsers\n+++ current mapUsers\n-- userarn: u\n"
        );
        assert!(data_diff(before, before).contains("the data is the same"));
    }

    #[test]
    fn the_gate_needs_a_passing_verification_of_this_plan() {
        assert_eq!(
            verification_refusal(Some(("abc".into(), true)), "abc"),
            None
        );
        let stale = verification_refusal(Some(("abc".into(), true)), "def").unwrap();
        assert!(
            stale.contains("for plan abc, but the plan is now def"),
            "{stale}"
        );
        assert!(
            verification_refusal(Some(("abc".into(), false)), "abc")
                .unwrap()
                .contains("failed")
        );
        assert!(
            verification_refusal(None, "abc")
                .unwrap()
                .contains("no verification")
        );
    }

    #[test]
    fn request_tokens_are_stable_per_operation_and_new_per_generation() {
        let op = json!({"op": "create", "entry": {"principalArn": "arn:aws:iam::1:role/a"}});
        let other = json!({"op": "create", "entry": {"principalArn": "arn:aws:iam::1:role/b"}});
        let t = request_token("1/us-east-1/prod", "entries", &op, 0);
        assert_eq!(t, request_token("1/us-east-1/prod", "entries", &op, 0));
        assert_eq!(t.len(), 36);
        assert_eq!(t.matches('-').count(), 4);
        for different in [
            request_token("1/us-east-1/prod", "entries", &op, 1),
            request_token("1/us-east-1/prod", "entries", &other, 0),
            request_token("1/us-east-1/prod", "rollback", &op, 0),
            request_token("1/us-east-1/dev", "entries", &op, 0),
        ] {
            assert_ne!(t, different);
        }
    }

    #[test]
    fn the_journal_folds_into_what_rollback_undoes() {
        let rec = |stage: &str, event: Event| Record {
            time: String::new(),
            run_id: "r".into(),
            stage: stage.into(),
            event,
        };
        let create = json!({"op": "create", "entry": {"principalArn": "arn:aws:iam::1:role/New", "type": "STANDARD", "username": null, "kubernetesGroups": []}});
        let adopted_create = json!({"op": "create", "entry": {"principalArn": "arn:aws:iam::1:role/Race", "type": "STANDARD", "username": null, "kubernetesGroups": []}});
        let update = json!({"op": "update", "principalArn": "arn:aws:iam::1:role/Race", "username": "new", "kubernetesGroups": ["g"], "previousUsername": "old", "previousGroups": ["a"]});
        let assoc = json!({"op": "associate", "principalArn": "arn:aws:iam::1:role/Creator", "policy": {"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "accessScope": {"type": "cluster"}}, "previousScope": null});
        let records = vec![
            rec(
                "entries",
                Event::Intent {
                    op: create.clone(),
                    token: None,
                },
            ),
            rec("entries", Event::Done { op: create }),
            rec(
                "entries",
                Event::Intent {
                    op: adopted_create,
                    token: None,
                },
            ),
            rec(
                "entries",
                Event::Done {
                    op: json!({"op": "adopt", "principalArn": "arn:aws:iam::1:role/Race"}),
                },
            ),
            rec(
                "entries",
                Event::Intent {
                    op: update.clone(),
                    token: None,
                },
            ),
            rec("entries", Event::Done { op: update }),
            rec(
                "entries",
                Event::Intent {
                    op: assoc,
                    token: None,
                },
            ),
        ];
        let undo = changes_to_undo(&records);
        assert_eq!(
            undo.created,
            BTreeSet::from(["arn:aws:iam::1:role/new".to_string()])
        );
        let race = &undo.adopted["arn:aws:iam::1:role/race"];
        assert_eq!(race.identity, Some((Some("old".into()), vec!["a".into()])));
        let creator = &undo.adopted["arn:aws:iam::1:role/creator"];
        assert_eq!(creator.policies.values().next(), Some(&None));

        let mut after = records.clone();
        after.push(rec(
            "rollback",
            Event::Done {
                op: json!({"op": "delete", "principalArn": "arn:aws:iam::1:role/New"}),
            },
        ));
        after.push(rec(
            "rollback",
            Event::Done {
                op: json!({"op": "update", "principalArn": "arn:aws:iam::1:role/Race"}),
            },
        ));
        let undo = changes_to_undo(&after);
        assert!(undo.created.is_empty());
        assert!(!undo.adopted.contains_key("arn:aws:iam::1:role/race"));
    }
}
