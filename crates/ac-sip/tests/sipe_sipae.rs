//! [MS-SIPAE] over NTLM: the spec's example challenge, the signed buffer of section 3.2.5.1
//! and the signatures of a captured OCS 2007 R2 sign-in (computed here, compared with the
//! captured `response` / `rspauth`), plus client/server association round trips.

use std::collections::HashMap;

use ac_sip::msg::{HeaderName, Message, MessageBuf};
use ac_sip::sipe::ntlm;
use ac_sip::sipe::sipae::{
    signature_buffer, ClientSa, NtlmChallenge, NtlmCredentials, SaState, ServerSa, SigInput,
    SipaeError, REALM,
};

fn messages() -> HashMap<String, Vec<u8>> {
    let text = include_str!("fixtures/sipe/sipae-messages.txt");
    let mut out = HashMap::new();
    let mut name: Option<String> = None;
    let mut body = String::new();
    let mut flush = |name: &mut Option<String>, body: &mut String| {
        if let Some(n) = name.take() {
            let t = body.trim_end_matches('\n').to_string();
            let m = if t.starts_with('<') {
                t
            } else {
                t.replace('\n', "\r\n") + "\r\n\r\n"
            };
            out.insert(n, m.into_bytes());
        }
        body.clear();
    };
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("=== ") {
            flush(&mut name, &mut body);
            name = Some(n.trim().to_string());
        } else if line.starts_with('#')
            || (name.is_some() && line.is_empty() && body.ends_with("\n\n"))
        {
            if line.starts_with('#') {
                flush(&mut name, &mut body);
            }
        } else if name.is_some() {
            body.push_str(line);
            body.push('\n');
        }
    }
    flush(&mut name, &mut body);
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ocs_fixture() -> HashMap<String, String> {
    include_str!("fixtures/sipe/ocs2007r2-ntlm.txt")
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// [MS-SIPAE] 4.1 step 2: the NTLM challenge parses; Kerberos is not ours.
#[test]
fn sipae_4_1_challenge() {
    let m = messages();
    let r = Message::parse(&m["sipae-4.1-step2-401"]).unwrap();
    let chs: Vec<_> = r
        .fields(HeaderName::WwwAuthenticate)
        .map(NtlmChallenge::parse)
        .collect();
    assert_eq!(chs.len(), 2);
    let ntlm = chs[0].as_ref().unwrap();
    assert_eq!(ntlm.realm, REALM);
    assert_eq!(ntlm.targetname, "server.contoso.com");
    assert_eq!(ntlm.version, 3);
    assert!(ntlm.gssapi_data.is_none());
    assert_eq!(chs[1], Err(SipaeError::NoNtlm));
    // Our answer to it: the same REGISTER with gssapi-data="" (section 3.2.2).
    let mut sa = ClientSa::new(ntlm, false);
    let req = Message::parse(&m["sipae-4.1-step1-register"]).unwrap();
    let cred = NtlmCredentials::parse(&sa.credentials(&req, 0).unwrap()).unwrap();
    assert_eq!(cred.gssapi_data, Some(vec![]));
    assert_eq!(cred.targetname, "server.contoso.com");
    assert_eq!(cred.version, 3);
    assert!(cred.response.is_none());
    assert_eq!(sa.state(), SaState::Started);
}

fn sig_input<'a>(rand: &'a str, num: &'a str, target: &'a str, version: u32) -> SigInput<'a> {
    SigInput {
        protocol: "NTLM",
        rand,
        num,
        realm: REALM,
        targetname: target,
        version,
    }
}

/// Section 3.2.5.1 buffers, versions 3 and 4, against the captured exchanges.
#[test]
fn signature_buffers() {
    let m = messages();
    let req = Message::parse(&m["ocs-register"]).unwrap();
    let b = signature_buffer(
        &req,
        &sig_input("13317733", "1", "cosmo-ocs-r2.cosmo.local", 4),
    )
    .unwrap();
    assert_eq!(b.as_bytes(), &m["ocs-register-buffer"][..]);
    let ok = Message::parse(&m["ocs-200"]).unwrap();
    let b = signature_buffer(
        &ok,
        &sig_input("9616454F", "1", "cosmo-ocs-r2.cosmo.local", 4),
    )
    .unwrap();
    assert_eq!(b.as_bytes(), &m["ocs-200-buffer"][..]);
    let v3 = Message::parse(&m["ocs2007-v3-200"]).unwrap();
    let b = signature_buffer(
        &v3,
        &sig_input("0878F41B", "1", "ocs1.ocs.provo.novell.com", 3),
    )
    .unwrap();
    assert_eq!(b.as_bytes(), &m["ocs2007-v3-200-buffer"][..]);
}

