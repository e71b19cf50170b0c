//! Decoding `mapRoles`/`mapUsers` JSON the way Go's `encoding/json` fills the authenticator's
//! `[]RoleMapping` / `[]UserMapping` (docs/aws-auth.md#from-text-to-entries).
//!
//! Go's decoder matches field names case-insensitively, ignores unknown fields, and on a type
//! mismatch records an error but keeps going: the field keeps its previous value and the entry
//! is still kept. A `null` leaves a string unchanged and empties a list. Each of these is turned
//! into a [`Note`] so the operator sees exactly what the authenticator made of the entry.

use crate::model::{Section, SsoMatcher};
use crate::source::yaml::Pos;
use crate::source::yaml11::{JNode, JValue};

/// One list element as the authenticator decoded it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedEntry {
    pub pos: Pos,
    /// `rolearn` or `userarn`; empty when missing.
    pub arn: String,
    pub arn_pos: Option<Pos>,
    pub username: Option<String>,
    pub username_pos: Option<Pos>,
    pub groups: Vec<String>,
    pub groups_pos: Option<Pos>,
    pub userid: Option<String>,
    pub sso: Option<SsoMatcher>,
    pub notes: Vec<Note>,
}

/// Something Go's decoder did silently.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// A field had the wrong JSON type and was left unset.
    TypeMismatch {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
        pos: Pos,
    },
    /// A group list element was not a string and became `""`.
    GroupElement {
        index: usize,
        found: &'static str,
        pos: Pos,
    },
    /// A key that is no field of this section.
    UnknownField {
        name: String,
        pos: Pos,
        suggestion: Option<&'static str>,
    },
    /// The list element is not a mapping.
    NotAMapping { found: &'static str },
    /// A known field written in another spelling than the authenticator's own (`roleARN`,
    /// `Groups`): Go's decoder accepts it, EKS's managed authenticator may not.
    NonCanonicalName {
        written: String,
        field: &'static str,
        pos: Pos,
    },
}

const ROLE_FIELDS: [&str; 5] = ["rolearn", "sso", "username", "groups", "userid"];
const USER_FIELDS: [&str; 4] = ["userarn", "username", "groups", "userid"];
/// The `sso` matcher's fields, spelled as the authenticator's JSON tags spell them.
const SSO_FIELDS: [&str; 3] = ["permissionSetName", "accountID", "partition"];

/// Decodes the top-level value of a `mapRoles`/`mapUsers` key. `Err` carries the JSON type
/// found when it is not a list: Go then fails the whole key.
pub fn decode_list(section: Section, root: &JNode) -> Result<Vec<DecodedEntry>, &'static str> {
    match &root.value {
        JValue::Null => Ok(Vec::new()),
        JValue::Array(items) => Ok(items
            .iter()
            .map(|item| decode_entry(section, item))
            .collect()),
        other => Err(other.type_name()),
    }
}

fn decode_entry(section: Section, node: &JNode) -> DecodedEntry {
    let mut entry = DecodedEntry {
        pos: node.pos,
        ..DecodedEntry::default()
    };
    let fields = match &node.value {
        JValue::Object(fields) => fields,
        JValue::Null => return entry,
        other => {
            entry.notes.push(Note::NotAMapping {
                found: other.type_name(),
            });
            return entry;
        }
    };
    let known: &[&'static str] = if section == Section::MapRoles {
        &ROLE_FIELDS
    } else {
        &USER_FIELDS
    };
    for (key, value) in fields {
        let Some(field) = match_field(&mut entry.notes, known, key, value.pos) else {
            entry.notes.push(Note::UnknownField {
                name: key.clone(),
                pos: value.pos,
                suggestion: suggest(key, known),
            });
            continue;
        };
        match field {
            "rolearn" | "userarn" => {
                if set_string(&mut entry.notes, field, value, |s| entry.arn = s) {
                    entry.arn_pos = Some(value.pos);
                }
            }
            "username" => {
                let mut username = entry.username.take();
                if set_string(&mut entry.notes, field, value, |s| username = Some(s)) {
                    entry.username_pos = Some(value.pos);
                }
                entry.username = username;
            }
            "userid" => {
                let mut userid = entry.userid.take();
                set_string(&mut entry.notes, field, value, |s| userid = Some(s));
                entry.userid = userid;
            }
            "groups" => decode_groups(&mut entry, value),
            "sso" => decode_sso(&mut entry, value),
            _ => unreachable!("field list and match arms agree"),
        }
    }
    entry
}

