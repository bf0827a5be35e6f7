//! In-band provisioning ([MS-SIPREGE] sections 2.2.2 and 3) and the location profile (dial
//! plan, [MS-SIPRE] section 2.2.8 and Appendix B).
//!
//! * [`request_body`]: the `provisioningGroupList` a client SUBSCRIBEs with (2.2.2.4).
//! * [`ProvisionGroupList`]: the response's `provisionGroupList` (2.2.2.5), a checked parse
//!   keeping every group's simple elements and `propertyEntryList` properties, with an
//!   emitter whose output parses back to the same value.
//! * [`InbandSettings`]: what the phone takes from it (manual 3.2.7 power save, 3.3.14.5
//!   VoiceDeploymentMode, 4.9.1 DisableHandsetOnLockedMachine, 5.3 device update, the
//!   voicemail URI and the location profile URI).
//! * [`LocationProfile`]: the `LocationProfileDescription` answer to a SERVICE request, with
//!   normalization rules applied when dialing.

use regex::{Regex, RegexBuilder};

use crate::sipe::xml::{self, escape, Result, XmlError};

/// [MS-SIPREGE] 2.2.2.1: the Event of an in-band provisioning request.
pub const EVENT: &str = "vnd-microsoft-provisioning-v2";
/// [MS-SIPREGE] 2.2.2.1: the Accept and Content-Type of the request (and the response's).
pub const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-provisioning-v2+xml";
/// Namespace of the response document ([MS-SIPREGE] 4.2.2).
pub const NS_RESPONSE: &str =
    "http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification";
/// Namespace of the request document (2.2.2.4).
pub const NS_REQUEST: &str = "http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist";
/// [MS-SIPRE] Appendix B: the location profile namespace.
pub const NS_LOCATION_PROFILE: &str =
    "http://schemas.microsoft.com/2007/03/LocationProfileDescription";

/// The groups a phone asks for ([MS-SIPREGE] 2.2.2.4 names).
pub const REQUESTED_GROUPS: &[&str] = &["ServerConfiguration", "endpointConfiguration", "ucPolicy"];

/// The request body: one `provisioningGroup` per name (2.2.2.4).
pub fn request_body(groups: &[&str]) -> String {
    let mut s = format!("<provisioningGroupList xmlns=\"{NS_REQUEST}\">");
    for g in groups {
        s.push_str(&format!("<provisioningGroup name=\"{}\"/>", escape(g)));
    }
    s.push_str("</provisioningGroupList>");
    s
}

/// The group names a request body asks for (the test server's side of 2.2.2.4).
pub fn parse_request(body: &[u8]) -> Result<Vec<String>> {
    let doc = xml::parse(body)?;
    let root = doc.root_element();
    if root.tag_name().name() != "provisioningGroupList" {
        return Err(XmlError::Root(
            root.tag_name().name().into(),
            "provisioningGroupList",
        ));
    }
    root.children()
        .filter(|c| c.is_element() && c.tag_name().name() == "provisioningGroup")
        .map(|g| {
            g.attribute("name")
                .map(str::to_string)
                .ok_or(XmlError::Attribute("provisioningGroup", "name"))
        })
        .collect()
}

/// One entry of a provision group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A simple child element, `<voicemailUri>sip:...</voicemailUri>`.
    Element { name: String, value: String },
    /// `<propertyEntryList><property name="..">value</property>`.
    Property { name: String, value: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionGroup {
    pub name: String,
    pub opaque: Option<String>,
    pub items: Vec<Item>,
}

/// The response document (2.2.2.5). Elements with element children other than
/// `propertyEntryList` (policies with nested structure) are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProvisionGroupList {
    pub groups: Vec<ProvisionGroup>,
}

