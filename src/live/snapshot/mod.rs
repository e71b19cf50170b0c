//! `snapshot`: a read-only export of live clusters into an eks-sim world file, so that a
//! migration can be rehearsed against a copy of the fleet before it touches the real one.
//!
//! Per cluster: DescribeCluster, `aws-auth` as the whole stored object, RBAC objects,
//! namespaces, access entries with their policies, node groups and Fargate profiles. Then IAM:
//! every role and user the clusters refer to, read with GetRole/GetUser in the accounts the
//! snapshot has credentials for. No secret is written: no access key, token, Secret or
//! kubeconfig; the world's only keys are generated placeholders valid in the simulator alone.
//!
//! What keeps the rehearsal's plan identical is that it reads each cluster as the *same
//! principal* the snapshot read it as (same ARN, path and unique id): the same `aws-auth`
//! mapping or access entry applies, the same account scopes EKS and IAM, and nothing is added
//! to `aws-auth`, the entries or RBAC. A rehearsal user holds the placeholder keys and may assume
//! every role the clusters were read as. In `CONFIG_MAP` a principal that reads a cluster without
//! an `aws-auth` mapping can only be its creator, so that principal becomes the world's
//! `creatorArn`; nobody else is made a creator (DescribeCluster does not say who created a
//! cluster, and a made-up creator would get an access entry at the switch that the real cluster
//! never gets).

pub mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_config::SdkConfig;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;

use crate::cli::exit;
use crate::live::aws::AwsArgs;
use crate::live::eks::{AuthenticationMode, ClusterDetails, FargateProfile, Nodegroup};
use crate::live::fleet::{Fleet, FleetCluster};
use crate::live::{self, IamLookupError};
use crate::model::arn::{self, PrincipalKind};
use crate::model::{AccessScope, Section};
use crate::plan::InputError;
use crate::plan::reconcile::ExistingEntry;
use crate::source::{Location, SourceFile};

/// Name of the user that holds the rehearsal's placeholder keys.
pub const REHEARSAL_USER: &str = "aws-auth-migrate-rehearsal";

/// `aws-auth-migrate snapshot`.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    /// Export every cluster of this fleet file (the one `plan --fleet` reads).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "cluster",
        conflicts_with = "cluster"
    )]
    pub fleet: Option<PathBuf>,
    /// Export one cluster.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Where to write the world file; `-` writes it to stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Also write a fleet file for the rehearsal: every exported cluster with the role it was
    /// read as (what a profile resolved to becomes a `roleArn` the rehearsal user may assume).
    #[arg(long, value_name = "FILE")]
    pub rehearsal_fleet: Option<PathBuf>,
    /// How many clusters are read at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
}

/// Runs the command: reads, writes the world (and the rehearsal fleet), reports on stderr.
/// Exit status 0 when every cluster was exported, 1 when one could not be (the others are still
/// written) or nothing could be written.
pub async fn run(args: SnapshotArgs) -> i32 {
    let (fleet, fleet_path) = match (&args.fleet, &args.cluster) {
        (Some(path), _) => match Fleet::load(path) {
            Ok(f) => (f, Some(path.clone())),
            Err(e) => return crate::cli::fail(&e),
        },
        (None, Some(name)) => (
            Fleet {
                clusters: vec![FleetCluster {
                    name: name.clone(),
                    region: None,
                    role_arn: None,
                    profile: None,
                    wave: None,
                }],
            },
            None,
        ),
        (None, None) => return crate::cli::fail("pass --fleet FILE or --cluster NAME"),
    };
    let snapshot = take(&fleet, &args.aws, args.concurrency).await;
    for w in &snapshot.warnings {
        eprintln!("warning: {w}");
    }
    match &fleet_path {
        Some(path) => eprint!(
            "{}",
            crate::report::render_errors(&located_errors(&snapshot.failures, &fleet, path))
        ),
        None => {
            for (i, message) in &snapshot.failures {
                eprintln!("error: cluster {}: {message}", fleet.clusters[*i].name);
            }
        }
    }
    if snapshot.world.clusters.is_empty() {
        return crate::cli::fail("no cluster could be read; nothing was written");
    }
    let header = header(&snapshot, fleet_path.as_deref());
    let yaml = match world::to_yaml(&snapshot.world, &header) {
        Ok(y) => y,
        Err(e) => return crate::cli::fail(&e),
    };
    if let Err(e) = write_output(&args.output, &yaml) {
        return crate::cli::fail(&format!("-o {}: {e}", args.output.display()));
    }
    if let Some(path) = &args.rehearsal_fleet {
        let text = rehearsal_fleet(&snapshot);
        if let Err(e) = write_output(path, &text) {
            return crate::cli::fail(&format!("--rehearsal-fleet {}: {e}", path.display()));
        }
    }
    let written_to = if args.output.as_os_str() == "-" {
        "stdout".to_string()
    } else {
        args.output.display().to_string()
    };
    eprintln!(
        "snapshot: {} of {} clusters written to {written_to} ({} warnings); rehearse with `eks-sim serve --world FILE`",
        snapshot.world.clusters.len(),
        fleet.clusters.len(),
        snapshot.warnings.len(),
    );
    if snapshot.failures.is_empty() {
        exit::OK
    } else {
        exit::ERROR
    }
}

