//! Carrying a plan out on live clusters: the cluster lock and fleet runs. (The per-cluster
//! stages live in `crate::stages` for now.)

pub mod fleet;
pub mod lock;
pub mod report;

use crate::eks::AuthenticationMode;
use crate::state::{Event, Record};

/// Where a cluster stands, from its mode and its journal.
pub fn stage_summary(
    mode: Option<AuthenticationMode>,
    records: &[Record],
    backups: &[std::path::PathBuf],
) -> &'static str {
    let entries_done = records
        .iter()
        .any(|r| r.stage == "entries" && matches!(r.event, Event::Done { .. }));
    match mode {
        Some(AuthenticationMode::Api) => "api: done (aws-auth is no longer consulted)",
        Some(AuthenticationMode::ApiAndConfigMap) if entries_done => {
            "entries: access entries reconciled; next: verify, then api"
        }
        Some(AuthenticationMode::ApiAndConfigMap) => "dual: both sources active; next: entries",
        Some(AuthenticationMode::ConfigMap) if !backups.is_empty() => "backup: taken; next: dual",
        Some(AuthenticationMode::ConfigMap) => "not started",
        None => "unknown mode",
    }
}
