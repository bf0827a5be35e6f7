//! Shared helpers for the SIPE XML bodies: a bounded, DTD-free parse (roxmltree) and the
//! escaping our emitters use.

use thiserror::Error;

/// Largest XML body accepted. [MS-SIPREGE] 4.2.2's example provisioning response is
/// 52,146 bytes; a quarter megabyte leaves room while bounding memory.
pub const MAX_BODY: usize = 256 * 1024;
/// Largest number of XML nodes accepted in one body.
pub const MAX_NODES: u32 = 20_000;

/// Why an XML body was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    #[error("body of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("body is not UTF-8")]
    Utf8,
    #[error("XML: {0}")]
    Syntax(String),
    #[error("root element is <{0}>, expected <{1}>")]
    Root(String, &'static str),
    #[error("<{0}> lacks its {1} attribute")]
    Attribute(&'static str, &'static str),
    #[error("<{0}> is missing")]
    Missing(&'static str),
    #[error("bad value in <{0}>")]
    Value(&'static str),
}

pub type Result<T> = std::result::Result<T, XmlError>;

/// Parses `body` as UTF-8 XML with the limits above; DTDs (and so entity expansion) refused.
pub fn parse(body: &[u8]) -> Result<roxmltree::Document<'_>> {
    if body.len() > MAX_BODY {
        return Err(XmlError::TooLarge(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| XmlError::Utf8)?;
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: MAX_NODES,
        },
    )
    .map_err(|e| XmlError::Syntax(e.to_string()))
}

/// The text of an element's direct text children, trimmed.
pub fn text(n: roxmltree::Node<'_, '_>) -> String {
    let mut s = String::new();
    for c in n.children().filter(|c| c.is_text()) {
        s.push_str(c.text().unwrap_or(""));
    }
    s.trim().to_string()
}

/// The first child element with local name `name`.
pub fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// Escapes text and attribute values (the five predefined entities; tabs and line ends
/// in attributes as character references so they survive attribute normalisation).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// XML Schema boolean (`true`/`false`/`1`/`0`).
pub fn boolean(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" | "True" | "TRUE" => Some(true),
        "false" | "0" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}
