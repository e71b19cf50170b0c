//! Live planning of many clusters: a fleet file lists them, each is read with its own AWS
//! settings, a few at a time, and one failure does not stop the others.

use std::path::Path;

use futures::StreamExt;
use serde::Deserialize;

use crate::live::aws::AwsArgs;
use crate::live::{Cluster, LivePlan, plan_cluster};
use crate::plan::InputError;
use crate::plan::options::{PolicyMap, RolePaths};
use crate::source::Location;

/// A fleet file:
///
/// ```yaml
/// clusters:
///   - name: prod
///     region: eu-west-1
///     roleArn: arn:aws:iam::111122223333:role/migrator   # optional, per cluster
///     profile: prod                                      # optional
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    pub clusters: Vec<FleetCluster>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FleetCluster {
    pub name: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// For `migrate --fleet`: the wave the cluster belongs to (waves run in ascending order;
    /// default 1).
    #[serde(default)]
    pub wave: Option<u32>,
}

impl FleetCluster {
    /// The AWS settings of this cluster: its own, else the command line's.
    pub fn aws(&self, defaults: &AwsArgs) -> AwsArgs {
        AwsArgs {
            region: self.region.clone().or_else(|| defaults.region.clone()),
            profile: self.profile.clone().or_else(|| defaults.profile.clone()),
            role_arn: self.role_arn.clone().or_else(|| defaults.role_arn.clone()),
        }
    }

    /// Connects to this cluster with its AWS settings.
    pub async fn connect(&self, defaults: &AwsArgs) -> Result<Cluster, crate::live::LiveError> {
        let sdk = crate::live::aws::sdk_config(&self.aws(defaults)).await?;
        Cluster::connect(&self.name, sdk, None, None).await
    }
}

/// The line of `text` (a fleet file) that names cluster `name`, 1 when none does.
pub fn cluster_line(text: &str, name: &str) -> u32 {
    let names = |line: &str| {
        let Some(value) = line
            .trim_start()
            .trim_start_matches("- ")
            .strip_prefix("name:")
        else {
            return false;
        };
        let value = value.split(" #").next().unwrap_or_default().trim();
        value.trim_matches(|c| c == '"' || c == '\'') == name
    };
    text.lines().position(names).map_or(1, |i| i as u32 + 1)
}

impl Fleet {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--fleet {}: {e}", path.display()))?;
        let fleet: Fleet = serde_saphyr::from_str(&text)
            .map_err(|e| format!("--fleet {}: {e}", path.display()))?;
        if fleet.clusters.is_empty() {
            return Err(format!(
                "--fleet {}: the file lists no clusters",
                path.display()
            ));
        }
        Ok(fleet)
    }
}

/// Plans every cluster of `fleet`, at most `concurrency` at a time, in the file's order.
pub async fn plan(
    fleet: &Fleet,
    path: &Path,
    defaults: &AwsArgs,
    policy_map: Option<&PolicyMap>,
    role_paths: Option<&RolePaths>,
    include_ineffective: bool,
    concurrency: usize,
) -> (Vec<LivePlan>, Vec<InputError>) {
    let results: Vec<Result<LivePlan, String>> = futures::stream::iter(fleet.clusters.iter())
        .map(|c| async move {
            let mut cluster = c.connect(defaults).await.map_err(|e| e.to_string())?;
            plan_cluster(&mut cluster, policy_map, role_paths, include_ineffective)
                .await
                .map_err(|e| e.to_string())
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for (c, result) in fleet.clusters.iter().zip(results) {
        // Point at the cluster's line in the fleet file.
        let line = cluster_line(&text, &c.name);
        match result {
            Ok(p) => {
                errors.extend(p.errors.iter().cloned());
                plans.push(p);
            }
            Err(message) => errors.push(InputError {
                location: Location {
                    file: path.display().to_string().into(),
                    line,
                    column: 1,
                },
                message: format!("cluster {}: {message}", c.name),
                snippet: String::new(),
            }),
        }
    }
    (plans, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_found_at_its_name_line() {
        let text = "clusters:\n  - name: prod-eu # the first\n  - name: prod\n    region: x\n  - region: y\n    name: \"ghost\"\n";
        assert_eq!(cluster_line(text, "prod-eu"), 2);
        assert_eq!(cluster_line(text, "prod"), 3, "not the line of prod-eu");
        assert_eq!(cluster_line(text, "ghost"), 6);
        assert_eq!(cluster_line(text, "absent"), 1);
    }

    #[test]
    fn a_cluster_s_own_settings_win_over_the_command_line() {
        let c = FleetCluster {
            name: "prod".into(),
            region: Some("eu-west-1".into()),
            role_arn: None,
            profile: None,
            wave: None,
        };
        let defaults = AwsArgs {
            region: Some("us-east-1".into()),
            profile: Some("ops".into()),
            role_arn: Some("arn:aws:iam::1:role/r".into()),
        };
        let aws = c.aws(&defaults);
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(aws.profile.as_deref(), Some("ops"));
        assert_eq!(aws.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
    }
}
