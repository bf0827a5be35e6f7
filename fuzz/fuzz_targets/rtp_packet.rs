//! RTP packets: checked view agrees with the parsed packet; parse -> emit -> re-parse.
#![no_main]

use ac_media::rtp::{RtpPacket, RtpView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let view = RtpView::new_checked(data);
    let parsed = RtpPacket::parse(data);
    assert_eq!(view.is_ok(), parsed.is_ok());
    if let (Ok(v), Ok(p)) = (view, parsed) {
        assert_eq!(v.payload(), p.payload);
        assert_eq!(v.header_len() + p.payload.len() + v.padding_len(), data.len());
        let wire = p.to_vec().expect("a parsed packet emits");
        assert_eq!(wire.len(), data.len());
        assert_eq!(RtpPacket::parse(&wire).expect("re-parses"), p);
    }
});
