//! The simulator's own reader of the `aws-auth` ConfigMap, as aws-iam-authenticator reads it
//! (docs/aws-auth.md).
//!
//! Written independently of the tool's parser on purpose: the simulator is the test oracle, so it
//! must not share the translation logic it checks. YAML 1.1 scalar quirks (`yes` → bool) are not
//! reproduced here; the matching rules are: per-key failure, case-insensitive field names, zeroed
//! fields on type mismatch, canonical ARNs, case-insensitive lookup with roles before users, last
//! role wins, templates, `mapAccounts` (each a section of that page).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub use crate::world::CallerIdentity;

/// Partitions aws-iam-authenticator accepts in an ARN; anything else fails authentication
/// (docs/aws-auth.md#caller-identity-and-canonical-arns).
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// An ARN the authenticator refuses to canonicalize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("arn {arn:?} cannot be canonicalized: {reason}")]
pub struct ArnError {
    pub arn: String,
    pub reason: &'static str,
}

/// Canonicalizes a caller ARN the way aws-iam-authenticator's `arn.Canonicalize` does.
pub fn canonicalize(arn: &str) -> Result<String, ArnError> {
    let err = |reason| ArnError {
        arn: arn.to_string(),
        reason,
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err(err("not an ARN"));
    }
    let (partition, service, account, resource) = (parts[1], parts[2], parts[4], parts[5]);
    if !PARTITIONS.contains(&partition) {
        return Err(err("unknown partition"));
    }
    let segments: Vec<&str> = resource.split('/').collect();
    match (service, segments[0]) {
        ("sts", "federated-user") => Ok(arn.to_string()),
        ("sts", "assumed-role") => {
            if segments.len() < 3 {
                return Err(err("assumed-role ARN without role name and session"));
            }
            // The STS form never carries the role path, so the canonical ARN has none either.
            let role = segments[segments.len() - 2];
            Ok(format!("arn:{partition}:iam::{account}:role/{role}"))
        }
        ("iam", "role" | "user" | "root") => Ok(arn.to_string()),
        _ => Err(err("unsupported service or resource type")),
    }
}

/// One effective `mapRoles`/`mapUsers` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapping {
    /// `rolearn` or `userarn` as written.
    pub arn: String,
    pub username: String,
    pub groups: Vec<String>,
}

/// The Kubernetes identity a mapping yields for one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedIdentity {
    pub username: String,
    pub groups: Vec<String>,
}

/// Result of mapping a caller through `aws-auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapOutcome {
    Mapped(MappedIdentity),
    /// Nothing in the ConfigMap names the caller or its account.
    NotMapped,
    /// A mapping matched but its templates could not be rendered (`{{EC2PrivateDNSName}}` for a
    /// session that is not an instance id): authentication is denied, with no fall-through
    /// (docs/aws-auth.md#templates).
    Denied(String),
}

/// Resolves an EC2 instance id to its private DNS name (what the authenticator asks EC2 for).
pub trait Ec2Resolver {
    fn private_dns_name(&self, instance_id: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Ec2Resolver for F {
    fn private_dns_name(&self, instance_id: &str) -> Option<String> {
        self(instance_id)
    }
}

/// The effective content of an `aws-auth` ConfigMap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthMap {
    /// Role mappings keyed by lower-cased `rolearn`; a later duplicate replaced an earlier one
    /// (docs/aws-auth.md#duplicates).
    roles: HashMap<String, Mapping>,
    /// User mappings in document order; exact duplicates collapsed to the last one.
    users: Vec<Mapping>,
    accounts: Vec<String>,
}

impl AuthMap {
    /// Reads the `data` of the ConfigMap. Never fails: a key that does not parse contributes
    /// nothing, exactly as the authenticator logs and moves on
    /// (docs/aws-auth.md#a-broken-key-drops-only-itself).
    pub fn from_data(data: &BTreeMap<String, String>) -> Self {
        let mut map = AuthMap::default();
        // Keys are case-sensitive: `mapusers` is silently ignored
        // (docs/aws-auth.md#the-three-keys).
        if let Some(text) = data.get("mapRoles").filter(|t| !is_skippable(t)) {
            for entry in decode_entries(text, "rolearn") {
                // SSO matchers need the off-by-default `SSORoleMatch` gate
                // (docs/aws-auth.md#entry-fields): they never match,
                // and an entry with both `rolearn` and `sso` fails validation.
                if entry.arn.is_empty() || entry.has_sso {
                    continue;
                }
                map.roles.insert(entry.arn.to_lowercase(), entry.mapping());
            }
        }
        if let Some(text) = data.get("mapUsers").filter(|t| !is_skippable(t)) {
            for entry in decode_entries(text, "userarn") {
                if entry.arn.is_empty() {
                    continue;
                }
                let mapping = entry.mapping();
                match map.users.iter_mut().find(|u| u.arn == mapping.arn) {
                    Some(existing) => *existing = mapping,
                    None => map.users.push(mapping),
                }
            }
        }
        if let Some(text) = data.get("mapAccounts").filter(|t| !is_skippable(t)) {
            // go-yaml v2 into []string keeps the raw scalar text (`- 012345678901`), and on any error
            // no account loads.
            map.accounts = serde_saphyr::from_str::<Option<Vec<String>>>(text)
                .ok()
                .flatten()
                .unwrap_or_default();
        }
        map
    }

