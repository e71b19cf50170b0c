//! YAML 1.1 readings as aws-iam-authenticator sees them.
//!
//! The authenticator turns each `aws-auth` key into JSON with `sigs.k8s.io/yaml` (go-yaml v2,
//! YAML 1.1 scalar resolution), then decodes that JSON with Go's `encoding/json`. This module
//! reproduces the first step: it resolves plain scalars the way go-yaml v2's `resolve()` does
//! and converts a [`yaml::Node`] tree into a JSON tree whose objects have Go-map semantics
//! (duplicate keys collapse, last wins; keys are then sorted, as `json.Marshal` sorts map keys).
//! Where a YAML 1.2 reader would see something else, the difference is recorded so it can be
//! reported to the operator.

use crate::source::yaml::{Node, Pos, Scalar, Style, Tag, Value};

/// A scalar as go-yaml v2 resolves it.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    /// An integer, kept as its decimal rendering.
    Int(String),
    Float(f64),
    /// A timestamp, as `json.Marshal(time.Time)` renders it.
    Timestamp(String),
    Str(String),
}

impl Resolved {
    pub fn type_name(&self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "a boolean",
            Resolved::Int(_) => "an integer",
            Resolved::Float(_) => "a number",
            Resolved::Timestamp(_) => "a timestamp",
            Resolved::Str(_) => "a string",
        }
    }
}

/// Resolves a scalar as go-yaml v2 does.
pub fn resolve(scalar: &Scalar) -> Resolved {
    if scalar.style != Style::Plain {
        // Quoted and block scalars are always strings unless tagged otherwise.
        return match &scalar.tag {
            Some(Tag::Core(t)) if t != "str" => resolve_plain(&scalar.text),
            _ => Resolved::Str(scalar.text.clone()),
        };
    }
    match &scalar.tag {
        Some(Tag::Core(t)) if t == "str" || t == "binary" => Resolved::Str(scalar.text.clone()),
        _ => resolve_plain(&scalar.text),
    }
}

