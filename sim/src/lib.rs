//! `eks-sim`: a local simulator of EKS, IAM, STS and the slice of the Kubernetes API that
//! `aws-auth-migrate` uses, speaking the real wire protocols on 127.0.0.1 so the tool's real
//! clients can be tested end to end. See `sim/README.md`.
//!
//! Start here: [`world`] (the model and the [`world::Sim`] handle), [`server`] (starting it).

pub mod counters;
pub mod eks;
pub mod faults;
pub mod iam;
pub mod server;
pub mod sigv4;
pub mod sts;
pub mod world;

pub use server::{SimServer, start};
pub use world::{Sim, World};
pub mod access_policy;
pub mod authmap;
pub mod kube;
pub mod rbac;
pub mod tls;
