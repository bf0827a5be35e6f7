//! DTMF: RFC 4733 telephone-events, in-band tone generation, Goertzel detection and
//! pause-dialing schedules (manual 3.3.4.3).
//!
//! All sans-IO: the sender yields RTP payloads with their timestamps, the receiver takes
//! payloads and yields digits, the generator fills PCM buffers and the detector consumes them.

use crate::error::PacketError;

/// A DTMF event code (RFC 4733 3.2, Table 7): 0-9, `*` = 10, `#` = 11, A-D = 12-15.
pub fn event_for_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The digit of an event code 0-15.
pub fn digit_for_event(e: u8) -> Option<char> {
    match e {
        0..=9 => Some((b'0' + e) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + e - 12) as char),
        _ => None,
    }
}

/// One telephone-event (RFC 4733 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code.
    pub event: u8,
    /// E bit: the end of the event.
    pub end: bool,
    /// Volume, 0..=63, as -dBm0 (RFC 4733 2.3.4).
    pub volume: u8,
    /// Duration in RTP timestamp units since the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Wire length.
    pub const LEN: usize = 4;

    /// Parses a payload holding one or more 4-byte events.
    pub fn parse_payload(buf: &[u8]) -> Result<Vec<TelephoneEvent>, PacketError> {
        if buf.is_empty() || buf.len() % Self::LEN != 0 {
            return Err(PacketError::BadLength("telephone-event payload"));
        }
        Ok(buf
            .chunks_exact(Self::LEN)
            .map(|c| TelephoneEvent {
                event: c[0],
                end: c[1] & 0x80 != 0,
                // The R bit is reserved: sent as 0, ignored on receipt (RFC 4733 2.3).
                volume: c[1] & 0x3f,
                duration: u16::from_be_bytes([c[2], c[3]]),
            })
            .collect())
    }

    /// Appends the 4-byte form.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), PacketError> {
        if self.volume > 63 {
            return Err(PacketError::OutOfRange("telephone-event volume"));
        }
        out.push(self.event);
        out.push(u8::from(self.end) << 7 | self.volume);
        out.extend_from_slice(&self.duration.to_be_bytes());
        Ok(())
    }
}

/// One RTP packet of a telephone-event: marker, timestamp offset and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPacket {
    /// Marker bit: set on the first packet of the event (RFC 4733 2.5.1.3).
    pub marker: bool,
    /// RTP timestamp: the event's start, the same for every packet of it (2.5.1.2).
    pub timestamp: u32,
    /// Send time offset from the event start, in ms.
    pub send_at_ms: u32,
    /// Payload.
    pub payload: TelephoneEvent,
}

/// Packets for one digit (RFC 4733 2.5.1): a first packet with M set, updates every
/// `interval_ms` with the growing duration, and the final packet with E set sent three times
/// (2.5.1.4). Durations longer than 0xFFFF units are cut to that (8.2 s at 8 kHz).
pub fn event_packets(
    event: u8,
    volume: u8,
    duration_ms: u32,
    interval_ms: u32,
    clock_rate: u32,
    timestamp: u32,
) -> Vec<EventPacket> {
    let interval_ms = interval_ms.max(10);
    let units = |ms: u32| (u64::from(ms) * u64::from(clock_rate) / 1000).min(0xffff) as u16;
    let mut out = Vec::new();
    let mut t = 0;
    while t < duration_ms {
        out.push(EventPacket {
            marker: t == 0,
            timestamp,
            send_at_ms: t,
            payload: TelephoneEvent {
                event,
                end: false,
                volume,
                duration: units((t + interval_ms).min(duration_ms)),
            },
        });
        t += interval_ms;
    }
    for _ in 0..3 {
        out.push(EventPacket {
            marker: out.is_empty(),
            timestamp,
            send_at_ms: duration_ms,
            payload: TelephoneEvent {
                event,
                end: true,
                volume,
                duration: units(duration_ms),
            },
        });
    }
    out
}

