//! CloudFormation: a template of `AWS::EKS::AccessEntry` resources with their `AccessPolicies`.
//!
//! CloudFormation cannot create an entry that exists. Entries already on the cluster are
//! brought into a stack by a resource import first: `import.yaml` declares them as they are
//! (with `DeletionPolicy: Retain`, which an import requires) and `resources-to-import.json`
//! names them by their primary identifier (`ClusterName`, `PrincipalArn`). The main template
//! then describes every entry as the plan wants it, for the stack update that follows.

use super::{Entry, File, IacFormat, Model, Yaml, camel, comments, header, unique};
use crate::model::AccessScope;

/// The template (and, when entries exist already, the import template and the import list).
pub(super) fn render(model: &Model) -> Vec<File> {
    let ids = logical_ids(model);
    let imported: Vec<(&Entry, &String)> = model
        .entries
        .iter()
        .zip(&ids)
        .filter(|(e, _)| e.current.is_some())
        .collect();
    let list = resources_to_import(model, &imported);
    let mut lines = header(model, IacFormat::CloudFormation);
    lines.push(String::new());
    lines.push(format!(
        "The ClusterName parameter defaults to {}.",
        model.cluster
    ));
    if !imported.is_empty() {
        lines.push(
            "The entries with DeletionPolicy Retain exist already: CloudFormation cannot create them, so they are imported before the stack update that uses this template."
                .into(),
        );
        lines.push(
            "1. IMPORT change set: the template import.yaml (those entries as they are now; for an existing stack add them to its current template) with resources-to-import.json, e.g."
                .into(),
        );
        lines.push(
            "   aws cloudformation create-change-set --change-set-type IMPORT --stack-name STACK --change-set-name import-access-entries --template-body file://import.yaml --resources-to-import file://resources-to-import.json"
                .into(),
        );
        lines.push("2. UPDATE the stack with this template (it creates the rest and applies the planned changes).".into());
        lines.push("`aws-auth-migrate plan ... -o cloudformation --iac-dir DIR` writes both files; resources-to-import.json holds:".into());
        for item in &list {
            lines.push(format!(
                "  {}",
                serde_json::to_string(item).expect("JSON values serialize")
            ));
        }
    }
    let mut files = vec![File {
        name: "access-entries.yaml",
        text: template(model, &ids, &lines, false),
    }];
    if !imported.is_empty() {
        let import_lines = vec![
            format!(
                "The entries of cluster {} that exist already, as they are now: import them with resources-to-import.json before updating the stack with access-entries.yaml.",
                model.cluster
            ),
            "Written by aws-auth-migrate.".into(),
        ];
        files.push(File {
            name: "import.yaml",
            text: template(model, &ids, &import_lines, true),
        });
        let mut json = serde_json::to_string_pretty(&list).expect("JSON values serialize");
        json.push('\n');
        files.push(File {
            name: "resources-to-import.json",
            text: json,
        });
    }
    files
}

/// `AccessEntryEksAdmin`: logical ids are alphanumeric, so they come from the keys in camel case.
fn logical_ids(model: &Model) -> Vec<String> {
    let candidates: Vec<Vec<String>> = model
        .entries
        .iter()
        .map(|e| vec![format!("AccessEntry{}", camel(&e.key))])
        .collect();
    // A numeric suffix is `_N`; logical ids take digits only.
    unique(&candidates)
        .into_iter()
        .map(|id| id.replace('_', ""))
        .collect()
}

fn resources_to_import(model: &Model, imported: &[(&Entry, &String)]) -> Vec<serde_json::Value> {
    imported
        .iter()
        .map(|(e, id)| {
            serde_json::json!({
                "ResourceType": "AWS::EKS::AccessEntry",
                "LogicalResourceId": id,
                "ResourceIdentifier": {
                    "ClusterName": model.cluster,
                    "PrincipalArn": e.principal_arn,
                },
            })
        })
        .collect()
}

