//! Roaming self ([MS-PRES] self subscription): the `vnd-microsoft-roaming-self` SUBSCRIBE
//! body (`roamingList`, [MS-PRES] 3.3.5.1 and the 4.4.1 example) and the `roamingData`
//! document the server answers with (in the 200 OK as a piggybacked first NOTIFY, then in
//! NOTIFY/BENOTIFY, [MS-PRES] 4.4.3): a checked parse of its categories and an emitter
//! whose output parses back to the same value.
//!
//! Voicemail counts for online users (manual 3.3.20): the MWI information "is part of the
//! SELF SUBSCRIBE/NOTIFY when the content type is vnd-microsoft-roaming-self+xml" with the
//! tokens `unreadVoiceMailCount` and `readVoiceMailCount`. The manual names the tokens
//! only, not the category or element that carries them, so the parser takes them from
//! wherever they appear inside a category; the element our emitter wraps them in
//! (`voiceMailCounts`) is ours.

use crate::sipe::xml::{self, escape, Result, XmlError};

/// The event package of the self subscription.
pub const EVENT: &str = "vnd-microsoft-roaming-self";
/// Content-Type of the subscription's request and notification bodies.
pub const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-self+xml";
/// Namespace of `roamingList` and `roamingData`.
pub const NS: &str = "http://schemas.microsoft.com/2006/09/sip/roaming-self";
/// Namespace of the `categories` element.
pub const NS_CATEGORIES: &str = "http://schemas.microsoft.com/2006/09/sip/categories";
/// Namespace of the `roamingEx` element (delegates).
pub const NS_EX: &str = "http://schemas.microsoft.com/2007/09/sip/roaming-self-ex";
/// Namespace of the `state` category value.
pub const NS_STATE: &str = "http://schemas.microsoft.com/2006/09/sip/state";

/// The roaming types a phone subscribes to: [MS-PRES] 3.3.5.1 "SIP protocol clients
/// ordinarily subscribe to all four types" (`delegates` through `roamingEx`).
pub const ALL_TYPES: &[&str] = &["categories", "containers", "subscribers", "delegates"];

/// Most categories accepted in one document.
pub const MAX_CATEGORIES: usize = 256;
/// Most roaming types accepted in one `roamingList`.
pub const MAX_TYPES: usize = 16;

/// The `roamingList` body of a self SUBSCRIBE ([MS-PRES] 4.4.1): `roaming` elements for
/// the 2006 types, `roamingEx` for `delegates`.
pub fn request_body(types: &[&str]) -> String {
    let mut s = format!("<roamingList xmlns=\"{NS}\">");
    for t in types {
        if *t == "delegates" {
            s.push_str(&format!(
                "<roamingEx xmlns=\"{NS_EX}\" type=\"{}\"/>",
                escape(t)
            ));
        } else {
            s.push_str(&format!("<roaming type=\"{}\"/>", escape(t)));
        }
    }
    s.push_str("</roamingList>");
    s
}

/// The roaming types a `roamingList` asks for (what the double reads).
pub fn parse_request(body: &[u8]) -> Result<Vec<String>> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "roamingList" {
        return Err(XmlError::Root(root.tag_name().name().into(), "roamingList"));
    }
    let mut out = Vec::new();
    for r in root
        .children()
        .filter(|c| c.is_element() && matches!(c.tag_name().name(), "roaming" | "roamingEx"))
    {
        if out.len() == MAX_TYPES {
            return Err(XmlError::Value("roamingList"));
        }
        out.push(
            r.attribute("type")
                .ok_or(XmlError::Attribute("roaming", "type"))?
                .to_string(),
        );
    }
    Ok(out)
}

/// Voicemail counts of one category (manual 3.3.20's tokens); a token absent is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoicemailTokens {
    pub unread: Option<u32>,
    pub read: Option<u32>,
}

/// What the phone shows: waiting (unread) and saved (read) voicemail messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoicemailCounts {
    pub unread: u32,
    pub read: u32,
}