/// Writes `text` to `path` through a temporary file and a rename (a reader never sees half a
/// world), or to stdout for `-`, where a closed pipe is a normal end.
fn write_output(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        return match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        };
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (tmp, mut file) = temporary_file_in(dir)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new file next to the destination (same file system, so the rename is atomic).
fn temporary_file_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    for n in 0..100u32 {
        let candidate = dir.join(format!(".snapshot-{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
}

/// Per-cluster failures at the cluster's line of the fleet file, as `plan --fleet` reports them.
fn located_errors(failures: &[(usize, String)], fleet: &Fleet, path: &Path) -> Vec<InputError> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    failures
        .iter()
        .map(|(i, message)| {
            let name = &fleet.clusters[*i].name;
            InputError {
                location: Location {
                    file: path.display().to_string().into(),
                    line: crate::live::fleet::cluster_line(&text, name),
                    column: 1,
                },
                message: format!("cluster {name}: {message}"),
                snippet: String::new(),
            }
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Reading
// ------------------------------------------------------------------------------------------------

/// A snapshot: the world, what each cluster was read as, and what could not be done.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub world: world::World,
    /// (fleet index, message) of the clusters that could not be read.
    pub failures: Vec<(usize, String)>,
    pub warnings: Vec<String>,
    /// Per exported cluster: (name, region, the role ARN it was read as, if a role).
    pub read_as: Vec<(String, String, Option<String>)>,
}

/// Who a cluster was read as (STS GetCallerIdentity with that cluster's settings).
#[derive(Debug, Clone)]
struct Caller {
    arn: String,
    account: String,
    /// The unique id (`AROA…`, `AIDA…`), without the session name.
    unique_id: String,
}

/// Everything read from one cluster.
struct ClusterRead {
    sdk: SdkConfig,
    /// The `roleArn` the cluster was read through (its fleet entry's, else the command line's).
    assumed_role: Option<String>,
    details: ClusterDetails,
    caller: Caller,
    aws_auth: Option<ConfigMap>,
    cluster_roles: Vec<ClusterRole>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    roles: Vec<Role>,
    role_bindings: Vec<RoleBinding>,
    namespaces: Vec<String>,
    nodegroups: Vec<Nodegroup>,
    fargate_profiles: Vec<FargateProfile>,
    entries: Vec<ExistingEntry>,
    warnings: Vec<String>,
}

/// Reads every cluster of `fleet` (at most `concurrency` at a time), then IAM, and builds the
/// world. Never changes anything.
pub async fn take(fleet: &Fleet, defaults: &AwsArgs, concurrency: usize) -> Snapshot {
    let results: Vec<Result<ClusterRead, String>> = futures::stream::iter(fleet.clusters.iter())
        .map(|c| async move { read_cluster(c, defaults).await })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut snapshot = Snapshot::default();
    let mut reads = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (index, result) in results.into_iter().enumerate() {
        match result {
            Ok(read) => {
                let info = &read.details.info;
                if !seen.insert((info.account.clone(), info.region.clone(), info.name.clone())) {
                    snapshot.warnings.push(format!(
                        "cluster {} ({}/{}) is listed twice in the fleet; exported once",
                        info.name, info.account, info.region
                    ));
                    continue;
                }
                reads.push(read);
            }
            Err(message) => snapshot.failures.push((index, message)),
        }
    }
    build(&mut snapshot, reads).await;
    snapshot
}

async fn read_cluster(c: &FleetCluster, defaults: &AwsArgs) -> Result<ClusterRead, String> {
    let cluster = c.connect(defaults).await.map_err(|e| e.to_string())?;
    let sdk = cluster.sdk.clone();
    let details = cluster
        .eks
        .describe_cluster_details(&c.name)
        .await
        .map_err(|e| e.to_string())?;
    let mode = details.info.authentication_mode.ok_or_else(|| {
        "EKS reports an authentication mode this tool does not know; it cannot be copied"
            .to_string()
    })?;
    let me = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            format!(
                "STS GetCallerIdentity failed: {}",
                aws_sdk_sts::error::DisplayErrorContext(e)
            )
        })?;
    let user_id = me.user_id().unwrap_or_default();
    let caller = Caller {
        arn: me.arn().unwrap_or_default().to_string(),
        account: me.account().unwrap_or_default().to_string(),
        unique_id: user_id.split(':').next().unwrap_or_default().to_string(),
    };
    let mut warnings = Vec::new();
    let kube = &cluster.kube;
    let aws_auth = kube.aws_auth().await.map_err(|e| e.to_string())?;
    if aws_auth.as_ref().is_some_and(|cm| cm.binary_data.is_some()) {
        warnings.push(format!(
            "cluster {}: aws-auth has binaryData, which the authenticator ignores; it is copied as is",
            c.name
        ));
    }
    // What cannot be read is reported: the real plan could not read it either.
    let unread = |what: &str, e: crate::live::kube::KubeError| {
        format!(
            "cluster {}: {what} could not be read ({e}); the world has none",
            c.name
        )
    };
    let note = |w: &mut Vec<String>, what: &str, e| w.push(unread(what, e));
    let cluster_roles = kube.list_all::<ClusterRole>().await.unwrap_or_else(|e| {
        note(&mut warnings, "ClusterRoles", e);
        Vec::new()
    });
    let cluster_role_bindings = kube
        .list_all::<ClusterRoleBinding>()
        .await
        .unwrap_or_else(|e| {
            note(&mut warnings, "ClusterRoleBindings", e);
            Vec::new()
        });
    let roles = kube.list_all::<Role>().await.unwrap_or_else(|e| {
        note(&mut warnings, "Roles", e);
        Vec::new()
    });
    let role_bindings = kube.list_all::<RoleBinding>().await.unwrap_or_else(|e| {
        note(&mut warnings, "RoleBindings", e);
        Vec::new()
    });
    let namespaces = kube
        .list_all::<Namespace>()
        .await
        .unwrap_or_else(|e| {
            note(&mut warnings, "namespaces", e);
            Vec::new()
        })
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let eks = &cluster.eks;
    let nodegroups = eks.nodegroups(&c.name).await.map_err(|e| e.to_string())?;
    let fargate_profiles = eks
        .fargate_profiles(&c.name)
        .await
        .map_err(|e| e.to_string())?;
    let entries = if mode == AuthenticationMode::ConfigMap {
        // Access-entry calls are refused in CONFIG_MAP
        // (docs/access-entries.md#only-in-the-api-modes).
        Vec::new()
    } else {
        eks.list_entries(&c.name).await.map_err(|e| e.to_string())?
    };
    Ok(ClusterRead {
        sdk,
        assumed_role: c.aws(defaults).role_arn,
        details,
        caller,
        aws_auth,
        cluster_roles,
        cluster_role_bindings,
        roles,
        role_bindings,
        namespaces,
        nodegroups,
        fargate_profiles,
        entries,
        warnings,
    })
}

// ------------------------------------------------------------------------------------------------
// IAM principals
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Role,
    User,
}

