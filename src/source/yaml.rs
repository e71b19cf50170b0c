//! A YAML document tree with source positions, built from `granit-parser` events.
//!
//! The tree keeps what a faithful reader needs and a typed deserializer throws away: the raw
//! text and style of every scalar (so YAML 1.1 resolution can be applied afterwards, the way
//! go-yaml v2 does inside aws-iam-authenticator), explicit tags, mapping order and duplicate
//! keys, and the position of every node. Aliases are expanded as copies, with a node budget so
//! a "billion laughs" input is an error rather than an out-of-memory kill.

use std::collections::HashMap;

use granit_parser::{Event, Options, Parser, ScalarStyle, Span};

/// Upper bound on nodes in one parsed text, aliases expanded. 3,000 mappings use ~40,000.
const NODE_BUDGET: usize = 2_000_000;

/// A position inside the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 0-based column in characters.
    pub col: u32,
    /// 0-based offset in characters from the start of the text.
    pub index: usize,
}

impl Pos {
    fn of(marker: &granit_parser::Marker) -> Pos {
        Pos {
            line: marker.line() as u32,
            col: marker.col() as u32,
            index: marker.index(),
        }
    }
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// An explicit tag on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// A core schema tag such as `!!str`, by its suffix (`str`).
    Core(String),
    /// Any other tag, as written.
    Other(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The value after escape processing and line folding.
    pub text: String,
    pub style: Style,
    pub tag: Option<Tag>,
    /// True for a value that was absent (`key:` with nothing after it).
    pub empty: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub start: Pos,
}

impl Node {
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a mapping by exact scalar text; the last occurrence wins, as in every
    /// Kubernetes and Go YAML reader.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short word for error messages: "a mapping", "a list", "a string".
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(_) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A syntax error with its position in the parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

/// Parses every document of `text`.
pub fn parse_all(text: &str) -> Result<Vec<Node>, SyntaxError> {
    parse(text, usize::MAX)
}

/// Parses the first document of `text` and reports whether more followed. Later documents are
/// not read, as go-yaml's `Unmarshal` does not read them.
pub fn parse_first(text: &str) -> Result<(Option<Node>, bool), SyntaxError> {
    let mut builder = Builder::new(text);
    let first = builder.next_document()?;
    let more = first.is_some() && builder.has_more_documents();
    Ok((first, more))
}

fn parse(text: &str, max_docs: usize) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = Builder::new(text);
    let mut docs = Vec::new();
    while docs.len() < max_docs {
        match builder.next_document()? {
            Some(doc) => docs.push(doc),
            None => break,
        }
    }
    Ok(docs)
}

struct Builder<'a> {
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    finished: bool,
}

