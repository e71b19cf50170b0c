//! Diagnostic logs on stderr: `-v` shows the tool's own steps, `-vv` also the AWS SDK's and
//! kube-rs' requests, `-vvv` everything at trace level; `RUST_LOG` (tracing's `EnvFilter` syntax)
//! replaces what `-v` selects.
//!
//! Whatever the filter says, no credential reaches the log: the AWS SDK crates are capped at
//! debug, because at trace level they print HTTP bodies (AssumeRole's answer holds a secret key
//! and a session token) and the canonical requests they sign (a presigned EKS token's query holds
//! the session token). kube-rs logs no request header at any level, and the tool never logs a
//! token or a credential.

use std::io::IsTerminal as _;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

/// The filter `-v` repeated `verbosity` times selects. Without `-v`, only warnings of the tool
/// and of the SDK's configuration loading (a profile or setting it ignores) show: other crates'
/// warnings and errors are about requests the tool retries or reports itself (kube-rs logs an
/// error for every 5xx answer).
pub fn directives(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "off,aws_config=warn,aws_runtime=warn,aws_auth_migrate=warn",
        1 => "warn,aws_auth_migrate=info",
        // Targets match by prefix: `aws` is every AWS SDK crate, `kube` kube-rs.
        2 => "info,aws=debug,kube=debug,aws_auth_migrate=debug",
        _ => "trace",
    }
}

/// Whether an event or span of `target` at `level` may be logged at all, whatever the filter:
/// the AWS SDK crates (`aws_config`, `aws_sdk_*`, `aws_sigv4`, `aws_smithy_*`, `aws_runtime`…)
/// only up to debug.
pub fn allowed(target: &str, level: Level) -> bool {
    let sdk = target.starts_with("aws_") && !is_tool(target);
    !sdk || level <= Level::DEBUG
}

fn is_tool(target: &str) -> bool {
    target == "aws_auth_migrate" || target.starts_with("aws_auth_migrate::")
}

/// Colours on a terminal, unless `NO_COLOR` is set to something (no-color.org).
fn ansi(no_color: Option<&std::ffi::OsStr>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the stderr logger for the process. `RUST_LOG`, when set and valid, replaces the
/// filter of `verbosity`; colours only on a terminal and without `NO_COLOR`.
pub fn init(verbosity: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG is not a valid filter ({e}); using -v's");
            EnvFilter::new(directives(verbosity))
        }),
        _ => EnvFilter::new(directives(verbosity)),
    };
    let colours = ansi(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stderr().is_terminal(),
    );
    let layer = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colours)
        .with_filter(filter)
        .with_filter(filter_fn(|m: &Metadata<'_>| {
            allowed(m.target(), *m.level())
        }));
    // Only fails when a logger is already installed (a test calling this twice): keep that one.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_crates_are_capped_at_debug_and_the_tool_is_not() {
        for target in [
            "aws_sigv4::http_request::sign",
            "aws_smithy_runtime::client::orchestrator",
            "aws_smithy_runtime::client::orchestrator::http",
            "aws_config::sts::assume_role",
            "aws_runtime::env_config",
            "aws_sdk_sts::operation::assume_role",
        ] {
            assert!(!allowed(target, Level::TRACE), "{target}");
            assert!(allowed(target, Level::DEBUG), "{target}");
            assert!(allowed(target, Level::WARN), "{target}");
        }
        for target in [
            "aws_auth_migrate",
            "aws_auth_migrate::kubeapi",
            "kube_client::client::builder",
            "rustls::client::hs",
        ] {
            assert!(allowed(target, Level::TRACE), "{target}");
        }
        // Not the tool: a crate whose name only starts like it.
        assert!(!allowed("aws_auth_migrateish", Level::TRACE));
    }

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(ansi(None, true));
        assert!(ansi(Some(OsStr::new("")), true));
        assert!(!ansi(Some(OsStr::new("1")), true));
        assert!(!ansi(None, false));
    }

    #[test]
    fn each_v_adds_detail() {
        for v in 0..=4 {
            assert!(EnvFilter::try_new(directives(v)).is_ok(), "{v}");
        }
        assert!(directives(0).starts_with("off,"));
        assert!(directives(1).contains("aws_auth_migrate=info"));
        assert!(directives(2).contains("aws=debug") && directives(2).contains("kube=debug"));
        assert_eq!(directives(3), directives(7));
    }
}