impl ProvisionGroupList {
    pub fn parse(body: &[u8]) -> Result<ProvisionGroupList> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if root.tag_name().name() != "provisionGroupList" {
            return Err(XmlError::Root(
                root.tag_name().name().into(),
                "provisionGroupList",
            ));
        }
        let mut groups = Vec::new();
        for g in root
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "provisionGroup")
        {
            let name = g
                .attribute("name")
                .ok_or(XmlError::Attribute("provisionGroup", "name"))?
                .to_string();
            let mut items = Vec::new();
            for e in g.children().filter(|c| c.is_element()) {
                if e.tag_name().name() == "propertyEntryList" {
                    for p in e
                        .children()
                        .filter(|c| c.is_element() && c.tag_name().name() == "property")
                    {
                        let pname = p
                            .attribute("name")
                            .ok_or(XmlError::Attribute("property", "name"))?;
                        items.push(Item::Property {
                            name: pname.to_string(),
                            value: xml::text(p),
                        });
                    }
                } else if !e.children().any(|c| c.is_element()) {
                    items.push(Item::Element {
                        name: e.tag_name().name().to_string(),
                        value: xml::text(e),
                    });
                }
            }
            groups.push(ProvisionGroup {
                name,
                opaque: g.attribute("opaque").map(str::to_string),
                items,
            });
        }
        Ok(ProvisionGroupList { groups })
    }

    /// Our emission: properties of a group in one `propertyEntryList` after its elements.
    /// Element names that are not XML names are left out (they cannot come from a parse).
    pub fn emit(&self) -> String {
        let mut s = format!("<provisionGroupList xmlns=\"{NS_RESPONSE}\">");
        for g in &self.groups {
            s.push_str(&format!("<provisionGroup name=\"{}\"", escape(&g.name)));
            if let Some(o) = &g.opaque {
                s.push_str(&format!(" opaque=\"{}\"", escape(o)));
            }
            s.push('>');
            for it in &g.items {
                if let Item::Element { name, value } = it {
                    if is_xml_name(name) && name != "propertyEntryList" {
                        s.push_str(&format!("<{name}>{}</{name}>", escape(value)));
                    }
                }
            }
            let props: Vec<_> = g
                .items
                .iter()
                .filter_map(|i| match i {
                    Item::Property { name, value } => Some((name, value)),
                    _ => None,
                })
                .collect();
            if !props.is_empty() {
                s.push_str("<propertyEntryList>");
                for (n, v) in props {
                    s.push_str(&format!(
                        "<property name=\"{}\">{}</property>",
                        escape(n),
                        escape(v)
                    ));
                }
                s.push_str("</propertyEntryList>");
            }
            s.push_str("</provisionGroup>");
        }
        s.push_str("</provisionGroupList>");
        s
    }

    /// A value by element or property name (case-insensitive), first group first.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.groups
            .iter()
            .flat_map(|g| g.items.iter())
            .find_map(|i| match i {
                Item::Element { name: n, value } | Item::Property { name: n, value }
                    if n.eq_ignore_ascii_case(name) =>
                {
                    Some(value.as_str())
                }
                _ => None,
            })
    }

    /// The items in the order `emit` writes them (elements, then properties, per group):
    /// parse(emit(x)) equals `x.canonical()`.
    pub fn canonical(&self) -> ProvisionGroupList {
        ProvisionGroupList {
            groups: self
                .groups
                .iter()
                .map(|g| {
                    let mut items: Vec<Item> = g
                        .items
                        .iter()
                        .filter(|i| {
                            matches!(i, Item::Element { name, .. }
                                if is_xml_name(name) && name != "propertyEntryList")
                        })
                        .cloned()
                        .collect();
                    items.extend(
                        g.items
                            .iter()
                            .filter(|i| matches!(i, Item::Property { .. }))
                            .cloned(),
                    );
                    ProvisionGroup {
                        name: g.name.clone(),
                        opaque: g.opaque.clone(),
                        items,
                    }
                })
                .collect(),
        }
    }
}

