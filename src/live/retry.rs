//! The one backoff loop of the tool's own retries (the AWS SDK has its own for throttling, 5xx
//! and dropped connections): EKS's eventual consistency after a create, IAM's propagation delay,
//! and SubjectAccessReviews the API server throttles.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Attempts in all, the first included.
    pub attempts: u32,
}

impl Backoff {
    /// Runs `call` until it succeeds, fails with an error `retryable` does not accept, or the
    /// attempts run out; the delay doubles up to `max_delay`.
    pub async fn run<T, E, F, Fut>(
        &self,
        retryable: impl Fn(&E) -> bool,
        mut call: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(e) if retryable(&e) && attempt < self.attempts => {
                    tracing::info!(
                        attempt,
                        of = self.attempts,
                        delay_ms = delay.as_millis() as u64,
                        "retrying after a retryable error"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick(attempts: u32) -> Backoff {
        Backoff {
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            attempts,
        }
    }

    #[tokio::test]
    async fn retries_what_is_retryable_until_the_attempts_run_out() {
        let calls = Cell::new(0);
        let r: Result<(), &str> = quick(3)
            .run(
                |e| *e == "again",
                || {
                    calls.set(calls.get() + 1);
                    async { Err("again") }
                },
            )
            .await;
        assert_eq!((r, calls.get()), (Err("again"), 3));

        let calls = Cell::new(0);
        let r: Result<u32, &str> = quick(5)
            .run(
                |e| *e == "again",
                || {
                    calls.set(calls.get() + 1);
                    let n = calls.get();
                    async move { if n < 3 { Err("again") } else { Ok(n) } }
                },
            )
            .await;
        assert_eq!(r, Ok(3));

        let calls = Cell::new(0);
        let r: Result<(), &str> = quick(5)
            .run(
                |e| *e == "again",
                || {
                    calls.set(calls.get() + 1);
                    async { Err("fatal") }
                },
            )
            .await;
        assert_eq!((r, calls.get()), (Err("fatal"), 1));
    }
}
