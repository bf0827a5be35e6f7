//! A Certificate Provisioning service double for tests, sans-IO: it takes a
//! [`HttpRequest`] carrying `GetAndPublishCert` ([`super::certprov`]), checks the
//! credentials (extension + PIN, user + password from the WS-Security UsernameToken, or
//! an `Authorization: Bearer` token), verifies the PKCS #10 signature, issues a
//! certificate for the user's SIP URI signed by its test CA (rcgen), and answers with a
//! `GetAndPublishCertResponse`; wrong credentials get a SOAP `Sender/FailedAuthentication`
//! fault with HTTP 500 (SOAP 1.2 over HTTP sends faults with 500). It also issues the
//! SIP server's TLS certificate from the same CA. No offline alternative exists: the real
//! service is part of a Skype for Business pool.

use std::collections::HashMap;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::sipe::certprov::{
    CertProvError, CertProvResponse, GetAndPublishCert, HttpRequest, HttpResponse,
};

/// The fault code for refused credentials.
pub const FAULT_AUTH: &str = "s:Sender/a:FailedAuthentication";

/// One account of the double.
#[derive(Debug, Clone)]
pub struct Account {
    /// `sip:alice@contoso.com`.
    pub sip_uri: String,
    pub user: String,
    pub password: String,
    pub extension: String,
    pub pin: String,
}

/// What the double did, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertProvEvent {
    Issued {
        sip_uri: String,
        how: &'static str,
        not_after: i64,
    },
    Refused {
        entity: String,
    },
}

pub struct CertProvDouble {
    ca_key: rcgen::KeyPair,
    ca: rcgen::Certificate,
    pub accounts: Vec<Account>,
    /// OAuth access token -> SIP URI.
    pub tokens: HashMap<String, String>,
    /// Lifetime of issued certificates.
    pub validity: Duration,
    serial: u64,
    events: Vec<CertProvEvent>,
}

impl std::fmt::Debug for CertProvDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertProvDouble")
            .field("accounts", &self.accounts.len())
            .finish()
    }
}

fn when(unix: i64) -> Result<time::OffsetDateTime, CertProvError> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| CertProvError::Certificate(e.to_string()))
}

fn key_err(e: rcgen::Error) -> CertProvError {
    CertProvError::Key(e.to_string())
}

impl CertProvDouble {
    /// A new test CA (ECDSA P-256) named `CN=<ca_name>`.
    pub fn new(ca_name: &str, accounts: Vec<Account>) -> Result<CertProvDouble, CertProvError> {
        let ca_key = rcgen::KeyPair::generate().map_err(key_err)?;
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = p.self_signed(&ca_key).map_err(key_err)?;
        Ok(CertProvDouble {
            ca_key,
            ca,
            accounts,
            tokens: HashMap::new(),
            validity: Duration::from_secs(8 * 3600),
            serial: 1,
            events: Vec::new(),
        })
    }

    /// The CA certificate (the trust root of both ends).
    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    pub fn poll_event(&mut self) -> Option<CertProvEvent> {
        (!self.events.is_empty()).then(|| self.events.remove(0))
    }

    /// A TLS server certificate for `dns_name` (the pool FQDN) and its key.
    pub fn server_cert(
        &mut self,
        dns_name: &str,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CertProvError> {
        let key = rcgen::KeyPair::generate().map_err(key_err)?;
        let mut p = rcgen::CertificateParams::new(vec![dns_name.to_string()]).map_err(key_err)?;
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        p.serial_number = Some(self.next_serial());
        let c = p.signed_by(&key, &self.ca, &self.ca_key).map_err(key_err)?;
        Ok((
            vec![c.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        ))
    }

    fn next_serial(&mut self) -> rcgen::SerialNumber {
        self.serial += 1;
        rcgen::SerialNumber::from(self.serial.to_be_bytes().to_vec())
    }

    fn fault(&mut self, entity: &str, reason: &str) -> HttpResponse {
        self.events.push(CertProvEvent::Refused {
            entity: entity.into(),
        });
        HttpResponse {
            status: 500,
            headers: vec![(
                "Content-Type".into(),
                "application/soap+xml; charset=utf-8".into(),
            )],
            body: CertProvResponse::Fault {
                code: FAULT_AUTH.into(),
                reason: reason.into(),
            }
            .emit()
            .into_bytes(),
        }
    }

    /// Answers one request; `wall_unix` is the double's wall clock (validity starts there).
    pub fn handle(&mut self, req: &HttpRequest, wall_unix: i64) -> HttpResponse {
        let g = match GetAndPublishCert::parse(&req.body) {
            Ok(g) => g,
            Err(e) => {
                return HttpResponse {
                    status: 400,
                    headers: vec![],
                    body: e.to_string().into_bytes(),
                }
            }
        };
        let bearer = req
            .header("Authorization")
            .and_then(|a| a.strip_prefix("Bearer "));
        let found = match (&g.token, bearer) {
            (_, Some(t)) => self.tokens.get(t).map(|u| (u.clone(), "bearer")),
            (Some(t), None) => self.accounts.iter().find_map(|a| {
                if a.extension == t.username && a.pin == t.password && !a.pin.is_empty() {
                    Some((a.sip_uri.clone(), "pin"))
                } else if a.user == t.username && a.password == t.password {
                    Some((a.sip_uri.clone(), "user"))
                } else {
                    None
                }
            }),
            (None, None) => None,
        };
        let Some((sip_uri, how)) = found else {
            return self.fault(&g.entity, "The credentials were not accepted.");
        };
        match self.issue(&g, &sip_uri, wall_unix) {
            Ok((der, not_after)) => {
                self.events.push(CertProvEvent::Issued {
                    sip_uri,
                    how,
                    not_after,
                });
                HttpResponse {
                    status: 200,
                    headers: vec![(
                        "Content-Type".into(),
                        "application/soap+xml; charset=utf-8".into(),
                    )],
                    body: CertProvResponse::Issued {
                        certificate: der,
                        request_id: g.request_id.clone(),
                    }
                    .emit()
                    .into_bytes(),
                }
            }
            Err(e) => HttpResponse {
                status: 400,
                headers: vec![],
                body: e.to_string().into_bytes(),
            },
        }
    }

    fn issue(
        &mut self,
        g: &GetAndPublishCert,
        sip_uri: &str,
        wall_unix: i64,
    ) -> Result<(Vec<u8>, i64), CertProvError> {
        // from_der checks the CSR's self-signature (proof of the private key).
        let mut csr = rcgen::CertificateSigningRequestParams::from_der(&g.csr.clone().into())
            .map_err(key_err)?;
        let not_after = wall_unix + self.validity.as_secs() as i64;
        csr.params.not_before = when(wall_unix - 60)?;
        csr.params.not_after = when(not_after)?;
        csr.params.distinguished_name = rcgen::DistinguishedName::new();
        csr.params
            .distinguished_name
            .push(rcgen::DnType::CommonName, sip_uri);
        csr.params.subject_alt_names = vec![rcgen::SanType::URI(
            rcgen::Ia5String::try_from(sip_uri).map_err(key_err)?,
        )];
        csr.params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        csr.params.is_ca = rcgen::IsCa::ExplicitNoCa;
        csr.params.serial_number = Some(self.next_serial());
        let c = csr.signed_by(&self.ca, &self.ca_key).map_err(key_err)?;
        Ok((c.der().to_vec(), not_after))
    }
}
