//! `application/dialog-info+xml` bodies (RFC 4235 4): the dialog event package that BLF
//! (busy lamp field) keys watch.
//!
//! [`DialogInfo::parse`] is the checked view: the body goes through the bounded, DTD-free XML
//! parse of [`crate::sipe::xml`], then the root must be `<dialog-info>` in the RFC 4235
//! namespace with its mandatory `version`, `state` (`full`/`partial`) and `entity` attributes
//! (4.1), every `<dialog>` must have an `id` and exactly one `<state>` (4.1.1, 4.1.2) with one of
//! the five states of 3.7.1, and typed values (`direction`, the state's `code`, `duration`)
//! must parse. Elements of other namespaces are extensions and ignored (4.1: "elements from
//! other namespaces ... MUST be ignored" by a recipient that does not understand them).
//! [`DialogInfo::emit`] writes a canonical document, and `parse(emit(d)) == d`.

use std::fmt::Write as _;

use crate::sipe::xml::{self, escape, XmlError};

/// The RFC 4235 namespace.
pub const NS: &str = "urn:ietf:params:xml:ns:dialog-info";
/// Most `<dialog>` elements accepted in one document.
pub const MAX_DIALOGS: usize = 256;

pub type Result<T> = std::result::Result<T, XmlError>;

/// `state` attribute of `<dialog-info>` (RFC 4235 4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoState {
    Full,
    Partial,
}

/// The `direction` attribute of `<dialog>` (RFC 4235 4.1.2): who sent the dialog's
/// initial request, as seen from the observed user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogDirection {
    /// The observed user placed the call.
    Initiator,
    /// The observed user received it (for BLF: ringing when early).
    Recipient,
}

impl DialogDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            DialogDirection::Initiator => "initiator",
            DialogDirection::Recipient => "recipient",
        }
    }
}

/// The dialog states of RFC 4235 3.7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DialogState {
    Trying,
    Proceeding,
    Early,
    Confirmed,
    Terminated,
}

impl DialogState {
    pub fn as_str(self) -> &'static str {
        match self {
            DialogState::Trying => "trying",
            DialogState::Proceeding => "proceeding",
            DialogState::Early => "early",
            DialogState::Confirmed => "confirmed",
            DialogState::Terminated => "terminated",
        }
    }

    fn parse(s: &str) -> Option<DialogState> {
        Some(match s {
            "trying" => DialogState::Trying,
            "proceeding" => DialogState::Proceeding,
            "early" => DialogState::Early,
            "confirmed" => DialogState::Confirmed,
            "terminated" => DialogState::Terminated,
            _ => return None,
        })
    }
}

/// An identity (`<identity>`, `<referred-by>`): a URI and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub display: Option<String>,
    pub uri: String,
}

/// `<local>` or `<remote>` (RFC 4235 4.1.6): the participant's identity and target URI.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Participant {
    pub identity: Option<Identity>,
    /// `<target uri="...">`: the participant's remote target (Contact).
    pub target: Option<String>,
}

/// `<replaces>` (RFC 4235 4.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

/// One `<dialog>` (RFC 4235 4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: String,
    pub call_id: Option<String>,
    pub local_tag: Option<String>,
    pub remote_tag: Option<String>,
    pub direction: Option<DialogDirection>,
    pub state: DialogState,
    /// The `event` attribute of `<state>` (cancelled, rejected, replaced, local-bye,
    /// remote-bye, error, timeout).
    pub event: Option<String>,
    /// The `code` attribute of `<state>`: the response code that caused the transition.
    pub code: Option<u16>,
    /// `<duration>` in seconds.
    pub duration: Option<u64>,
    pub replaces: Option<Replaces>,
    pub referred_by: Option<Identity>,
    pub local: Option<Participant>,
    pub remote: Option<Participant>,
}

