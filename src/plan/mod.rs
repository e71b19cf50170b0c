//! Plans: what the tool would do to each cluster, as a value that can be shown, saved,
//! compared and (later) executed.

pub mod options;
pub mod reconcile;
pub mod translate;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::awsauth::{self, KeyError};
use crate::model::findings;
use crate::model::{Finding, Severity};
use crate::source::{Location, SourceFile};
use translate::{Action, Options, PlannedMapping};

/// Identifies the JSON/YAML document format; bumped on any incompatible change.
pub const SCHEMA: &str = "aws-auth-migrate.plan/v1";

/// The plan of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPlan {
    pub cluster: String,
    pub source: String,
    pub summary: Summary,
    pub mappings: Vec<PlannedMapping>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Entries of aws-auth the authenticator acts on.
    pub effective_mappings: usize,
    pub access_entries: usize,
    pub policy_associations: usize,
    /// Mappings left in aws-auth.
    pub kept: usize,
    pub info: usize,
    pub warnings: usize,
    pub blockers: usize,
}

/// A file that could not be planned, or a key that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputError {
    pub location: Location,
    pub message: String,
    /// The offending line with a caret, for terminals.
    #[serde(skip)]
    pub snippet: String,
}

/// Plans of several clusters plus the inputs that failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetPlan {
    pub schema: &'static str,
    pub clusters: Vec<ClusterPlan>,
    pub errors: Vec<InputError>,
}

impl FleetPlan {
    pub fn has_blockers(&self) -> bool {
        self.clusters.iter().any(|c| c.summary.blockers > 0)
    }
}

/// Plans one aws-auth ConfigMap held in `source`.
pub fn plan_source(
    cluster: &str,
    source: &SourceFile,
    options: Options<'_>,
) -> (Option<ClusterPlan>, Vec<InputError>) {
    plan_source_with_rbac(cluster, source, options, None)
}

/// [`plan_source`], plus findings from the cluster's RBAC when it is known.
pub fn plan_source_with_rbac(
    cluster: &str,
    source: &SourceFile,
    options: Options<'_>,
    rbac: Option<&crate::verify::rbac::Rbac>,
) -> (Option<ClusterPlan>, Vec<InputError>) {
    let auth = match awsauth::read(source) {
        Ok(auth) => auth,
        Err(e) => {
            return (None, vec![input_error(source, e.location, e.message)]);
        }
    };
    let errors: Vec<InputError> = auth
        .key_errors
        .iter()
        .map(|KeyError { location, message }| {
            input_error(source, location.clone(), message.clone())
        })
        .collect();
    let mut translation = translate::translate(&auth, options);
    let mut findings = auth.findings;
    findings.extend(translation.findings);
    if let Some(rbac) = rbac {
        let rbac_findings = crate::verify::rbac::analyze(&translation.mappings, rbac);
        // An entry whose new username orphans a `kind: User` binding would cut that access the
        // moment it exists (the entry takes precedence over aws-auth), so the mapping stays in
        // aws-auth until the bindings are updated.
        for f in rbac_findings
            .iter()
            .filter(|f| f.code == "rbac-user-orphaned")
        {
            if let Some(m) = translation
                .mappings
                .iter_mut()
                .find(|m| Some(m.mapping.id) == f.mapping)
            {
                m.action = translate::Action::Keep;
                m.access_entry = None;
            }
        }
        findings.extend(rbac_findings);
    }
    // Stable order: by place in the file, then cluster-wide findings last.
    findings.sort_by(|a, b| match (&a.location, &b.location) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let summary = summarize(&translation.mappings, &findings);
    let plan = ClusterPlan {
        cluster: cluster.to_string(),
        source: source.name().to_string(),
        summary,
        mappings: translation.mappings,
        findings,
    };
    (Some(plan), errors)
}

fn input_error(source: &SourceFile, location: Location, message: String) -> InputError {
    InputError {
        snippet: crate::source::render_snippet(source, &location),
        location,
        message,
    }
}

fn summarize(mappings: &[PlannedMapping], findings: &[Finding]) -> Summary {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    Summary {
        effective_mappings: mappings.iter().filter(|m| m.action != Action::Skip).count(),
        access_entries: mappings.iter().filter(|m| m.access_entry.is_some()).count(),
        policy_associations: mappings
            .iter()
            .filter_map(|m| m.access_entry.as_ref())
            .map(|e| e.access_policies.len())
            .sum(),
        kept: mappings.iter().filter(|m| m.action == Action::Keep).count(),
        info: count(Severity::Info),
        warnings: count(Severity::Warning),
        blockers: count(Severity::Blocker),
    }
}

/// Expands files and folders into the list of files to plan: a folder contributes its
/// `.yaml`, `.yml` and `.json` files (not recursively), sorted by name.
pub fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let fail = |path: &Path, message: String| InputError {
        location: Location {
            file: path.display().to_string().into(),
            line: 1,
            column: 1,
        },
        message,
        snippet: String::new(),
    };
    for input in inputs {
        if input.is_dir() {
            match std::fs::read_dir(input) {
                Ok(entries) => {
                    let mut found: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_file()
                                && p.extension()
                                    .and_then(|e| e.to_str())
                                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                        })
                        .collect();
                    found.sort();
                    if found.is_empty() {
                        errors.push(fail(
                            input,
                            "the folder holds no .yaml, .yml or .json file".into(),
                        ));
                    }
                    files.extend(found);
                }
                Err(e) => errors.push(fail(input, format!("cannot read the folder: {e}"))),
            }
        } else {
            files.push(input.clone());
        }
    }
    (files, errors)
}

/// The cluster name a file stands for: its name without the extension.
pub fn cluster_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Plans every file; unreadable files become errors and the rest are still planned.
pub fn plan_files(inputs: &[PathBuf], options: Options<'_>) -> FleetPlan {
    plan_files_with_rbac(inputs, options, None)
}

/// [`plan_files`] with the clusters' exported RBAC (`--rbac`).
pub fn plan_files_with_rbac(
    inputs: &[PathBuf],
    options: Options<'_>,
    rbac: Option<&crate::verify::rbac::Rbac>,
) -> FleetPlan {
    let (files, mut errors) = expand_inputs(inputs);
    let mut clusters = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let offset = e.utf8_error().valid_up_to();
                    let valid = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
                    let source = SourceFile::new(name.as_str(), valid);
                    let location = source.location_of_offset(offset);
                    errors.push(input_error(
                        &source,
                        location,
                        "the file is not UTF-8 text".into(),
                    ));
                    continue;
                }
            },
            Err(e) => {
                errors.push(InputError {
                    location: Location {
                        file: name.into(),
                        line: 1,
                        column: 1,
                    },
                    message: format!("cannot read the file: {e}"),
                    snippet: String::new(),
                });
                continue;
            }
        };
        let source = SourceFile::new(name.as_str(), text);
        let (plan, errs) = plan_source_with_rbac(&cluster_name(&path), &source, options, rbac);
        errors.extend(errs);
        clusters.extend(plan);
    }
    FleetPlan {
        schema: SCHEMA,
        clusters,
        errors,
    }
}

/// Keeps the catalogue honest: a finding's code must be catalogued.
pub fn is_catalogued(f: &Finding) -> bool {
    findings::lookup(f.code).is_some()
}
