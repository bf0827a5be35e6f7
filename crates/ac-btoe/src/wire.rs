//! Frame formats of the BToE protocol (docs/btoe-protocol.md gives the byte layouts).
//!
//! Every frame has a parser that checks every length and enumerated value against the
//! input (a typed [`WireError`], never a panic or an allocation larger than the input) and
//! an emitter; `parse(emit(x)) == x` for every frame (proptests and fuzz targets).
//!
//! * [`Announce`]: discovery datagram on UDP 9999.
//! * [`Record`]: the control-channel record on TCP (type, length, body).
//! * [`ClientHello`], [`ServerHello`], [`ClientFinish`], [`Alert`]: handshake record bodies.
//! * [`AppMessage`]: the plaintext inside an encrypted `Data` record.
//! * [`AudioHeader`]: the clear header of an audio datagram on UDP TcpPortNumber-1.

use crate::error::WireError;

/// Protocol versions this implementation speaks (docs/btoe-protocol.md section 3).
pub const MIN_VERSION: u8 = 1;
/// Highest protocol version this implementation speaks.
pub const MAX_VERSION: u8 = 1;
/// Discovery magic.
pub const MAGIC: &[u8; 4] = b"BTOE";
/// Largest record body (an encrypted message of up to 4096 bytes plus the tag).
pub const MAX_RECORD_BODY: usize = 4096 + 16;
/// Record header length.
pub const RECORD_HEADER: usize = 3;
/// Length of a SPAKE2 message (side byte plus an Ed25519 point).
pub const PAKE_MSG_LEN: usize = 33;
/// Longest dial string / remote party.
pub const MAX_NUMBER: usize = 64;
/// Longest display name.
pub const MAX_NAME: usize = 64;
/// Audio header length.
pub const AUDIO_HEADER: usize = 20;
/// Largest audio payload (plaintext).
pub const MAX_AUDIO_PAYLOAD: usize = 1280;
/// Most calls in a status reply.
pub const MAX_CALLS: usize = 8;

/// A bounds-checked reader.
struct Rd<'a> {
    b: &'a [u8],
    what: &'static str,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8], what: &'static str) -> Self {
        Rd { b, what }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.b.len() < n {
            return Err(WireError::Truncated(self.what));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// A byte string with a one-byte length, at most `max`.
    fn vec8(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let n = usize::from(self.u8()?);
        if n > max {
            return Err(WireError::TooLong(what));
        }
        self.take(n)
    }
    fn end(self) -> Result<(), WireError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.b.len()))
        }
    }
}

fn put_vec8(out: &mut Vec<u8>, v: &[u8]) {
    // Emitters are only given values that passed validation (constructors check lengths);
    // clamp defensively so an emitted frame always parses.
    let n = v.len().min(255);
    out.push(n as u8);
    out.extend_from_slice(&v[..n]);
}

/// A dial string or remote party: 1..=64 bytes of `0-9 A-Z a-z + * # @ . : _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// Checks the characters and the length.
    pub fn new(s: &str) -> Result<Number, WireError> {
        if s.is_empty() || s.len() > MAX_NUMBER {
            return Err(WireError::Invalid("number length"));
        }
        if !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+*#@.:_-".contains(&c))
        {
            return Err(WireError::Invalid("number character"));
        }
        Ok(Number(s.to_string()))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_name(b: &[u8]) -> Result<String, WireError> {
    let s = std::str::from_utf8(b).map_err(|_| WireError::Invalid("name utf-8"))?;
    if s.chars().any(char::is_control) {
        return Err(WireError::Invalid("name control character"));
    }
    Ok(s.to_string())
}

/// A display name (UTF-8 without control characters, at most 64 bytes).
pub fn check_name(s: &str) -> Result<(), WireError> {
    if s.len() > MAX_NAME {
        return Err(WireError::TooLong("name"));
    }
    parse_name(s.as_bytes()).map(|_| ())
}

// ---------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------

/// Discovery datagram type: a phone announces itself on its PC port.
pub const DISC_ANNOUNCE: u8 = 1;

/// The phone's announcement on UDP 9999 (automatic pairing, manual 4.11.7 and 4.11.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub min_version: u8,
    pub max_version: u8,
    /// Automatic pairing offered (sent on the PC port).
    pub auto: bool,
    /// Manual pairing with a pair code allowed (`pairing_mode=BOTH`).
    pub manual: bool,
    pub tcp_port: u16,
    /// Random per boot; lets a PC tell phones apart.
    pub phone_id: [u8; 16],
    /// Fresh random token a PC echoes in an automatic-mode hello.
    pub token: [u8; 16],
    pub name: String,
}

