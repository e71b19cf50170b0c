//! Command-line definitions (clap) and their wiring to the library.

pub mod commands;
pub mod logging;

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::plan;
use crate::plan::options::{PolicyMap, RolePaths};
use crate::plan::translate::Options;
use crate::report::{self, Format, PlanFormat};

/// Exit statuses, stable for scripts and CI.
pub mod exit {
    /// The plan is complete and has no blockers.
    pub const OK: i32 = 0;
    /// An input could not be read or parsed (the other inputs were still planned), or an
    /// option file is invalid.
    pub const ERROR: i32 = 1;
    /// The command line is wrong (clap's own status).
    pub const USAGE: i32 = 2;
    /// The plan is complete but has blockers: the switch to API would drop access.
    pub const BLOCKERS: i32 = 3;
    /// A live command was refused (safety gate, missing confirmation): nothing was changed.
    pub const REFUSED: i32 = 4;
}

/// Move Amazon EKS clusters from the aws-auth ConfigMap to EKS access entries, safely.
#[derive(Debug, Parser)]
#[command(name = "aws-auth-migrate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log what the tool does on stderr; -vv adds the AWS SDK's and kube-rs' requests, -vvv
    /// everything (credentials are never logged). RUST_LOG, when set, replaces this filter.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what the migration would do: read aws-auth exactly as EKS does and translate every
    /// mapping into access entries, or say why it cannot be carried over. Offline; no AWS
    /// credentials needed.
    Plan(PlanArgs),
    /// Migrate one cluster up to a stage: backup, dual (CONFIG_MAP -> API_AND_CONFIG_MAP),
    /// entries (create and reconcile access entries), api (API_AND_CONFIG_MAP -> API, through the
    /// safety gate). Every stage is idempotent; after a crash, run the same command again.
    Migrate(MigrateArgs),
    /// Check that every principal can do after the migration what it could do before, with the
    /// cluster's SubjectAccessReview and the access policies' published rules; the result is
    /// recorded for the `api` gate.
    Verify(VerifyArgs),
    /// Undo what the tool did while the cluster is in API_AND_CONFIG_MAP: delete the entries it
    /// created and restore the ones it changed, so aws-auth governs access again.
    Rollback(RollbackArgs),
    /// Show a cluster's mode, stage, backups and the journal's last records.
    Status(StatusArgs),
    /// Export live clusters (`--fleet FILE` or `--cluster NAME`) into an eks-sim world file, to
    /// rehearse a migration against a copy of the fleet. Read-only; writes no secrets.
    Snapshot(crate::live::snapshot::SnapshotArgs),
    /// Print a shell completion script: `source <(aws-auth-migrate completions bash)`, or save it
    /// where the shell looks for completions (see README).
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `aws-auth-migrate man | man -l -`. With a subcommand, the
    /// page of that subcommand (aws-auth-migrate-SUBCOMMAND(1)) and all its options.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (default: the tool's, which lists them all).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
}

