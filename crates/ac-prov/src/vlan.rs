//! Voice VLAN discovery (manual 3.1.3, `network/lan/vlan/*`), sans-IO.
//!
//! Inputs: received Ethernet frames (LLDP, CDP), the VLAN of DHCP option 43 sub-option 10,
//! `now`. Outputs: frames to send (the phone's LLDP-MED and CDP announcements), events with
//! the VLAN the board must use, and the next time to be woken.
//!
//! Precedence (documented in docs/network-services.md):
//! * `MANUAL`: `network/lan/vlan/id` and `/priority`, nothing is sent or listened to;
//! * `DISABLE`: no VLAN, nothing sent;
//! * `LLDP`, `CDP`, `CDP_LLDP`: the LLDP-MED voice network policy (LLDP modes) wins over a
//!   CDP VoIP VLAN reply (CDP modes) -- "LLDP protocol is with higher priority" (table 3-4);
//!   DHCP option 43 sub-option 10 is the fallback when no switch supplies a voice VLAN
//!   (deployment notes: "only required ... if LLDP is not supported by the switches").
//!   Neighbour information ages out after its TTL / hold time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ac_cfg::Config;

use crate::cdp::{self, CdpView};
use crate::l2::{Frame, Kind, Mac};
use crate::lldp::{self, LldpduView, APP_VOICE};

/// `network/lan/vlan/mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Manual,
    Cdp,
    Lldp,
    CdpLldp,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s.to_ascii_uppercase().as_str() {
            "DISABLE" => Mode::Disable,
            "MANUAL" => Mode::Manual,
            "CDP" => Mode::Cdp,
            "LLDP" => Mode::Lldp,
            "CDP_LLDP" => Mode::CdpLldp,
            _ => return None,
        })
    }
    fn lldp(self) -> bool {
        matches!(self, Mode::Lldp | Mode::CdpLldp)
    }
    fn cdp(self) -> bool {
        matches!(self, Mode::Cdp | Mode::CdpLldp)
    }
}

/// The VLAN parameters of table 3-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanSettings {
    pub mode: Mode,
    pub period: Duration,
    pub id: u16,
    pub priority: u8,
}

/// The schema default of `key` (the single source of defaults).
pub(crate) fn schema_default(key: &str) -> &'static str {
    match ac_cfg::Schema::get().lookup(key, None) {
        ac_cfg::schema::Lookup::Found(def, idx) => def.default_for(None, idx.as_slice()),
        _ => "",
    }
}

impl VlanSettings {
    /// From a configuration (values were validated by `ac-cfg`; an unexpected one falls back
    /// to the schema default).
    pub fn from_config(c: &Config) -> VlanSettings {
        const MODE: &str = "network/lan/vlan/mode";
        let mode = c
            .get_str(MODE)
            .and_then(Mode::parse)
            .or_else(|| Mode::parse(schema_default(MODE)))
            .unwrap_or(Mode::Disable);
        let int = |k: &str| {
            c.get_int(k)
                .or_else(|| schema_default(k).parse().ok())
                .unwrap_or(0)
        };
        VlanSettings {
            mode,
            period: Duration::from_secs(int("network/lan/vlan/period").clamp(1, 3600) as u64),
            id: int("network/lan/vlan/id").clamp(0, 4095) as u16,
            priority: int("network/lan/vlan/priority").clamp(0, 7) as u8,
        }
    }
}

/// Where the VLAN came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Manual,
    Lldp,
    Cdp,
    Dhcp,
}

/// The VLAN the phone's voice traffic uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanResult {
    pub source: Source,
    /// 0 = untagged (priority tagging only, or nothing).
    pub vlan_id: u16,
    /// 802.1p priority when the source gave one (LLDP-MED, manual).
    pub priority: Option<u8>,
    /// DSCP when the source gave one (LLDP-MED).
    pub dscp: Option<u8>,
}

/// Output to the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlanEvent {
    /// The VLAN in force changed (`None`: untagged, no VLAN).
    Changed(Option<VlanResult>),
}

/// What the phone says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub mac: Mac,
    /// Interface name (port description / CDP port ID).
    pub port: String,
    /// Model, e.g. `420HD`.
    pub model: String,
    /// Firmware version.
    pub version: String,
}

/// LLDP-MED fast start: medFastStartRepeatCount LLDPDUs one second apart (TIA-1057 11.2.1).
const FAST_START: u8 = 3;

