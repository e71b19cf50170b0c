//! The fleet report: a table for the terminal, JSON for machines, markdown for a pull request
//! or a ticket, and a self-contained HTML page (no scripts, no fonts, no network) that a person
//! can open in a browser or attach to a change record.

use std::fmt::Write as _;

use super::fleet::{ClusterResult, FleetReport, Outcome};

/// Output formats of fleet commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFormat {
    Table,
    Json,
    Markdown,
    Html,
}

pub fn render(report: &FleetReport, format: FleetFormat) -> String {
    match format {
        FleetFormat::Table => table(report),
        FleetFormat::Json => {
            let mut s = serde_json::to_string_pretty(report).expect("reports serialize");
            s.push('\n');
            s
        }
        FleetFormat::Markdown => markdown(report),
        FleetFormat::Html => html(report),
    }
}

const ORDER: [Outcome; 6] = [
    Outcome::Done,
    Outcome::AlreadyDone,
    Outcome::Refused,
    Outcome::Locked,
    Outcome::Failed,
    Outcome::NotStarted,
];

/// `12 clusters to entries: 9 done, 1 already-done, 1 failed, 1 not-started`.
pub fn headline(report: &FleetReport) -> String {
    let counts: Vec<String> = ORDER
        .iter()
        .filter_map(|o| {
            let n = report.count(*o);
            (n > 0).then(|| format!("{n} {}", o.as_str()))
        })
        .collect();
    format!(
        "{} to {}: {}",
        crate::report::plural(report.clusters.len(), "cluster"),
        report.target,
        counts.join(", ")
    )
}

fn verification_text(c: &ClusterResult) -> String {
    match &c.verification {
        Some((true, d)) => format!("passed ({d})"),
        Some((false, d)) => format!("FAILED ({d})"),
        None => "-".into(),
    }
}

fn mode_text(c: &ClusterResult) -> String {
    match (&c.mode_before, &c.mode_after) {
        (Some(a), Some(b)) if a != b => format!("{a} -> {b}"),
        (_, Some(b)) => b.clone(),
        (Some(a), None) => a.clone(),
        (None, None) => "-".into(),
    }
}

