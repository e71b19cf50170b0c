//! Finding `kube-system/aws-auth` in what `kubectl get cm aws-auth -n kube-system -o yaml|json`
//! (or `kubectl get cm -A -o yaml`) writes: one object, a `List`, or several documents.

use crate::source::yaml::{self, Node, Value};
use crate::source::yaml11::{self, Resolved};
use crate::source::{Location, SourceFile};

/// A problem that stops a whole file from being planned.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub location: Location,
    pub message: String,
}

/// One `data` key of the ConfigMap.
#[derive(Debug)]
pub struct DataKey<'a> {
    pub key: String,
    pub key_node: &'a Node,
    pub value: &'a Node,
}

/// The `data` of the aws-auth ConfigMap and where it was.
#[derive(Debug)]
pub struct ConfigMapData<'a> {
    pub keys: Vec<DataKey<'a>>,
    pub location: Location,
    /// Keys written more than once; the last one counts, as kubectl sends JSON.
    pub duplicate_keys: Vec<(String, Location)>,
}

/// Parses the file into documents.
pub fn parse(source: &SourceFile) -> Result<Vec<Node>, FileError> {
    yaml::parse_all(source.text()).map_err(|e| FileError {
        location: source.location(e.pos.line, e.pos.col),
        message: format!("this is not valid YAML or JSON: {}", e.message),
    })
}

/// Finds the one `aws-auth` ConfigMap in `kube-system` among `docs`.
pub fn find<'a>(source: &SourceFile, docs: &'a [Node]) -> Result<ConfigMapData<'a>, FileError> {
    let mut candidates: Vec<&Node> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for doc in docs {
        collect(doc, &mut candidates, &mut seen);
    }
    let loc = |node: &Node| source.location(node.start.line, node.start.col);
    let cm = match candidates.as_slice() {
        [] => {
            let what = if seen.is_empty() {
                "nothing that looks like a Kubernetes object".to_string()
            } else {
                seen.join(", ")
            };
            let location = docs.first().map_or_else(|| source.location(1, 0), loc);
            return Err(FileError {
                location,
                message: format!(
                    "no ConfigMap kube-system/aws-auth in this file (found {what}); expected the output of `kubectl get configmap aws-auth -n kube-system -o yaml`"
                ),
            });
        }
        [one] => *one,
        [_, second, ..] => {
            return Err(FileError {
                location: loc(second),
                message: "more than one kube-system/aws-auth ConfigMap in this file; plan one file per cluster".into(),
            });
        }
    };
    let mut data = ConfigMapData {
        keys: Vec::new(),
        location: loc(cm),
        duplicate_keys: Vec::new(),
    };
    let Some(data_node) = cm.get("data") else {
        return Ok(data);
    };
    match &data_node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                let Some(key) = k.as_scalar() else {
                    return Err(FileError {
                        location: loc(k),
                        message: format!(
                            "a ConfigMap data key must be a string, not {}",
                            k.kind_name()
                        ),
                    });
                };
                if let Some(prev) = data.keys.iter().position(|d| d.key == key.text) {
                    data.duplicate_keys
                        .push((key.text.clone(), loc(data.keys[prev].key_node)));
                    data.keys.remove(prev);
                }
                data.keys.push(DataKey {
                    key: key.text.clone(),
                    key_node: k,
                    value: v,
                });
            }
            Ok(data)
        }
        Value::Scalar(s) if yaml11::resolve(s) == Resolved::Null => Ok(data),
        _ => Err(FileError {
            location: loc(data_node),
            message: format!(
                "the ConfigMap's `data` must be a mapping, not {}",
                data_node.kind_name()
            ),
        }),
    }
}

fn text_of<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    node.get(key)?.as_scalar().map(|s| s.text.as_str())
}

fn collect<'a>(node: &'a Node, out: &mut Vec<&'a Node>, seen: &mut Vec<String>) {
    let kind = text_of(node, "kind").unwrap_or_default();
    if let Some(Node {
        value: Value::Seq(items),
        ..
    }) = node.get("items")
        && kind.ends_with("List")
    {
        for item in items {
            collect(item, out, seen);
        }
        return;
    }
    let Some(metadata) = node.get("metadata") else {
        return;
    };
    let name = text_of(metadata, "name").unwrap_or_default();
    let namespace = text_of(metadata, "namespace").unwrap_or("kube-system");
    if kind == "ConfigMap" && name == "aws-auth" && namespace == "kube-system" {
        out.push(node);
    } else {
        seen.push(format!(
            "{} {namespace}/{name}",
            if kind.is_empty() { "an object" } else { kind }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find_in(text: &str) -> Result<usize, FileError> {
        let source = SourceFile::new("f", text);
        let docs = parse(&source)?;
        find(&source, &docs).map(|d| d.keys.len())
    }

    #[test]
    fn single_list_and_multi_document() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\ndata: {mapRoles: '', x: y}\n";
        assert_eq!(find_in(cm), Ok(2));
        let list = format!(
            "apiVersion: v1\nkind: List\nitems:\n- {}\n",
            "{kind: ConfigMap, metadata: {name: aws-auth, namespace: kube-system}, data: {a: b}}"
        );
        assert_eq!(find_in(&list), Ok(1));
        let multi = format!(
            "kind: ConfigMap\nmetadata: {{name: other, namespace: kube-system}}\n---\n{cm}"
        );
        assert_eq!(find_in(&multi), Ok(2));
    }

    #[test]
    fn missing_or_repeated() {
        let err = find_in("kind: ConfigMap\nmetadata: {name: coredns, namespace: kube-system}\n")
            .unwrap_err();
        assert!(
            err.message.contains("ConfigMap kube-system/coredns"),
            "{}",
            err.message
        );
        let cm = "kind: ConfigMap\nmetadata: {name: aws-auth, namespace: kube-system}\n";
        let err = find_in(&format!("{cm}---\n{cm}")).unwrap_err();
        assert_eq!(err.location.line, 4);
        let err = find_in("kind: ConfigMap\nmetadata: {name: aws-auth, namespace: default}\n")
            .unwrap_err();
        assert!(err.message.contains("default/aws-auth"));
    }

    #[test]
    fn duplicate_data_keys_keep_the_last() {
        let source = SourceFile::new(
            "f",
            "kind: ConfigMap\nmetadata: {name: aws-auth}\ndata:\n  mapRoles: a\n  mapRoles: b\n",
        );
        let docs = parse(&source).unwrap();
        let data = find(&source, &docs).unwrap();
        assert_eq!(data.keys.len(), 1);
        assert_eq!(data.keys[0].value.as_scalar().unwrap().text, "b");
        assert_eq!(data.duplicate_keys[0].1.line, 4);
    }
}
