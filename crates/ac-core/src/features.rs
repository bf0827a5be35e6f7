//! Feature settings of the phone (from the configuration, `ac_cfg::schema` defaults) and the
//! run-time user settings (DND, forwarding, call waiting, auto-answer, busy on busy), and the
//! call logs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ac_cfg::Config;

use crate::board::AudioDevice;

/// Call forwarding modes (phone menu "Forward": all / busy / no answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    Always,
    Busy,
    NoAnswer,
}

/// Call forwarding (302 Moved Temporarily to the target, RFC 3261 21.3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub mode: ForwardMode,
    /// Number or SIP URI.
    pub target: String,
    /// For [`ForwardMode::NoAnswer`].
    pub no_answer_timeout: Duration,
}

/// Calls allowed on a locked phone (manual 4.9.1.2 `AllowCallsInLockState`; GET_FROM_INBAND
/// without an inband value behaves as "incoming only", table 4-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPolicy {
    AllowBoth,
    IncomingOnly,
    DenyBoth,
}

impl LockPolicy {
    pub fn allows_incoming(self) -> bool {
        self != LockPolicy::DenyBoth
    }
    pub fn allows_outgoing(self) -> bool {
        self == LockPolicy::AllowBoth
    }
}

/// What a function / programmable key does (manual 3.2.3-3.2.5,
/// `personal_settings/functional_key/{i}/type`, `voip/line_key/{i}/key_event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFunction {
    /// SPEED_DIAL / SPEED_DIAL_BLF with a number.
    SpeedDial(String),
    /// KEY_EVENT DND_ALL.
    DndAll,
    /// KEY_EVENT FORWARD_ALL.
    ForwardAll,
    /// KEY_EVENT opening a screen (CALENDAR, MISSED_CALLS, ...).
    Screen(String),
}

/// Number of function keys the phone reads.
pub const FUNCTION_KEYS: usize = 12;

/// The feature settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    // Run-time user settings.
    pub dnd: bool,
    pub forward: Option<Forward>,
    /// Target a FORWARD_ALL key forwards to.
    pub forward_all_target: Option<String>,
    pub call_waiting: bool,
    pub busy_on_busy: bool,
    pub auto_answer: bool,
    pub auto_answer_delay: Duration,
    /// Numbers a locked phone may always call (manual 4.9).
    pub emergency_numbers: Vec<String>,
    // From the configuration.
    /// `voip/services/call_waiting/generate_tone/enabled` (manual 3.3.10).
    pub call_waiting_tone: bool,
    /// `voip/dialing/auto_dialing/*` (manual 3.3.4.2): destination and delay.
    pub hotline: Option<(String, Duration)>,
    /// `voip/answer_device` (manual 3.3.4.4).
    pub answer_device: AudioDevice,
    /// `voip/headset_only/enabled`.
    pub headset_only: bool,
    /// `voip/onhook_disconnect_when_held/enabled` (manual 3.3.13).
    pub onhook_disconnect_when_held: bool,
    /// `voip/signalling/sip/hk_blind_transfer/enable`.
    pub hk_blind_transfer: bool,
    /// `AllowCallsInLockState` (manual 4.9.1.2).
    pub lock_policy: LockPolicy,
    /// `voip/common_area/enhanced_mode` (manual 4.16).
    pub common_area_enhanced: bool,
    /// `lync/userSetting/prevent_user_sign_out` (manual 4.17).
    pub prevent_sign_out: bool,
    /// Function keys 0..12.
    pub keys: Vec<Option<KeyFunction>>,
}

