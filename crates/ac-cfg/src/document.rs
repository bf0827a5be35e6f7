//! Lossless `.cfg` documents.
//!
//! A `.cfg` file (manual 2.2, 8.7.2) is a sequence of lines `path/key=value`. Lines may also be
//! blank or comments (first non-blank character `;` or `#`). This module keeps every byte: the
//! line terminators (LF, CRLF or none on the last line), white space around keys, `=` and values,
//! comments, order, duplicates, unknown keys and even lines it cannot read (kept as
//! [`LineKind::Invalid`] and reported by validation). For any input [`Document::parse`] accepts,
//! [`Document::emit`] returns exactly the input.
//!
//! Parsing is zero-copy: lines borrow from the input until they are edited.
//!
//! A file may name the models it is meant for in a header comment, written by `ac-cfgtool`:
//! `# model: 440HD` (several: `# model: 430HD, 440HD`). The phone ignores comments, so such a
//! file still loads on firmware that does not know the directive; [`crate::delta`] uses it for the
//! model check of manual 8.7.2.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::ops::Range;

use crate::model::{Model, ModelSet};

/// Limits that bound the work and memory spent on one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Longest line accepted, in bytes, without its terminator.
    pub max_line_len: usize,
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        // The phone's own files are a few tens of KiB with short lines; these limits leave room
        // for certificates pasted into values while refusing pathological input.
        ParseOptions {
            max_line_len: 16 * 1024,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why an input is not a `.cfg` document at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "line {line}, column {column}: not valid UTF-8 text (is this an encrypted .cfx file?)"
    )]
    NotUtf8 { line: usize, column: usize },
    #[error("line {line}, column {column}: NUL byte; a .cfg file is text")]
    NulByte { line: usize, column: usize },
    #[error("line {line} is {len} bytes long; the limit is {max}")]
    LineTooLong { line: usize, len: usize, max: usize },
    #[error("input is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
}

/// How a line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eol {
    /// The last line of a file without a final newline.
    None,
    Lf,
    CrLf,
}

impl Eol {
    pub fn as_str(self) -> &'static str {
        match self {
            Eol::None => "",
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// Why a non-blank, non-comment line is not an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    /// No `=` on the line.
    MissingEquals,
    /// Nothing before `=`.
    EmptyKey,
    /// The key has a character that no parameter path has, or an empty `/` segment;
    /// `column` is 1-based, in characters.
    BadKey { column: usize },
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidReason::MissingEquals => f.write_str("expected `path/key=value`, found no `=`"),
            InvalidReason::EmptyKey => f.write_str("no parameter name before `=`"),
            InvalidReason::BadKey { .. } => f.write_str(
                "a parameter name is made of `/`-separated segments of letters, digits, `_`, `-`, `.`, `%`",
            ),
        }
    }
}

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    Blank,
    Comment,
    /// `key` and `value` are byte ranges into the line's text (value without surrounding blanks).
    Entry {
        key: Range<u32>,
        value: Range<u32>,
    },
    Invalid(InvalidReason),
}

/// One line: its text (without terminator), its terminator and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    text: Cow<'a, str>,
    eol: Eol,
    kind: LineKind,
}

impl<'a> Line<'a> {
    fn parse(text: Cow<'a, str>, eol: Eol, first: bool) -> Line<'a> {
        let kind = classify(&text, first);
        Line { text, eol, kind }
    }

    /// The line's text, without its terminator.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn eol(&self) -> Eol {
        self.eol
    }

    pub fn kind(&self) -> &LineKind {
        &self.kind
    }

    /// The key and value of an entry line.
    pub fn entry(&self) -> Option<(&str, &str)> {
        match &self.kind {
            LineKind::Entry { key, value } => Some((
                &self.text[key.start as usize..key.end as usize],
                &self.text[value.start as usize..value.end as usize],
            )),
            _ => None,
        }
    }

    fn into_owned(self) -> Line<'static> {
        Line {
            text: Cow::Owned(self.text.into_owned()),
            eol: self.eol,
            kind: self.kind,
        }
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'%')
}