impl Announce {
    /// Parses a datagram.
    pub fn parse(b: &[u8]) -> Result<Announce, WireError> {
        let mut r = Rd::new(b, "announce");
        if &r.arr::<4>()? != MAGIC {
            return Err(WireError::BadMagic);
        }
        let fmt = r.u8()?;
        if fmt != 1 {
            return Err(WireError::Unknown {
                what: "discovery format",
                value: fmt,
            });
        }
        let ty = r.u8()?;
        if ty != DISC_ANNOUNCE {
            return Err(WireError::Unknown {
                what: "discovery type",
                value: ty,
            });
        }
        let flags = r.u8()?;
        if flags & !3 != 0 {
            return Err(WireError::Invalid("announce flags"));
        }
        let _reserved = r.u8()?;
        let min_version = r.u8()?;
        let max_version = r.u8()?;
        if min_version == 0 || min_version > max_version {
            return Err(WireError::Invalid("version range"));
        }
        let tcp_port = r.u16()?;
        if tcp_port < 2 {
            return Err(WireError::Invalid("tcp port"));
        }
        let phone_id = r.arr()?;
        let token = r.arr()?;
        let name = parse_name(r.vec8(MAX_NAME, "name")?)?;
        r.end()?;
        Ok(Announce {
            min_version,
            max_version,
            auto: flags & 1 != 0,
            manual: flags & 2 != 0,
            tcp_port,
            phone_id,
            token,
            name,
        })
    }

    /// Emits the datagram.
    pub fn emit(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(48 + self.name.len());
        o.extend_from_slice(MAGIC);
        o.push(1);
        o.push(DISC_ANNOUNCE);
        o.push(u8::from(self.auto) | (u8::from(self.manual) << 1));
        o.push(0);
        o.push(self.min_version);
        o.push(self.max_version);
        o.extend_from_slice(&self.tcp_port.to_be_bytes());
        o.extend_from_slice(&self.phone_id);
        o.extend_from_slice(&self.token);
        put_vec8(&mut o, self.name.as_bytes());
        o
    }
}

// ---------------------------------------------------------------------------------------
// Control records
// ---------------------------------------------------------------------------------------

/// Record types on the control channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    ClientHello = 1,
    ServerHello = 2,
    ClientFinish = 3,
    Alert = 4,
    Data = 0x17,
}

impl RecordType {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => RecordType::ClientHello,
            2 => RecordType::ServerHello,
            3 => RecordType::ClientFinish,
            4 => RecordType::Alert,
            0x17 => RecordType::Data,
            _ => {
                return Err(WireError::Unknown {
                    what: "record type",
                    value: v,
                })
            }
        })
    }
}

/// A control-channel record: `type u8 | length u16 | body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ty: RecordType,
    pub body: Vec<u8>,
}

impl Record {
    /// Looks at the start of a byte stream: `Ok(Some((record, used)))` for a whole record,
    /// `Ok(None)` if more bytes are needed, an error for a bad type or length (the stream
    /// is then unusable).
    pub fn parse_stream(b: &[u8]) -> Result<Option<(Record, usize)>, WireError> {
        if b.is_empty() {
            return Ok(None);
        }
        let ty = RecordType::from_u8(b[0])?;
        if b.len() < RECORD_HEADER {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([b[1], b[2]]));
        if len > MAX_RECORD_BODY {
            return Err(WireError::TooLong("record"));
        }
        if b.len() < RECORD_HEADER + len {
            return Ok(None);
        }
        Ok(Some((
            Record {
                ty,
                body: b[RECORD_HEADER..RECORD_HEADER + len].to_vec(),
            },
            RECORD_HEADER + len,
        )))
    }

