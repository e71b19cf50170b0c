//! Fleet migration: every cluster of a fleet file taken to a stage, in waves, a bounded number
//! at a time overall and per account and region (EKS throttles per account and region), each
//! under its cluster lock and through exactly the stages, journal and gate of the
//! single-cluster command. New clusters stop being started once `--max-failures` clusters have
//! failed; the ones running finish. The result of every cluster is recorded in the state
//! directory, so running the same command again skips the clusters that are done and resumes
//! the rest.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::live::Cluster;
use crate::live::aws::AwsArgs;
use crate::live::fleet::{Fleet, FleetCluster};
use crate::migrate::lock::{Holder, Lock, LockError, while_locked};
use crate::migrate::state::{Event, StateDir, append_json_line, new_run_id, now, read_json_lines};
use crate::migrate::{MigrateOptions, Run, Stage, StageError};
use crate::plan::options::{PolicyMap, RolePaths};

/// How a fleet run is shaped.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Clusters started at once, overall.
    pub concurrency: usize,
    /// Clusters started at once in one account and region.
    pub per_account_region: usize,
    /// The first N clusters (in file order) form a wave of their own, ahead of every other.
    pub canary: usize,
    /// Stop starting clusters once this many have failed.
    pub max_failures: usize,
    /// Take over stale cluster locks.
    pub take_over_lock: bool,
    pub include_ineffective: bool,
}

/// What became of one cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Reached the stage in this run.
    Done,
    /// Had reached it in an earlier run: not touched.
    AlreadyDone,
    /// The safety gate or a confirmation refused: nothing was changed.
    Refused,
    /// Another run holds the cluster's lock.
    Locked,
    Failed,
    /// Not started: the failure threshold was reached first.
    NotStarted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadyDone => "already-done",
            Outcome::Refused => "refused",
            Outcome::Locked => "locked",
            Outcome::Failed => "failed",
            Outcome::NotStarted => "not-started",
        }
    }

    fn counts_as_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Locked)
    }
}

/// One cluster's line of the fleet report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterResult {
    pub name: String,
    pub region: Option<String>,
    pub account: Option<String>,
    pub wave: u32,
    pub outcome: Outcome,
    /// The mode before and after the run (`None`: the cluster was not reached).
    pub mode_before: Option<String>,
    pub mode_after: Option<String>,
    /// Why it stopped, or the last thing it said.
    pub detail: String,
    /// Blocker findings of its plan (`code: message`).
    pub blockers: Vec<String>,
    /// The last verification: passed, and its summary (principals, lost, gained).
    pub verification: Option<(bool, String)>,
    /// Every line the cluster's run printed.
    #[serde(skip)]
    pub log: Vec<String>,
}

/// The whole run's report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    pub schema: &'static str,
    pub fleet: String,
    pub target: String,
    pub run_id: String,
    pub clusters: Vec<ClusterResult>,
}

impl FleetReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.clusters
            .iter()
            .filter(|c| c.outcome == outcome)
            .count()
    }

    /// 0 when every cluster reached the stage; 4 when the rest did and some were refused
    /// (nothing changed there); 1 when any failed, was locked or was not started.
    pub fn exit_code(&self) -> i32 {
        if self
            .clusters
            .iter()
            .any(|c| c.outcome.counts_as_failure() || c.outcome == Outcome::NotStarted)
        {
            crate::cli::exit::ERROR
        } else if self.clusters.iter().any(|c| c.outcome == Outcome::Refused) {
            crate::cli::exit::REFUSED
        } else {
            crate::cli::exit::OK
        }
    }
}

/// One record of a fleet's progress file (`fleets/NAME.jsonl` in the state directory).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetRecord {
    pub time: String,
    pub run_id: String,
    pub cluster: String,
    pub region: Option<String>,
    pub target: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// The progress file of a fleet file: named after the file and a hash of its absolute path,
