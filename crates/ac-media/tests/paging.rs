//! Paging core on a virtual clock: configuration from the schema and a file, the decisions
//! of manual 3.3.15-3.3.16 (idle phone plays, barge-in holds the call, otherwise the user is
//! asked), our page-against-page priority rule (key index 0 highest), the end-of-page
//! timeout to the millisecond, and the decoded audio's tone frequency for each codec.

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use ac_media::paging::{
    IgnoreReason, PageEvent, PageSender, PagingCodec, PagingConfig, PagingError, PagingReceiver,
};

fn config(text: &str) -> ac_cfg::Config {
    let doc = ac_cfg::Document::parse(text).unwrap();
    ac_cfg::Config::from_document(&doc, ac_cfg::Model::Hd440).unwrap()
}

const GROUPS: &str = "voip/services/group_paging/enabled=1\n\
voip/services/group_paging/group/0/activated=1\n\
voip/services/group_paging/group/0/multicast_addr=239.1.1.10\n\
voip/services/group_paging/group/0/name=Emergency\n\
voip/services/group_paging/group/2/activated=1\n\
voip/services/group_paging/group/2/multicast_addr=239.1.1.12\n\
voip/services/group_paging/group/2/name=Sales\n\
voip/services/group_paging/group/3/activated=1\n\
voip/services/group_paging/group/3/multicast_addr=239.1.1.13\n\
voip/services/group_paging/group/3/port=8893\n\
voip/services/group_paging/group/3/name=Lobby\n";

fn cfg(extra: &str) -> PagingConfig {
    PagingConfig::from_config(&config(&format!("{GROUPS}{extra}"))).unwrap()
}

fn tone(f: f64, rate: u32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| (8000.0 * (2.0 * PI * f * i as f64 / f64::from(rate)).sin()) as i16)
        .collect()
}