/// A template of the model's entries: as planned, or (`as_they_are`) only the existing ones
/// as the cluster has them, tags included, so the import records the truth.
fn template(model: &Model, ids: &[String], notes: &[String], as_they_are: bool) -> String {
    let mut resources = Vec::new();
    for (e, id) in model.entries.iter().zip(ids) {
        let resource = match (&e.current, as_they_are) {
            (Some(current), true) => {
                let mut values = properties(
                    &current.entry_type,
                    current.username.as_deref(),
                    &current.kubernetes_groups,
                    &current
                        .access_policies
                        .iter()
                        .map(|p| (p.policy_arn.as_str(), &p.access_scope))
                        .collect::<Vec<_>>(),
                    &current
                        .tags
                        .iter()
                        .filter(|(k, _)| !k.starts_with("aws:"))
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                );
                values.insert(1, ("PrincipalArn", Yaml::str(&current.principal_arn)));
                resource(values, true)
            }
            (None, true) => continue,
            (_, false) => {
                let mut values = properties(
                    &e.entry_type,
                    e.username.as_deref(),
                    &e.groups,
                    &e.policies
                        .iter()
                        .map(|p| (p.policy_arn.as_str(), &p.scope))
                        .collect::<Vec<_>>(),
                    &e.tags
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                );
                values.insert(1, ("PrincipalArn", Yaml::str(&e.principal_arn)));
                resource(values, e.current.is_some())
            }
        };
        let notes = if as_they_are {
            Vec::new()
        } else {
            e.notes.clone()
        };
        resources.push((notes, id.clone(), resource));
    }
    let doc = Yaml::map(vec![
        ("AWSTemplateFormatVersion", Yaml::str("2010-09-09")),
        (
            "Description",
            Yaml::str(&format!(
                "EKS access entries of cluster {} (aws-auth-migrate)",
                model.cluster
            )),
        ),
        (
            "Parameters",
            Yaml::map(vec![(
                "ClusterName",
                Yaml::map(vec![
                    ("Type", Yaml::str("String")),
                    ("Default", Yaml::str(&model.cluster)),
                    (
                        "Description",
                        Yaml::str("The EKS cluster the access entries belong to"),
                    ),
                ]),
            )]),
        ),
        ("Resources", Yaml::Map(resources)),
    ]);
    let mut out = comments(notes, 0);
    doc.write(0, &mut out);
    out
}

fn resource(properties: Vec<(&str, Yaml)>, retain: bool) -> Yaml {
    let mut values = vec![("Type", Yaml::str("AWS::EKS::AccessEntry"))];
    if retain {
        // An import requires it, and deleting the stack must not cut the principal off.
        values.push(("DeletionPolicy", Yaml::str("Retain")));
        values.push(("UpdateReplacePolicy", Yaml::str("Retain")));
    }
    values.push(("Properties", Yaml::map(properties)));
    Yaml::map(values)
}

/// The properties of one entry; `PrincipalArn` is inserted second by the caller.
fn properties<'a>(
    entry_type: &str,
    username: Option<&str>,
    groups: &[String],
    policies: &[(&str, &AccessScope)],
    tags: &[(&str, &str)],
) -> Vec<(&'a str, Yaml)> {
    let node = entry_type != "STANDARD";
    let mut values = vec![
        ("ClusterName", Yaml::Scalar("!Ref ClusterName".into())),
        ("Type", Yaml::str(entry_type)),
    ];
    if !node {
        if let Some(u) = username {
            values.push(("Username", Yaml::str(u)));
        }
        if !groups.is_empty() {
            values.push(("KubernetesGroups", Yaml::strs(groups)));
        }
        if !policies.is_empty() {
            values.push((
                "AccessPolicies",
                Yaml::List(
                    policies
                        .iter()
                        .map(|(arn, scope)| {
                            Yaml::map(vec![
                                ("PolicyArn", Yaml::str(arn)),
                                ("AccessScope", access_scope(scope)),
                            ])
                        })
                        .collect(),
                ),
            ));
        }
    }
    if !tags.is_empty() {
        values.push((
            "Tags",
            Yaml::List(
                tags.iter()
                    .map(|(k, v)| Yaml::map(vec![("Key", Yaml::str(k)), ("Value", Yaml::str(v))]))
                    .collect(),
            ),
        ));
    }
    values
}

fn access_scope(scope: &AccessScope) -> Yaml {
    match scope {
        AccessScope::Cluster => Yaml::map(vec![("Type", Yaml::str("cluster"))]),
        AccessScope::Namespace { namespaces } => Yaml::map(vec![
            ("Type", Yaml::str("namespace")),
            ("Namespaces", Yaml::strs(namespaces)),
        ]),
    }
}
