//! A Skype for Business registrar double for tests, sans-IO: it answers REGISTER the way
//! the [MS-SIPAE] section 4.1 example shows (401 with NTLM and Kerberos challenges and a
//! Date, then the CHALLENGE_MESSAGE with an opaque, then 200 signed with
//! rspauth/srand/snum), checks every signed request (the association is found by the
//! credentials' opaque, so requests outside the registration's dialog verify too), and
//! answers signed requests with signed 200s: SUBSCRIBE to in-band provisioning with the
//! configured `provisionGroupList` (the [MS-SIPREGE] 4.2.2 response's headers: Expires 0,
//! subscription-state terminated, Event), SERVICE to the location profile URI with the
//! configured `LocationProfileDescription`, and SERVICE with a [MS-PRES] `publish`
//! document by recording the published state (a stale version is refused with 409).
//! The self subscription ([MS-PRES] 4.4.1) is answered with a 200 carrying the configured
//! `roamingData` (piggybacked first NOTIFY) and later changes of the voicemail counts go
//! out as signed BENOTIFYs built like the [MS-PRES] 4.4.3 example.
//! No offline alternative exists: a real server needs Windows and Active Directory.

use std::collections::HashMap;

use crate::msg::{response_to, HeaderName, Message, Method};
use crate::sipe::presence::{Availability, Publish};
use crate::sipe::provisioning;
use crate::sipe::roaming::{self, RoamingData, VoicemailCounts};
use crate::sipe::sipae::{NtlmChallenge, NtlmCredentials, ServerSa, REALM};

/// The To tag of the double's responses (the [MS-SIPAE] 4.1 example's 401 To tag).
const TO_TAG: &str = "0858513FA91D3AAE1A5840DDB99599DF";

/// The double's configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `targetname` of the challenges (the pool FQDN).
    pub targetname: String,
    /// Authentication protocol version announced (3 or 4).
    pub version: u32,
    /// NetBIOS domain of the accounts.
    pub domain: String,
    /// user -> password.
    pub users: HashMap<String, String>,
    /// Registration lifetime granted.
    pub expires: u32,
    /// Date header of the first challenge (the example's form: RFC 1123).
    pub date: String,
    /// The in-band provisioning answer (a `provisionGroupList` document).
    pub provisioning: Option<String>,
    /// The location profile URI the provisioning names, and its answer.
    pub location_profile: Option<(String, String)>,
}

/// What the double saw, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    Registered {
        user: String,
        contact: String,
    },
    Rejected {
        reason: String,
    },
    SignedRequest {
        method: String,
        cnum: String,
    },
    /// A SUBSCRIBE to in-band provisioning and the groups it asked for.
    ProvisioningRequested {
        groups: Vec<String>,
    },
    LocationProfileRequested,
    /// A self SUBSCRIBE and the roaming types it asked for.
    RoamingSelfSubscribed {
        types: Vec<String>,
    },
    /// A verified presence publication.
    Published {
        uri: String,
        availability: u32,
        version: u32,
    },
}

#[derive(Debug)]
pub struct SfbServer {
    cfg: ServerConfig,
    /// One association per Call-ID of the registration (its opaque identifies it too).
    sas: HashMap<String, ServerSa>,
    rand: u64,
    events: Vec<ServerEvent>,
    /// Presence: (category, instance, container) -> version of the stored publication.
    versions: HashMap<(String, u32, u32), u32>,
    /// The latest published machine-state availability per presentity.
    pub presence: HashMap<String, Availability>,
    /// The roaming self document as configured (served as written) and its model (what
    /// later notifications emit).
    roaming_doc: Option<String>,
    roaming: RoamingData,
    self_subs: Vec<SelfSub>,
}

/// One self subscription dialog, for the notifications the double sends.
#[derive(Debug, Clone)]
struct SelfSub {
    /// The association (key into `sas`).
    sa_key: String,
    call_id: String,
    /// The subscriber's From value (its tag and epid), the To of our notifications.
    subscriber: String,
    /// The subscriber's AOR, the From URI of our notifications.
    aor: String,
    contact: String,
    cseq: u32,
}

/// The subscription lifetime the double grants (the [MS-PRES] 4.4.3 example's
/// `subscription-state: active;expires=47515`).
const SELF_EXPIRES: u32 = 47515;

impl SfbServer {
    pub fn new(cfg: ServerConfig, seed: u64) -> SfbServer {
        SfbServer {
            cfg,
            sas: HashMap::new(),
            rand: seed,
            events: Vec::new(),
            versions: HashMap::new(),
            presence: HashMap::new(),
            roaming_doc: None,
            roaming: RoamingData::default(),
            self_subs: Vec::new(),
        }
    }