/// What the receiver reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitEvent {
    /// A new event began (first packet seen for its timestamp).
    Start {
        /// Event code.
        event: u8,
        /// RTP timestamp of the event.
        timestamp: u32,
    },
    /// The event ended, with its final duration in timestamp units.
    End {
        /// Event code.
        event: u8,
        /// RTP timestamp of the event.
        timestamp: u32,
        /// Duration.
        duration: u16,
    },
}

/// RFC 4733 receiver: reports each event once at its start and once at its end, however many
/// updates and end retransmissions arrive, in whatever order (2.5.2).
#[derive(Debug, Default)]
pub struct EventReceiver {
    current: Option<(u32, u8)>,
    ended: Option<(u32, u8)>,
}

impl EventReceiver {
    /// Handles the payload of one telephone-event RTP packet.
    pub fn handle(
        &mut self,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<Vec<DigitEvent>, PacketError> {
        let events = TelephoneEvent::parse_payload(payload)?;
        let mut out = Vec::new();
        for e in events {
            let key = (timestamp, e.event);
            if self.ended == Some(key) {
                // Retransmitted end or late update of a finished event.
                continue;
            }
            if self.current != Some(key) {
                if let Some((ts, ev)) = self.current.take() {
                    // A new event without an end for the previous one (lost end packets):
                    // close it (2.5.2.3 says the receiver ends it at the new event).
                    out.push(DigitEvent::End {
                        event: ev,
                        timestamp: ts,
                        duration: 0,
                    });
                }
                self.current = Some(key);
                out.push(DigitEvent::Start {
                    event: e.event,
                    timestamp,
                });
            }
            if e.end {
                self.current = None;
                self.ended = Some(key);
                out.push(DigitEvent::End {
                    event: e.event,
                    timestamp,
                    duration: e.duration,
                });
            }
        }
        Ok(out)
    }
}

/// DTMF frequencies (ITU-T Q.23): rows then columns.
pub const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column frequencies.
pub const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Peak amplitude of a sine at 0 dBm0 in 16-bit linear PCM (G.711: the A-law digital
/// milliwatt is about 3.14 dBm0 below full scale).
const DBM0_PEAK: f64 = 32767.0 / 1.4387;

/// In-band DTMF generator at 8 kHz.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    phase: [f64; 2],
    step: [f64; 2],
    amp: f64,
}

impl ToneGenerator {
    /// A generator for `digit` with each tone at -`level_dbm0` dBm0
    /// (`voip/audio/gain/dtmf_tone_signal_level`, 1..=32; interpreted as attenuation in dB).
    pub fn new(digit: char, level_dbm0: u8, sample_rate: u32) -> Option<Self> {
        let (r, c) = KEYPAD.iter().enumerate().find_map(|(r, row)| {
            row.iter()
                .position(|&d| d == digit.to_ascii_uppercase())
                .map(|c| (r, c))
        })?;
        let amp = DBM0_PEAK * 10f64.powf(-f64::from(level_dbm0) / 20.0);
        let sr = f64::from(sample_rate);
        Some(ToneGenerator {
            phase: [0.0; 2],
            step: [
                2.0 * std::f64::consts::PI * ROWS[r] / sr,
                2.0 * std::f64::consts::PI * COLS[c] / sr,
            ],
            amp,
        })
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            let v = self.amp * (self.phase[0].sin() + self.phase[1].sin());
            *s = v.round().clamp(-32768.0, 32767.0) as i16;
            for k in 0..2 {
                self.phase[k] += self.step[k];
                if self.phase[k] > 2.0 * std::f64::consts::PI {
                    self.phase[k] -= 2.0 * std::f64::consts::PI;
                }
            }
        }
    }
}

/// Goertzel DTMF detector for 8 kHz PCM: blocks of 102 samples, row and column energies,
/// relative-energy and twist checks, and two equal consecutive blocks to accept a digit.
/// Each digit is reported once, when it starts.
#[derive(Debug, Clone)]
pub struct Detector {
    coeffs: [f64; 8],
    block: Vec<f64>,
    last: Option<char>,
    candidate: Option<char>,
    candidate_blocks: u32,
    reported: Option<char>,
}

