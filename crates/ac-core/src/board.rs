//! The board interface: what the vendor's C board layer feeds the phone and what the phone
//! asks the board to do.
//!
//! Every type here is plain and C-representable (fieldless enums with explicit `#[repr(u32)]`
//! discriminants, small structs of integers; the only owned data is the UTF-8 text of a
//! display event), so `ac-ffi` maps them one to one to C.
//!
//! Audio: the board's audio thread exchanges [`FRAME_SAMPLES`]-sample frames (10 ms of
//! 16 kHz, 16-bit signed mono PCM) with the phone: one microphone frame in, one speaker frame
//! out, every 10 ms (manual 3.3.14: wideband G.722 runs at 16 kHz; G.711 calls are
//! resampled to and from 8 kHz inside the phone).

/// Board audio sample rate, Hz.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples in one 10 ms board audio frame.
pub const FRAME_SAMPLES: usize = 160;
/// Duration of one board audio frame, ms.
pub const FRAME_MS: u32 = 10;

/// One 10 ms frame of 16 kHz mono PCM.
pub type AudioFrame = [i16; FRAME_SAMPLES];

/// A key of the phone's keypad and hard/soft keys (manual 3.2.3-3.2.5: 405HD/420HD have
/// function keys, 430HD/440HD/445HD programmable keys, 450HD a key expansion).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyCode {
    Digit0 = 0,
    Digit1 = 1,
    Digit2 = 2,
    Digit3 = 3,
    Digit4 = 4,
    Digit5 = 5,
    Digit6 = 6,
    Digit7 = 7,
    Digit8 = 8,
    Digit9 = 9,
    Star = 10,
    Pound = 11,
    /// Navigation.
    Up = 20,
    Down = 21,
    Left = 22,
    Right = 23,
    Ok = 24,
    /// Cancel / back.
    Cancel = 25,
    Menu = 26,
    /// Softkeys under the display, left to right.
    Softkey1 = 30,
    Softkey2 = 31,
    Softkey3 = 32,
    Softkey4 = 33,
    /// Hard feature keys.
    Hold = 40,
    Transfer = 41,
    Conference = 42,
    Redial = 43,
    Mute = 44,
    Speaker = 45,
    Headset = 46,
    VolumeUp = 47,
    VolumeDown = 48,
    Voicemail = 49,
    Contacts = 50,
    /// Call log / history.
    Log = 51,
    /// Do Not Disturb toggle.
    Dnd = 52,
    /// Line keys (one per call appearance).
    Line1 = 60,
    Line2 = 61,
    Line3 = 62,
    Line4 = 63,
    /// Function / programmable keys 1..=12 (`personal_settings/functional_key/{0..11}`).
    Function1 = 100,
    Function2 = 101,
    Function3 = 102,
    Function4 = 103,
    Function5 = 104,
    Function6 = 105,
    Function7 = 106,
    Function8 = 107,
    Function9 = 108,
    Function10 = 109,
    Function11 = 110,
    Function12 = 111,
}

impl KeyCode {
    /// Every key, for parsers and the C mapping.
    pub const ALL: [KeyCode; 52] = [
        KeyCode::Digit0,
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
        KeyCode::Digit6,
        KeyCode::Digit7,
        KeyCode::Digit8,
        KeyCode::Digit9,
        KeyCode::Star,
        KeyCode::Pound,
        KeyCode::Up,
        KeyCode::Down,
        KeyCode::Left,
        KeyCode::Right,
        KeyCode::Ok,
        KeyCode::Cancel,
        KeyCode::Menu,
        KeyCode::Softkey1,
        KeyCode::Softkey2,
        KeyCode::Softkey3,
        KeyCode::Softkey4,
        KeyCode::Hold,
        KeyCode::Transfer,
        KeyCode::Conference,
        KeyCode::Redial,
        KeyCode::Mute,
        KeyCode::Speaker,
        KeyCode::Headset,
        KeyCode::VolumeUp,
        KeyCode::VolumeDown,
        KeyCode::Voicemail,
        KeyCode::Contacts,
        KeyCode::Log,
        KeyCode::Dnd,
        KeyCode::Line1,
        KeyCode::Line2,
        KeyCode::Line3,
        KeyCode::Line4,
        KeyCode::Function1,
        KeyCode::Function2,
        KeyCode::Function3,
        KeyCode::Function4,
        KeyCode::Function5,
        KeyCode::Function6,
        KeyCode::Function7,
        KeyCode::Function8,
        KeyCode::Function9,
        KeyCode::Function10,
        KeyCode::Function11,
        KeyCode::Function12,
    ];

    /// The key with this discriminant (`None` for an unknown code from C).
    pub fn from_u32(v: u32) -> Option<KeyCode> {
        KeyCode::ALL.into_iter().find(|k| *k as u32 == v)
    }

    /// The dial-pad character of a digit key.
    pub fn digit(self) -> Option<char> {
        match self as u32 {
            d @ 0..=9 => char::from_digit(d, 10),
            10 => Some('*'),
            11 => Some('#'),
            _ => None,
        }
    }

    /// The dial-pad key of a character.
    pub fn from_digit(c: char) -> Option<KeyCode> {
        match c {
            '0'..='9' => KeyCode::from_u32(c as u32 - '0' as u32),
            '*' => Some(KeyCode::Star),
            '#' => Some(KeyCode::Pound),
            _ => None,
        }
    }

    /// Index 0..=11 of a function key.
    pub fn function_index(self) -> Option<usize> {
        let v = self as u32;
        (100..=111).contains(&v).then(|| (v - 100) as usize)
    }
}

/// Key pressed or released.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAction {
    Released = 0,
    Pressed = 1,
}

