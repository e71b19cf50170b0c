//! AWS configuration the way the AWS CLI does it: `aws-config` reads profiles, SSO, the
//! environment (including `AWS_ENDPOINT_URL_EKS`/`_IAM`/`_STS`), and `--role-arn` assumes a role
//! in the cluster's account on top of that.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The AWS options every live command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS region of the cluster (default: from the profile or AWS_REGION).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE or `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Role to assume in the cluster's account before doing anything.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
}

/// Why the AWS configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no AWS region: pass --region or set AWS_REGION")]
    NoRegion,
}

/// Loads the SDK configuration. Throttling, 5xx and dropped connections are retried by the SDK's
/// standard strategy with exponential backoff and jitter.
pub async fn sdk_config(args: &AwsArgs) -> Result<SdkConfig, ConfigError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    let base = loader.load().await;
    let Some(region) = base.region() else {
        return Err(ConfigError::NoRegion);
    };
    tracing::debug!(
        %region,
        profile = args.profile.as_deref(),
        role_arn = args.role_arn.as_deref(),
        "AWS configuration loaded"
    );
    let Some(role_arn) = &args.role_arn else {
        return Ok(base);
    };
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("aws-auth-migrate")
        .configure(&base)
        .build()
        .await;
    Ok(base
        .into_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build())
}

fn retry_config() -> RetryConfig {
    // Rehearsals against a local simulator can shorten the first backoff.
    let initial = std::env::var("AWS_AUTH_MIGRATE_INITIAL_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis);
    RetryConfig::standard()
        .with_max_attempts(10)
        .with_initial_backoff(initial)
        .with_max_backoff(Duration::from_secs(20))
}
