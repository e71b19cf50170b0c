//! `eks-sim serve --world FILE [--seed N] [--out DIR]`: starts the simulator on 127.0.0.1 and
//! prints the environment a client needs (endpoints, region, credentials, CA file, kubeconfig).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eks_sim::Sim;
use eks_sim::world::ClusterKey;

#[derive(Parser)]
#[command(
    name = "eks-sim",
    version,
    about = "A local simulator of EKS, IAM, STS and the Kubernetes API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a world until interrupted.
    Serve {
        /// The YAML world fixture (see sim/testdata/world.yaml).
        #[arg(long)]
        world: PathBuf,
        /// Seed of generated ids and fault decisions.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write ca.pem and kubeconfig (default: a new folder under the temp dir).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eks-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { world, seed, out } => {
            let sim = Sim::from_yaml_file(&world, seed).map_err(|e| e.to_string())?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            rt.block_on(serve(sim, out))
        }
    }
}

async fn serve(sim: Sim, out: Option<PathBuf>) -> Result<(), String> {
    let server = eks_sim::start(sim.clone())
        .await
        .map_err(|e| e.to_string())?;
    let dir = match out {
        Some(d) => d,
        None => std::env::temp_dir().join(format!(
            "eks-sim-{}",
            server.aws_url().rsplit(':').next().unwrap_or("0")
        )),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, server.ca_pem())
        .map_err(|e| format!("cannot write {}: {e}", ca_file.display()))?;
    let kubeconfig = dir.join("kubeconfig");
    let keys = sim.cluster_keys();
    std::fs::write(&kubeconfig, kubeconfig_yaml(&server, &keys, &ca_file))
        .map_err(|e| format!("cannot write {}: {e}", kubeconfig.display()))?;

    let caller = sim.default_caller().and_then(|k| sim.access_key(&k));
    // The region holding most of the caller's clusters (ties: alphabetical).
    let account = caller
        .as_ref()
        .and_then(|k| sim.identity_for_key(&k.id))
        .map(|who| who.account);
    let mut per_region = std::collections::BTreeMap::<&str, usize>::new();
    for k in keys.iter().filter(|k| Some(&k.account) == account.as_ref()) {
        *per_region.entry(k.region.as_str()).or_default() += 1;
    }
    let region = per_region
        .iter()
        .rev()
        .max_by_key(|(_, n)| **n)
        .map(|(r, _)| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_string());
    let url = server.aws_url();
    println!("export AWS_ENDPOINT_URL_EKS={url}");
    println!("export AWS_ENDPOINT_URL_IAM={url}");
    println!("export AWS_ENDPOINT_URL_STS={url}");
    println!("export AWS_REGION={region}");
    // The AWS CLI v1 and older SDKs read only this one.
    println!("export AWS_DEFAULT_REGION={region}");
    if let Some(k) = &caller {
        println!("export AWS_ACCESS_KEY_ID={}", k.id);
        println!("export AWS_SECRET_ACCESS_KEY={}", k.secret);
    }
    println!("export EKS_SIM_CA_FILE={}", ca_file.display());
    println!("export KUBECONFIG={}", kubeconfig.display());
    eprintln!(
        "eks-sim: serving {} cluster(s); AWS APIs at {url}, Kubernetes at {}; counters at {url}/_sim/counters. Ctrl-C stops.",
        keys.len(),
        server.kube_base()
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    Ok(())
}

/// One context per cluster, named `ACCOUNT/REGION/NAME`; users get tokens from
/// `aws eks get-token`, which signs with the printed credentials and STS endpoint.
fn kubeconfig_yaml(server: &eks_sim::SimServer, keys: &[ClusterKey], ca_file: &Path) -> String {
    let mut clusters = String::new();
    let mut contexts = String::new();
    let mut users = String::new();
    for k in keys {
        let name = format!("{}/{}/{}", k.account, k.region, k.name);
        clusters.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {}\n    certificate-authority: {}\n",
            server.kube_endpoint(k),
            ca_file.display()
        ));
        contexts.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        ));
        users.push_str(&format!(
            "- name: {name}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n      args: [eks, get-token, --cluster-name, {}, --region, {}, --output, json]\n      interactiveMode: Never\n",
            k.name, k.region
        ));
    }
    let current = keys
        .first()
        .map(|k| format!("{}/{}/{}", k.account, k.region, k.name))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: \"{current}\"\nclusters:\n{clusters}contexts:\n{contexts}users:\n{users}"
    )
}