/// Samples per Goertzel block (12.75 ms; bins about 78 Hz apart).
pub const BLOCK: usize = 102;

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector {
    /// A detector for 8000 Hz input.
    pub fn new() -> Self {
        let mut coeffs = [0.0; 8];
        for (i, f) in ROWS.iter().chain(COLS.iter()).enumerate() {
            coeffs[i] = 2.0 * (2.0 * std::f64::consts::PI * f / 8000.0).cos();
        }
        Detector {
            coeffs,
            block: Vec::with_capacity(BLOCK),
            last: None,
            candidate: None,
            candidate_blocks: 0,
            reported: None,
        }
    }

    /// Feeds samples; returns the digits that started in them.
    pub fn process(&mut self, pcm: &[i16]) -> Vec<char> {
        let mut out = Vec::new();
        for &s in pcm {
            self.block.push(f64::from(s));
            if self.block.len() == BLOCK {
                let d = self.classify();
                self.block.clear();
                if d == self.candidate {
                    self.candidate_blocks += 1;
                } else {
                    self.candidate = d;
                    self.candidate_blocks = 1;
                }
                // Two consecutive equal blocks (about 25 ms) turn a digit on; two blocks of
                // silence or of another digit turn it off.
                if self.candidate_blocks >= 2 && self.reported != self.candidate {
                    if let Some(c) = self.candidate {
                        out.push(c);
                    }
                    self.reported = self.candidate;
                }
                self.last = d;
            }
        }
        out
    }

    fn classify(&self) -> Option<char> {
        let mut energy = [0.0; 8];
        for (k, e) in energy.iter_mut().enumerate() {
            let (mut s1, mut s2) = (0.0, 0.0);
            for &x in &self.block {
                let s0 = x + self.coeffs[k] * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            *e = s1 * s1 + s2 * s2 - self.coeffs[k] * s1 * s2;
        }
        let total: f64 = self.block.iter().map(|x| x * x).sum::<f64>() * BLOCK as f64 / 2.0;
        let (r, re) = max_of(&energy[..4]);
        let (c, ce) = max_of(&energy[4..]);
        // Minimum level: about -35 dBm0 per tone.
        let min = (DBM0_PEAK * 10f64.powf(-35.0 / 20.0) * BLOCK as f64 / 2.0).powi(2);
        if re < min || ce < min {
            return None;
        }
        // Twist: the two tones within 8 dB of each other.
        if ce > re * 10f64.powf(0.8) || re > ce * 10f64.powf(0.8) {
            return None;
        }
        // Each winner at least 8 dB over the other bins of its group.
        let second = |v: &[f64], w: usize| {
            v.iter()
                .enumerate()
                .filter(|&(i, _)| i != w)
                .map(|(_, &e)| e)
                .fold(0.0, f64::max)
        };
        if second(&energy[..4], r) * 6.3 > re || second(&energy[4..], c) * 6.3 > ce {
            return None;
        }
        // The two tones carry most of the block's energy (speech rejection).
        if (re + ce) < 0.4 * total {
            return None;
        }
        Some(KEYPAD[r][c])
    }
}

fn max_of(v: &[f64]) -> (usize, f64) {
    v.iter()
        .enumerate()
        .fold((0, f64::MIN), |a, (i, &e)| if e > a.1 { (i, e) } else { a })
}

/// One step of a pause-dialing schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialStep {
    /// Send a digit for `ms` milliseconds.
    Digit {
        /// The digit.
        digit: char,
        /// Duration.
        ms: u32,
    },
    /// Wait `ms` milliseconds (digit gap or pause symbol).
    Wait {
        /// Duration.
        ms: u32,
    },
}

/// Pause-dialing timing (`voip/services/pause_dialing/*`, manual 3.3.4.3).
#[derive(Debug, Clone, Copy)]
pub struct PauseDialing {
    /// `digit_duration`, ms (default 100).
    pub digit_duration_ms: u32,
    /// `digit_gap`, ms (default 300).
    pub digit_gap_ms: u32,
    /// `pause_duration`, s (default 2).
    pub pause_duration_s: u32,
}

