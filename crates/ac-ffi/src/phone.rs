//! `ac_phone_*`: the phone for the board's C layer, over `ac_core::driver::PhoneDriver`.
//!
//! The board creates a phone from a configuration and options ([`ac_phone_new`]), feeds it
//! key, hook, headset and link events, exchanges a 10 ms audio frame every 10 ms
//! ([`ac_phone_audio_capture`]), and receives display, LED, ringer, tone and audio-route
//! outputs through the callbacks of [`ac_phone_callbacks`], called on the phone's own thread.
//!
//! The enums below mirror `ac_core::board` value for value (the `mirror!` conversions are
//! exhaustive both ways, and a test compares every value), so the C ABI cannot change by
//! accident when the core does.

use std::ffi::{c_char, c_void};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ac_core::board::{
    AudioDevice, AudioFrame, BoardEvent, BoardOutput, DisplayKind, HookState, KeyAction, KeyCode,
    LedId, LedState, Ringer, Tone, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE,
};
use ac_core::driver::{CallOp, DriverOptions, NetworkMode, PhoneDriver};
use ac_core::phone::{BootStage, CallPhase};
use ac_core::{CoreError, SignIn};

use crate::cfg::ac_cfg;
use crate::{ac_result, boundary, boundary_or, in_bytes, in_mut, in_ref, in_str, Out, OutBuf};

/// Audio sample rate of [`ac_phone_audio_capture`] frames, Hz.
pub const AC_PHONE_SAMPLE_RATE: u32 = 16000;
/// Samples in one audio frame (mono, 16-bit).
pub const AC_PHONE_FRAME_SAMPLES: usize = 160;
/// Duration of one audio frame, ms.
pub const AC_PHONE_FRAME_MS: u32 = 10;

// The C constants are literals for cbindgen; they must be the core's.
const _: () = assert!(AC_PHONE_SAMPLE_RATE == SAMPLE_RATE);
const _: () = assert!(AC_PHONE_FRAME_SAMPLES == FRAME_SAMPLES);
const _: () = assert!(AC_PHONE_FRAME_MS == FRAME_MS);

/// A key of the keypad, navigation, softkeys and feature keys.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_key {
    AC_KEY_DIGIT_0 = 0,
    AC_KEY_DIGIT_1 = 1,
    AC_KEY_DIGIT_2 = 2,
    AC_KEY_DIGIT_3 = 3,
    AC_KEY_DIGIT_4 = 4,
    AC_KEY_DIGIT_5 = 5,
    AC_KEY_DIGIT_6 = 6,
    AC_KEY_DIGIT_7 = 7,
    AC_KEY_DIGIT_8 = 8,
    AC_KEY_DIGIT_9 = 9,
    AC_KEY_STAR = 10,
    AC_KEY_POUND = 11,
    /// Navigation.
    AC_KEY_UP = 20,
    AC_KEY_DOWN = 21,
    AC_KEY_LEFT = 22,
    AC_KEY_RIGHT = 23,
    AC_KEY_OK = 24,
    /// Cancel / back.
    AC_KEY_CANCEL = 25,
    AC_KEY_MENU = 26,
    /// Softkeys under the display, left to right.
    AC_KEY_SOFTKEY_1 = 30,
    AC_KEY_SOFTKEY_2 = 31,
    AC_KEY_SOFTKEY_3 = 32,
    AC_KEY_SOFTKEY_4 = 33,
    /// Hard feature keys.
    AC_KEY_HOLD = 40,
    AC_KEY_TRANSFER = 41,
    AC_KEY_CONFERENCE = 42,
    AC_KEY_REDIAL = 43,
    AC_KEY_MUTE = 44,
    AC_KEY_SPEAKER = 45,
    AC_KEY_HEADSET = 46,
    AC_KEY_VOLUME_UP = 47,
    AC_KEY_VOLUME_DOWN = 48,
    AC_KEY_VOICEMAIL = 49,
    AC_KEY_CONTACTS = 50,
    /// Call log / history.
    AC_KEY_LOG = 51,
    /// Do Not Disturb toggle.
    AC_KEY_DND = 52,
    /// Line keys (one per call appearance).
    AC_KEY_LINE_1 = 60,
    AC_KEY_LINE_2 = 61,
    AC_KEY_LINE_3 = 62,
    AC_KEY_LINE_4 = 63,
    /// Function / programmable keys 1..=12 (`personal_settings/functional_key/{0..11}`).
    AC_KEY_FUNCTION_1 = 100,
    AC_KEY_FUNCTION_2 = 101,
    AC_KEY_FUNCTION_3 = 102,
    AC_KEY_FUNCTION_4 = 103,
    AC_KEY_FUNCTION_5 = 104,
    AC_KEY_FUNCTION_6 = 105,
    AC_KEY_FUNCTION_7 = 106,
    AC_KEY_FUNCTION_8 = 107,
    AC_KEY_FUNCTION_9 = 108,
    AC_KEY_FUNCTION_10 = 109,
    AC_KEY_FUNCTION_11 = 110,
    AC_KEY_FUNCTION_12 = 111,
}

/// Key pressed or released.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_key_action {
    AC_KEY_RELEASED = 0,
    AC_KEY_PRESSED = 1,
}

/// The handset hook switch.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_hook {
    /// Handset in its cradle.
    AC_HOOK_ON_HOOK = 0,
    /// Handset lifted.
    AC_HOOK_OFF_HOOK = 1,
}

/// An audio device (manual 3.3.4.4).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_audio_device {
    /// No audio path (idle).
    AC_AUDIO_DEVICE_NONE = 0,
    AC_AUDIO_DEVICE_HANDSET = 1,
    AC_AUDIO_DEVICE_SPEAKER = 2,
    AC_AUDIO_DEVICE_HEADSET = 3,
}

/// What a display event shows; the board lays it out, the text is its content.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_display_kind {
    /// Boot progress: text names the stage ("Network", "Provisioning", "Time", "Registering").
    AC_DISPLAY_BOOT = 0,
    /// Idle screen; text is the line's identity (or "Not registered").
    AC_DISPLAY_IDLE = 1,
    /// Dialing; text is the digits entered so far.
    AC_DISPLAY_DIALING = 2,
    /// Outgoing call in progress; text is the callee.
    AC_DISPLAY_CALLING = 3,
    /// Outgoing call ringing at the far end; text is the callee.
    AC_DISPLAY_RINGBACK = 4,
    /// Incoming call; text is the caller.
    AC_DISPLAY_INCOMING = 5,
    /// Second incoming call while in a call (call waiting); text is the caller.
    AC_DISPLAY_CALL_WAITING = 6,
    /// Call connected; text is the peer.
    AC_DISPLAY_CONNECTED = 7,
    /// Call held by us; text is the peer.
    AC_DISPLAY_HELD = 8,
    /// Call held by the peer; text is the peer.
    AC_DISPLAY_REMOTE_HELD = 9,
    /// Call ended; text is the reason.
    AC_DISPLAY_ENDED = 10,
    /// A transient notice (feature toggled, error); text is the message.
    AC_DISPLAY_NOTICE = 11,
    /// The phone is locked (manual 4.9); text is the hint.
    AC_DISPLAY_LOCKED = 12,
    /// A missed-calls counter; text is the number.
    AC_DISPLAY_MISSED_CALLS = 13,
    /// Received DTMF digit (for tests and diagnostics); text is the digit.
    AC_DISPLAY_DTMF = 14,
    /// Call quality at the end of a call (RTCP-XR): text is "MOS-LQ x.x R=yy loss=z% jitter=w ms".
    AC_DISPLAY_QUALITY = 15,
}

