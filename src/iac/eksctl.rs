//! eksctl: a ClusterConfig whose `accessConfig` holds the authentication mode and the access
//! entries to create, for `eksctl utils update-authentication-mode -f` and
//! `eksctl create accessentry -f`.
//!
//! eksctl creates entries but cannot take over or change existing ones, so entries already on
//! the cluster are listed as comments with what differs, not as entries it would fail to create.

use super::{Entry, IacFormat, Model, Yaml, comments, header};
use crate::model::AccessScope;

pub(super) fn render(model: &Model) -> String {
    let mut lines = header(model, IacFormat::Eksctl);
    lines.push(String::new());
    lines.push(format!(
        "With eksctl: `eksctl utils update-authentication-mode -f FILE` (the dual stage), then `eksctl create accessentry -f FILE`. The mode is {} here; leave the switch to API to `aws-auth-migrate migrate --to api`, which checks the gate first.",
        model.target_mode()
    ));
    let mut out = comments(&lines, 0);
    let mut metadata = vec![(Vec::new(), "name".to_string(), Yaml::str(&model.cluster))];
    match &model.live {
        Some(l) => metadata.push((Vec::new(), "region".into(), Yaml::str(&l.region))),
        None => {
            metadata[0].0.push(
                "metadata.region: add the cluster's region (an offline plan does not know it)"
                    .into(),
            );
        }
    }
    let (existing, create): (Vec<&Entry>, Vec<&Entry>) =
        model.entries.iter().partition(|e| e.current.is_some());
    let mut existing_notes = Vec::new();
    if !existing.is_empty() {
        existing_notes.push(
            "On the cluster already, so not listed (eksctl create accessentry cannot take over an entry; what it changes is left to `aws-auth-migrate migrate --to entries` or the AWS CLI):"
                .to_string(),
        );
        for e in &existing {
            existing_notes.push(format!("  {} ({})", e.principal_arn, e.entry_type));
            for n in &e.notes {
                existing_notes.push(format!("    {n}"));
            }
        }
    }
    let doc = Yaml::Map(vec![
        (
            Vec::new(),
            "apiVersion".into(),
            Yaml::str("eksctl.io/v1alpha5"),
        ),
        (Vec::new(), "kind".into(), Yaml::str("ClusterConfig")),
        (Vec::new(), "metadata".into(), Yaml::Map(metadata)),
        (
            Vec::new(),
            "accessConfig".into(),
            Yaml::Map(vec![
                (
                    Vec::new(),
                    "authenticationMode".into(),
                    Yaml::str(model.target_mode()),
                ),
                (
                    existing_notes,
                    "accessEntries".into(),
                    Yaml::List(create.iter().map(|e| entry(e)).collect()),
                ),
            ]),
        ),
    ]);
    doc.write(0, &mut out);
    out
}

fn entry(e: &Entry) -> Yaml {
    let mut values = vec![
        (
            e.notes.clone(),
            "principalARN".to_string(),
            Yaml::str(&e.principal_arn),
        ),
        (Vec::new(), "type".into(), Yaml::str(&e.entry_type)),
    ];
    if let Some(u) = &e.username {
        values.push((Vec::new(), "kubernetesUsername".into(), Yaml::str(u)));
    }
    if !e.groups.is_empty() {
        values.push((Vec::new(), "kubernetesGroups".into(), Yaml::strs(&e.groups)));
    }
    if !e.policies.is_empty() {
        values.push((
            Vec::new(),
            "accessPolicies".into(),
            Yaml::List(
                e.policies
                    .iter()
                    .map(|p| {
                        Yaml::map(vec![
                            ("policyARN", Yaml::str(&p.policy_arn)),
                            ("accessScope", scope(&p.scope)),
                        ])
                    })
                    .collect(),
            ),
        ));
    }
    Yaml::Map(values)
}

fn scope(scope: &AccessScope) -> Yaml {
    match scope {
        AccessScope::Cluster => Yaml::map(vec![("type", Yaml::str("cluster"))]),
        AccessScope::Namespace { namespaces } => Yaml::map(vec![
            ("type", Yaml::str("namespace")),
            ("namespaces", Yaml::strs(namespaces)),
        ]),
    }
}
