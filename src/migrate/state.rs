//! The state directory: per cluster, an append-only journal and immutable backups.
//!
//! Layout (`STATE` defaults to `$XDG_DATA_HOME/aws-auth-migrate`, else
//! `~/.local/share/aws-auth-migrate`):
//!
//! ```text
//! STATE/clusters/ACCOUNT/REGION/CLUSTER/journal.jsonl          one JSON object per line, fsync'd
//! STATE/clusters/ACCOUNT/REGION/CLUSTER/backups/RUN/aws-auth.json   kubectl-apply-able ConfigMap
//! STATE/clusters/ACCOUNT/REGION/CLUSTER/backups/RUN/cluster.json    mode, entries, node roles
//! ```
//!
//! Directories are 0700 and files 0600; files are written to a temporary name, fsync'd and
//! renamed, so a crash leaves either the old or the new file. Nothing here holds credentials or
//! tokens: records are built from typed values that have none.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{AccessScope, PolicyAssociation};
use crate::plan::reconcile::{AccessEntryRequest, Operation};

/// Where the state of all clusters lives.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// The state of one cluster.
#[derive(Debug, Clone)]
pub struct ClusterState {
    dir: PathBuf,
}

impl StateDir {
    /// `explicit`, or the user's data directory.
    pub fn new(explicit: Option<&Path>) -> io::Result<Self> {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => default_root().ok_or_else(|| {
                io::Error::other("neither XDG_DATA_HOME nor HOME is set; pass --state-dir")
            })?,
        };
        Ok(StateDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state of cluster `name` in `account`/`region`, created if missing.
    pub fn cluster(&self, account: &str, region: &str, name: &str) -> io::Result<ClusterState> {
        for part in [account, region, name] {
            if part.is_empty() || part.contains(['/', '\\']) || part == "." || part == ".." {
                return Err(io::Error::other(format!(
                    "`{part}` cannot be part of a state path"
                )));
            }
        }
        let dir = self
            .root
            .join("clusters")
            .join(account)
            .join(region)
            .join(name);
        create_private_dir(&dir)?;
        Ok(ClusterState { dir })
    }
}

fn default_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("aws-auth-migrate"))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Every level the tool owns is private: the journal names principals and groups.
        let mut p = dir.to_path_buf();
        loop {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o700))?;
            if p.file_name().is_none() || p.ends_with("clusters") || !p.pop() {
                break;
            }
        }
        if let Some(root) = p.parent() {
            fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically with mode 0600: a uniquely named temporary file in the
/// same folder is written, fsync'd and renamed over `path`, then the folder is fsync'd. Readers
/// see the old or the new content, never a mix, even with concurrent writers (the last rename
/// wins); a failed write removes its temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} names no file", path.display())))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()?;
    Ok(())
}

// Kept next to `write_atomic` rather than in `tests` below, which covers the journal.
#[cfg(test)]
mod write_atomic_tests {
    use super::*;

    /// Two writers replace the same file while a reader reads it: every read is one writer's
    /// whole content, the file stays 0600, and no temporary file is left behind.
    #[test]
    fn concurrent_writers_never_leave_a_torn_or_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("verification.json");
        // Large enough that a non-atomic write is observable half done.
        let contents: [Vec<u8>; 2] = [vec![b'a'; 256 * 1024], vec![b'b'; 192 * 1024]];
        write_atomic(&path, &contents[0]).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let writers: Vec<_> = contents
                .iter()
                .map(|c| {
                    let path = &path;
                    s.spawn(move || (0..60).try_for_each(|_| write_atomic(path, c)))
                })
                .collect();
            let reader = s.spawn(|| {
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) || reads == 0 {
                    let seen = fs::read(&path).unwrap();
                    assert!(
                        contents.contains(&seen),
                        "a torn file: {} bytes, starting {:?}",
                        seen.len(),
                        seen.first()
                    );
                    reads += 1;
                }
                reads
            });
            let written: Vec<io::Result<()>> =
                writers.into_iter().map(|w| w.join().unwrap()).collect();
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0);
            for w in written {
                w.unwrap();
            }
        });
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["verification.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    /// A folder that does not exist is an error, and leaves nothing behind.
    #[test]
    fn a_missing_folder_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = write_atomic(&tmp.path().join("gone/x.json"), b"{}").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}

/// Appends `record` as one JSON line to `path` (created with mode 0600) and fsyncs it.
pub fn append_json_line(path: &Path, record: &impl Serialize) -> io::Result<()> {
    let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
    line.push('\n');
    let mut f = private_append(path)?;
    f.write_all(line.as_bytes())?;
    f.sync_data()
}

