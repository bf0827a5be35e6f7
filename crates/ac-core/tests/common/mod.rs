//! A virtual network of sans-IO phones in one thread on a virtual clock.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ac_cfg::{Config, Model};
use ac_core::board::{BoardOutput, DisplayKind, FRAME_SAMPLES};
use ac_core::phone::{Io, Transmit};
use ac_core::{Phone, SignIn};
use ac_sip::transaction::Transport;

pub struct Node {
    pub phone: Phone,
    pub addr: SocketAddr,
    pub outputs: Vec<BoardOutput>,
    /// Frequency of the tone this phone's microphone hears (0: silence).
    pub tone_hz: f32,
    /// Everything its speaker played.
    pub heard: Vec<i16>,
    n: u64,
}

pub struct Net {
    pub nodes: Vec<Node>,
    pub now: Instant,
    /// Seeded loss on media packets, per mille.
    pub loss_permille: u32,
    rng: u64,
    pub dropped: u64,
}

pub fn config(rtp_base: u16, extra: &[(&str, &str)]) -> Config {
    let mut c = Config::defaults(Model::Hd440);
    let _ = rtp_base;
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    c
}

impl Net {
    pub fn new() -> Net {
        Net {
            nodes: Vec::new(),
            now: Instant::now(),
            loss_permille: 0,
            rng: 0x1234_5678,
            dropped: 0,
        }
    }

    /// Adds a phone `user` at 10.0.0.<n>:5060 and boots it (static address, no registrar).
    pub fn add(&mut self, user: &str, cfg: Config, tone_hz: f32) -> usize {
        let i = self.nodes.len();
        let addr: SocketAddr = format!("10.0.0.{}:5060", i + 1).parse().unwrap();
        let mut phone = Phone::new(
            cfg,
            [0, 0x90, 0x8f, 0, 0, i as u8 + 1],
            SignIn::new(user, &addr.ip().to_string(), ""),
            1000 + i as u64,
        );
        phone.set_rtp_base_port(40000 + 1000 * i as u16);
        phone.handle_network_up(self.now, addr, None);
        self.nodes.push(Node {
            phone,
            addr,
            outputs: Vec::new(),
            tone_hz,
            heard: Vec::new(),
            n: 0,
        });
        self.settle();
        i
    }

    pub fn uri(&self, i: usize) -> String {
        format!("sip:u{}@{}", i, self.nodes[i].addr)
    }

    fn lose(&mut self) -> bool {
        if self.loss_permille == 0 {
            return false;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 1000) < u64::from(self.loss_permille)
    }

    /// Delivers everything queued (repeatedly, until quiet).
    pub fn settle(&mut self) {
        for _ in 0..50 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(o) = self.nodes[i].phone.poll_output() {
                    self.nodes[i].outputs.push(o);
                }
                while let Some(io) = self.nodes[i].phone.poll_io() {
                    if let Io::SyncTime { .. } = io {
                        self.nodes[i].phone.handle_time(self.now, true);
                    }
                }
                while let Some(t) = self.nodes[i].phone.poll_transmit() {
                    moved = true;
                    let src = self.nodes[i].addr;
                    match t {
                        Transmit::Sip(t) => {
                            if let Some(j) = self.nodes.iter().position(|n| n.addr == t.dest) {
                                let now = self.now;
                                self.nodes[j]
                                    .phone
                                    .handle_sip(now, Transport::Udp, src, &t.data);
                            }
                        }
                        Transmit::Ntp { .. } => {}
                        Transmit::Media { dest, data, .. } => {
                            if self.lose() {
                                self.dropped += 1;
                                continue;
                            }
                            if let Some(j) =
                                self.nodes.iter().position(|n| n.addr.ip() == dest.ip())
                            {
                                let now = self.now;
                                self.nodes[j].phone.handle_media(now, dest.port(), &data);
                            }
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Runs the clock for `d` in 10 ms steps with audio.
    pub fn run(&mut self, d: Duration) {
        let steps = d.as_millis() / 10;
        for _ in 0..steps {
            self.now += Duration::from_millis(10);
            let now = self.now;
            for node in &mut self.nodes {
                let mut cap = [0i16; FRAME_SAMPLES];
                for s in cap.iter_mut() {
                    let t = node.n as f32 / 16000.0;
                    *s = (6000.0 * (2.0 * std::f32::consts::PI * node.tone_hz * t).sin()) as i16;
                    node.n += 1;
                }
                let mut play = [0i16; FRAME_SAMPLES];
                node.phone.handle_audio(now, &cap, &mut play);
                node.heard.extend_from_slice(&play);
                if node.phone.poll_timeout().is_some_and(|t| t <= now) {
                    node.phone.handle_timeout(now);
                }
            }
            self.settle();
        }
    }

    pub fn displays(&self, i: usize, kind: DisplayKind) -> Vec<String> {
        self.nodes[i]
            .outputs
            .iter()
            .filter_map(|o| match o {
                BoardOutput::Display(d) if d.kind == kind => Some(d.text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn saw(&self, i: usize, o: &BoardOutput) -> bool {
        self.nodes[i].outputs.contains(o)
    }
}

/// Goertzel power of `f` relative to the total power of `x` (0..1).
pub fn tone_ratio(x: &[i16], rate: f32, f: f32) -> f64 {
    let n = x.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * f as f64 / rate as f64;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0;
    for &v in x {
        let v = v as f64;
        energy += v * v;
        let s0 = v + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - c * s1 * s2;
    if energy == 0.0 {
        0.0
    } else {
        2.0 * p / (n * energy)
    }
}
