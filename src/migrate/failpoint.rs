//! Test hook, compiled only with the `failpoints` feature (the test suite enables it; release
//! builds never have it): `AWS_AUTH_MIGRATE_FAILPOINT=STAGE:POINT[:N]` aborts the process
//! there, the N-th time for numbered points, so crash-and-resume is tested deterministically.

use super::state::Step;

/// `STAGE:POINT` (the first time).
pub(super) fn hit(stage: Step, point: &str) {
    hit_n(stage, point, 1);
}

/// `STAGE:POINT:N`.
#[cfg(feature = "failpoints")]
pub(super) fn hit_n(stage: Step, point: &str, n: usize) {
    let Ok(spec) = std::env::var("AWS_AUTH_MIGRATE_FAILPOINT") else {
        return;
    };
    let mut parts = spec.split(':');
    let (s, p, count) = (
        parts.next(),
        parts.next(),
        parts.next().and_then(|c| c.parse().ok()).unwrap_or(1),
    );
    if s == Some(stage.name()) && p == Some(point) && count == n {
        eprintln!("failpoint {spec}: aborting");
        std::process::abort();
    }
}

#[cfg(not(feature = "failpoints"))]
pub(super) fn hit_n(_stage: Step, _point: &str, _n: usize) {}