/// How to reach one live cluster.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// The EKS cluster's name.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// A fleet file instead of one cluster (`clusters: [{name, region, roleArn, profile,
    /// wave}]`, see README), for `migrate` and `status`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cluster", "kubeconfig", "context"])]
    pub fleet: Option<PathBuf>,
    #[command(flatten)]
    pub aws: crate::live::aws::AwsArgs,
    /// Use this kubeconfig instead of an EKS token built from DescribeCluster.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (implies --kubeconfig's default file when that is not given).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Where journals and backups live (default: $XDG_DATA_HOME/aws-auth-migrate or
    /// ~/.local/share/aws-auth-migrate).
    #[arg(long, value_name = "DIR", env = "AWS_AUTH_MIGRATE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ClusterArgs {
    /// The cluster's name; a usage error when neither it nor a fleet was given.
    pub fn name(&self) -> Result<&str, i32> {
        self.cluster.as_deref().ok_or_else(|| {
            eprintln!("error: --cluster NAME is required");
            exit::USAGE
        })
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub target: ClusterArgs,
    /// The stage to reach; earlier stages run first when they have not.
    #[arg(long, value_enum)]
    pub to: crate::migrate::Stage,
    /// Do not ask before changing the cluster.
    #[arg(long)]
    pub yes: bool,
    /// The cluster name again: required for `--to api`, which cannot be undone.
    #[arg(long, value_name = "CLUSTER")]
    pub confirm: Option<String>,
    /// A mapping (`mapRoles[3]`) or ARN that may lose access at the switch to API.
    #[arg(long, value_name = "ID_OR_ARN")]
    pub allow_drop: Vec<String>,
    /// Give up waiting for one cluster update after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub timeout: u64,
    #[arg(long, value_name = "FILE")]
    pub policy_map: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub role_paths: Option<PathBuf>,
    /// Also migrate role ARNs written with a path, which never matched in aws-auth: their
    /// access entries grant access that does not exist today (each is reported).
    #[arg(long)]
    pub include_ineffective: bool,
    /// Take over the cluster lock when its holder stopped renewing it (a run that died); a
    /// lock renewed within its duration is never taken.
    #[arg(long)]
    pub take_over_lock: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// How `migrate --fleet` runs the fleet.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// With --fleet, how many clusters run at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
    /// With --fleet, how many clusters run at once in one account and region (EKS throttles
    /// per account and region).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub per_account_region: usize,
    /// With --fleet, migrate the first N clusters of the file first, as a wave of their own.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub canary: usize,
    /// With --fleet, stop starting clusters once this many have failed (running ones finish).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub max_failures: usize,
    /// With --fleet and --to api: the number of clusters in the fleet file, typed, since the
    /// switch to API cannot be undone.
    #[arg(long, value_name = "COUNT")]
    pub confirm_fleet: Option<usize>,
    /// With --fleet, the report's format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: crate::migrate::report::FleetFormat,
    /// With --fleet, also write the report as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,
    /// A mapping (`mapRoles[3]`) or ARN that may lose access at the switch to API.
    #[arg(long, value_name = "ID_OR_ARN")]
    pub allow_drop: Vec<String>,
    /// The policy map the plan used: gains from its policies are expected.
    #[arg(long, value_name = "FILE")]
    pub policy_map: Option<PathBuf>,
    /// Also check as the real principal: assume this role, make its own EKS token and ask
    /// SelfSubjectAccessReview, which goes through EKS's real path including access policies.
    #[arg(long, value_name = "ROLE_ARN")]
    pub probe_as: Vec<String>,
    /// The same as the migration's --include-ineffective, so the verified plan is the one
    /// migrated.
    #[arg(long)]
    pub include_ineffective: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: ClusterArgs,
    /// Do not ask before changing the cluster.
    #[arg(long)]
    pub yes: bool,
    /// Take over the cluster lock when its holder stopped renewing it (a run that died).
    #[arg(long)]
    pub take_over_lock: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: ClusterArgs,
    /// How many journal records to show.
    #[arg(long, default_value_t = 10)]
    pub last: usize,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// aws-auth ConfigMaps as `kubectl get configmap aws-auth -n kube-system -o yaml` (or
    /// `-o json`) writes them, one file per cluster; a folder means every .yaml, .yml and
    /// .json file in it. The cluster is named after the file.
    #[arg(
        required_unless_present_any = ["cluster", "fleet"],
        conflicts_with_all = ["cluster", "fleet"],
        value_name = "SOURCE"
    )]
    pub sources: Vec<PathBuf>,

    /// Plan many live clusters: a YAML file listing them (`clusters: [{name, region, roleArn,
    /// profile}]`, see README); read-only, several at a time.
    #[arg(long, value_name = "FILE", conflicts_with = "cluster")]
    pub fleet: Option<PathBuf>,

    /// With --fleet, how many clusters are read at once.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "fleet")]
    pub concurrency: usize,

    /// Plan a live cluster instead: read aws-auth, access entries, node roles and IAM role
    /// paths through the AWS and Kubernetes APIs (read-only).
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub aws: crate::live::aws::AwsArgs,
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<PathBuf>,
    #[arg(long, value_name = "NAME", requires = "cluster")]
    pub context: Option<String>,

    /// Output format: a report of the plan, or the plan as infrastructure as code (terraform,
    /// terraform-module, cloudformation, eksctl; see README).
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: PlanFormat,

    /// With an infrastructure-as-code format: write one folder per cluster into DIR
    /// (DIR/CLUSTER/access-entries.tf, ...) instead of printing; needed for several clusters.
    #[arg(long, value_name = "DIR")]
    pub iac_dir: Option<PathBuf>,

    /// With -o terraform-module: the name of your terraform-aws-eks module block, used in the
    /// import addresses (module.NAME.aws_eks_access_entry.this[KEY]); default `eks`.
    #[arg(long, value_name = "NAME")]
    pub terraform_module: Option<String>,

    /// YAML file mapping Kubernetes groups to access policies and scopes (see README).
    #[arg(long, value_name = "FILE")]
    pub policy_map: Option<PathBuf>,

    /// YAML file giving the IAM paths of roles (`roles: {NAME or ACCOUNT:NAME: /path/}`),
    /// which aws-auth role ARNs cannot carry.
    #[arg(long, value_name = "FILE")]
    pub role_paths: Option<PathBuf>,

    /// The cluster's RBAC as `kubectl get clusterroles,clusterrolebindings,roles,rolebindings
    /// -A -o yaml` writes it: finds `kind: User` bindings a username change would orphan,
    /// groups bound to nothing, and groups an access policy could replace.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cluster", "fleet"])]
    pub rbac: Option<PathBuf>,

    /// The clusters' AWS account id, to check that node roles live in it.
    #[arg(long, value_name = "ACCOUNT_ID", value_parser = parse_account)]
    pub account: Option<String>,

    /// Also migrate role ARNs written with a path, which never matched in aws-auth: their
    /// access entries grant access that does not exist today (each is reported).
    #[arg(long)]
    pub include_ineffective: bool,
}

