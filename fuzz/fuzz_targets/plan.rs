//! Any bytes, read as an aws-auth file, planned and rendered in every format: no panic, and every
//! error has a location.
#![no_main]

use aws_auth_migrate::plan::{FleetPlan, SCHEMA, plan_source};
use aws_auth_migrate::report::{self, Format};
use aws_auth_migrate::source::SourceFile;
use aws_auth_migrate::plan::translate::Options;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let source = SourceFile::new("fuzz.yaml", text);
    let (plan, errors) = plan_source("fuzz", &source, Options::default());
    for e in &errors {
        assert!(e.location.line >= 1 && e.location.column >= 1);
    }
    let fleet = FleetPlan { schema: SCHEMA, clusters: plan.into_iter().collect(), errors };
    for format in [Format::Table, Format::Json, Format::Yaml, Format::Markdown] {
        let _ = report::render(&fleet, format);
    }
});
