use std::fmt::Write as _;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::{count_line, groups_cell, plural, policies_cell, severity_order, username_cell};
use crate::plan::translate::Action;
use crate::plan::{ClusterPlan, FleetPlan};

/// The plan as text tables: a fleet summary when there are several clusters, then each
/// cluster's mappings and findings (blockers first).
pub fn table(plan: &FleetPlan) -> String {
    let mut out = String::new();
    if plan.clusters.len() > 1 {
        out.push_str(&fleet_summary(plan));
        out.push('\n');
    }
    for (i, cluster) in plan.clusters.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&cluster_table(cluster));
    }
    out
}

fn fleet_summary(plan: &FleetPlan) -> String {
    let mut b = Builder::default();
    b.push_record([
        "CLUSTER", "MAPPINGS", "ENTRIES", "POLICIES", "KEPT", "WARNINGS", "BLOCKERS",
    ]);
    let mut total = [0usize; 6];
    for c in &plan.clusters {
        let s = &c.summary;
        let row = [
            s.effective_mappings,
            s.access_entries,
            s.policy_associations,
            s.kept,
            s.warnings,
            s.blockers,
        ];
        for (t, v) in total.iter_mut().zip(row) {
            *t += v;
        }
        let mut record = vec![c.cluster.clone()];
        record.extend(row.iter().map(ToString::to_string));
        b.push_record(record);
    }
    let mut record = vec![format!("total ({} clusters)", plan.clusters.len())];
    record.extend(total.iter().map(ToString::to_string));
    b.push_record(record);
    let mut t = b.build();
    t.with(Style::blank());
    let mut out = t.to_string();
    out.push('\n');
    if !plan.errors.is_empty() {
        let _ = writeln!(
            out,
            "{} input(s) could not be planned; see the errors on stderr",
            plan.errors.len()
        );
    }
    out
}

fn cluster_table(c: &ClusterPlan) -> String {
    let s = &c.summary;
    let mut out = String::new();
    let _ = writeln!(out, "Cluster {} ({})", c.cluster, c.source);
    let _ = writeln!(
        out,
        "  {} -> {}, {}, {} kept in aws-auth; {}",
        plural(s.effective_mappings, "effective mapping"),
        plural(s.access_entries, "access entry"),
        plural(s.policy_associations, "policy association"),
        s.kept,
        count_line(s.blockers, s.warnings, s.info)
    );
    let mut b = Builder::default();
    b.push_record([
        "ACTION",
        "FROM",
        "PRINCIPAL",
        "TYPE",
        "USERNAME",
        "GROUPS",
        "POLICIES",
    ]);
    for m in &c.mappings {
        let action = match m.action {
            Action::Create => "create",
            Action::Keep => "keep",
            Action::Skip => "skip",
        };
        let from = m.mapping.id.to_string();
        match &m.access_entry {
            Some(e) => b.push_record([
                action.to_string(),
                from,
                e.principal_arn.clone(),
                e.entry_type.to_string(),
                username_cell(e),
                groups_cell(e),
                policies_cell(e),
            ]),
            None => b.push_record([
                action.to_string(),
                from,
                m.mapping.arn.clone(),
                "-".into(),
                m.mapping.username.clone().unwrap_or_default(),
                m.mapping.groups.join(", "),
                String::new(),
            ]),
        }
    }
    if !c.mappings.is_empty() {
        let mut t = b.build();
        t.with(Style::blank());
        out.push('\n');
        for line in t.to_string().lines() {
            let _ = writeln!(out, "  {}", line.trim_end());
        }
    }
    if !c.findings.is_empty() {
        out.push('\n');
        let mut findings: Vec<_> = c.findings.iter().collect();
        findings.sort_by_key(|f| severity_order(f.severity));
        for f in findings {
            let place = match (&f.location, &f.mapping) {
                (Some(l), Some(m)) => format!("{l} ({m})"),
                (Some(l), None) => l.to_string(),
                (None, _) => "cluster".to_string(),
            };
            let _ = writeln!(
                out,
                "  {:<7}  {place}  [{}]",
                f.severity.to_string(),
                f.code
            );
            let _ = writeln!(out, "           {}", f.message);
        }
    }
    out
}