/// The records of a JSON-lines file, oldest first; none when it does not exist. A torn last
/// line (a crash in the middle of writing it) is skipped; any other unreadable line is an
/// error, worded by `unreadable(line number, parse error)`.
pub fn read_json_lines<T: serde::de::DeserializeOwned>(
    path: &Path,
    unreadable: impl Fn(usize, serde_json::Error) -> String,
) -> io::Result<Vec<T>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            // Only the last line, without its newline, can be torn by a crash.
            Err(_) if i + 1 == lines.len() && !line.ends_with('\n') => {}
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    unreadable(i + 1, e),
                ));
            }
        }
    }
    Ok(out)
}

/// Opens `path` for appending, creating it with mode 0600.
fn private_append(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// RFC 3339, UTC.
    pub time: String,
    pub run_id: String,
    pub stage: Step,
    pub event: Event,
}

/// What a record belongs to: a stage of `migrate`, the run as a whole, or a rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    Backup,
    Dual,
    Entries,
    Verify,
    Api,
    /// The run of `migrate` as a whole (its start and end).
    Migrate,
    Rollback,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Backup => "backup",
            Step::Dual => "dual",
            Step::Entries => "entries",
            Step::Verify => "verify",
            Step::Api => "api",
            Step::Migrate => "migrate",
            Step::Rollback => "rollback",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl From<crate::migrate::Stage> for Step {
    fn from(s: crate::migrate::Stage) -> Self {
        use crate::migrate::Stage;
        match s {
            Stage::Backup => Step::Backup,
            Stage::Dual => Step::Dual,
            Stage::Entries => Step::Entries,
            Stage::Verify => Step::Verify,
            Stage::Api => Step::Api,
        }
    }
}

/// One change the tool sends to EKS (or records having found), as the journal keeps it. The
/// wire form (`{"op": "create", …}`) is the one journals have always had, so older journals
/// read back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "op")]
pub enum JournalOp {
    /// UpdateClusterConfig with `accessConfig.authenticationMode`.
    #[serde(rename = "UpdateClusterConfig")]
    SwitchMode { authentication_mode: String },
    /// CreateAccessEntry.
    Create { entry: AccessEntryRequest },
    /// UpdateAccessEntry: username and groups replaced; `previous_*` is what the entry had.
    Update {
        principal_arn: String,
        username: Option<String>,
        kubernetes_groups: Vec<String>,
        previous_username: Option<String>,
        previous_groups: Vec<String>,
    },
    /// AssociateAccessPolicy; `previous_scope` is the scope it had when already associated.
    Associate {
        principal_arn: String,
        policy: PolicyAssociation,
        previous_scope: Option<AccessScope>,
    },
    /// A create met an entry someone else made: it is adopted, never the tool's to delete.
    Adopt { principal_arn: String },
    /// DeleteAccessEntry (rollback of an entry the tool created).
    Delete { principal_arn: String },
    /// DisassociateAccessPolicy (rollback of a policy the tool associated).
    Disassociate {
        principal_arn: String,
        policy_arn: String,
    },
}

impl JournalOp {
    /// The principal the operation is about (`None` for a mode switch).
    pub fn principal_arn(&self) -> Option<&str> {
        match self {
            JournalOp::SwitchMode { .. } => None,
            JournalOp::Create { entry } => Some(&entry.principal_arn),
            JournalOp::Update { principal_arn, .. }
            | JournalOp::Associate { principal_arn, .. }
            | JournalOp::Adopt { principal_arn }
            | JournalOp::Delete { principal_arn }
            | JournalOp::Disassociate { principal_arn, .. } => Some(principal_arn),
        }
    }

    /// Whether EKS's call for it takes a `clientRequestToken` (CreateAccessEntry,
    /// UpdateAccessEntry, UpdateClusterConfig; the others are idempotent by themselves).
    pub fn takes_request_token(&self) -> bool {
        matches!(
            self,
            JournalOp::SwitchMode { .. } | JournalOp::Create { .. } | JournalOp::Update { .. }
        )
    }

    /// The journal's form of a reconcile operation that changes the cluster (`None` for the
    /// ones that do not: adopt, conflict).
    pub fn of(op: &Operation) -> Option<Self> {
        Some(match op.clone() {
            Operation::Create { entry } => JournalOp::Create { entry },
            Operation::Update {
                principal_arn,
                username,
                kubernetes_groups,
                previous_username,
                previous_groups,
            } => JournalOp::Update {
                principal_arn,
                username,
                kubernetes_groups,
                previous_username,
                previous_groups,
            },
            Operation::Associate {
                principal_arn,
                policy,
                previous_scope,
            } => JournalOp::Associate {
                principal_arn,
                policy,
                previous_scope,
            },
            Operation::Adopt { .. } | Operation::Conflict { .. } => return None,
        })
    }
}

