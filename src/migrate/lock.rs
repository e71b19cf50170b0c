//! The cluster lock: a `coordination.k8s.io/v1` Lease in `kube-system`, so two runs that
//! change the same cluster refuse each other whichever machine, operator or CI job they come
//! from.
//!
//! A run takes the lock before its first change and renews it while it lasts (every third of
//! the lease's duration); it releases it at the end by clearing the holder. A second run meets
//! a lock held by someone else and refuses, saying who holds it and since when. A lock whose
//! holder stopped renewing it (the run died) is stale; it is taken over only when asked
//! (`--take-over-lock`), never silently. Every write carries the Lease's `resourceVersion`, so
//! of two runs racing for the same lock exactly one wins.
//!
//! A run that loses its lock (someone took it over, or renewals failed until it expired) is
//! told through [`LockHandle::lost`] and stops before its next change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;

use crate::live::kube::{KubeAccess, KubeError};

/// The Lease's name in `kube-system`.
pub const LEASE_NAME: &str = "aws-auth-migrate";
/// Annotation with the AWS principal of the holder (an ARN, never a credential).
pub const ANNOTATION_CALLER: &str = "aws-auth-migrate/caller-arn";
/// Annotation with the command the holder runs.
pub const ANNOTATION_COMMAND: &str = "aws-auth-migrate/command";

/// How long a lock lives without renewal (`AWS_AUTH_MIGRATE_LEASE_SECONDS`, default 60).
pub fn lease_duration() -> Duration {
    std::env::var("AWS_AUTH_MIGRATE_LEASE_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(Duration::from_secs(60), Duration::from_secs)
}

/// Who takes the lock.
#[derive(Debug, Clone)]
pub struct Holder {
    /// `user@host pid PID run RUN_ID`: readable by the operator who meets the lock.
    pub identity: String,
    pub caller_arn: String,
    pub command: String,
}

/// The host and process id in a holder identity this tool wrote.
fn host_and_pid(identity: &str) -> Option<(&str, u32)> {
    let (user_host, rest) = identity.split_once(" pid ")?;
    let host = user_host.split_once('@')?.1;
    let pid = rest.split_once(" run ")?.0.parse().ok()?;
    Some((host, pid))
}

/// Whether the lock's holder is a process of this machine that no longer exists (a run that
/// crashed here): then its lock is provably stale, whatever its renew time says. Only where
/// `/proc` tells; elsewhere the holder is presumed alive.
fn holder_died_here(identity: &str, our_identity: &str) -> bool {
    let (Some((host, pid)), Some((our_host, _))) =
        (host_and_pid(identity), host_and_pid(our_identity))
    else {
        return false;
    };
    host == our_host
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Holder {
    pub fn new(run_id: &str, caller_arn: &str, command: &str) -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown-host".into());
        Holder {
            identity: format!("{user}@{host} pid {} run {run_id}", std::process::id()),
            caller_arn: caller_arn.to_string(),
            command: command.to_string(),
        }
    }
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds it (or held it and stopped renewing: `stale`).
    #[error("{0}")]
    Held(String),
    #[error("the cluster lock (Lease kube-system/{LEASE_NAME}): {0}{hint}", hint = rbac_hint(.0))]
    Kube(#[from] KubeError),
}

fn rbac_hint(e: &KubeError) -> &'static str {
    if e.status() == Some(403) {
        "\n  the caller needs get, create and update on leases (coordination.k8s.io) in kube-system; cluster admins have them"
    } else {
        ""
    }
}

impl From<kube::Error> for LockError {
    fn from(e: kube::Error) -> Self {
        LockError::Kube(KubeError::Api(e))
    }
}

/// What a Lease says about its holder, read at one instant.
#[derive(Debug, Clone, PartialEq)]
pub enum LeaseState {
    Free,
    Held {
        holder: String,
        caller: Option<String>,
        command: Option<String>,
        since: Option<Timestamp>,
        renewed: Option<Timestamp>,
        expires: Option<Timestamp>,
    },
}

impl LeaseState {
    pub fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        let Some(holder) = spec.holder_identity.filter(|h| !h.is_empty()) else {
            return LeaseState::Free;
        };
        let annotations = lease.metadata.annotations.clone().unwrap_or_default();
        let renewed = spec.renew_time.or(spec.acquire_time.clone()).map(|t| t.0);
        let expires = match (renewed, spec.lease_duration_seconds) {
            (Some(r), Some(d)) => r.checked_add(SignedDuration::from_secs(d.into())).ok(),
            _ => None,
        };
        LeaseState::Held {
            holder,
            caller: annotations.get(ANNOTATION_CALLER).cloned(),
            command: annotations.get(ANNOTATION_COMMAND).cloned(),
            since: spec.acquire_time.map(|t| t.0),
            renewed,
            expires,
        }
    }

    pub fn holder(&self) -> Option<&str> {
        match self {
            LeaseState::Free => None,
            LeaseState::Held { holder, .. } => Some(holder),
        }
    }

    /// Held, and renewed recently enough that its holder is presumably alive. A Lease without
    /// a duration or renew time never goes stale by itself.
    pub fn is_live(&self, now: Timestamp) -> bool {
        match self {
            LeaseState::Free => false,
            LeaseState::Held { expires, .. } => expires.is_none_or(|e| e > now),
        }
    }

    /// A sentence for the operator who meets the lock.
    pub fn describe(&self, cluster: &str, now: Timestamp) -> String {
        match self {
            LeaseState::Free => format!("cluster {cluster} is not locked"),
            LeaseState::Held {
                holder,
                caller,
                command,
                since,
                renewed,
                ..
            } => {
                let mut s = format!("cluster {cluster} is locked by {holder}");
                if let Some(c) = caller {
                    s.push_str(&format!(" ({c})"));
                }
                if let Some(c) = command {
                    s.push_str(&format!(", running `{c}`"));
                }
                if let Some(t) = since {
                    s.push_str(&format!(", since {}", t.strftime("%Y-%m-%dT%H:%M:%SZ")));
                }
                if let Some(r) = renewed {
                    let ago = now.duration_since(*r).as_secs().max(0);
                    s.push_str(&format!(", last renewed {ago}s ago"));
                }
                s
            }
        }
    }
}