impl VoicemailCounts {
    /// The message-waiting lamp: on while anything is unread.
    pub fn waiting(&self) -> bool {
        self.unread > 0
    }
}

/// One category instance of `roamingData` ([MS-PRES] 4.4.3's `category` elements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoamingCategory {
    pub name: String,
    pub instance: u32,
    pub container: Option<u32>,
    pub version: u32,
    pub publish_time: Option<String>,
    pub expire_type: Option<String>,
    /// `state` categories: the xsi:type of the value (`aggregateState`, ...).
    pub state_type: Option<String>,
    pub availability: Option<u32>,
    pub voicemail: Option<VoicemailTokens>,
}

/// A `roamingData` document: the categories part (containers, subscribers and delegates
/// are accepted and not modelled: a phone shows none of them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoamingData {
    /// The `uri` of the `categories` element (the user's AOR), when it is present.
    pub uri: Option<String>,
    pub categories: Vec<RoamingCategory>,
}

fn attr_u32(n: roxmltree::Node<'_, '_>, a: &'static str) -> Result<Option<u32>> {
    match n.attribute(a) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| XmlError::Value("category")),
    }
}

fn count(n: roxmltree::Node<'_, '_>, name: &'static str) -> Result<Option<u32>> {
    match n
        .descendants()
        .find(|d| d.is_element() && d.tag_name().name() == name)
    {
        None => Ok(None),
        Some(e) => xml::text(e)
            .parse()
            .map(Some)
            .map_err(|_| XmlError::Value(name)),
    }
}