/// A role or user the clusters refer to, with what is known of it.
#[derive(Debug, Clone)]
struct Principal {
    kind: Kind,
    partition: String,
    account: String,
    name: String,
    /// The path, when a full ARN (entries, node groups, IAM) said it.
    path: Option<String>,
    unique_id: Option<String>,
    trust: Vec<String>,
    /// Where it is referred to, for warnings.
    referred_by: String,
}

impl Principal {
    fn arn(&self) -> String {
        let kind = match self.kind {
            Kind::Role => "role",
            Kind::User => "user",
        };
        format!(
            "arn:{}:iam::{}:{kind}{}{}",
            self.partition,
            self.account,
            self.path.as_deref().unwrap_or("/"),
            self.name
        )
    }
}

/// Principals keyed by (account, kind, lower-cased name): IAM names are unique regardless of
/// case within an account.
type Principals = BTreeMap<(String, Kind, String), Principal>;

/// Records a reference to the principal `arn` (a role, a user or an assumed-role session).
/// `path_known`: the ARN carries the principal's real path (not so for aws-auth role ARNs).
fn refer(principals: &mut Principals, arn: &str, path_known: bool, referred_by: &str) {
    let Ok(p) = arn::parse(arn) else { return };
    let kind = match p.kind {
        PrincipalKind::Role | PrincipalKind::AssumedRole => Kind::Role,
        PrincipalKind::User => Kind::User,
        PrincipalKind::Root | PrincipalKind::FederatedUser => return,
    };
    let path_known = path_known && p.kind != PrincipalKind::AssumedRole;
    let entry = principals
        .entry((p.account.clone(), kind, p.name.to_lowercase()))
        .or_insert_with(|| Principal {
            kind,
            partition: p.partition.clone(),
            account: p.account.clone(),
            name: p.name.clone(),
            path: None,
            unique_id: None,
            trust: Vec::new(),
            referred_by: referred_by.to_string(),
        });
    if path_known && entry.path.is_none() {
        entry.path = Some(p.path.clone());
    }
}