/// An LED.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_led {
    /// Message waiting indicator (also flashes for an incoming call on most models).
    AC_LED_MWI = 0,
    AC_LED_SPEAKER = 1,
    AC_LED_HEADSET = 2,
    AC_LED_MUTE = 3,
    AC_LED_HOLD = 4,
    AC_LED_DND = 5,
    AC_LED_LINE_1 = 10,
    AC_LED_LINE_2 = 11,
    AC_LED_LINE_3 = 12,
    AC_LED_LINE_4 = 13,
    /// Function key LEDs 1..=12 (speed dial + BLF).
    AC_LED_FUNCTION_1 = 100,
    AC_LED_FUNCTION_2 = 101,
    AC_LED_FUNCTION_3 = 102,
    AC_LED_FUNCTION_4 = 103,
    AC_LED_FUNCTION_5 = 104,
    AC_LED_FUNCTION_6 = 105,
    AC_LED_FUNCTION_7 = 106,
    AC_LED_FUNCTION_8 = 107,
    AC_LED_FUNCTION_9 = 108,
    AC_LED_FUNCTION_10 = 109,
    AC_LED_FUNCTION_11 = 110,
    AC_LED_FUNCTION_12 = 111,
}

/// An LED state.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_led_state {
    AC_LED_STATE_OFF = 0,
    AC_LED_STATE_ON = 1,
    /// Slow flash (held call, message waiting).
    AC_LED_STATE_SLOW_FLASH = 2,
    /// Fast flash (incoming call).
    AC_LED_STATE_FAST_FLASH = 3,
}

/// The ringer.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_ringer {
    AC_RINGER_OFF = 0,
    /// The configured ring tone.
    AC_RINGER_RING = 1,
    /// A short ring splash (forwarded call, auto-answer).
    AC_RINGER_SPLASH = 2,
}

/// A call progress tone (manual 3.2.6) the board plays until the next one.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_tone {
    AC_TONE_OFF = 0,
    AC_TONE_DIAL = 1,
    AC_TONE_RINGBACK = 2,
    AC_TONE_BUSY = 3,
    /// Call waiting beep (manual 3.3.10 call waiting tone).
    AC_TONE_CALL_WAITING = 4,
    /// Reorder / fast busy (call failed, no network).
    AC_TONE_REORDER = 5,
    /// Stutter dial tone (message waiting / DND / forward active).
    AC_TONE_STUTTER = 6,
}

/// Exhaustive conversions between a core enum and its C mirror, both ways (a new variant on
/// either side does not compile until mapped), and the pairs for the value test.
macro_rules! mirror {
    ($core:ident => $ffi:ident { $($cv:ident => $fv:ident),* $(,)? }) => {
        impl From<$core> for $ffi {
            fn from(c: $core) -> $ffi {
                match c {
                    $($core::$cv => $ffi::$fv),*
                }
            }
        }

        impl From<$ffi> for $core {
            fn from(f: $ffi) -> $core {
                match f {
                    $($ffi::$fv => $core::$cv),*
                }
            }
        }

        impl $ffi {
            #[cfg(test)]
            const PAIRS: &'static [($core, $ffi)] = &[$(($core::$cv, $ffi::$fv)),*];

            #[allow(dead_code)]
            fn from_u32(v: u32) -> Option<$ffi> {
                [$($ffi::$fv),*].into_iter().find(|f| *f as u32 == v)
            }
        }
    };
}

mirror!(KeyCode => ac_key {
    Digit0 => AC_KEY_DIGIT_0,
    Digit1 => AC_KEY_DIGIT_1,
    Digit2 => AC_KEY_DIGIT_2,
    Digit3 => AC_KEY_DIGIT_3,
    Digit4 => AC_KEY_DIGIT_4,
    Digit5 => AC_KEY_DIGIT_5,
    Digit6 => AC_KEY_DIGIT_6,
    Digit7 => AC_KEY_DIGIT_7,
    Digit8 => AC_KEY_DIGIT_8,
    Digit9 => AC_KEY_DIGIT_9,
    Star => AC_KEY_STAR,
    Pound => AC_KEY_POUND,
    Up => AC_KEY_UP,
    Down => AC_KEY_DOWN,
    Left => AC_KEY_LEFT,
    Right => AC_KEY_RIGHT,
    Ok => AC_KEY_OK,
    Cancel => AC_KEY_CANCEL,
    Menu => AC_KEY_MENU,
    Softkey1 => AC_KEY_SOFTKEY_1,
    Softkey2 => AC_KEY_SOFTKEY_2,
    Softkey3 => AC_KEY_SOFTKEY_3,
    Softkey4 => AC_KEY_SOFTKEY_4,
    Hold => AC_KEY_HOLD,
    Transfer => AC_KEY_TRANSFER,
    Conference => AC_KEY_CONFERENCE,
    Redial => AC_KEY_REDIAL,
    Mute => AC_KEY_MUTE,
    Speaker => AC_KEY_SPEAKER,
    Headset => AC_KEY_HEADSET,
    VolumeUp => AC_KEY_VOLUME_UP,
    VolumeDown => AC_KEY_VOLUME_DOWN,
    Voicemail => AC_KEY_VOICEMAIL,
    Contacts => AC_KEY_CONTACTS,
    Log => AC_KEY_LOG,
    Dnd => AC_KEY_DND,
    Line1 => AC_KEY_LINE_1,
    Line2 => AC_KEY_LINE_2,
    Line3 => AC_KEY_LINE_3,
    Line4 => AC_KEY_LINE_4,
    Function1 => AC_KEY_FUNCTION_1,
    Function2 => AC_KEY_FUNCTION_2,
    Function3 => AC_KEY_FUNCTION_3,
    Function4 => AC_KEY_FUNCTION_4,
    Function5 => AC_KEY_FUNCTION_5,
    Function6 => AC_KEY_FUNCTION_6,
    Function7 => AC_KEY_FUNCTION_7,
    Function8 => AC_KEY_FUNCTION_8,
    Function9 => AC_KEY_FUNCTION_9,
    Function10 => AC_KEY_FUNCTION_10,
    Function11 => AC_KEY_FUNCTION_11,
    Function12 => AC_KEY_FUNCTION_12,
});

mirror!(KeyAction => ac_key_action {
    Released => AC_KEY_RELEASED,
    Pressed => AC_KEY_PRESSED,
});

mirror!(HookState => ac_hook {
    OnHook => AC_HOOK_ON_HOOK,
    OffHook => AC_HOOK_OFF_HOOK,
});

mirror!(AudioDevice => ac_audio_device {
    None => AC_AUDIO_DEVICE_NONE,
    Handset => AC_AUDIO_DEVICE_HANDSET,
    Speaker => AC_AUDIO_DEVICE_SPEAKER,
    Headset => AC_AUDIO_DEVICE_HEADSET,
});

mirror!(DisplayKind => ac_display_kind {
    Boot => AC_DISPLAY_BOOT,
    Idle => AC_DISPLAY_IDLE,
    Dialing => AC_DISPLAY_DIALING,
    Calling => AC_DISPLAY_CALLING,
    Ringback => AC_DISPLAY_RINGBACK,
    Incoming => AC_DISPLAY_INCOMING,
    CallWaiting => AC_DISPLAY_CALL_WAITING,
    Connected => AC_DISPLAY_CONNECTED,
    Held => AC_DISPLAY_HELD,
    RemoteHeld => AC_DISPLAY_REMOTE_HELD,
    Ended => AC_DISPLAY_ENDED,
    Notice => AC_DISPLAY_NOTICE,
    Locked => AC_DISPLAY_LOCKED,
    MissedCalls => AC_DISPLAY_MISSED_CALLS,
    Dtmf => AC_DISPLAY_DTMF,
    Quality => AC_DISPLAY_QUALITY,
});

