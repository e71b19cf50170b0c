//! Fault injection, seeded and reproducible.
//!
//! Every random decision is a pure function of (seed, fault kind, operation, scope, call index),
//! where the call index counts calls of that operation in that scope (a cluster or an
//! account+region). So the n-th `CreateAccessEntry` on cluster X gets the same fate in every run
//! with the same seed, however requests to *other* clusters interleave. Throttling is the one
//! time-based fault: a token bucket per account+region, as AWS throttles per account and region.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::world::{ClusterKey, splitmix64};

/// What to inject. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every AWS call (and Kubernetes call, where the Kubernetes half applies it).
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Token bucket per account+region; an empty bucket answers `ThrottlingException` (429).
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// Probability in [0, 1] of answering a 5xx (`ServerException` 500 / `ServiceUnavailableException` 503).
    #[serde(default)]
    pub server_error_rate: f64,
    /// Probability in [0, 1] of closing the connection without a response.
    #[serde(default)]
    pub drop_connection_rate: f64,
    /// Probability in [0, 1] of carrying the call out and then closing the connection without
    /// its response: the client cannot tell whether a mutation happened.
    #[serde(default)]
    pub drop_response_rate: f64,
    /// Probability in [0, 1] that an `UpdateClusterConfig` ends `Failed`.
    #[serde(default)]
    pub update_failure_rate: f64,
    /// After CreateAccessEntry, AssociateAccessPolicy on that entry answers 404 for a while.
    #[serde(default)]
    pub eventual_consistency: Option<EventualConsistency>,
    /// Probability in [0, 1] that another writer edits `aws-auth` between a client's read and its
    /// write (applied by the Kubernetes half on replace/patch, via [`Faults::concurrent_writer`]).
    #[serde(default)]
    pub concurrent_writer_rate: f64,
    /// Restrict the random faults (5xx, drops, throttling) to these operations, e.g.
    /// `["eks:AssociateAccessPolicy"]`; empty = all operations.
    #[serde(default)]
    pub operations: Vec<String>,
}

/// Per-call latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Latency {
    pub fixed_ms: u64,
    /// Uniform extra delay in [0, jitter_ms], seeded.
    #[serde(default)]
    pub jitter_ms: u64,
}

/// Token bucket parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Throttle {
    /// Tokens added per second.
    pub rate_per_sec: f64,
    /// Bucket size (and initial fill).
    pub burst: u32,
}

/// The eventual-consistency window after CreateAccessEntry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventualConsistency {
    /// 404 while the entry is younger than this (simulator clock).
    #[serde(default)]
    pub window_ms: u64,
    /// …and for this many AssociateAccessPolicy calls on the entry.
    #[serde(default)]
    pub calls: u32,
}

/// The fate of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    Throttle,
    /// Answer with this 5xx status (500 or 503).
    ServerError(u16),
    /// Close the connection without answering.
    Drop,
    /// Carry the call out, then close the connection without answering.
    DropResponse,
}

/// A decision for one call: wait `latency`, then `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub latency: Duration,
    pub outcome: Outcome,
}

/// Fault state: configuration, per-scope call indices and token buckets.
#[derive(Debug)]
pub struct Faults {
    seed: u64,
    config: Mutex<FaultConfig>,
    calls: Mutex<HashMap<(String, String), u64>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Faults {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            config: Mutex::new(FaultConfig::default()),
            calls: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the configuration and restarts call indices and buckets, so a test that
    /// configures faults gets the same sequence every time.
    pub fn configure(&self, config: FaultConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Index of this call of `op` in `scope` (0-based).
    fn next_index(&self, op: &str, scope: &str) -> u64 {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let n = calls
            .entry((op.to_string(), scope.to_string()))
            .or_default();
        let i = *n;
        *n += 1;
        i
    }

    /// A uniform number in [0, 1) for (kind, op, scope, index).
    fn roll(&self, kind: &str, op: &str, scope: &str, index: u64) -> f64 {
        let mut h = self.seed ^ 0xA076_1D64_78BD_642F;
        for part in [kind, op, scope] {
            for b in part.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
            }
            h = splitmix64(&mut h);
        }
        h ^= index;
        (splitmix64(&mut h) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Decides the fate of one call. `scope` is the cluster (`ACCOUNT/REGION/NAME`) when the call
    /// names one, else `ACCOUNT/REGION`; `bucket` is always `ACCOUNT/REGION`.
    pub fn decide(&self, op: &str, scope: &str, bucket: &str) -> Decision {
        let cfg = self.config();
        let index = self.next_index(op, scope);
        let latency = match &cfg.latency {
            Some(l) => {
                let jitter = if l.jitter_ms > 0 {
                    (self.roll("latency", op, scope, index) * (l.jitter_ms + 1) as f64) as u64
                } else {
                    0
                };
                Duration::from_millis(l.fixed_ms + jitter)
            }
            None => Duration::ZERO,
        };
        let applies = cfg.operations.is_empty() || cfg.operations.iter().any(|o| o == op);
        let outcome = if !applies {
            Outcome::Proceed
        } else if cfg.drop_connection_rate > 0.0
            && self.roll("drop", op, scope, index) < cfg.drop_connection_rate
        {
            Outcome::Drop
        } else if cfg.drop_response_rate > 0.0
            && self.roll("drop-response", op, scope, index) < cfg.drop_response_rate
        {
            Outcome::DropResponse
        } else if cfg.server_error_rate > 0.0
            && self.roll("5xx", op, scope, index) < cfg.server_error_rate
        {
            let status = if self.roll("5xx-kind", op, scope, index) < 0.5 {
                500
            } else {
                503
            };
            Outcome::ServerError(status)
        } else if cfg
            .throttle
            .as_ref()
            .is_some_and(|t| !self.take_token(bucket, t))
        {
            Outcome::Throttle
        } else {
            Outcome::Proceed
        };
        Decision { latency, outcome }
    }

    fn take_token(&self, bucket: &str, t: &Throttle) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let b = buckets.entry(bucket.to_string()).or_insert(Bucket {
            tokens: f64::from(t.burst),
            last: now,
        });
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * t.rate_per_sec).min(f64::from(t.burst));
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the next `UpdateClusterConfig` on this cluster ends `Failed`.
    pub fn update_fails(&self, cluster: &ClusterKey) -> bool {
        let rate = self.config().update_failure_rate;
        if rate <= 0.0 {
            return false;
        }
        let scope = cluster.to_string();
        let i = self.next_index("fault:update", &scope);
        self.roll("update", "fault:update", &scope, i) < rate
    }

    /// Whether a concurrent writer edits `aws-auth` before this write lands (the Kubernetes half
    /// asks once per replace/patch of `aws-auth`, then calls
    /// [`crate::world::ClusterState::apply_concurrent_aws_auth_edit`]).
    pub fn concurrent_writer(&self, cluster: &ClusterKey) -> bool {
        let rate = self.config().concurrent_writer_rate;
        if rate <= 0.0 {
            return false;
        }
        let scope = cluster.to_string();
        let i = self.next_index("fault:writer", &scope);
        self.roll("writer", "fault:writer", &scope, i) < rate
    }

    /// The eventual-consistency window to stamp on a new access entry.
    pub fn eventual_consistency(&self) -> Option<EventualConsistency> {
        self.config().eventual_consistency
    }
}
