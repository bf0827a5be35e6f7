//! A Skype for Business registrar double for tests, sans-IO: it answers REGISTER the way
//! the [MS-SIPAE] section 4.1 example shows (401 with NTLM and Kerberos challenges and a
//! Date, then the CHALLENGE_MESSAGE with an opaque, then 200 signed with
//! rspauth/srand/snum), checks every signed request, and answers other signed requests
//! (SUBSCRIBE, SERVICE, ...) with a signed 200. No offline alternative exists: a real
//! server needs Windows and Active Directory.

use std::collections::HashMap;

use crate::msg::{response_to, HeaderName, Message, Method};
use crate::sipe::sipae::{NtlmChallenge, NtlmCredentials, ServerSa, REALM};

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
}

/// What the double saw, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    Registered { user: String, contact: String },
    Rejected { reason: String },
    SignedRequest { method: String, cnum: String },
}

#[derive(Debug)]
pub struct SfbServer {
    cfg: ServerConfig,
    /// One association per Call-ID of the registration (its opaque identifies it too).
    sas: HashMap<String, ServerSa>,
    rand: u64,
    events: Vec<ServerEvent>,
}

impl SfbServer {
    pub fn new(cfg: ServerConfig, seed: u64) -> SfbServer {
        SfbServer {
            cfg,
            sas: HashMap::new(),
            rand: seed,
            events: Vec::new(),
        }
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
        let mut r = response_to(req, 401, Some("0858513FA91D3AAE1A5840DDB99599DF"));
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
            let mut r = response_to(&req, 401, Some("0858513FA91D3AAE1A5840DDB99599DF"));
            r.push(HeaderName::WwwAuthenticate, sa.challenge());
            self.sas.insert(call_id, sa);
            return Some(r.to_bytes());
        }
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
        let mut r = response_to(&req, 200, Some("5E61CCD925D17E043D9A74835A88F664"));
        if method == Method::Register {
            let contact = req.first(HeaderName::Contact).unwrap_or("").to_string();
            let uri = crate::sipe::sipae::raw_uri(&contact).to_string();
            r.push(
                HeaderName::Contact,
                format!("<{uri}>;expires={}", self.cfg.expires),
            );
            r.push(HeaderName::Expires, self.cfg.expires.to_string());
            r.push(
                HeaderName::AllowEvents,
                "vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-ACL,presence,presence.wpending,vnd-microsoft-roaming-self,vnd-microsoft-provisioning-v2",
            );
            self.events.push(ServerEvent::Registered {
                user: sa.user.clone().unwrap_or_default(),
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
}