mirror!(LedId => ac_led {
    Mwi => AC_LED_MWI,
    Speaker => AC_LED_SPEAKER,
    Headset => AC_LED_HEADSET,
    Mute => AC_LED_MUTE,
    Hold => AC_LED_HOLD,
    Dnd => AC_LED_DND,
    Line1 => AC_LED_LINE_1,
    Line2 => AC_LED_LINE_2,
    Line3 => AC_LED_LINE_3,
    Line4 => AC_LED_LINE_4,
    Function1 => AC_LED_FUNCTION_1,
    Function2 => AC_LED_FUNCTION_2,
    Function3 => AC_LED_FUNCTION_3,
    Function4 => AC_LED_FUNCTION_4,
    Function5 => AC_LED_FUNCTION_5,
    Function6 => AC_LED_FUNCTION_6,
    Function7 => AC_LED_FUNCTION_7,
    Function8 => AC_LED_FUNCTION_8,
    Function9 => AC_LED_FUNCTION_9,
    Function10 => AC_LED_FUNCTION_10,
    Function11 => AC_LED_FUNCTION_11,
    Function12 => AC_LED_FUNCTION_12,
});

mirror!(LedState => ac_led_state {
    Off => AC_LED_STATE_OFF,
    On => AC_LED_STATE_ON,
    SlowFlash => AC_LED_STATE_SLOW_FLASH,
    FastFlash => AC_LED_STATE_FAST_FLASH,
});

mirror!(Ringer => ac_ringer {
    Off => AC_RINGER_OFF,
    Ring => AC_RINGER_RING,
    Splash => AC_RINGER_SPLASH,
});

mirror!(Tone => ac_tone {
    Off => AC_TONE_OFF,
    Dial => AC_TONE_DIAL,
    Ringback => AC_TONE_RINGBACK,
    Busy => AC_TONE_BUSY,
    CallWaiting => AC_TONE_CALL_WAITING,
    Reorder => AC_TONE_REORDER,
    Stutter => AC_TONE_STUTTER,
});

/// Boot progress.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_boot_stage {
    AC_BOOT_STAGE_NETWORK = 0,
    AC_BOOT_STAGE_PROVISIONING = 1,
    AC_BOOT_STAGE_TIME = 2,
    AC_BOOT_STAGE_REGISTRATION = 3,
    /// Registered (or no registration configured): ready for calls.
    AC_BOOT_STAGE_READY = 4,
}

/// Where a call stands.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ac_call_phase {
    AC_CALL_PHASE_DIALING = 0,
    AC_CALL_PHASE_RINGBACK = 1,
    AC_CALL_PHASE_INCOMING = 2,
    AC_CALL_PHASE_CONNECTED = 3,
    AC_CALL_PHASE_HELD = 4,
    AC_CALL_PHASE_REMOTE_HELD = 5,
    AC_CALL_PHASE_ENDED = 6,
}

mirror!(BootStage => ac_boot_stage {
    Network => AC_BOOT_STAGE_NETWORK,
    Provisioning => AC_BOOT_STAGE_PROVISIONING,
    Time => AC_BOOT_STAGE_TIME,
    Registration => AC_BOOT_STAGE_REGISTRATION,
    Ready => AC_BOOT_STAGE_READY,
});

mirror!(CallPhase => ac_call_phase {
    Dialing => AC_CALL_PHASE_DIALING,
    Ringback => AC_CALL_PHASE_RINGBACK,
    Incoming => AC_CALL_PHASE_INCOMING,
    Connected => AC_CALL_PHASE_CONNECTED,
    Held => AC_CALL_PHASE_HELD,
    RemoteHeld => AC_CALL_PHASE_REMOTE_HELD,
    Ended => AC_CALL_PHASE_ENDED,
});

/// Voice quality of the last call with media (RTCP-XR, RFC 3611 4.7).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ac_call_quality {
    /// MOS listening quality, 1.0 to 5.0.
    pub mos_lq: f64,
    /// MOS conversational quality.
    pub mos_cq: f64,
    /// R factor, 0 to 100.
    pub r_factor: u32,
    /// Loss of received packets, percent.
    pub loss_pct: f64,
    /// Jitter the far end reports about our stream, ms.
    pub jitter_ms: f64,
    /// Round-trip time, ms.
    pub rtt_ms: f64,
    pub packets_received: u64,
}

/// A snapshot of the phone, filled by [`ac_phone_status_get`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ac_phone_status {
    pub stage: ac_boot_stage,
    pub registered: bool,
    /// Calls in the snapshot; read each with [`ac_phone_call_get`].
    pub call_count: usize,
    pub missed_calls: u32,
    /// Whether `last_quality` holds a call's figures.
    pub has_quality: bool,
    pub last_quality: ac_call_quality,
}

/// One call, filled by [`ac_phone_call_get`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ac_phone_call {
    /// Call (line appearance) id, as in display events.
    pub id: u32,
    pub phase: ac_call_phase,
    pub incoming: bool,
    pub packets_sent: u64,
    pub packets_received: u64,
}

/// The board's output callbacks. Each may be NULL (the output is dropped). They are called
/// on the phone's thread, one at a time, with the `userdata` given to [`ac_phone_new`]; they
/// must return promptly and must not call [`ac_phone_free`] (other `ac_phone_*` calls are
/// fine). Text pointers are valid during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ac_phone_callbacks {
    /// A display update: `text` is UTF-8, `text_len` bytes, NUL-terminated; `call` is the
    /// call it is about (0: none).
    pub display: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            kind: ac_display_kind,
            call: u32,
            text: *const c_char,
            text_len: usize,
        ),
    >,
    pub led: Option<unsafe extern "C" fn(userdata: *mut c_void, led: ac_led, state: ac_led_state)>,
    pub ringer: Option<unsafe extern "C" fn(userdata: *mut c_void, ringer: ac_ringer)>,
    /// Play `tone` into the active audio device until the next tone callback.
    pub tone: Option<unsafe extern "C" fn(userdata: *mut c_void, tone: ac_tone)>,
    /// Route call audio to `device`.
    pub audio_route: Option<unsafe extern "C" fn(userdata: *mut c_void, device: ac_audio_device)>,
    /// Bring the network interface up again (the configuration changed VLAN or addressing).
    pub restart: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
}

/// What [`ac_phone_new`] needs besides the configuration (opaque builder). Created by
/// [`ac_phone_options_new`] with: static address 127.0.0.1, no sign-in, SIP port 0 (any),
/// MAC 00:90:8f:00:00:01, boot timeout 20 s, no state directory, seed from the OS.
pub struct ac_phone_options {
    opts: DriverOptions,
}

/// A running phone (opaque). Created by [`ac_phone_new`], stopped and released by
/// [`ac_phone_free`].
pub struct ac_phone {
    driver: PhoneDriver,
}

fn core_error(e: &CoreError) -> ac_result {
    match e {
        CoreError::Io(_) => ac_result::AC_RESULT_PHONE_IO,
        CoreError::Busy => ac_result::AC_RESULT_PHONE_BUSY,
        CoreError::Stopped => ac_result::AC_RESULT_PHONE_STOPPED,
        CoreError::Panicked => ac_result::AC_RESULT_PANIC,
        CoreError::State(_) => ac_result::AC_RESULT_PHONE_STATE,
        CoreError::Invalid(_) => ac_result::AC_RESULT_PHONE_INVALID,
        CoreError::Sip(_) => ac_result::AC_RESULT_PHONE_SIP,
    }
}

/// The callbacks and their userdata, moved to the phone thread.
struct Callbacks {
    cb: ac_phone_callbacks,
    userdata: *mut c_void,
}

// SAFETY: the C caller gives callbacks and userdata knowing they run on the phone thread
// (documented on `ac_phone_callbacks` and `ac_phone_new`); the library never touches the
// userdata itself.
unsafe impl Send for Callbacks {}

