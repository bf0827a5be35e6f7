//! `application/pidf+xml` presence documents (RFC 3863).
//!
//! [`Presence::parse`] is the checked view: the bounded, DTD-free XML parse of
//! [`crate::sipe::xml`], then `<presence>` in the PIDF namespace with its mandatory `entity`
//! (RFC 3863 4.1.1), each `<tuple>` with an `id` (4.1.2) and its `<status>` (4.1.3; `<basic>`
//! `open` or `closed` when present, 4.1.4), an optional `<contact>` with a qvalue `priority`
//! (4.1.5), `<note>`s with their `xml:lang` (4.1.6) and a `<timestamp>` (4.1.7). Elements of
//! other namespaces (RPID, data-model extensions) are ignored, as RFC 3863 4.3 asks of a
//! watcher that does not understand them. [`Presence::emit`] writes a canonical document and
//! `parse(emit(p)) == p`.

use std::fmt::Write as _;

use crate::sipe::xml::{self, escape, XmlError};

/// The PIDF namespace (RFC 3863 4.1).
pub const NS: &str = "urn:ietf:params:xml:ns:pidf";
/// The XML namespace (for `xml:lang`).
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// Most tuples and notes accepted in one document.
pub const MAX_TUPLES: usize = 64;
pub const MAX_NOTES: usize = 64;

pub type Result<T> = std::result::Result<T, XmlError>;

/// `<basic>` (RFC 3863 4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basic {
    Open,
    Closed,
}

impl Basic {
    pub fn as_str(self) -> &'static str {
        match self {
            Basic::Open => "open",
            Basic::Closed => "closed",
        }
    }
}

/// `<note>` with its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub lang: Option<String>,
    pub text: String,
}

/// `<contact priority="0.8">URI</contact>` (RFC 3863 4.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub uri: String,
    /// A qvalue (RFC 3261 25.1: `0[.ddd]` or `1[.000]`) as written.
    pub priority: Option<String>,
}

/// `<tuple>` (RFC 3863 4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    pub id: String,
    pub basic: Option<Basic>,
    pub contact: Option<Contact>,
    pub notes: Vec<Note>,
    pub timestamp: Option<String>,
}

/// A PIDF document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// The presentity, `pres:` or `sip:` URI.
    pub entity: String,
    pub tuples: Vec<Tuple>,
    pub notes: Vec<Note>,
}

fn ours(n: roxmltree::Node<'_, '_>, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(NS)
}

fn one<'a, 'i: 'a>(
    n: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> Result<Option<roxmltree::Node<'a, 'i>>> {
    let mut it = n.children().filter(|c| ours(*c, name));
    let first = it.next();
    if it.next().is_some() {
        return Err(XmlError::Value(name));
    }
    Ok(first)
}

fn notes(n: roxmltree::Node<'_, '_>) -> Result<Vec<Note>> {
    let mut v = Vec::new();
    for c in n.children().filter(|c| ours(*c, "note")) {
        if v.len() == MAX_NOTES {
            return Err(XmlError::Value("note"));
        }
        v.push(Note {
            lang: c.attribute((XML_NS, "lang")).map(str::to_string),
            text: xml::text(c),
        });
    }
    Ok(v)
}

/// RFC 3261 25.1: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
pub fn is_qvalue(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let f = frac.unwrap_or("");
    if f.len() > 3 || !f.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match int {
        "0" => true,
        "1" => f.bytes().all(|b| b == b'0'),
        _ => false,
    }
}