/// 1-based column, in characters, of byte offset `at` of `text`.
pub(crate) fn column_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(at, |p| p.chars().count()) + 1
}

fn classify(text: &str, first: bool) -> LineKind {
    // A UTF-8 byte order mark is kept in the text but is not part of the first line's content.
    let body_start = if first && text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let body = &text[body_start..];
    let trimmed = body.trim_start_matches(is_blank);
    let lead = body_start + (body.len() - trimmed.len());
    if trimmed.trim_end_matches(is_blank).is_empty() {
        return LineKind::Blank;
    }
    if trimmed.starts_with(';') || trimmed.starts_with('#') {
        return LineKind::Comment;
    }
    let Some(eq_rel) = memchr::memchr(b'=', trimmed.as_bytes()) else {
        return LineKind::Invalid(InvalidReason::MissingEquals);
    };
    let eq = lead + eq_rel;
    let key_end = lead + trimmed[..eq_rel].trim_end_matches(is_blank).len();
    if key_end == lead {
        return LineKind::Invalid(InvalidReason::EmptyKey);
    }
    let key = &text[lead..key_end];
    let bytes = key.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let empty_segment =
            b == b'/' && (i == 0 || i + 1 == bytes.len() || bytes.get(i + 1) == Some(&b'/'));
        if !is_key_char(b) || empty_segment {
            return LineKind::Invalid(InvalidReason::BadKey {
                column: column_of(text, lead + i),
            });
        }
    }
    let after = &text[eq + 1..];
    let v_trim_start = after.trim_start_matches(is_blank);
    let v_start = eq + 1 + (after.len() - v_trim_start.len());
    let v_end = v_start + v_trim_start.trim_end_matches(is_blank).len();
    LineKind::Entry {
        key: lead as u32..key_end as u32,
        value: v_start as u32..v_end as u32,
    }
}

/// An entry line seen through [`Document::entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'d> {
    /// 1-based line number.
    pub line: usize,
    pub key: &'d str,
    pub value: &'d str,
    /// 1-based column (characters) where the key starts.
    pub key_column: usize,
    /// 1-based column (characters) where the value starts.
    pub value_column: usize,
}

/// A key that is set on more than one line; the last one wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub key: String,
    /// 1-based line numbers, in order.
    pub lines: Vec<usize>,
}

/// Error of an edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("{0:?} is not a valid parameter name")]
    BadKey(String),
    #[error("a value cannot contain a line break or NUL, nor start or end with blanks")]
    BadValue,
}

/// A `.cfg` document. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document<'a> {
    lines: Vec<Line<'a>>,
}