    /// Parses exactly one record.
    pub fn parse(b: &[u8]) -> Result<Record, WireError> {
        match Record::parse_stream(b)? {
            Some((r, used)) if used == b.len() => Ok(r),
            Some((_, used)) => Err(WireError::Trailing(b.len() - used)),
            None => Err(WireError::Truncated("record")),
        }
    }

    /// The 3-byte header of a record of this type and body length.
    pub fn header(ty: RecordType, len: usize) -> [u8; 3] {
        let l = (len.min(MAX_RECORD_BODY) as u16).to_be_bytes();
        [ty as u8, l[0], l[1]]
    }

    /// Emits the record.
    pub fn emit(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(RECORD_HEADER + self.body.len());
        o.extend_from_slice(&Record::header(self.ty, self.body.len()));
        o.extend_from_slice(&self.body[..self.body.len().min(MAX_RECORD_BODY)]);
        o
    }
}

/// How a PC authenticates in its hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Automatic pairing on the phone's PC port; the ident is the announce token.
    Auto = 1,
    /// Manual pairing with the 8-character pair code; no ident.
    Code = 2,
    /// Reconnect of an established pairing; the ident is the pairing id.
    Resume = 3,
}

impl Mode {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => Mode::Auto,
            2 => Mode::Code,
            3 => Mode::Resume,
            _ => {
                return Err(WireError::Unknown {
                    what: "mode",
                    value: v,
                })
            }
        })
    }
}

/// First handshake record, PC to phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub min_version: u8,
    pub max_version: u8,
    pub mode: Mode,
    pub nonce: [u8; 16],
    /// Announce token (Auto) or pairing id (Resume).
    pub ident: Option<[u8; 16]>,
    /// SPAKE2 message A (33 bytes).
    pub pake: Vec<u8>,
    pub name: String,
}

impl ClientHello {
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Rd::new(b, "client hello");
        let min_version = r.u8()?;
        let max_version = r.u8()?;
        if min_version == 0 || min_version > max_version {
            return Err(WireError::Invalid("version range"));
        }
        let mode = Mode::from_u8(r.u8()?)?;
        let nonce = r.arr()?;
        let ident_len = r.u8()?;
        let ident = match (mode, ident_len) {
            (Mode::Code, 0) => None,
            (Mode::Auto | Mode::Resume, 16) => Some(r.arr()?),
            _ => return Err(WireError::Invalid("ident length")),
        };
        let pake = r.vec8(PAKE_MSG_LEN, "pake")?;
        if pake.len() != PAKE_MSG_LEN {
            return Err(WireError::Invalid("pake length"));
        }
        let pake = pake.to_vec();
        let name = parse_name(r.vec8(MAX_NAME, "name")?)?;
        r.end()?;
        Ok(ClientHello {
            min_version,
            max_version,
            mode,
            nonce,
            ident,
            pake,
            name,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut o = vec![self.min_version, self.max_version, self.mode as u8];
        o.extend_from_slice(&self.nonce);
        match &self.ident {
            Some(i) => put_vec8(&mut o, i),
            None => o.push(0),
        }
        put_vec8(&mut o, &self.pake);
        put_vec8(&mut o, self.name.as_bytes());
        o
    }
}

/// Second handshake record, phone to PC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    /// The negotiated version.
    pub version: u8,
    pub session_id: u32,
    pub nonce: [u8; 16],
    /// SPAKE2 message B.
    pub pake: Vec<u8>,
    /// Phone key confirmation (HMAC-SHA256 of the transcript).
    pub confirm: [u8; 32],
}

impl ServerHello {
    /// Length of the body up to (without) the confirmation.
    pub const PRE_CONFIRM: usize = 1 + 4 + 16 + 1 + PAKE_MSG_LEN;

    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Rd::new(b, "server hello");
        let version = r.u8()?;
        if version == 0 {
            return Err(WireError::Invalid("version"));
        }
        let session_id = r.u32()?;
        let nonce = r.arr()?;
        let pake = r.vec8(PAKE_MSG_LEN, "pake")?;
        if pake.len() != PAKE_MSG_LEN {
            return Err(WireError::Invalid("pake length"));
        }
        let pake = pake.to_vec();
        let confirm = r.arr()?;
        r.end()?;
        Ok(ServerHello {
            version,
            session_id,
            nonce,
            pake,
            confirm,
        })
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut o = vec![self.version];
        o.extend_from_slice(&self.session_id.to_be_bytes());
        o.extend_from_slice(&self.nonce);
        put_vec8(&mut o, &self.pake);
        o.extend_from_slice(&self.confirm);
        o
    }
}