/// A collection being built: where it starts, its items so far, its anchor id.
enum Frame {
    Seq(Pos, Vec<Node>, usize),
    Map(Pos, Vec<(Node, Node)>, Option<Node>, usize),
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        let options = Options::default();
        Builder {
            parser: Parser::new_from_str_with_options(text, options),
            anchors: HashMap::new(),
            nodes: 0,
            finished: false,
        }
    }

    fn next_event(&mut self) -> Result<Option<(Event<'a>, Span)>, SyntaxError> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(SyntaxError {
                message: e.info(),
                pos: Pos::of(e.marker()),
            }),
        }
    }

    fn has_more_documents(&mut self) -> bool {
        loop {
            match self.parser.next_event() {
                Some(Ok((Event::DocumentStart(..), _))) => return true,
                Some(Ok((Event::StreamEnd, _))) | None | Some(Err(_)) => return false,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads events up to the end of the next document and returns its root node.
    fn next_document(&mut self) -> Result<Option<Node>, SyntaxError> {
        if self.finished {
            return Ok(None);
        }
        // Skip to the next document start.
        loop {
            match self.next_event()? {
                None | Some((Event::StreamEnd, _)) => {
                    self.finished = true;
                    return Ok(None);
                }
                Some((Event::DocumentStart(..), _)) => break,
                Some(_) => continue,
            }
        }
        self.anchors.clear();
        let mut stack: Vec<Frame> = Vec::new();
        let mut root: Option<Node> = None;
        loop {
            let Some((event, span)) = self.next_event()? else {
                self.finished = true;
                return Ok(root);
            };
            let start = Pos::of(&span.start);
            let completed: Option<(Node, usize)> = match event {
                Event::DocumentEnd => return Ok(root),
                Event::StreamEnd => {
                    self.finished = true;
                    return Ok(root);
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let empty = style == ScalarStyle::Plain
                        && text == "~"
                        && span.end.index() == span.start.index();
                    let tag = tag.map(|t| convert_tag(&t));
                    let node = Node {
                        value: Value::Scalar(Scalar {
                            text: if empty {
                                String::new()
                            } else {
                                text.into_owned()
                            },
                            style: convert_style(style),
                            tag,
                            empty,
                        }),
                        start,
                    };
                    Some((node, anchor))
                }
                Event::Alias(id) => match self.anchors.get(&id) {
                    Some(target) => {
                        let mut copy = target.clone();
                        self.nodes += count_nodes(&copy);
                        copy.start = start;
                        Some((copy, 0))
                    }
                    None => {
                        return Err(SyntaxError {
                            message: "alias refers to an unknown anchor".into(),
                            pos: start,
                        });
                    }
                },
                // Tags on collections change nothing the authenticator reads; they are dropped.
                Event::SequenceStart(_, anchor, _) => {
                    stack.push(Frame::Seq(start, Vec::new(), anchor));
                    None
                }
                Event::MappingStart(_, anchor, _) => {
                    stack.push(Frame::Map(start, Vec::new(), None, anchor));
                    None
                }
                Event::SequenceEnd => match stack.pop() {
                    Some(Frame::Seq(start, items, anchor)) => Some((
                        Node {
                            value: Value::Seq(items),
                            start,
                        },
                        anchor,
                    )),
                    _ => unreachable_structure(start)?,
                },
                Event::MappingEnd => match stack.pop() {
                    Some(Frame::Map(start, entries, _, anchor)) => Some((
                        Node {
                            value: Value::Map(entries),
                            start,
                        },
                        anchor,
                    )),
                    _ => unreachable_structure(start)?,
                },
                _ => None,
            };
            let Some((node, anchor)) = completed else {
                continue;
            };
            self.nodes += 1;
            if self.nodes > NODE_BUDGET {
                return Err(SyntaxError {
                    message: format!(
                        "the document expands to more than {NODE_BUDGET} nodes (aliases?)"
                    ),
                    pos: start,
                });
            }
            if anchor != 0 {
                self.anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(_, items, _)) => items.push(node),
                Some(Frame::Map(_, entries, pending, _)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
            }
        }
    }
}

fn unreachable_structure(pos: Pos) -> Result<Option<(Node, usize)>, SyntaxError> {
    Err(SyntaxError {
        message: "unbalanced collection events".into(),
        pos,
    })
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Scalar(_) => 1,
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
    }
}

fn convert_style(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

fn convert_tag(tag: &granit_parser::Tag) -> Tag {
    match tag.core_suffix() {
        Some(suffix) => Tag::Core(suffix.to_string()),
        None => Tag::Other(tag.original()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        &node.as_scalar().unwrap().text
    }

    #[test]
    fn builds_maps_sequences_and_positions() {
        let docs = parse_all("a: 1\nb:\n  - x\n  - 'y'\n").unwrap();
        assert_eq!(docs.len(), 1);
        let root = &docs[0];
        assert_eq!(scalar(root.get("a").unwrap()), "1");
        let Value::Seq(items) = &root.get("b").unwrap().value else {
            panic!("b is a list")
        };
        assert_eq!(scalar(&items[1]), "y");
        assert_eq!(items[1].as_scalar().unwrap().style, Style::SingleQuoted);
        assert_eq!((items[1].start.line, items[1].start.col), (4, 4));
    }

    #[test]
    fn empty_values_are_marked() {
        let docs = parse_all("a:\nb: ~\n").unwrap();
        assert!(docs[0].get("a").unwrap().as_scalar().unwrap().empty);
        assert!(!docs[0].get("b").unwrap().as_scalar().unwrap().empty);
    }

    #[test]
    fn aliases_expand_and_bombs_are_refused() {
        let docs = parse_all("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(
            docs[0].get("a").unwrap().value,
            docs[0].get("b").unwrap().value
        );

        let mut bomb = String::from("a: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse_all(&bomb).unwrap_err();
        assert!(err.message.contains("nodes"), "{err:?}");
    }

    #[test]
    fn first_document_only() {
        let (doc, more) = parse_first("- a\n---\n- b\n").unwrap();
        assert!(doc.is_some());
        assert!(more);
        let (_, more) = parse_first("- a\n").unwrap();
        assert!(!more);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse_all("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1);
        assert!(!err.message.is_empty());
    }
}
