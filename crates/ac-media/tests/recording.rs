//! Debug recording (manual 7.3): with `voip/packet_recording/enabled` and
//! `rtp_recording/enabled` on, every RTP packet handed to the recorder (both directions)
//! arrives at a UDP listener on loopback byte for byte and in order; with either switch off
//! or the default 0.0.0.0 address nothing is produced; a host name is resolved by the driver.

use std::net::UdpSocket;
use std::time::Duration;

use ac_media::driver::Recorder;
use ac_media::recording::{PacketRecorder, RecordTarget};
use ac_media::rtp::RtpPacket;

fn config(text: &str) -> ac_cfg::Config {
    let doc = ac_cfg::Document::parse(text).unwrap();
    ac_cfg::Config::from_document(&doc, ac_cfg::Model::Hd440).unwrap()
}

fn packets() -> Vec<Vec<u8>> {
    (0..40u16)
        .map(|i| {
            let payload: Vec<u8> = (0..160).map(|k| (k as u16 * 7 + i) as u8).collect();
            RtpPacket {
                marker: i == 0,
                payload_type: if i % 2 == 0 { 9 } else { 8 },
                sequence: 1000 + i / 2,
                timestamp: 160 * u32::from(i / 2),
                // Even: sent by us, odd: received from the far end.
                ssrc: if i % 2 == 0 { 0x1111 } else { 0x2222 },
                csrcs: vec![],
                extension: None,
                payload: &payload,
                padding: 0,
            }
            .to_vec()
            .unwrap()
        })
        .collect()
}

fn run(rec: &mut PacketRecorder, listener: &UdpSocket) -> Vec<Vec<u8>> {
    if let Some(t) = rec.target().cloned() {
        let out = Recorder::open(&t).unwrap();
        for p in packets() {
            let copy = rec.record(&p).unwrap();
            out.send(&copy).unwrap();
        }
    } else {
        for p in packets() {
            assert!(rec.record(&p).is_none());
        }
    }
    listener
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = listener.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

#[test]
fn rtp_copies_reach_the_recording_pc() {
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for host in ["127.0.0.1", "localhost"] {
        let mut rec = PacketRecorder::from_config(&config(&format!(
            "voip/packet_recording/enabled=1\n\
             voip/packet_recording/rtp_recording/enabled=1\n\
             voip/packet_recording/remote_ip={host}\n\
             voip/packet_recording/remote_port={port}\n"
        )))
        .unwrap();
        if host == "localhost" {
            assert_eq!(
                rec.target(),
                Some(&RecordTarget::Host("localhost".into(), port))
            );
        }
        let got = run(&mut rec, &listener);
        assert_eq!(got, packets(), "{host}: copies identical and in order");
        assert_eq!(rec.copies(), 40);
        let ssrcs: Vec<u32> = got
            .iter()
            .map(|p| RtpPacket::parse(p).unwrap().ssrc)
            .collect();
        assert_eq!(ssrcs.iter().filter(|s| **s == 0x1111).count(), 20);
        assert_eq!(ssrcs.iter().filter(|s| **s == 0x2222).count(), 20);
    }
}

#[test]
fn nothing_is_recorded_when_off() {
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for (en, rtp, host) in [(0, 1, "127.0.0.1"), (1, 0, "127.0.0.1"), (1, 1, "0.0.0.0")] {
        let mut rec = PacketRecorder::from_config(&config(&format!(
            "voip/packet_recording/enabled={en}\n\
             voip/packet_recording/rtp_recording/enabled={rtp}\n\
             voip/packet_recording/remote_ip={host}\n\
             voip/packet_recording/remote_port={port}\n"
        )))
        .unwrap();
        assert_eq!(rec.target(), None);
        assert!(run(&mut rec, &listener).is_empty());
        assert_eq!(rec.copies(), 0);
    }
    // Factory settings: off.
    let rec = PacketRecorder::from_config(&ac_cfg::Config::defaults(ac_cfg::Model::Hd440)).unwrap();
    assert_eq!(rec.target(), None);
}
