//! The repository documents itself: no file points at notes outside it, every relative link in
//! its markdown leads to a file (and heading) that exists, and every `docs/PAGE.md#anchor` that
//! code cites names a real page and section.
//!
//! Headings become anchors by GitHub's rule: lower case, spaces to `-`, punctuation dropped, and
//! `-1`, `-2`… appended to repeated headings.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Files checked for references to notes outside the repository.
const TEXT_EXTENSIONS: [&str; 6] = ["rs", "md", "py", "yaml", "yml", "toml"];

/// Notes that lived next to the repository but are not part of it. Spelt in pieces so that this
/// file does not name them itself.
const OUTSIDE: [&str; 7] = [
    concat!("domain", ".md"),
    concat!("shared", "/docs"),
    concat!("..", "/shared"),
    concat!("design", ".md"),
    concat!("peers", ".md"),
    concat!("style", ".md"),
    concat!("field", "-tutorials"),
];

/// Directories that are never part of the repository (see .gitignore), for the walk used when
/// git is not available.
const UNTRACKED_DIRS: [&str; 7] = [
    ".git",
    "target",
    ".state",
    ".ci/venv",
    "fuzz/target",
    "fuzz/corpus",
    "fuzz/artifacts",
];

/// Every file of the repository: what git tracks plus new files it does not ignore, or, without
/// git, a walk that skips the ignored directories.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    let mut files: Vec<PathBuf> = match git {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect(),
        _ => {
            let mut found = Vec::new();
            walk(root, Path::new(""), &mut found);
            found
        }
    };
    // A file deleted but not yet committed is still listed by git.
    files.retain(|p| root.join(p).is_file() && !p.starts_with("target"));
    files.sort();
    files
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let rel = dir.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !UNTRACKED_DIRS.iter().any(|d| rel == Path::new(d)) {
                walk(root, &rel, out);
            }
        } else if kind.is_file() {
            out.push(rel);
        }
    }
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e))
}

/// `(line, name)` of every mention of a note outside the repository, ignoring case. A name that
/// starts with a letter only counts as a whole word.
fn outside_references(text: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let lower = line.to_lowercase();
        for name in OUTSIDE {
            let whole_word = name.starts_with(|c: char| c.is_ascii_alphanumeric());
            let hit = lower.match_indices(name).any(|(at, _)| {
                !whole_word
                    || !lower[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
            });
            if hit {
                found.push((n + 1, name));
            }
        }
    }
    found
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, everything but letters, digits, `-`
/// and `_` dropped.
fn slug(heading: &str) -> String {
    let text = plain_text(heading);
    let mut out = String::new();
    for c in text.trim().to_lowercase().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else if c == ' ' {
            out.push('-');
        }
    }
    out
}