/// Third handshake record, PC to phone: the PC's key confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinish {
    pub confirm: [u8; 32],
}

impl ClientFinish {
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Rd::new(b, "client finish");
        let confirm = r.arr()?;
        r.end()?;
        Ok(ClientFinish { confirm })
    }
    pub fn emit(&self) -> Vec<u8> {
        self.confirm.to_vec()
    }
}

/// Why a handshake or session ends (sent in clear in an `Alert` record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertCode {
    /// No common protocol version.
    UnsupportedVersion = 1,
    /// Key confirmation failed: wrong pair code (or a forged peer).
    AuthFailed = 2,
    /// Too many wrong codes: retry after the given seconds.
    RateLimited = 3,
    /// The pairing mode is not allowed (`lync/BToE/pairing_mode`, no PC port).
    ModeNotAllowed = 4,
    /// The PC is in another subnet and `lync/BToE/CheckNetwork=1`.
    NetworkRefused = 5,
    /// Resume with a pairing the phone does not know (forgotten or new code).
    UnknownPairing = 6,
    /// A malformed or unexpected record.
    Protocol = 7,
    /// Another pairing handshake is in progress.
    Busy = 8,
    /// Orderly close.
    Closing = 9,
    /// The handshake did not finish in time.
    Timeout = 10,
}

impl AlertCode {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => AlertCode::UnsupportedVersion,
            2 => AlertCode::AuthFailed,
            3 => AlertCode::RateLimited,
            4 => AlertCode::ModeNotAllowed,
            5 => AlertCode::NetworkRefused,
            6 => AlertCode::UnknownPairing,
            7 => AlertCode::Protocol,
            8 => AlertCode::Busy,
            9 => AlertCode::Closing,
            10 => AlertCode::Timeout,
            _ => {
                return Err(WireError::Unknown {
                    what: "alert",
                    value: v,
                })
            }
        })
    }
}

impl std::fmt::Display for AlertCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlertCode::UnsupportedVersion => "no common protocol version",
            AlertCode::AuthFailed => "wrong pair code or failed authentication",
            AlertCode::RateLimited => "too many wrong pair codes, rate limited",
            AlertCode::ModeNotAllowed => "pairing mode not allowed",
            AlertCode::NetworkRefused => "PC in another subnet (CheckNetwork=1)",
            AlertCode::UnknownPairing => "pairing unknown to the phone",
            AlertCode::Protocol => "protocol error",
            AlertCode::Busy => "another pairing in progress",
            AlertCode::Closing => "closing",
            AlertCode::Timeout => "handshake timeout",
        })
    }
}

/// Handshake refusal or close notice, in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub code: AlertCode,
    /// Seconds until a retry can succeed (rate limiting), else 0.
    pub retry_after: u16,
    /// The sender's version range (for `UnsupportedVersion`).
    pub min_version: u8,
    pub max_version: u8,
}

impl Alert {
    pub fn new(code: AlertCode) -> Self {
        Alert {
            code,
            retry_after: 0,
            min_version: MIN_VERSION,
            max_version: MAX_VERSION,
        }
    }
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Rd::new(b, "alert");
        let code = AlertCode::from_u8(r.u8()?)?;
        let retry_after = r.u16()?;
        let min_version = r.u8()?;
        let max_version = r.u8()?;
        r.end()?;
        Ok(Alert {
            code,
            retry_after,
            min_version,
            max_version,
        })
    }
    pub fn emit(&self) -> Vec<u8> {
        let mut o = vec![self.code as u8];
        o.extend_from_slice(&self.retry_after.to_be_bytes());
        o.push(self.min_version);
        o.push(self.max_version);
        o
    }
}

// ---------------------------------------------------------------------------------------
// Application messages (inside Data records)
// ---------------------------------------------------------------------------------------