impl Callbacks {
    fn deliver(&mut self, out: BoardOutput) {
        let u = self.userdata;
        // SAFETY (each call): a C function pointer the caller registered, with its userdata
        // and arguments valid for the call's duration.
        match out {
            BoardOutput::Display(d) => {
                if let Some(f) = self.cb.display {
                    // The core's texts have no NUL; cut at one should it ever appear.
                    let text = d.text.split('\0').next().unwrap_or("");
                    let mut z = Vec::with_capacity(text.len() + 1);
                    z.extend_from_slice(text.as_bytes());
                    z.push(0);
                    unsafe { f(u, d.kind.into(), d.call, z.as_ptr().cast(), text.len()) }
                }
            }
            BoardOutput::Led(l, s) => {
                if let Some(f) = self.cb.led {
                    unsafe { f(u, l.into(), s.into()) }
                }
            }
            BoardOutput::Ringer(r) => {
                if let Some(f) = self.cb.ringer {
                    unsafe { f(u, r.into()) }
                }
            }
            BoardOutput::Tone(t) => {
                if let Some(f) = self.cb.tone {
                    unsafe { f(u, t.into()) }
                }
            }
            BoardOutput::AudioRoute(d) => {
                if let Some(f) = self.cb.audio_route {
                    unsafe { f(u, d.into()) }
                }
            }
            BoardOutput::Restart => {
                if let Some(f) = self.cb.restart {
                    unsafe { f(u) }
                }
            }
        }
    }
}

/// Creates phone options with the defaults of [`ac_phone_options`]; release with
/// [`ac_phone_options_free`] (the phone copies them).
///
/// # Safety
/// `out` valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_new(out: *mut *mut ac_phone_options) -> ac_result {
    boundary(|| {
        let out = Out::new(out)?;
        let opts = DriverOptions::static_addr(IpAddr::from([127, 0, 0, 1]), SignIn::default());
        let h = Box::into_raw(Box::new(ac_phone_options { opts }));
        // SAFETY: the caller's contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Releases options. NULL is allowed.
///
/// # Safety
/// `opts` NULL or a handle from [`ac_phone_options_new`] not yet released.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_free(opts: *mut ac_phone_options) {
    boundary_or((), || {
        if !opts.is_null() {
            // SAFETY: from `Box::into_raw`, released once per the contract.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

/// Use a static IPv4/IPv6 address (text such as `"192.0.2.10"`), as configured by the OS.
///
/// # Safety
/// `opts` a live handle; `addr` valid for `addr_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_static_address(
    opts: *mut ac_phone_options,
    addr: *const c_char,
    addr_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let a = unsafe { in_str(addr, addr_len) }?;
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| ac_result::AC_RESULT_INVALID_PARAMETER)?;
        o.opts.network = NetworkMode::Static { addr };
        Ok(())
    })
}

/// Run the DHCP client on network interface `ifname` (e.g. `"eth0"`) and provision from the
/// options it receives (manual 2.1, 2.3).
///
/// # Safety
/// `opts` a live handle; `ifname` valid for `ifname_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_dhcp_interface(
    opts: *mut ac_phone_options,
    ifname: *const c_char,
    ifname_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let name = unsafe { in_str(ifname, ifname_len) }?;
        // Linux interface names: 1-15 bytes, no '/', blank or NUL.
        if name.is_empty()
            || name.len() > 15
            || name
                .bytes()
                .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace())
        {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.network = NetworkMode::Dhcp {
            interface: name.to_string(),
        };
        Ok(())
    })
}

/// The user's sign-in: SIP address of record (`sip:alice@example.com`), digest user name
/// (empty: the AOR's user part) and password (empty: `voip/line/0/auth_password`).
///
/// # Safety
/// `opts` a live handle; each text valid for its length.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_sign_in(
    opts: *mut ac_phone_options,
    aor: *const c_char,
    aor_len: usize,
    user: *const c_char,
    user_len: usize,
    password: *const c_char,
    password_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let aor = unsafe { in_str(aor, aor_len) }?;
        let user = unsafe { in_str(user, user_len) }?;
        let password = unsafe { in_str(password, password_len) }?;
        if !(aor.starts_with("sip:") || aor.starts_with("sips:")) || aor.contains(['\r', '\n']) {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.sign_in.aor = aor.to_string();
        o.opts.sign_in.user = user.to_string();
        o.opts.sign_in.password = password.to_string();
        Ok(())
    })
}

/// The display name shown to callees (empty: none).
///
/// # Safety
/// `opts` a live handle; `name` valid for `name_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_display_name(
    opts: *mut ac_phone_options,
    name: *const c_char,
    name_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let name = unsafe { in_str(name, name_len) }?;
        if name.contains(['\r', '\n', '\0', '"']) {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.sign_in.display_name = (!name.is_empty()).then(|| name.to_string());
        Ok(())
    })
}

/// The board's MAC address (`mac_len` must be 6).
///
/// # Safety
/// `opts` a live handle; `mac` valid for `mac_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_mac(
    opts: *mut ac_phone_options,
    mac: *const u8,
    mac_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let mac = unsafe { in_bytes(mac, mac_len) }?;
        o.opts.mac = mac
            .try_into()
            .map_err(|_| ac_result::AC_RESULT_INVALID_PARAMETER)?;
        Ok(())
    })
}

/// The local SIP UDP port (0: any free port).
///
/// # Safety
/// `opts` a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_sip_port(
    opts: *mut ac_phone_options,
    port: u16,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        unsafe { in_mut(opts) }?.opts.sip_port = port;
        Ok(())
    })
}

/// Adds a PEM CA certificate trusted for HTTPS provisioning (besides
/// `security/ca_certificate/*` of the configuration).
///
/// # Safety
/// `opts` a live handle; `pem` valid for `pem_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_add_ca_pem(
    opts: *mut ac_phone_options,
    pem: *const u8,
    pem_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let pem = unsafe { in_bytes(pem, pem_len) }?;
        if !pem
            .windows(b"-----BEGIN CERTIFICATE-----".len())
            .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.ca_certs.push(pem.to_vec());
        Ok(())
    })
}

/// A directory where the phone keeps its last good configuration (empty: memory only).
///
/// # Safety
/// `opts` a live handle; `path` valid for `path_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_state_dir(
    opts: *mut ac_phone_options,
    path: *const c_char,
    path_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let o = unsafe { in_mut(opts) }?;
        let p = unsafe { in_str(path, path_len) }?;
        if p.contains('\0') {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.state_dir = (!p.is_empty()).then(|| PathBuf::from(p));
        Ok(())
    })
}

/// How long the boot waits for DHCP and provisioning before going on without (ms, > 0).
///
/// # Safety
/// `opts` a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_boot_timeout_ms(
    opts: *mut ac_phone_options,
    ms: u32,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let o = unsafe { in_mut(opts) }?;
        if ms == 0 {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.boot_timeout = Duration::from_millis(ms.into());
        Ok(())
    })
}

/// The first local RTP port of calls (even; 0: the configuration's, from
/// `voip/media/...`, 50020 by default). Phones sharing a host need distinct ranges.
///
/// # Safety
/// `opts` a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_rtp_base_port(
    opts: *mut ac_phone_options,
    port: u16,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let o = unsafe { in_mut(opts) }?;
        if port % 2 != 0 {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        o.opts.rtp_base_port = (port != 0).then_some(port);
        Ok(())
    })
}

/// Seed for Call-IDs, tags and SSRCs (0: from the OS); for reproducible tests.
///
/// # Safety
/// `opts` a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_options_set_seed(
    opts: *mut ac_phone_options,
    seed: u64,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        unsafe { in_mut(opts) }?.opts.seed = seed;
        Ok(())
    })
}