/// Handset hook switch.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookState {
    /// Handset in its cradle.
    OnHook = 0,
    /// Handset lifted.
    OffHook = 1,
}

/// An audio device (manual 3.3.4.4 "Default Audio Device").
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioDevice {
    /// No audio path (idle).
    None = 0,
    Handset = 1,
    Speaker = 2,
    Headset = 3,
}

/// Inputs from the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoardEvent {
    /// A key went down or up.
    Key(KeyCode, KeyAction),
    /// The hook switch moved.
    Hook(HookState),
    /// A headset was plugged (`true`) or unplugged.
    HeadsetConnected(bool),
    /// The Ethernet link came up.
    LinkUp,
    /// The Ethernet link went down.
    LinkDown,
}

/// What a display event shows (the board lays it out; the text is its content).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisplayKind {
    /// Boot progress: text names the stage ("Network", "Provisioning", "Time", "Registering").
    Boot = 0,
    /// Idle screen; text is the line's identity (or "Not registered").
    Idle = 1,
    /// Dialing; text is the digits entered so far.
    Dialing = 2,
    /// Outgoing call in progress; text is the callee.
    Calling = 3,
    /// Outgoing call ringing at the far end; text is the callee.
    Ringback = 4,
    /// Incoming call; text is the caller.
    Incoming = 5,
    /// Second incoming call while in a call (call waiting); text is the caller.
    CallWaiting = 6,
    /// Call connected; text is the peer.
    Connected = 7,
    /// Call held by us; text is the peer.
    Held = 8,
    /// Call held by the peer; text is the peer.
    RemoteHeld = 9,
    /// Call ended; text is the reason.
    Ended = 10,
    /// A transient notice (feature toggled, error); text is the message.
    Notice = 11,
    /// The phone is locked (manual 4.9); text is the hint.
    Locked = 12,
    /// A missed-calls counter; text is the number.
    MissedCalls = 13,
    /// Received DTMF digit (for tests and diagnostics); text is the digit.
    Dtmf = 14,
    /// Call quality at the end of a call (RTCP-XR): text is "MOS-LQ x.x R=yy loss=z% jitter=w ms".
    Quality = 15,
}

/// A display update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayEvent {
    pub kind: DisplayKind,
    /// Call (line appearance) it is about, 0 when none.
    pub call: u32,
    pub text: String,
}

/// LEDs.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedId {
    /// Message waiting indicator (also flashes for an incoming call on most models).
    Mwi = 0,
    Speaker = 1,
    Headset = 2,
    Mute = 3,
    Hold = 4,
    Dnd = 5,
    Line1 = 10,
    Line2 = 11,
    Line3 = 12,
    Line4 = 13,
    /// Function key LEDs 1..=12 (speed dial + BLF).
    Function1 = 100,
    Function2 = 101,
    Function3 = 102,
    Function4 = 103,
    Function5 = 104,
    Function6 = 105,
    Function7 = 106,
    Function8 = 107,
    Function9 = 108,
    Function10 = 109,
    Function11 = 110,
    Function12 = 111,
}

impl LedId {
    /// The LED of function key `i` (0..=11).
    pub fn function(i: usize) -> Option<LedId> {
        const F: [LedId; 12] = [
            LedId::Function1,
            LedId::Function2,
            LedId::Function3,
            LedId::Function4,
            LedId::Function5,
            LedId::Function6,
            LedId::Function7,
            LedId::Function8,
            LedId::Function9,
            LedId::Function10,
            LedId::Function11,
            LedId::Function12,
        ];
        F.get(i).copied()
    }

    /// The LED of line key `i` (0..=3).
    pub fn line(i: usize) -> Option<LedId> {
        [LedId::Line1, LedId::Line2, LedId::Line3, LedId::Line4]
            .get(i)
            .copied()
    }
}

/// LED states.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedState {
    Off = 0,
    On = 1,
    /// Slow flash (held call, message waiting).
    SlowFlash = 2,
    /// Fast flash (incoming call).
    FastFlash = 3,
}

/// Ringer (the loudspeaker ring for an incoming call).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ringer {
    Off = 0,
    /// The configured ring tone.
    Ring = 1,
    /// A short ring splash (forwarded call, auto-answer).
    Splash = 2,
}

/// Call progress tones (manual 3.2.6 CPT): the board's tone generator plays them into the
/// active audio device until the next `Tone` output.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    Off = 0,
    Dial = 1,
    Ringback = 2,
    Busy = 3,
    /// Call waiting beep (manual 3.3.10 call waiting tone).
    CallWaiting = 4,
    /// Reorder / fast busy (call failed, no network).
    Reorder = 5,
    /// Stutter dial tone (message waiting / DND / forward active).
    Stutter = 6,
}

/// Outputs to the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardOutput {
    Display(DisplayEvent),
    Led(LedId, LedState),
    Ringer(Ringer),
    Tone(Tone),
    /// Where the call audio goes now.
    AudioRoute(AudioDevice),
    /// The phone asks the board to bring the network interface up again (e.g. after a
    /// configuration that changes VLAN or addressing).
    Restart,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_codes_round_trip_through_u32() {
        for k in KeyCode::ALL {
            assert_eq!(KeyCode::from_u32(k as u32), Some(k));
        }
        assert_eq!(KeyCode::from_u32(999), None);
        assert_eq!(KeyCode::from_digit('7'), Some(KeyCode::Digit7));
        assert_eq!(KeyCode::Pound.digit(), Some('#'));
        assert_eq!(KeyCode::Function3.function_index(), Some(2));
        assert_eq!(KeyCode::Hold.function_index(), None);
        assert_eq!(LedId::function(11), Some(LedId::Function12));
        assert_eq!(LedId::function(12), None);
    }
}
