//! LLDP and CDP: parse -> emit -> re-parse, and the VLAN discovery core survives any frame.
#![no_main]

use std::time::{Duration, Instant};

use ac_prov::cdp::CdpView;
use ac_prov::lldp::LldpduView;
use ac_prov::vlan::{Identity, Mode, VlanDiscovery, VlanSettings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = LldpduView::parse(data) {
        let o = v.to_owned();
        let wire = o.emit();
        assert_eq!(LldpduView::parse(&wire).expect("re-parses").to_owned(), o);
        let _ = v.network_policies().count();
    }
    if let Ok(v) = CdpView::parse(data) {
        let o = v.to_owned();
        let wire = o.emit();
        let r = CdpView::parse(&wire).expect("re-parses");
        assert!(r.checksum_ok());
        assert_eq!(r.to_owned(), o);
        let _ = v.voice_vlan();
    }
    let now = Instant::now();
    let mut d = VlanDiscovery::new(
        VlanSettings { mode: Mode::CdpLldp, period: Duration::from_secs(30), id: 0, priority: 0 },
        Identity { mac: [0, 0x90, 0x8f, 1, 2, 3], port: "eth0".into(), model: "420HD".into(), version: "1".into() },
        now,
    );
    // As a whole frame, and as LLDP / CDP payloads behind a valid Ethernet header.
    d.handle_frame(now, data);
    let mut f = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e, 2, 0, 0, 0, 0, 1, 0x88, 0xcc];
    f.extend_from_slice(data);
    d.handle_frame(now, &f);
    let mut c = vec![1, 0, 0x0c, 0xcc, 0xcc, 0xcc, 2, 0, 0, 0, 0, 1];
    let llc_len = (data.len() + 8).min(1500) as u16;
    c.extend_from_slice(&llc_len.to_be_bytes());
    c.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0]);
    c.extend_from_slice(data);
    d.handle_frame(now, &c);
    while d.poll_event().is_some() {}
});
