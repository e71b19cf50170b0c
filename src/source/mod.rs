//! Input files and positions in them.
//!
//! Every diagnostic the tool prints points at a file, a 1-based line and a 1-based column, and
//! shows the offending line with a caret under the column, so an operator can fix `aws-auth`
//! without hunting for the entry.

pub mod yaml;
pub mod yaml11;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// One input file, kept in memory so diagnostics can quote it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    name: Arc<str>,
    text: Arc<str>,
    line_starts: Arc<[usize]>,
}

impl SourceFile {
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts: line_starts.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of a 1-based line, without its line break.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(idx)?;
        let end = self
            .line_starts
            .get(idx + 1)
            .map_or(self.text.len(), |next| next - 1);
        Some(self.text[start..end].trim_end_matches('\r'))
    }

    /// A location from a 1-based line and a 0-based column counted in characters.
    pub fn location(&self, line: u32, col0: u32) -> Location {
        Location {
            file: self.name.clone(),
            line: line.max(1),
            column: col0 + 1,
        }
    }

    /// A location from a byte offset.
    pub fn location_of_offset(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[idx];
        let col = self.text[start..offset].chars().count();
        self.location(idx as u32 + 1, col as u32)
    }
}

/// A position in an input file: file name, 1-based line, 1-based column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Renders `message` at `location` the way compilers do: the location, the quoted line and a
/// caret under the column.
pub fn render_snippet(source: &SourceFile, location: &Location) -> String {
    let Some(line) = source.line_text(location.line) else {
        return String::new();
    };
    let gutter = location.line.to_string();
    let pad = " ".repeat(gutter.len());
    // Tabs are kept so the caret lines up under them in a terminal.
    let caret_pad: String = line
        .chars()
        .take(location.column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("{pad} |\n{gutter} | {line}\n{pad} | {caret_pad}^\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let src = SourceFile::new("f.yaml", "a: 1\nbé: 2\n\nc: 3");
        assert_eq!(src.location_of_offset(0).to_string(), "f.yaml:1:1");
        assert_eq!(src.location_of_offset(5).to_string(), "f.yaml:2:1");
        // 'é' is two bytes: the colon after it is the third character.
        assert_eq!(src.location_of_offset(8).to_string(), "f.yaml:2:3");
        assert_eq!(src.location_of_offset(13).to_string(), "f.yaml:4:1");
        assert_eq!(src.line_text(2), Some("bé: 2"));
        assert_eq!(src.line_text(3), Some(""));
        assert_eq!(src.line_text(5), None);
    }

    #[test]
    fn snippet_points_at_the_column() {
        let src = SourceFile::new("f.yaml", "key:\n  value: [\n");
        let loc = src.location(2, 9);
        assert_eq!(
            render_snippet(&src, &loc),
            "  |\n2 |   value: [\n  |          ^\n"
        );
    }
}
