//! Paging over real multicast between two network namespaces joined by a veth pair (each
//! with a 224.0.0.0/4 route on its veth): pagers run in threads that entered the first
//! namespace (setns), two receivers in threads in the second, all through the `driver`
//! module's sockets (IGMP join, multicast interface and TTL). Receiver A is in a call with
//! barge-in enabled, receiver B in a call with barge-in disabled. Group 2 (600 Hz) pages
//! first, group 0 (1 kHz, higher priority) starts 0.6 s later, group 3 (1.5 kHz, lower)
//! 0.3 s after that. Checked: the decisions (A: call held, page 2 played, preempted by 0,
//! 3 ignored, end of page, call resumed; B: offered 2, then 0, no audio) and the received
//! audio's tone per group (Goertzel). Needs root and iproute2; never skipped.

use std::f64::consts::PI;
use std::fs::File;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ac_media::driver::{page_socket, send_page, PagingListener};
use ac_media::paging::{IgnoreReason, PageEvent, PageSender, PagingConfig, PagingReceiver};
use nix::sched::{setns, CloneFlags};

fn ip(args: &[&str]) {
    let o = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2) must be installed");
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Netns {
    a: String,
    b: String,
}

impl Netns {
    fn new() -> Netns {
        let tag = std::process::id() % 100_000;
        let n = Netns {
            a: format!("acpg{tag}a"),
            b: format!("acpg{tag}b"),
        };
        let (va, vb) = (format!("pga{tag}"), format!("pgb{tag}"));
        ip(&["netns", "add", &n.a]);
        ip(&["netns", "add", &n.b]);
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb]);
        ip(&["link", "set", &va, "netns", &n.a]);
        ip(&["link", "set", &vb, "netns", &n.b]);
        for (ns, dev, addr) in [(&n.a, &va, "10.79.0.1/24"), (&n.b, &vb, "10.79.0.2/24")] {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", dev]);
        }
        n
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).status();
    }
}

fn enter(ns: &str) {
    let f = File::open(format!("/var/run/netns/{ns}")).expect("netns file");
    setns(f, CloneFlags::CLONE_NEWNET).expect("setns");
}

fn config(barge_in: bool) -> PagingConfig {
    let text = format!(
        "voip/services/group_paging/enabled=1\n\
         voip/services/group_paging/allow_barge_in/enabled={}\n\
         voip/services/group_paging/group/0/activated=1\n\
         voip/services/group_paging/group/0/multicast_addr=239.79.0.10\n\
         voip/services/group_paging/group/0/name=Emergency\n\
         voip/services/group_paging/group/2/activated=1\n\
         voip/services/group_paging/group/2/multicast_addr=239.79.0.12\n\
         voip/services/group_paging/group/2/name=Sales\n\
         voip/services/group_paging/group/3/activated=1\n\
         voip/services/group_paging/group/3/multicast_addr=239.79.0.13\n\
         voip/services/group_paging/group/3/name=Lobby\n",
        u8::from(barge_in)
    );
    let doc = ac_cfg::Document::parse(&text).unwrap();
    PagingConfig::from_config(&ac_cfg::Config::from_document(&doc, ac_cfg::Model::Hd440).unwrap())
        .unwrap()
}

fn tone_frames(f: f64, frames: usize) -> Vec<Vec<i16>> {
    (0..frames)
        .map(|k| {
            (0..320)
                .map(|i| (8000.0 * (2.0 * PI * f * (k * 320 + i) as f64 / 16000.0).sin()) as i16)
                .collect()
        })
        .collect()
}

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

type Outcome = (Vec<PageEvent>, Vec<(u32, Vec<i16>)>);

#[test]
fn paging_between_namespaces_with_barge_in_rules() {
    let net = Netns::new();
    let ready = Arc::new(Barrier::new(3));
    let receiver = |barge_in: bool| {
        let (ns, ready) = (net.b.clone(), ready.clone());
        std::thread::spawn(move || -> Outcome {
            enter(&ns);
            let cfg = config(barge_in);
            let listener =
                PagingListener::open(&cfg, Ipv4Addr::new(10, 79, 0, 2)).expect("join groups");
            let mut core = PagingReceiver::new(cfg);
            core.set_in_call(true);
            ready.wait();
            let (mut ev, mut audio) = (Vec::new(), Vec::new());
            listener.run(
                &mut core,
                Instant::now() + Duration::from_millis(3200),
                |c| {
                    ev.extend(std::iter::from_fn(|| c.poll_event()));
                    audio.extend(std::iter::from_fn(|| c.poll_audio()).map(|a| (a.group, a.pcm)));
                },
            );
            (ev, audio)
        })
    };
    let ra = receiver(true);
    let rb = receiver(false);
    let ns_a = net.a.clone();
    let pager = std::thread::spawn(move || {
        enter(&ns_a);
        ready.wait();
        std::thread::sleep(Duration::from_millis(100));
        let cfg = config(false);
        let page = |group: u32, ssrc: u32, f: f64, frames: usize, delay_ms: u64| {
            let g = cfg.group(group).unwrap().clone();
            let codec = cfg.codec;
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(delay_ms));
                let sock = page_socket(Ipv4Addr::new(10, 79, 0, 1), 1, false).unwrap();
                let mut s = PageSender::new(&g, codec, ssrc, 1, 0);
                send_page(&sock, &mut s, tone_frames(f, frames)).unwrap()
            })
        };
        let p2 = page(2, 0x2222, 600.0, 60, 0);
        let p0 = page(0, 0x0000_1000, 1000.0, 50, 600);
        let p3 = page(3, 0x3333, 1500.0, 30, 900);
        [p2.join().unwrap(), p0.join().unwrap(), p3.join().unwrap()]
    });
    let sent = pager.join().unwrap();
    assert_eq!(sent, [60, 50, 30]);
    let (ev_a, audio_a) = ra.join().unwrap();
    let (ev_b, audio_b) = rb.join().unwrap();
    println!("A: {ev_a:?}\nB: {ev_b:?}");

    assert_eq!(
        ev_a,
        [
            PageEvent::HoldCall,
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
            PageEvent::Ended { group: 0 },
            PageEvent::ResumeCall,
        ]
    );
    assert_eq!(
        ev_b,
        [
            PageEvent::Offered {
                group: 2,
                name: "Sales".into()
            },
            PageEvent::Preempted { old: 2, new: 0 },
            PageEvent::Offered {
                group: 0,
                name: "Emergency".into()
            },
            PageEvent::Ignored {
                group: Some(3),
                reason: IgnoreReason::LowerPriority
            },
            PageEvent::Ended { group: 0 },
        ]
    );
    assert!(audio_b.is_empty(), "nothing played before the user accepts");
    for (group, f, min_frames) in [(2u32, 600.0, 25), (0, 1000.0, 45)] {
        let frames: Vec<&Vec<i16>> = audio_a
            .iter()
            .filter(|(g, _)| *g == group)
            .map(|(_, p)| p)
            .collect();
        assert!(
            frames.len() >= min_frames,
            "group {group}: {} frames",
            frames.len()
        );
        let pcm: Vec<i16> = frames
            .iter()
            .skip(3)
            .flat_map(|p| p.iter().copied())
            .collect();
        let share = tone_share(&pcm, 16000, f);
        println!(
            "group {group}: {} frames, {f} Hz share {share:.4}",
            frames.len()
        );
        assert!(share > 0.9, "group {group}: share {share}");
    }
    assert!(audio_a.iter().all(|(g, _)| *g != 3));
}
