//! Terraform: `aws_eks_access_entry` and `aws_eks_access_policy_association` resources with
//! `import` blocks for what exists, or a local for the terraform-aws-eks module's
//! `access_entries` input with `import` blocks at the module's own addresses.
//!
//! The cluster name is written literally: `import` ids must be known when Terraform plans (a
//! literal works from Terraform 1.5 on). Import ids follow the AWS provider: `CLUSTER:PRINCIPAL`
//! for an entry, `CLUSTER#PRINCIPAL#POLICY` for an association.

use std::fmt::Write as _;

use super::{Entry, IacFormat, Model, comments, hcl_str, header};
use crate::model::AccessScope;

/// One line of an HCL body.
enum Item {
    /// `name = value` (value already HCL).
    Attr(String, String),
    /// `name = { … }` (an object constructor).
    Object(String, Vec<Item>),
    /// `name { … }` (a nested block).
    Block(String, Vec<Item>),
    Comment(Vec<String>),
    Blank,
}

fn attr(name: &str, value: String) -> Item {
    Item::Attr(name.to_string(), value)
}

fn write_body(items: &[Item], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    let mut i = 0;
    while i < items.len() {
        match &items[i] {
            Item::Attr(..) => {
                // `terraform fmt` aligns the `=` of consecutive attributes.
                let start = i;
                while i < items.len() && matches!(items[i], Item::Attr(..)) {
                    i += 1;
                }
                let width = items[start..i]
                    .iter()
                    .map(|it| match it {
                        Item::Attr(n, _) => n.len(),
                        _ => 0,
                    })
                    .max()
                    .unwrap_or(0);
                for it in &items[start..i] {
                    if let Item::Attr(n, v) = it {
                        let _ = writeln!(out, "{pad}{n:width$} = {v}");
                    }
                }
                continue;
            }
            Item::Object(name, body) if body.is_empty() => {
                let _ = writeln!(out, "{pad}{name} = {{}}");
            }
            Item::Object(name, body) => {
                let _ = writeln!(out, "{pad}{name} = {{");
                write_body(body, indent + 2, out);
                let _ = writeln!(out, "{pad}}}");
            }
            Item::Block(header, body) => {
                let _ = writeln!(out, "{pad}{header} {{");
                write_body(body, indent + 2, out);
                let _ = writeln!(out, "{pad}}}");
            }
            Item::Comment(lines) => out.push_str(&comments(lines, indent)),
            Item::Blank => out.push('\n'),
        }
        i += 1;
    }
}

fn block(header: String, body: Vec<Item>) -> String {
    let mut out = String::new();
    write_body(&[Item::Block(header, body)], 0, &mut out);
    out
}