/// The field of `known` that Go's decoder fills from `key`, noting a spelling other than the
/// authenticator's own.
fn match_field(
    notes: &mut Vec<Note>,
    known: &[&'static str],
    key: &str,
    pos: Pos,
) -> Option<&'static str> {
    let field = known.iter().copied().find(|f| go_fold_eq(key, f))?;
    if key != field {
        notes.push(Note::NonCanonicalName {
            written: key.to_string(),
            field,
            pos,
        });
    }
    Some(field)
}

/// Go: a string sets the field, `null` leaves it alone, anything else is a type error.
fn set_string(
    notes: &mut Vec<Note>,
    field: &'static str,
    value: &JNode,
    set: impl FnOnce(String),
) -> bool {
    match &value.value {
        JValue::String(s) => {
            set(s.clone());
            true
        }
        JValue::Null => false,
        other => {
            notes.push(Note::TypeMismatch {
                field,
                expected: "a string",
                found: other.type_name(),
                pos: value.pos,
            });
            false
        }
    }
}

fn decode_groups(entry: &mut DecodedEntry, value: &JNode) {
    match &value.value {
        JValue::Array(items) => {
            entry.groups = items
                .iter()
                .enumerate()
                .map(|(index, item)| match &item.value {
                    JValue::String(s) => s.clone(),
                    JValue::Null => String::new(),
                    other => {
                        entry.notes.push(Note::GroupElement {
                            index,
                            found: other.type_name(),
                            pos: item.pos,
                        });
                        String::new()
                    }
                })
                .collect();
            entry.groups_pos = Some(value.pos);
        }
        JValue::Null => entry.groups.clear(),
        other => entry.notes.push(Note::TypeMismatch {
            field: "groups",
            expected: "a list of strings",
            found: other.type_name(),
            pos: value.pos,
        }),
    }
}

fn decode_sso(entry: &mut DecodedEntry, value: &JNode) {
    match &value.value {
        JValue::Object(fields) => {
            let mut sso = entry.sso.take().unwrap_or_default();
            for (key, v) in fields {
                let JValue::String(s) = &v.value else {
                    if v.value != JValue::Null {
                        entry.notes.push(Note::TypeMismatch {
                            field: "sso",
                            expected: "string fields",
                            found: v.value.type_name(),
                            pos: v.pos,
                        });
                    }
                    continue;
                };
                let Some(field) = match_field(&mut entry.notes, &SSO_FIELDS, key, v.pos) else {
                    continue;
                };
                match field {
                    "permissionSetName" => sso.permission_set_name = s.clone(),
                    "accountID" => sso.account_id = s.clone(),
                    _ => sso.partition = s.clone(),
                }
            }
            entry.sso = Some(sso);
        }
        JValue::Null => entry.sso = None,
        other => entry.notes.push(Note::TypeMismatch {
            field: "sso",
            expected: "a mapping",
            found: other.type_name(),
            pos: value.pos,
        }),
    }
}

/// Go's `encoding/json` field-name folding: ASCII case, plus the two Unicode letters that fold
/// onto ASCII (`ſ` → s, Kelvin sign `K` → k).
pub fn go_fold_eq(a: &str, b: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        }
    }
    a.chars().map(fold).eq(b.chars().map(fold))
}

fn suggest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    // The other section's ARN field: the entry has no ARN of its own.
    match (lower.as_str(), known.contains(&"rolearn")) {
        ("userarn", true) => return Some("rolearn"),
        ("rolearn", false) => return Some("userarn"),
        _ => {}
    }
    closest(key, known, 2)
}