fn parse_account(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err("an AWS account id has exactly 12 digits".into())
    }
}

/// Runs the command and returns the exit status.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Plan(args) if args.fleet.is_some() => {
            block_on(crate::cli::commands::fleet_plan(args))
        }
        Command::Plan(args) if args.cluster.is_some() => {
            block_on(crate::cli::commands::live_plan(args))
        }
        Command::Plan(args) => run_plan(args),
        Command::Migrate(args) => block_on(crate::cli::commands::migrate(args)),
        Command::Verify(args) => block_on(crate::cli::commands::verify(args)),
        Command::Rollback(args) => block_on(crate::cli::commands::rollback(args)),
        Command::Status(args) => block_on(crate::cli::commands::status(args)),
        Command::Snapshot(args) => block_on(crate::cli::commands::snapshot(args)),
        Command::Completions(args) => completions(args.shell),
        Command::Man(args) => man_page(args.subcommand.as_deref()),
    }
}

/// The command line as clap sees it, named as installed.
fn command() -> clap::Command {
    use clap::CommandFactory as _;
    Cli::command().bin_name(BIN)
}

const BIN: &str = "aws-auth-migrate";

fn completions(shell: clap_complete::Shell) -> i32 {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), BIN, &mut script);
    emit(&String::from_utf8_lossy(&script))
        .err()
        .unwrap_or(exit::OK)
}