fn list(values: &[String]) -> String {
    format!(
        "[{}]",
        values
            .iter()
            .map(|v| hcl_str(v))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn tags_object(e: &Entry) -> Vec<Item> {
    if e.tags.is_empty() {
        return Vec::new();
    }
    vec![
        Item::Blank,
        Item::Object(
            "tags".into(),
            e.tags
                .iter()
                .map(|(k, v)| Item::Attr(hcl_str(k), hcl_str(v)))
                .collect(),
        ),
    ]
}

fn import(to: &str, id: &str) -> String {
    block(
        "import".into(),
        vec![attr("to", to.to_string()), attr("id", hcl_str(id))],
    )
}

fn entry_import_id(model: &Model, e: &Entry) -> String {
    format!("{}:{}", model.cluster, e.principal_arn)
}

fn association_import_id(model: &Model, e: &Entry, policy_arn: &str) -> String {
    format!("{}#{}#{}", model.cluster, e.principal_arn, policy_arn)
}

/// Plain resources, each followed by its `import` block when it exists already.
pub(super) fn resources(model: &Model) -> String {
    let mut lines = header(model, IacFormat::Terraform);
    lines.push(String::new());
    lines.push(
        "Needs Terraform 1.5 or later (import blocks) and the hashicorp/aws provider. cluster_name is a literal because import ids must be known at plan time; point it at your cluster resource if you prefer.".into(),
    );
    let mut out = comments(&lines, 0);
    for e in &model.entries {
        out.push('\n');
        out.push_str(&comments(&e.notes, 0));
        let mut body = vec![
            attr("cluster_name", hcl_str(&model.cluster)),
            attr("principal_arn", hcl_str(&e.principal_arn)),
            attr("type", hcl_str(&e.entry_type)),
        ];
        if let Some(u) = &e.username {
            body.push(attr("user_name", hcl_str(u)));
        }
        if !e.groups.is_empty() {
            body.push(attr("kubernetes_groups", list(&e.groups)));
        }
        body.extend(tags_object(e));
        out.push_str(&block(
            format!("resource \"aws_eks_access_entry\" \"{}\"", e.key),
            body,
        ));
        if e.current.is_some() {
            out.push('\n');
            out.push_str(&import(
                &format!("aws_eks_access_entry.{}", e.key),
                &entry_import_id(model, e),
            ));
        }
        for p in &e.policies {
            let name = format!("{}_{}", e.key, p.key);
            out.push('\n');
            out.push_str(&block(
                format!("resource \"aws_eks_access_policy_association\" \"{name}\""),
                vec![
                    attr("cluster_name", hcl_str(&model.cluster)),
                    // A reference, so Terraform creates the entry first.
                    attr(
                        "principal_arn",
                        format!("aws_eks_access_entry.{}.principal_arn", e.key),
                    ),
                    attr("policy_arn", hcl_str(&p.policy_arn)),
                    Item::Blank,
                    Item::Block("access_scope".into(), scope_items(&p.scope)),
                ],
            ));
            if p.exists {
                out.push('\n');
                out.push_str(&import(
                    &format!("aws_eks_access_policy_association.{name}"),
                    &association_import_id(model, e, &p.policy_arn),
                ));
            }
        }
    }
    out
}

fn scope_items(scope: &AccessScope) -> Vec<Item> {
    match scope {
        AccessScope::Cluster => vec![attr("type", hcl_str("cluster"))],
        AccessScope::Namespace { namespaces } => vec![
            attr("type", hcl_str("namespace")),
            attr("namespaces", list(namespaces)),
        ],
    }
}

/// The name of the local holding the module's `access_entries`.
pub const MODULE_LOCAL: &str = "eks_access_entries";

/// A local for the terraform-aws-eks module's `access_entries`, with `import` blocks at the
/// addresses the module gives its resources (`aws_eks_access_entry.this[KEY]`,
/// `aws_eks_access_policy_association.this["KEY_POLICY"]`).
pub(super) fn module(model: &Model, module: &str) -> String {
    let mut lines = header(model, IacFormat::TerraformModule);
    lines.push(String::new());
    lines.push(format!(
        "For the terraform-aws-eks module block `module \"{module}\"`: set access_entries = local.{MODULE_LOCAL} and enable_cluster_creator_admin_permissions = false (an entry the cluster creator has is declared here like any other). Needs Terraform 1.5 or later (import blocks)."
    ));
    let mut out = comments(&lines, 0);
    let mut entries = Vec::new();
    for (i, e) in model.entries.iter().enumerate() {
        if i > 0 {
            entries.push(Item::Blank);
        }
        entries.push(Item::Comment(e.notes.clone()));
        let mut body = vec![
            attr("principal_arn", hcl_str(&e.principal_arn)),
            attr("type", hcl_str(&e.entry_type)),
        ];
        if let Some(u) = &e.username {
            body.push(attr("user_name", hcl_str(u)));
        }
        if !e.groups.is_empty() {
            body.push(attr("kubernetes_groups", list(&e.groups)));
        }
        body.extend(tags_object(e));
        if !e.policies.is_empty() {
            body.push(Item::Blank);
            body.push(Item::Object(
                "policy_associations".into(),
                e.policies
                    .iter()
                    .map(|p| {
                        Item::Object(
                            p.key.clone(),
                            vec![
                                attr("policy_arn", hcl_str(&p.policy_arn)),
                                Item::Blank,
                                Item::Object("access_scope".into(), scope_items(&p.scope)),
                            ],
                        )
                    })
                    .collect(),
            ));
        }
        entries.push(Item::Object(e.key.clone(), body));
    }
    out.push('\n');
    out.push_str(&block(
        "locals".into(),
        vec![Item::Object(MODULE_LOCAL.into(), entries)],
    ));
    for e in model.entries.iter().filter(|e| e.current.is_some()) {
        out.push('\n');
        out.push_str(&import(
            &format!(
                "module.{module}.aws_eks_access_entry.this[{}]",
                hcl_str(&e.key)
            ),
            &entry_import_id(model, e),
        ));
        for p in e.policies.iter().filter(|p| p.exists) {
            out.push('\n');
            out.push_str(&import(
                &format!(
                    "module.{module}.aws_eks_access_policy_association.this[{}]",
                    hcl_str(&format!("{}_{}", e.key, p.key))
                ),
                &association_import_id(model, e, &p.policy_arn),
            ));
        }
    }
    out
}