impl RoamingData {
    pub fn parse(body: &[u8]) -> Result<RoamingData> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if root.tag_name().name() != "roamingData" {
            return Err(XmlError::Root(root.tag_name().name().into(), "roamingData"));
        }
        let mut out = RoamingData::default();
        let Some(cats) = xml::child(root, "categories") else {
            return Ok(out);
        };
        out.uri = cats.attribute("uri").map(str::to_string);
        for c in cats
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "category")
        {
            if out.categories.len() == MAX_CATEGORIES {
                return Err(XmlError::Value("categories"));
            }
            let name = c
                .attribute("name")
                .ok_or(XmlError::Attribute("category", "name"))?
                .to_string();
            let instance =
                attr_u32(c, "instance")?.ok_or(XmlError::Attribute("category", "instance"))?;
            let version =
                attr_u32(c, "version")?.ok_or(XmlError::Attribute("category", "version"))?;
            let state = xml::child(c, "state");
            let state_type = state.and_then(|s| {
                s.attributes()
                    .find(|a| a.name() == "type")
                    .map(|a| a.value().to_string())
            });
            let availability = match state.and_then(|s| xml::child(s, "availability")) {
                None => None,
                Some(a) => Some(
                    xml::text(a)
                        .parse::<u32>()
                        .map_err(|_| XmlError::Value("availability"))?,
                ),
            };
            let unread = count(c, "unreadVoiceMailCount")?;
            let read = count(c, "readVoiceMailCount")?;
            let voicemail =
                (unread.is_some() || read.is_some()).then_some(VoicemailTokens { unread, read });
            out.categories.push(RoamingCategory {
                name,
                instance,
                container: attr_u32(c, "container")?,
                version,
                publish_time: c.attribute("publishTime").map(str::to_string),
                expire_type: c.attribute("expireType").map(str::to_string),
                state_type,
                availability,
                voicemail,
            });
        }
        Ok(out)
    }

    pub fn emit(&self) -> String {
        let mut s = format!("<roamingData xmlns=\"{NS}\"><categories xmlns=\"{NS_CATEGORIES}\"");
        if let Some(u) = &self.uri {
            s.push_str(&format!(" uri=\"{}\"", escape(u)));
        }
        s.push('>');
        for c in &self.categories {
            s.push_str(&format!(
                "<category name=\"{}\" instance=\"{}\"",
                escape(&c.name),
                c.instance
            ));
            if let Some(t) = &c.publish_time {
                s.push_str(&format!(" publishTime=\"{}\"", escape(t)));
            }
            if let Some(n) = c.container {
                s.push_str(&format!(" container=\"{n}\""));
            }
            s.push_str(&format!(" version=\"{}\"", c.version));
            if let Some(t) = &c.expire_type {
                s.push_str(&format!(" expireType=\"{}\"", escape(t)));
            }
            s.push('>');
            if c.state_type.is_some() || c.availability.is_some() {
                s.push_str(&format!(
                    "<state xmlns=\"{NS_STATE}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                ));
                if let Some(t) = &c.state_type {
                    s.push_str(&format!(" xsi:type=\"{}\"", escape(t)));
                }
                s.push('>');
                if let Some(a) = c.availability {
                    s.push_str(&format!("<availability>{a}</availability>"));
                }
                s.push_str("</state>");
            }
            if let Some(v) = c.voicemail {
                s.push_str("<voiceMailCounts>");
                if let Some(n) = v.unread {
                    s.push_str(&format!("<unreadVoiceMailCount>{n}</unreadVoiceMailCount>"));
                }
                if let Some(n) = v.read {
                    s.push_str(&format!("<readVoiceMailCount>{n}</readVoiceMailCount>"));
                }
                s.push_str("</voiceMailCounts>");
            }
            s.push_str("</category>");
        }
        s.push_str("</categories></roamingData>");
        s
    }

    /// The voicemail counts the document carries (the first category with either token;
    /// a missing token counts 0), `None` when it carries none.
    pub fn voicemail(&self) -> Option<VoicemailCounts> {
        self.categories
            .iter()
            .find_map(|c| c.voicemail)
            .map(|v| VoicemailCounts {
                unread: v.unread.unwrap_or(0),
                read: v.read.unwrap_or(0),
            })
    }

    /// The aggregate availability ([MS-PRES] 4.4.3: the `state` category of type
    /// `aggregateState`), when present.
    pub fn aggregate_availability(&self) -> Option<u32> {
        self.categories
            .iter()
            .find(|c| c.name == "state" && c.state_type.as_deref() == Some("aggregateState"))
            .and_then(|c| c.availability)
    }

    /// Sets the voicemail counts: in the first category that carries them, else in a new
    /// category of ours (`voiceMailCounts`, instance 0, user-wide) — what the double uses
    /// to change the counts.
    pub fn set_voicemail(&mut self, v: VoicemailCounts) {
        let t = VoicemailTokens {
            unread: Some(v.unread),
            read: Some(v.read),
        };
        if let Some(c) = self.categories.iter_mut().find(|c| c.voicemail.is_some()) {
            c.voicemail = Some(t);
            c.version = c.version.wrapping_add(1);
            return;
        }
        self.categories.push(RoamingCategory {
            name: "voiceMailCounts".into(),
            instance: 0,
            container: None,
            version: 1,
            publish_time: None,
            expire_type: Some("user".into()),
            state_type: None,
            availability: None,
            voicemail: Some(t),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_body_round_trips() {
        let b = request_body(ALL_TYPES);
        assert_eq!(parse_request(b.as_bytes()).unwrap(), ALL_TYPES);
        assert!(parse_request(b"<roamingData/>").is_err());
        assert!(parse_request(b"<roamingList><roaming/></roamingList>").is_err());
    }

    #[test]
    fn bad_counts_are_typed_errors() {
        let doc = format!(
            "<roamingData xmlns=\"{NS}\"><categories><category name=\"x\" instance=\"0\" version=\"1\"><unreadVoiceMailCount>-1</unreadVoiceMailCount></category></categories></roamingData>"
        );
        assert_eq!(
            RoamingData::parse(doc.as_bytes()),
            Err(XmlError::Value("unreadVoiceMailCount"))
        );
    }
}