/// The discovery state machine.
#[derive(Debug)]
pub struct VlanDiscovery {
    settings: VlanSettings,
    ident: Identity,
    lldp: Option<(VlanResult, Instant)>,
    cdp: Option<(VlanResult, Instant)>,
    dhcp: Option<u16>,
    current: Option<VlanResult>,
    events: VecDeque<VlanEvent>,
    transmit: VecDeque<Vec<u8>>,
    next_tx: Option<Instant>,
    fast_left: u8,
    ignored: u64,
}

impl VlanDiscovery {
    pub fn new(settings: VlanSettings, ident: Identity, now: Instant) -> VlanDiscovery {
        let mut d = VlanDiscovery {
            settings,
            ident,
            lldp: None,
            cdp: None,
            dhcp: None,
            current: None,
            events: VecDeque::new(),
            transmit: VecDeque::new(),
            next_tx: None,
            fast_left: FAST_START,
            ignored: 0,
        };
        if settings.mode.lldp() || settings.mode.cdp() {
            d.next_tx = Some(now);
        }
        d.recompute();
        d
    }

    pub fn settings(&self) -> &VlanSettings {
        &self.settings
    }

    /// The VLAN in force.
    pub fn current(&self) -> Option<VlanResult> {
        self.current
    }

    /// Frames that were not LLDP/CDP for us, or were malformed.
    pub fn ignored_frames(&self) -> u64 {
        self.ignored
    }

    /// The voice VLAN of DHCP option 43 sub-option 10 (`None` when the lease has none).
    pub fn handle_dhcp_vlan(&mut self, vlan: Option<u16>) {
        self.dhcp = vlan.map(|v| v & 0x0fff);
        self.recompute();
    }

