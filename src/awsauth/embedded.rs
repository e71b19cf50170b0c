//! Positions inside a ConfigMap value, mapped back to the file.
//!
//! `mapRoles` is YAML inside a string inside YAML (or JSON). An error at line 3 of the inner
//! text is useless to an operator; this module turns inner positions into positions in the
//! file they opened: exactly for literal blocks (`|`, what `kubectl -o yaml` writes) and for
//! double-quoted strings (what `kubectl -o json` writes), and at the value's start otherwise.

use crate::source::yaml::{Node, Pos, Style};
use crate::source::{Location, SourceFile};

/// The text of a ConfigMap value and the way back from its positions to the file.
#[derive(Debug, Clone)]
pub struct EmbeddedText {
    pub text: String,
    mapper: Mapper,
}

#[derive(Debug, Clone)]
enum Mapper {
    /// Literal block: inner line `n` is file line `first_line + n - 1`, shifted by `indent`.
    Lines { first_line: u32, indent: u32 },
    /// Byte offset in the file of every inner character, plus one past the end.
    Offsets(Vec<usize>),
    /// Anything else: every position maps to the start of the value.
    Fixed,
}

impl EmbeddedText {
    /// Builds the mapping for the scalar `node` whose decoded value is `text`.
    pub fn new(source: &SourceFile, node: &Node, text: String) -> Self {
        let style = node.as_scalar().map(|s| s.style);
        let mapper = match style {
            Some(Style::Literal) => literal_mapper(source, node, &text),
            Some(Style::DoubleQuoted) => quoted_mapper(source, node, &text, true),
            Some(Style::SingleQuoted) => quoted_mapper(source, node, &text, false),
            Some(Style::Plain) => quoted_mapper(source, node, &text, false),
            _ => None,
        }
        .unwrap_or(Mapper::Fixed);
        EmbeddedText { text, mapper }
    }

    /// The file location of a position inside the text.
    pub fn location(&self, source: &SourceFile, start: &Node, pos: Pos) -> Location {
        match &self.mapper {
            Mapper::Lines { first_line, indent } => {
                source.location(first_line + pos.line - 1, indent + pos.col)
            }
            Mapper::Offsets(offsets) => {
                let offset = offsets
                    .get(pos.index)
                    .or(offsets.last())
                    .copied()
                    .unwrap_or(0);
                source.location_of_offset(offset)
            }
            Mapper::Fixed => source.location(start.start.line, start.start.col),
        }
    }
}

/// Byte offset in `source` of a (1-based line, 0-based char column) position.
fn byte_offset(source: &SourceFile, line: u32, col: u32) -> Option<usize> {
    let text = source.line_text(line)?;
    let line_start = text.as_ptr() as usize - source.text().as_ptr() as usize;
    let within = text
        .char_indices()
        .nth(col as usize)
        .map_or(text.len(), |(i, _)| i);
    Some(line_start + within)
}

fn literal_mapper(source: &SourceFile, node: &Node, text: &str) -> Option<Mapper> {
    // The parser starts a literal block at its first non-blank content line, at the block's
    // indentation; blank lines before it are still part of the value.
    let (k, inner_line) = text
        .split('\n')
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())?;
    let first_line = node.start.line.checked_sub(k as u32)?;
    let indent = node.start.col;
    let file_line = source.line_text(node.start.line)?;
    // Check the claim: the file line, less the indent, must be the inner line.
    let shifted: String = file_line.chars().skip(indent as usize).collect();
    (shifted == inner_line).then_some(Mapper::Lines { first_line, indent })
}

