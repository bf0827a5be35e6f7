//! NTLM ([MS-NLMP]) against the specification's known-answer values (section 4.2, kept in
//! tests/fixtures/sipe/ms-nlmp-4.2.txt), a connectionless exchange between our client and
//! our server end with fixed inputs (each value recomputed independently, both directions
//! checked, tampering refused), plus parse/emit round-trips.

use std::collections::HashMap;

use ac_sip::sipe::ntlm::{self, flags, Authenticate, Challenge, Message, Negotiate, Sealer, Side};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `name = value` lines; `#` comments and `[section]` lines skipped.
fn fixture(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

struct V(HashMap<String, String>);

impl V {
    fn nlmp() -> V {
        V(fixture(include_str!("fixtures/sipe/ms-nlmp-4.2.txt")))
    }
    fn b(&self, k: &str) -> Vec<u8> {
        hex(self
            .0
            .get(k)
            .unwrap_or_else(|| panic!("fixture has no {k}")))
    }
    fn s(&self, k: &str) -> &str {
        self.0
            .get(k)
            .unwrap_or_else(|| panic!("fixture has no {k}"))
    }
    fn a8(&self, k: &str) -> [u8; 8] {
        self.b(k).try_into().expect("8 bytes")
    }
    fn a16(&self, k: &str) -> [u8; 16] {
        self.b(k).try_into().expect("16 bytes")
    }
    fn flags(&self, k: &str) -> u32 {
        u32::from_le_bytes(self.b(k).try_into().expect("4 bytes"))
    }
}

#[test]
fn nlmp_4_2_2_ntlm_v1() {
    let v = V::nlmp();
    let f = v.flags("v1_flags");
    assert_eq!(
        f,
        flags::KEY_EXCH
            | flags::NEG_56
            | flags::NEG_128
            | flags::VERSION
            | flags::TARGET_TYPE_SERVER
            | flags::ALWAYS_SIGN
            | flags::NTLM
            | flags::SEAL
            | flags::SIGN
            | flags::OEM
            | flags::UNICODE
    );
    let pw = v.s("password_str");
    assert_eq!(ntlm::lmowf_v1(pw).unwrap().to_vec(), v.b("v1_lmowf"));
    assert_eq!(ntlm::ntowf_v1(pw).to_vec(), v.b("v1_ntowf"));
    let sc = v.a8("server_challenge");
    let cc = v.a8("client_challenge");
    let r = ntlm::ntlm_v1(f, pw, &sc, &cc, true).unwrap();
    assert_eq!(r.nt_response, v.b("v1_nt_response"));
    assert_eq!(r.lm_response, v.b("v1_lm_response"));
    assert_eq!(r.session_base_key.to_vec(), v.b("v1_session_base_key"));
    assert_eq!(r.key_exchange_key.to_vec(), v.b("v1_session_base_key"));
    // NoLMResponseNTLMv1: the LM field repeats the NT response.
    let r2 = ntlm::ntlm_v1(f, pw, &sc, &cc, false).unwrap();
    assert_eq!(r2.lm_response, v.b("v1_nt_response"));
    let rsk = v.a16("random_session_key");
    let (exported, enc) = ntlm::key_exchange(f, &r.key_exchange_key, &rsk);
    assert_eq!(exported, rsk);
    assert_eq!(enc, v.b("v1_encrypted_session_key"));
    // The two other KXKEY forms of section 3.4.5.1.
    let lm = ntlm::ntlm_v1(f | flags::LM_KEY, pw, &sc, &cc, true).unwrap();
    assert_eq!(lm.key_exchange_key.to_vec(), v.b("v1_kxkey_lm_key"));
    assert_eq!(
        ntlm::key_exchange(f, &lm.key_exchange_key, &rsk).1,
        v.b("v1_encrypted_session_key_lm_key")
    );
    let nn = ntlm::ntlm_v1(f | flags::REQUEST_NON_NT_SESSION_KEY, pw, &sc, &cc, true).unwrap();
    assert_eq!(nn.key_exchange_key.to_vec(), v.b("v1_kxkey_non_nt"));
    assert_eq!(
        ntlm::key_exchange(f, &nn.key_exchange_key, &rsk).1,
        v.b("v1_encrypted_session_key_non_nt")
    );
    // The server end recovers the exported key.
    assert_eq!(
        ntlm::recover_session_key(f, &r.key_exchange_key, &enc).unwrap(),
        rsk
    );
}

#[test]
fn nlmp_4_2_2_4_wrap_without_extended_session_security() {
    let v = V::nlmp();
    let f = v.flags("v1_flags");
    let mut data = v.b("plaintext");
    assert_eq!(
        crc32fast::hash(&data).to_le_bytes().to_vec(),
        v.b("v1_crc32")
    );
    let mut s = Sealer::new(f, &v.a16("random_session_key"), Side::Client);
    let parts = s.seal(0, &mut data);
    assert_eq!(data, v.b("v1_sealed"));
    assert_eq!(parts.random_pad.to_vec(), v.b("v1_random_pad_rc4"));
    assert_eq!(parts.checksum[..4].to_vec(), v.b("v1_checksum_rc4"));
    assert_eq!(parts.seq_num.to_vec(), v.b("v1_seqnum_rc4"));
    // The example's assembled signature keeps RC4(RandomPad); the pseudo-code of
    // section 3.4.4.1 then sets RandomPad to 0, which is what `mac` sends.
    assert_eq!(parts.signature(true).to_vec(), v.b("v1_signature"));
}

#[test]
fn nlmp_4_2_3_ntlm_v1_with_client_challenge() {
    let v = V::nlmp();
    let f = v.flags("v1ess_flags");
    assert_eq!(
        f,
        flags::NEG_56
            | flags::VERSION
            | flags::EXTENDED_SESSIONSECURITY
            | flags::TARGET_TYPE_SERVER
            | flags::ALWAYS_SIGN
            | flags::NTLM
            | flags::SEAL
            | flags::SIGN
            | flags::OEM
            | flags::UNICODE
    );
    let r = ntlm::ntlm_v1(
        f,
        v.s("password_str"),
        &v.a8("server_challenge"),
        &v.a8("client_challenge"),
        true,
    )
    .unwrap();
    assert_eq!(r.nt_response, v.b("v1ess_nt_response"));
    assert_eq!(r.lm_response, v.b("v1ess_lm_response"));
    assert_eq!(r.session_base_key.to_vec(), v.b("v1_session_base_key"));
    assert_eq!(r.key_exchange_key.to_vec(), v.b("v1ess_kxkey"));
    // No KEY_EXCH: the exported session key is the key exchange key.
    let (exported, enc) = ntlm::key_exchange(f, &r.key_exchange_key, &[0x55; 16]);
    assert!(enc.is_empty());
    let mut s = Sealer::new(f, &exported, Side::Client);
    let mut data = v.b("plaintext");
    let parts = s.seal(0, &mut data);
    assert_eq!(data, v.b("v1ess_sealed"));
    assert_eq!(parts.signature(false).to_vec(), v.b("v1ess_signature"));
    // MAC alone (a fresh context, sequence 0) gives the same signature.
    let mut s2 = Sealer::new(f, &exported, Side::Client);
    assert_eq!(
        s2.mac(0, &v.b("plaintext")).to_vec(),
        v.b("v1ess_signature")
    );
}

#[test]
fn nlmp_4_2_4_ntlm_v2() {
    let v = V::nlmp();
    let f = v.flags("v2_flags");
    assert_eq!(f & flags::TARGET_INFO, flags::TARGET_INFO);
    let key = ntlm::ntowf_v2(v.s("password_str"), v.s("user_str"), v.s("domain_str"));
    assert_eq!(key.to_vec(), v.b("v2_ntowf"));
    let ti = v.b("v2_target_info");
    let pairs = ntlm::av_pairs(&ti).unwrap();
    assert_eq!(ntlm::from_utf16le(pairs[0].1), v.s("domain_str"));
    assert_eq!(ntlm::from_utf16le(pairs[1].1), v.s("server_str"));
    let time = u64::from_le_bytes(v.a8("time"));
    let r = ntlm::ntlm_v2(
        &key,
        &v.a8("server_challenge"),
        &v.a8("client_challenge"),
        time,
        &ti,
    );
    let mut nt = v.b("v2_nt_proof_str");
    nt.extend_from_slice(&v.b("v2_temp"));
    assert_eq!(r.nt_response, nt);
    assert_eq!(r.lm_response, v.b("v2_lm_response"));
    assert_eq!(r.session_base_key.to_vec(), v.b("v2_session_base_key"));
    let rsk = v.a16("random_session_key");
    let (exported, enc) = ntlm::key_exchange(f, &r.key_exchange_key, &rsk);
    assert_eq!(enc, v.b("v2_encrypted_session_key"));
    assert_eq!(
        ntlm::sign_key(f, &exported, Side::Client).unwrap().to_vec(),
        v.b("v2_client_sign_key")
    );
    assert_eq!(
        ntlm::seal_key(f, &exported, Side::Client),
        v.b("v2_client_seal_key")
    );
    let mut s = Sealer::new(f, &exported, Side::Client);
    let mut data = v.b("plaintext");
    let parts = s.seal(0, &mut data);
    assert_eq!(data, v.b("v2_sealed"));
    assert_eq!(parts.signature(false).to_vec(), v.b("v2_signature"));
    // The server end checks the response and derives the same base key.
    assert_eq!(
        ntlm::verify_ntlm_v2(&key, &v.a8("server_challenge"), &r.nt_response).unwrap(),
        r.session_base_key
    );
    let wrong = ntlm::ntowf_v2("password", "User", "Domain");
    assert!(ntlm::verify_ntlm_v2(&wrong, &v.a8("server_challenge"), &r.nt_response).is_err());
}

/// A connectionless NTLMv2 exchange between our two ends with fixed inputs: the CHALLENGE
/// and AUTHENTICATE re-emit byte for byte, every AUTHENTICATE field equals an independent
/// recomputation from the section 3.3.2 / 3.4.5 functions, the server end accepts it only
/// for the right password and an untampered message, and signatures made at one end
/// verify only at the other end's matching direction.
#[test]
fn connectionless_exchange_between_our_ends() {
    let srv = ntlm::ServerChallenge::new(
        [0x1c, 0x2d, 0x3e, 0x4f, 0x50, 0x61, 0x72, 0x83],
        "CONTOSO",
        "SFB01",
    );
    let type2 = srv.emit();
    let ch = Challenge::parse(&type2).unwrap();
    assert_eq!(ch.server_challenge, srv.server_challenge);
    // [MS-SIPAE] 3.2.2: connectionless (datagram) NTLM with signing.
    assert_eq!(ch.flags & flags::DATAGRAM, flags::DATAGRAM);
    assert_eq!(ch.flags & flags::SIGN, flags::SIGN);
    assert_eq!(ch.emit(), type2);
    assert_eq!(Message::parse(&type2).unwrap().emit(), type2);

    let input = ntlm::ClientInput {
        user: "alice",
        domain: "CONTOSO",
        password: "P@ssw0rd",
        workstation: "PHONE",
        client_challenge: [0xa5; 8],
        random_session_key: [0x3c; 16],
        time: 0x01d9_5a00_1234_5678,
        v2: true,
        version: [6, 1, 0, 0, 0, 0, 0, 15],
    };
    let (type3, mut ctx) = ntlm::authenticate(&type2, &input).unwrap();
    let au = Authenticate::parse(&type3).unwrap();
    assert_eq!(au.emit(), type3);
    assert_eq!(Message::parse(&type3).unwrap().emit(), type3);
    assert_eq!(ntlm::from_utf16le(au.user), "alice");
    assert_eq!(ntlm::from_utf16le(au.domain), "CONTOSO");
    assert_eq!(ntlm::from_utf16le(au.workstation), "PHONE");
    assert_eq!(au.version, Some(input.version));
    // Section 3.1.5.1.2 / 3.3.2 recomputed: NTOWFv2, the NTLMv2 responses over the
    // server's TargetInfo, KXKEY = SessionBaseKey, and the RC4K key exchange.
    let key = ntlm::ntowf_v2("P@ssw0rd", "alice", "CONTOSO");
    let r = ntlm::ntlm_v2(
        &key,
        &ch.server_challenge,
        &input.client_challenge,
        input.time,
        ch.target_info,
    );
    assert_eq!(au.nt_response, &r.nt_response[..]);
    assert_eq!(au.lm_response, &r.lm_response[..]);
    assert_eq!(r.key_exchange_key, r.session_base_key);
    assert_eq!(
        au.encrypted_random_session_key,
        &ntlm::rc4k(&r.key_exchange_key, &input.random_session_key)[..]
    );
    assert_eq!(ctx.exported_session_key, input.random_session_key);
    assert_eq!(
        ntlm::recover_session_key(
            au.flags,
            &r.key_exchange_key,
            au.encrypted_random_session_key
        )
        .unwrap(),
        input.random_session_key
    );

    // The server end accepts it and derives the same session; a wrong password or a
    // changed NTProofStr is refused.
    let (user, domain, mut sctx) = srv.accept(&type3, "P@ssw0rd").unwrap();
    assert_eq!((user.as_str(), domain.as_str()), ("alice", "CONTOSO"));
    assert!(srv.accept(&type3, "Pa$$w0rd").is_err());
    let mut tampered = type3.clone();
    let nt_off = u32::from_le_bytes(tampered[24..28].try_into().unwrap()) as usize;
    tampered[nt_off] ^= 1;
    assert!(srv.accept(&tampered, "P@ssw0rd").is_err());
    assert_eq!(sctx.exported_session_key, ctx.exported_session_key);
    assert_eq!(sctx.flags, ctx.flags);

    // Section 2.2.2.9.1 layout (extended session security): Version 1, 8-byte checksum,
    // SeqNum little-endian.
    let sig = ctx.client.mac(7, b"<NTLM><1234>");
    assert_eq!(&sig[..4], &[1, 0, 0, 0]);
    assert_eq!(&sig[12..], &7u32.to_le_bytes());
    sctx.client.verify_mac(7, b"<NTLM><1234>", &sig).unwrap();
    assert!(sctx.client.verify_mac(8, b"<NTLM><1234>", &sig).is_err());
    assert!(sctx.client.verify_mac(7, b"<NTLM><1235>", &sig).is_err());
    // The client's signature is not valid in the server's direction (other SIGNKEY).
    assert!(ctx.server.verify_mac(7, b"<NTLM><1234>", &sig).is_err());
    let ssig = sctx.server.mac(100, b"<NTLM><abcd>");
    ctx.server.verify_mac(100, b"<NTLM><abcd>", &ssig).unwrap();
    assert!(ctx.client.verify_mac(100, b"<NTLM><abcd>", &ssig).is_err());
    // SIGNKEY per direction (section 3.4.5.2) as the two ends compute it.
    assert_ne!(
        ntlm::sign_key(ctx.flags, &ctx.exported_session_key, ntlm::Side::Client),
        ntlm::sign_key(ctx.flags, &ctx.exported_session_key, ntlm::Side::Server)
    );
}

#[test]
fn nlmp_negotiate_round_trip() {
    let n = Negotiate {
        flags: flags::SIP_CONNECTIONLESS,
        domain: b"",
        workstation: b"",
        version: Some([6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f]),
    };
    let b = n.emit();
    assert_eq!(&b[..8], b"NTLMSSP\0");
    assert_eq!(Negotiate::parse(&b).unwrap(), n);
}

fn blob() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

proptest! {
    #[test]
    fn challenge_round_trips(f in any::<u32>(), tn in blob(), ti in blob(), sc in any::<[u8; 8]>(), ver in any::<[u8; 8]>()) {
        let c = Challenge { flags: f, target_name: &tn, server_challenge: sc, target_info: &ti,
            version: (f & flags::VERSION != 0).then_some(ver) };
        let b = c.emit();
        prop_assert_eq!(Challenge::parse(&b).unwrap(), c);
    }

    #[test]
    fn authenticate_round_trips(f in any::<u32>(), lm in blob(), nt in blob(), d in blob(), u in blob(),
                                w in blob(), k in blob(), ver in any::<[u8; 8]>(), mic in any::<Option<[u8; 16]>>()) {
        let has_v = f & flags::VERSION != 0;
        let a = Authenticate { lm_response: &lm, nt_response: &nt, domain: &d, user: &u, workstation: &w,
            encrypted_random_session_key: &k, flags: f, version: has_v.then_some(ver),
            mic: if has_v { mic } else { None } };
        let b = a.emit();
        prop_assert_eq!(Authenticate::parse(&b).unwrap(), a);
    }

    #[test]
    fn any_bytes_parse_or_fail_cleanly(b in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = Message::parse(&b) {
            let e = m.emit();
            prop_assert_eq!(Message::parse(&e).unwrap(), m);
        }
    }

    #[test]
    fn datagram_mac_verifies_only_its_message(msg in blob(), seq in any::<u32>(), key in any::<[u8; 16]>(), ess in any::<bool>()) {
        let f = if ess { flags::SIP_CONNECTIONLESS } else { flags::SIP_CONNECTIONLESS & !flags::EXTENDED_SESSIONSECURITY };
        let sig = Sealer::new(f, &key, Side::Server).mac(seq, &msg);
        let mut v = Sealer::new(f, &key, Side::Server);
        prop_assert!(v.verify_mac(seq, &msg, &sig).is_ok());
        let mut other = msg.clone();
        other.push(1);
        prop_assert!(v.verify_mac(seq, &other, &sig).is_err());
    }
}