/// The tool's manual page, or one subcommand's.
fn man_page(subcommand: Option<&str>) -> i32 {
    let mut cmd = command().disable_help_subcommand(true);
    cmd.build();
    let page = match subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                eprintln!(
                    "error: `{name}` is not a subcommand (one of: {})",
                    names.join(", ")
                );
                return exit::USAGE;
            }
        },
    };
    let mut roff = Vec::new();
    let man = clap_mangen::Man::new(page).source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")));
    if let Err(e) = man.render(&mut roff) {
        return fail(&format!("cannot render the manual page: {e}"));
    }
    emit(&String::from_utf8_lossy(&roff))
        .err()
        .unwrap_or(exit::OK)
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn block_on(f: impl std::future::Future<Output = i32>) -> i32 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => fail(&format!("cannot start the async runtime: {e}")),
    }
}

/// The output of `plan`: a report, or code (with where it goes and the renderers' settings).
#[derive(Debug, Clone)]
pub enum PlanOutput {
    Report(Format),
    Code {
        format: crate::iac::IacFormat,
        dir: Option<PathBuf>,
        settings: crate::iac::Settings,
    },
}

impl PlanArgs {
    /// What to write, or why the options do not fit together (a usage error). `several`: the
    /// command plans more than one cluster.
    pub fn plan_output(&self, several: bool) -> Result<PlanOutput, String> {
        let format = match self.output.kind() {
            Ok(format) => {
                if self.iac_dir.is_some() {
                    return Err(
                        "--iac-dir goes with an infrastructure-as-code format: -o terraform, terraform-module, cloudformation or eksctl".into(),
                    );
                }
                if self.terraform_module.is_some() {
                    return Err("--terraform-module goes with -o terraform-module".into());
                }
                return Ok(PlanOutput::Report(format));
            }
            Err(code) => code,
        };
        let mut settings = crate::iac::Settings::default();
        if let Some(name) = &self.terraform_module {
            if format != crate::iac::IacFormat::TerraformModule {
                return Err("--terraform-module goes with -o terraform-module".into());
            }
            let mut chars = name.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(format!(
                    "--terraform-module {name:?} is not a Terraform module name (a letter or _, then letters, digits, _ or -)"
                ));
            }
            settings.module = name.clone();
        }
        if several && self.iac_dir.is_none() {
            return Err(format!(
                "-o {} writes the code of one cluster; for several clusters (a folder, several files or a fleet) add --iac-dir DIR, which gets one folder per cluster",
                format.name()
            ));
        }
        Ok(PlanOutput::Code {
            format,
            dir: self.iac_dir.clone(),
            settings,
        })
    }
}

/// A usage error: the message and clap's exit status.
pub(crate) fn usage(message: &str) -> i32 {
    eprintln!("error: {message}");
    exit::USAGE
}

/// One cluster's code: the folder name to use under `--iac-dir` and its files.
pub struct ClusterCode {
    pub cluster: String,
    /// The account and region of a live cluster (names a folder when two clusters share a name).
    pub place: Option<(String, String)>,
    pub files: Vec<crate::iac::File>,
}