/// A call-control command from the PC (manual 4.11: answer, click-to-dial, hold/resume,
/// conference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Dial(Number),
    Answer(u32),
    Hold(u32),
    Resume(u32),
    Hangup(u32),
    /// Merge the second call into the first.
    Conference(u32, u32),
}

/// Call states mirrored to the PC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallState {
    /// Outgoing, not yet ringing.
    Dialing = 1,
    /// Incoming, ringing on the phone.
    Ringing = 2,
    /// Outgoing, the far end rings.
    Ringback = 3,
    Connected = 4,
    Held = 5,
    Ended = 6,
}

impl CallState {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => CallState::Dialing,
            2 => CallState::Ringing,
            3 => CallState::Ringback,
            4 => CallState::Connected,
            5 => CallState::Held,
            6 => CallState::Ended,
            _ => {
                return Err(WireError::Unknown {
                    what: "call state",
                    value: v,
                })
            }
        })
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            CallState::Dialing => "dialing",
            CallState::Ringing => "ringing",
            CallState::Ringback => "ringback",
            CallState::Connected => "connected",
            CallState::Held => "held",
            CallState::Ended => "ended",
        }
    }
}

/// One call as the phone sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub id: u32,
    pub state: CallState,
    pub incoming: bool,
    pub remote: Number,
}

impl CallInfo {
    fn parse(r: &mut Rd<'_>) -> Result<Self, WireError> {
        let id = r.u32()?;
        let state = CallState::from_u8(r.u8()?)?;
        let incoming = match r.u8()? {
            0 => false,
            1 => true,
            v => {
                return Err(WireError::Unknown {
                    what: "direction",
                    value: v,
                })
            }
        };
        let remote = r.vec8(MAX_NUMBER, "remote")?;
        let remote =
            Number::new(std::str::from_utf8(remote).map_err(|_| WireError::Invalid("remote"))?)?;
        Ok(CallInfo {
            id,
            state,
            incoming,
            remote,
        })
    }
    fn emit(&self, o: &mut Vec<u8>) {
        o.extend_from_slice(&self.id.to_be_bytes());
        o.push(self.state as u8);
        o.push(u8::from(self.incoming));
        put_vec8(o, self.remote.as_str().as_bytes());
    }
}

/// Outcome of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandStatus {
    /// Accepted; the outcome follows as call states.
    Ok = 0,
    /// No such call.
    UnknownCall = 1,
    /// Not possible in the call's state.
    InvalidState = 2,
    /// The phone is locked (manual 4.9: outgoing calls are not allowed).
    Locked = 3,
}

impl CommandStatus {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            0 => CommandStatus::Ok,
            1 => CommandStatus::UnknownCall,
            2 => CommandStatus::InvalidState,
            3 => CommandStatus::Locked,
            _ => {
                return Err(WireError::Unknown {
                    what: "command status",
                    value: v,
                })
            }
        })
    }
}

/// Message kinds (first byte of the plaintext).
mod kind {
    pub const PING: u8 = 1;
    pub const PONG: u8 = 2;
    pub const COMMAND: u8 = 0x10;
    pub const RESULT: u8 = 0x11;
    pub const CALL: u8 = 0x20;
    pub const STATUS_REQ: u8 = 0x21;
    pub const STATUS: u8 = 0x22;
    pub const PC_LOCK: u8 = 0x30;
    pub const BYE: u8 = 0x31;
}

/// Command codes inside a `Command` message.
mod cmd {
    pub const DIAL: u8 = 1;
    pub const ANSWER: u8 = 2;
    pub const HOLD: u8 = 3;
    pub const RESUME: u8 = 4;
    pub const HANGUP: u8 = 5;
    pub const CONFERENCE: u8 = 6;
}

/// A message of the encrypted control channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppMessage {
    Ping(u32),
    Pong(u32),
    /// PC to phone.
    Command {
        req: u32,
        cmd: Command,
    },
    /// Phone to PC.
    CommandResult {
        req: u32,
        status: CommandStatus,
        call: u32,
    },
    /// Phone to PC: a call changed.
    Call(CallInfo),
    /// PC to phone.
    StatusRequest,
    /// Phone to PC.
    Status {
        /// The phone is locked (manual 4.9).
        locked: bool,
        calls: Vec<CallInfo>,
    },
    /// PC to phone: the PC's session lock state (manual 4.9 note).
    PcLock(bool),
    /// Orderly disconnect; `forget` drops the pairing.
    Bye {
        forget: bool,
    },
}