/// so two fleets with the same file name do not share one.
pub fn progress_path(states: &StateDir, fleet_file: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let absolute = std::fs::canonicalize(fleet_file).unwrap_or_else(|_| fleet_file.to_path_buf());
    let hash = hex::encode(Sha256::digest(absolute.to_string_lossy().as_bytes()));
    let stem = fleet_file
        .file_stem()
        .map(|s| {
            s.to_string_lossy().replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "_",
            )
        })
        .unwrap_or_else(|| "fleet".into());
    states
        .root()
        .join("fleets")
        .join(format!("{stem}-{}.jsonl", &hash[..12]))
}

/// Every record of a progress file; a torn last line (a crash while writing it) is ignored,
/// any other unreadable line is an error.
pub fn read_progress(path: &Path) -> std::io::Result<Vec<FleetRecord>> {
    read_json_lines(path, |line, e| {
        format!("{}:{line}: unreadable record: {e}", path.display())
    })
}

/// Appends one cluster's result to the progress file, in a private folder.
fn append_progress(path: &Path, record: &FleetRecord) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    append_json_line(path, record)
}

/// The key clusters share a throttling budget under: the account of the role to assume, else
/// the profile, else the default credentials; and the region.
pub fn budget_key(c: &FleetCluster, defaults: &AwsArgs) -> String {
    let region = c
        .region
        .clone()
        .or_else(|| defaults.region.clone())
        .unwrap_or_default();
    let role = c.role_arn.as_ref().or(defaults.role_arn.as_ref());
    let who = match role.and_then(|r| r.split(':').nth(4)) {
        Some(account) => format!("account {account}"),
        None => match c.profile.as_ref().or(defaults.profile.as_ref()) {
            Some(p) => format!("profile {p}"),
            None => "default credentials".into(),
        },
    };
    format!("{who}, {region}")
}

/// The waves: clusters grouped by their `wave` (default 1), in ascending order, file order
/// inside a wave; with a canary count, the first N clusters of the file go first, alone.
pub fn waves(fleet: &Fleet, canary: usize) -> Vec<(u32, Vec<usize>)> {
    let mut by_wave: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, c) in fleet.clusters.iter().enumerate() {
        let wave = if i < canary { 0 } else { c.wave.unwrap_or(1) };
        by_wave.entry(wave).or_default().push(i);
    }
    by_wave.into_iter().collect()
}

/// Shows what the clusters do on stderr (stdout carries the report): one bar per running
/// cluster and a total on a terminal, one line per event otherwise (CI logs).
pub struct Progress {
    multi: Option<indicatif::MultiProgress>,
    total: Option<indicatif::ProgressBar>,
    bars: RefCell<HashMap<String, indicatif::ProgressBar>>,
}

impl Progress {
    pub fn new(clusters: usize) -> Self {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        if !tty {
            return Progress {
                multi: None,
                total: None,
                bars: RefCell::default(),
            };
        }
        let multi = indicatif::MultiProgress::new();
        let total = multi.add(indicatif::ProgressBar::new(clusters as u64));
        total.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} clusters  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Progress {
            multi: Some(multi),
            total: Some(total),
            bars: RefCell::default(),
        }
    }

    fn start(&self, cluster: &str) {
        match &self.multi {
            Some(m) => {
                let bar = m.add(indicatif::ProgressBar::new_spinner());
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {prefix:>20} {wide_msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                bar.set_prefix(cluster.to_string());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                self.bars.borrow_mut().insert(cluster.to_string(), bar);
            }
            None => eprintln!("{cluster}: started"),
        }
    }

    fn line(&self, cluster: &str, line: &str) {
        match self.bars.borrow().get(cluster) {
            Some(bar) => bar.set_message(line.lines().next().unwrap_or_default().to_string()),
            None => {
                for l in line.lines() {
                    eprintln!("{cluster}: {l}");
                }
            }
        }
    }

    fn finish(&self, cluster: &str, outcome: Outcome, detail: &str) {
        if let Some(bar) = self.bars.borrow_mut().remove(cluster) {
            bar.finish_and_clear();
            if let Some(m) = &self.multi {
                let _ = m.println(format!("{cluster}: {} {detail}", outcome.as_str()));
            }
        } else {
            eprintln!("{cluster}: {} {detail}", outcome.as_str());
        }
        if let Some(t) = &self.total {
            t.inc(1);
        }
    }

    fn wave(&self, wave: u32, size: usize) {
        let text = format!(
            "wave {wave}: {size} cluster{}",
            if size == 1 { "" } else { "s" }
        );
        match &self.total {
            Some(t) => t.set_message(text),
            None => eprintln!("== {text}"),
        }
    }

    fn done(&self) {
        if let Some(t) = &self.total {
            t.finish_and_clear();
        }
    }
}