/// A conservative XML Name check for emitted element names (ASCII names with `_`, `-`,
/// `.`, and non-ASCII letters; no `:` since namespaces are not kept).
fn is_xml_name(n: &str) -> bool {
    let mut cs = n.chars();
    let Some(f) = cs.next() else { return false };
    (f.is_alphabetic() || f == '_')
        && !n.to_ascii_lowercase().starts_with("xml")
        && cs.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Manual 4.9.1.1, Table 4-4: what the handset may do while the phone is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockedCalls {
    /// `0`: incoming and outgoing calls.
    Both,
    /// `1`, and the default when not provisioned: incoming calls only.
    IncomingOnly,
    /// `2`: no calls.
    None,
}

/// What the phone takes from in-band provisioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InbandSettings {
    pub voicemail_uri: Option<String>,
    /// Where the dial plan (location profile) is requested with SERVICE.
    pub location_profile: Option<String>,
    /// Manual 5.3: `updatesServerInternalUrl` / `updatesServerExternalUrl`.
    pub updates_internal_url: Option<String>,
    pub updates_external_url: Option<String>,
    /// Manual 5.3: on when `updatesServerEnabled` is true and `EnableDeviceUpdate` is
    /// anything but false.
    pub device_update: bool,
    /// Manual 3.3.14.5: `VoiceDeploymentMode`, and the hybrid configuration service URL.
    pub voice_deployment_mode: Option<String>,
    pub hybrid_config_url: Option<String>,
    /// Manual 4.9.1.1: `DisableHandsetOnLockedMachine`.
    pub locked_calls: LockedCalls,
    /// Manual 3.2.7 (450HD screen): `EnablePowerSaveMode` and its two timeouts (ms).
    pub power_save: Option<PowerSave>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerSave {
    pub office_hours_ms: u64,
    pub post_office_hours_ms: u64,
}

impl InbandSettings {
    pub fn from_list(l: &ProvisionGroupList) -> InbandSettings {
        let s = |n: &str| l.get(n).filter(|v| !v.is_empty()).map(str::to_string);
        let b = |n: &str| l.get(n).and_then(xml::boolean);
        let device_update =
            b("updatesServerEnabled") == Some(true) && b("EnableDeviceUpdate") != Some(false);
        let locked_calls = match l.get("DisableHandsetOnLockedMachine").map(str::trim) {
            Some("0") => LockedCalls::Both,
            Some("2") => LockedCalls::None,
            _ => LockedCalls::IncomingOnly,
        };
        // Manual 3.2.7: the timeouts apply only when all three are provisioned and the
        // first is enabled.
        let ms = |n: &str| l.get(n).and_then(|v| v.trim().parse::<u64>().ok());
        let power_save = match (
            b("EnablePowerSaveMode"),
            ms("PowerSaveDuringOfficeHoursTimeoutMS"),
            ms("PowerSavePostOfficeHoursTimeoutMS"),
        ) {
            (Some(true), Some(a), Some(p)) => Some(PowerSave {
                office_hours_ms: a,
                post_office_hours_ms: p,
            }),
            _ => None,
        };
        InbandSettings {
            voicemail_uri: s("voicemailUri"),
            location_profile: s("locationProfile"),
            updates_internal_url: s("updatesServerInternalUrl"),
            updates_external_url: s("updatesServerExternalUrl"),
            device_update,
            voice_deployment_mode: s("VoiceDeploymentMode"),
            hybrid_config_url: s("hybridConfigServiceInternalURL"),
            locked_calls,
            power_save,
        }
    }

    /// Manual 3.3.14.5: media bypass through the hybrid service only in this mode.
    pub fn hybrid_media_bypass(&self) -> bool {
        self.voice_deployment_mode.as_deref() == Some("OnPremOnlineHybrid")
            && self.hybrid_config_url.is_some()
    }

    /// Manual 5.3 with the local `lync/SfBDeviceUpdate` ([`ac_cfg::schema`]): `fw_url_known`
    /// is whether DHCP or a static URL already gave a firmware URL.
    pub fn use_device_update(&self, sfb_device_update: bool, fw_url_known: bool) -> bool {
        self.device_update && (sfb_device_update || !fw_url_known)
    }
}

/// Limits for dial plans from the network.
pub const MAX_RULES: usize = 512;
pub const MAX_PATTERN: usize = 1024;
/// Longest dialed string normalised.
pub const MAX_DIALED: usize = 64;

/// One normalization rule ([MS-SIPRE] 2.2.8.2).
#[derive(Debug, Clone)]
pub struct Rule {
    pub pattern: String,
    pub translation: String,
    pub internal_extension: Option<bool>,
    pub device_dialing: Option<bool>,
    /// `None` when the pattern uses [MC-RegEx] syntax the `regex` crate lacks
    /// (backreferences, lookaround); such a rule never applies.
    compiled: Option<Regex>,
}

impl PartialEq for Rule {
    fn eq(&self, o: &Rule) -> bool {
        self.pattern == o.pattern
            && self.translation == o.translation
            && self.internal_extension == o.internal_extension
            && self.device_dialing == o.device_dialing
    }
}

impl Rule {
    pub fn new(pattern: &str, translation: &str) -> Rule {
        let compiled = (pattern.len() <= MAX_PATTERN)
            .then(|| {
                RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .dfa_size_limit(1 << 20)
                    .build()
                    .ok()
            })
            .flatten();
        Rule {
            pattern: pattern.to_string(),
            translation: translation.to_string(),
            internal_extension: None,
            device_dialing: None,
            compiled,
        }
    }

    pub fn usable(&self) -> bool {
        self.compiled.is_some()
    }

    /// The rule applied to `dialed`: the first match replaced by the translation, with
    /// [MC-RegEx] substitutions `$n`, `${n}`, `${name}`, `$$` and `$&`/`$0`.
    pub fn apply(&self, dialed: &str) -> Option<String> {
        let re = self.compiled.as_ref()?;
        let caps = re.captures(dialed)?;
        let m = caps.get(0)?;
        let mut out = String::with_capacity(dialed.len() + self.translation.len());
        out.push_str(&dialed[..m.start()]);
        let t = self.translation.as_bytes();
        let mut i = 0;
        while i < t.len() {
            if t[i] != b'$' || i + 1 >= t.len() {
                let ch = self.translation[i..].chars().next()?;
                out.push(ch);
                i += ch.len_utf8();
                continue;
            }
            match t[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                }
                b'&' => {
                    out.push_str(m.as_str());
                    i += 2;
                }
                b'{' => match self.translation[i + 2..].find('}') {
                    Some(end) => {
                        let name = &self.translation[i + 2..i + 2 + end];
                        let g = match name.parse::<usize>() {
                            Ok(n) => caps.get(n),
                            Err(_) => caps.name(name),
                        };
                        out.push_str(g.map(|g| g.as_str()).unwrap_or(""));
                        i += 3 + end;
                    }
                    None => {
                        out.push('$');
                        i += 1;
                    }
                },
                b'0'..=b'9' => {
                    // .NET: the longest run of digits that names a group.
                    let mut j = i + 1;
                    while j < t.len() && t[j].is_ascii_digit() {
                        j += 1;
                    }
                    let mut k = j;
                    let mut found = None;
                    while k > i + 1 {
                        if let Ok(n) = self.translation[i + 1..k].parse::<usize>() {
                            if n < caps.len() {
                                found = Some((n, k));
                                break;
                            }
                        }
                        k -= 1;
                    }
                    match found {
                        Some((n, k)) => {
                            out.push_str(caps.get(n).map(|g| g.as_str()).unwrap_or(""));
                            i = k;
                        }
                        None => {
                            out.push('$');
                            i += 1;
                        }
                    }
                }
                _ => {
                    out.push('$');
                    i += 1;
                }
            }
        }
        out.push_str(&dialed[m.end()..]);
        Some(out)
    }
}