impl Features {
    /// Settings from a configuration, run-time settings at their defaults.
    pub fn from_config(cfg: &Config) -> Features {
        let b = |k: &str| cfg.get_bool(k).unwrap_or(false);
        let s = |k: &str| cfg.get_raw(k).unwrap_or("").to_string();
        let hotline = (b("voip/dialing/auto_dialing/enabled")
            && !s("voip/dialing/auto_dialing/destination").is_empty())
        .then(|| {
            (
                s("voip/dialing/auto_dialing/destination"),
                Duration::from_secs(
                    cfg.get_int("voip/dialing/auto_dialing/timeout")
                        .unwrap_or(15)
                        .clamp(0, 120) as u64,
                ),
            )
        });
        let answer_device = match cfg.get_raw("voip/answer_device") {
            Some("HEADSET") => AudioDevice::Headset,
            _ => AudioDevice::Speaker,
        };
        let lock_policy = match cfg.get_raw("AllowCallsInLockState") {
            Some("ALLOW_BOTH") => LockPolicy::AllowBoth,
            Some("DENY_BOTH") => LockPolicy::DenyBoth,
            _ => LockPolicy::IncomingOnly,
        };
        let mut keys = Vec::with_capacity(FUNCTION_KEYS);
        for i in 0..FUNCTION_KEYS {
            let ty = s(&format!("personal_settings/functional_key/{i}/type"));
            let num = s(&format!(
                "personal_settings/functional_key/{i}/speed_dial_number"
            ));
            let ev = s(&format!("voip/line_key/{i}/key_event"));
            keys.push(match ty.as_str() {
                "SPEED_DIAL" | "SPEED_DIAL_BLF" if !num.is_empty() => {
                    Some(KeyFunction::SpeedDial(num))
                }
                "KEY_EVENT" => Some(match ev.as_str() {
                    "DND_ALL" => KeyFunction::DndAll,
                    "FORWARD_ALL" => KeyFunction::ForwardAll,
                    other => KeyFunction::Screen(other.to_string()),
                }),
                _ => None,
            });
        }
        Features {
            dnd: false,
            forward: None,
            forward_all_target: None,
            call_waiting: true,
            busy_on_busy: false,
            auto_answer: false,
            auto_answer_delay: Duration::ZERO,
            emergency_numbers: vec!["911".into(), "112".into(), "999".into()],
            call_waiting_tone: cfg
                .get_bool("voip/services/call_waiting/generate_tone/enabled")
                .unwrap_or(true),
            hotline,
            answer_device,
            headset_only: b("voip/headset_only/enabled"),
            onhook_disconnect_when_held: b("voip/onhook_disconnect_when_held/enabled"),
            hk_blind_transfer: cfg
                .get_bool("voip/signalling/sip/hk_blind_transfer/enable")
                .unwrap_or(true),
            lock_policy,
            common_area_enhanced: b("voip/common_area/enhanced_mode"),
            prevent_sign_out: b("lync/userSetting/prevent_user_sign_out"),
            keys,
        }
    }

    /// Settings from a new configuration, keeping the user's run-time settings.
    pub fn from_config_keep_runtime(cfg: &Config, old: &Features) -> Features {
        Features {
            dnd: old.dnd,
            forward: old.forward.clone(),
            forward_all_target: old.forward_all_target.clone(),
            call_waiting: old.call_waiting,
            busy_on_busy: old.busy_on_busy,
            auto_answer: old.auto_answer,
            auto_answer_delay: old.auto_answer_delay,
            emergency_numbers: old.emergency_numbers.clone(),
            ..Features::from_config(cfg)
        }
    }
}

/// One call log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub peer: String,
    pub at: Instant,
}

/// Entries kept per list.
pub const LOG_LEN: usize = 100;

/// The missed / received / dialed lists, newest first, bounded to [`LOG_LEN`] each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallLog {
    pub missed: VecDeque<LogEntry>,
    pub received: VecDeque<LogEntry>,
    pub dialed: VecDeque<LogEntry>,
}

fn push(l: &mut VecDeque<LogEntry>, e: LogEntry) {
    l.push_front(e);
    l.truncate(LOG_LEN);
}

impl CallLog {
    pub fn push_missed(&mut self, e: LogEntry) {
        push(&mut self.missed, e)
    }
    pub fn push_received(&mut self, e: LogEntry) {
        push(&mut self.received, e)
    }
    pub fn push_dialed(&mut self, e: LogEntry) {
        push(&mut self.dialed, e)
    }
}