fn resolve_plain(text: &str) -> Resolved {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => match go_parse_float(text) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str(text.to_string()),
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if let Some(ts) = parse_timestamp(text) {
                return Resolved::Timestamp(ts);
            }
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Resolved::Int(i);
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Resolved::Float(f);
            }
            if let Some(bin) = plain.strip_prefix("0b")
                && let Ok(v) = i64::from_str_radix(bin, 2)
            {
                return Resolved::Int(v.to_string());
            }
            if let Some(bin) = plain.strip_prefix("-0b")
                && let Ok(v) = i64::from_str_radix(bin, 2)
            {
                return Resolved::Int((-v).to_string());
            }
            Resolved::Str(text.to_string())
        }
        _ => Resolved::Str(text.to_string()),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint(s, 0, 64)`: sign, then `0x`, `0o`, `0b`
/// or a leading `0` (octal) prefix.
fn go_parse_int(s: &str) -> Option<String> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        (magnitude <= 1u128 << 63).then(|| format!("-{magnitude}"))
    } else {
        (magnitude <= u128::from(u64::MAX)).then(|| magnitude.to_string())
    }
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A subset of Go's `strconv.ParseFloat` sufficient for the shapes that reach it here.
fn go_parse_float(s: &str) -> Option<f64> {
    if s.contains(['_', 'x', 'X', 'p', 'P', 'i', 'I', 'n', 'N']) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// go-yaml v2's `parseTimestamp`: `YYYY-M-D` with an optional time, rendered as Go's
/// `time.Time` JSON encoding (RFC 3339 with nanoseconds, trailing zeros trimmed).
fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut parts = s.splitn(2, ['T', 't', ' ']);
    let date = parts.next()?;
    let time = parts.next();
    let mut d = date.split('-');
    let year: u32 = d.next()?.parse().ok()?;
    let month = short_field(d.next()?, 1, 12)?;
    let day = short_field(d.next()?, 1, days_in_month(year, month))?;
    if d.next().is_some() {
        return None;
    }
    let date_out = format!("{year:04}-{month:02}-{day:02}");
    let Some(time) = time else {
        return Some(format!("{date_out}T00:00:00Z"));
    };
    let separator_is_space = s.as_bytes()[date.len()] == b' ';
    // Zone: `Z` or `±hh:mm`, required with `T`, forbidden with a space.
    let (clock, zone) = if separator_is_space {
        (time, None)
    } else if let Some(c) = time.strip_suffix('Z') {
        (c, Some("Z".to_string()))
    } else {
        let at = time.rfind(['+', '-'])?;
        let z = &time[at..];
        let zb = z.as_bytes();
        if zb.len() != 6 || zb[3] != b':' {
            return None;
        }
        let hh: u32 = z[1..3].parse().ok()?;
        let mm: u32 = z[4..6].parse().ok()?;
        if hh > 23 || mm > 59 {
            return None;
        }
        (
            &time[..at],
            Some(if hh == 0 && mm == 0 {
                "Z".into()
            } else {
                z.to_string()
            }),
        )
    };
    if !separator_is_space && zone.is_none() {
        return None;
    }
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            (h, f.trim_end_matches('0'))
        }
        Some(_) => return None,
        None => (clock, ""),
    };
    let mut t = hms.split(':');
    let h = short_field(t.next()?, 0, 23)?;
    let m = short_field(t.next()?, 0, 59)?;
    let sec = short_field(t.next()?, 0, 59)?;
    if t.next().is_some() {
        return None;
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    Some(format!(
        "{date_out}T{h:02}:{m:02}:{sec:02}{frac}{}",
        zone.unwrap_or_else(|| "Z".into())
    ))
}

fn short_field(s: &str, min: u32, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (min..=max).contains(&v).then_some(v)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// What a YAML 1.2 (core schema) reader would make of a plain scalar, for comparison.
fn yaml12_reading(text: &str) -> &'static str {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => "null",
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => "a boolean",
        _ => {
            let t = text.strip_prefix(['+', '-']).unwrap_or(text);
            let is_int = (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
                || t.strip_prefix("0o").is_some_and(|d| {
                    !d.is_empty() && d.bytes().all(|c| (b'0'..=b'7').contains(&c))
                })
                || t.strip_prefix("0x")
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_hexdigit()));
            if is_int {
                "an integer"
            } else if is_yaml_style_float(text)
                || matches!(t, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN")
            {
                "a number"
            } else {
                "a string"
            }
        }
    }
}

/// A note that a scalar reads differently under YAML 1.1 than a YAML 1.2 reader would read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Surprise {
    pub pos: Pos,
    pub raw: String,
    pub yaml11: String,
    pub yaml12: &'static str,
}

/// A JSON value with the position of the YAML node it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct JNode {
    pub value: JValue,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JValue {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<JNode>),
    /// Keys are unique and sorted bytewise, as `json.Marshal` writes a Go map.
    Object(Vec<(String, JNode)>),
}

impl JValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            JValue::Null => "null",
            JValue::Bool(_) => "a boolean",
            JValue::Number(_) => "a number",
            JValue::String(_) => "a string",
            JValue::Array(_) => "a list",
            JValue::Object(_) => "a mapping",
        }
    }
}

/// Why a YAML tree cannot become JSON (sigs.k8s.io/yaml fails, so the whole key is dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionError {
    pub pos: Pos,
    pub message: String,
}

/// Converts a YAML tree to JSON as `sigs.k8s.io/yaml.YAMLToJSON` does, collecting YAML 1.1
/// surprises along the way.
pub fn to_json(node: &Node, surprises: &mut Vec<Surprise>) -> Result<JNode, ConversionError> {
    let value = match &node.value {
        Value::Scalar(s) => {
            let resolved = resolve(s);
            note_surprise(s, &resolved, node.pos(), surprises);
            match resolved {
                Resolved::Null => JValue::Null,
                Resolved::Bool(b) => JValue::Bool(b),
                Resolved::Int(i) => JValue::Number(i),
                Resolved::Float(f) if f.is_finite() => JValue::Number(format_go_float(f)),
                Resolved::Float(_) => {
                    // encoding/json refuses NaN and infinities, so YAMLToJSON fails.
                    return Err(ConversionError {
                        pos: node.start,
                        message: format!(
                            "`{}` is not a finite number and cannot be converted to JSON",
                            s.text
                        ),
                    });
                }
                Resolved::Timestamp(t) => JValue::String(t),
                Resolved::Str(t) => JValue::String(t),
            }
        }
        Value::Seq(items) => JValue::Array(
            items
                .iter()
                .map(|item| to_json(item, surprises))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            let mut object: Vec<(String, JNode)> = Vec::new();
            for (key, value) in entries {
                if is_merge_key(key) {
                    merge_into(&mut object, value, surprises)?;
                    continue;
                }
                let key = json_key(key)?;
                let value = to_json(value, surprises)?;
                insert_last_wins(&mut object, key, value);
            }
            object.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            JValue::Object(object)
        }
    };
    Ok(JNode {
        value,
        pos: node.start,
    })
}

impl Node {
    fn pos(&self) -> Pos {
        self.start
    }
}

fn note_surprise(s: &Scalar, resolved: &Resolved, pos: Pos, out: &mut Vec<Surprise>) {
    if s.style != Style::Plain || s.tag.is_some() || s.empty {
        return;
    }
    let yaml12 = yaml12_reading(&s.text);
    let (yaml11, differs) = match resolved {
        Resolved::Str(_) => ("a string".to_string(), yaml12 != "a string"),
        Resolved::Bool(b) => (format!("the boolean {b}"), yaml12 != "a boolean"),
        Resolved::Null => ("null".to_string(), yaml12 != "null"),
        Resolved::Int(i) => {
            let same = yaml12 == "an integer" && s.text.trim_start_matches('+') == i.as_str();
            (format!("the integer {i}"), !same)
        }
        Resolved::Float(f) => (
            format!("the number {}", format_go_float(*f)),
            yaml12 != "a number",
        ),
        Resolved::Timestamp(t) => (format!("the timestamp {t}"), true),
    };
    if differs {
        out.push(Surprise {
            pos,
            raw: s.text.clone(),
            yaml11,
            yaml12,
        });
    }
}

fn is_merge_key(key: &Node) -> bool {
    key.as_scalar().is_some_and(|s| {
        s.text == "<<"
            && (s.style == Style::Plain || matches!(&s.tag, Some(Tag::Core(t)) if t == "merge"))
    })
}

/// go-yaml v2 decodes a merged mapping into the same map; for a list of mappings it walks the
/// list backwards so that earlier mappings override later ones.
fn merge_into(
    object: &mut Vec<(String, JNode)>,
    value: &Node,
    surprises: &mut Vec<Surprise>,
) -> Result<(), ConversionError> {
    let merge_one =
        |object: &mut Vec<(String, JNode)>, node: &Node, surprises: &mut Vec<Surprise>| {
            let JValue::Object(entries) = to_json(node, surprises)?.value else {
                return Err(ConversionError {
                    pos: node.start,
                    message: "map merge requires a mapping or a list of mappings".into(),
                });
            };
            for (k, v) in entries {
                insert_last_wins(object, k, v);
            }
            Ok(())
        };
    match &value.value {
        Value::Seq(items) => {
            for item in items.iter().rev() {
                merge_one(object, item, surprises)?;
            }
            Ok(())
        }
        _ => merge_one(object, value, surprises),
    }
}

fn insert_last_wins(object: &mut Vec<(String, JNode)>, key: String, value: JNode) {
    match object.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => object.push((key, value)),
    }
}

/// Map keys become JSON object keys the way sigs.k8s.io/yaml converts them.
fn json_key(key: &Node) -> Result<String, ConversionError> {
    let Some(s) = key.as_scalar() else {
        return Err(ConversionError {
            pos: key.start,
            message: format!(
                "{} cannot be a mapping key (an unquoted `{{{{…}}}}` value is a YAML mapping: quote it)",
                key.kind_name()
            ),
        });
    };
    Ok(match resolve(s) {
        Resolved::Null => "null".to_string(),
        Resolved::Bool(b) => b.to_string(),
        Resolved::Int(i) => i,
        Resolved::Float(f) => format_go_float(f),
        Resolved::Timestamp(t) | Resolved::Str(t) => t,
    })
}

/// Formats a float the way Go's `encoding/json` writes a float64.
pub fn format_go_float(f: f64) -> String {
    if f == f.trunc() && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::parse_all;

    fn plain(text: &str) -> Resolved {
        resolve(&Scalar {
            text: text.into(),
            style: Style::Plain,
            tag: None,
            empty: false,
        })
    }

    #[test]
    fn yaml11_booleans_and_nulls() {
        for t in ["y", "Yes", "ON", "true"] {
            assert_eq!(plain(t), Resolved::Bool(true), "{t}");
        }
        for t in ["n", "NO", "off", "False"] {
            assert_eq!(plain(t), Resolved::Bool(false), "{t}");
        }
        assert_eq!(plain("~"), Resolved::Null);
        assert_eq!(plain("yES"), Resolved::Str("yES".into()));
    }

    #[test]
    fn go_integer_prefixes() {
        assert_eq!(plain("0777"), Resolved::Int("511".into()));
        assert_eq!(plain("0o17"), Resolved::Int("15".into()));
        assert_eq!(plain("0x1F"), Resolved::Int("31".into()));
        assert_eq!(plain("0b101"), Resolved::Int("5".into()));
        assert_eq!(plain("-12_000"), Resolved::Int("-12000".into()));
        assert_eq!(plain("111122223333"), Resolved::Int("111122223333".into()));
        // Not octal, so go-yaml falls back to a float.
        assert_eq!(plain("012345678901"), Resolved::Float(12345678901.0));
        assert_eq!(plain("08"), Resolved::Float(8.0));
        assert_eq!(plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(plain("1:20"), Resolved::Str("1:20".into()));
        assert_eq!(plain("-"), Resolved::Str("-".into()));
        assert_eq!(plain("+.inf"), Resolved::Float(f64::INFINITY));
    }

    #[test]
    fn timestamps_render_like_go() {
        assert_eq!(
            plain("2024-1-5"),
            Resolved::Timestamp("2024-01-05T00:00:00Z".into())
        );
        assert_eq!(
            plain("2001-12-14t21:59:43.10-05:00"),
            Resolved::Timestamp("2001-12-14T21:59:43.1-05:00".into())
        );
        assert_eq!(
            plain("2001-12-14 21:59:43.10"),
            Resolved::Timestamp("2001-12-14T21:59:43.1Z".into())
        );
        // No such day: go-yaml then tries int and float, both fail, and it is a string.
        assert_eq!(plain("2024-02-30"), Resolved::Str("2024-02-30".into()));
    }

    #[test]
    fn quoted_and_tagged_scalars() {
        let docs = parse_all("a: 'yes'\nb: !!str 0777\nc: !!int '12'\n").unwrap();
        let get = |k: &str| resolve(docs[0].get(k).unwrap().as_scalar().unwrap());
        assert_eq!(get("a"), Resolved::Str("yes".into()));
        assert_eq!(get("b"), Resolved::Str("0777".into()));
        assert_eq!(get("c"), Resolved::Int("12".into()));
    }

    #[test]
    fn json_objects_collapse_and_sort_keys() {
        let docs = parse_all("rolearn: a\nRoleArn: b\nrolearn: c\n").unwrap();
        let mut s = Vec::new();
        let j = to_json(&docs[0], &mut s).unwrap();
        let JValue::Object(entries) = j.value else {
            panic!()
        };
        let keys: Vec<_> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["RoleArn", "rolearn"]);
        assert_eq!(entries[1].1.value, JValue::String("c".into()));
    }

    #[test]
    fn merge_keys_follow_go_yaml_v2() {
        let docs = parse_all(
            "base: &b {username: base, groups: [g]}\nother: &o {username: other}\nx:\n  username: mine\n  <<: [*o, *b]\n",
        )
        .unwrap();
        let mut s = Vec::new();
        let j = to_json(docs[0].get("x").unwrap(), &mut s).unwrap();
        let JValue::Object(entries) = j.value else {
            panic!()
        };
        // The merge came after the explicit key, so it overrides it (v2 behaviour), and
        // earlier list members win over later ones.
        let username = entries.iter().find(|(k, _)| k == "username").unwrap();
        assert_eq!(username.1.value, JValue::String("other".into()));
        assert!(entries.iter().any(|(k, _)| k == "groups"));
    }

    #[test]
    fn unquoted_templates_fail_conversion() {
        let docs = parse_all("- username: {{SessionName}}\n").unwrap();
        let err = to_json(&docs[0], &mut Vec::new()).unwrap_err();
        assert!(err.message.contains("quote it"), "{}", err.message);
    }

    #[test]
    fn surprises_are_recorded() {
        let docs = parse_all("a: yes\nb: 0777\nc: 12\nd: hello\ne: 2024-01-01\n").unwrap();
        let mut s = Vec::new();
        to_json(&docs[0], &mut s).unwrap();
        let raws: Vec<_> = s.iter().map(|s| s.raw.as_str()).collect();
        assert_eq!(raws, ["yes", "0777", "2024-01-01"]);
    }
}
