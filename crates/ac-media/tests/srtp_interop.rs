//! SRTP/SRTCP interop with libsrtp2 (Debian's libsrtp2, through ac-media-ref's C harness) in
//! both directions, and the RFC 3711 Appendix B vectors.
use ac_media::rtcp::{self, RtcpPacket};
use ac_media::rtp::RtpPacket;
use ac_media::srtp::{MasterKey, SrtpSession, Suite};
use ac_media_ref::LibSrtp;

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::Mac;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn key(seed: u8) -> MasterKey {
    let mut b = [0u8; 30];
    for (i, x) in b.iter_mut().enumerate() {
        *x = seed.wrapping_mul(31).wrapping_add(i as u8 * 7);
    }
    MasterKey::from_bytes(&b)
}

fn rtp(seq: u16, ssrc: u32, n: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..n).map(|i| (i as u8) ^ (seq as u8)).collect();
    RtpPacket {
        marker: false,
        payload_type: 8,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc,
        csrcs: vec![],
        extension: None,
        payload: &payload,
        padding: 0,
    }
    .to_vec()
    .unwrap()
}

fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    rtcp::emit_compound(&[
        RtcpPacket::ReceiverReport(rtcp::ReceiverReport {
            ssrc,
            reports: vec![rtcp::ReportBlock {
                ssrc: 99,
                jitter: 3,
                ..Default::default()
            }],
            extension: vec![],
        }),
        RtcpPacket::Sdes(vec![rtcp::SdesChunk {
            ssrc,
            items: vec![(rtcp::sdes::CNAME, b"a@b".to_vec())],
        }]),
    ])
    .unwrap()
}

fn both_directions(suite: Suite) -> (usize, usize) {
    let ours_key = key(1);
    let theirs_key = key(2);
    let tag80 = suite == Suite::AesCm128HmacSha1_80;
    let mut ours = SrtpSession::new(suite, &ours_key, &theirs_key).unwrap();
    let mut lib_rx = LibSrtp::new(tag80, &ours_key.to_bytes(), false).unwrap();
    let mut lib_tx = LibSrtp::new(tag80, &theirs_key.to_bytes(), true).unwrap();
    let mut ok_out = 0;
    let mut ok_in = 0;
    // Forged first packets with far indices are rejected and must not move the replay
    // window (RFC 3711 3.3 step 6: update the replay list only after authentication).
    let mut forged = rtcp_rr(0x3333_4444);
    forged.extend_from_slice(&[0x80, 3, 0, 0]);
    forged.extend_from_slice(&[0xaa; 10]);
    assert!(ours.unprotect_rtcp(&forged).is_err());
    // E flag clear and a garbage tag: rtc-srtp alone would return it unauthenticated.
    let mut forged = rtcp_rr(0x3333_4444);
    forged.extend_from_slice(&[0x00, 0, 0, 9]);
    forged.extend_from_slice(&[0xaa; 10]);
    assert!(matches!(
        ours.unprotect_rtcp(&forged),
        Err(ac_media::srtp::SrtpError::UnencryptedSrtcp)
    ));
    let mut forged = rtp(30_000, 0x3333_4444, 50);
    forged.extend_from_slice(&[0; 10]);
    assert!(ours.unprotect_rtp(&forged).is_err());
    // Sequence numbers cross the 16-bit wrap, so the rollover counter is exercised.
    for i in 0..300u32 {
        let seq = (65_400 + i) as u16;
        let plain = rtp(seq, 0x1111_2222, 20 + (i as usize % 300));
        let p = ours.protect_rtp(&plain).unwrap();
        assert_eq!(p.len(), plain.len() + suite.rtp_tag_len());
        assert_eq!(
            lib_rx.unprotect(&p).expect("libsrtp2 unprotects ours"),
            plain
        );
        ok_out += 1;
        let plain = rtp(seq.wrapping_add(1000), 0x3333_4444, 160);
        let p = lib_tx.protect(&plain).unwrap();
        assert_eq!(
            ours.unprotect_rtp(&p).expect("we unprotect libsrtp2's"),
            plain
        );
        ok_in += 1;
        if i % 50 == 0 {
            let c = rtcp_rr(0x1111_2222);
            let p = ours.protect_rtcp(&c).unwrap();
            // E flag + 31-bit index + 80-bit tag (RFC 3711 3.4).
            assert_eq!(p.len(), c.len() + 4 + 10);
            assert_eq!(
                lib_rx
                    .unprotect_rtcp(&p)
                    .expect("libsrtp2 unprotects our SRTCP"),
                c
            );
            let c = rtcp_rr(0x3333_4444);
            let p = lib_tx.protect_rtcp(&c).unwrap();
            assert_eq!(
                ours.unprotect_rtcp(&p)
                    .expect("we unprotect libsrtp2's SRTCP"),
                c
            );
            ok_out += 1;
            ok_in += 1;
        }
    }
    // Header extensions (RFC 8285 one-byte form with 0xFF bytes, which rtc-rtp's own
    // parser sizes differently), CSRCs and padding stay in the clear and interoperate.
    for (i, ext) in [[0xffu8; 8], [0x10, 0xaa, 0, 0, 0x21, 1, 2, 0]]
        .iter()
        .enumerate()
    {
        let payload = [0x5au8; 33];
        let plain = RtpPacket {
            marker: true,
            payload_type: 9,
            sequence: 1500 + i as u16,
            timestamp: 1,
            ssrc: 0x1111_2222,
            csrcs: vec![5, 6],
            extension: Some(ac_media::rtp::Extension {
                profile: 0xbede,
                data: ext,
            }),
            payload: &payload,
            padding: 3,
        }
        .to_vec()
        .unwrap();
        let p = ours.protect_rtp(&plain).unwrap();
        assert_eq!(&p[..32], &plain[..32], "header in the clear");
        assert_eq!(lib_rx.unprotect(&p).expect("libsrtp2 unprotects"), plain);
        let mut theirs = plain.clone();
        theirs[8..12].copy_from_slice(&0x3333_4444u32.to_be_bytes());
        let p = lib_tx.protect(&theirs).unwrap();
        assert_eq!(ours.unprotect_rtp(&p).expect("we unprotect"), theirs);
    }
    // A replayed packet and a forged one are rejected by both.
    let plain = rtp(2000, 0x3333_4444, 100);
    let p = lib_tx.protect(&plain).unwrap();
    ours.unprotect_rtp(&p).unwrap();
    assert!(ours.unprotect_rtp(&p).is_err(), "replay rejected");
    let mut forged = lib_tx.protect(&rtp(2001, 0x3333_4444, 100)).unwrap();
    forged[20] ^= 1;
    assert!(ours.unprotect_rtp(&forged).is_err(), "forgery rejected");
    let mut forged = ours.protect_rtp(&rtp(2002, 0x1111_2222, 100)).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 0x80;
    assert!(lib_rx.unprotect(&forged).is_err());
    // Truncated input is a typed error, not a panic.
    for n in 0..14 {
        assert!(ours.unprotect_rtp(&p[..n]).is_err());
        assert!(ours.unprotect_rtcp(&p[..n]).is_err());
    }
    (ok_out, ok_in)
}