/// Walks a quoted (or single-line plain) scalar in the file, recording where each decoded
/// character came from. Gives up, leaving the fixed mapping, on anything it does not model
/// (line folding); the final comparison with the parser's value guards the result.
fn quoted_mapper(source: &SourceFile, node: &Node, text: &str, double: bool) -> Option<Mapper> {
    let start = byte_offset(source, node.start.line, node.start.col)?;
    let src = &source.text()[start..];
    let plain = node.as_scalar()?.style == Style::Plain;
    let mut chars = src.char_indices().peekable();
    if !plain {
        chars.next()?; // opening quote
    }
    let mut out = String::with_capacity(text.len());
    let mut offsets = Vec::with_capacity(text.len() + 1);
    let target_chars = text.chars().count();
    while let Some((i, c)) = chars.next() {
        if plain {
            if offsets.len() == target_chars {
                offsets.push(start + i);
                break;
            }
            if c == '\n' {
                return None;
            }
            out.push(c);
            offsets.push(start + i);
            continue;
        }
        match c {
            '\n' | '\r' => return None,
            '"' if double => {
                offsets.push(start + i);
                break;
            }
            '\'' if !double => {
                if chars.peek().map(|&(_, n)| n) == Some('\'') {
                    chars.next();
                    out.push('\'');
                    offsets.push(start + i);
                    continue;
                }
                offsets.push(start + i);
                break;
            }
            '\\' if double => {
                let (_, e) = chars.next()?;
                let decoded = match e {
                    'n' => '\n',
                    't' | '\t' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'e' => '\u{1b}',
                    'f' => '\u{c}',
                    'v' => '\u{b}',
                    ' ' => ' ',
                    '"' => '"',
                    '/' => '/',
                    '\\' => '\\',
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'L' => '\u{2028}',
                    'P' => '\u{2029}',
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            hex.push(chars.next()?.1);
                        }
                        let mut code = u32::from_str_radix(&hex, 16).ok()?;
                        // A JSON surrogate pair: \uD83D\uDE00.
                        if (0xD800..0xDC00).contains(&code) {
                            let mut low = String::new();
                            if chars.next()?.1 != '\\' || chars.next()?.1 != 'u' {
                                return None;
                            }
                            for _ in 0..4 {
                                low.push(chars.next()?.1);
                            }
                            let low = u32::from_str_radix(&low, 16).ok()?;
                            code = 0x10000 + ((code - 0xD800) << 10) + (low.checked_sub(0xDC00)?);
                        }
                        char::from_u32(code)?
                    }
                    _ => return None,
                };
                out.push(decoded);
                offsets.push(start + i);
            }
            _ => {
                out.push(c);
                offsets.push(start + i);
            }
        }
    }
    if plain && offsets.len() == target_chars {
        offsets.push(start + src.len());
    }
    (out == text && offsets.len() == target_chars + 1).then_some(Mapper::Offsets(offsets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::yaml::parse_all;

    fn locate(file: &str, key: &str, needle: &str) -> String {
        let source = SourceFile::new("cm", file);
        let docs = parse_all(file).unwrap();
        let node = docs[0].get(key).unwrap();
        let text = node.as_scalar().unwrap().text.clone();
        let embedded = EmbeddedText::new(&source, node, text.clone());
        let idx = text.find(needle).unwrap();
        let before = &text[..idx];
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().unwrap().chars().count() as u32;
        let pos = Pos {
            line,
            col,
            index: before.chars().count(),
        };
        embedded.location(&source, node, pos).to_string()
    }

    #[test]
    fn literal_blocks_map_line_by_line() {
        let file = "mapRoles: |\n  - rolearn: a\n    username: b\n";
        assert_eq!(locate(file, "mapRoles", "username"), "cm:3:5");
        assert_eq!(locate(file, "mapRoles", "a\n"), "cm:2:14");
        let file = "mapRoles: |2\n\n    - rolearn: a\n";
        assert_eq!(locate(file, "mapRoles", "rolearn"), "cm:3:7");
    }

    #[test]
    fn json_strings_map_through_escapes() {
        let file = r#"{"mapRoles": "- rolearn: a\n  username: \"b\"\n"}"#;
        assert_eq!(locate(file, "mapRoles", "username"), "cm:1:31");
        assert_eq!(locate(file, "mapRoles", "\"b\""), "cm:1:41");
    }

    #[test]
    fn single_quotes_and_plain() {
        let file = "a: '- x: it''s'\n";
        assert_eq!(locate(file, "a", "s"), "cm:1:14");
        let file = "b: '[z, w]'\n";
        assert_eq!(locate(file, "b", "w"), "cm:1:9");
    }
}
