//! [MS-SIPAE] over NTLM: the spec's example challenge (section 4.1), the signed buffer of
//! section 3.2.5.1 checked field by field for versions 3 and 4 on the 4.1 example messages,
//! and a full signed exchange between our client and server associations with fixed
//! inputs (the client's `response` verified by the server end and recomputed from the
//! session key, the server's `rspauth` verified by the client; tampering refused).

use std::collections::HashMap;

use ac_sip::msg::{HeaderName, Message, MessageBuf};
use ac_sip::sipe::ntlm;
use ac_sip::sipe::sipae::{
    signature_buffer, ClientSa, NtlmChallenge, NtlmCredentials, SaState, ServerSa, SigInput,
    SipaeError, REALM, SIP_NTLM_SEQ,
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

/// The `<...>` fields of a signed buffer.
fn fields(buf: &str) -> Vec<&str> {
    assert!(buf.starts_with('<') && buf.ends_with('>'), "{buf}");
    buf[1..buf.len() - 1].split("><").collect()
}

/// Section 3.2.5.1 buffers field by field, on the 4.1 example REGISTER (request, no To tag)
/// and on a 200 answering it (response: status code last). Version 3: protocol, crand,
/// cnum, realm, targetname, Call-ID, CSeq number, CSeq method, From URI, From tag, To tag,
/// Expires; version 4 adds the To URI after the From tag and the P-Asserted-Identity and
/// P-Preferred-Identity URIs after the To tag. Values are taken as written (case kept).
#[test]
fn signature_buffers_field_by_field() {
    let m = messages();
    let req = Message::parse(&m["sipae-4.1-step1-register"]).unwrap();
    let v3 = signature_buffer(&req, &sig_input("1a2B3c4D", "1", "server.contoso.com", 3)).unwrap();
    assert_eq!(
        fields(&v3),
        [
            "NTLM",
            "1a2B3c4D",
            "1",
            REALM,
            "server.contoso.com",
            "d5f2b95d5be64c2cbfb38aa5d3a87ae7",
            "169",
            "REGISTER",
            "sip:alice@contoso.com",
            "4a2b44d131",
            "",
            "",
        ]
    );
    let v4 = signature_buffer(&req, &sig_input("1a2B3c4D", "1", "server.contoso.com", 4)).unwrap();
    assert_eq!(
        fields(&v4),
        [
            "NTLM",
            "1a2B3c4D",
            "1",
            REALM,
            "server.contoso.com",
            "d5f2b95d5be64c2cbfb38aa5d3a87ae7",
            "169",
            "REGISTER",
            "sip:alice@contoso.com",
            "4a2b44d131",
            "sip:alice@contoso.com",
            "",
            "",
            "",
            "",
        ]
    );
    // A 200 to it, the To tag as the 4.1 step 2 response writes it (upper case), with
    // Expires and both identity headers.
    let mut ok = ac_sip::msg::response_to(&req, 200, Some("0858513FA91D3AAE1A5840DDB99599DF"));
    ok.push(HeaderName::Expires, "7200");
    ok.push(
        HeaderName::PAssertedIdentity,
        "\"Alice\" <sip:Alice@Contoso.com>",
    );
    ok.push(HeaderName::PPreferredIdentity, "<tel:+14255550100>");
    let ok = ok.to_bytes();
    let ok = Message::parse(&ok).unwrap();
    let v3 = signature_buffer(&ok, &sig_input("0c0ffee0", "7", "server.contoso.com", 3)).unwrap();
    assert_eq!(
        fields(&v3),
        [
            "NTLM",
            "0c0ffee0",
            "7",
            REALM,
            "server.contoso.com",
            "d5f2b95d5be64c2cbfb38aa5d3a87ae7",
            "169",
            "REGISTER",
            "sip:alice@contoso.com",
            "4a2b44d131",
            "0858513FA91D3AAE1A5840DDB99599DF",
            "7200",
            "200",
        ]
    );
    let v4 = signature_buffer(&ok, &sig_input("0c0ffee0", "7", "server.contoso.com", 4)).unwrap();
    assert_eq!(
        fields(&v4),
        [
            "NTLM",
            "0c0ffee0",
            "7",
            REALM,
            "server.contoso.com",
            "d5f2b95d5be64c2cbfb38aa5d3a87ae7",
            "169",
            "REGISTER",
            "sip:alice@contoso.com",
            "4a2b44d131",
            "sip:alice@contoso.com",
            "0858513FA91D3AAE1A5840DDB99599DF",
            "sip:Alice@Contoso.com",
            "tel:+14255550100",
            "7200",
            "200",
        ]
    );
    // Without the fields a signature needs, a typed error.
    let bare = b"SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        signature_buffer(&Message::parse(bare).unwrap(), &sig_input("1", "1", "t", 4)),
        Err(SipaeError::Field("Call-ID"))
    );
}

