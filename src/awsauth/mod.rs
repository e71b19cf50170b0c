//! Reading `aws-auth` exactly as aws-iam-authenticator does (docs/aws-auth.md).
//!
//! The pipeline per key mirrors the authenticator's `ParseMap`: the text goes through YAML 1.1
//! → JSON (a failure drops every entry of that key, while the other keys still load), then
//! through Go's JSON decoder (lenient: type errors leave fields empty, unknown fields are
//! ignored), then each entry is validated on its own. Duplicates are resolved as the
//! authenticator's maps resolve them. Both what was written and what is effective are kept,
//! and every surprise becomes a located [`Finding`].

mod configmap;
mod decode;
mod embedded;

use std::collections::HashMap;

pub use configmap::FileError;
use decode::{DecodedEntry, Note};
use embedded::EmbeddedText;

use crate::model::arn::{self, ArnProblem, PrincipalKind};
use crate::model::findings::finding;
use crate::model::{Finding, Mapping, MappingId, MappingStatus, Section};
use crate::source::yaml::{self, Node, Pos, Value};
use crate::source::yaml11::{self, Resolved, Surprise};
use crate::source::{Location, SourceFile};

/// The contents of one `aws-auth` ConfigMap.
#[derive(Debug, Clone)]
pub struct AwsAuth {
    /// Every entry of every key, in file order, with what became of it.
    pub mappings: Vec<Mapping>,
    pub findings: Vec<Finding>,
    /// Keys that failed to load: each is also a blocker finding.
    pub key_errors: Vec<KeyError>,
    /// Where the ConfigMap object starts.
    pub location: Location,
}

/// A key whose text could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyError {
    pub location: Location,
    pub message: String,
}

impl AwsAuth {
    /// Mappings the authenticator acts on.
    pub fn effective(&self) -> impl Iterator<Item = &Mapping> {
        self.mappings
            .iter()
            .filter(|m| m.status == MappingStatus::Effective)
    }
}

/// Reads the aws-auth ConfigMap in `source`. A file-level error means nothing could be planned
/// from this file; problems inside keys and entries are findings instead.
pub fn read(source: &SourceFile) -> Result<AwsAuth, FileError> {
    let docs = configmap::parse(source)?;
    let data = configmap::find(source, &docs)?;
    // Kubernetes stores `data` as strings only and refuses any other value, so a file with one
    // cannot be what a cluster holds: nothing in it is planned (the other keys included).
    for dk in &data.keys {
        if let Some(found) = not_a_string(dk.value) {
            let hint = if Section::ALL.iter().any(|s| s.key() == dk.key) {
                format!("; write `{}: |` followed by the indented entries", dk.key)
            } else {
                String::new()
            };
            return Err(FileError {
                location: source.location(dk.key_node.start.line, dk.key_node.start.col),
                message: format!(
                    "`{}` must be a string, not {found}{hint} (the Kubernetes API rejects a ConfigMap whose data values are not strings, so no cluster holds this file as written)",
                    dk.key
                ),
            });
        }
    }
    let mut reader = Reader {
        source,
        out: AwsAuth {
            mappings: Vec::new(),
            findings: Vec::new(),
            key_errors: Vec::new(),
            location: data.location.clone(),
        },
    };
    for (key, first) in &data.duplicate_keys {
        let later = data
            .keys
            .iter()
            .find(|k| &k.key == key)
            .map(|k| reader.loc(k.key_node));
        let mut f = finding(
            "key-duplicate",
            format!("`{key}` is written more than once; only the last one counts"),
        )
        .related(first.clone());
        f.location = later;
        reader.out.findings.push(f);
    }
    let mut seen_any = false;
    for dk in &data.keys {
        match Section::ALL.iter().find(|s| s.key() == dk.key) {
            Some(&section) => {
                seen_any = true;
                reader.read_key(section, dk.key_node, dk.value);
            }
            None => {
                let f = if let Some(s) = Section::ALL
                    .iter()
                    .find(|s| s.key().eq_ignore_ascii_case(&dk.key))
                {
                    finding(
                        "key-wrong-case",
                        format!(
                            "`{}` is ignored by the authenticator: key names are case-sensitive (did you mean `{}`?)",
                            dk.key,
                            s.key()
                        ),
                    )
                } else {
                    let hint = decode::closest(&dk.key, &Section::ALL.map(Section::key), 3)
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    finding(
                        "key-unknown",
                        format!(
                            "`{}` is not a key the authenticator reads (mapRoles, mapUsers, mapAccounts){hint}: whatever it holds grants nothing",
                            dk.key
                        ),
                    )
                };
                reader.out.findings.push(f.at(reader.loc(dk.key_node)));
            }
        }
    }
    if !seen_any {
        let f = finding(
            "no-data",
            "the ConfigMap has no mapRoles, mapUsers or mapAccounts: it grants nothing",
        )
        .at(data.location.clone());
        reader.out.findings.push(f);
    }
    reader.resolve_effective();
    Ok(reader.out)
}