/// Boots a phone of `model` (`"440HD"`...) from `cfg` (an empty document gives the factory
/// configuration) on a new thread: network, provisioning, time, registration.
/// `AC_RESULT_PHONE_CONFIG_INVALID` when `cfg` has errors for the model (see
/// [`ac_cfg_validate`](crate::cfg::ac_cfg_validate)). `cfg`, `opts` and `callbacks` are
/// copied: the caller may release them at once. `userdata` is passed to every callback, on
/// the phone thread. On success `*out` receives the phone, released by [`ac_phone_free`].
///
/// # Safety
/// `cfg`, `opts` live handles; `model` valid for `model_len` bytes; `callbacks` valid for a
/// read; the callbacks and `userdata` (which may be NULL: the library never reads it) usable
/// from another thread until [`ac_phone_free`] returns; `out` valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_new(
    cfg: *const ac_cfg,
    model: *const c_char,
    model_len: usize,
    opts: *const ac_phone_options,
    callbacks: *const ac_phone_callbacks,
    userdata: *mut c_void,
    out: *mut *mut ac_phone,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let cfg = unsafe { in_ref(cfg) }?;
        let model = unsafe { crate::cfg::model_arg(model, model_len) }?
            .ok_or(ac_result::AC_RESULT_CFG_UNKNOWN_MODEL)?;
        let opts = unsafe { in_ref(opts) }?;
        let cb = *unsafe { in_ref(callbacks) }?;
        let out = Out::new(out)?;
        let config = ::ac_cfg::Config::from_document(&cfg.doc, model)
            .map_err(|_| ac_result::AC_RESULT_PHONE_CONFIG_INVALID)?;
        let mut cbs = Callbacks { cb, userdata };
        let driver =
            PhoneDriver::start(config, opts.opts.clone(), Box::new(move |o| cbs.deliver(o)))
                .map_err(|e| core_error(&e))?;
        let h = Box::into_raw(Box::new(ac_phone { driver }));
        // SAFETY: the caller's contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Stops the phone (ends calls, unregisters briefly, joins its thread) and releases it. No
/// callback runs after it returns. NULL is allowed. Never call it from a callback.
///
/// # Safety
/// `phone` NULL or a handle from [`ac_phone_new`] not yet released, used by no other
/// thread during and after the call.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_free(phone: *mut ac_phone) {
    boundary_or((), || {
        if !phone.is_null() {
            // SAFETY: from `Box::into_raw`, released once per the contract.
            let p = unsafe { Box::from_raw(phone) };
            let _ = p.driver.stop();
        }
    })
}

fn event(phone: *const ac_phone, ev: BoardEvent) -> Result<(), ac_result> {
    // SAFETY: every caller passes its C caller's handle under the same contract.
    let p = unsafe { in_ref(phone) }?;
    p.driver.board_event(ev).map_err(|e| core_error(&e))
}

/// A key went down or up (`key` an `ac_key`, `action` an `ac_key_action`). Never blocks;
/// `AC_RESULT_PHONE_BUSY` when the phone's queue is full.
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_key(phone: *const ac_phone, key: u32, action: u32) -> ac_result {
    boundary(|| {
        let key = ac_key::from_u32(key).ok_or(ac_result::AC_RESULT_INVALID_PARAMETER)?;
        let action =
            ac_key_action::from_u32(action).ok_or(ac_result::AC_RESULT_INVALID_PARAMETER)?;
        event(
            phone,
            BoardEvent::Key(KeyCode::from(key), KeyAction::from(action)),
        )
    })
}

/// The hook switch moved (`state` an `ac_hook`).
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_hook(phone: *const ac_phone, state: u32) -> ac_result {
    boundary(|| {
        let s = ac_hook::from_u32(state).ok_or(ac_result::AC_RESULT_INVALID_PARAMETER)?;
        event(phone, BoardEvent::Hook(HookState::from(s)))
    })
}

/// A headset was plugged in (`connected` true) or out.
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_headset(phone: *const ac_phone, connected: bool) -> ac_result {
    boundary(|| event(phone, BoardEvent::HeadsetConnected(connected)))
}

/// The Ethernet link came up (`up` true) or went down.
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_link(phone: *const ac_phone, up: bool) -> ac_result {
    boundary(|| {
        event(
            phone,
            if up {
                BoardEvent::LinkUp
            } else {
                BoardEvent::LinkDown
            },
        )
    })
}

/// Dials a number or SIP URI as if typed and sent.
///
/// # Safety
/// `phone` a live handle (any thread); `target` valid for `target_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_dial(
    phone: *const ac_phone,
    target: *const c_char,
    target_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let p = unsafe { in_ref(phone) }?;
        let t = unsafe { in_str(target, target_len) }?;
        if t.is_empty() || t.contains(['\r', '\n', '\0']) {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        p.driver.dial(t).map_err(|e| core_error(&e))
    })
}

/// Sends DTMF `digit` (`0`-`9`, `*`, `#`, `A`-`D`) in the active call (RFC 4733).
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_dtmf(phone: *const ac_phone, digit: c_char) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let d = digit as u8 as char;
        if !(d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D')) {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        p.driver.dtmf(d).map_err(|e| core_error(&e))
    })
}

fn call_op(phone: *const ac_phone, op: CallOp) -> Result<(), ac_result> {
    // SAFETY: every caller passes its C caller's handle under the same contract.
    let p = unsafe { in_ref(phone) }?;
    p.driver.call(op).map_err(|e| core_error(&e))
}

/// Answers the ringing call (as the Answer softkey; lifting the handset with
/// [`ac_phone_hook`] answers too).
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_answer(phone: *const ac_phone) -> ac_result {
    boundary(|| call_op(phone, CallOp::Answer))
}

/// Ends (or rejects) the active or ringing call.
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_hangup(phone: *const ac_phone) -> ac_result {
    boundary(|| call_op(phone, CallOp::Hangup))
}

/// Puts the active call on hold (re-INVITE with `a=sendonly`, RFC 3264 8.4).
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_hold(phone: *const ac_phone) -> ac_result {
    boundary(|| call_op(phone, CallOp::Hold))
}

/// Resumes the held call.
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_resume(phone: *const ac_phone) -> ac_result {
    boundary(|| call_op(phone, CallOp::Resume))
}

/// Blind-transfers the active call to a number or SIP URI (REFER, RFC 3515).
///
/// # Safety
/// `phone` a live handle (any thread); `target` valid for `target_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_transfer(
    phone: *const ac_phone,
    target: *const c_char,
    target_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let t = unsafe { in_str(target, target_len) }?;
        if t.is_empty() || t.contains(['\r', '\n', '\0']) {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        call_op(phone, CallOp::Transfer(t.to_string()))
    })
}

/// Run-time feature switches of [`ac_phone_set_feature`].
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ac_phone_feature {
    /// Do not disturb (manual 3.3.5): incoming calls are refused.
    AC_PHONE_FEATURE_DND = 0,
    /// Answer incoming calls automatically (manual 3.3.15).
    AC_PHONE_FEATURE_AUTO_ANSWER = 1,
    /// Accept a second incoming call during a call (manual 3.3.10).
    AC_PHONE_FEATURE_CALL_WAITING = 2,
    /// Refuse a call with 486 Busy Here while in a call.
    AC_PHONE_FEATURE_BUSY_ON_BUSY = 3,
}

/// Switches a feature (`feature` an `ac_phone_feature`) on or off.
///
/// # Safety
/// `phone` a live handle (any thread).
#[no_mangle]
pub unsafe extern "C" fn ac_phone_set_feature(
    phone: *const ac_phone,
    feature: u32,
    on: bool,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let f: Box<dyn FnOnce(&mut ac_core::features::Features) + Send> = match feature {
            0 => Box::new(move |f| f.dnd = on),
            1 => Box::new(move |f| f.auto_answer = on),
            2 => Box::new(move |f| f.call_waiting = on),
            3 => Box::new(move |f| f.busy_on_busy = on),
            _ => return Err(ac_result::AC_RESULT_INVALID_PARAMETER),
        };
        p.driver.update_features(f).map_err(|e| core_error(&e))
    })
}