impl Dialog {
    /// A dialog with only its id and state.
    pub fn new(id: &str, state: DialogState) -> Dialog {
        Dialog {
            id: id.to_string(),
            call_id: None,
            local_tag: None,
            remote_tag: None,
            direction: None,
            state,
            event: None,
            code: None,
            duration: None,
            replaces: None,
            referred_by: None,
            local: None,
            remote: None,
        }
    }
}

/// A dialog-info document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogInfo {
    /// Increases by one with every NOTIFY of a subscription (RFC 4235 4.1.1).
    pub version: u64,
    pub state: InfoState,
    /// The observed user's URI.
    pub entity: String,
    pub dialogs: Vec<Dialog>,
}

fn ours(n: roxmltree::Node<'_, '_>, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(NS)
}

fn children<'a, 'i: 'a>(
    n: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children().filter(move |c| ours(*c, name))
}

/// At most one child `name` (RFC 4235 4.1.2: each of these elements appears at most once).
fn one<'a, 'i: 'a>(
    n: roxmltree::Node<'a, 'i>,
    name: &'static str,
) -> Result<Option<roxmltree::Node<'a, 'i>>> {
    let mut it = children(n, name);
    let first = it.next();
    if it.next().is_some() {
        return Err(XmlError::Value(name));
    }
    Ok(first)
}

fn identity(n: roxmltree::Node<'_, '_>, what: &'static str) -> Result<Identity> {
    let uri = xml::text(n);
    if uri.is_empty() {
        return Err(XmlError::Value(what));
    }
    Ok(Identity {
        display: n.attribute("display").map(str::to_string),
        uri,
    })
}

fn participant(n: roxmltree::Node<'_, '_>, what: &'static str) -> Result<Participant> {
    let identity = one(n, "identity")?
        .map(|i| identity(i, "identity"))
        .transpose()?;
    let target = match one(n, "target")? {
        None => None,
        Some(t) => Some(
            t.attribute("uri")
                .ok_or(XmlError::Attribute("target", "uri"))?
                .to_string(),
        ),
    };
    let _ = what;
    Ok(Participant { identity, target })
}

fn digits<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(XmlError::Value(what));
    }
    s.parse().map_err(|_| XmlError::Value(what))
}

