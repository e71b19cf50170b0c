//! Renderers for plans: a table for people (default), JSON and YAML for machines (the
//! versioned schema in docs/plan-schema.md), markdown for pull requests.

mod markdown;
mod table;

use std::fmt::Write as _;

use crate::model::{AccessEntry, Severity};
use crate::plan::{FleetPlan, InputError};

pub use markdown::markdown;
pub use table::table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
    Markdown,
}

/// What `plan -o` writes: a report of the plan, or the plan as infrastructure as code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
    Yaml,
    Markdown,
    /// `aws_eks_access_entry` and `aws_eks_access_policy_association` resources.
    Terraform,
    /// The terraform-aws-eks module's `access_entries`.
    TerraformModule,
    /// `AWS::EKS::AccessEntry` resources.
    Cloudformation,
    /// The `accessConfig` of an eksctl ClusterConfig.
    Eksctl,
}

impl PlanFormat {
    /// The report format, or the kind of code.
    pub fn kind(self) -> Result<Format, crate::iac::IacFormat> {
        use crate::iac::IacFormat;
        match self {
            PlanFormat::Table => Ok(Format::Table),
            PlanFormat::Json => Ok(Format::Json),
            PlanFormat::Yaml => Ok(Format::Yaml),
            PlanFormat::Markdown => Ok(Format::Markdown),
            PlanFormat::Terraform => Err(IacFormat::Terraform),
            PlanFormat::TerraformModule => Err(IacFormat::TerraformModule),
            PlanFormat::Cloudformation => Err(IacFormat::CloudFormation),
            PlanFormat::Eksctl => Err(IacFormat::Eksctl),
        }
    }
}

/// Renders `plan` in `format`.
pub fn render(plan: &FleetPlan, format: Format) -> String {
    match format {
        Format::Table => table(plan),
        Format::Markdown => markdown(plan),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(plan).expect("plans serialize");
            s.push('\n');
            s
        }
        Format::Yaml => serde_saphyr::to_string(plan).expect("plans serialize"),
    }
}

/// Input errors as a compiler prints them: location, message, the line and a caret.
pub fn render_errors(errors: &[InputError]) -> String {
    let mut out = String::new();
    for e in errors {
        let _ = writeln!(out, "error: {}: {}", e.location, e.message);
        out.push_str(&e.snippet);
    }
    out
}

/// What a column shows for an entry's username.
fn username_cell(e: &AccessEntry) -> String {
    match (&e.username, e.entry_type.is_node()) {
        (_, true) => "(set by EKS)".into(),
        (Some(u), false) => u.clone(),
        (None, false) => "(EKS default)".into(),
    }
}

fn groups_cell(e: &AccessEntry) -> String {
    e.kubernetes_groups.join(", ")
}

fn policies_cell(e: &AccessEntry) -> String {
    e.access_policies
        .iter()
        .map(|p| format!("{} ({})", p.policy_name(), p.access_scope))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1 access entry`, `2 access entries`, `0 blockers`.
pub fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("{n} {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        _ => format!("{n} {word}s"),
    }
}

fn count_line(blockers: usize, warnings: usize, info: usize) -> String {
    format!(
        "{}, {}, {info} info",
        plural(blockers, "blocker"),
        plural(warnings, "warning")
    )
}

fn severity_order(s: Severity) -> u8 {
    match s {
        Severity::Blocker => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}