/// The board's audio thread, every 10 ms: `capture` is the microphone frame, `playback`
/// receives the speaker frame (silence when none is ready). Both are
/// `AC_PHONE_FRAME_SAMPLES` samples of 16 kHz mono. Never blocks.
///
/// # Safety
/// `phone` a live handle (any thread); `capture` valid for reads and `playback` for writes
/// of their lengths in samples.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_audio_capture(
    phone: *const ac_phone,
    capture: *const i16,
    capture_len: usize,
    playback: *mut i16,
    playback_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        if capture.is_null() || playback.is_null() {
            return Err(ac_result::AC_RESULT_NULL_PARAMETER);
        }
        if capture_len != FRAME_SAMPLES || playback_len != FRAME_SAMPLES {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        let mut cap: AudioFrame = [0; FRAME_SAMPLES];
        // SAFETY: `capture` readable for FRAME_SAMPLES samples per the contract.
        cap.copy_from_slice(unsafe { std::slice::from_raw_parts(capture, FRAME_SAMPLES) });
        let mut play: AudioFrame = [0; FRAME_SAMPLES];
        p.driver.audio(&cap, &mut play);
        // SAFETY: `playback` writable for FRAME_SAMPLES samples per the contract.
        unsafe { std::ptr::copy_nonoverlapping(play.as_ptr(), playback, FRAME_SAMPLES) };
        Ok(())
    })
}

/// Fills `*out` with a snapshot of the phone.
///
/// # Safety
/// `phone` a live handle (any thread); `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_status_get(
    phone: *const ac_phone,
    out: *mut ac_phone_status,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let out = Out::new(out)?;
        let s = p.driver.status();
        let q = s.last_quality.unwrap_or_default();
        let v = ac_phone_status {
            stage: s.stage.into(),
            registered: s.registered,
            call_count: s.calls.len(),
            missed_calls: s.missed_calls,
            has_quality: s.last_quality.is_some(),
            last_quality: ac_call_quality {
                mos_lq: q.mos_lq,
                mos_cq: q.mos_cq,
                r_factor: q.r_factor.into(),
                loss_pct: q.loss_pct,
                jitter_ms: q.jitter_ms,
                rtt_ms: q.rtt_ms,
                packets_received: q.packets_received,
            },
        };
        // SAFETY: the caller's contract.
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Fills `*out` with call `index` (0-based) of a fresh snapshot;
/// `AC_RESULT_INDEX_OUT_OF_RANGE` past the last call.
///
/// # Safety
/// `phone` a live handle (any thread); `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_call_get(
    phone: *const ac_phone,
    index: usize,
    out: *mut ac_phone_call,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let out = Out::new(out)?;
        let s = p.driver.status();
        let c = s
            .calls
            .get(index)
            .ok_or(ac_result::AC_RESULT_INDEX_OUT_OF_RANGE)?;
        let v = ac_phone_call {
            id: c.id,
            phase: c.phase.into(),
            incoming: c.incoming,
            packets_sent: c.packets_sent,
            packets_received: c.packets_received,
        };
        // SAFETY: the caller's contract.
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Writes the peer (SIP URI or number) of call `index` as NUL-terminated text.
///
/// # Safety
/// `phone` a live handle (any thread); `buf` valid for writes of `len` bytes; `out_n` for a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_call_peer(
    phone: *const ac_phone,
    index: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let s = p.driver.status();
        let c = s
            .calls
            .get(index)
            .ok_or(ac_result::AC_RESULT_INDEX_OUT_OF_RANGE)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(&c.peer) }
    })
}

/// Writes the negotiated codec of call `index` (`"G722"`, `"PCMU"`...; empty before media) as
/// NUL-terminated text.
///
/// # Safety
/// `phone` a live handle (any thread); `buf` valid for writes of `len` bytes; `out_n` for a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_call_codec(
    phone: *const ac_phone,
    index: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let s = p.driver.status();
        let c = s
            .calls
            .get(index)
            .ok_or(ac_result::AC_RESULT_INDEX_OUT_OF_RANGE)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(&c.codec) }
    })
}

