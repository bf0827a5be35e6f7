//! Online sign-in end to end (manual 2.2.5.7 Web sign-in): the OAuth 2.0 device code flow
//! (RFC 8628) against the Azure AD double gives a bearer token; the token goes to the
//! Certificate Provisioning Service ([MS-OCAUTHWS] 3.1 GetAndPublishCert with
//! `Authorization: Bearer`) for a certificate, and the certificate signs the phone in over
//! TLS-DSK ([MS-SIPAE] 4.4) to the registrar double. This is the flow Microsoft publishes
//! for modern authentication with Skype for Business ("AAD gives the client an access
//! token; the client gives it to SfB; the user is signed in and an SfB certificate is
//! issued to the client"). One thread, a virtual clock.
//!
//! The doubles' trust: the real service accepts tokens Azure AD signed for it; here the
//! Certificate Provisioning double is told which user each token the Azure AD double
//! issued belongs to (what `AadDouble::validate` answers), and nothing else.

use std::time::{Duration, Instant, SystemTime};

use ac_sip::sipe::aad::{AadConfig, AadDouble};
use ac_sip::sipe::certprov::Credentials;
use ac_sip::sipe::certprov_server::{Account, CertProvDouble, CertProvEvent};
use ac_sip::sipe::dsk_signin::{DskConfig, DskEvent, DskSignIn, DskSignInState, SignInPolicy};
use ac_sip::sipe::oauth::{DeviceFlow, HttpRequest, HttpResponse, OAuthConfig, OAuthEvent};
use ac_sip::sipe::tlsdsk;
use ac_sip::sipe::tlsdsk_server::{DskRegistrar, DskServerConfig, DskServerEvent};
use rustls::pki_types::CertificateDer;

const CERTPROV: &str = "https://sfb.contoso.com:443/CertProv/CertProvisioningService.svc";
const CLIENT: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";

fn wall() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The user's device code sign-in; returns the flow holding the token.
fn device_code_sign_in(aad: &mut AadDouble, t0: Instant) -> DeviceFlow {
    let mut f = DeviceFlow::new(OAuthConfig {
        device_authorization_endpoint: "https://login.microsoftonline.com/common/oauth2/devicecode"
            .into(),
        token_endpoint: "https://login.microsoftonline.com/common/oauth2/token".into(),
        client_id: CLIENT.into(),
        scope: "https://webdir.online.lync.com/.default offline_access".into(),
        refresh_margin: Duration::from_secs(300),
    });
    f.start(t0);
    let mut now = t0;
    for _ in 0..10 {
        while let Some(req) = f.poll_request() {
            let req = HttpRequest::parse(&req.to_bytes()).unwrap();
            let resp = aad.handle(now, &req);
            f.handle_response(now, &HttpResponse::parse(&resp.to_bytes()).unwrap());
        }
        while let Some(e) = f.poll_event() {
            match e {
                // The user reads the URL and the pairing code off the screen and signs in.
                OAuthEvent::ShowCode { user_code, .. } => {
                    assert!(aad.approve(&user_code, "alice@contoso.com"))
                }
                OAuthEvent::SignedIn => return f,
                other => panic!("{other:?}"),
            }
        }
        now = f.poll_timeout().expect("polling");
        f.handle_timeout(now);
    }
    panic!("no token")
}

struct Servers {
    certprov: CertProvDouble,
    registrar: DskRegistrar,
    ca: CertificateDer<'static>,
}

fn servers() -> Servers {
    let mut certprov = CertProvDouble::new(
        "Contoso Test CA",
        vec![Account {
            sip_uri: "sip:alice@contoso.com".into(),
            user: "CONTOSO\\alice".into(),
            password: "P@ssw0rd!".into(),
            extension: "4201".into(),
            pin: "135790".into(),
        }],
    )
    .unwrap();
    let ca = certprov.ca_der();
    let (chain, key) = certprov.server_cert("sfb.contoso.com").unwrap();
    let tls = tlsdsk::server_config(std::slice::from_ref(&ca), chain, key).unwrap();
    let registrar = DskRegistrar::new(
        DskServerConfig {
            targetname: "sfb.contoso.com".into(),
            version: 4,
            expires: 600,
            sts_uri: CERTPROV.into(),
            tls,
        },
        9,
    );
    Servers {
        certprov,
        registrar,
        ca,
    }
}