    /// A received Ethernet frame (any protocol; what is not LLDP/CDP is ignored).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        self.expire(now);
        let Ok(f) = Frame::parse(frame) else {
            self.ignored += 1;
            return;
        };
        if f.src == self.ident.mac {
            return;
        }
        match f.kind {
            Kind::EtherType(lldp::ETHERTYPE) if self.settings.mode.lldp() => {
                let Ok(v) = LldpduView::parse(f.payload) else {
                    self.ignored += 1;
                    return;
                };
                // 802.1AB-2016 9.2.7.7: a new LLDPDU replaces what the neighbour said; TTL 0
                // withdraws it.
                let policy = v
                    .network_policies()
                    .find(|p| p.app == APP_VOICE && !p.unknown);
                self.lldp = match (v.ttl(), policy) {
                    (0, _) | (_, None) => None,
                    (ttl, Some(p)) => Some((
                        VlanResult {
                            source: Source::Lldp,
                            vlan_id: if p.tagged { p.vlan } else { 0 },
                            priority: Some(p.priority),
                            dscp: Some(p.dscp),
                        },
                        now + Duration::from_secs(u64::from(ttl)),
                    )),
                };
            }
            Kind::Llc if self.settings.mode.cdp() && f.dst == cdp::MULTICAST => {
                let Ok(v) = CdpView::parse_llc(f.payload) else {
                    self.ignored += 1;
                    return;
                };
                if !v.checksum_ok() {
                    self.ignored += 1;
                    return;
                }
                self.cdp = match (v.ttl(), v.voice_vlan()) {
                    (0, _) | (_, None) => None,
                    (ttl, Some(vlan)) => Some((
                        VlanResult {
                            source: Source::Cdp,
                            vlan_id: vlan,
                            priority: None,
                            dscp: None,
                        },
                        now + Duration::from_secs(u64::from(ttl)),
                    )),
                };
            }
            _ => self.ignored += 1,
        }
        self.recompute();
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        if let Some(t) = self.next_tx {
            if now >= t {
                self.queue_announcements();
                let gap = if self.fast_left > 0 {
                    self.fast_left -= 1;
                    Duration::from_secs(1)
                } else {
                    self.settings.period
                };
                self.next_tx = Some(now + gap);
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<VlanEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.next_tx,
            self.lldp.map(|(_, t)| t),
            self.cdp.map(|(_, t)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn queue_announcements(&mut self) {
        let period = self.settings.period.as_secs();
        if self.settings.mode.lldp() {
            let a = lldp::Announce {
                mac: self.ident.mac,
                system_name: self.ident.model.clone(),
                description: format!("AudioCodes {} {}", self.ident.model, self.ident.version),
                port: self.ident.port.clone(),
                ttl: (period * 4).min(65535) as u16,
            };
            self.transmit.push_back(a.lldpdu().frame(self.ident.mac));
        }
        if self.settings.mode.cdp() {
            let m = self.ident.mac;
            let dev = format!(
                "SEP{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            );
            let c = cdp::announce(
                &dev,
                &self.ident.port,
                &self.ident.version,
                &format!("AudioCodes {}", self.ident.model),
                (period * 3).min(255) as u8,
            );
            self.transmit.push_back(c.frame(self.ident.mac));
        }
    }

    fn expire(&mut self, now: Instant) {
        let mut changed = false;
        if self.lldp.is_some_and(|(_, t)| now >= t) {
            self.lldp = None;
            changed = true;
        }
        if self.cdp.is_some_and(|(_, t)| now >= t) {
            self.cdp = None;
            changed = true;
        }
        if changed {
            self.recompute();
        }
    }

    fn recompute(&mut self) {
        let s = &self.settings;
        let new = match s.mode {
            Mode::Disable => None,
            Mode::Manual => Some(VlanResult {
                source: Source::Manual,
                vlan_id: s.id,
                priority: Some(s.priority),
                dscp: None,
            }),
            m => {
                let l = if m.lldp() {
                    self.lldp.map(|x| x.0)
                } else {
                    None
                };
                let c = if m.cdp() { self.cdp.map(|x| x.0) } else { None };
                l.or(c).or(self.dhcp.map(|v| VlanResult {
                    source: Source::Dhcp,
                    vlan_id: v,
                    priority: None,
                    dscp: None,
                }))
            }
        };
        if new != self.current {
            self.current = new;
            self.events.push_back(VlanEvent::Changed(new));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lldp::{Lldpdu, NetworkPolicy};

    const SW: Mac = [0x02, 0, 0, 0, 0, 1];

    fn ident() -> Identity {
        Identity {
            mac: [0, 0x90, 0x8f, 0x11, 0x22, 0x33],
            port: "eth0".into(),
            model: "420HD".into(),
            version: "3.0.4".into(),
        }
    }

    fn settings(mode: Mode) -> VlanSettings {
        VlanSettings {
            mode,
            period: Duration::from_secs(30),
            id: 7,
            priority: 3,
        }
    }

    fn lldp_frame(vlan: u16, ttl: u16) -> Vec<u8> {
        Lldpdu {
            chassis_id: (4, SW.to_vec()),
            port_id: (5, b"ge-0/0/1".to_vec()),
            ttl,
            others: vec![NetworkPolicy {
                app: APP_VOICE,
                unknown: false,
                tagged: true,
                vlan,
                priority: 5,
                dscp: 46,
            }
            .tlv()],
        }
        .frame(SW)
    }

    fn cdp_frame(vlan: u16, ttl: u8) -> Vec<u8> {
        let mut c = cdp::announce("switch", "Gi0/1", "IOS", "WS-C2960", ttl);
        c.tlvs.push((
            cdp::TLV_VOIP_VLAN_REPLY,
            vec![1, (vlan >> 8) as u8, vlan as u8],
        ));
        c.frame(SW)
    }

    fn drain(d: &mut VlanDiscovery) -> Vec<Option<VlanResult>> {
        std::iter::from_fn(|| d.poll_event())
            .map(|VlanEvent::Changed(r)| r)
            .collect()
    }

    #[test]
    fn defaults_from_schema() {
        let s = VlanSettings::from_config(&Config::defaults(ac_cfg::Model::Hd420));
        assert_eq!(s.mode, Mode::CdpLldp);
        assert_eq!(s.period, Duration::from_secs(30));
        assert_eq!((s.id, s.priority), (0, 0));
    }

    #[test]
    fn precedence_lldp_over_cdp_over_dhcp() {
        let t0 = Instant::now();
        let mut d = VlanDiscovery::new(settings(Mode::CdpLldp), ident(), t0);
        assert!(drain(&mut d).is_empty());
        d.handle_dhcp_vlan(Some(300));
        assert_eq!(d.current().unwrap().source, Source::Dhcp);
        d.handle_frame(t0, &cdp_frame(200, 180));
        assert_eq!(d.current().unwrap().vlan_id, 200);
        d.handle_frame(t0, &lldp_frame(100, 120));
        let r = d.current().unwrap();
        assert_eq!(
            (r.source, r.vlan_id, r.priority, r.dscp),
            (Source::Lldp, 100, Some(5), Some(46))
        );
        // A later CDP does not displace LLDP.
        d.handle_frame(t0, &cdp_frame(201, 180));
        assert_eq!(d.current().unwrap().vlan_id, 100);
        // LLDP ages out (TTL 120) -> CDP; CDP ages out -> DHCP.
        d.handle_timeout(t0 + Duration::from_secs(121));
        assert_eq!(d.current().unwrap().vlan_id, 201);
        d.handle_timeout(t0 + Duration::from_secs(181));
        assert_eq!(d.current().unwrap().source, Source::Dhcp);
        let ev = drain(&mut d);
        let ids: Vec<u16> = ev.iter().map(|r| r.unwrap().vlan_id).collect();
        assert_eq!(ids, [300, 200, 100, 201, 300]);
    }

    #[test]
    fn modes_filter_protocols() {
        let t0 = Instant::now();
        let mut d = VlanDiscovery::new(settings(Mode::Cdp), ident(), t0);
        d.handle_frame(t0, &lldp_frame(100, 120));
        assert_eq!(d.current(), None);
        d.handle_frame(t0, &cdp_frame(200, 180));
        assert_eq!(d.current().unwrap().vlan_id, 200);

        let mut d = VlanDiscovery::new(settings(Mode::Lldp), ident(), t0);
        d.handle_frame(t0, &cdp_frame(200, 180));
        assert_eq!(d.current(), None);
        d.handle_frame(t0, &lldp_frame(100, 120));
        assert_eq!(d.current().unwrap().vlan_id, 100);
        // Shutdown LLDPDU withdraws.
        d.handle_frame(t0, &lldp_frame(100, 0));
        assert_eq!(d.current(), None);

        let mut d = VlanDiscovery::new(settings(Mode::Manual), ident(), t0);
        assert_eq!(
            drain(&mut d),
            [Some(VlanResult {
                source: Source::Manual,
                vlan_id: 7,
                priority: Some(3),
                dscp: None
            })]
        );
        d.handle_frame(t0, &lldp_frame(100, 120));
        d.handle_dhcp_vlan(Some(9));
        assert_eq!(d.current().unwrap().source, Source::Manual);
        assert_eq!(d.poll_timeout(), None);

        let mut d = VlanDiscovery::new(settings(Mode::Disable), ident(), t0);
        d.handle_dhcp_vlan(Some(9));
        d.handle_frame(t0, &lldp_frame(100, 120));
        assert_eq!(d.current(), None);
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn announcements_fast_start_then_period() {
        let t0 = Instant::now();
        let mut d = VlanDiscovery::new(settings(Mode::CdpLldp), ident(), t0);
        let mut sent = Vec::new();
        let mut now = t0;
        while now < t0 + Duration::from_secs(100) {
            let t = d.poll_timeout().unwrap();
            now = t;
            d.handle_timeout(now);
            while let Some(f) = d.poll_transmit() {
                sent.push(((now - t0).as_secs(), f));
            }
        }
        let times: Vec<u64> = sent.iter().map(|x| x.0).step_by(2).collect();
        assert_eq!(times, [0, 1, 2, 3, 33, 63, 93, 123]);
        let lldp = LldpduView::parse(Frame::parse(&sent[0].1).unwrap().payload).unwrap();
        assert_eq!(lldp.ttl(), 120);
        let f = Frame::parse(&sent[1].1).unwrap();
        let c = CdpView::parse_llc(f.payload).unwrap();
        assert!(c.checksum_ok());
        assert_eq!(c.device_id(), Some(&b"SEP00908F112233"[..]));
        // Our own frames looped back are ignored.
        d.handle_frame(now, &sent[0].1);
        assert_eq!(d.current(), None);
    }

    #[test]
    fn bad_frames_counted_not_fatal() {
        let t0 = Instant::now();
        let mut d = VlanDiscovery::new(settings(Mode::CdpLldp), ident(), t0);
        let mut f = cdp_frame(200, 180);
        f[30] ^= 0xff;
        d.handle_frame(t0, &f);
        d.handle_frame(t0, &[1, 2, 3]);
        let mut l = lldp_frame(100, 120);
        l[15] = 0xff;
        d.handle_frame(t0, &l);
        assert_eq!(d.current(), None);
        assert_eq!(d.ignored_frames(), 3);
    }
}
