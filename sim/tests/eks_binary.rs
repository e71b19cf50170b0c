//! The `eks-sim serve` binary: it prints a usable environment, and the SDK works with it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;

#[tokio::test]
async fn serve_prints_the_environment_a_client_needs() {
    let out = tempfile::tempdir().unwrap();
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/world.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_eks-sim"))
        .args(["serve", "--world", world, "--seed", "3", "--out"])
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut env = HashMap::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let (k, v) = line
            .strip_prefix("export ")
            .unwrap()
            .split_once('=')
            .unwrap();
        env.insert(k.to_string(), v.to_string());
        if k == "KUBECONFIG" {
            break;
        }
    }
    let url = env["AWS_ENDPOINT_URL_EKS"].clone();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(env["AWS_ENDPOINT_URL_IAM"], url);
    assert_eq!(env["AWS_ENDPOINT_URL_STS"], url);
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "AKIAPLATFORMADMIN001");
    let ca = std::fs::read_to_string(&env["EKS_SIM_CA_FILE"]).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let kubeconfig = std::fs::read_to_string(&env["KUBECONFIG"]).unwrap();
    assert!(kubeconfig.contains("/clusters/111122223333/us-east-1/prod"));

    let cfg = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&url)
        .region(aws_config::Region::new(env["AWS_REGION"].clone()))
        .credentials_provider(Credentials::new(
            &env["AWS_ACCESS_KEY_ID"],
            &env["AWS_SECRET_ACCESS_KEY"],
            None,
            None,
            "env",
        ))
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    let eks = aws_sdk_eks::Client::new(&cfg);
    let clusters = eks.list_clusters().send().await;
    // Stop the child we started before asserting, so a failure does not leak it.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(clusters.unwrap().clusters(), ["prod", "staging"]);
}