/// A lock held by this run. Renew it with [`Lock::renew_until_dropped`] while the run lasts
/// and [`Lock::release`] it at the end.
pub struct Lock {
    kube: Arc<KubeAccess>,
    lease: Lease,
    holder: Holder,
    duration: Duration,
    handle: LockHandle,
    taken_over: Option<String>,
}

/// Shared with the run: whether the lock was lost.
#[derive(Debug, Clone, Default)]
pub struct LockHandle {
    lost: Arc<AtomicBool>,
}

impl LockHandle {
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    fn mark_lost(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }
}

fn micro(t: Timestamp) -> MicroTime {
    MicroTime(t)
}

impl Lock {
    /// Takes the cluster's lock, or says who holds it. `take_over` takes a stale lock (its
    /// holder stopped renewing it); a live one is never taken.
    pub async fn acquire(
        kube: &Arc<KubeAccess>,
        cluster: &str,
        holder: Holder,
        take_over: bool,
    ) -> Result<Lock, LockError> {
        let api: Api<Lease> = Api::namespaced(kube.client().await?, "kube-system");
        let duration = lease_duration();
        let now = Timestamp::now();
        let wanted = |transitions: i32, resource_version: Option<String>| Lease {
            metadata: ObjectMeta {
                name: Some(LEASE_NAME.into()),
                namespace: Some("kube-system".into()),
                resource_version,
                annotations: Some(
                    [
                        (ANNOTATION_CALLER.to_string(), holder.caller_arn.clone()),
                        (ANNOTATION_COMMAND.to_string(), holder.command.clone()),
                    ]
                    .into(),
                ),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_string(),
                        "aws-auth-migrate".to_string(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.identity.clone()),
                lease_duration_seconds: Some(duration.as_secs().min(i32::MAX as u64) as i32),
                acquire_time: Some(micro(now)),
                renew_time: Some(micro(now)),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
        };
        let mut taken_over = None;
        let taken = match api.get_opt(LEASE_NAME).await? {
            None => match api.create(&PostParams::default(), &wanted(0, None)).await {
                Ok(l) => l,
                // Another run created it between our read and our write.
                Err(e) => return Err(lost_race(&api, cluster, e).await),
            },
            Some(current) => {
                let state = LeaseState::of(&current);
                if let LeaseState::Held { holder: h, .. } = &state {
                    let what = state.describe(cluster, now);
                    if holder_died_here(h, &holder.identity) {
                        taken_over = Some(format!(
                            "{what}: that process no longer runs on this machine, so its lock is taken over"
                        ));
                    } else if state.is_live(now) {
                        return Err(LockError::Held(format!(
                            "{what}; wait for that run to finish (the lock is released at its end)"
                        )));
                    } else if !take_over {
                        return Err(LockError::Held(format!(
                            "{what}: the lock is stale (not renewed within its {}s), so that run has probably died; \
                             check, then pass --take-over-lock to take it over",
                            current
                                .spec
                                .as_ref()
                                .and_then(|s| s.lease_duration_seconds)
                                .unwrap_or_default()
                        )));
                    } else {
                        taken_over = Some(format!("{what}: the stale lock is taken over"));
                    }
                }
                let transitions = current
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0)
                    .saturating_add(1);
                match api
                    .replace(
                        LEASE_NAME,
                        &PostParams::default(),
                        &wanted(transitions, current.metadata.resource_version.clone()),
                    )
                    .await
                {
                    Ok(l) => l,
                    // Someone else wrote it since our read: they won.
                    Err(e) => return Err(lost_race(&api, cluster, e).await),
                }
            }
        };
        Ok(Lock {
            kube: kube.clone(),
            lease: taken,
            holder,
            duration,
            handle: LockHandle::default(),
            taken_over,
        })
    }