/// The name in `known` nearest to `written` (ignoring case) within `max` edits, if it is not so
/// short that anything would be near it.
pub fn closest(written: &str, known: &[&'static str], max: usize) -> Option<&'static str> {
    let lower = written.to_ascii_lowercase();
    known
        .iter()
        .copied()
        .map(|k| (strsim::levenshtein(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= max && *d < k.len() / 2)
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::parse_all;
    use crate::source::yaml11::to_json;

    fn decode(section: Section, yaml: &str) -> Vec<DecodedEntry> {
        let docs = parse_all(yaml).unwrap();
        let json = to_json(&docs[0], &mut Vec::new()).unwrap();
        decode_list(section, &json).unwrap()
    }

    #[test]
    fn fields_match_case_insensitively() {
        let e = &decode(
            Section::MapRoles,
            "- RoLeArN: a\n  USERNAME: u\n  Groups: [g]\n",
        )[0];
        assert_eq!((e.arn.as_str(), e.username.as_deref()), ("a", Some("u")));
        assert_eq!(e.groups, ["g"]);
        let mut renamed: Vec<(&str, &str)> = e
            .notes
            .iter()
            .map(|n| match n {
                Note::NonCanonicalName { written, field, .. } => (written.as_str(), *field),
                other => panic!("{other:?}"),
            })
            .collect();
        renamed.sort_unstable();
        assert_eq!(
            renamed,
            [
                ("Groups", "groups"),
                ("RoLeArN", "rolearn"),
                ("USERNAME", "username")
            ]
        );
        let canonical = &decode(Section::MapRoles, "- rolearn: a\n  username: u\n")[0];
        assert!(canonical.notes.is_empty());
        assert!(go_fold_eq("ROLEARN", "rolearn"));
        assert!(go_fold_eq("ro\u{17f}earn", "rosearn"));
        assert!(!go_fold_eq("rolearn", "rolearns"));
    }

    #[test]
    fn type_mismatches_keep_the_entry() {
        let e = &decode(
            Section::MapRoles,
            "- rolearn: a\n  username: yes\n  groups: system:masters\n",
        )[0];
        assert_eq!(e.arn, "a");
        assert_eq!(e.username, None);
        assert!(e.groups.is_empty());
        assert_eq!(e.notes.len(), 2);
    }

    #[test]
    fn bad_group_elements_become_empty_strings() {
        let e = &decode(
            Section::MapUsers,
            "- userarn: a\n  groups: [x, 1, ~, {a: b}]\n",
        )[0];
        assert_eq!(e.groups, ["x", "", "", ""]);
        assert_eq!(e.notes.len(), 2);
    }

    #[test]
    fn unknown_fields_get_suggestions() {
        let e = &decode(Section::MapRoles, "- rolarn: a\n  sshPublicKeys: [k]\n")[0];
        assert_eq!(e.arn, "");
        let suggestions: Vec<_> = e
            .notes
            .iter()
            .map(|n| match n {
                Note::UnknownField { suggestion, .. } => *suggestion,
                _ => panic!("{n:?}"),
            })
            .collect();
        assert!(suggestions.contains(&Some("rolearn")));
        assert!(suggestions.contains(&None));
        let e = &decode(Section::MapUsers, "- rolearn: a\n")[0];
        assert!(matches!(
            &e.notes[0],
            Note::UnknownField {
                suggestion: Some("userarn"),
                ..
            }
        ));
    }

    #[test]
    fn null_and_non_mapping_elements() {
        let entries = decode(Section::MapRoles, "- ~\n- just text\n- rolearn: a\n");
        assert_eq!(entries.len(), 3);
        assert!(entries[0].notes.is_empty() && entries[0].arn.is_empty());
        assert!(matches!(
            entries[1].notes[0],
            Note::NotAMapping { found: "a string" }
        ));
        let docs = parse_all("rolearn: a\n").unwrap();
        let json = to_json(&docs[0], &mut Vec::new()).unwrap();
        assert_eq!(decode_list(Section::MapRoles, &json), Err("a mapping"));
    }

    #[test]
    fn sso_matchers() {
        let e = &decode(
            Section::MapRoles,
            "- sso: {permissionSetName: Admin, accountID: '111122223333'}\n  username: u\n",
        )[0];
        let sso = e.sso.as_ref().unwrap();
        assert_eq!(
            (sso.permission_set_name.as_str(), sso.account_id.as_str()),
            ("Admin", "111122223333")
        );
    }
}