fn phone(ca: &CertificateDer<'static>, token: &str) -> DskSignIn {
    DskSignIn::new(
        DskConfig {
            aor: Some("sip:alice@contoso.com".into()),
            registrar: "sip:contoso.com".into(),
            contact: "sip:127.0.0.1:5061;transport=tls".into(),
            via_host: "127.0.0.1:5061".into(),
            via_transport: "TLS".into(),
            epid: "8248ca9ebb".into(),
            instance: "4233FD41-093B-5FD6-B5D2-651ED55969E6".into(),
            expires: 3600,
            user_agent: "AUDC-IPPhone/3.0 (440HD)".into(),
            retry_after: Duration::from_secs(30),
            credentials: Credentials::Bearer(token.to_string()),
            policy: SignInPolicy::from_schema(),
            certprov_url: Some(CERTPROV.into()),
            device_id: "{4233FD41-093B-5FD6-B5D2-651ED55969E6}".into(),
            roots: vec![ca.clone()],
        },
        7,
    )
}

/// Carries HTTP and SIP between the phone and the doubles until neither has more.
fn exchange(p: &mut DskSignIn, s: &mut Servers, now: Instant) -> (usize, usize) {
    let (mut h, mut r) = (0, 0);
    loop {
        if let Some(req) = p.poll_http() {
            let resp = s.certprov.handle(&req, wall());
            p.handle_http_response(now, &resp);
            h += 1;
        } else if let Some(req) = p.poll_request() {
            let resp = s.registrar.handle(&req).expect("the registrar answers");
            p.handle_response(now, &resp);
            r += 1;
        } else {
            return (h, r);
        }
        assert!(h + r < 20);
    }
}

#[test]
fn device_code_token_certificate_and_tls_dsk_sign_in() {
    let t0 = Instant::now();
    let mut aad = AadDouble::new(
        AadConfig {
            device_path: "/common/oauth2/devicecode".into(),
            token_path: "/common/oauth2/token".into(),
            client_id: CLIENT.into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            code_lifetime: Duration::from_secs(900),
            interval: Duration::from_secs(5),
            token_lifetime: Duration::from_secs(3600),
        },
        3,
    );
    let mut flow = device_code_sign_in(&mut aad, t0);
    let token = flow.token().unwrap().access_token.clone();
    let mut s = servers();
    // SfB online trusts Azure AD: the token is alice's.
    let user = aad.validate(t0, &token).expect("a valid token").to_string();
    s.certprov
        .tokens
        .insert(token.clone(), format!("sip:{user}"));

    // The token buys a certificate, the certificate signs in over TLS-DSK.
    let mut p = phone(&s.ca, &token);
    p.register(t0);
    let (http, sip) = exchange(&mut p, &mut s, t0);
    assert_eq!(http, 1, "one GetAndPublishCert with the bearer token");
    assert!(sip >= 2, "REGISTERs carrying the TLS-DSK handshake");
    assert!(matches!(
        s.certprov.poll_event(),
        Some(CertProvEvent::Issued { ref sip_uri, how: "bearer", .. }) if sip_uri == "sip:alice@contoso.com"
    ));
    let evs: Vec<DskEvent> = std::iter::from_fn(|| p.poll_event()).collect();
    assert!(evs.iter().any(
        |e| matches!(e, DskEvent::Certificate { sip_uri, .. } if sip_uri == "sip:alice@contoso.com")
    ));
    assert!(matches!(
        p.state(),
        DskSignInState::Registered { expires: 600 }
    ));
    let reg: Vec<DskServerEvent> = std::iter::from_fn(|| s.registrar.poll_event()).collect();
    assert!(!reg.is_empty());

    // The refreshed token (RFC 6749 6) is as good for a new certificate.
    let t1 = flow.poll_timeout().expect("refresh scheduled");
    flow.handle_timeout(t1);
    let req = flow.poll_request().expect("refresh request");
    let resp = aad.handle(t1, &req);
    flow.handle_response(t1, &resp);
    assert_eq!(flow.poll_event(), Some(OAuthEvent::Refreshed));
    let token2 = flow.token().unwrap().access_token.clone();
    assert_ne!(token2, token);
    let user = aad.validate(t1, &token2).expect("valid").to_string();
    s.certprov
        .tokens
        .insert(token2.clone(), format!("sip:{user}"));
    let mut p2 = phone(&s.ca, &token2);
    p2.register(t1);
    exchange(&mut p2, &mut s, t1);
    assert!(matches!(p2.state(), DskSignInState::Registered { .. }));

    // A token Azure AD never issued gets no certificate, so no sign-in.
    let mut bad = phone(&s.ca, "at-not-issued-by-aad");
    bad.register(t1);
    assert_eq!(exchange(&mut bad, &mut s, t1), (1, 0));
    assert!(matches!(bad.state(), DskSignInState::Failed { .. }));
}