struct Reader<'s> {
    source: &'s SourceFile,
    out: AwsAuth,
}

/// One key's text and the way back to the file.
struct KeyText<'n> {
    section: Section,
    /// The key itself (`mapRoles:`), where key-level findings point.
    key_node: &'n Node,
    value: &'n Node,
    text: EmbeddedText,
}

impl Reader<'_> {
    fn loc(&self, node: &Node) -> Location {
        self.source.location(node.start.line, node.start.col)
    }

    fn inner(&self, key: &KeyText<'_>, pos: Pos) -> Location {
        key.text.location(self.source, key.value, pos)
    }

    /// A key that loads no entries: `location` is where the problem is, and the finding also
    /// names the key's own line.
    fn key_error(
        &mut self,
        code: &'static str,
        key: &KeyText<'_>,
        location: Location,
        message: String,
    ) {
        self.out.key_errors.push(KeyError {
            location: location.clone(),
            message: message.clone(),
        });
        let key_line = self.loc(key.key_node);
        let mut f = finding(code, message).at(location.clone());
        if key_line != location {
            f = f.related(key_line);
        }
        self.out.findings.push(f);
    }

    fn read_key(&mut self, section: Section, key_node: &Node, value: &Node) {
        // `read` refused every value that is not a string.
        let text = match &value.value {
            Value::Scalar(s) => match yaml11::resolve(s) {
                Resolved::Str(t) => t,
                _ => return,
            },
            _ => return,
        };
        // The authenticator's isSkippable.
        match text.trim() {
            "" => return,
            "``" | "\"\"" | "''" => {
                let f = finding(
                    "key-empty-marker",
                    format!(
                        "`{section}` is `{}`, which the authenticator treats as absent",
                        text.trim()
                    ),
                )
                .at(self.loc(key_node));
                self.out.findings.push(f);
                return;
            }
            _ => {}
        }
        let key = KeyText {
            section,
            key_node,
            value,
            text: EmbeddedText::new(self.source, value, text),
        };
        if section == Section::MapAccounts {
            self.read_accounts(&key);
        } else {
            self.read_entries(&key);
        }
    }

    /// Parses the key's text as the first YAML document; `None` when the key failed.
    fn parse_text(&mut self, key: &KeyText<'_>) -> Option<Option<Node>> {
        let section = key.section;
        match yaml::parse_first(&key.text.text) {
            Ok((doc, more)) => {
                if more {
                    let f = finding(
                        "extra-document",
                        format!("`{section}` holds more than one YAML document; the authenticator reads only the first"),
                    )
                    .at(self.loc(key.key_node));
                    self.out.findings.push(f);
                }
                Some(doc)
            }
            Err(e) => {
                let message = format!(
                    "`{section}` is not valid YAML ({}): the authenticator loads none of its entries",
                    e.message
                );
                let location = self.inner(key, e.pos);
                self.key_error("key-parse-failed", key, location, message);
                None
            }
        }
    }

    fn read_entries(&mut self, key: &KeyText<'_>) {
        let section = key.section;
        let trimmed = key.text.text.trim_start();
        // apimachinery's ToJSON passes text starting with `{` through as JSON, unparsed by YAML.
        if trimmed.starts_with('{') {
            let start = key.text.text.len() - trimmed.len();
            let before = &key.text.text[..start];
            let pos = Pos {
                line: before.matches('\n').count() as u32 + 1,
                col: before
                    .rsplit('\n')
                    .next()
                    .map_or(0, |l| l.chars().count() as u32),
                index: before.chars().count(),
            };
            let message = format!(
                "`{section}` starts with `{{`, so it is read as a JSON object, not a list: the authenticator loads none of its entries"
            );
            self.key_error("key-wrong-type", key, self.inner(key, pos), message);
            return;
        }
        let Some(doc) = self.parse_text(key) else {
            return;
        };
        let Some(doc) = doc else {
            return;
        };
        let mut surprises = Vec::new();
        let json = match yaml11::to_json(&doc, &mut surprises) {
            Ok(json) => json,
            Err(e) => {
                let message = format!(
                    "`{section}` cannot be converted to JSON as the authenticator does: {}; it loads none of its entries",
                    e.message
                );
                self.key_error("key-parse-failed", key, self.inner(key, e.pos), message);
                return;
            }
        };
        let entries = match decode::decode_list(section, &json) {
            Ok(entries) => entries,
            Err(found) => {
                let message = format!(
                    "`{section}` must be a YAML list (`- {}: …`), not {found}: the authenticator loads none of its entries",
                    section.arn_field()
                );
                self.key_error("key-wrong-type", key, self.inner(key, json.pos), message);
                return;
            }
        };
        let starts: Vec<(usize, MappingId)> = entries
            .iter()
            .enumerate()
            .map(|(index, e)| (e.pos.index, MappingId { section, index }))
            .collect();
        for (index, entry) in entries.into_iter().enumerate() {
            self.add_entry(key, MappingId { section, index }, entry, &mut surprises);
        }
        for s in surprises {
            let mut f = surprise_finding(&s).at(self.inner(key, s.pos));
            // The entry a value belongs to is the last one that starts before it.
            if let Some((_, id)) = starts.iter().rev().find(|(start, _)| *start <= s.pos.index) {
                f = f.about(*id);
            }
            self.out.findings.push(f);
        }
    }

    fn add_entry(
        &mut self,
        key: &KeyText<'_>,
        id: MappingId,
        entry: DecodedEntry,
        surprises: &mut Vec<Surprise>,
    ) {
        let location = self.inner(key, entry.pos);
        let arn_field = id.section.arn_field();
        for note in &entry.notes {
            let f = match note {
                Note::TypeMismatch { field, expected, found, pos } => {
                    let effect = match *field {
                        "username" => "so the mapping's username is empty",
                        "groups" => "so the mapping has no groups",
                        "rolearn" | "userarn" => "so the entry has no ARN and is dropped",
                        "sso" => "so the matcher is ignored",
                        _ => "so the field is ignored",
                    };
                    let reading = take_surprise(surprises, *pos)
                        .map(|s| format!(" (`{}` is {} in YAML 1.1: quote it)", s.raw, s.yaml11))
                        .unwrap_or_default();
                    finding(
                        "field-type-mismatch",
                        format!("`{field}` is {found}, not {expected}{reading}: the authenticator ignores it, {effect}"),
                    )
                    .at(self.inner(key, *pos))
                }
                Note::GroupElement { index, found, pos } => {
                    let reading = take_surprise(surprises, *pos)
                        .map(|s| format!(" (`{}` is {} in YAML 1.1: quote it)", s.raw, s.yaml11))
                        .unwrap_or_default();
                    finding(
                        "group-not-a-string",
                        format!("group {index} is {found}{reading}; the authenticator turns it into an empty group name"),
                    )
                    .at(self.inner(key, *pos))
                }
                Note::UnknownField { name, pos, suggestion } => match suggestion {
                    Some(s) => finding(
                        "unknown-field-typo",
                        format!("`{name}` is not a field of a {} entry and is ignored; did you mean `{s}`?", id.section),
                    ),
                    None => finding(
                        "unknown-field",
                        format!("`{name}` is not a field the authenticator reads; it is ignored"),
                    ),
                }
                .at(self.inner(key, *pos)),
                Note::NonCanonicalName { written, field, pos } => {
                    let risk = if *field == arn_field {
                        format!(
                            "EKS's managed authenticator has been reported to ignore `roleARN`/`userARN`, so this mapping may never have been effective: check that its principal really has access today, and write `{field}`"
                        )
                    } else {
                        format!("write `{field}`, the spelling every reader agrees on")
                    };
                    finding(
                        "field-name-noncanonical",
                        format!("`{written}` is read as `{field}` because Go matches field names case-insensitively; {risk}"),
                    )
                    .at(self.inner(key, *pos))
                }
                Note::NotAMapping { found } => finding(
                    "entry-invalid",
                    format!("the entry is {found}, not a mapping with `{arn_field}`; the authenticator drops it"),
                )
                .at(location.clone()),
            };
            self.out.findings.push(f.about(id));
        }
        let not_a_mapping = entry
            .notes
            .iter()
            .any(|n| matches!(n, Note::NotAMapping { .. }));
        let status = match validate(id.section, &entry) {
            Ok(()) => MappingStatus::Effective,
            Err(reason) => {
                if !not_a_mapping {
                    let f = finding(
                        "entry-invalid",
                        format!("{reason}; the authenticator drops this entry"),
                    )
                    .at(location.clone())
                    .about(id);
                    self.out.findings.push(f);
                }
                MappingStatus::Invalid { reason }
            }
        };
        let arn_location = entry.arn_pos.map(|p| self.inner(key, p));
        self.out.mappings.push(Mapping {
            id,
            location: arn_location.unwrap_or(location),
            arn: entry.arn,
            username: entry.username,
            groups: entry.groups,
            userid: entry.userid,
            sso: entry.sso,
            status,
        });
    }

    fn read_accounts(&mut self, key: &KeyText<'_>) {
        let Some(doc) = self.parse_text(key) else {
            return;
        };
        let items = match doc.as_ref().map(|d| &d.value) {
            None => return,
            Some(Value::Seq(items)) => items,
            Some(Value::Scalar(s)) if yaml11::resolve(s) == Resolved::Null => return,
            Some(_) => {
                let doc = doc.as_ref().expect("matched Some");
                let message = format!(
                    "`mapAccounts` must be a YAML list of account ids, not {}: the authenticator loads no accounts",
                    doc.kind_name()
                );
                self.key_error("key-wrong-type", key, self.inner(key, doc.start), message);
                return;
            }
        };
        // go-yaml v2 decodes any scalar into a string as written; a non-scalar fails the key.
        if let Some(bad) = items.iter().find(|i| i.as_scalar().is_none()) {
            let message = format!(
                "a `mapAccounts` item is {}, not an account id: the authenticator loads no accounts",
                bad.kind_name()
            );
            self.key_error("key-wrong-type", key, self.inner(key, bad.start), message);
            return;
        }
        for (index, item) in items.iter().enumerate() {
            let scalar = item.as_scalar().expect("checked above");
            let account = if yaml11::resolve(scalar) == Resolved::Null {
                String::new()
            } else {
                scalar.text.clone()
            };
            let location = self.inner(key, item.start);
            let id = MappingId {
                section: Section::MapAccounts,
                index,
            };
            let status = if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
                MappingStatus::Effective
            } else {
                let reason = format!("`{account}` is not a 12-digit account id");
                let f = finding(
                    "account-malformed",
                    format!("{reason}; it matches no caller"),
                )
                .at(location.clone())
                .about(id);
                self.out.findings.push(f);
                MappingStatus::NeverMatches { reason }
            };
            self.out.mappings.push(Mapping {
                id,
                location,
                arn: account,
                username: None,
                groups: Vec::new(),
                userid: None,
                sso: None,
                status,
            });
        }
    }

    /// Marks mapping `earlier` as superseded by `later` (last one wins) and says so.
    fn supersede(
        &mut self,
        earlier: usize,
        later: usize,
        code: &'static str,
        how: &str,
    ) -> Finding {
        let (e, l) = (&self.out.mappings[earlier], &self.out.mappings[later]);
        let f = finding(
            code,
            format!(
                "{} maps `{}` again{how}; the authenticator keeps the last one, this entry, and ignores {}",
                l.id, l.arn, e.id
            ),
        )
        .at(l.location.clone())
        .related(e.location.clone())
        .about(l.id);
        let by = l.id;
        self.out.mappings[earlier].status = MappingStatus::Superseded { by };
        f
    }

    /// Applies the authenticator's duplicate rules, then marks entries no caller can match.
    fn resolve_effective(&mut self) {
        let mut role_keys: HashMap<String, usize> = HashMap::new();
        let mut user_keys: HashMap<String, usize> = HashMap::new();
        let mut findings = Vec::new();
        let n = self.out.mappings.len();
        // Roles: a map keyed by the lower-cased ARN (or SSO matcher): the last one wins.
        for i in 0..n {
            let m = &self.out.mappings[i];
            if m.id.section != Section::MapRoles || m.status != MappingStatus::Effective {
                continue;
            }
            let key = match &m.sso {
                Some(s) => format!(
                    "sso:{}:{}:{}",
                    s.partition, s.account_id, s.permission_set_name
                )
                .to_lowercase(),
                None => m.arn.to_lowercase(),
            };
            if let Some(prev) = role_keys.insert(key, i) {
                findings.push(self.supersede(
                    prev,
                    i,
                    "duplicate-role",
                    " (compared case-insensitively)",
                ));
            }
        }
        // Users: a map keyed by the ARN as written; lookups compare case-insensitively.
        for i in 0..n {
            let m = &self.out.mappings[i];
            if m.id.section != Section::MapUsers || m.status != MappingStatus::Effective {
                continue;
            }
            if let Some(prev) = user_keys.insert(m.arn.clone(), i) {
                findings.push(self.supersede(prev, i, "duplicate-user", ""));
            }
        }
        let mut by_folded: HashMap<String, Vec<usize>> = HashMap::new();
        for &i in user_keys.values() {
            by_folded
                .entry(self.out.mappings[i].arn.to_lowercase())
                .or_default()
                .push(i);
        }
        for i in user_keys.into_values() {
            let folded = self.out.mappings[i].arn.to_lowercase();
            // Roles are consulted first, so a role entry for the same ARN wins.
            if let Some(&r) = role_keys.get(&folded) {
                let role = &self.out.mappings[r];
                findings.push(
                    finding(
                        "shadowed-by-maproles",
                        format!(
                            "{} maps the same ARN as {}; the authenticator consults mapRoles first, so this entry is never used",
                            self.out.mappings[i].id, role.id
                        ),
                    )
                    .at(self.out.mappings[i].location.clone())
                    .related(role.location.clone())
                    .about(self.out.mappings[i].id),
                );
                let role_id = role.id;
                self.out.mappings[i].status = MappingStatus::Superseded { by: role_id };
                continue;
            }
            let variants = &by_folded[&folded];
            if variants.len() > 1 {
                let mut others: Vec<usize> = variants.iter().copied().filter(|&v| v != i).collect();
                others.sort_unstable();
                let m = &self.out.mappings[i];
                let names: Vec<String> = others
                    .iter()
                    .map(|&o| self.out.mappings[o].id.to_string())
                    .collect();
                let mut f = finding(
                    "duplicate-user-case",
                    format!(
                        "{} maps `{}`, which {} also maps in different letter case; the authenticator picks one of them at random for each request. Keep exactly one",
                        m.id,
                        m.arn,
                        names.join(", ")
                    ),
                )
                .at(m.location.clone())
                .about(m.id);
                for o in others {
                    f = f.related(self.out.mappings[o].location.clone());
                }
                findings.push(f);
            }
        }
        for m in &mut self.out.mappings {
            if m.status != MappingStatus::Effective
                || m.sso.is_some()
                || m.id.section == Section::MapAccounts
            {
                continue;
            }
            let reasons = never_matches(&m.arn);
            if reasons.is_empty() {
                continue;
            }
            for (code, reason) in &reasons {
                findings.push(
                    finding(
                        code,
                        format!(
                            "{reason}; it is not migrated{}",
                            if *code == "role-arn-with-path" {
                                " unless --include-ineffective is given"
                            } else {
                                ""
                            }
                        ),
                    )
                    .at(m.location.clone())
                    .about(m.id),
                );
            }
            let reason = reasons
                .into_iter()
                .map(|(_, r)| r)
                .collect::<Vec<_>>()
                .join("; ");
            m.status = MappingStatus::NeverMatches { reason };
        }
        findings.sort_by(|a, b| a.location.cmp(&b.location));
        self.out.findings.extend(findings);
    }
}