/// Goertzel power at `f` relative to the frame's energy (1.0 = a pure tone at f).
fn tone_share(x: &[i16], rate: u32, f: f64) -> f64 {
    let w = 2.0 * PI * f / f64::from(rate);
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for v in x {
        let s = f64::from(*v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let e: f64 = x.iter().map(|v| f64::from(*v).powi(2)).sum();
    2.0 * p / (x.len() as f64 * e.max(1.0))
}

struct Pager {
    s: PageSender,
    codec: PagingCodec,
    f: f64,
    n: usize,
}

impl Pager {
    fn new(c: &PagingConfig, group: u32, ssrc: u32, f: f64) -> Pager {
        Pager {
            s: PageSender::new(c.group(group).unwrap(), c.codec, ssrc, 100, 1000),
            codec: c.codec,
            f,
            n: 0,
        }
    }
    fn next(&mut self) -> Vec<u8> {
        let k = self.codec.frame_samples();
        let pcm = tone(self.f, self.codec.sample_rate(), self.n * k, k);
        self.n += 1;
        self.s.frame(&pcm).unwrap().data
    }
}

fn events(r: &mut PagingReceiver) -> Vec<PageEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

#[test]
fn defaults_come_from_the_schema() {
    let c = PagingConfig::from_config(&ac_cfg::Config::defaults(ac_cfg::Model::Hd440)).unwrap();
    assert!(!c.enabled);
    assert_eq!(c.codec, PagingCodec::G722);
    assert_eq!(c.end_timeout, Duration::from_millis(800));
    assert!(!c.barge_in);
    assert!(c.groups.is_empty());
    let c = cfg("");
    let idx: Vec<u32> = c.groups.iter().map(|g| g.index).collect();
    assert_eq!(idx, [0, 2, 3]);
    assert_eq!(c.group(2).unwrap().addr.to_string(), "239.1.1.12:8888");
    assert_eq!(c.group(3).unwrap().addr.to_string(), "239.1.1.13:8893");
    assert_eq!(c.group(0).unwrap().name, "Emergency");
    let e = PagingConfig::from_config(&config("voip/services/group_paging/codec=G729\n"));
    assert_eq!(e.map(|c| c.codec), Ok(PagingCodec::G729));
    let e = PagingConfig::from_config(&config(
        "voip/services/group_paging/group/1/activated=1\n\
         voip/services/group_paging/group/1/multicast_addr=10.0.0.1\n",
    ));
    assert!(matches!(e, Err(PagingError::NotMulticast(_))), "{e:?}");
}

#[test]
fn idle_phone_plays_each_codec_and_ends_after_the_timeout() {
    for (codec, name) in [
        (PagingCodec::G722, "G722_8000"),
        (PagingCodec::Pcmu, "PCMU"),
        (PagingCodec::Pcma, "PCMA"),
        (PagingCodec::G729, "G729"),
        (PagingCodec::Silk8000, "SILK_8000"),
        (PagingCodec::Silk16000, "SILK_16000"),
    ] {
        let c = cfg(&format!("voip/services/group_paging/codec={name}\n"));
        assert_eq!(c.codec, codec);
        let mut r = PagingReceiver::new(c.clone());
        let mut p = Pager::new(&c, 2, 7, 1000.0);
        let t0 = Instant::now();
        let mut last = t0;
        for i in 0..50u64 {
            last = t0 + Duration::from_millis(20 * i);
            r.handle_datagram(last, 2, &p.next());
            r.handle_timeout(last);
        }
        assert_eq!(
            events(&mut r),
            [PageEvent::Started {
                group: 2,
                name: "Sales".into()
            }]
        );
        let frames: Vec<_> = std::iter::from_fn(|| r.poll_audio()).collect();
        assert_eq!(frames.len(), 50);
        let pcm: Vec<i16> = frames[5..].iter().flat_map(|f| f.pcm.clone()).collect();
        assert_eq!(frames[0].rate, codec.sample_rate());
        let share = tone_share(&pcm, codec.sample_rate(), 1000.0);
        assert!(share > 0.9, "{codec:?}: 1 kHz share {share}");
        assert!(tone_share(&pcm, codec.sample_rate(), 1500.0) < 0.01);
        // End of page exactly 800 ms after the last RTP, not before.
        assert_eq!(r.poll_timeout(), Some(last + Duration::from_millis(800)));
        r.handle_timeout(last + Duration::from_millis(799));
        assert!(events(&mut r).is_empty());
        r.handle_timeout(last + Duration::from_millis(800));
        assert_eq!(events(&mut r), [PageEvent::Ended { group: 2 }]);
        assert_eq!(r.active_group(), None);
    }
}

#[test]
fn call_with_barge_in_is_held_and_resumed() {
    let c = cfg("voip/services/group_paging/allow_barge_in/enabled=1\n");
    let mut r = PagingReceiver::new(c.clone());
    r.set_in_call(true);
    let mut p = Pager::new(&c, 3, 9, 800.0);
    let t0 = Instant::now();
    for i in 0..10u64 {
        r.handle_datagram(t0 + Duration::from_millis(20 * i), 3, &p.next());
    }
    assert!(r.playing());
    r.handle_timeout(t0 + Duration::from_millis(180 + 800));
    assert_eq!(
        events(&mut r),
        [
            PageEvent::HoldCall,
            PageEvent::Started {
                group: 3,
                name: "Lobby".into()
            },
            PageEvent::Ended { group: 3 },
            PageEvent::ResumeCall
        ]
    );
    assert_eq!(std::iter::from_fn(|| r.poll_audio()).count(), 10);
}

#[test]
fn call_without_barge_in_asks_the_user() {
    let c = cfg("");
    let t0 = Instant::now();
    let ms = |m: u64| t0 + Duration::from_millis(m);
    // Accepted after 5 frames: the call is held, audio from then on.
    let mut r = PagingReceiver::new(c.clone());
    r.set_in_call(true);
    let mut p = Pager::new(&c, 2, 11, 1000.0);
    for i in 0..5 {
        r.handle_datagram(ms(20 * i), 2, &p.next());
    }
    assert_eq!(
        events(&mut r),
        [PageEvent::Offered {
            group: 2,
            name: "Sales".into()
        }]
    );
    assert!(r.poll_audio().is_none(), "no audio before the user accepts");
    r.accept();
    for i in 5..10 {
        r.handle_datagram(ms(20 * i), 2, &p.next());
    }
    assert_eq!(std::iter::from_fn(|| r.poll_audio()).count(), 5);
    r.handle_timeout(ms(180 + 800));
    assert_eq!(
        events(&mut r),
        [
            PageEvent::HoldCall,
            PageEvent::Started {
                group: 2,
                name: "Sales".into()
            },
            PageEvent::Ended { group: 2 },
            PageEvent::ResumeCall
        ]
    );
    // Rejected: nothing played while the stream goes on; it is forgotten after the
    // timeout, so a later page is offered again.
    let mut r = PagingReceiver::new(c.clone());
    r.set_in_call(true);
    let mut p = Pager::new(&c, 2, 12, 1000.0);
    r.handle_datagram(ms(0), 2, &p.next());
    r.reject(ms(0));
    for i in 1..20 {
        r.handle_datagram(ms(20 * i), 2, &p.next());
        r.handle_timeout(ms(20 * i));
    }
    assert!(r.poll_audio().is_none());
    assert_eq!(r.active_group(), None);
    let ev = events(&mut r);
    assert_eq!(
        ev[1],
        PageEvent::Ignored {
            group: Some(2),
            reason: IgnoreReason::Rejected
        }
    );
    assert_eq!(ev.len(), 2, "{ev:?}");
    r.handle_timeout(ms(380 + 800));
    assert_eq!(r.poll_timeout(), None);
    r.handle_datagram(ms(2000), 2, &p.next());
    assert!(matches!(
        events(&mut r)[..],
        [PageEvent::Offered { group: 2, .. }]
    ));
}

#[test]
fn higher_priority_page_preempts_lower_does_not() {
    let c = cfg("");
    let mut r = PagingReceiver::new(c.clone());
    let t0 = Instant::now();
    let ms = |m: u64| t0 + Duration::from_millis(m);
    let mut sales = Pager::new(&c, 2, 21, 600.0);
    let mut emergency = Pager::new(&c, 0, 20, 1000.0);
    let mut lobby = Pager::new(&c, 3, 23, 1500.0);
    for i in 0..10 {
        r.handle_datagram(ms(20 * i), 2, &sales.next());
    }
    for i in 10..30 {
        r.handle_datagram(ms(20 * i), 2, &sales.next());
        r.handle_datagram(ms(20 * i + 1), 0, &emergency.next());
        r.handle_datagram(ms(20 * i + 2), 3, &lobby.next());
        r.handle_timeout(ms(20 * i + 2));
    }
    assert_eq!(r.active_group(), Some(0));
    let ev = events(&mut r);
    assert_eq!(
        ev,
        [
            PageEvent::Started {
                group: 2,
                name: "Sales".into()
            },
            PageEvent::Preempted { old: 2, new: 0 },
            PageEvent::Started {
                group: 0,
                name: "Emergency".into()
            },
            PageEvent::Ignored {
                group: Some(3),
                reason: IgnoreReason::LowerPriority
            },
        ]
    );
    let frames: Vec<_> = std::iter::from_fn(|| r.poll_audio()).collect();
    // Ten frames alone, and the one at 200 ms that came just before the first emergency frame.
    assert_eq!(frames.iter().filter(|f| f.group == 2).count(), 11);
    assert_eq!(frames.iter().filter(|f| f.group == 0).count(), 20);
    assert!(frames.iter().all(|f| f.group != 3));
    let em: Vec<i16> = frames
        .iter()
        .filter(|f| f.group == 0)
        .skip(3)
        .flat_map(|f| f.pcm.clone())
        .collect();
    assert!(tone_share(&em, 16000, 1000.0) > 0.9);
    // The preempted stream keeps coming: it stays dropped (no restart when 0 ends).
    r.handle_datagram(ms(620), 2, &sales.next());
    assert!(events(&mut r).is_empty());
}

#[test]
fn disabled_own_and_unknown_streams_are_ignored() {
    let c = PagingConfig {
        enabled: false,
        ..cfg("")
    };
    let mut r = PagingReceiver::new(c.clone());
    let mut p = Pager::new(&c, 2, 30, 1000.0);
    let t0 = Instant::now();
    r.handle_datagram(t0, 2, &p.next());
    r.handle_datagram(t0, 2, &p.next());
    assert_eq!(
        events(&mut r),
        [PageEvent::Ignored {
            group: Some(2),
            reason: IgnoreReason::Disabled
        }]
    );
    let c = cfg("");
    let mut r = PagingReceiver::new(c.clone());
    r.ignore_own_ssrc(30);
    r.handle_datagram(t0, 2, &p.next());
    r.handle_datagram(t0, 5, &Pager::new(&c, 2, 31, 1.0).next());
    r.handle_datagram(t0, 2, b"\x80garbage");
    r.handle_datagram(t0, 2, &[]);
    assert_eq!(
        events(&mut r),
        [
            PageEvent::Ignored {
                group: Some(2),
                reason: IgnoreReason::OwnStream
            },
            PageEvent::Ignored {
                group: None,
                reason: IgnoreReason::UnknownGroup
            }
        ]
    );
    assert_eq!(r.active_group(), None);
}
