//! A phone signs in to the Skype for Business server double with NTLM ([MS-SIPAE]):
//! in memory on a virtual clock (refresh, wrong password), and over TLS (rustls on both
//! ends, a test CA made with openssl here).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ac_sip::driver::{Incoming, TlsSettings, TransportConfig, Transports};
use ac_sip::msg::Message;
use ac_sip::sipe::register::{SipeConfig, SipeEvent, SipeRegistration, SipeState};
use ac_sip::sipe::server::{ServerConfig, ServerEvent, SfbServer};
use ac_sip::transaction::{Transmit, Transport};

mod sipe_common;
use sipe_common::pki;

fn server() -> SfbServer {
    SfbServer::new(
        ServerConfig {
            targetname: "sfb.contoso.com".into(),
            version: 4,
            domain: "CONTOSO".into(),
            users: HashMap::from([("alice".to_string(), "P@ssw0rd!".to_string())]),
            expires: 600,
            date: "Thu, 31 Jan 2008 00:01:56 GMT".into(),
            provisioning: None,
            location_profile: None,
        },
        42,
    )
}

fn phone(password: &str, contact: &str) -> SipeRegistration {
    SipeRegistration::new(
        SipeConfig {
            aor: "sip:alice@contoso.com".into(),
            registrar: "sip:contoso.com".into(),
            contact: contact.into(),
            via_host: "127.0.0.1:5061".into(),
            via_transport: "TLS".into(),
            user: "alice".into(),
            domain: "CONTOSO".into(),
            password: password.into(),
            workstation: "AC-440HD".into(),
            epid: "8248ca9ebb".into(),
            instance: "4233FD41-093B-5FD6-B5D2-651ED55969E6".into(),
            expires: 3600,
            user_agent: "AUDC-IPPhone/3.0 (440HD)".into(),
            retry_after: Duration::from_secs(30),
        },
        7,
        0x01d9_1234_5678_9abc,
    )
}

/// Runs requests through the double until the phone has nothing more to send.
fn exchange(p: &mut SipeRegistration, s: &mut SfbServer, now: Instant) -> usize {
    let mut n = 0;
    while let Some(req) = p.poll_request() {
        let resp = s.handle(&req).expect("the double answers REGISTER");
        p.handle_response(now, &resp);
        n += 1;
        assert!(n < 10, "no REGISTER loop");
    }
    n
}

#[test]
fn signs_in_refreshes_and_refuses_a_wrong_password() {
    let mut now = Instant::now();
    let mut s = server();
    let mut p = phone("P@ssw0rd!", "sip:127.0.0.1:5061;transport=tls");
    p.register(now);
    // REGISTER -> 401 (NTLM, Kerberos) -> REGISTER gssapi-data="" -> 401 CHALLENGE ->
    // signed REGISTER with AUTHENTICATE -> signed 200.
    assert_eq!(exchange(&mut p, &mut s, now), 3);
    assert_eq!(p.poll_event(), Some(SipeEvent::Registered { expires: 600 }));
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::SignedRequest {
            method: "REGISTER".into(),
            cnum: "1".into()
        })
    );
    assert!(
        matches!(s.poll_event(), Some(ServerEvent::Registered { user, .. }) if user == "alice")
    );
    // Refresh at 90 % of the lifetime, inside the same association (cnum 2).
    let t = p.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(540));
    now = t;
    p.handle_timeout(now);
    assert_eq!(exchange(&mut p, &mut s, now), 1);
    assert_eq!(p.poll_event(), Some(SipeEvent::Registered { expires: 600 }));
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::SignedRequest {
            method: "REGISTER".into(),
            cnum: "2".into()
        })
    );

    let mut bad = phone("wrong", "sip:127.0.0.1:5062;transport=tls");
    bad.register(now);
    assert_eq!(exchange(&mut bad, &mut s, now), 3);
    assert_eq!(
        bad.poll_event(),
        Some(SipeEvent::Failed {
            code: 401,
            reason: "Invalid address, username or password".into()
        })
    );
    assert!(matches!(bad.state(), SipeState::Failed { .. }));
    assert_eq!(bad.poll_timeout(), Some(now + Duration::from_secs(30)));
}