/// What IAM says of a role or user: (name, path, ARN, unique id, trusted principals).
type IamAnswer = Result<(String, String, String, String, Vec<String>), IamLookupError>;

/// How many IAM lookups run at once.
const IAM_CONCURRENCY: usize = 8;

/// Asks IAM about every principal of an account the snapshot holds credentials for (the
/// caller's own account: IAM looks names up there), a few at a time. Principals IAM says do
/// not exist are dropped, as they are not in the account either.
async fn ask_iam(principals: &mut Principals, sdks: &BTreeMap<String, SdkConfig>) -> Vec<String> {
    let clients: BTreeMap<&String, aws_sdk_iam::Client> = sdks
        .iter()
        .map(|(account, sdk)| (account, aws_sdk_iam::Client::new(sdk)))
        .collect();
    let lookups: Vec<_> = principals
        .iter()
        .filter_map(|(key, p)| {
            let iam = clients.get(&p.account)?.clone();
            Some((key.clone(), p.kind, p.name.clone(), iam))
        })
        .collect();
    let answers: BTreeMap<_, IamAnswer> = futures::stream::iter(lookups)
        .map(|(key, kind, name, iam)| async move {
            let answer = match kind {
                Kind::Role => live::get_role(&iam, &name)
                    .await
                    .map(|r| (r.name, r.path, r.arn, r.role_id, r.trusted)),
                Kind::User => live::get_user(&iam, &name)
                    .await
                    .map(|u| (u.name, u.path, u.arn, u.user_id, Vec::new())),
            };
            (key, answer)
        })
        .buffer_unordered(IAM_CONCURRENCY)
        .collect()
        .await;
    let mut warnings = Vec::new();
    let mut gone = Vec::new();
    for (key, p) in principals.iter_mut() {
        let Some(answer) = answers.get(key) else {
            warnings.push(format!(
                "{} (referred to by {}): not read, no cluster of account {} was read; written with {}",
                p.arn(),
                p.referred_by,
                p.account,
                if p.path.is_some() {
                    "the path its ARN gives and a generated unique id"
                } else {
                    "path / (unknown) and a generated unique id"
                }
            ));
            continue;
        };
        match answer {
            // Defensive: never take a principal of another account for this one.
            Ok((name, path, arn, id, trust)) if arn.contains(&format!(":{}:", p.account)) => {
                p.name = name.clone();
                p.path = Some(path.clone());
                p.unique_id = Some(id.clone());
                p.trust = trust.clone();
            }
            Ok(_) => {}
            Err(IamLookupError::NoSuchEntity | IamLookupError::Invalid(_)) => {
                warnings.push(format!(
                    "{} (referred to by {}): IAM has no such principal; not written",
                    p.arn(),
                    p.referred_by
                ));
                gone.push(key.clone());
            }
            Err(e) => warnings.push(format!(
                "{} (referred to by {}): IAM could not be read ({e}); written with what is known, and the rehearsal's plan may differ for it",
                p.arn(),
                p.referred_by
            )),
        }
    }
    for key in gone {
        principals.remove(&key);
    }
    warnings
}

/// Whether an effective `aws-auth` mapping admits `caller` (role mappings by the path-less
/// role ARN, user mappings by the user ARN, both case-insensitively, mapAccounts by account),
/// as the authenticator matches them.
fn admitted_by_aws_auth(cm: &ConfigMap, source_name: &str, caller: &arn::Principal) -> bool {
    let source = SourceFile::new(source_name, live::configmap_json(cm));
    let Ok(auth) = crate::awsauth::read(&source) else {
        return false;
    };
    let canonical = match caller.kind {
        PrincipalKind::Role | PrincipalKind::AssumedRole => format!(
            "arn:{}:iam::{}:role/{}",
            caller.partition, caller.account, caller.name
        ),
        _ => caller.iam_arn(&caller.path),
    };
    auth.effective().any(|m| match m.id.section {
        Section::MapAccounts => m.arn == caller.account,
        _ => m.arn.eq_ignore_ascii_case(&canonical),
    })
}