/// The captured sign-in recomputed: our Proxy-Authorization equals the real client's
/// (gssapi-data, crand, cnum and response), and the server's rspauth verifies.
#[test]
fn ocs2007r2_signed_register_and_200() {
    let m = messages();
    let f = ocs_fixture();
    let type2 = hex(&f["challenge"]);
    let captured = Message::parse(&m["ocs-register"]).unwrap();
    let captured_cred =
        NtlmCredentials::parse(captured.first(HeaderName::ProxyAuthorization).unwrap()).unwrap();
    // The client's random session key, as the server recovers it.
    let ch = ntlm::Challenge::parse(&type2).unwrap();
    let au = ntlm::Authenticate::parse(captured_cred.gssapi_data.as_ref().unwrap()).unwrap();
    let key = ntlm::ntowf_v2(&f["password_str"], &f["user_str"], &f["domain_str"]);
    let cc: [u8; 8] = hex(&f["client_challenge"]).try_into().unwrap();
    let time = u64::from_le_bytes(hex(&f["time"]).try_into().unwrap());
    let r = ntlm::ntlm_v2(&key, &ch.server_challenge, &cc, time, ch.target_info);
    let rsk = ntlm::recover_session_key(
        au.flags,
        &r.key_exchange_key,
        au.encrypted_random_session_key,
    )
    .unwrap();

    let challenge = NtlmChallenge {
        realm: REALM.into(),
        targetname: "cosmo-ocs-r2.cosmo.local".into(),
        version: 4,
        opaque: Some("2BDBAC9D".into()),
        gssapi_data: Some(type2.clone()),
    };
    let mut sa = ClientSa::new(&challenge, true);
    sa.handle_challenge(
        &challenge,
        &ntlm::ClientInput {
            user: &f["user_str"],
            domain: &f["domain_str"],
            password: &f["password_str"],
            workstation: &f["workstation_str"],
            client_challenge: cc,
            random_session_key: rsk,
            time,
            v2: true,
            version: hex(&f["version"]).try_into().unwrap(),
        },
    )
    .unwrap();
    // The REGISTER without its credentials, then ours added.
    let mut b = MessageBuf::from_message(&captured);
    b.remove(HeaderName::ProxyAuthorization);
    let bare = b.to_bytes();
    let ours = sa
        .credentials(&Message::parse(&bare).unwrap(), 0x13317733)
        .unwrap();
    let ours = NtlmCredentials::parse(&ours).unwrap();
    assert_eq!(ours, captured_cred);
    assert_eq!(
        ours.response.as_deref(),
        Some("0100000029618e9651b65a7764000000")
    );

    let ok = Message::parse(&m["ocs-200"]).unwrap();
    assert_eq!(sa.verify(&ok), Ok(true));
    // The same 200 again is a replay; a changed one does not verify.
    assert!(matches!(sa.verify(&ok), Err(SipaeError::Replay { .. })));
    let forged = String::from_utf8(m["ocs-200"].clone())
        .unwrap()
        .replace("snum=\"1\"", "snum=\"2\"")
        .replace("Expires: 7200", "Expires: 7201");
    assert_eq!(
        sa.verify(&Message::parse(forged.as_bytes()).unwrap()),
        Err(SipaeError::BadSignature)
    );
}

fn request(cseq: u32, expires: &str) -> Vec<u8> {
    let mut b = MessageBuf::request(ac_sip::msg::Method::Register, "sip:contoso.com");
    b.push(
        HeaderName::Via,
        "SIP/2.0/TLS 192.0.2.1:4320;branch=z9hG4bK1",
    );
    b.push(
        HeaderName::From,
        "<sip:alice@contoso.com>;tag=4a2b44d131;epid=8248ca9ebb",
    );
    b.push(HeaderName::To, "<sip:alice@contoso.com>");
    b.push(HeaderName::CallId, "d5f2b95d5be64c2cbfb38aa5d3a87ae7");
    b.push(HeaderName::CSeq, format!("{cseq} REGISTER"));
    b.push(HeaderName::Expires, expires);
    b.to_bytes()
}