#[test]
fn libsrtp2_interop_sha1_80() {
    assert_eq!(both_directions(Suite::AesCm128HmacSha1_80), (306, 306));
}

#[test]
fn libsrtp2_interop_sha1_32() {
    assert_eq!(both_directions(Suite::AesCm128HmacSha1_32), (306, 306));
}

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// RFC 3711 Appendix B.2: AES-CM keystream for session key 2B7E...3C, salt F0..FD.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let k = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    let iv = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
    let mut ks = vec![0u8; 48];
    Aes128Ctr::new(k.as_slice().into(), iv.as_slice().into()).apply_keystream(&mut ks);
    assert_eq!(
        ks,
        hex(concat!(
            "E03EAD0935C95E80E166B16DD92B4EB4",
            "D23513162B02D0F72A43A2FE4A5F97AB",
            "41E95B3BB0A2E8DD477901E4FCA894C0"
        ))
    );
}

/// RFC 3711 Appendix B.3 key derivation, checked end to end: a packet protected with the
/// B.3 master key must equal AES-CM with the B.3 session key and salt (IV per 4.1.1) and an
/// HMAC-SHA1 tag with the B.3 session authentication key (4.2.1) — computed independently
/// with RustCrypto here. libsrtp2 agrees.
#[test]
fn rfc3711_b3_key_derivation_end_to_end() {
    let mut mk = [0u8; 30];
    mk[..16].copy_from_slice(&hex("E1F97A0D3E018BE0D64FA32C06DE4139"));
    mk[16..].copy_from_slice(&hex("0EC675AD498AFEEBB6960B3AABE6"));
    let master = MasterKey::from_bytes(&mk);
    let session_key = hex("C61E7A93744F39EE10734AFE3FF7A087");
    let session_salt = hex("30CBBC08863D8C85D49DB34A9AE1");
    let auth_key = hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4");

    let ssrc = 0xcafe_babe_u32;
    let seq = 0x1234u16;
    let plain = rtp(seq, ssrc, 64);
    let mut ours = SrtpSession::new(Suite::AesCm128HmacSha1_80, &master, &master).unwrap();
    let protected = ours.protect_rtp(&plain).unwrap();

    // Oracle: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), index = ROC||SEQ.
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&session_salt);
    for (i, b) in ssrc.to_be_bytes().iter().enumerate() {
        iv[4 + i] ^= b;
    }
    let index = u64::from(seq);
    for (i, b) in index.to_be_bytes()[2..].iter().enumerate() {
        iv[8 + i] ^= b;
    }
    let mut expected = plain.clone();
    Aes128Ctr::new(session_key.as_slice().into(), (&iv).into())
        .apply_keystream(&mut expected[12..]);
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&auth_key).unwrap();
    mac.update(&expected);
    mac.update(&0u32.to_be_bytes()); // ROC
    let tag = mac.finalize().into_bytes();
    expected.extend_from_slice(&tag[..10]);
    assert_eq!(protected, expected);

    let mut lib = LibSrtp::new(true, &mk, true).unwrap();
    assert_eq!(lib.protect(&plain).unwrap(), expected);
}