/// Everything a fleet run needs besides the fleet.
pub struct FleetRun<'a> {
    pub fleet: &'a Fleet,
    pub fleet_file: &'a Path,
    pub defaults: &'a AwsArgs,
    pub states: &'a StateDir,
    pub policy_map: Option<&'a PolicyMap>,
    pub role_paths: Option<&'a RolePaths>,
    pub options: FleetOptions,
}

impl FleetRun<'_> {
    /// Takes every cluster to `to`.
    pub async fn migrate(&self, to: Stage, opts: &MigrateOptions) -> std::io::Result<FleetReport> {
        let run_id = new_run_id();
        let progress_file = progress_path(self.states, self.fleet_file);
        let earlier = read_progress(&progress_file)?;
        let progress = Progress::new(self.fleet.clusters.len());
        let failures = Cell::new(0usize);
        let global = Semaphore::new(self.options.concurrency.max(1));
        let mut budgets: HashMap<String, Rc<Semaphore>> = HashMap::new();
        for c in &self.fleet.clusters {
            budgets
                .entry(budget_key(c, self.defaults))
                .or_insert_with(|| Rc::new(Semaphore::new(self.options.per_account_region.max(1))));
        }
        let mut results: Vec<Option<ClusterResult>> = vec![None; self.fleet.clusters.len()];
        for (wave, members) in waves(self.fleet, self.options.canary) {
            if failures.get() >= self.options.max_failures.max(1) {
                for &i in &members {
                    results[i] = Some(match done_earlier(&earlier, &self.fleet.clusters[i], to) {
                        Some(r) => self.already_done(i, wave, r),
                        None => self.not_started(
                            i,
                            wave,
                            "the failure threshold was reached in an earlier wave",
                        ),
                    });
                }
                continue;
            }
            progress.wave(wave, members.len());
            let mut running: FuturesUnordered<_> = members
                .iter()
                .map(|&i| {
                    let c = &self.fleet.clusters[i];
                    let budget = budgets[&budget_key(c, self.defaults)].clone();
                    let (global, failures, progress, earlier, run_id, progress_file) = (
                        &global,
                        &failures,
                        &progress,
                        &earlier,
                        &run_id,
                        &progress_file,
                    );
                    async move {
                        // Done in an earlier run: reported, not touched, nothing recorded.
                        if let Some(r) = done_earlier(earlier, c, to) {
                            return (i, self.already_done(i, wave, r));
                        }
                        let _budget = budget.acquire().await;
                        let _slot = global.acquire().await;
                        if failures.get() >= self.options.max_failures.max(1) {
                            return (
                                i,
                                self.not_started(i, wave, "the failure threshold was reached"),
                            );
                        }
                        let result = {
                            progress.start(&c.name);
                            let r = self.migrate_one(i, wave, to, opts, run_id, progress).await;
                            progress.finish(&c.name, r.outcome, &r.detail);
                            r
                        };
                        if result.outcome.counts_as_failure() {
                            failures.set(failures.get() + 1);
                        }
                        {
                            let record = FleetRecord {
                                time: now(),
                                run_id: run_id.clone(),
                                cluster: c.name.clone(),
                                region: c.region.clone(),
                                target: to.name().into(),
                                outcome: result.outcome,
                                detail: result.detail.clone(),
                            };
                            if let Err(e) = append_progress(progress_file, &record) {
                                eprintln!(
                                    "warning: cannot record {}'s result in {}: {e}",
                                    c.name,
                                    progress_file.display()
                                );
                            }
                        }
                        (i, result)
                    }
                })
                .collect();
            while let Some((i, r)) = running.next().await {
                results[i] = Some(r);
            }
        }
        progress.done();
        Ok(FleetReport {
            schema: "aws-auth-migrate.fleet-report/v1",
            fleet: self.fleet_file.display().to_string(),
            target: to.name().into(),
            run_id,
            clusters: results.into_iter().flatten().collect(),
        })
    }

    fn blank(&self, i: usize, wave: u32, outcome: Outcome) -> ClusterResult {
        let c = &self.fleet.clusters[i];
        ClusterResult {
            name: c.name.clone(),
            region: c.region.clone().or_else(|| self.defaults.region.clone()),
            account: None,
            wave,
            outcome,
            mode_before: None,
            mode_after: None,
            detail: String::new(),
            blockers: Vec::new(),
            verification: None,
            log: Vec::new(),
        }
    }

    fn already_done(&self, i: usize, wave: u32, r: &FleetRecord) -> ClusterResult {
        ClusterResult {
            detail: format!("reached {} in run {}", r.target, r.run_id),
            ..self.blank(i, wave, Outcome::AlreadyDone)
        }
    }

    fn not_started(&self, i: usize, wave: u32, why: &str) -> ClusterResult {
        ClusterResult {
            detail: why.into(),
            ..self.blank(i, wave, Outcome::NotStarted)
        }
    }

    async fn migrate_one(
        &self,
        i: usize,
        wave: u32,
        to: Stage,
        opts: &MigrateOptions,
        run_id: &str,
        progress: &Progress,
    ) -> ClusterResult {
        let c = &self.fleet.clusters[i];
        let mut result = self.blank(i, wave, Outcome::Failed);
        let mut cluster = match c.connect(self.defaults).await {
            Ok(cl) => cl,
            Err(e) => {
                result.detail = e.to_string();
                return result;
            }
        };
        result.account = Some(cluster.info.account.clone());
        result.region = Some(cluster.info.region.clone());
        result.mode_before = cluster
            .info
            .authentication_mode
            .map(|m| m.as_str().to_string());
        let caller = caller_arn(&cluster).await;
        let holder = Holder::new(
            run_id,
            &caller,
            &format!("migrate --fleet --to {}", to.name()),
        );
        let lock = match Lock::acquire(&cluster.kube, &c.name, holder, self.options.take_over_lock)
            .await
        {
            Ok(l) => {
                if let Some(note) = l.taken_over() {
                    progress.line(&c.name, &format!("note: {note}"));
                }
                l
            }
            Err(LockError::Held(why)) => {
                result.outcome = Outcome::Locked;
                result.detail = why;
                return result;
            }
            Err(e) => {
                result.detail = e.to_string();
                return result;
            }
        };
        let log = RefCell::new(Vec::new());
        let mut out = |line: &str| {
            log.borrow_mut().push(line.to_string());
            progress.line(&c.name, line);
        };
        let opts = MigrateOptions {
            confirm: opts.confirm.as_ref().map(|_| c.name.clone()),
            ..opts.clone()
        };
        let handle = lock.handle();
        let (outcome, blockers) = {
            let mut run = match Run::new(
                &mut cluster,
                self.states,
                self.policy_map,
                self.role_paths,
                &mut out,
            ) {
                Ok(r) => r,
                Err(e) => {
                    result.detail = e.to_string();
                    return result;
                }
            };
            run.include_ineffective = self.options.include_ineffective;
            run.lock = Some(handle);
            run.spinner = false;
            let outcome = while_locked(lock, run.migrate(to, &opts)).await;
            (outcome, std::mem::take(&mut run.blockers))
        };
        result.blockers = blockers;
        result.log = log.into_inner();
        match outcome {
            Ok(()) => {
                result.outcome = Outcome::Done;
                result.detail = result.log.last().cloned().unwrap_or_default();
            }
            Err(StageError::Refused(why)) => {
                result.outcome = Outcome::Refused;
                result.detail = why.to_string();
            }
            Err(e) => result.detail = e.to_string(),
        }
        if let Ok(info) = cluster.eks.describe_cluster(&c.name).await {
            result.mode_after = info.authentication_mode.map(|m| m.as_str().to_string());
        }
        result.verification = last_verification(self.states, &cluster);
        result
    }
}