// ------------------------------------------------------------------------------------------------
// The world
// ------------------------------------------------------------------------------------------------

/// A placeholder key: recognisably not AWS's (`AKIA…`), only valid in the simulator.
fn placeholder_key(n: usize) -> world::AccessKey {
    world::AccessKey {
        id: format!("EKSSIMREHEARSAL{n:05}"),
        secret: format!("eks-sim-rehearsal-placeholder-{n:05}-not-a-secret"),
    }
}

/// The key of a principal in [`Principals`] from any of its ARNs (assumed-role sessions count as
/// their role).
fn principal_key(p: &arn::Principal) -> (String, Kind, String) {
    let kind = if p.kind == PrincipalKind::User {
        Kind::User
    } else {
        Kind::Role
    };
    (p.account.clone(), kind, p.name.to_lowercase())
}

/// Credentials and partitions by account, and every principal the clusters refer to.
struct References {
    principals: Principals,
    /// An SDK configuration whose caller lives in the account: IAM answers about that account.
    sdks: BTreeMap<String, SdkConfig>,
    partitions: BTreeMap<String, String>,
}

fn references(reads: &[ClusterRead]) -> References {
    let mut refs = References {
        principals: Principals::new(),
        sdks: BTreeMap::new(),
        partitions: BTreeMap::new(),
    };
    for read in reads {
        let info = &read.details.info;
        let label = format!("cluster {}", info.name);
        let principals = &mut refs.principals;
        refs.partitions
            .entry(info.account.clone())
            .or_insert_with(|| info.partition.clone());
        if read.caller.account == info.account {
            refs.sdks
                .entry(info.account.clone())
                .or_insert_with(|| read.sdk.clone());
        }
        if let Some(cm) = &read.aws_auth {
            let source = SourceFile::new(info.name.as_str(), live::configmap_json(cm));
            let mappings = crate::awsauth::read(&source)
                .map(|auth| auth.mappings)
                .unwrap_or_default();
            for m in mappings
                .iter()
                .filter(|m| m.id.section != Section::MapAccounts)
            {
                // Role ARNs in aws-auth carry no path; user ARNs carry the one that matches.
                let path_known = arn::parse(&m.arn).is_ok_and(|p| p.kind == PrincipalKind::User);
                let by = format!("{label} aws-auth {}", m.id);
                refer(principals, &m.arn, path_known, &by);
            }
        }
        for e in &read.entries {
            refer(
                principals,
                &e.principal_arn,
                true,
                &format!("{label} access entry"),
            );
        }
        for ng in &read.nodegroups {
            let by = format!("{label} node group {}", ng.name);
            refer(principals, &ng.node_role_arn, true, &by);
        }
        for fp in &read.fargate_profiles {
            let by = format!("{label} Fargate profile {}", fp.name);
            refer(principals, &fp.pod_execution_role_arn, true, &by);
        }
        // The roleArn carries the path the STS ARN lacks, should IAM not tell.
        if let Some(role) = &read.assumed_role {
            refer(principals, role, true, &format!("{label} (roleArn)"));
        }
        refer(
            principals,
            &read.caller.arn,
            true,
            &format!("{label} (read as)"),
        );
        if let Some(known) = arn::parse(&read.caller.arn)
            .ok()
            .and_then(|p| principals.get_mut(&principal_key(&p)))
        {
            known
                .unique_id
                .get_or_insert_with(|| read.caller.unique_id.clone());
        }
    }
    refs
}