impl<'a> Document<'a> {
    /// An empty document.
    pub fn new() -> Document<'static> {
        Document { lines: Vec::new() }
    }

    /// Parses text with the default limits.
    pub fn parse(src: &'a str) -> Result<Document<'a>, ParseError> {
        Document::parse_with(src, &ParseOptions::default())
    }

    /// Parses bytes: the input must be UTF-8 text without NUL bytes.
    pub fn parse_bytes(src: &'a [u8]) -> Result<Document<'a>, ParseError> {
        Document::parse_bytes_with(src, &ParseOptions::default())
    }

    /// [`Document::parse_bytes`] with explicit limits.
    pub fn parse_bytes_with(
        src: &'a [u8],
        opts: &ParseOptions,
    ) -> Result<Document<'a>, ParseError> {
        if src.len() > opts.max_bytes {
            return Err(ParseError::TooLarge {
                len: src.len(),
                max: opts.max_bytes,
            });
        }
        match std::str::from_utf8(src) {
            Ok(s) => Document::parse_with(s, opts),
            Err(e) => {
                let good = &src[..e.valid_up_to()];
                let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
                let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                // `good` is valid UTF-8 by construction.
                let column = std::str::from_utf8(&good[line_start..])
                    .map_or(good.len() - line_start, |s| s.chars().count())
                    + 1;
                Err(ParseError::NotUtf8 { line, column })
            }
        }
    }

    /// Parses text with explicit limits.
    pub fn parse_with(src: &'a str, opts: &ParseOptions) -> Result<Document<'a>, ParseError> {
        if src.len() > opts.max_bytes {
            return Err(ParseError::TooLarge {
                len: src.len(),
                max: opts.max_bytes,
            });
        }
        // One scan of the whole input for NUL; the error names its line and column.
        if let Some(p) = memchr::memchr(0, src.as_bytes()) {
            let before = &src[..p];
            let line = memchr::memchr_iter(b'\n', before.as_bytes()).count() + 1;
            let start = memchr::memrchr(b'\n', before.as_bytes()).map_or(0, |i| i + 1);
            return Err(ParseError::NulByte {
                line,
                column: column_of(&src[start..], p - start),
            });
        }
        let mut lines = Vec::with_capacity(src.len() / 32 + 1);
        let mut rest = src;
        while !rest.is_empty() {
            let (text, eol, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(nl) => {
                    let (text, eol) = match rest[..nl].strip_suffix('\r') {
                        Some(t) => (t, Eol::CrLf),
                        None => (&rest[..nl], Eol::Lf),
                    };
                    (text, eol, &rest[nl + 1..])
                }
                None => (rest, Eol::None, ""),
            };
            let number = lines.len() + 1;
            if text.len() > opts.max_line_len {
                return Err(ParseError::LineTooLong {
                    line: number,
                    len: text.len(),
                    max: opts.max_line_len,
                });
            }
            lines.push(Line::parse(Cow::Borrowed(text), eol, number == 1));
            rest = next;
        }
        Ok(Document { lines })
    }

    /// The document's exact text.
    pub fn emit(&self) -> String {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.text.len() + 2).sum());
        for l in &self.lines {
            out.push_str(&l.text);
            out.push_str(l.eol.as_str());
        }
        out
    }

    /// Writes the document's exact text.
    pub fn write_to<W: Write>(&self, mut w: W) -> io::Result<()> {
        for l in &self.lines {
            w.write_all(l.text.as_bytes())?;
            w.write_all(l.eol.as_str().as_bytes())?;
        }
        Ok(())
    }

    /// Detaches the document from its input.
    pub fn into_owned(self) -> Document<'static> {
        Document {
            lines: self.lines.into_iter().map(Line::into_owned).collect(),
        }
    }

    pub fn lines(&self) -> &[Line<'a>] {
        &self.lines
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Every entry, in order (duplicates included).
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match &l.kind {
                LineKind::Entry { key, value } => Some(Entry {
                    line: i + 1,
                    key: &l.text[key.start as usize..key.end as usize],
                    value: &l.text[value.start as usize..value.end as usize],
                    key_column: column_of(&l.text, key.start as usize),
                    value_column: column_of(&l.text, value.start as usize),
                }),
                _ => None,
            })
    }

    /// The value a key has in effect: that of its last line.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().rev().find_map(|l| match l.entry() {
            Some((k, v)) if k == key => Some(v),
            _ => None,
        })
    }

    /// Keys set more than once, with their lines, in order of first appearance.
    pub fn duplicates(&self) -> Vec<Duplicate> {
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut out: Vec<Duplicate> = Vec::new();
        let mut first_line: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::new();
        for e in self.entries() {
            match first_line.get(e.key) {
                None => {
                    first_line.insert(e.key, e.line);
                }
                Some(&first) => match seen.get(e.key) {
                    Some(&idx) => out[idx].lines.push(e.line),
                    None => {
                        seen.insert(e.key, out.len());
                        out.push(Duplicate {
                            key: e.key.to_string(),
                            lines: vec![first, e.line],
                        });
                    }
                },
            }
        }
        out
    }

    /// The line terminator most lines use (LF for an empty document).
    pub fn dominant_eol(&self) -> Eol {
        let crlf = self.lines.iter().filter(|l| l.eol == Eol::CrLf).count();
        let lf = self.lines.iter().filter(|l| l.eol == Eol::Lf).count();
        if crlf > lf {
            Eol::CrLf
        } else {
            Eol::Lf
        }
    }

    /// Models named by `model:` header comments before the first entry; `None` if there are none.
    /// Unknown model names are ignored here (validation reports them).
    pub fn declared_models(&self) -> Option<ModelSet> {
        let mut set = ModelSet::EMPTY;
        let mut any = false;
        for l in &self.lines {
            match l.kind {
                LineKind::Entry { .. } => break,
                LineKind::Comment => {
                    if let Some(list) = model_directive(&l.text) {
                        any = true;
                        for name in list.split(',') {
                            if let Ok(m) = name.parse::<Model>() {
                                set.insert(m);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        any.then_some(set)
    }

    /// Sets `key` to `value`. The last line of the key is rewritten in place, keeping its white
    /// space and terminator; a new key is appended at the end with the dominant terminator.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), EditError> {
        check_edit(key, value)?;
        let found = self
            .lines
            .iter()
            .rposition(|l| matches!(l.entry(), Some((k, _)) if k == key));
        match found {
            Some(i) => self.set_at(i, value),
            None => {
                self.push_line(format!("{key}={value}"));
                Ok(())
            }
        }
    }

    /// Rewrites the value of the entry on line index `index` (0-based), keeping the line's
    /// white space and terminator. Does nothing on a line that is not an entry.
    pub fn set_at(&mut self, index: usize, value: &str) -> Result<(), EditError> {
        check_value(value)?;
        if let Some(line) = self.lines.get_mut(index) {
            if let LineKind::Entry { value: r, .. } = &line.kind {
                let (s, e) = (r.start as usize, r.end as usize);
                let text = format!("{}{}{}", &line.text[..s], value, &line.text[e..]);
                *line = Line::parse(Cow::Owned(text), line.eol, index == 0);
            }
        }
        Ok(())
    }

    /// Appends `key=value` as a new line even if the key is already set.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), EditError> {
        check_edit(key, value)?;
        self.push_line(format!("{key}={value}"));
        Ok(())
    }

    /// Appends a comment line (`text` must be a comment, e.g. `# note`).
    pub fn append_comment(&mut self, text: &str) {
        let t = text.replace(['\r', '\n', '\0'], " ");
        let t = if t.trim_start().starts_with(['#', ';']) {
            t
        } else {
            format!("# {t}")
        };
        self.push_line(t);
    }

    fn push_line(&mut self, text: String) {
        let eol = self.dominant_eol();
        if let Some(last) = self.lines.last_mut() {
            if last.eol == Eol::None {
                last.eol = eol;
            }
        }
        let first = self.lines.is_empty();
        self.lines.push(Line::parse(Cow::Owned(text), eol, first));
    }

    /// Removes every line that sets `key`; returns how many.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l.entry(), Some((k, _)) if k == key));
        before - self.lines.len()
    }
}

fn check_edit(key: &str, value: &str) -> Result<(), EditError> {
    let probe = format!("{key}=");
    if !matches!(classify(&probe, false), LineKind::Entry { key: r, .. } if r.end as usize == key.len() && r.start == 0)
    {
        return Err(EditError::BadKey(key.to_string()));
    }
    check_value(value)
}

fn check_value(value: &str) -> Result<(), EditError> {
    if value.contains(['\r', '\n', '\0']) || value.trim_matches(is_blank) != value {
        return Err(EditError::BadValue);
    }
    Ok(())
}

/// The model list of a `model:` directive comment, if the comment is one.
fn model_directive(comment: &str) -> Option<&str> {
    let body = comment
        .trim_start_matches('\u{feff}')
        .trim_start_matches(is_blank)
        .trim_start_matches(['#', ';'])
        .trim_start_matches(is_blank);
    let rest = body.strip_prefix("model")?.trim_start_matches(is_blank);
    let list = rest.strip_prefix(':')?;
    Some(list.trim())
}

/// The header comment that declares a document's models.
pub fn model_header(models: &[Model]) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    format!("# model: {}", names.join(", "))
}

impl fmt::Display for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            f.write_str(&l.text)?;
            f.write_str(l.eol.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_kinds() {
        let src = "\u{feff}# header\r\n; semi\r\n\r\n  voip/line/0/enabled = 1 \r\nbad line\nx==y\n=v\nk=v";
        let d = Document::parse(src).unwrap();
        assert_eq!(d.emit(), src);
        let kinds: Vec<_> = d.lines().iter().map(|l| l.kind().clone()).collect();
        assert_eq!(kinds[0], LineKind::Comment);
        assert_eq!(kinds[1], LineKind::Comment);
        assert_eq!(kinds[2], LineKind::Blank);
        assert_eq!(d.lines()[3].entry(), Some(("voip/line/0/enabled", "1")));
        assert_eq!(kinds[4], LineKind::Invalid(InvalidReason::MissingEquals));
        assert_eq!(d.lines()[5].entry(), Some(("x", "=y")));
        assert_eq!(kinds[6], LineKind::Invalid(InvalidReason::EmptyKey));
        assert_eq!(d.lines()[7].eol(), Eol::None);
        let e: Vec<_> = d.entries().collect();
        assert_eq!(e[0].line, 4);
        assert_eq!(e[0].key_column, 3);
        assert_eq!(e[0].value_column, 25);
    }

    #[test]
    fn bad_keys_are_located() {
        let d = Document::parse("voip/li ne=1\nvoip//x=1\n/a=1\n").unwrap();
        assert!(matches!(
            d.lines()[0].kind(),
            LineKind::Invalid(InvalidReason::BadKey { column: 8 })
        ));
        assert!(matches!(
            d.lines()[1].kind(),
            LineKind::Invalid(InvalidReason::BadKey { column: 5 })
        ));
        assert!(matches!(
            d.lines()[2].kind(),
            LineKind::Invalid(InvalidReason::BadKey { column: 1 })
        ));
    }

    #[test]
    fn utf8_nul_and_limits() {
        assert_eq!(
            Document::parse_bytes(b"a=1\nb=\xff\n").unwrap_err(),
            ParseError::NotUtf8 { line: 2, column: 3 }
        );
        assert_eq!(
            Document::parse("a=1\nb=\0").unwrap_err(),
            ParseError::NulByte { line: 2, column: 3 }
        );
        let long = format!("a={}", "x".repeat(1 << 20));
        assert!(matches!(
            Document::parse(&long).unwrap_err(),
            ParseError::LineTooLong { line: 1, .. }
        ));
        let opts = ParseOptions {
            max_bytes: 4,
            ..ParseOptions::default()
        };
        assert!(matches!(
            Document::parse_with("a=123", &opts).unwrap_err(),
            ParseError::TooLarge { len: 5, max: 4 }
        ));
    }

    #[test]
    fn get_duplicates_and_edits() {
        let mut d = Document::parse("a=1\r\nb = 2  \r\na=3\r\nc=4").unwrap();
        assert_eq!(d.get("a"), Some("3"));
        assert_eq!(
            d.duplicates(),
            vec![Duplicate {
                key: "a".into(),
                lines: vec![1, 3]
            }]
        );
        d.set("b", "20").unwrap();
        d.set("d", "5").unwrap();
        assert_eq!(d.emit(), "a=1\r\nb = 20  \r\na=3\r\nc=4\r\nd=5\r\n");
        assert_eq!(d.remove("a"), 2);
        assert_eq!(d.get("a"), None);
        assert!(d.set("bad key", "1").is_err());
        assert!(d.set("k", "a\nb").is_err());
    }

    #[test]
    fn model_directive_is_read_from_the_header_only() {
        let d =
            Document::parse("# model: 430HD, 440hd\n; model:450HD\na=1\n# model: 405HD\n").unwrap();
        let s = d.declared_models().unwrap();
        assert!(s.contains(Model::Hd430) && s.contains(Model::Hd440) && s.contains(Model::Hd450));
        assert!(!s.contains(Model::Hd405));
        assert_eq!(Document::parse("a=1").unwrap().declared_models(), None);
    }
}
