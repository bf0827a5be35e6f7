//! EAPOL / EAP / EAP-MD5 / EAP-TLS payloads: parse -> emit -> re-parse, and the supplicant
//! survives any EAPOL frame.
#![no_main]

use std::time::Instant;

use ac_prov::eapol::{self, EapView, EapolView, Md5Value, Method, Supplicant, Timers, TlsPayload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = EapolView::parse(data) {
        let w = eapol::eapol(v.ptype, v.body);
        let r = EapolView::parse(&w).expect("re-parses");
        assert_eq!((r.ptype, r.body), (v.ptype, v.body));
    }
    if let Ok(v) = EapView::parse(data) {
        let o = v.to_owned();
        assert_eq!(EapView::parse(&o.emit()).expect("re-parses").to_owned(), o);
    }
    if let Ok(p) = TlsPayload::parse(data) {
        assert_eq!(TlsPayload::parse(&p.emit()).expect("re-parses"), p);
    }
    if let Ok(m) = Md5Value::parse(data) {
        assert_eq!(Md5Value::parse(&m.emit()).expect("re-parses"), m);
    }
    let now = Instant::now();
    let mut s = Supplicant::new(
        [0, 0x90, 0x8f, 1, 2, 3],
        Method::Md5 { identity: "phone".into(), password: b"pw".to_vec() },
        Timers::default(),
        now,
    );
    s.handle_timeout(now);
    // Each chunk (split on 0xEE) as the EAPOL PDU of a frame from the authenticator.
    for chunk in data.split(|&b| b == 0xee) {
        let f = ac_prov::l2::ethernet(eapol::PAE_GROUP, [2, 0, 0, 0, 0, 9], eapol::ETHERTYPE, chunk);
        s.handle_frame(now, &f);
        while s.poll_transmit().is_some() {}
        while s.poll_event().is_some() {}
    }
});