/// The text a heading renders as: code spans without their backticks, links as their text.
fn plain_text(markdown: &str) -> String {
    let without_code = markdown.replace('`', "");
    let mut out = String::new();
    let mut rest = without_code.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find("](").and_then(|close| {
            after[close + 2..]
                .find(')')
                .map(|end| (close, close + 2 + end))
        }) {
            Some((close, end)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `line` with its code spans blanked out (a span opened by N backticks closes at the next run of
/// exactly N), so that link syntax inside code is not taken for a link.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&c| c == '`').count();
        let mut j = i + run;
        let mut closed = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let r = chars[j..].iter().take_while(|&&c| c == '`').count();
                if r == run {
                    closed = Some(j + r);
                    break;
                }
                j += r;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => {
                out.extend(std::iter::repeat_n(' ', end - i));
                i = end;
            }
            None => {
                // An unmatched run is literal text.
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// What a markdown file offers and points to.
#[derive(Debug, Default)]
struct Markdown {
    anchors: BTreeSet<String>,
    /// `(line, target)` of every inline link, image and reference definition.
    links: Vec<(usize, String)>,
}

fn parse_markdown(text: &str) -> Markdown {
    let mut md = Markdown::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut fence: Option<(char, usize)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        let indent = raw.len() - line.len();
        let fence_run = |c: char| line.chars().take_while(|&x| x == c).count();
        if let Some((c, len)) = fence {
            if fence_run(c) >= len && line.trim_end().chars().all(|x| x == c) {
                fence = None;
            }
            continue;
        }
        if indent <= 3 {
            let (ticks, tildes) = (fence_run('`'), fence_run('~'));
            if ticks >= 3 {
                fence = Some(('`', ticks));
                continue;
            }
            if tildes >= 3 {
                fence = Some(('~', tildes));
                continue;
            }
            let hashes = fence_run('#');
            if (1..=6).contains(&hashes) && line[hashes..].chars().next().is_none_or(|c| c == ' ') {
                let title = line[hashes..].trim().trim_end_matches('#').trim_end();
                let base = slug(title);
                let count = seen.entry(base.clone()).or_insert(0);
                md.anchors.insert(if *count == 0 {
                    base.clone()
                } else {
                    format!("{base}-{count}")
                });
                *count += 1;
                continue;
            }
            // `[label]: target`
            if let Some(rest) = line.strip_prefix('[')
                && let Some(close) = rest.find("]:")
                && !rest[..close].is_empty()
                && !rest[..close].contains(']')
                && let Some(target) = rest[close + 2..].split_whitespace().next()
            {
                md.links
                    .push((n + 1, target.trim_matches(['<', '>']).to_string()));
                continue;
            }
        }
        let visible = without_code_spans(raw);
        let mut rest = visible.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let target = if let Some(angle) = after.strip_prefix('<') {
                angle.split('>').next().unwrap_or_default()
            } else {
                let end = after
                    .find(|c: char| c == ')' || c.is_whitespace())
                    .unwrap_or(after.len());
                &after[..end]
            };
            md.links.push((n + 1, target.to_string()));
            rest = after;
        }
    }
    md
}

/// Reads and parses markdown files once each.
struct Pages {
    root: PathBuf,
    parsed: HashMap<PathBuf, Markdown>,
}

impl Pages {
    fn new(root: &Path) -> Self {
        Pages {
            root: root.canonicalize().expect("the repository root exists"),
            parsed: HashMap::new(),
        }
    }

    /// Checks that `target` (a path with an optional `#anchor`, relative to `base`, or to the
    /// repository root when it starts with `/`) names a file or folder of the repository and, for
    /// a markdown file, a heading in it. `None` when it does.
    fn check(&mut self, base: &Path, target: &str) -> Option<String> {
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target, None),
        };
        let resolved = if path.is_empty() {
            base.to_path_buf()
        } else if let Some(from_root) = path.strip_prefix('/') {
            self.root.join(from_root)
        } else {
            base.parent().unwrap_or(&self.root).join(path)
        };
        let resolved = normalize(&resolved);
        if !resolved.starts_with(&self.root) {
            return Some(format!("`{target}` points outside the repository"));
        }
        if !resolved.exists() {
            return Some(format!("`{target}`: {} does not exist", resolved.display()));
        }
        let anchor = anchor?;
        if !has_extension(&resolved, &["md"]) {
            return None;
        }
        let page = self.parsed.entry(resolved.clone()).or_insert_with(|| {
            parse_markdown(&std::fs::read_to_string(&resolved).unwrap_or_default())
        });
        if page.anchors.contains(anchor) {
            None
        } else {
            Some(format!(
                "`{target}`: {} has no heading with the anchor `#{anchor}` (it has: {})",
                resolved.display(),
                page.anchors
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

/// `..` and `.` resolved without touching the file system, so a missing file is reported as
/// missing rather than failing to canonicalize.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn is_relative_link(target: &str) -> bool {
    !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:")
}

/// Problems with the relative links of the markdown file `file` (absolute path).
fn check_links(pages: &mut Pages, file: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (line, target) in parse_markdown(text).links {
        if !is_relative_link(&target) {
            continue;
        }
        if let Some(why) = pages.check(file, &target) {
            problems.push(format!("{}:{line}: {why}", file.display()));
        }
    }
    problems
}

/// `(line, docs/PAGE.md[#anchor])` of every page of `docs/` that `text` cites.
fn doc_citations(text: &str) -> Vec<(usize, String)> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for (at, _) in line.match_indices("docs/") {
            if line[..at]
                .chars()
                .next_back()
                .is_some_and(|c| is_name(c) || c == '/' || c == '.')
            {
                continue;
            }
            let rest = &line[at + "docs/".len()..];
            let name_len = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
            if name_len == 0 || !rest[name_len..].starts_with(".md") {
                continue;
            }
            let mut end = name_len + ".md".len();
            if let Some(anchor) = rest[end..].strip_prefix('#') {
                let len = anchor.find(|c: char| !is_name(c)).unwrap_or(anchor.len());
                if len > 0 {
                    end += 1 + len;
                }
            }
            found.push((n + 1, format!("docs/{}", &rest[..end])));
        }
    }
    found
}

/// Problems with the `docs/…` pages cited by the non-markdown file `file` (absolute path).
fn check_citations(pages: &mut Pages, file: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (line, cited) in doc_citations(text) {
        let target = format!("/{cited}");
        if let Some(why) = pages.check(file, &target) {
            problems.push(format!("{}:{line}: {why}", file.display()));
        }
    }
    problems
}

fn read(root: &Path, rel: &Path) -> String {
    std::fs::read_to_string(root.join(rel))
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", rel.display()))
}

fn report(what: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ------------------------------------------------------------------------------------------------
// The repository
// ------------------------------------------------------------------------------------------------

#[test]
fn the_file_list_covers_the_repository() {
    let files = repository_files(Path::new(ROOT));
    for expected in [
        "README.md",
        "sim/README.md",
        "docs/aws-auth.md",
        "docs/access-entries.md",
        "docs/authentication-modes.md",
        "docs/pitfalls.md",
        "docs/sources.md",
        "src/lib.rs",
        "sim/src/world.rs",
        "tests/conformance/check_models.py",
        "Cargo.toml",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(expected)),
            "{expected} is missing from the checked files"
        );
    }
    assert!(!files.iter().any(|f| f.starts_with("target")));
}

#[test]
fn no_file_points_outside_the_repository() {
    let root = Path::new(ROOT);
    let mut problems = Vec::new();
    for rel in repository_files(root)
        .iter()
        .filter(|f| has_extension(f, &TEXT_EXTENSIONS))
    {
        for (line, name) in outside_references(&read(root, rel)) {
            problems.push(format!(
                "{}:{line}: names `{name}`, which is not part of the repository; cite a page of docs/ instead",
                rel.display()
            ));
        }
    }
    report("references to files outside the repository", &problems);
}

#[test]
fn markdown_links_resolve() {
    let root = Path::new(ROOT);
    let mut pages = Pages::new(root);
    let mut problems = Vec::new();
    let mut checked = 0;
    for rel in repository_files(root)
        .iter()
        .filter(|f| has_extension(f, &["md"]))
    {
        let file = pages.root.join(rel);
        problems.extend(check_links(&mut pages, &file, &read(root, rel)));
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} markdown files were checked");
    report("broken relative links", &problems);
}

#[test]
fn docs_cited_in_code_exist() {
    let root = Path::new(ROOT);
    let mut pages = Pages::new(root);
    let mut problems = Vec::new();
    let mut citations = 0;
    // This file cites made-up pages in the tests of the checks themselves.
    let this_file = Path::new(file!());
    for rel in repository_files(root).iter().filter(|f| {
        has_extension(f, &TEXT_EXTENSIONS) && !has_extension(f, &["md"]) && f.as_path() != this_file
    }) {
        let file = pages.root.join(rel);
        let text = read(root, rel);
        citations += doc_citations(&text).len();
        problems.extend(check_citations(&mut pages, &file, &text));
    }
    assert!(
        citations >= 50,
        "only {citations} citations of docs/ pages were found in code"
    );
    report("citations of missing pages or sections", &problems);
}

#[test]
fn readme_lists_every_page_of_docs() {
    let root = Path::new(ROOT);
    let readme = read(root, Path::new("README.md"));
    let (_, documentation) = readme
        .split_once("\n## Documentation\n")
        .expect("README.md has a Documentation section");
    let section = documentation.split("\n## ").next().unwrap_or_default();
    let listed: BTreeSet<String> = parse_markdown(section)
        .links
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    for rel in repository_files(root)
        .iter()
        .filter(|f| f.starts_with("docs") && has_extension(f, &["md"]))
    {
        let link = rel.to_string_lossy().replace('\\', "/");
        assert!(
            listed.contains(&link),
            "README.md's Documentation section does not link {link}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// The checks themselves
// ------------------------------------------------------------------------------------------------

#[test]
fn anchors_follow_githubs_rule() {
    assert_eq!(
        slug("Caller identity and canonical ARNs"),
        "caller-identity-and-canonical-arns"
    );
    assert_eq!(slug("YAML 1.1"), "yaml-11");
    assert_eq!(slug("`mapAccounts`"), "mapaccounts");
    assert_eq!(slug("Refused in CONFIG_MAP"), "refused-in-config_map");
    assert_eq!(slug("How `aws-auth` is read"), "how-aws-auth-is-read");
    assert_eq!(slug("What's new: [docs](x.md)!"), "whats-new-docs");
    assert_eq!(slug("Exit status (0–4)"), "exit-status-04");
    let md = parse_markdown(
        "# Title\n## Notes\n### Notes\n```\n# not a heading\n```\n#hashtag\n## Done ##\n",
    );
    assert_eq!(
        md.anchors.into_iter().collect::<Vec<_>>(),
        ["done", "notes", "notes-1", "title"]
    );
}

#[test]
fn links_in_code_are_not_links() {
    let md = parse_markdown(concat!(
        "See [a](a.md#x) and `[b](b.md)` and ``code with ` and [c](c.md)``.\n",
        "```sh\n[d](d.md)\n```\n",
        "~~~\n[e](e.md)\n~~~\n",
        "![img](<img dir/f.png> \"title\") [g](g.md \"title\") [h](https://example.invalid/h.md)\n",
        "[ref]: docs/ref.md#part\n",
    ));
    let targets: Vec<&str> = md.links.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        targets,
        [
            "a.md#x",
            "img dir/f.png",
            "g.md",
            "https://example.invalid/h.md",
            "docs/ref.md#part"
        ]
    );
}

#[test]
fn outside_names_are_found_as_whole_words() {
    let text = format!(
        "ok line\nsee {} §3\nsubdomain.md is fine\nread {}/x\n",
        OUTSIDE[0],
        OUTSIDE[2].to_uppercase()
    );
    assert_eq!(
        outside_references(&text),
        [(2, OUTSIDE[0]), (4, OUTSIDE[2])]
    );
}

#[test]
fn code_citations_are_found() {
    let cited = doc_citations(
        "// (docs/aws-auth.md#duplicates), docs/pitfalls.md.\n\
         // ../docs/x.md and mydocs/y.md and \"/docs/z.md\" are not citations; docs/ neither\n\
         /// docs/access-entries.md#the-api, docs/UPGRADE-20.0.md\n",
    );
    assert_eq!(
        cited,
        [
            (1, "docs/aws-auth.md#duplicates".to_string()),
            (1, "docs/pitfalls.md".to_string()),
            (3, "docs/access-entries.md#the-api".to_string()),
        ]
    );
}

#[test]
fn broken_links_and_citations_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("sim")).unwrap();
    std::fs::write(
        root.join("docs/page.md"),
        "# Page\n## Duplicates\n## Duplicates\nBack to [the readme](../README.md#top).\n",
    )
    .unwrap();
    std::fs::write(root.join("README.md"), "# Top\n").unwrap();
    let readme = concat!(
        "[fine](docs/page.md#duplicates-1) [folder](docs/) [self](#top)\n",
        "[no anchor](docs/page.md#triplicates) [no file](docs/missing.md)\n",
        "[escapes](../outside.md) [web](https://example.invalid/x.md)\n",
    );
    let mut pages = Pages::new(root);
    let readme_path = pages.root.join("README.md");
    let problems = check_links(&mut pages, &readme_path, readme);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains(":2: `docs/page.md#triplicates`"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("duplicates, duplicates-1, page"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains(":2: `docs/missing.md`"),
        "{}",
        problems[1]
    );
    assert!(
        problems[2].contains("points outside the repository"),
        "{}",
        problems[2]
    );
    let page_path = pages.root.join("docs/page.md");
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert!(check_links(&mut pages, &page_path, &page).is_empty());

    let code = "// see docs/page.md#page\n// and docs/page.md#gone, docs/nothing.md\n";
    let code_path = pages.root.join("sim/lib.rs");
    let problems = check_citations(&mut pages, &code_path, code);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains(":2: `/docs/page.md#gone`"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains(":2: `/docs/nothing.md`"),
        "{}",
        problems[1]
    );
}