impl DialogInfo {
    /// Parses and checks a body (see the module documentation).
    pub fn parse(body: &[u8]) -> Result<DialogInfo> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if !ours(root, "dialog-info") {
            return Err(XmlError::Root(root.tag_name().name().into(), "dialog-info"));
        }
        // RFC 4235 4.1.1: version, state and entity are mandatory.
        let version = digits(
            root.attribute("version")
                .ok_or(XmlError::Attribute("dialog-info", "version"))?,
            "dialog-info",
        )?;
        let state = match root
            .attribute("state")
            .ok_or(XmlError::Attribute("dialog-info", "state"))?
        {
            "full" => InfoState::Full,
            "partial" => InfoState::Partial,
            _ => return Err(XmlError::Value("dialog-info")),
        };
        let entity = root
            .attribute("entity")
            .ok_or(XmlError::Attribute("dialog-info", "entity"))?
            .to_string();
        let mut dialogs = Vec::new();
        for d in children(root, "dialog") {
            if dialogs.len() == MAX_DIALOGS {
                return Err(XmlError::Value("dialog-info"));
            }
            dialogs.push(Self::dialog(d)?);
        }
        Ok(DialogInfo {
            version,
            state,
            entity,
            dialogs,
        })
    }

    fn dialog(d: roxmltree::Node<'_, '_>) -> Result<Dialog> {
        let id = d
            .attribute("id")
            .ok_or(XmlError::Attribute("dialog", "id"))?
            .to_string();
        let direction = match d.attribute("direction") {
            None => None,
            Some("initiator") => Some(DialogDirection::Initiator),
            Some("recipient") => Some(DialogDirection::Recipient),
            Some(_) => return Err(XmlError::Value("dialog")),
        };
        // RFC 4235 4.1.2: exactly one <state>.
        let st = one(d, "state")?.ok_or(XmlError::Missing("state"))?;
        let state = DialogState::parse(&xml::text(st)).ok_or(XmlError::Value("state"))?;
        let code = match st.attribute("code") {
            None => None,
            Some(c) => {
                let c: u16 = digits(c, "state")?;
                if !(100..=699).contains(&c) {
                    return Err(XmlError::Value("state"));
                }
                Some(c)
            }
        };
        let duration = one(d, "duration")?
            .map(|n| digits::<u64>(&xml::text(n), "duration"))
            .transpose()?;
        let replaces = match one(d, "replaces")? {
            None => None,
            Some(r) => {
                let a = |n: &'static str| {
                    r.attribute(n)
                        .map(str::to_string)
                        .ok_or(XmlError::Attribute("replaces", n))
                };
                Some(Replaces {
                    call_id: a("call-id")?,
                    local_tag: a("local-tag")?,
                    remote_tag: a("remote-tag")?,
                })
            }
        };
        let referred_by = one(d, "referred-by")?
            .map(|r| identity(r, "referred-by"))
            .transpose()?;
        let local = one(d, "local")?
            .map(|p| participant(p, "local"))
            .transpose()?;
        let remote = one(d, "remote")?
            .map(|p| participant(p, "remote"))
            .transpose()?;
        Ok(Dialog {
            id,
            call_id: d.attribute("call-id").map(str::to_string),
            local_tag: d.attribute("local-tag").map(str::to_string),
            remote_tag: d.attribute("remote-tag").map(str::to_string),
            direction,
            state,
            event: st.attribute("event").map(str::to_string),
            code,
            duration,
            replaces,
            referred_by,
            local,
            remote,
        })
    }

    /// The canonical document.
    pub fn emit(&self) -> String {
        let mut s = String::with_capacity(256 + 256 * self.dialogs.len());
        let _ = write!(
            s,
            "<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"{NS}\" version=\"{}\" state=\"{}\" entity=\"{}\">\n",
            self.version,
            match self.state {
                InfoState::Full => "full",
                InfoState::Partial => "partial",
            },
            escape(&self.entity)
        );
        for d in &self.dialogs {
            let _ = write!(s, "<dialog id=\"{}\"", escape(&d.id));
            for (n, v) in [
                ("call-id", &d.call_id),
                ("local-tag", &d.local_tag),
                ("remote-tag", &d.remote_tag),
            ] {
                if let Some(v) = v {
                    let _ = write!(s, " {n}=\"{}\"", escape(v));
                }
            }
            if let Some(dir) = d.direction {
                let _ = write!(s, " direction=\"{}\"", dir.as_str());
            }
            s.push_str(">\n<state");
            if let Some(e) = &d.event {
                let _ = write!(s, " event=\"{}\"", escape(e));
            }
            if let Some(c) = d.code {
                let _ = write!(s, " code=\"{c}\"");
            }
            let _ = writeln!(s, ">{}</state>", d.state.as_str());
            if let Some(t) = d.duration {
                let _ = writeln!(s, "<duration>{t}</duration>");
            }
            if let Some(r) = &d.replaces {
                let _ = writeln!(
                    s,
                    "<replaces call-id=\"{}\" local-tag=\"{}\" remote-tag=\"{}\"/>",
                    escape(&r.call_id),
                    escape(&r.local_tag),
                    escape(&r.remote_tag)
                );
            }
            if let Some(r) = &d.referred_by {
                emit_identity(&mut s, "referred-by", r);
            }
            for (name, p) in [("local", &d.local), ("remote", &d.remote)] {
                if let Some(p) = p {
                    let _ = writeln!(s, "<{name}>");
                    if let Some(i) = &p.identity {
                        emit_identity(&mut s, "identity", i);
                    }
                    if let Some(t) = &p.target {
                        let _ = writeln!(s, "<target uri=\"{}\"/>", escape(t));
                    }
                    let _ = writeln!(s, "</{name}>");
                }
            }
            s.push_str("</dialog>\n");
        }
        s.push_str("</dialog-info>\n");
        s
    }
}

