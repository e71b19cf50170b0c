//! aws-auth-migrate: move Amazon EKS clusters from the `aws-auth` ConfigMap to EKS access
//! entries.
//!
//! Data flows one way: sources → model → plan → report. [`awsauth`] reads the ConfigMap the
//! way aws-iam-authenticator does, [`translate`] holds the translation rules, [`plan`] makes a
//! serialisable plan per cluster and [`report`] renders it.

pub mod access_policy;
pub mod arn;
pub mod aws;
pub mod awsauth;
pub mod cli;
pub mod commands;
pub mod eks;
pub mod findings;
pub mod fleet;
pub mod kubeapi;
pub mod live;
pub mod logging;
pub mod migrate;
pub mod model;
pub mod options;
pub mod parity;
pub mod plan;
pub mod rbac;
pub mod reconcile;
pub mod report;
pub mod snapshot;
pub mod source;
pub mod stages;
pub mod state;
pub mod token;
pub mod translate;
pub mod yaml;
pub mod yaml11;