/// Builds the world from what was read: clusters, then accounts with their principals and the
/// rehearsal user.
async fn build(snapshot: &mut Snapshot, reads: Vec<ClusterRead>) {
    let References {
        mut principals,
        sdks,
        partitions,
    } = references(&reads);
    snapshot
        .warnings
        .extend(ask_iam(&mut principals, &sdks).await);
    let partition_of = |account: &str| {
        partitions
            .get(account)
            .cloned()
            .unwrap_or_else(|| "aws".to_string())
    };
    // The rehearsal user lives in the first exported cluster's account.
    let home = reads
        .first()
        .map(|r| r.details.info.account.clone())
        .unwrap_or_default();
    let rehearsal_arn = format!(
        "arn:{}:iam::{home}:user/{REHEARSAL_USER}",
        partition_of(&home)
    );
    let mut user_keys = BTreeMap::new();
    for read in reads {
        snapshot.warnings.extend(read.warnings.iter().cloned());
        let (creator_arn, role_arn) = read_as(
            &read,
            &mut principals,
            &rehearsal_arn,
            &mut user_keys,
            &mut snapshot.warnings,
        );
        let info = &read.details.info;
        snapshot
            .read_as
            .push((info.name.clone(), info.region.clone(), role_arn));
        let cluster = world_cluster(&read, creator_arn, &mut snapshot.warnings);
        snapshot.world.clusters.push(cluster);
    }

    // Accounts: every cluster's, and every written principal's.
    let mut accounts: BTreeMap<String, world::Account> = BTreeMap::new();
    fn account<'a>(
        accounts: &'a mut BTreeMap<String, world::Account>,
        id: &str,
        partition: String,
    ) -> &'a mut world::Account {
        accounts
            .entry(id.to_string())
            .or_insert_with(|| world::Account {
                id: id.to_string(),
                partition,
                roles: Vec::new(),
                users: Vec::new(),
            })
    }
    for c in &snapshot.world.clusters {
        account(&mut accounts, &c.account, partition_of(&c.account));
    }
    for p in principals.into_values() {
        let path = p.path.clone().unwrap_or_else(|| "/".to_string());
        let a = account(&mut accounts, &p.account, p.partition.clone());
        match p.kind {
            Kind::Role => a.roles.push(world::Role {
                name: p.name,
                path,
                unique_id: p.unique_id,
                trust: p.trust,
            }),
            Kind::User => a.users.push(world::User {
                access_keys: user_keys
                    .remove(&(p.account.clone(), p.name.clone()))
                    .into_iter()
                    .collect(),
                name: p.name,
                path,
                unique_id: p.unique_id,
            }),
        }
    }
    let rehearsal_key = placeholder_key(1);
    let home_account = account(&mut accounts, &home, partition_of(&home));
    match home_account
        .users
        .iter_mut()
        .find(|u| u.name == REHEARSAL_USER)
    {
        Some(u) => u.access_keys.push(rehearsal_key.clone()),
        None => home_account.users.push(world::User {
            name: REHEARSAL_USER.to_string(),
            path: "/".to_string(),
            unique_id: None,
            access_keys: vec![rehearsal_key.clone()],
        }),
    }
    snapshot.world.caller = rehearsal_key.id;
    snapshot.world.accounts = accounts.into_values().collect();
}

/// How the rehearsal reads `read`'s cluster as the principal the snapshot read it as: a role
/// trusts the rehearsal user (its ARN is returned for the rehearsal fleet); a user gets a
/// placeholder key of its own. Returns the cluster's `creatorArn` too: in CONFIG_MAP only
/// aws-auth and the creator get in, so an unmapped reader is the creator.
fn read_as(
    read: &ClusterRead,
    principals: &mut Principals,
    rehearsal_arn: &str,
    user_keys: &mut BTreeMap<(String, String), world::AccessKey>,
    warnings: &mut Vec<String>,
) -> (Option<String>, Option<String>) {
    let info = &read.details.info;
    let caller = arn::parse(&read.caller.arn).ok();
    let Some(p) = caller
        .as_ref()
        .and_then(|c| principals.get_mut(&principal_key(c)))
    else {
        warnings.push(format!(
            "cluster {} was read as {}, which a world cannot hold: the rehearsal cannot read it as the same principal",
            info.name, read.caller.arn
        ));
        return (None, None);
    };
    let mut role_arn = None;
    match p.kind {
        Kind::Role => {
            if !p.trust.iter().any(|t| t == rehearsal_arn) {
                p.trust.push(rehearsal_arn.to_string());
            }
            role_arn = Some(p.arn());
        }
        Kind::User => {
            let n = user_keys.len() + 2;
            let key = user_keys
                .entry((p.account.clone(), p.name.clone()))
                .or_insert_with(|| placeholder_key(n));
            warnings.push(format!(
                "cluster {} was read as the IAM user {}, which the rehearsal user cannot act as: rehearse it with that user's placeholder key {}",
                info.name,
                p.arn(),
                key.id
            ));
        }
    }
    let unmapped = |c: &arn::Principal| {
        !read
            .aws_auth
            .as_ref()
            .is_some_and(|cm| admitted_by_aws_auth(cm, &info.name, c))
    };
    let creator = match (&caller, info.authentication_mode) {
        (Some(c), Some(AuthenticationMode::ConfigMap)) if unmapped(c) => Some(p.arn()),
        _ => None,
    };
    (creator, role_arn)
}