/// Writes the phone's SIP address (`ip:port`) as NUL-terminated text;
/// `AC_RESULT_PHONE_STATE` before the network is up.
///
/// # Safety
/// `phone` a live handle (any thread); `buf` valid for writes of `len` bytes; `out_n` for a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_phone_sip_address(
    phone: *const ac_phone,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let p = unsafe { in_ref(phone) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let a = p
            .driver
            .status()
            .sip_addr
            .ok_or(ac_result::AC_RESULT_PHONE_STATE)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(&a.to_string()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ac_result::*;
    use ac_core::board::DisplayEvent;
    use std::ptr::{null, null_mut};

    #[test]
    fn c_enums_have_the_core_values() {
        fn check<C: Copy + std::fmt::Debug, F: Copy + std::fmt::Debug>(
            pairs: &[(C, F)],
            c: impl Fn(C) -> u32,
            f: impl Fn(F) -> u32,
            from_u32: impl Fn(u32) -> Option<F>,
        ) {
            for &(core, ffi) in pairs {
                assert_eq!(c(core), f(ffi), "{core:?} vs {ffi:?}");
                assert_eq!(from_u32(f(ffi)).map(&f), Some(f(ffi)));
            }
        }
        check(ac_key::PAIRS, |c| c as u32, |f| f as u32, ac_key::from_u32);
        assert_eq!(ac_key::PAIRS.len(), KeyCode::ALL.len());
        check(
            ac_key_action::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_key_action::from_u32,
        );
        check(
            ac_hook::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_hook::from_u32,
        );
        check(
            ac_audio_device::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_audio_device::from_u32,
        );
        check(
            ac_display_kind::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_display_kind::from_u32,
        );
        check(ac_led::PAIRS, |c| c as u32, |f| f as u32, ac_led::from_u32);
        check(
            ac_led_state::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_led_state::from_u32,
        );
        check(
            ac_ringer::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_ringer::from_u32,
        );
        check(
            ac_tone::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_tone::from_u32,
        );
        check(
            ac_boot_stage::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_boot_stage::from_u32,
        );
        check(
            ac_call_phase::PAIRS,
            |c| c as u32,
            |f| f as u32,
            ac_call_phase::from_u32,
        );
        for v in [12u32, 19, 64, 99, 112, u32::MAX] {
            assert_eq!(ac_key::from_u32(v), None, "{v}");
            assert_eq!(KeyCode::from_u32(v), None, "{v}");
        }
    }

    #[derive(Default)]
    struct Seen {
        log: Vec<String>,
    }

    unsafe extern "C" fn on_display(
        u: *mut c_void,
        kind: ac_display_kind,
        call: u32,
        text: *const c_char,
        len: usize,
    ) {
        let seen = unsafe { &mut *u.cast::<Seen>() };
        let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len + 1) };
        assert_eq!(bytes[len], 0, "NUL-terminated");
        let t = std::str::from_utf8(&bytes[..len]).unwrap();
        seen.log.push(format!("display {kind:?} {call} {t}"));
    }
    unsafe extern "C" fn on_led(u: *mut c_void, led: ac_led, state: ac_led_state) {
        unsafe { &mut *u.cast::<Seen>() }
            .log
            .push(format!("led {led:?} {state:?}"));
    }
    unsafe extern "C" fn on_tone(u: *mut c_void, t: ac_tone) {
        unsafe { &mut *u.cast::<Seen>() }
            .log
            .push(format!("tone {t:?}"));
    }
    unsafe extern "C" fn on_restart(u: *mut c_void) {
        unsafe { &mut *u.cast::<Seen>() }.log.push("restart".into());
    }

    #[test]
    fn outputs_reach_the_callbacks_converted() {
        let mut seen = Seen::default();
        let mut cbs = Callbacks {
            cb: ac_phone_callbacks {
                display: Some(on_display),
                led: Some(on_led),
                ringer: None,
                tone: Some(on_tone),
                audio_route: None,
                restart: Some(on_restart),
            },
            userdata: (&mut seen as *mut Seen).cast(),
        };
        cbs.deliver(BoardOutput::Display(DisplayEvent {
            kind: DisplayKind::Incoming,
            call: 3,
            text: "sip:bob@example.com".into(),
        }));
        cbs.deliver(BoardOutput::Display(DisplayEvent {
            kind: DisplayKind::Notice,
            call: 0,
            text: "cut\0here".into(),
        }));
        cbs.deliver(BoardOutput::Led(LedId::Function12, LedState::FastFlash));
        cbs.deliver(BoardOutput::Tone(Tone::Busy));
        // No callback registered: dropped.
        cbs.deliver(BoardOutput::Ringer(Ringer::Ring));
        cbs.deliver(BoardOutput::AudioRoute(AudioDevice::Headset));
        cbs.deliver(BoardOutput::Restart);
        assert_eq!(
            seen.log,
            [
                "display AC_DISPLAY_INCOMING 3 sip:bob@example.com",
                "display AC_DISPLAY_NOTICE 0 cut",
                "led AC_LED_FUNCTION_12 AC_LED_STATE_FAST_FLASH",
                "tone AC_TONE_BUSY",
                "restart",
            ]
        );
    }

    #[test]
    fn every_phone_entry_point_refuses_null() {
        let mut buf = [0 as c_char; 8];
        let mut n = 0usize;
        let t = b"x".as_ptr().cast::<c_char>();
        let o = null_mut::<ac_phone_options>();
        let p = null::<ac_phone>();
        let results = unsafe {
            [
                ac_phone_options_set_static_address(o, t, 1),
                ac_phone_options_set_dhcp_interface(o, t, 1),
                ac_phone_options_set_sign_in(o, t, 1, t, 1, t, 1),
                ac_phone_options_set_display_name(o, t, 1),
                ac_phone_options_set_mac(o, b"123456".as_ptr(), 6),
                ac_phone_options_set_sip_port(o, 1),
                ac_phone_options_set_rtp_base_port(o, 2),
                ac_phone_options_add_ca_pem(o, t.cast(), 1),
                ac_phone_options_set_state_dir(o, t, 1),
                ac_phone_options_set_boot_timeout_ms(o, 1),
                ac_phone_options_set_seed(o, 1),
                ac_phone_key(p, 1, 1),
                ac_phone_hook(p, 1),
                ac_phone_headset(p, true),
                ac_phone_link(p, false),
                ac_phone_dial(p, t, 1),
                ac_phone_dtmf(p, b'1' as c_char),
                ac_phone_answer(p),
                ac_phone_hangup(p),
                ac_phone_hold(p),
                ac_phone_resume(p),
                ac_phone_transfer(p, t, 1),
                ac_phone_set_feature(p, 0, true),
                ac_phone_audio_capture(p, [0i16; 160].as_ptr(), 160, [0i16; 160].as_mut_ptr(), 160),
                ac_phone_status_get(p, &mut std::mem::zeroed()),
                ac_phone_call_get(p, 0, &mut std::mem::zeroed()),
                ac_phone_call_peer(p, 0, buf.as_mut_ptr(), 8, &mut n),
                ac_phone_call_codec(p, 0, buf.as_mut_ptr(), 8, &mut n),
                ac_phone_sip_address(p, buf.as_mut_ptr(), 8, &mut n),
            ]
        };
        for (i, r) in results.into_iter().enumerate() {
            assert_eq!(r, AC_RESULT_NULL_PARAMETER, "entry {i}");
        }
        // And NULL text arguments with a live options handle.
        let o = options();
        unsafe {
            assert_eq!(
                ac_phone_options_set_display_name(o, null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_options_set_mac(o, null(), 6),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_options_add_ca_pem(o, null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_options_set_state_dir(o, null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_options_set_dhcp_interface(o, null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            ac_phone_options_free(o);
        }
    }

    fn options() -> *mut ac_phone_options {
        let mut o = null_mut();
        assert_eq!(unsafe { ac_phone_options_new(&mut o) }, AC_RESULT_OK);
        o
    }

    fn s(t: &str) -> (*const c_char, usize) {
        (t.as_ptr().cast(), t.len())
    }

    #[test]
    fn options_refuse_bad_values() {
        let o = options();
        unsafe {
            let (p, n) = s("192.0.2.10");
            assert_eq!(ac_phone_options_set_static_address(o, p, n), AC_RESULT_OK);
            let (p, n) = s("::1");
            assert_eq!(ac_phone_options_set_static_address(o, p, n), AC_RESULT_OK);
            let (p, n) = s("999.1.1.1");
            assert_eq!(
                ac_phone_options_set_static_address(o, p, n),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(
                ac_phone_options_set_static_address(o, null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_options_set_static_address(null_mut(), p, n),
                AC_RESULT_NULL_PARAMETER
            );
            let (p, n) = s("eth0");
            assert_eq!(ac_phone_options_set_dhcp_interface(o, p, n), AC_RESULT_OK);
            assert!(
                matches!((*o).opts.network, NetworkMode::Dhcp { ref interface } if interface == "eth0")
            );
            for bad in ["", "a/b", "a b", "sixteen-chars-xx"] {
                let (p, n) = s(bad);
                assert_eq!(
                    ac_phone_options_set_dhcp_interface(o, p, n),
                    AC_RESULT_INVALID_PARAMETER,
                    "{bad}"
                );
            }
            let (a, an) = s("sip:alice@example.com");
            let (u, un) = s("alice");
            let (w, wn) = s("pw");
            assert_eq!(
                ac_phone_options_set_sign_in(o, a, an, u, un, w, wn),
                AC_RESULT_OK
            );
            assert_eq!((*o).opts.sign_in.aor, "sip:alice@example.com");
            let (b, bn) = s("alice@example.com");
            assert_eq!(
                ac_phone_options_set_sign_in(o, b, bn, u, un, w, wn),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(
                ac_phone_options_set_sign_in(o, a, an, b"\xff".as_ptr().cast(), 1, w, wn),
                AC_RESULT_INVALID_UTF8
            );
            assert_eq!(
                ac_phone_options_set_sign_in(o, a, an, u, un, null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            let (d, dn) = s("Alice");
            assert_eq!(ac_phone_options_set_display_name(o, d, dn), AC_RESULT_OK);
            let (d, dn) = s("A\r\nB: x");
            assert_eq!(
                ac_phone_options_set_display_name(o, d, dn),
                AC_RESULT_INVALID_PARAMETER
            );
            let mac = [2u8, 0, 0, 0, 0, 9];
            assert_eq!(ac_phone_options_set_mac(o, mac.as_ptr(), 6), AC_RESULT_OK);
            assert_eq!((*o).opts.mac, mac);
            assert_eq!(
                ac_phone_options_set_mac(o, mac.as_ptr(), 5),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(ac_phone_options_set_sip_port(o, 5062), AC_RESULT_OK);
            assert_eq!(
                ac_phone_options_set_sip_port(null_mut(), 5062),
                AC_RESULT_NULL_PARAMETER
            );
            let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
            assert_eq!(
                ac_phone_options_add_ca_pem(o, pem.as_ptr(), pem.len()),
                AC_RESULT_OK
            );
            assert_eq!(
                ac_phone_options_add_ca_pem(o, b"junk".as_ptr(), 4),
                AC_RESULT_INVALID_PARAMETER
            );
            let (p, n) = s("/var/lib/phone");
            assert_eq!(ac_phone_options_set_state_dir(o, p, n), AC_RESULT_OK);
            assert_eq!(
                ac_phone_options_set_boot_timeout_ms(o, 0),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(ac_phone_options_set_boot_timeout_ms(o, 1500), AC_RESULT_OK);
            assert_eq!((*o).opts.boot_timeout, Duration::from_millis(1500));
            assert_eq!(ac_phone_options_set_seed(o, 7), AC_RESULT_OK);
            assert_eq!(
                ac_phone_options_set_rtp_base_port(o, 40001),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(ac_phone_options_set_rtp_base_port(o, 40000), AC_RESULT_OK);
            assert_eq!((*o).opts.rtp_base_port, Some(40000));
            assert_eq!(ac_phone_options_new(null_mut()), AC_RESULT_NULL_PARAMETER);
            ac_phone_options_free(o);
            ac_phone_options_free(null_mut());
        }
    }

    fn cfg(text: &[u8]) -> *mut ac_cfg {
        let mut c = null_mut();
        assert_eq!(
            unsafe { crate::cfg::ac_cfg_parse(text.as_ptr(), text.len(), &mut c) },
            AC_RESULT_OK
        );
        c
    }

    const NO_CALLBACKS: ac_phone_callbacks = ac_phone_callbacks {
        display: None,
        led: None,
        ringer: None,
        tone: None,
        audio_route: None,
        restart: None,
    };

    fn new_phone(
        c: *const ac_cfg,
        model: &str,
        o: *const ac_phone_options,
    ) -> Result<*mut ac_phone, ac_result> {
        let mut p = null_mut();
        let (m, mn) = s(model);
        match unsafe { ac_phone_new(c, m, mn, o, &NO_CALLBACKS, null_mut(), &mut p) } {
            AC_RESULT_OK => Ok(p),
            e => {
                assert!(p.is_null());
                Err(e)
            }
        }
    }

    #[test]
    fn new_refuses_bad_configuration_and_arguments() {
        let o = options();
        let bad = cfg(b"network/lan_type=BANANA\n");
        assert_eq!(
            new_phone(bad, "440HD", o),
            Err(AC_RESULT_PHONE_CONFIG_INVALID)
        );
        let good = cfg(b"");
        assert_eq!(new_phone(good, "", o), Err(AC_RESULT_CFG_UNKNOWN_MODEL));
        assert_eq!(new_phone(good, "999", o), Err(AC_RESULT_CFG_UNKNOWN_MODEL));
        assert_eq!(new_phone(null(), "440HD", o), Err(AC_RESULT_NULL_PARAMETER));
        assert_eq!(
            new_phone(good, "440HD", null()),
            Err(AC_RESULT_NULL_PARAMETER)
        );
        let mut p = null_mut();
        let (m, mn) = s("440HD");
        unsafe {
            assert_eq!(
                ac_phone_new(good, m, mn, o, null(), null_mut(), &mut p),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_new(good, m, mn, o, &NO_CALLBACKS, null_mut(), null_mut()),
                AC_RESULT_NULL_PARAMETER
            );
            crate::cfg::ac_cfg_free(bad);
            crate::cfg::ac_cfg_free(good);
            ac_phone_options_free(o);
        }
    }

    #[test]
    fn phone_calls_check_their_arguments() {
        let o = options();
        let c = cfg(b"");
        let p = new_phone(c, "440HD", o).unwrap();
        unsafe {
            crate::cfg::ac_cfg_free(c);
            ac_phone_options_free(o);
            assert_eq!(
                ac_phone_key(p, ac_key::AC_KEY_DIGIT_5 as u32, 1),
                AC_RESULT_OK
            );
            assert_eq!(
                ac_phone_key(p, ac_key::AC_KEY_DIGIT_5 as u32, 0),
                AC_RESULT_OK
            );
            assert_eq!(ac_phone_key(p, 12, 1), AC_RESULT_INVALID_PARAMETER);
            assert_eq!(ac_phone_key(p, 1, 2), AC_RESULT_INVALID_PARAMETER);
            assert_eq!(ac_phone_key(null(), 1, 1), AC_RESULT_NULL_PARAMETER);
            assert_eq!(ac_phone_hook(p, 1), AC_RESULT_OK);
            assert_eq!(ac_phone_hook(p, 0), AC_RESULT_OK);
            assert_eq!(ac_phone_hook(p, 7), AC_RESULT_INVALID_PARAMETER);
            assert_eq!(ac_phone_headset(p, true), AC_RESULT_OK);
            assert_eq!(ac_phone_link(p, true), AC_RESULT_OK);
            assert_eq!(ac_phone_link(null(), true), AC_RESULT_NULL_PARAMETER);
            assert_eq!(
                ac_phone_dtmf(p, b'Z' as c_char),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(
                ac_phone_dtmf(null(), b'1' as c_char),
                AC_RESULT_NULL_PARAMETER
            );
            let (t, tn) = s("sip:x@y\r\nVia: evil");
            assert_eq!(ac_phone_dial(p, t, tn), AC_RESULT_INVALID_PARAMETER);
            assert_eq!(
                ac_phone_dial(p, b"".as_ptr().cast(), 0),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(ac_phone_dial(p, null(), 0), AC_RESULT_NULL_PARAMETER);
            assert_eq!(ac_phone_transfer(p, t, tn), AC_RESULT_INVALID_PARAMETER);
            assert_eq!(ac_phone_transfer(p, null(), 0), AC_RESULT_NULL_PARAMETER);
            assert_eq!(ac_phone_hold(null()), AC_RESULT_NULL_PARAMETER);
            assert_eq!(ac_phone_answer(null()), AC_RESULT_NULL_PARAMETER);
            assert_eq!(
                ac_phone_set_feature(p, 99, true),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(
                ac_phone_set_feature(p, ac_phone_feature::AC_PHONE_FEATURE_DND as u32, true),
                AC_RESULT_OK
            );
            assert_eq!(
                ac_phone_set_feature(null(), 0, true),
                AC_RESULT_NULL_PARAMETER
            );

            let cap = [100i16; 160];
            let mut play = [7i16; 160];
            assert_eq!(
                ac_phone_audio_capture(p, cap.as_ptr(), 160, play.as_mut_ptr(), 160),
                AC_RESULT_OK
            );
            assert_eq!(play, [0; 160], "silence when nothing is ready");
            assert_eq!(
                ac_phone_audio_capture(p, cap.as_ptr(), 159, play.as_mut_ptr(), 160),
                AC_RESULT_INVALID_PARAMETER
            );
            assert_eq!(
                ac_phone_audio_capture(p, null(), 160, play.as_mut_ptr(), 160),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_phone_audio_capture(p, cap.as_ptr(), 160, null_mut(), 160),
                AC_RESULT_NULL_PARAMETER
            );

            let mut st = std::mem::MaybeUninit::<ac_phone_status>::uninit();
            assert_eq!(ac_phone_status_get(p, st.as_mut_ptr()), AC_RESULT_OK);
            assert_eq!(ac_phone_status_get(p, null_mut()), AC_RESULT_NULL_PARAMETER);
            let mut call = std::mem::MaybeUninit::<ac_phone_call>::uninit();
            assert_eq!(
                ac_phone_call_get(p, 1000, call.as_mut_ptr()),
                AC_RESULT_INDEX_OUT_OF_RANGE
            );
            let mut buf = [0 as c_char; 64];
            let mut n = 0;
            assert_eq!(
                ac_phone_call_peer(p, 1000, buf.as_mut_ptr(), 64, &mut n),
                AC_RESULT_INDEX_OUT_OF_RANGE
            );
            assert_eq!(
                ac_phone_sip_address(p, null_mut(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            ac_phone_free(p);
            ac_phone_free(null_mut());
        }
    }
}
