//! The offer/answer engine: an arbitrary offer never panics; an accepted offer gets an answer
//! with one m-line per offered m-line that re-parses and that the offerer side can apply; an
//! arbitrary answer to our offer never panics.
#![no_main]

use ac_sip::offer_answer::{Codec, CodecList, LocalMedia, MediaSession, SrtpPolicy};
use ac_sip::sdp::Session;
use libfuzzer_sys::fuzz_target;

fn local(srtp: SrtpPolicy) -> LocalMedia {
    LocalMedia {
        addr: "192.0.2.10".parse().unwrap(),
        rtp_port: 50020,
        rtcp_port: None,
        codecs: CodecList::of(&[Codec::G722, Codec::Pcma, Codec::Pcmu, Codec::Silk16000]),
        telephone_event: Some(101),
        srtp,
        srtp_key: vec![7; 30],
        session_id: 42,
        username: "-".into(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let policy = match sel % 3 {
        0 => SrtpPolicy::Disabled,
        1 => SrtpPolicy::Optional,
        _ => SrtpPolicy::Mandatory,
    };
    let Ok(offer) = Session::parse_bytes(rest) else {
        return;
    };
    let mut us = MediaSession::new(local(policy));
    if let Ok((answer, neg)) = us.answer(&offer) {
        assert_eq!(answer.media.len(), offer.media.len());
        let again = Session::parse(&answer.emit()).expect("answer re-parses");
        assert_eq!(again, answer);
        assert!(neg.ptime >= 10);
        // A re-offer keeps every m-line (RFC 3264 8).
        assert_eq!(us.create_offer().media.len(), offer.media.len());
    }
    // The same bytes as an answer to our offer.
    let mut them = MediaSession::new(local(policy));
    let _ = them.create_offer();
    let _ = them.apply_answer(&offer);
});