/// One cluster in the world's terms.
fn world_cluster(
    read: &ClusterRead,
    creator_arn: Option<String>,
    warnings: &mut Vec<String>,
) -> world::Cluster {
    let info = &read.details.info;
    let status = if world::STATUSES.contains(&info.status.as_str()) {
        info.status.clone()
    } else {
        warnings.push(format!(
            "cluster {}: status {:?} is written as ACTIVE",
            info.name, info.status
        ));
        "ACTIVE".to_string()
    };
    let mut access_entries = Vec::new();
    for e in &read.entries {
        if !world::ENTRY_TYPES.contains(&e.entry_type.as_str()) {
            warnings.push(format!(
                "cluster {}: the access entry of {} has type {}, which eks-sim does not know; not written",
                info.name, e.principal_arn, e.entry_type
            ));
            continue;
        }
        let standard = e.entry_type == "STANDARD";
        access_entries.push(world::AccessEntry {
            principal_arn: e.principal_arn.clone(),
            entry_type: e.entry_type.clone(),
            username: e.username.clone().filter(|_| standard),
            kubernetes_groups: if standard {
                e.kubernetes_groups.clone()
            } else {
                Vec::new()
            },
            access_policies: e
                .access_policies
                .iter()
                .map(|p| world::AccessPolicy {
                    policy_arn: p.policy_arn.clone(),
                    access_scope: match &p.access_scope {
                        AccessScope::Cluster => world::AccessScope {
                            scope_type: "cluster".into(),
                            namespaces: Vec::new(),
                        },
                        AccessScope::Namespace { namespaces } => world::AccessScope {
                            scope_type: "namespace".into(),
                            namespaces: namespaces.clone(),
                        },
                    },
                })
                .collect(),
            tags: e.tags.clone(),
        });
    }
    world::Cluster {
        name: info.name.clone(),
        account: info.account.clone(),
        region: info.region.clone(),
        authentication_mode: info
            .authentication_mode
            .map_or("CONFIG_MAP", AuthenticationMode::as_str)
            .to_string(),
        kubernetes_version: read.details.version.clone(),
        platform_version: info.platform_version.clone(),
        status,
        bootstrap_cluster_creator_admin_permissions: info
            .bootstrap_cluster_creator_admin_permissions,
        creator_arn,
        config_maps: read.aws_auth.iter().map(world::clean_object).collect(),
        cluster_roles: read.cluster_roles.iter().map(world::clean_object).collect(),
        cluster_role_bindings: read
            .cluster_role_bindings
            .iter()
            .map(world::clean_object)
            .collect(),
        roles: read.roles.iter().map(world::clean_object).collect(),
        role_bindings: read.role_bindings.iter().map(world::clean_object).collect(),
        namespaces: read.namespaces.clone(),
        nodegroups: read
            .nodegroups
            .iter()
            .map(|ng| world::Nodegroup {
                name: ng.name.clone(),
                node_role_arn: ng.node_role_arn.clone(),
                ami_type: ng.ami_type.clone(),
            })
            .collect(),
        fargate_profiles: read
            .fargate_profiles
            .iter()
            .map(|fp| world::FargateProfile {
                name: fp.name.clone(),
                pod_execution_role_arn: fp.pod_execution_role_arn.clone(),
                selectors: fp
                    .selectors
                    .iter()
                    .map(|(namespace, labels)| world::FargateSelector {
                        namespace: namespace.clone(),
                        labels: labels.clone(),
                    })
                    .collect(),
            })
            .collect(),
        access_entries,
        tags: read.details.tags.clone(),
    }
}