/// The authenticator's per-entry validation (`RoleMapping.Validate`, `UserMapping.Validate`).
fn validate(section: Section, e: &DecodedEntry) -> Result<(), String> {
    if e.notes
        .iter()
        .any(|n| matches!(n, Note::NotAMapping { .. }))
    {
        return Err("the entry is not a mapping".into());
    }
    match section {
        Section::MapRoles => match (&e.sso, e.arn.is_empty()) {
            (None, true) => Err("the entry has neither `rolearn` nor `sso`".into()),
            (Some(_), false) => {
                Err("the entry has both `rolearn` and `sso`; only one is allowed".into())
            }
            (Some(sso), true) => {
                if sso.account_id.len() != 12 || !sso.account_id.bytes().all(|b| b.is_ascii_digit())
                {
                    Err(format!(
                        "`sso.accountID` `{}` is not a 12-digit account id",
                        sso.account_id
                    ))
                } else if !sso.partition.is_empty()
                    && !arn::PARTITIONS.contains(&sso.partition.as_str())
                {
                    Err(format!(
                        "`sso.partition` `{}` is not an AWS partition",
                        sso.partition
                    ))
                } else {
                    Ok(())
                }
            }
            (None, false) => Ok(()),
        },
        _ if e.arn.is_empty() => Err("the entry has no `userarn`".into()),
        _ => Ok(()),
    }
}