    /// The `roamingData` the self subscription's 200 carries (served byte for byte).
    pub fn set_roaming_self(&mut self, doc: &str) -> crate::sipe::xml::Result<()> {
        self.roaming = RoamingData::parse(doc.as_bytes())?;
        self.roaming_doc = Some(doc.to_string());
        Ok(())
    }

    /// New voicemail counts (a message left or listened to): one signed BENOTIFY per self
    /// subscription, each to send to the subscriber.
    pub fn set_voicemail(&mut self, v: VoicemailCounts) -> Vec<Vec<u8>> {
        self.roaming.set_voicemail(v);
        self.roaming_doc = None;
        let body = self.roaming.emit();
        let mut out = Vec::new();
        for i in 0..self.self_subs.len() {
            let branch = self.next();
            let srand = self.next() as u32;
            let sub = &mut self.self_subs[i];
            sub.cseq += 1;
            // The [MS-PRES] 4.4.3 BENOTIFY's headers.
            let mut b = crate::msg::MessageBuf::request(Method::Benotify, &sub.contact);
            b.push(
                HeaderName::Via,
                format!(
                    "SIP/2.0/TLS {}:5061;branch=z9hG4bK{branch:016X};branched=FALSE",
                    self.cfg.targetname
                ),
            );
            b.push(HeaderName::MaxForwards, "70");
            b.push(HeaderName::To, sub.subscriber.clone());
            b.push(HeaderName::From, format!("<{}>;tag={TO_TAG}", sub.aor));
            b.push(HeaderName::CallId, sub.call_id.clone());
            b.push(HeaderName::CSeq, format!("{} BENOTIFY", sub.cseq));
            b.push(HeaderName::Require, "eventlist");
            b.push(HeaderName::Event, roaming::EVENT);
            b.push(
                HeaderName::SubscriptionState,
                format!("active;expires={SELF_EXPIRES}"),
            );
            b.set_body(roaming::CONTENT_TYPE, body.clone().into_bytes());
            let unsigned = b.to_bytes();
            let Ok(m) = Message::parse(&unsigned) else {
                continue;
            };
            let Some(sa) = self.sas.get_mut(&sub.sa_key) else {
                continue;
            };
            let Ok(info) = sa.sign_response(&m, srand) else {
                continue;
            };
            b.push(HeaderName::AuthenticationInfo, info);
            out.push(b.to_bytes());
        }
        out
    }