/// The 4.1 sign-in completed between our ends with fixed inputs: the client's signed
/// REGISTER verifies at the server association and its `response` equals the NTLM MAC of
/// the 3.2.5.1 buffer under the session key both ends derived; the server's signed 200
/// verifies at the client; a replayed or changed 200 and a changed REGISTER are refused.
#[test]
fn signed_register_and_200_between_our_ends() {
    let m = messages();
    for version in [3u32, 4] {
        let first = NtlmChallenge::parse(&format!(
            "NTLM realm=\"{REALM}\", targetname=\"server.contoso.com\", version={version}"
        ))
        .unwrap();
        let mut sa = ClientSa::new(&first, false);
        let mut srv = ServerSa::new(
            "server.contoso.com",
            version,
            0x5EED_0A01,
            [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
            "CONTOSO",
        );
        let challenge = NtlmChallenge::parse(&srv.challenge()).unwrap();
        assert!(challenge.opaque.is_some() && challenge.gssapi_data.is_some());
        let input = ntlm::ClientInput {
            user: "alice",
            domain: "CONTOSO",
            password: "P@ssw0rd",
            workstation: "PHONE",
            client_challenge: [0x42; 8],
            random_session_key: [0x17; 16],
            time: 0x01d9_5a00_1234_5678,
            v2: true,
            version: [6, 1, 0, 0, 0, 0, 0, 15],
        };
        sa.handle_challenge(&challenge, &input).unwrap();
        assert_eq!(sa.state(), SaState::Established);
        // The 4.1 REGISTER (spec text), signed with crand 0x1a2b3c4d.
        let req = Message::parse(&m["sipae-4.1-step1-register"]).unwrap();
        let cred = NtlmCredentials::parse(&sa.credentials(&req, 0x1A2B_3C4D).unwrap()).unwrap();
        assert_eq!(cred.crand.as_deref(), Some("1a2b3c4d"));
        assert_eq!(cred.cnum.as_deref(), Some("1"));
        assert_eq!(cred.version, version);
        let auth = cred
            .gssapi_data
            .clone()
            .expect("AUTHENTICATE with the first");
        assert_eq!(
            srv.accept(&auth, |u| (u == "alice").then(|| "P@ssw0rd".into()))
                .unwrap(),
            "alice"
        );
        // The request changed after signing (CSeq) does not verify; the original does.
        let changed = String::from_utf8(m["sipae-4.1-step1-register"].clone())
            .unwrap()
            .replace("CSeq: 169", "CSeq: 170");
        assert_eq!(
            srv.verify_request(&Message::parse(changed.as_bytes()).unwrap(), &cred),
            Err(SipaeError::BadSignature)
        );

        srv.verify_request(&req, &cred).unwrap();
        // Recompute the response independently: exported session key (the random session
        // key, KEY_EXCH) -> client SIGNKEY/SEALKEY MAC over the 3.2.5.1 buffer.
        let buf = signature_buffer(
            &req,
            &sig_input("1a2b3c4d", "1", "server.contoso.com", version),
        )
        .unwrap();
        let (_, ctx) = ntlm::authenticate(
            &ntlm::Challenge::parse(challenge.gssapi_data.as_ref().unwrap())
                .unwrap()
                .emit(),
            &input,
        )
        .unwrap();
        let mut signer =
            ntlm::Sealer::new(ctx.flags, &input.random_session_key, ntlm::Side::Client);
        let expect: String = signer
            .mac(SIP_NTLM_SEQ, buf.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(cred.response.as_deref(), Some(expect.as_str()));
        // The server's 200, signed; the client verifies it once.
        let mut ok = ac_sip::msg::response_to(&req, 200, Some("0858513FA91D3AAE1A5840DDB99599DF"));
        ok.push(HeaderName::Expires, "7200");
        let unsigned = ok.to_bytes();
        let info = srv
            .sign_response(&Message::parse(&unsigned).unwrap(), 0x0C0F_FEE0)
            .unwrap();
        ok.push(HeaderName::AuthenticationInfo, &info);
        let signed = ok.to_bytes();
        let text = String::from_utf8(signed.clone()).unwrap();
        assert!(text.contains("srand=\"0C0FFEE0\""), "{text}");
        assert_eq!(sa.verify(&Message::parse(&signed).unwrap()), Ok(true));
        assert!(matches!(
            sa.verify(&Message::parse(&signed).unwrap()),
            Err(SipaeError::Replay { .. })
        ));
        let forged = text
            .replace("snum=\"1\"", "snum=\"2\"")
            .replace("Expires: 7200", "Expires: 7201");
        assert_eq!(
            sa.verify(&Message::parse(forged.as_bytes()).unwrap()),
            Err(SipaeError::BadSignature)
        );
        // A 200 without Authentication-Info is reported unsigned, not accepted as signed.
        assert_eq!(sa.verify(&Message::parse(&unsigned).unwrap()), Ok(false));
    }
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
        let mut srv = ServerSa::new("sfb.contoso.com", version, 0x5EED_0A01, [7; 8], "CONTOSO");
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