impl AppMessage {
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let mut r = Rd::new(b, "message");
        let k = r.u8()?;
        let m = match k {
            kind::PING => AppMessage::Ping(r.u32()?),
            kind::PONG => AppMessage::Pong(r.u32()?),
            kind::COMMAND => {
                let req = r.u32()?;
                let c = r.u8()?;
                let cmd = match c {
                    cmd::DIAL => {
                        let n = r.vec8(MAX_NUMBER, "number")?;
                        Command::Dial(Number::new(
                            std::str::from_utf8(n).map_err(|_| WireError::Invalid("number"))?,
                        )?)
                    }
                    cmd::ANSWER => Command::Answer(r.u32()?),
                    cmd::HOLD => Command::Hold(r.u32()?),
                    cmd::RESUME => Command::Resume(r.u32()?),
                    cmd::HANGUP => Command::Hangup(r.u32()?),
                    cmd::CONFERENCE => Command::Conference(r.u32()?, r.u32()?),
                    _ => {
                        return Err(WireError::Unknown {
                            what: "command",
                            value: c,
                        })
                    }
                };
                AppMessage::Command { req, cmd }
            }
            kind::RESULT => AppMessage::CommandResult {
                req: r.u32()?,
                status: CommandStatus::from_u8(r.u8()?)?,
                call: r.u32()?,
            },
            kind::CALL => AppMessage::Call(CallInfo::parse(&mut r)?),
            kind::STATUS_REQ => AppMessage::StatusRequest,
            kind::STATUS => {
                let locked = parse_bool(r.u8()?)?;
                let n = usize::from(r.u8()?);
                if n > MAX_CALLS {
                    return Err(WireError::TooLong("call list"));
                }
                let mut calls = Vec::with_capacity(n);
                for _ in 0..n {
                    calls.push(CallInfo::parse(&mut r)?);
                }
                AppMessage::Status { locked, calls }
            }
            kind::PC_LOCK => AppMessage::PcLock(parse_bool(r.u8()?)?),
            kind::BYE => AppMessage::Bye {
                forget: parse_bool(r.u8()?)?,
            },
            _ => {
                return Err(WireError::Unknown {
                    what: "message kind",
                    value: k,
                })
            }
        };
        r.end()?;
        Ok(m)
    }

    pub fn emit(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(16);
        match self {
            AppMessage::Ping(id) => {
                o.push(kind::PING);
                o.extend_from_slice(&id.to_be_bytes());
            }
            AppMessage::Pong(id) => {
                o.push(kind::PONG);
                o.extend_from_slice(&id.to_be_bytes());
            }
            AppMessage::Command { req, cmd } => {
                o.push(kind::COMMAND);
                o.extend_from_slice(&req.to_be_bytes());
                let (c, a, b): (u8, Option<u32>, Option<u32>) = match cmd {
                    Command::Dial(n) => {
                        o.push(cmd::DIAL);
                        put_vec8(&mut o, n.as_str().as_bytes());
                        return o;
                    }
                    Command::Answer(c) => (cmd::ANSWER, Some(*c), None),
                    Command::Hold(c) => (cmd::HOLD, Some(*c), None),
                    Command::Resume(c) => (cmd::RESUME, Some(*c), None),
                    Command::Hangup(c) => (cmd::HANGUP, Some(*c), None),
                    Command::Conference(a, b) => (cmd::CONFERENCE, Some(*a), Some(*b)),
                };
                o.push(c);
                for v in [a, b].into_iter().flatten() {
                    o.extend_from_slice(&v.to_be_bytes());
                }
            }
            AppMessage::CommandResult { req, status, call } => {
                o.push(kind::RESULT);
                o.extend_from_slice(&req.to_be_bytes());
                o.push(*status as u8);
                o.extend_from_slice(&call.to_be_bytes());
            }
            AppMessage::Call(c) => {
                o.push(kind::CALL);
                c.emit(&mut o);
            }
            AppMessage::StatusRequest => o.push(kind::STATUS_REQ),
            AppMessage::Status { locked, calls } => {
                o.push(kind::STATUS);
                o.push(u8::from(*locked));
                let calls = &calls[..calls.len().min(MAX_CALLS)];
                o.push(calls.len() as u8);
                for c in calls {
                    c.emit(&mut o);
                }
            }
            AppMessage::PcLock(l) => {
                o.push(kind::PC_LOCK);
                o.push(u8::from(*l));
            }
            AppMessage::Bye { forget } => {
                o.push(kind::BYE);
                o.push(u8::from(*forget));
            }
        }
        o
    }
}