    fn next(&mut self) -> u64 {
        self.rand = self.rand.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rand;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    fn first_challenge(&self, req: &Message<'_>) -> Vec<u8> {
        let mut r = response_to(req, 401, Some(TO_TAG));
        r.push(HeaderName::Date, self.cfg.date.clone());
        r.push(
            HeaderName::WwwAuthenticate,
            NtlmChallenge {
                realm: REALM.into(),
                targetname: self.cfg.targetname.clone(),
                version: self.cfg.version,
                opaque: None,
                gssapi_data: None,
            }
            .emit(),
        );
        r.push(
            HeaderName::WwwAuthenticate,
            format!(
                "Kerberos realm=\"{REALM}\", targetname=\"sip/{}\", version={}",
                self.cfg.targetname, self.cfg.version
            ),
        );
        r.to_bytes()
    }

    fn reject(&mut self, req: &Message<'_>, reason: String) -> Vec<u8> {
        self.events.push(ServerEvent::Rejected { reason });
        self.first_challenge(req)
    }

    /// One request in, one response out (`None` for what a registrar ignores: responses,
    /// ACK, unparsable bytes).
    pub fn handle(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let req = Message::parse(data).ok()?;
        let method = req.method()?;
        if method == Method::Ack {
            return None;
        }
        let call_id = req.call_id().ok()?.to_string();
        let Some(cred) = req
            .first(HeaderName::Authorization)
            .and_then(|v| NtlmCredentials::parse(v).ok())
        else {
            return Some(self.first_challenge(&req));
        };
        // The first Authorization asks for the CHALLENGE_MESSAGE (gssapi-data="").
        if cred.gssapi_data.as_ref().is_some_and(|g| g.is_empty()) && cred.response.is_none() {
            let mut sc = [0u8; 8];
            sc.copy_from_slice(&self.next().to_le_bytes());
            let opaque = self.next() as u32;
            let sa = ServerSa::new(
                &self.cfg.targetname,
                self.cfg.version,
                opaque,
                sc,
                &self.cfg.domain,
            );
            let mut r = response_to(&req, 401, Some(TO_TAG));
            r.push(HeaderName::WwwAuthenticate, sa.challenge());
            self.sas.insert(call_id, sa);
            return Some(r.to_bytes());
        }
        // The association: the dialog's own, else the one whose opaque the credentials
        // name (requests outside the REGISTER dialog).
        let key = if self.sas.contains_key(&call_id) {
            call_id.clone()
        } else {
            match self
                .sas
                .iter()
                .find(|(_, s)| Some(s.opaque.as_str()) == cred.opaque.as_deref())
            {
                Some((k, _)) => k.clone(),
                None => return Some(self.reject(&req, "no security association".into())),
            }
        };
        let call_id = key;
        let Some(sa) = self.sas.get_mut(&call_id) else {
            return Some(self.reject(&req, "no security association".into()));
        };
        if cred.opaque.as_deref() != Some(sa.opaque.as_str()) {
            return Some(self.reject(&req, "opaque of another association".into()));
        }
        if let Some(auth) = cred.gssapi_data.as_ref().filter(|g| !g.is_empty()) {
            let users = &self.cfg.users;
            if let Err(e) = sa.accept(auth, |u| users.get(u).cloned()) {
                self.sas.remove(&call_id);
                return Some(self.reject(&req, format!("AUTHENTICATE refused: {e}")));
            }
        }
        let sa = self.sas.get_mut(&call_id)?;
        // Section 3.2.5: the request's signature (the stripped message is what was signed).
        let mut bare = crate::msg::MessageBuf::from_message(&req);
        bare.remove(HeaderName::Authorization);
        let bare = bare.to_bytes();
        let bare_m = Message::parse(&bare).ok()?;
        if let Err(e) = sa.verify_request(&bare_m, &cred) {
            self.sas.remove(&call_id);
            return Some(self.reject(&req, format!("request signature: {e}")));
        }
        self.events.push(ServerEvent::SignedRequest {
            method: method.as_str().to_string(),
            cnum: cred.cnum.clone().unwrap_or_default(),
        });
        let user = sa.user.clone().unwrap_or_default();
        let mut r = response_to(&req, 200, Some(TO_TAG));
        match self.service(&req, method, &user, &call_id) {
            Ok(Some((headers, body))) => {
                for (n, v) in headers {
                    r.push(n, v);
                }
                if let Some((ct, b)) = body {
                    r.set_body(ct, b.into_bytes());
                }
            }
            Ok(None) => {}
            Err((code, why)) => {
                let mut e = response_to(&req, code, Some(TO_TAG));
                e.push(HeaderName::MsDiagnostics, format!("1;reason=\"{why}\""));
                r = e;
            }
        }
        if method == Method::Register {
            let contact = req.first(HeaderName::Contact).unwrap_or("").to_string();
            let uri = crate::sipe::sipae::raw_uri(&contact).to_string();
            r.push(
                HeaderName::Contact,
                format!("<{uri}>;expires={}", self.cfg.expires),
            );
            r.push(HeaderName::Expires, self.cfg.expires.to_string());
            // The event packages this double serves.
            r.push(HeaderName::AllowEvents, provisioning::EVENT);
            self.events.push(ServerEvent::Registered {
                user: user.clone(),
                contact: uri,
            });
        }
        let unsigned = r.to_bytes();
        let srand = self.next() as u32;
        let sa = self.sas.get_mut(&call_id)?;
        let info = sa
            .sign_response(&Message::parse(&unsigned).ok()?, srand)
            .ok()?;
        r.push(HeaderName::AuthenticationInfo, info);
        Some(r.to_bytes())
    }

    /// The service part of a verified request: extra headers and a body for the 200, or
    /// an error status with its reason.
    #[allow(clippy::type_complexity)]
    fn service(
        &mut self,
        req: &Message<'_>,
        method: Method<'_>,
        user: &str,
        sa_key: &str,
    ) -> Result<
        Option<(
            Vec<(HeaderName<'static>, String)>,
            Option<(&'static str, String)>,
        )>,
        (u16, String),
    > {
        let event = req.first(HeaderName::Event).map(str::trim);
        if method == Method::Subscribe && event == Some(provisioning::EVENT) {
            // [MS-SIPREGE] 2.2.2.1: a request without the right Accept SHOULD get a 406.
            if req.first(HeaderName::Accept).map(str::trim) != Some(provisioning::CONTENT_TYPE) {
                return Err((406, "Accept is not the provisioning type".into()));
            }
            let groups = provisioning::parse_request(req.body)
                .map_err(|e| (400, format!("provisioning request: {e}")))?;
            self.events
                .push(ServerEvent::ProvisioningRequested { groups });
            let body = self
                .cfg
                .provisioning
                .clone()
                .unwrap_or_else(|| provisioning::ProvisionGroupList::default().emit());
            // The headers of the [MS-SIPREGE] 4.2.2 response.
            return Ok(Some((
                vec![
                    (HeaderName::Expires, "0".into()),
                    (HeaderName::Event, provisioning::EVENT.into()),
                    (HeaderName::SubscriptionState, "terminated;expires=0".into()),
                ],
                Some((provisioning::CONTENT_TYPE, body)),
            )));
        }
        if method == Method::Subscribe && event == Some(roaming::EVENT) {
            let accept = req.first(HeaderName::Accept).unwrap_or("");
            if !accept
                .split(',')
                .any(|a| a.trim().eq_ignore_ascii_case(roaming::CONTENT_TYPE))
            {
                return Err((406, "Accept is not the roaming self type".into()));
            }
            let types =
                roaming::parse_request(req.body).map_err(|e| (400, format!("roamingList: {e}")))?;
            self.events
                .push(ServerEvent::RoamingSelfSubscribed { types });
            let from = req.first(HeaderName::From).unwrap_or("").to_string();
            let contact = req.first(HeaderName::Contact).unwrap_or("");
            let call_id = req.call_id().map(str::to_string).unwrap_or_default();
            // A refresh (RFC 6665 4.1.2.1: SUBSCRIBE in the subscription's dialog) keeps the
            // one subscription and its NOTIFY CSeq space.
            if let Some(sub) = self.self_subs.iter_mut().find(|s| s.call_id == call_id) {
                sub.contact = crate::sipe::sipae::raw_uri(contact).to_string();
            } else {
                self.self_subs.push(SelfSub {
                    sa_key: sa_key.to_string(),
                    call_id,
                    aor: crate::sipe::sipae::raw_uri(&from).to_string(),
                    subscriber: from,
                    contact: crate::sipe::sipae::raw_uri(contact).to_string(),
                    cseq: 1,
                });
            }
            let body = self
                .roaming_doc
                .clone()
                .unwrap_or_else(|| self.roaming.emit());
            return Ok(Some((
                vec![
                    (HeaderName::Event, roaming::EVENT.into()),
                    (
                        HeaderName::SubscriptionState,
                        format!("active;expires={SELF_EXPIRES}"),
                    ),
                    (HeaderName::Expires, SELF_EXPIRES.to_string()),
                ],
                Some((roaming::CONTENT_TYPE, body)),
            )));
        }
        if method != Method::Service {
            return Ok(None);
        }
        let target = match &req.start {
            crate::msg::StartLine::Request { uri, .. } => uri.to_string(),
            _ => String::new(),
        };
        if let Some((lp_uri, lp_body)) = &self.cfg.location_profile {
            if &target == lp_uri {
                let body = lp_body.clone();
                self.events.push(ServerEvent::LocationProfileRequested);
                return Ok(Some((
                    vec![],
                    Some(("application/ms-location-profile-definition+xml", body)),
                )));
            }
        }
        let ct = req.first(HeaderName::ContentType).unwrap_or("");
        if ct
            .trim()
            .eq_ignore_ascii_case(crate::sipe::presence::CONTENT_TYPE)
        {
            let p = Publish::parse(req.body).map_err(|e| (400, format!("publish: {e}")))?;
            // Only the signed-in user publishes their own presence.
            let own = p
                .uri
                .strip_prefix("sip:")
                .and_then(|u| u.split('@').next())
                .is_some_and(|u| u.eq_ignore_ascii_case(user));
            if !own {
                return Err((403, "publication for another presentity".into()));
            }
            for pb in &p.publications {
                let key = (pb.category.clone(), pb.instance, pb.container);
                let have = self.versions.get(&key).copied().unwrap_or(0);
                if pb.version != have {
                    return Err((
                        409,
                        format!("version {} is stale (current {have})", pb.version),
                    ));
                }
            }
            for pb in &p.publications {
                let key = (pb.category.clone(), pb.instance, pb.container);
                self.versions.insert(key, pb.version + 1);
                if pb.category == "state" {
                    if let Some(a) = pb.availability {
                        self.presence
                            .insert(p.uri.clone(), Availability::from_number(a));
                        self.events.push(ServerEvent::Published {
                            uri: p.uri.clone(),
                            availability: a,
                            version: pb.version,
                        });
                    }
                }
            }
            return Ok(None);
        }
        Ok(None)
    }
}