/// A response whose signature does not verify is not a registration.
#[test]
fn a_forged_200_is_refused() {
    let now = Instant::now();
    let mut s = server();
    let mut p = phone("P@ssw0rd!", "sip:127.0.0.1:5061;transport=tls");
    p.register(now);
    for _ in 0..2 {
        let r = p.poll_request().unwrap();
        p.handle_response(now, &s.handle(&r).unwrap());
    }
    let r = p.poll_request().unwrap();
    let ok = String::from_utf8(s.handle(&r).unwrap()).unwrap();
    // Expires is in the signed buffer ([MS-SIPAE] 3.2.5.1).
    let forged = ok.replace("Expires: 600\r\n", "Expires: 6000\r\n");
    assert_ne!(ok, forged);
    p.handle_response(now, forged.as_bytes());
    assert!(matches!(
        p.poll_event(),
        Some(SipeEvent::Failed { code: 200, ref reason }) if reason.contains("signature")
    ));
}

#[test]
fn signs_in_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let read = |n: &str| std::fs::read(dir.path().join(n)).unwrap();
    let mut srv_t = Transports::new(&TransportConfig {
        tls: Some("127.0.0.1:0".parse().unwrap()),
        tls_settings: TlsSettings {
            identity: Some((read("srv.pem"), read("srv.key"))),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let srv_addr = srv_t.local_addr(Transport::Tls).unwrap();
    // The phone only connects out (roots given: TLS client side on).
    let mut cli_t = Transports::new(&TransportConfig {
        tls_settings: TlsSettings {
            roots: vec![read("ca.pem")],
            server_name: Some("sfb.contoso.com".into()),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();

    // The double runs on its own thread until it has answered four requests or 20 s pass.
    let done = std::thread::spawn(move || {
        let mut s = server();
        let end = Instant::now() + Duration::from_secs(20);
        let mut answered = 0;
        let mut events = Vec::new();
        while answered < 4 && Instant::now() < end {
            let item = srv_t.recv(Some(end));
            if let Some(Incoming::Message {
                transport,
                source,
                data,
            }) = item
            {
                if let Some(r) = s.handle(&data) {
                    srv_t
                        .send(&Transmit {
                            transport,
                            dest: source,
                            data: r,
                        })
                        .unwrap();
                    answered += 1;
                }
            }
            while let Some(e) = s.poll_event() {
                events.push(e);
            }
        }
        // The transports go back to the test so the last response is not cut off by
        // closing the connection.
        (events, srv_t)
    });

    let mut now = Instant::now();
    let mut p = phone("P@ssw0rd!", "sip:127.0.0.1:5061;transport=tls");
    p.register(now);
    let end = Instant::now() + Duration::from_secs(20);
    let mut registered = 0;
    while registered < 2 && Instant::now() < end {
        if let Some(req) = p.poll_request() {
            cli_t
                .send(&Transmit {
                    transport: Transport::Tls,
                    dest: srv_addr,
                    data: req,
                })
                .unwrap();
        }
        match cli_t.recv(Some(Instant::now() + Duration::from_secs(5))) {
            Some(Incoming::Message { data, .. }) => {
                assert!(Message::parse(&data).is_ok());
                p.handle_response(now, &data);
            }
            Some(other) => panic!("unexpected {other:?} after {registered} registrations"),
            None => panic!("no response from the double"),
        }
        while let Some(e) = p.poll_event() {
            assert_eq!(e, SipeEvent::Registered { expires: 600 });
            registered += 1;
            // Jump the virtual clock to the refresh.
            if registered == 1 {
                now = p.poll_timeout().unwrap();
                p.handle_timeout(now);
            }
        }
    }
    assert_eq!(registered, 2, "signed in and refreshed over TLS");
    let (events, srv_t) = done.join().unwrap();
    drop(srv_t);
    assert!(events
        .iter()
        .any(|e| matches!(e, ServerEvent::Registered { user, .. } if user == "alice")));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ServerEvent::SignedRequest { .. }))
            .count(),
        2
    );
}