/// Both ends of an association agree: the client's signed requests verify at the server,
/// the server's signed responses at the client; tampering and replays are refused.
#[test]
fn client_and_server_associations() {
    for version in [3, 4] {
        let mut srv = ServerSa::new("sfb.contoso.com", version, 0x2BDB_AC9D, [7; 8], "CONTOSO");
        let first = NtlmChallenge::parse(&format!(
            "NTLM realm=\"{REALM}\", targetname=\"sfb.contoso.com\", version={version}"
        ))
        .unwrap();
        let mut sa = ClientSa::new(&first, false);
        let ch = NtlmChallenge::parse(&srv.challenge()).unwrap();
        sa.handle_challenge(
            &ch,
            &ntlm::ClientInput {
                user: "alice",
                domain: "CONTOSO",
                password: "P@ssw0rd",
                workstation: "PHONE",
                client_challenge: [3; 8],
                random_session_key: [9; 16],
                time: 0x01d9_0000_0000_0000,
                v2: version == 4,
                version: [6, 1, 0, 0, 0, 0, 0, 15],
            },
        )
        .unwrap();
        for cseq in 1..4 {
            let bare = request(cseq, "3600");
            let cred = sa
                .credentials(&Message::parse(&bare).unwrap(), 0x1000 + cseq)
                .unwrap();
            let cred = NtlmCredentials::parse(&cred).unwrap();
            if cseq == 1 {
                let auth = cred
                    .gssapi_data
                    .clone()
                    .expect("first signed request carries AUTHENTICATE");
                assert_eq!(
                    srv.accept(&auth, |u| (u == "alice").then(|| "P@ssw0rd".into()))
                        .unwrap(),
                    "alice"
                );
            } else {
                assert!(cred.gssapi_data.is_none());
            }
            srv.verify_request(&Message::parse(&bare).unwrap(), &cred)
                .unwrap();
            // Replaying the same signed request is refused.
            assert!(matches!(
                srv.verify_request(&Message::parse(&bare).unwrap(), &cred),
                Err(SipaeError::Replay { .. })
            ));
            // A response signed by the server verifies at the client.
            let req = Message::parse(&bare).unwrap();
            let mut resp = ac_sip::msg::response_to(&req, 200, Some("srvtag"));
            resp.push(HeaderName::Expires, "3600");
            let unsigned = resp.to_bytes();
            let info = srv
                .sign_response(&Message::parse(&unsigned).unwrap(), 0xabc + cseq)
                .unwrap();
            resp.push(HeaderName::AuthenticationInfo, info);
            let signed = resp.to_bytes();
            assert_eq!(sa.verify(&Message::parse(&signed).unwrap()), Ok(true));
        }
        // A request changed after signing does not verify.
        let bare = request(9, "3600");
        let cred =
            NtlmCredentials::parse(&sa.credentials(&Message::parse(&bare).unwrap(), 1).unwrap())
                .unwrap();
        let changed = request(9, "0");
        assert_eq!(
            srv.verify_request(&Message::parse(&changed).unwrap(), &cred),
            Err(SipaeError::BadSignature)
        );
        // A wrong password never establishes.
        let mut srv2 = ServerSa::new("sfb.contoso.com", version, 1, [8; 8], "CONTOSO");
        let mut sa2 = ClientSa::new(&first, false);
        sa2.handle_challenge(
            &NtlmChallenge::parse(&srv2.challenge()).unwrap(),
            &ntlm::ClientInput {
                user: "alice",
                domain: "CONTOSO",
                password: "wrong",
                workstation: "PHONE",
                client_challenge: [3; 8],
                random_session_key: [9; 16],
                time: 0,
                v2: version == 4,
                version: [0; 8],
            },
        )
        .unwrap();
        let bare = request(1, "3600");
        let cred =
            NtlmCredentials::parse(&sa2.credentials(&Message::parse(&bare).unwrap(), 1).unwrap())
                .unwrap();
        assert!(srv2
            .accept(&cred.gssapi_data.unwrap(), |_| Some("P@ssw0rd".into()))
            .is_err());
    }
}