impl std::fmt::Display for JournalOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalOp::SwitchMode {
                authentication_mode,
            } => write!(f, "switch to {authentication_mode}"),
            JournalOp::Create { entry } => write!(
                f,
                "create {} ({})",
                entry.principal_arn,
                entry.entry_type.as_str()
            ),
            JournalOp::Update { principal_arn, .. } => write!(f, "update {principal_arn}"),
            JournalOp::Associate {
                principal_arn,
                policy,
                ..
            } => write!(f, "associate {} with {principal_arn}", policy.policy_name()),
            JournalOp::Adopt { principal_arn } => write!(f, "adopt {principal_arn}"),
            JournalOp::Delete { principal_arn } => write!(f, "delete {principal_arn}"),
            JournalOp::Disassociate {
                principal_arn,
                policy_arn,
            } => write!(f, "disassociate {policy_arn} from {principal_arn}"),
        }
    }
}

/// What happened. Every mutation has an `Intent` before it is sent and a `Done` or `Failed`
/// after it returns; an `Intent` without either means the process stopped in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum Event {
    RunStarted {
        command: String,
    },
    BackupWritten {
        path: String,
    },
    Intent {
        op: JournalOp,
        /// The `clientRequestToken` the request carries (EKS's idempotency token), for calls
        /// that take one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    Done {
        op: JournalOp,
    },
    Failed {
        op: JournalOp,
        error: String,
    },
    ModeUpdateRequested {
        target: String,
        update_id: String,
    },
    ModeUpdateFinished {
        target: String,
        update_id: String,
        status: String,
    },
    Verified {
        plan_hash: String,
        passed: bool,
        detail: String,
    },
    RunFinished {
        outcome: String,
    },
}

impl ClusterState {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    /// Appends a record and fsyncs it before returning.
    pub fn append(&self, record: &Record) -> io::Result<()> {
        append_json_line(&self.journal_path(), record)
    }

    /// Every record, oldest first. A torn last line (a crash in the middle of writing it) is
    /// skipped; any other line that cannot be read is an error naming its line, since
    /// rollback and the gate must not act on a journal with records missing.
    pub fn records(&self) -> io::Result<Vec<Record>> {
        read_json_lines(&self.journal_path(), |line, e| {
            format!(
                "{}:{line}: the journal has an unreadable record ({e}); it was not written by this version of the tool or was edited",
                self.journal_path().display()
            )
        })
    }

    /// A new, empty backup folder for `run_id`.
    pub fn backup_dir(&self, run_id: &str) -> io::Result<PathBuf> {
        let dir = self.dir.join("backups").join(run_id);
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// Backup folders, oldest first (run ids sort by time).
    pub fn backups(&self) -> io::Result<Vec<PathBuf>> {
        let dir = self.dir.join("backups");
        let mut out: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        out.sort();
        Ok(out)
    }
}

/// A run id that sorts by time: `20261123T161500Z-1a2b3c4d`.
pub fn new_run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{:08x}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        (now.subsec_nanosecond() as u32) ^ std::process::id().rotate_left(16)
    )
}

/// Seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    jiff::Timestamp::from_second(secs.min(i64::MAX as u64) as i64)
        .unwrap_or(jiff::Timestamp::MAX)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_443_300), "2026-11-23T14:15:00Z");
    }

    #[test]
    fn journal_appends_and_survives_a_torn_line() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::new(Some(tmp.path())).unwrap();
        let c = state.cluster("111122223333", "eu-west-1", "prod").unwrap();
        let r = Record {
            time: now(),
            run_id: new_run_id(),
            stage: Step::Entries,
            event: Event::RunStarted {
                command: "migrate".into(),
            },
        };
        c.append(&r).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(c.journal_path())
            .unwrap();
        f.write_all(b"{\"time\": \"torn").unwrap();
        assert_eq!(c.records().unwrap(), vec![r.clone()]);
        // A damaged line that is not the last is an error, with its line.
        f.write_all(b"\n").unwrap();
        c.append(&r).unwrap();
        let e = c.records().unwrap_err().to_string();
        assert!(
            e.contains("journal.jsonl:2: the journal has an unreadable record"),
            "{e}"
        );
        assert!(state.cluster("1", "r", "../x").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(c.dir()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            let mode = fs::metadata(c.journal_path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