/// Why a dial string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// A character that is neither a DTMF digit nor a pause symbol.
    #[error("invalid character {0:?} in dial string")]
    BadChar(char),
}

impl PauseDialing {
    /// The schedule for the part of a dial string after the call is up: digits with gaps,
    /// `,`, `p` or `P` as pauses.
    pub fn schedule(&self, s: &str) -> Result<Vec<DialStep>, DialError> {
        let mut out = Vec::new();
        for ch in s.chars() {
            match ch {
                ',' | 'p' | 'P' => out.push(DialStep::Wait {
                    ms: self.pause_duration_s.saturating_mul(1000),
                }),
                ' ' | '-' => {}
                c if event_for_digit(c).is_some() => {
                    if matches!(out.last(), Some(DialStep::Digit { .. })) {
                        out.push(DialStep::Wait {
                            ms: self.digit_gap_ms,
                        });
                    }
                    out.push(DialStep::Digit {
                        digit: c.to_ascii_uppercase(),
                        ms: self.digit_duration_ms,
                    });
                }
                c => return Err(DialError::BadChar(c)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4733_packet_sequence() {
        // 200 ms digit 5 at 8 kHz, 50 ms updates.
        let p = event_packets(5, 10, 200, 50, 8000, 1000);
        assert_eq!(p.len(), 4 + 3);
        assert!(p[0].marker && p[1..].iter().all(|x| !x.marker));
        assert!(p.iter().all(|x| x.timestamp == 1000));
        assert_eq!(p[0].payload.duration, 400);
        assert_eq!(p[3].payload.duration, 1600);
        assert!(p[4..]
            .iter()
            .all(|x| x.payload.end && x.payload.duration == 1600));
        let mut wire = Vec::new();
        p[4].payload.emit(&mut wire).unwrap();
        assert_eq!(wire, [5, 0x8a, 0x06, 0x40]);
        assert_eq!(
            TelephoneEvent::parse_payload(&wire).unwrap(),
            vec![p[4].payload]
        );
        assert!(TelephoneEvent::parse_payload(&wire[..3]).is_err());
        assert!(TelephoneEvent::parse_payload(&[]).is_err());
    }

    #[test]
    fn receiver_reports_once_despite_retransmissions_and_loss() {
        let mut rx = EventReceiver::default();
        let mut got = Vec::new();
        for (i, d) in [1u8, 2, 3].iter().enumerate() {
            let ts = 1000 + i as u32 * 8000;
            for (j, p) in event_packets(*d, 10, 120, 50, 8000, ts).iter().enumerate() {
                // Lose the first packet of digit 2; every packet twice.
                if *d == 2 && j == 0 {
                    continue;
                }
                let mut w = Vec::new();
                p.payload.emit(&mut w).unwrap();
                got.extend(rx.handle(ts, &w).unwrap());
                got.extend(rx.handle(ts, &w).unwrap());
            }
        }
        let starts: Vec<u8> = got
            .iter()
            .filter_map(|e| match e {
                DigitEvent::Start { event, .. } => Some(*event),
                _ => None,
            })
            .collect();
        let ends = got
            .iter()
            .filter(|e| matches!(e, DigitEvent::End { .. }))
            .count();
        assert_eq!(starts, vec![1, 2, 3]);
        assert_eq!(ends, 3);
    }

    #[test]
    fn pause_dialing_schedule() {
        let pd = PauseDialing {
            digit_duration_ms: 100,
            digit_gap_ms: 300,
            pause_duration_s: 2,
        };
        let s = pd.schedule("12,p#").unwrap();
        assert_eq!(
            s,
            vec![
                DialStep::Digit {
                    digit: '1',
                    ms: 100
                },
                DialStep::Wait { ms: 300 },
                DialStep::Digit {
                    digit: '2',
                    ms: 100
                },
                DialStep::Wait { ms: 2000 },
                DialStep::Wait { ms: 2000 },
                DialStep::Digit {
                    digit: '#',
                    ms: 100
                },
            ]
        );
        assert_eq!(pd.schedule("12x"), Err(DialError::BadChar('x')));
    }
}