    /// When the lock was taken from an earlier holder: who, and why that was safe.
    pub fn taken_over(&self) -> Option<&str> {
        self.taken_over.as_deref()
    }

    pub fn handle(&self) -> LockHandle {
        self.handle.clone()
    }

    /// Renews the lease once. A conflict means someone else wrote it: if they took it, the
    /// lock is lost.
    /// The Lease API with a fresh client (the EKS token of the first one expires long before a
    /// slow mode switch ends).
    async fn api(&self) -> Result<Api<Lease>, LockError> {
        Ok(Api::namespaced(self.kube.client().await?, "kube-system"))
    }

    async fn renew(&mut self) -> Result<(), LockError> {
        let api = self.api().await?;
        let mut next = self.lease.clone();
        if let Some(spec) = next.spec.as_mut() {
            spec.renew_time = Some(micro(Timestamp::now()));
        }
        match api.replace(LEASE_NAME, &PostParams::default(), &next).await {
            Ok(l) => {
                self.lease = l;
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
                match api.get_opt(LEASE_NAME).await? {
                    Some(current)
                        if current
                            .spec
                            .as_ref()
                            .and_then(|s| s.holder_identity.as_deref())
                            == Some(self.holder.identity.as_str()) =>
                    {
                        // Still ours (a write that did not change the holder): retry on it.
                        self.lease = current;
                        Box::pin(self.renew()).await
                    }
                    _ => {
                        self.handle.mark_lost();
                        Ok(())
                    }
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Renews the lock every third of its duration, forever (run it beside the work and drop
    /// it when the work ends). Failed renewals are retried at the next tick; once the lease
    /// has gone unrenewed for its whole duration the lock counts as lost.
    pub async fn renew_until_dropped(&mut self) {
        let period = (self.duration / 3).max(Duration::from_millis(200));
        let mut last_ok = std::time::Instant::now();
        loop {
            tokio::time::sleep(period).await;
            if self.handle.lost() {
                return;
            }
            match self.renew().await {
                Ok(()) => last_ok = std::time::Instant::now(),
                Err(_) => {
                    if last_ok.elapsed() >= self.duration {
                        self.handle.mark_lost();
                        return;
                    }
                }
            }
        }
    }

    /// Releases the lock: the holder is cleared (the Lease stays, as a record of the last
    /// transition). A lock that was lost meanwhile is left to its new holder.
    pub async fn release(mut self) -> Result<(), LockError> {
        if self.handle.lost() {
            return Ok(());
        }
        let api = self.api().await?;
        let mut next = self.lease.clone();
        if let Some(spec) = next.spec.as_mut() {
            spec.holder_identity = None;
            spec.renew_time = Some(micro(Timestamp::now()));
        }
        match api.replace(LEASE_NAME, &PostParams::default(), &next).await {
            Ok(l) => {
                self.lease = l;
                Ok(())
            }
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A write of the Lease failed: a conflict means another run wrote it first (and holds it now,
/// as the Lease says); anything else is an error of its own.
async fn lost_race(api: &Api<Lease>, cluster: &str, e: kube::Error) -> LockError {
    match e {
        kube::Error::Api(status) if status.code == 409 => match api.get(LEASE_NAME).await {
            Ok(current) => {
                LockError::Held(LeaseState::of(&current).describe(cluster, Timestamp::now()))
            }
            Err(e) => e.into(),
        },
        e => e.into(),
    }
}

/// Runs `work` while renewing `lock`, then releases it (also when the work failed). A failure
/// to release is reported on stderr: the lock then goes stale by itself.
pub async fn while_locked<T>(mut lock: Lock, work: impl std::future::Future<Output = T>) -> T {
    let out = {
        let renew = lock.renew_until_dropped();
        tokio::pin!(renew);
        tokio::pin!(work);
        tokio::select! {
            biased;
            out = &mut work => out,
            () = &mut renew => work.await,
        }
    };
    if let Err(e) = lock.release().await {
        eprintln!("warning: could not release the cluster lock ({e}); it expires by itself");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed_secs_ago: i64, duration: i32) -> (Lease, Timestamp) {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let renewed = now
            .checked_sub(SignedDuration::from_secs(renewed_secs_ago))
            .unwrap();
        let lease = Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_string),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(MicroTime(renewed)),
                renew_time: Some(MicroTime(renewed)),
                ..LeaseSpec::default()
            }),
        };
        (lease, now)
    }

    #[test]
    fn a_lease_is_live_until_its_duration_passes_unrenewed() {
        let (l, now) = lease(Some("alice@laptop run 1"), 10, 60);
        assert!(LeaseState::of(&l).is_live(now));
        let (l, now) = lease(Some("alice@laptop run 1"), 61, 60);
        assert!(!LeaseState::of(&l).is_live(now));
        let (l, now) = lease(None, 1, 60);
        assert_eq!(LeaseState::of(&l), LeaseState::Free);
        assert!(!LeaseState::of(&l).is_live(now));
        let (l, now) = lease(Some(""), 1, 60);
        assert_eq!(LeaseState::of(&l), LeaseState::Free);
        assert!(!LeaseState::of(&l).is_live(now));
    }

    #[test]
    fn only_a_dead_process_of_this_machine_loses_its_lock_at_once() {
        let me = format!("ops@here pid {} run r2", std::process::id());
        // This very process is alive.
        assert!(!holder_died_here(&me.replace("r2", "r1"), &me));
        // A pid that cannot exist (above the kernel's maximum).
        assert!(holder_died_here("ops@here pid 4294967295 run r1", &me));
        assert!(!holder_died_here(
            "ops@elsewhere pid 4294967295 run r1",
            &me
        ));
        assert!(!holder_died_here("someone else's text", &me));
    }

    #[test]
    fn the_refusal_names_the_holder_and_since_when() {
        let (l, now) = lease(Some("alice@laptop run 20261206T101010Z-1"), 12, 60);
        let text = LeaseState::of(&l).describe("prod", now);
        assert!(
            text.contains("alice@laptop run 20261206T101010Z-1"),
            "{text}"
        );
        assert!(text.contains("since 2027-01-15T07:59:48Z"), "{text}");
        assert!(text.contains("last renewed 12s ago"), "{text}");
    }
}
