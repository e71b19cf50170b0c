use std::fmt::Write as _;

use super::{count_line, groups_cell, plural, policies_cell, severity_order, username_cell};
use crate::plan::FleetPlan;
use crate::plan::translate::Action;

/// The plan as GitHub-flavoured markdown, for a pull request comment.
pub fn markdown(plan: &FleetPlan) -> String {
    let mut out = String::from("# aws-auth migration plan\n\n");
    if plan.clusters.len() > 1 {
        out.push_str("| Cluster | Mappings | Entries | Policies | Kept | Warnings | Blockers |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for c in &plan.clusters {
            let s = &c.summary;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&c.cluster),
                s.effective_mappings,
                s.access_entries,
                s.policy_associations,
                s.kept,
                s.warnings,
                s.blockers
            );
        }
        out.push('\n');
    }
    for e in &plan.errors {
        let _ = writeln!(out, "> **error** `{}`: {}\n", e.location, cell(&e.message));
    }
    for c in &plan.clusters {
        let s = &c.summary;
        let _ = writeln!(out, "## {}\n", cell(&c.cluster));
        let _ = writeln!(
            out,
            "Source `{}`: {} → {}, {}, {} kept in aws-auth; {}.\n",
            c.source,
            plural(s.effective_mappings, "effective mapping"),
            plural(s.access_entries, "access entry"),
            plural(s.policy_associations, "policy association"),
            s.kept,
            count_line(s.blockers, s.warnings, s.info)
        );
        if !c.mappings.is_empty() {
            out.push_str("| Action | From | Principal | Type | Username | Groups | Policies |\n");
            out.push_str("|---|---|---|---|---|---|---|\n");
            for m in &c.mappings {
                let action = match m.action {
                    Action::Create => "create",
                    Action::Keep => "**keep**",
                    Action::Skip => "skip",
                };
                let row = match &m.access_entry {
                    Some(e) => [
                        code(&e.principal_arn),
                        e.entry_type.to_string(),
                        code(&username_cell(e)),
                        cell(&groups_cell(e)),
                        cell(&policies_cell(e)),
                    ],
                    None => [
                        code(&m.mapping.arn),
                        "–".into(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ],
                };
                let _ = writeln!(out, "| {action} | {} | {} |", m.mapping.id, row.join(" | "));
            }
            out.push('\n');
        }
        if !c.findings.is_empty() {
            let mut findings: Vec<_> = c.findings.iter().collect();
            findings.sort_by_key(|f| severity_order(f.severity));
            out.push_str("| Severity | Where | Code | Finding |\n|---|---|---|---|\n");
            for f in findings {
                let place = f
                    .location
                    .as_ref()
                    .map_or_else(|| "cluster".to_string(), |l| format!("`{l}`"));
                let _ = writeln!(
                    out,
                    "| {} | {place} | `{}` | {} |",
                    f.severity,
                    f.code,
                    cell(&f.message)
                );
            }
            out.push('\n');
        }
    }
    out
}

/// Escapes a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("`{}`", s.replace('`', "'").replace('|', "\\|"))
    }
}