/// Prints the one cluster's main file, or writes every cluster's files under `dir`
/// (DIR/CLUSTER/FILE) and lists them. A file of the format that this run does not write (an
/// import list when nothing exists any more) is removed, so no stale one is left beside the
/// new code. Returns an error message when the folders collide or a file cannot be written.
pub(crate) fn emit_code(
    codes: &[ClusterCode],
    format: crate::iac::IacFormat,
    dir: Option<&std::path::Path>,
) -> Result<(), String> {
    let Some(dir) = dir else {
        if let Some(main) = codes.first().and_then(|c| c.files.first()) {
            write_stdout(&main.text)?;
        }
        return Ok(());
    };
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for c in codes {
        *count.entry(c.cluster.as_str()).or_default() += 1;
    }
    let mut folders = Vec::new();
    let mut used = std::collections::HashSet::new();
    for c in codes {
        let name = match (&c.place, count[c.cluster.as_str()] > 1) {
            (Some((account, region)), true) => format!("{account}-{region}-{}", c.cluster),
            _ => c.cluster.clone(),
        };
        let name = folder_name(&name);
        if !used.insert(name.clone()) {
            return Err(format!(
                "two clusters would both be written to {}; plan them separately",
                dir.join(&name).display()
            ));
        }
        folders.push(dir.join(name));
    }
    let mut listing = String::new();
    for (c, folder) in codes.iter().zip(&folders) {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        let mut written = Vec::new();
        for f in &c.files {
            let path = folder.join(f.name);
            std::fs::write(&path, &f.text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written.push(path.display().to_string());
        }
        for stale in format.file_names() {
            let path = folder.join(stale);
            if !c.files.iter().any(|f| f.name == *stale) && path.is_file() {
                std::fs::remove_file(&path)
                    .map_err(|e| format!("cannot remove the stale {}: {e}", path.display()))?;
            }
        }
        listing.push_str(&format!("{}: {}\n", c.cluster, written.join(", ")));
    }
    write_stdout(&listing)
}

/// A folder name for a cluster: its name with anything but `[A-Za-z0-9._-]` replaced, never
/// `.` or `..`.
fn folder_name(cluster: &str) -> String {
    let mut s: String = cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the output: {e}"))
        }
        _ => Ok(()),
    }
}

fn run_plan(args: PlanArgs) -> i32 {
    let several = args.sources.len() > 1 || args.sources.iter().any(|s| s.is_dir());
    let output = match args.plan_output(several) {
        Ok(o) => o,
        Err(e) => return usage(&e),
    };
    let policy_map = match args.policy_map.as_deref().map(PolicyMap::load).transpose() {
        Ok(m) => m,
        Err(e) => return fail(&format!("--policy-map {e}")),
    };
    let role_paths = match args.role_paths.as_deref().map(RolePaths::load).transpose() {
        Ok(r) => r,
        Err(e) => return fail(&format!("--role-paths {e}")),
    };
    let options = Options {
        policy_map: policy_map.as_ref(),
        role_paths: role_paths.as_ref(),
        cluster_account: args.account.as_deref(),
        fargate_roles: None,
        nodegroup_roles: None,
        include_ineffective: args.include_ineffective,
    };
    let rbac = match args
        .rbac
        .as_deref()
        .map(crate::verify::rbac::Rbac::load)
        .transpose()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("--rbac {e}")),
    };
    let fleet = plan::plan_files_with_rbac(&args.sources, options, rbac.as_ref());
    eprint!("{}", report::render_errors(&fleet.errors));
    let written = match output {
        PlanOutput::Report(format) => write_stdout(&report::render(&fleet, format)),
        PlanOutput::Code {
            format,
            dir,
            settings,
        } => {
            let codes: Vec<ClusterCode> = fleet
                .clusters
                .iter()
                .map(|plan| ClusterCode {
                    cluster: plan.cluster.clone(),
                    place: None,
                    files: crate::iac::render(
                        &crate::iac::Input {
                            plan,
                            live: None,
                            errors: &fleet.errors,
                        },
                        format,
                        &settings,
                    ),
                })
                .collect();
            emit_code(&codes, format, dir.as_deref())
        }
    };
    if let Err(e) = written {
        return fail(&e);
    }
    if !fleet.errors.is_empty() {
        exit::ERROR
    } else if fleet.has_blockers() {
        exit::BLOCKERS
    } else {
        exit::OK
    }
}

/// Writes a command's output to stdout. A reader that went away (`| head`) ends the output
/// quietly; any other write error (a full disk behind `>`) is reported as an error.
pub(crate) fn emit(text: &str) -> Result<(), i32> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(fail(&format!("cannot write the output: {e}"))),
    }
}

/// One line of a live command's progress on stdout. Output problems never stop a run that is
/// changing a cluster half-way (the journal is what counts): the line is dropped instead.
pub(crate) fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

pub(crate) fn fail(message: &str) -> i32 {
    eprintln!("error: {message}");
    exit::ERROR
}