/// A location profile ([MS-SIPRE] 2.2.8.1): the dial plan.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationProfile {
    /// Usable as the `phone-context` of a tel URI (2.2.8.1).
    pub name: String,
    pub rules: Vec<Rule>,
    pub external_access_prefix: Option<String>,
    pub optimize_device_dialing: Option<bool>,
}

impl LocationProfile {
    pub fn parse(body: &[u8]) -> Result<LocationProfile> {
        let doc = xml::parse(body)?;
        let root = doc.root_element();
        if root.tag_name().name() != "LocationProfileDescription" {
            return Err(XmlError::Root(
                root.tag_name().name().into(),
                "LocationProfileDescription",
            ));
        }
        let name = xml::child(root, "Name")
            .map(xml::text)
            .ok_or(XmlError::Missing("Name"))?;
        let mut rules = Vec::new();
        for r in root
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == "Rule")
        {
            if rules.len() == MAX_RULES {
                return Err(XmlError::Value("Rule"));
            }
            // 2.2.8.2: each Rule MUST include Pattern and Translation.
            let pattern = xml::child(r, "Pattern")
                .map(xml::text)
                .ok_or(XmlError::Missing("Pattern"))?;
            let translation = xml::child(r, "Translation")
                .map(xml::text)
                .ok_or(XmlError::Missing("Translation"))?;
            let flag = |n: &'static str| -> Result<Option<bool>> {
                match xml::child(r, n) {
                    None => Ok(None),
                    Some(e) => xml::boolean(&xml::text(e))
                        .map(Some)
                        .ok_or(XmlError::Value(n)),
                }
            };
            let mut rule = Rule::new(&pattern, &translation);
            rule.internal_extension = flag("InternalEnterpriseExtension")?;
            rule.device_dialing = flag("ApplicableForDeviceDialing")?;
            rules.push(rule);
        }
        let optimize_device_dialing = match xml::child(root, "OptimizeDeviceDialing") {
            None => None,
            Some(e) => {
                Some(xml::boolean(&xml::text(e)).ok_or(XmlError::Value("OptimizeDeviceDialing"))?)
            }
        };
        Ok(LocationProfile {
            name,
            rules,
            external_access_prefix: xml::child(root, "ExternalAccessPrefix").map(xml::text),
            optimize_device_dialing,
        })
    }

    pub fn emit(&self) -> String {
        let mut s = format!(
            "<LocationProfileDescription xmlns=\"{NS_LOCATION_PROFILE}\"><Name>{}</Name>",
            escape(&self.name)
        );
        for r in &self.rules {
            s.push_str(&format!(
                "<Rule><Pattern>{}</Pattern><Translation>{}</Translation>",
                escape(&r.pattern),
                escape(&r.translation)
            ));
            if let Some(b) = r.internal_extension {
                s.push_str(&format!(
                    "<InternalEnterpriseExtension>{b}</InternalEnterpriseExtension>"
                ));
            }
            if let Some(b) = r.device_dialing {
                s.push_str(&format!(
                    "<ApplicableForDeviceDialing>{b}</ApplicableForDeviceDialing>"
                ));
            }
            s.push_str("</Rule>");
        }
        if let Some(p) = &self.external_access_prefix {
            s.push_str(&format!(
                "<ExternalAccessPrefix>{}</ExternalAccessPrefix>",
                escape(p)
            ));
        }
        if let Some(b) = self.optimize_device_dialing {
            s.push_str(&format!(
                "<OptimizeDeviceDialing>{b}</OptimizeDeviceDialing>"
            ));
        }
        s.push_str("</LocationProfileDescription>");
        s
    }

    /// The dialed digits normalised by the first rule that matches (rules in document
    /// order), or `None` when no rule applies.
    pub fn normalize(&self, dialed: &str) -> Option<(String, &Rule)> {
        if dialed.len() > MAX_DIALED {
            return None;
        }
        self.rules
            .iter()
            .find_map(|r| r.apply(dialed).map(|n| (n, r)))
    }

    /// The request URI for a dialed string: normalised to E.164 -> `tel:+...`; otherwise
    /// the digits with this profile as phone-context ([MS-SIPRE] 2.2.8.1, RFC 3966 3) as
    /// the user part of a SIP URI in `domain`.
    pub fn dial_uri(&self, dialed: &str, domain: &str) -> String {
        let n = self
            .normalize(dialed)
            .map(|(n, _)| n)
            .unwrap_or_else(|| dialed.to_string());
        if n.starts_with('+') && n.len() > 1 && n[1..].bytes().all(|b| b.is_ascii_digit()) {
            format!("tel:{n}")
        } else {
            format!("sip:{n};phone-context={}@{domain};user=phone", self.name)
        }
    }
}
