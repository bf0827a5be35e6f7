//! A Skype for Business registrar double for TLS-DSK sign-in, sans-IO (the NTLM double is
//! [`super::server`]): REGISTER without credentials gets `401 TLS-DSK realm, targetname,
//! version, sts-uri` (where the Certificate Provisioning service is); each REGISTER with
//! `gssapi-data` feeds a rustls `ServerConnection` (TLS 1.2, client certificate required
//! and verified against the Certificate Provisioning CA) and the server's flight goes back
//! in the next 401's `gssapi-data`, with an `opaque` naming the association; once the
//! handshake is done the signed REGISTER is checked ([MS-SIPAE] 3.2.5.1 buffer, HMAC-SHA1
//! under the client key exported from the TLS session), the From URI must be the SIP URI
//! of the client certificate, and the 200 is signed with the server key.

use std::collections::HashMap;
use std::sync::Arc;

use crate::msg::{response_to, HeaderName, Message, MessageBuf, Method};
use crate::sipe::certprov;
use crate::sipe::sipae::{raw_uri, REALM};
use crate::sipe::tlsdsk::{DskParams, ServerDskSa};

const TO_TAG: &str = "0858513FA91D3AAE1A5840DDB99599DF";

#[derive(Debug, Clone)]
pub struct DskServerConfig {
    pub targetname: String,
    pub version: u32,
    pub expires: u32,
    /// The Certificate Provisioning URL announced in `sts-uri`.
    pub sts_uri: String,
    pub tls: Arc<rustls::ServerConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DskServerEvent {
    /// A TLS flight answered (how many handshake round trips the association took).
    Handshake {
        round: u32,
    },
    Registered {
        sip_uri: String,
        cnum: String,
    },
    Rejected {
        reason: String,
    },
}

#[derive(Debug)]
pub struct DskRegistrar {
    cfg: DskServerConfig,
    sas: HashMap<String, (ServerDskSa, u32)>,
    rand: u64,
    events: Vec<DskServerEvent>,
}

impl DskRegistrar {
    pub fn new(cfg: DskServerConfig, seed: u64) -> DskRegistrar {
        DskRegistrar {
            cfg,
            sas: HashMap::new(),
            rand: seed,
            events: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.rand = self
            .rand
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.rand >> 16
    }

    pub fn poll_event(&mut self) -> Option<DskServerEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    fn challenge(&self, req: &Message<'_>) -> Vec<u8> {
        let mut r = response_to(req, 401, Some(TO_TAG));
        r.push(
            HeaderName::WwwAuthenticate,
            DskParams {
                realm: REALM.into(),
                targetname: self.cfg.targetname.clone(),
                version: self.cfg.version,
                sts_uri: Some(self.cfg.sts_uri.clone()),
                ..Default::default()
            }
            .emit(),
        );
        r.to_bytes()
    }

    fn reject(&mut self, req: &Message<'_>, key: Option<&str>, reason: String) -> Vec<u8> {
        if let Some(k) = key {
            self.sas.remove(k);
        }
        self.events.push(DskServerEvent::Rejected { reason });
        self.challenge(req)
    }

    /// One REGISTER in, one response out (`None` for anything else or unparsable bytes).
    pub fn handle(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let req = Message::parse(data).ok()?;
        if req.method()? != Method::Register {
            return None;
        }
        let Some(cred) = req
            .first(HeaderName::Authorization)
            .and_then(|v| DskParams::parse(v).ok())
        else {
            return Some(self.challenge(&req));
        };
        if cred.realm != REALM || cred.targetname != self.cfg.targetname {
            return Some(self.reject(&req, None, "realm or targetname of another server".into()));
        }
        // A handshake flight: a new association without opaque, else the named one.
        if let Some(flight) = cred.gssapi_data.as_deref() {
            let key = match &cred.opaque {
                None => {
                    let opaque = self.next() as u32;
                    let sa = match ServerDskSa::new(
                        self.cfg.tls.clone(),
                        &self.cfg.targetname,
                        self.cfg.version,
                        opaque,
                    ) {
                        Ok(sa) => sa,
                        Err(e) => return Some(self.reject(&req, None, e.to_string())),
                    };
                    let k = sa.opaque.clone();
                    self.sas.insert(k.clone(), (sa, 0));
                    k
                }
                Some(o) if self.sas.contains_key(o) => o.clone(),
                Some(_) => return Some(self.reject(&req, None, "unknown opaque".into())),
            };
            let (sa, round) = self.sas.get_mut(&key)?;
            let out = match sa.handle_gssapi(flight) {
                Ok(out) => out,
                Err(e) => return Some(self.reject(&req, Some(&key), format!("TLS: {e}"))),
            };
            *round += 1;
            let round = *round;
            let mut r = response_to(&req, 401, Some(TO_TAG));
            r.push(
                HeaderName::WwwAuthenticate,
                DskParams {
                    realm: REALM.into(),
                    targetname: self.cfg.targetname.clone(),
                    version: self.cfg.version,
                    opaque: Some(key),
                    gssapi_data: Some(out),
                    ..Default::default()
                }
                .emit(),
            );
            self.events.push(DskServerEvent::Handshake { round });
            return Some(r.to_bytes());
        }
        // A signed request in an established association.
        let Some(key) = cred.opaque.clone().filter(|o| self.sas.contains_key(o)) else {
            return Some(self.reject(&req, None, "no security association".into()));
        };
        let (sa, _) = self.sas.get_mut(&key)?;
        let mut bare = MessageBuf::from_message(&req);
        bare.remove(HeaderName::Authorization);
        let bare = bare.to_bytes();
        let bare_m = Message::parse(&bare).ok()?;
        if let Err(e) = sa.verify_request(&bare_m, &cred) {
            return Some(self.reject(&req, Some(&key), format!("request signature: {e}")));
        }
        // The certificate names the user: the From URI must be it.
        let cert_uri = sa
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| certprov::inspect(c).ok())
            .and_then(|i| i.sip_uri);
        let from = raw_uri(req.first(HeaderName::From).unwrap_or("")).to_string();
        if cert_uri.as_deref() != Some(from.as_str()) {
            return Some(self.reject(
                &req,
                Some(&key),
                format!("From {from} is not the certificate's {cert_uri:?}"),
            ));
        }
        let contact = raw_uri(req.first(HeaderName::Contact).unwrap_or("")).to_string();
        let mut r = response_to(&req, 200, Some(TO_TAG));
        r.push(
            HeaderName::Contact,
            format!("<{contact}>;expires={}", self.cfg.expires),
        );
        r.push(HeaderName::Expires, self.cfg.expires.to_string());
        let unsigned = r.to_bytes();
        let srand = self.next() as u32;
        let (sa, _) = self.sas.get_mut(&key)?;
        let info = sa
            .sign_response(&Message::parse(&unsigned).ok()?, srand)
            .ok()?;
        r.push(HeaderName::AuthenticationInfo, info);
        self.events.push(DskServerEvent::Registered {
            sip_uri: from,
            cnum: cred.cnum.unwrap_or_default(),
        });
        Some(r.to_bytes())
    }
}