impl Presence {
    /// Parses and checks a body (see the module documentation).
    pub fn parse(body: &[u8]) -> Result<Presence> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if !ours(root, "presence") {
            return Err(XmlError::Root(root.tag_name().name().into(), "presence"));
        }
        let entity = root
            .attribute("entity")
            .ok_or(XmlError::Attribute("presence", "entity"))?
            .to_string();
        let mut tuples = Vec::new();
        for t in root.children().filter(|c| ours(*c, "tuple")) {
            if tuples.len() == MAX_TUPLES {
                return Err(XmlError::Value("presence"));
            }
            let id = t
                .attribute("id")
                .ok_or(XmlError::Attribute("tuple", "id"))?
                .to_string();
            // RFC 3863 4.1.3: <status> is mandatory in a tuple.
            let status = one(t, "status")?.ok_or(XmlError::Missing("status"))?;
            let basic = match one(status, "basic")? {
                None => None,
                Some(b) => Some(match xml::text(b).as_str() {
                    "open" => Basic::Open,
                    "closed" => Basic::Closed,
                    _ => return Err(XmlError::Value("basic")),
                }),
            };
            let contact = match one(t, "contact")? {
                None => None,
                Some(c) => {
                    let priority = c.attribute("priority").map(str::to_string);
                    if priority.as_deref().is_some_and(|p| !is_qvalue(p)) {
                        return Err(XmlError::Value("contact"));
                    }
                    let uri = xml::text(c);
                    if uri.is_empty() {
                        return Err(XmlError::Value("contact"));
                    }
                    Some(Contact { uri, priority })
                }
            };
            let timestamp = one(t, "timestamp")?.map(xml::text);
            tuples.push(Tuple {
                id,
                basic,
                contact,
                notes: notes(t)?,
                timestamp,
            });
        }
        Ok(Presence {
            entity,
            tuples,
            notes: notes(root)?,
        })
    }

    /// The canonical document.
    pub fn emit(&self) -> String {
        let mut s = String::with_capacity(256 + 200 * self.tuples.len());
        let _ = writeln!(
            s,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"{NS}\" entity=\"{}\">",
            escape(&self.entity)
        );
        for t in &self.tuples {
            let _ = writeln!(s, "<tuple id=\"{}\">", escape(&t.id));
            match t.basic {
                Some(b) => {
                    let _ = writeln!(s, "<status><basic>{}</basic></status>", b.as_str());
                }
                None => s.push_str("<status/>\n"),
            }
            if let Some(c) = &t.contact {
                s.push_str("<contact");
                if let Some(p) = &c.priority {
                    let _ = write!(s, " priority=\"{}\"", escape(p));
                }
                let _ = writeln!(s, ">{}</contact>", escape(&c.uri));
            }
            emit_notes(&mut s, &t.notes);
            if let Some(ts) = &t.timestamp {
                let _ = writeln!(s, "<timestamp>{}</timestamp>", escape(ts));
            }
            s.push_str("</tuple>\n");
        }
        emit_notes(&mut s, &self.notes);
        s.push_str("</presence>\n");
        s
    }

    /// The status a phone shows: open if any tuple is open, closed if some tuple says
    /// closed and none open, unknown otherwise.
    pub fn basic(&self) -> Option<Basic> {
        let mut any = None;
        for t in &self.tuples {
            match t.basic {
                Some(Basic::Open) => return Some(Basic::Open),
                Some(Basic::Closed) => any = Some(Basic::Closed),
                None => {}
            }
        }
        any
    }

    /// The first note (a tuple's, else the document's).
    pub fn note(&self) -> Option<&str> {
        self.tuples
            .iter()
            .flat_map(|t| t.notes.iter())
            .chain(self.notes.iter())
            .map(|n| n.text.as_str())
            .find(|t| !t.is_empty())
    }

    /// A one-tuple document (what our PUBLISH sends).
    pub fn simple(entity: &str, tuple_id: &str, basic: Basic, note: Option<&str>) -> Presence {
        Presence {
            entity: entity.to_string(),
            tuples: vec![Tuple {
                id: tuple_id.to_string(),
                basic: Some(basic),
                contact: None,
                notes: note
                    .map(|n| {
                        vec![Note {
                            lang: None,
                            text: n.to_string(),
                        }]
                    })
                    .unwrap_or_default(),
                timestamp: None,
            }],
            notes: Vec::new(),
        }
    }
}

fn emit_notes(s: &mut String, notes: &[Note]) {
    for n in notes {
        s.push_str("<note");
        if let Some(l) = &n.lang {
            let _ = write!(s, " xml:lang=\"{}\"", escape(l));
        }
        let _ = writeln!(s, ">{}</note>", escape(&n.text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3863 5's example, as printed (the `im:` extension namespace is ignored).
    const EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
   <presence xmlns="urn:ietf:params:xml:ns:pidf"
       xmlns:im="urn:ietf:params:xml:ns:pidf:im"
       xmlns:myex="http://id.example.com/presence/"
       entity="pres:someone@example.com">
     <tuple id="bs35r9">
       <status>
         <basic>open</basic>
         <im:im>busy</im:im>
         <myex:location>home</myex:location>
       </status>
       <contact priority="0.8">im:someone@mobilecarrier.net</contact>
       <note xml:lang="en">Don't Disturb Please!</note>
       <note xml:lang="fr">Ne derangez pas, s'il vous plait</note>
       <timestamp>2001-10-27T16:49:29Z</timestamp>
     </tuple>
     <tuple id="eg92n8">
       <status>
         <basic>open</basic>
       </status>
       <contact priority="1.0">mailto:someone@example.com</contact>
     </tuple>
     <note>I'll be in Tokyo next week</note>
   </presence>"#;

    #[test]
    fn rfc_example() {
        let p = Presence::parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(p.entity, "pres:someone@example.com");
        assert_eq!(p.tuples.len(), 2);
        let t = &p.tuples[0];
        assert_eq!(t.basic, Some(Basic::Open));
        assert_eq!(t.contact.as_ref().unwrap().priority.as_deref(), Some("0.8"));
        assert_eq!(t.notes[1].lang.as_deref(), Some("fr"));
        assert_eq!(t.timestamp.as_deref(), Some("2001-10-27T16:49:29Z"));
        assert_eq!(p.notes[0].text, "I'll be in Tokyo next week");
        assert_eq!(p.basic(), Some(Basic::Open));
        assert_eq!(p.note(), Some("Don't Disturb Please!"));
        assert_eq!(Presence::parse(p.emit().as_bytes()).unwrap(), p);
    }

    #[test]
    fn refusals() {
        for bad in [
            r#"<presence entity="pres:a@b"/>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf"/>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple><status/></tuple></presence>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="1"/></presence>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="1"><status><basic>away</basic></status></tuple></presence>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="1"><status/><contact priority="1.5">x</contact></tuple></presence>"#,
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="e"><tuple id="1"><status/><status/></tuple></presence>"#,
        ] {
            assert!(Presence::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        for q in ["0", "0.5", "0.123", "1", "1.000"] {
            assert!(is_qvalue(q), "{q}");
        }
        for q in ["", "2", "0.1234", "1.5", ".5", "0."] {
            assert_eq!(is_qvalue(q), q == "0.", "{q}");
        }
    }
}
