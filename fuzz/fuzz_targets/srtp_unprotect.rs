//! SRTP/SRTCP: arbitrary bytes never panic the unprotect paths; a valid RTP or RTCP packet
//! protected by one end is unprotected by the other to the same bytes.
#![no_main]

use ac_media::srtp::{MasterKey, SrtpSession, Suite};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let k1 = MasterKey::from_bytes(&[7; 30]);
    let k2 = MasterKey::from_bytes(&[9; 30]);
    let suite = if data.first().is_some_and(|b| b & 1 == 1) {
        Suite::AesCm128HmacSha1_32
    } else {
        Suite::AesCm128HmacSha1_80
    };
    let mut a = SrtpSession::new(suite, &k1, &k2).expect("keys are valid");
    let mut b = SrtpSession::new(suite, &k2, &k1).expect("keys are valid");
    let _ = b.unprotect_rtp(data);
    let _ = b.unprotect_rtcp(data);
    if ac_media::rtp::RtpView::new_checked(data).is_ok() {
        let p = a.protect_rtp(data).expect("valid RTP protects");
        assert_eq!(b.unprotect_rtp(&p).expect("round trip"), data);
    }
    if ac_media::rtcp::RtcpHeader::parse(data).is_ok() && data.len() >= 8 {
        if let Ok(p) = a.protect_rtcp(data) {
            assert_eq!(b.unprotect_rtcp(&p).expect("round trip"), data);
        }
    }
});