/// Every reason no caller's canonical ARN can ever equal `arn` (docs/aws-auth.md#matching),
/// each with its finding code; empty when a caller can match it.
fn never_matches(arn: &str) -> Vec<(&'static str, String)> {
    let (principal, problems) = arn::inspect(arn);
    let mut out = Vec::new();
    let mut malformed = Vec::new();
    for problem in problems {
        match problem {
            ArnProblem::Whitespace => out.push((
                "arn-whitespace",
                format!(
                    "`{arn}` has white space at its start or end, which the authenticator does not trim, so it matches no caller"
                ),
            )),
            ArnProblem::Malformed(why) => malformed.push(why),
        }
    }
    if !malformed.is_empty() {
        out.push((
            "arn-malformed",
            format!("`{arn}` can never match a caller: {}", malformed.join("; ")),
        ));
    }
    match principal {
        Some(p) if p.kind == PrincipalKind::Role && p.path != "/" => out.push((
            "role-arn-with-path",
            format!(
                "`{arn}` includes the role path `{}`; the authenticator compares path-less role ARNs, so this entry never matched",
                p.path
            ),
        )),
        Some(p) if p.kind == PrincipalKind::AssumedRole => out.push((
            "assumed-role-arn",
            format!(
                "`{arn}` is an STS assumed-role (session) ARN; the authenticator matches the role ARN `{}`, so this entry never matched and migrating it would grant new access",
                p.iam_arn("/")
            ),
        )),
        _ => {}
    }
    out
}

/// What a `data` value is when it is not a string (`None` for a string or an empty value).
fn not_a_string(value: &Node) -> Option<String> {
    match &value.value {
        Value::Scalar(s) => match yaml11::resolve(s) {
            Resolved::Str(_) | Resolved::Null => None,
            other => Some(other.type_name().to_string()),
        },
        _ => Some(value.kind_name().to_string()),
    }
}

fn take_surprise(surprises: &mut Vec<Surprise>, pos: Pos) -> Option<Surprise> {
    let i = surprises.iter().position(|s| s.pos == pos)?;
    Some(surprises.remove(i))
}

fn surprise_finding(s: &Surprise) -> Finding {
    finding(
        "yaml11-reading",
        format!(
            "`{}` is {} to the authenticator's YAML 1.1 reader, while a YAML 1.2 reader sees {}; quote it to say what you mean",
            s.raw, s.yaml11, s.yaml12
        ),
    )
}