    /// Effective role mappings (one per lower-cased ARN), in no particular order.
    pub fn roles(&self) -> impl Iterator<Item = &Mapping> {
        self.roles.values()
    }

    /// Effective user mappings.
    pub fn users(&self) -> &[Mapping] {
        &self.users
    }

    /// Effective `mapAccounts`.
    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    /// The mapping that matches a canonical ARN: role mappings first, then user mappings, both
    /// compared case-insensitively whatever section they were written in
    /// (docs/aws-auth.md#matching).
    pub fn lookup(&self, canonical_arn: &str) -> Option<&Mapping> {
        if let Some(role) = self.roles.get(&canonical_arn.to_lowercase()) {
            return Some(role);
        }
        // Case-variant user ARNs both survive in the authenticator and the winner is random; the
        // simulator picks the last written one so tests stay deterministic.
        self.users
            .iter()
            .rev()
            .find(|u| u.arn.eq_ignore_ascii_case(canonical_arn))
    }

    /// Maps a caller as the authenticator's ConfigMap backend does.
    pub fn map(&self, caller: &CallerIdentity, ec2: &dyn Ec2Resolver) -> MapOutcome {
        if let Some(mapping) = self.lookup(&caller.canonical_arn) {
            let username = match render_template(&mapping.username, caller, ec2) {
                Ok(u) => u,
                Err(e) => return MapOutcome::Denied(e),
            };
            let mut groups = Vec::with_capacity(mapping.groups.len());
            for group in &mapping.groups {
                match render_template(group, caller, ec2) {
                    Ok(g) => groups.push(g),
                    Err(e) => return MapOutcome::Denied(e),
                }
            }
            return MapOutcome::Mapped(MappedIdentity { username, groups });
        }
        if self.accounts.iter().any(|a| a == &caller.account) {
            // The canonical ARN as username, and no groups (docs/aws-auth.md#mapaccounts).
            return MapOutcome::Mapped(MappedIdentity {
                username: caller.canonical_arn.clone(),
                groups: Vec::new(),
            });
        }
        MapOutcome::NotMapped
    }
}

/// Renders `{{…}}` placeholders the way aws-iam-authenticator's `renderTemplate` does
/// (docs/aws-auth.md#templates);
/// EKS renders access-entry usernames with the same placeholders.
pub fn render_template(
    template: &str,
    caller: &CallerIdentity,
    ec2: &dyn Ec2Resolver,
) -> Result<String, String> {
    let mut out = template.to_string();
    if out.contains("{{EC2PrivateDNSName}}") {
        if !is_instance_id(&caller.session_name) {
            return Err(format!(
                "session name {:?} did not match an instance-id",
                caller.session_name
            ));
        }
        let dns = ec2
            .private_dns_name(&caller.session_name)
            .ok_or_else(|| format!("no private DNS name for {}", caller.session_name))?;
        out = out.replace("{{EC2PrivateDNSName}}", &dns);
    }
    out = out.replace("{{AccountID}}", &caller.account);
    out = out.replace("{{SessionName}}", &caller.session_name.replace('@', "-"));
    out = out.replace("{{SessionNameRaw}}", &caller.session_name);
    out = out.replace("{{AccessKeyID}}", &caller.access_key_id);
    Ok(out)
}

/// `^i-(\w{8}|\w{17})$`, the authenticator's instance-id pattern.
pub fn is_instance_id(session_name: &str) -> bool {
    session_name.strip_prefix("i-").is_some_and(|rest| {
        (rest.len() == 8 || rest.len() == 17)
            && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `isSkippable`: empty or blank values, and the literal two-character placeholders
/// (docs/aws-auth.md#the-three-keys).
fn is_skippable(text: &str) -> bool {
    let trimmed = text.trim();
    trimmed.is_empty() || matches!(trimmed, "``" | "\"\"" | "''")
}

/// One decoded list element before validation.
#[derive(Default)]
struct RawEntry {
    arn: String,
    username: String,
    groups: Vec<String>,
    has_sso: bool,
}

impl RawEntry {
    fn mapping(self) -> Mapping {
        Mapping {
            arn: self.arn,
            username: self.username,
            groups: self.groups,
        }
    }
}

/// YAML/JSON → list of entries with Go `encoding/json` semantics. A syntax error or a non-list
/// top level drops the whole key (docs/aws-auth.md#a-broken-key-drops-only-itself).
fn decode_entries(text: &str, arn_field: &str) -> Vec<RawEntry> {
    let Ok(Node::Seq(items)) = serde_saphyr::from_str::<Node>(text) else {
        return Vec::new();
    };
    items
        .into_iter()
        .map(|item| {
            let mut entry = RawEntry::default();
            // A non-object element decodes to a zero struct, which validation then drops.
            if let Node::Map(fields) = item {
                // Go assigns keys in document order, so a later case-variant overwrites an earlier one.
                for (key, value) in fields {
                    let key = key.to_ascii_lowercase();
                    if key == arn_field {
                        set_string(&mut entry.arn, value);
                    } else if key == "username" {
                        set_string(&mut entry.username, value);
                    } else if key == "groups" {
                        set_groups(&mut entry.groups, value);
                    } else if key == "sso" && arn_field == "rolearn" {
                        // A JSON object (or null, which leaves the pointer nil) decodes into `*SSOARNMatcher`.
                        if let Node::Map(_) = value {
                            entry.has_sso = true;
                        }
                    }
                }
            }
            entry
        })
        .collect()
}

/// A type mismatch leaves the Go field untouched (only logged); `null` is a no-op too.
fn set_string(field: &mut String, value: Node) {
    if let Node::Str(s) = value {
        *field = s;
    }
}

fn set_groups(field: &mut Vec<String>, value: Node) {
    match value {
        Node::Seq(items) => {
            *field = items
                .into_iter()
                .map(|item| match item {
                    Node::Str(s) => s,
                    // A mismatched element keeps its zero value.
                    _ => String::new(),
                })
                .collect();
        }
        Node::Null => *field = Vec::new(),
        _ => {}
    }
}

/// A YAML node that keeps mapping keys in document order (serde_json's map would sort them).
#[derive(Debug)]
enum Node {
    Null,
    Other,
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut fields = Vec::new();
        while let Some((key, value)) = map.next_entry::<Node, Node>()? {
            // sigs.k8s.io/yaml turns non-string keys into strings; only string keys can name a field.
            let key = match key {
                Node::Str(s) => s,
                _ => String::new(),
            };
            fields.push((key, value));
        }
        Ok(Node::Map(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn role_caller(account: &str, role: &str, session: &str) -> CallerIdentity {
        let arn = format!("arn:aws:sts::{account}:assumed-role/{role}/{session}");
        CallerIdentity {
            canonical_arn: canonicalize(&arn).unwrap(),
            arn,
            account: account.into(),
            partition: "aws".into(),
            user_id: format!("AROAEXAMPLE:{session}"),
            principal_id: "AROAEXAMPLE".into(),
            session_name: session.into(),
            access_key_id: "ASIAEXAMPLE".into(),
            principal_arn: format!("arn:aws:iam::{account}:role/{role}"),
        }
    }

    fn user_caller(arn: &str) -> CallerIdentity {
        CallerIdentity {
            arn: arn.into(),
            canonical_arn: arn.into(),
            account: arn.split(':').nth(4).unwrap().into(),
            partition: "aws".into(),
            user_id: "AIDAEXAMPLE".into(),
            principal_id: "AIDAEXAMPLE".into(),
            session_name: String::new(),
            access_key_id: "AKIAEXAMPLE".into(),
            principal_arn: arn.into(),
        }
    }

    fn no_ec2(_: &str) -> Option<String> {
        None
    }

    fn mapped(outcome: MapOutcome) -> MappedIdentity {
        match outcome {
            MapOutcome::Mapped(m) => m,
            other => panic!("expected a mapping, got {other:?}"),
        }
    }

    #[test]
    fn canonical_arns_follow_the_authenticator() {
        assert_eq!(
            canonicalize("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap(),
            "arn:aws:iam::111122223333:role/Admin"
        );
        for unchanged in [
            "arn:aws:iam::111122223333:user/team/bob",
            "arn:aws:iam::111122223333:role/team/R",
            "arn:aws:iam::111122223333:root",
            "arn:aws-cn:sts::111122223333:federated-user/fed",
        ] {
            assert_eq!(canonicalize(unchanged).unwrap(), unchanged);
        }
        assert!(canonicalize("arn:aws:sts::111122223333:assumed-role/OnlyRole").is_err());
        assert!(canonicalize("arn:nope:iam::111122223333:user/u").is_err());
        assert!(canonicalize("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn roles_match_case_insensitively_and_last_duplicate_wins() {
        let map = AuthMap::from_data(&data(&[(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/Admin\n  username: first\n  groups: [a]\n\
             - rolearn: ARN:AWS:IAM::111122223333:ROLE/ADMIN\n  username: second\n  groups: [b]\n",
        )]));
        let m = mapped(map.map(&role_caller("111122223333", "admin", "s"), &no_ec2));
        assert_eq!(m.username, "second");
        assert_eq!(m.groups, vec!["b"]);
    }

    #[test]
    fn role_arn_with_path_never_matches() {
        let map = AuthMap::from_data(&data(&[(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/team/Admin\n  username: x\n",
        )]));
        assert_eq!(
            map.map(&role_caller("111122223333", "Admin", "s"), &no_ec2),
            MapOutcome::NotMapped
        );
    }

    #[test]
    fn roles_before_users_and_section_does_not_matter() {
        let map = AuthMap::from_data(&data(&[
            (
                "mapUsers",
                "- userarn: arn:aws:iam::111122223333:role/Dev\n  username: from-users\n",
            ),
            (
                "mapRoles",
                "- rolearn: arn:aws:iam::111122223333:role/Dev\n  username: from-roles\n\
                 - rolearn: arn:aws:iam::111122223333:user/carol\n  username: carol-in-roles\n",
            ),
        ]));
        let dev = mapped(map.map(&role_caller("111122223333", "Dev", "s"), &no_ec2));
        assert_eq!(dev.username, "from-roles");
        let carol = user_caller("arn:aws:iam::111122223333:user/carol");
        assert_eq!(mapped(map.map(&carol, &no_ec2)).username, "carol-in-roles");
    }

    #[test]
    fn field_names_are_case_insensitive_but_top_level_keys_are_not() {
        let map = AuthMap::from_data(&data(&[
            (
                "mapRoles",
                "- RoLeArN: arn:aws:iam::111122223333:role/R\n  USERNAME: u\n  Groups: [g]\n",
            ),
            (
                "mapusers",
                "- userarn: arn:aws:iam::111122223333:user/ignored\n  username: x\n",
            ),
        ]));
        let m = mapped(map.map(&role_caller("111122223333", "R", "s"), &no_ec2));
        assert_eq!(
            (m.username.as_str(), m.groups.as_slice()),
            ("u", &["g".to_string()][..])
        );
        assert!(map.users().is_empty());
    }

    #[test]
    fn a_bad_key_fails_alone() {
        let map = AuthMap::from_data(&data(&[
            ("mapRoles", "- rolearn: [unclosed\n"),
            (
                "mapUsers",
                "- userarn: arn:aws:iam::111122223333:user/u\n  username: u\n",
            ),
            ("mapAccounts", "- \"444455556666\"\n- 012345678901\n"),
        ]));
        assert_eq!(map.roles().count(), 0);
        assert_eq!(map.users().len(), 1);
        assert_eq!(map.accounts(), &["444455556666", "012345678901"]);
    }

    #[test]
    fn type_mismatch_zeroes_the_field_and_keeps_the_entry() {
        let map = AuthMap::from_data(&data(&[(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/R\n  username: u\n  groups: system:masters\n\
             - username: no-arn\n\
             - just-a-string\n",
        )]));
        let m = mapped(map.map(&role_caller("111122223333", "R", "s"), &no_ec2));
        assert!(m.groups.is_empty());
        assert_eq!(map.roles().count(), 1);
    }

    #[test]
    fn json_values_and_skippable_values() {
        let map = AuthMap::from_data(&data(&[
            (
                "mapRoles",
                r#"[{"rolearn":"arn:aws:iam::111122223333:role/J","username":"j","groups":["g"]}]"#,
            ),
            ("mapUsers", "''"),
            ("mapAccounts", "  "),
        ]));
        assert_eq!(map.roles().count(), 1);
        assert!(map.users().is_empty() && map.accounts().is_empty());
    }

    #[test]
    fn sso_entries_and_entries_with_both_are_dropped() {
        let map = AuthMap::from_data(&data(&[(
            "mapRoles",
            "- sso: {permissionSetName: Admin, accountID: \"111122223333\"}\n  username: s\n\
             - rolearn: arn:aws:iam::111122223333:role/Both\n  sso: {permissionSetName: A, accountID: \"1\"}\n",
        )]));
        assert_eq!(map.roles().count(), 0);
    }

    #[test]
    fn map_accounts_gives_canonical_arn_and_no_groups() {
        let map = AuthMap::from_data(&data(&[("mapAccounts", "- \"111122223333\"\n")]));
        let m = mapped(map.map(&role_caller("111122223333", "Any", "s"), &no_ec2));
        assert_eq!(m.username, "arn:aws:iam::111122223333:role/Any");
        assert!(m.groups.is_empty());
        assert_eq!(
            map.map(&role_caller("999988887777", "Any", "s"), &no_ec2),
            MapOutcome::NotMapped
        );
    }

    #[test]
    fn templates_render_in_username_and_groups() {
        let map = AuthMap::from_data(&data(&[(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/Dev\n  \
               username: \"dev:{{AccountID}}:{{SessionName}}:{{SessionNameRaw}}:{{AccessKeyID}}:{{Unknown}}\"\n  \
               groups: [\"team-{{AccountID}}\"]\n",
        )]));
        let m = mapped(map.map(&role_caller("111122223333", "Dev", "a@b.c"), &no_ec2));
        assert_eq!(
            m.username,
            "dev:111122223333:a-b.c:a@b.c:ASIAEXAMPLE:{{Unknown}}"
        );
        assert_eq!(m.groups, vec!["team-111122223333"]);
    }

    #[test]
    fn ec2_private_dns_name_needs_an_instance_id_session() {
        let map = AuthMap::from_data(&data(&[(
            "mapRoles",
            "- rolearn: arn:aws:iam::111122223333:role/Node\n  \
               username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n",
        )]));
        let ec2 = |id: &str| Some(format!("{id}.ec2.internal"));
        let node = role_caller("111122223333", "Node", "i-0123456789abcdef0");
        assert_eq!(
            mapped(map.map(&node, &ec2)).username,
            "system:node:i-0123456789abcdef0.ec2.internal"
        );
        let human = role_caller("111122223333", "Node", "alice");
        assert!(matches!(map.map(&human, &ec2), MapOutcome::Denied(_)));
        assert!(is_instance_id("i-12345678"));
        assert!(!is_instance_id("i-1234567"));
    }

    #[test]
    fn missing_username_renders_empty() {
        let map = AuthMap::from_data(&data(&[(
            "mapUsers",
            "- userarn: arn:aws:iam::111122223333:user/u\n  groups: [g]\n",
        )]));
        let u = user_caller("arn:aws:iam::111122223333:user/u");
        assert_eq!(mapped(map.map(&u, &no_ec2)).username, "");
    }
}