fn table(report: &FleetReport) -> String {
    use tabled::settings::Style;
    #[derive(tabled::Tabled)]
    struct Row {
        #[tabled(rename = "WAVE")]
        wave: u32,
        #[tabled(rename = "CLUSTER")]
        cluster: String,
        #[tabled(rename = "ACCOUNT/REGION")]
        place: String,
        #[tabled(rename = "RESULT")]
        result: &'static str,
        #[tabled(rename = "MODE")]
        mode: String,
        #[tabled(rename = "BLOCKERS")]
        blockers: usize,
        #[tabled(rename = "VERIFICATION")]
        verification: String,
        #[tabled(rename = "DETAIL")]
        detail: String,
    }
    let rows = report.clusters.iter().map(|c| Row {
        wave: c.wave,
        cluster: c.name.clone(),
        place: format!(
            "{}/{}",
            c.account.as_deref().unwrap_or("?"),
            c.region.as_deref().unwrap_or("?")
        ),
        result: c.outcome.as_str(),
        mode: mode_text(c),
        blockers: c.blockers.len(),
        verification: verification_text(c),
        detail: first_line(&c.detail, 100),
    });
    let mut t = tabled::Table::new(rows);
    t.with(Style::blank());
    format!("{}\n\n{t}\n", headline(report))
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(report: &FleetReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Fleet migration: {}\n", md_cell(&headline(report)));
    let _ = writeln!(
        s,
        "Fleet file `{}`, run `{}`.\n",
        report.fleet.replace('`', "'"),
        report.run_id
    );
    let _ = writeln!(
        s,
        "| wave | cluster | account/region | result | mode | blockers | verification | detail |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for c in &report.clusters {
        let _ = writeln!(
            s,
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} |",
            c.wave,
            md_cell(&c.name),
            c.account.as_deref().unwrap_or("?"),
            c.region.as_deref().unwrap_or("?"),
            c.outcome.as_str(),
            md_cell(&mode_text(c)),
            c.blockers.len(),
            md_cell(&verification_text(c)),
            md_cell(&first_line(&c.detail, 200)),
        );
    }
    let with_blockers: Vec<&ClusterResult> = report
        .clusters
        .iter()
        .filter(|c| !c.blockers.is_empty())
        .collect();
    if !with_blockers.is_empty() {
        let _ = writeln!(s, "\n### Blockers\n");
        for c in with_blockers {
            for b in &c.blockers {
                let _ = writeln!(s, "- **{}**: {}", md_cell(&c.name), md_cell(b));
            }
        }
    }
    s
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1b1f24}\
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}\
th{background:#f6f8fa}.done,.already-done{background:#dafbe1}.refused,.not-started{background:#fff8c5}\
.failed,.locked{background:#ffebe9}details{margin:.2rem 0}pre{white-space:pre-wrap;margin:.3rem 0;font-size:.8rem}\
.counts span{display:inline-block;margin-right:1rem;padding:.2rem .5rem;border-radius:4px}";

fn html(report: &FleetReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>aws-auth-migrate fleet report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&report.fleet)
    );
    let _ = writeln!(
        s,
        "<h1>Fleet migration to <code>{}</code></h1>",
        escape(&report.target)
    );
    let _ = writeln!(
        s,
        "<p>Fleet file <code>{}</code>, run <code>{}</code>.</p>",
        escape(&report.fleet),
        escape(&report.run_id)
    );
    let _ = write!(s, "<p class=\"counts\" id=\"counts\">");
    for o in ORDER {
        let n = report.count(o);
        if n > 0 {
            let _ = write!(
                s,
                "<span class=\"{}\">{n} {}</span>",
                o.as_str(),
                o.as_str()
            );
        }
    }
    let _ = writeln!(s, "</p>");
    let _ = writeln!(
        s,
        "<table id=\"clusters\">\n<thead><tr><th>Wave</th><th>Cluster</th><th>Account/region</th>\
         <th>Result</th><th>Mode</th><th>Blockers</th><th>Verification (lost/gained)</th><th>Detail</th></tr></thead>\n<tbody>"
    );
    for c in &report.clusters {
        let blockers = if c.blockers.is_empty() {
            "0".to_string()
        } else {
            let items: String = c
                .blockers
                .iter()
                .map(|b| format!("<li>{}</li>", escape(b)))
                .collect();
            format!(
                "<details><summary>{}</summary><ul>{items}</ul></details>",
                c.blockers.len()
            )
        };
        let log = if c.log.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary>log</summary><pre>{}</pre></details>",
                escape(&c.log.join("\n"))
            )
        };
        let _ = writeln!(
            s,
            "<tr class=\"{result}\" data-cluster=\"{name}\"><td>{wave}</td><td>{name}</td><td>{acct}/{region}</td>\
             <td class=\"result\">{result}</td><td>{mode}</td><td>{blockers}</td><td>{verif}</td><td>{detail}{log}</td></tr>",
            result = c.outcome.as_str(),
            name = escape(&c.name),
            wave = c.wave,
            acct = escape(c.account.as_deref().unwrap_or("?")),
            region = escape(c.region.as_deref().unwrap_or("?")),
            mode = escape(&mode_text(c)),
            verif = escape(&verification_text(c)),
            detail = escape(&c.detail),
        );
    }
    let _ = writeln!(s, "</tbody>\n</table>\n</body>\n</html>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome) -> ClusterResult {
        ClusterResult {
            name: name.into(),
            region: Some("eu-west-1".into()),
            account: Some("111122223333".into()),
            wave: 1,
            outcome,
            mode_before: Some("CONFIG_MAP".into()),
            mode_after: Some("API_AND_CONFIG_MAP".into()),
            detail: "entries  3 created".into(),
            blockers: vec!["system-group: <script>alert(1)</script>".into()],
            verification: Some((true, "3 principals, 0 lost, 1 gained".into())),
            log: vec!["backup written".into()],
        }
    }

    fn report() -> FleetReport {
        FleetReport {
            schema: "aws-auth-migrate.fleet-report/v1",
            fleet: "fleet.yaml".into(),
            target: "entries".into(),
            run_id: "r1".into(),
            clusters: vec![
                result("prod", Outcome::Done),
                result("dev|x", Outcome::Failed),
            ],
        }
    }

    #[test]
    fn the_headline_counts_outcomes() {
        assert_eq!(
            headline(&report()),
            "2 clusters to entries: 1 done, 1 failed"
        );
    }

    #[test]
    fn html_escapes_everything_it_did_not_write() {
        let h = html(&report());
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        for outside in ["src=", "href=", "<link", "@import", "url(", "<script"] {
            assert!(
                !h.contains(outside),
                "{outside}: no network resources, no scripts"
            );
        }
        assert!(h.contains("<tr class=\"failed\" data-cluster=\"dev|x\">"));
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        let m = markdown(&report());
        assert!(m.contains("| dev\\|x |"), "{m}");
    }
}
