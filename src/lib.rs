//! aws-auth-migrate: move Amazon EKS clusters from the `aws-auth` ConfigMap to EKS access
//! entries.
//!
//! Data flows one way: sources → model → plan → report, then, for live clusters, the executor.
//! The offline core ([`source`], [`awsauth`], [`model`], [`plan`], [`verify`], [`report`],
//! [`iac`]) is pure and deterministic: nothing in it links tokio, the AWS SDK or kube. Only
//! [`live`] (the EKS, IAM, STS and Kubernetes clients, the live plan, the fleet file, snapshots)
//! and [`migrate`] (the stages, the journal, the lock, fleet runs) talk to the network; [`cli`]
//! wires the commands.

pub mod awsauth;
pub mod cli;
pub mod iac;
pub mod live;
pub mod migrate;
pub mod model;
pub mod plan;
pub mod report;
pub mod source;
pub mod verify;