/// The comment lines at the top of the world file.
fn header(snapshot: &Snapshot, fleet: Option<&Path>) -> String {
    let mut out = format!(
        "# eks-sim world written by `aws-auth-migrate snapshot`{}: a read-only copy of {} cluster(s).\n",
        fleet.map_or_else(String::new, |p| format!(" from {}", p.display())),
        snapshot.world.clusters.len()
    );
    out.push_str(
        "# No secrets: the access keys below are generated placeholders, valid in the simulator only.\n\
         # Rehearse: `eks-sim serve --world THIS_FILE`, source what it prints, then run the tool; the\n\
         # caller is the user aws-auth-migrate-rehearsal, which may assume every role a cluster was\n\
         # read as (see --rehearsal-fleet).\n",
    );
    for (name, region, role) in &snapshot.read_as {
        out.push_str(&format!(
            "#   {name} ({region}): read as {}\n",
            role.as_deref()
                .unwrap_or("a principal the rehearsal user cannot assume")
        ));
    }
    if !snapshot.warnings.is_empty() {
        out.push_str("# Warnings:\n");
        for w in &snapshot.warnings {
            out.push_str(&format!("#   {}\n", w.replace('\n', " ")));
        }
    }
    out
}

/// The fleet file of the rehearsal: every exported cluster with the role it was read as.
fn rehearsal_fleet(snapshot: &Snapshot) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        name: &'a str,
        region: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        role_arn: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct File<'a> {
        clusters: Vec<Entry<'a>>,
    }
    let file = File {
        clusters: snapshot
            .read_as
            .iter()
            .map(|(name, region, role)| Entry {
                name,
                region,
                role_arn: role.as_deref(),
            })
            .collect(),
    };
    let body = serde_saphyr::to_string(&file).unwrap_or_default();
    format!(
        "# The fleet of the rehearsal against the world `aws-auth-migrate snapshot` wrote: each\n# cluster is read as the role the snapshot read it as, which the rehearsal user may assume.\n{body}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("aws-auth".into()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn the_caller_is_admitted_as_the_authenticator_matches() {
        let auth = cm(&[
            (
                "mapRoles",
                "- roleARN: arn:aws:iam::111122223333:role/MIGRATOR\n  username: m\n",
            ),
            (
                "mapUsers",
                "- userarn: arn:aws:iam::111122223333:user/ops/alice\n  username: a\n",
            ),
            ("mapAccounts", "- \"444455556666\"\n"),
        ]);
        let admitted = |arn: &str| admitted_by_aws_auth(&auth, "t", &arn::parse(arn).unwrap());
        // An assumed-role session matches the path-less role ARN, whatever the case.
        assert!(admitted(
            "arn:aws:sts::111122223333:assumed-role/Migrator/aws-auth-migrate"
        ));
        assert!(!admitted(
            "arn:aws:sts::111122223333:assumed-role/Creator/aws-auth-migrate"
        ));
        assert!(admitted("arn:aws:iam::111122223333:user/ops/alice"));
        assert!(!admitted("arn:aws:iam::111122223333:user/alice"));
        assert!(admitted("arn:aws:sts::444455556666:assumed-role/Anyone/s"));
        // A role ARN written with a path never matches.
        let pathed = cm(&[(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/ops/Migrator\n  username: m\n",
        )]);
        assert!(!admitted_by_aws_auth(
            &pathed,
            "t",
            &arn::parse("arn:aws:sts::111122223333:assumed-role/Migrator/s").unwrap()
        ));
    }

    #[test]
    fn references_keep_the_path_only_where_an_arn_carries_it() {
        let mut p = Principals::new();
        refer(
            &mut p,
            "arn:aws:iam::111122223333:role/Dev",
            false,
            "aws-auth",
        );
        refer(
            &mut p,
            "arn:aws:iam::111122223333:role/team/dev",
            true,
            "entry",
        );
        refer(
            &mut p,
            "arn:aws:sts::111122223333:assumed-role/Ops/s",
            true,
            "caller",
        );
        refer(&mut p, "arn:aws:iam::111122223333:root", true, "x");
        refer(&mut p, "not an arn", true, "x");
        assert_eq!(p.len(), 2);
        let dev = &p[&("111122223333".into(), Kind::Role, "dev".into())];
        assert_eq!(dev.path.as_deref(), Some("/team/"));
        assert_eq!(
            dev.name, "Dev",
            "the first spelling stays until IAM says otherwise"
        );
        let ops = &p[&("111122223333".into(), Kind::Role, "ops".into())];
        assert_eq!(ops.path, None, "an STS ARN says nothing of the path");
        assert_eq!(ops.arn(), "arn:aws:iam::111122223333:role/Ops");
    }

    #[test]
    fn placeholder_keys_do_not_look_like_aws_keys() {
        let k = placeholder_key(1);
        assert!(!k.id.starts_with("AKIA") && !k.id.starts_with("ASIA"));
        assert_eq!(k.id.len(), 20);
        assert!(k.secret.contains("placeholder"));
    }
}
