//! Command-line definitions (clap) and their wiring to the library.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::options::{PolicyMap, RolePaths};
use crate::plan;
use crate::report::{self, Format};
use crate::translate::Options;

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
}

/// Move Amazon EKS clusters from the aws-auth ConfigMap to EKS access entries, safely.
#[derive(Debug, Parser)]
#[command(name = "aws-auth-migrate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what the migration would do: read aws-auth exactly as EKS does and translate every
    /// mapping into access entries, or say why it cannot be carried over. Offline; no AWS
    /// credentials needed.
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// aws-auth ConfigMaps as `kubectl get configmap aws-auth -n kube-system -o yaml` (or
    /// `-o json`) writes them, one file per cluster; a folder means every .yaml, .yml and
    /// .json file in it. The cluster is named after the file.
    #[arg(required = true, value_name = "SOURCE")]
    pub sources: Vec<PathBuf>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub output: Format,

    /// YAML file mapping Kubernetes groups to access policies and scopes (see README).
    #[arg(long, value_name = "FILE")]
    pub policy_map: Option<PathBuf>,

    /// YAML file giving the IAM paths of roles (`roles: {NAME or ACCOUNT:NAME: /path/}`),
    /// which aws-auth role ARNs cannot carry.
    #[arg(long, value_name = "FILE")]
    pub role_paths: Option<PathBuf>,

    /// The clusters' AWS account id, to check that node roles live in it.
    #[arg(long, value_name = "ACCOUNT_ID", value_parser = parse_account)]
    pub account: Option<String>,
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
        Command::Plan(args) => run_plan(args),
    }
}

fn run_plan(args: PlanArgs) -> i32 {
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
    };
    let fleet = plan::plan_files(&args.sources, options);
    eprint!("{}", report::render_errors(&fleet.errors));
    let rendered = report::render(&fleet, args.output);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return fail(&format!("cannot write the plan: {e}"));
    }
    if !fleet.errors.is_empty() {
        exit::ERROR
    } else if fleet.has_blockers() {
        exit::BLOCKERS
    } else {
        exit::OK
    }
}

fn fail(message: &str) -> i32 {
    eprintln!("error: {message}");
    exit::ERROR
}