fn parse_bool(v: u8) -> Result<bool, WireError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Invalid("boolean")),
    }
}

// ---------------------------------------------------------------------------------------
// Audio
// ---------------------------------------------------------------------------------------

/// Audio datagram marker: high nibble 0xB, low nibble the audio format version 1.
pub const AUDIO_MARKER: u8 = 0xB1;

/// Audio payload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// 16-bit little-endian linear PCM, 16 kHz mono.
    L16Wide = 0,
    /// G.722 (64 kbit/s).
    G722 = 1,
    /// G.711 A-law.
    Pcma = 2,
    /// G.711 mu-law.
    Pcmu = 3,
}

impl PayloadType {
    pub fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            0 => PayloadType::L16Wide,
            1 => PayloadType::G722,
            2 => PayloadType::Pcma,
            3 => PayloadType::Pcmu,
            _ => {
                return Err(WireError::Unknown {
                    what: "payload type",
                    value: v,
                })
            }
        })
    }
}

/// The clear header of an audio datagram (authenticated as AEAD associated data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioHeader {
    pub payload_type: PayloadType,
    pub session_id: u32,
    /// Per-direction packet counter; also the AEAD nonce.
    pub seq: u64,
    /// Media timestamp in samples.
    pub timestamp: u32,
}

impl AudioHeader {
    /// Parses the header; returns it and the encrypted rest.
    pub fn parse(b: &[u8]) -> Result<(AudioHeader, &[u8]), WireError> {
        let mut r = Rd::new(b, "audio header");
        if r.u8()? != AUDIO_MARKER {
            return Err(WireError::BadMagic);
        }
        let payload_type = PayloadType::from_u8(r.u8()?)?;
        if r.u16()? != 0 {
            return Err(WireError::Invalid("audio reserved"));
        }
        let session_id = r.u32()?;
        let seq = r.u64()?;
        let timestamp = r.u32()?;
        let rest = r.b;
        if rest.len() < 16 {
            return Err(WireError::Truncated("audio tag"));
        }
        if rest.len() > MAX_AUDIO_PAYLOAD + 16 {
            return Err(WireError::TooLong("audio payload"));
        }
        Ok((
            AudioHeader {
                payload_type,
                session_id,
                seq,
                timestamp,
            },
            rest,
        ))
    }

    /// The 20 header bytes.
    pub fn emit(&self) -> [u8; AUDIO_HEADER] {
        let mut o = [0u8; AUDIO_HEADER];
        o[0] = AUDIO_MARKER;
        o[1] = self.payload_type as u8;
        o[4..8].copy_from_slice(&self.session_id.to_be_bytes());
        o[8..16].copy_from_slice(&self.seq.to_be_bytes());
        o[16..20].copy_from_slice(&self.timestamp.to_be_bytes());
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_stream_needs_whole_records() {
        let r = Record {
            ty: RecordType::Alert,
            body: Alert::new(AlertCode::Busy).emit(),
        };
        let b = r.emit();
        for cut in 0..b.len() {
            assert_eq!(Record::parse_stream(&b[..cut]).unwrap(), None);
        }
        assert_eq!(Record::parse_stream(&b).unwrap(), Some((r, b.len())));
    }

    #[test]
    fn oversized_record_is_refused_before_buffering() {
        let b = [0x17, 0xff, 0xff];
        assert_eq!(Record::parse_stream(&b), Err(WireError::TooLong("record")));
    }

    #[test]
    fn numbers_refuse_controls() {
        assert!(Number::new("+1 555").is_err());
        assert!(Number::new("").is_err());
        assert!(Number::new("sip:alice@example.com").is_ok());
        assert!(Number::new(&"1".repeat(65)).is_err());
    }
}
