//! Call counters per operation and per cluster, so tests and benchmarks can see how many calls a
//! tool made (e.g. that a plan costs N DescribeAccessEntry calls, or that a retry happened).

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::world::ClusterKey;

/// Counters of calls; every request the AWS or Kubernetes server handles is counted once, before
/// faults are applied (a throttled call is still a call).
#[derive(Debug, Default)]
pub struct Counters {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default, Clone)]
struct Inner {
    by_operation: BTreeMap<String, u64>,
    by_cluster: BTreeMap<ClusterKey, BTreeMap<String, u64>>,
    by_outcome: BTreeMap<String, u64>,
}

/// A point-in-time copy of the counters (also what `GET /_sim/counters` returns as JSON).
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CounterSnapshot {
    /// Operation name (`eks:CreateAccessEntry`, `sts:AssumeRole`, `kube:get configmaps`…) → calls.
    pub by_operation: BTreeMap<String, u64>,
    /// `ACCOUNT/REGION/NAME` → operation → calls.
    pub by_cluster: BTreeMap<String, BTreeMap<String, u64>>,
    /// Error code (or `ok`) → responses.
    pub by_outcome: BTreeMap<String, u64>,
}

impl CounterSnapshot {
    /// Calls of one operation (0 if never called).
    pub fn operation(&self, op: &str) -> u64 {
        self.by_operation.get(op).copied().unwrap_or(0)
    }

    /// Calls of one operation on one cluster.
    pub fn cluster_operation(&self, key: &ClusterKey, op: &str) -> u64 {
        self.by_cluster
            .get(&key.to_string())
            .and_then(|m| m.get(op))
            .copied()
            .unwrap_or(0)
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.by_operation.values().sum()
    }
}

impl Counters {
    /// Counts one call of `operation`, optionally against a cluster.
    pub fn record(&self, operation: &str, cluster: Option<&ClusterKey>) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *g.by_operation.entry(operation.to_string()).or_default() += 1;
        if let Some(k) = cluster {
            if !g.by_cluster.contains_key(k) {
                g.by_cluster.insert(k.clone(), BTreeMap::new());
            }
            if let Some(m) = g.by_cluster.get_mut(k) {
                *m.entry(operation.to_string()).or_default() += 1;
            }
        }
    }

    /// Counts a response by its error code (`ok` for success).
    pub fn record_outcome(&self, code: &str) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *g.by_outcome.entry(code.to_string()).or_default() += 1;
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        CounterSnapshot {
            by_operation: g.by_operation.clone(),
            by_cluster: g
                .by_cluster
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            by_outcome: g.by_outcome.clone(),
        }
    }

    /// Calls of one operation so far.
    pub fn get(&self, operation: &str) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.by_operation.get(operation).copied().unwrap_or(0)
    }

    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = Inner::default();
    }
}