fn emit_identity(s: &mut String, name: &str, i: &Identity) {
    let _ = write!(s, "<{name}");
    if let Some(d) = &i.display {
        let _ = write!(s, " display=\"{}\"", escape(d));
    }
    let _ = writeln!(s, ">{}</{name}>", escape(&i.uri));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4235 4.2's first example (a trying dialog, then the confirmed one of 4.2.2 with
    /// local and remote parts), as printed there.
    const EXAMPLE: &str = r#"<?xml version="1.0"?>
   <dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info"
                version="1"
                state="full"
                entity="sip:alice@example.com">
     <dialog id="as7d900as8" call-id="a84b4c76e66710"
      local-tag="1928301774" direction="initiator">
       <state event="rejected" code="486">terminated</state>
       <duration>274</duration>
       <local>
         <identity display="Alice">sip:alice@example.com</identity>
         <target uri="sip:alice@pc33.example.com">
           <param pname="+sip.rendering" pval="yes"/>
         </target>
       </local>
       <remote>
         <identity display="Bob">sip:bob@example.org</identity>
         <target uri="sip:bobster@phone21.example.org"/>
       </remote>
     </dialog>
   </dialog-info>"#;

    #[test]
    fn rfc_example_fields() {
        let d = DialogInfo::parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(d.version, 1);
        assert_eq!(d.state, InfoState::Full);
        assert_eq!(d.entity, "sip:alice@example.com");
        let x = &d.dialogs[0];
        assert_eq!(x.id, "as7d900as8");
        assert_eq!(x.call_id.as_deref(), Some("a84b4c76e66710"));
        assert_eq!(x.direction, Some(DialogDirection::Initiator));
        assert_eq!(x.state, DialogState::Terminated);
        assert_eq!(x.event.as_deref(), Some("rejected"));
        assert_eq!(x.code, Some(486));
        assert_eq!(x.duration, Some(274));
        let l = x.local.as_ref().unwrap();
        assert_eq!(
            l.identity.as_ref().unwrap().display.as_deref(),
            Some("Alice")
        );
        assert_eq!(l.target.as_deref(), Some("sip:alice@pc33.example.com"));
        let r = x.remote.as_ref().unwrap();
        assert_eq!(r.identity.as_ref().unwrap().uri, "sip:bob@example.org");
        let again = DialogInfo::parse(d.emit().as_bytes()).unwrap();
        assert_eq!(again, d);
    }

    #[test]
    fn refusals() {
        for bad in [
            "<dialog-info version=\"1\" state=\"full\" entity=\"sip:a@b\"/>", // no namespace
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" state=\"full\" entity=\"sip:a@b\"/>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"-1\" state=\"full\" entity=\"sip:a@b\"/>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"half\" entity=\"sip:a@b\"/>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\"/>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\"><dialog><state>early</state></dialog></dialog-info>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\"><dialog id=\"1\"/></dialog-info>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\"><dialog id=\"1\"><state>ringing</state></dialog></dialog-info>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\"><dialog id=\"1\"><state>early</state><state>early</state></dialog></dialog-info>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\"><dialog id=\"1\" direction=\"up\"><state>early</state></dialog></dialog-info>",
            "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"1\" state=\"full\" entity=\"e\"><dialog id=\"1\"><state code=\"99\">early</state></dialog></dialog-info>",
            "<!DOCTYPE x [<!ENTITY a \"b\">]><dialog-info/>",
            "<dialog-info",
        ] {
            assert!(DialogInfo::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn extensions_ignored() {
        let b = r#"<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" xmlns:x="urn:x" version="7" state="partial" entity="sip:bob@example.com"><x:state>odd</x:state><dialog id="z" direction="recipient"><x:foo/><state>early</state></dialog></dialog-info>"#;
        let d = DialogInfo::parse(b.as_bytes()).unwrap();
        assert_eq!(d.state, InfoState::Partial);
        assert_eq!(d.dialogs[0].state, DialogState::Early);
        assert_eq!(d.dialogs[0].direction, Some(DialogDirection::Recipient));
    }
}
