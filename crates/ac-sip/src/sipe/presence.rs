//! Presence publication ([MS-PRES] category publication through SERVICE): the `publish`
//! document with `state` category instances, a checked parse and an emitter whose output
//! parses back to the same value, and the machine-state availability values.

use crate::sipe::xml::{self, escape, Result, XmlError};

/// The `publish` document's namespace (rich presence).
pub const NS_PUBLISH: &str = "http://schemas.microsoft.com/2006/09/sip/rich-presence";
/// The `state` category's namespace.
pub const NS_STATE: &str = "http://schemas.microsoft.com/2006/09/sip/state";
/// Content-Type of a category publication SERVICE request.
pub const CONTENT_TYPE: &str = "application/msrtc-category-publish+xml";

/// Machine-state availability numbers (Office Communications Server 2007 R2 SDK, "Machine
/// States": Active 3500, Inactive 5000, Away 15500, Offline 18500; the availability
/// ranges 6000-7499 Busy and 9000-11999 Do Not Disturb, of which we publish the middle
/// values 6500 and 9500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Availability {
    Available,
    Inactive,
    Busy,
    DoNotDisturb,
    Away,
    Offline,
}

impl Availability {
    pub fn number(self) -> u32 {
        match self {
            Availability::Available => 3500,
            Availability::Inactive => 5000,
            Availability::Busy => 6500,
            Availability::DoNotDisturb => 9500,
            Availability::Away => 15500,
            Availability::Offline => 18500,
        }
    }

    /// The range a number falls in (0-4499 Available, 4500-5999 Available-Idle, 6000-8999
    /// Busy and Busy-Idle, 9000-11999 DND, 12000-17999 Be Right Back and Away, 18000+
    /// Offline).
    pub fn from_number(n: u32) -> Availability {
        match n {
            0..=4499 => Availability::Available,
            4500..=5999 => Availability::Inactive,
            6000..=8999 => Availability::Busy,
            9000..=11999 => Availability::DoNotDisturb,
            12000..=17999 => Availability::Away,
            _ => Availability::Offline,
        }
    }
}

/// One category instance of a publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub category: String,
    pub instance: u32,
    pub container: u32,
    pub version: u32,
    /// `endpoint`, `user`, `static`, `time`.
    pub expire_type: String,
    /// `machineState`, `userState`, ... (xsi:type of the `state` value), for state
    /// instances.
    pub state_type: Option<String>,
    pub availability: Option<u32>,
    /// The `manual` attribute of the state value.
    pub manual: Option<bool>,
}

/// A `publish` document: the publications for one presentity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub uri: String,
    pub publications: Vec<Publication>,
}

/// Most publications accepted in one document.
pub const MAX_PUBLICATIONS: usize = 64;

fn num(n: roxmltree::Node<'_, '_>, a: &'static str) -> Result<u32> {
    n.attribute(a)
        .ok_or(XmlError::Attribute("publication", a))?
        .trim()
        .parse()
        .map_err(|_| XmlError::Value("publication"))
}

impl Publish {
    pub fn parse(body: &[u8]) -> Result<Publish> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if root.tag_name().name() != "publish" {
            return Err(XmlError::Root(root.tag_name().name().into(), "publish"));
        }
        let pubs = xml::child(root, "publications").ok_or(XmlError::Missing("publications"))?;
        let uri = pubs
            .attribute("uri")
            .ok_or(XmlError::Attribute("publications", "uri"))?
            .to_string();
        let mut publications = Vec::new();
        for p in pubs
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "publication")
        {
            if publications.len() == MAX_PUBLICATIONS {
                return Err(XmlError::Value("publications"));
            }
            let category = p
                .attribute("categoryName")
                .ok_or(XmlError::Attribute("publication", "categoryName"))?
                .to_string();
            let state = xml::child(p, "state");
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
            let manual = match state.and_then(|s| s.attribute("manual")) {
                None => None,
                Some(m) => Some(xml::boolean(m).ok_or(XmlError::Value("state"))?),
            };
            publications.push(Publication {
                category,
                instance: num(p, "instance")?,
                container: num(p, "container")?,
                version: num(p, "version")?,
                expire_type: p.attribute("expireType").unwrap_or("").to_string(),
                state_type,
                availability,
                manual,
            });
        }
        Ok(Publish { uri, publications })
    }

    pub fn emit(&self) -> String {
        let mut s = format!(
            "<publish xmlns=\"{NS_PUBLISH}\"><publications uri=\"{}\">",
            escape(&self.uri)
        );
        for p in &self.publications {
            s.push_str(&format!(
                "<publication categoryName=\"{}\" instance=\"{}\" container=\"{}\" version=\"{}\" expireType=\"{}\">",
                escape(&p.category),
                p.instance,
                p.container,
                p.version,
                escape(&p.expire_type)
            ));
            if p.state_type.is_some() || p.availability.is_some() || p.manual.is_some() {
                s.push_str(&format!(
                    "<state xmlns=\"{NS_STATE}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                ));
                if let Some(m) = p.manual {
                    s.push_str(&format!(" manual=\"{m}\""));
                }
                if let Some(t) = &p.state_type {
                    s.push_str(&format!(" xsi:type=\"{}\"", escape(t)));
                }
                s.push('>');
                if let Some(a) = p.availability {
                    s.push_str(&format!("<availability>{a}</availability>"));
                }
                s.push_str("</state>");
            }
            s.push_str("</publication>");
        }
        s.push_str("</publications></publish>");
        s
    }
}

/// The machine-state publication a phone sends: one `state` instance of type
/// `machineState` in each of the containers given.
pub fn machine_state(
    uri: &str,
    a: Availability,
    instance: u32,
    version: u32,
    containers: &[u32],
) -> Publish {
    Publish {
        uri: uri.to_string(),
        publications: containers
            .iter()
            .map(|&c| Publication {
                category: "state".into(),
                instance,
                container: c,
                version,
                expire_type: "endpoint".into(),
                state_type: Some("machineState".into()),
                availability: Some(a.number()),
                manual: Some(false),
            })
            .collect(),
    }
}