/// The record of an earlier run that took `c` to `to` or further, if the last record of that
/// cluster says so.
fn done_earlier<'r>(
    earlier: &'r [FleetRecord],
    c: &FleetCluster,
    to: Stage,
) -> Option<&'r FleetRecord> {
    let last = earlier
        .iter()
        .rev()
        .find(|r| r.cluster == c.name && r.region == c.region)?;
    let reached = Stage::by_name(&last.target)?;
    (last.outcome == Outcome::Done && reached >= to).then_some(last)
}

/// The caller's ARN, for the lock's holder (never a credential).
pub async fn caller_arn(cluster: &Cluster) -> String {
    aws_sdk_sts::Client::new(&cluster.sdk)
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|o| o.arn().map(str::to_string))
        .unwrap_or_else(|| "unknown caller".into())
}

/// The last verification journaled for the cluster.
pub fn last_verification(states: &StateDir, cluster: &Cluster) -> Option<(bool, String)> {
    let info = &cluster.info;
    let state = states
        .cluster(&info.account, &info.region, &info.name)
        .ok()?;
    state
        .records()
        .ok()?
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::Verified { passed, detail, .. } => Some((*passed, detail.clone())),
            _ => None,
        })
}

/// `status --fleet FILE`: each cluster's mode, stage, lock and last fleet result, read a few
/// at a time; a cluster that cannot be read says why on its line.
pub async fn status(
    fleet: &Fleet,
    fleet_file: &Path,
    defaults: &AwsArgs,
    states: &StateDir,
) -> std::io::Result<String> {
    use tabled::settings::Style;
    let progress = read_progress(&progress_path(states, fleet_file))?;
    #[derive(tabled::Tabled)]
    struct Row {
        #[tabled(rename = "CLUSTER")]
        cluster: String,
        #[tabled(rename = "ACCOUNT/REGION")]
        place: String,
        #[tabled(rename = "MODE")]
        mode: String,
        #[tabled(rename = "STAGE")]
        stage: String,
        #[tabled(rename = "LOCK")]
        lock: String,
        #[tabled(rename = "LAST RESULT")]
        last: String,
    }
    let rows: Vec<Row> = futures::stream::iter(fleet.clusters.iter())
        .map(|c| {
            let progress = &progress;
            async move {
                let last = progress
                    .iter()
                    .rev()
                    .find(|r| r.cluster == c.name && r.region == c.region)
                    .map_or_else(
                        || "-".to_string(),
                        |r| format!("{} {} ({})", r.target, r.outcome.as_str(), r.time),
                    );
                let aws = c.aws(defaults);
                let unreachable = |why: String| Row {
                    cluster: c.name.clone(),
                    place: format!("?/{}", aws.region.as_deref().unwrap_or("?")),
                    mode: "?".into(),
                    stage: format!("cannot read: {why}"),
                    lock: "?".into(),
                    last: last.clone(),
                };
                let cluster = match c.connect(defaults).await {
                    Ok(cl) => cl,
                    Err(e) => return unreachable(e.to_string()),
                };
                let info = &cluster.info;
                let (records, backups) =
                    match states.cluster(&info.account, &info.region, &info.name) {
                        Ok(st) => match st.records() {
                            Ok(r) => (r, st.backups().unwrap_or_default()),
                            Err(e) => return unreachable(format!("its journal: {e}")),
                        },
                        Err(e) => return unreachable(e.to_string()),
                    };
                let lock = match lock_state(&cluster).await {
                    Ok(state) => match state.holder() {
                        None => "free".to_string(),
                        Some(holder) if state.is_live(k8s_openapi::jiff::Timestamp::now()) => {
                            format!("held by {holder}")
                        }
                        Some(holder) => format!("stale, by {holder}"),
                    },
                    Err(e) => format!("? ({e})"),
                };
                Row {
                    cluster: c.name.clone(),
                    place: format!("{}/{}", info.account, info.region),
                    mode: info
                        .authentication_mode
                        .map_or("unknown", |m| m.as_str())
                        .to_string(),
                    stage: crate::migrate::stage_summary(
                        info.authentication_mode,
                        &records,
                        &backups,
                    )
                    .to_string(),
                    lock,
                    last,
                }
            }
        })
        .buffered(4)
        .collect()
        .await;
    let mut t = tabled::Table::new(rows);
    t.with(Style::blank());
    Ok(format!(
        "{} in {}\n\n{t}\n",
        crate::report::plural(fleet.clusters.len(), "cluster"),
        fleet_file.display()
    ))
}

/// The cluster lock as the Lease says, without taking it.
async fn lock_state(cluster: &Cluster) -> Result<crate::migrate::lock::LeaseState, String> {
    let client = cluster.kube.client().await.map_err(|e| e.to_string())?;
    let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, "kube-system");
    match api.get_opt(crate::migrate::lock::LEASE_NAME).await {
        Ok(Some(l)) => Ok(crate::migrate::lock::LeaseState::of(&l)),
        Ok(None) => Ok(crate::migrate::lock::LeaseState::Free),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(yaml: &str) -> Fleet {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn waves_follow_the_file_and_the_canary_goes_first() {
        let f = fleet(
            "clusters:\n- {name: a}\n- {name: b, wave: 2}\n- {name: c}\n- {name: d, wave: 3}\n- {name: e, wave: 2}\n",
        );
        assert_eq!(
            waves(&f, 0),
            vec![(1, vec![0, 2]), (2, vec![1, 4]), (3, vec![3])]
        );
        assert_eq!(
            waves(&f, 2),
            vec![(0, vec![0, 1]), (1, vec![2]), (2, vec![4]), (3, vec![3])]
        );
    }

    #[test]
    fn budgets_are_per_account_and_region() {
        let f = fleet(
            "clusters:\n- {name: a, region: eu-west-1, roleArn: 'arn:aws:iam::111122223333:role/m'}\n- {name: b, region: eu-west-1, profile: p}\n- {name: c}\n",
        );
        let d = AwsArgs {
            region: Some("us-east-1".into()),
            profile: None,
            role_arn: None,
        };
        assert_eq!(
            budget_key(&f.clusters[0], &d),
            "account 111122223333, eu-west-1"
        );
        assert_eq!(budget_key(&f.clusters[1], &d), "profile p, eu-west-1");
        assert_eq!(
            budget_key(&f.clusters[2], &d),
            "default credentials, us-east-1"
        );
    }

    #[test]
    fn a_torn_last_record_is_ignored_and_any_other_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        let rec = FleetRecord {
            time: "t".into(),
            run_id: "r".into(),
            cluster: "a".into(),
            region: None,
            target: "entries".into(),
            outcome: Outcome::Done,
            detail: String::new(),
        };
        let line = serde_json::to_string(&rec).unwrap();
        std::fs::write(&p, format!("{line}\n{{\"time\": \"t")).unwrap();
        assert_eq!(read_progress(&p).unwrap().len(), 1);
        std::fs::write(&p, format!("{{\"oops\n{line}\n")).unwrap();
        let e = read_progress(&p).unwrap_err().to_string();
        assert!(e.contains(":1: unreadable record"), "{e}");
    }

    #[test]
    fn a_cluster_done_to_a_later_stage_is_skipped_and_a_failed_one_resumed() {
        let c = FleetCluster {
            name: "a".into(),
            region: None,
            role_arn: None,
            profile: None,
            wave: None,
        };
        let rec = |target: &str, outcome| FleetRecord {
            time: "t".into(),
            run_id: "r".into(),
            cluster: "a".into(),
            region: None,
            target: target.into(),
            outcome,
            detail: String::new(),
        };
        assert!(done_earlier(&[rec("entries", Outcome::Done)], &c, Stage::Dual).is_some());
        assert!(done_earlier(&[rec("entries", Outcome::Done)], &c, Stage::Entries).is_some());
        assert!(done_earlier(&[rec("entries", Outcome::Done)], &c, Stage::Api).is_none());
        assert!(
            done_earlier(
                &[
                    rec("entries", Outcome::Done),
                    rec("entries", Outcome::Failed)
                ],
                &c,
                Stage::Entries
            )
            .is_none()
        );
    }
}
