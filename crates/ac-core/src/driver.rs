//! The std driver: owns the sockets, the threads and the clock, and runs the sans-IO
//! [`crate::Phone`] on them (std threads + crossbeam channels, no async runtime).
//!
//! ```text
//! board (C)  --board_event()-->  [command channel]  --> phone thread: Phone (sans-IO)
//! board audio thread --audio(capture, &mut playback)--> [frame channels] <--> phone thread
//! phone thread --> output callback (BoardOutput: display, LEDs, ringer, tones, route)
//! ```
//!
//! The audio call never blocks: it queues the microphone frame and takes the newest speaker
//! frame the phone thread produced (silence when none is ready), so a slow network thread
//! can never stall the board's audio interrupt.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::board::{AudioFrame, BoardEvent, BoardOutput, FRAME_SAMPLES};
use crate::error::CoreError;
use crate::features::Features;
use crate::phone::{PhoneStatus, SignIn};

/// How the phone gets its address (manual 2.1: DHCP, or a static address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Use this local address as is (loopback demos, hosts where the OS configured it).
    Static { addr: IpAddr },
    /// Run the DHCP client (ac-prov) on `interface`, configure the address on it, then
    /// provision from option 160 / 66+67 (manual 2.1, 2.3).
    Dhcp { interface: String },
}

/// Everything the driver needs besides the configuration.
#[derive(Debug, Clone)]
pub struct DriverOptions {
    pub network: NetworkMode,
    /// The user's sign-in (SIP address of record, user name, password).
    pub sign_in: SignIn,
    /// Board MAC address (DHCP client identifier, `<MAC>` in provisioning URLs).
    pub mac: [u8; 6],
    /// Local SIP UDP port (0: any free port).
    pub sip_port: u16,
    /// Extra PEM CA certificates trusted for HTTPS provisioning (besides
    /// `security/ca_certificate/*`).
    pub ca_certs: Vec<Vec<u8>>,
    /// Where the last good configuration is kept (`current.cfg`); `None`: memory only.
    pub state_dir: Option<PathBuf>,
    /// How long the boot waits for DHCP and for provisioning before going on without.
    pub boot_timeout: Duration,
    /// Seed for Call-IDs, tags, SSRCs (0: from the OS).
    pub seed: u64,
    /// First RTP port (`None`: the configuration's / manual 3.3.14.3 default 50020).
    pub rtp_base_port: Option<u16>,
}

impl DriverOptions {
    /// Static address, no provisioning, default ports.
    pub fn static_addr(addr: IpAddr, sign_in: SignIn) -> DriverOptions {
        DriverOptions {
            network: NetworkMode::Static { addr },
            sign_in,
            mac: [0x00, 0x90, 0x8f, 0x00, 0x00, 0x01],
            sip_port: 0,
            ca_certs: Vec::new(),
            state_dir: None,
            boot_timeout: Duration::from_secs(20),
            seed: 0,
            rtp_base_port: None,
        }
    }
}

/// The callback that receives the phone's outputs (called on the phone thread).
pub type OutputFn = Box<dyn FnMut(BoardOutput) + Send + 'static>;

/// Operations on the active (or ringing) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOp {
    Answer,
    Hangup,
    Hold,
    Resume,
    /// Blind transfer to a number or URI.
    Transfer(String),
}

/// A change of the run-time feature settings, run on the phone thread.
pub type FeatureFn = Box<dyn FnOnce(&mut Features) + Send + 'static>;

/// Commands from the API to the phone thread.
pub(crate) enum Command {
    Board(BoardEvent),
    Dial(String),
    Dtmf(char),
    Call(CallOp),
    Features(FeatureFn),
    Stop,
}

/// A running phone.
pub struct PhoneDriver {
    pub(crate) cmd: Sender<Command>,
    pub(crate) capture: Sender<AudioFrame>,
    pub(crate) playback: Receiver<AudioFrame>,
    pub(crate) status: Arc<std::sync::Mutex<PhoneStatus>>,
    pub(crate) clock: Arc<std::sync::Mutex<Option<ac_prov::sntp::Sync>>>,
    pub(crate) thread: Option<JoinHandle<Result<(), CoreError>>>,
}

/// Frames queued between the audio thread and the phone thread (each way): 8 x 10 ms.
pub const AUDIO_QUEUE: usize = 8;

impl PhoneDriver {
    /// Boots a phone from `config` (the factory or last good configuration) on a new thread:
    /// network -> provisioning -> time -> registration. Outputs go to `output`.
    pub fn start(
        config: ac_cfg::Config,
        options: DriverOptions,
        output: OutputFn,
    ) -> Result<PhoneDriver, CoreError> {
        let (cmd, cmd_rx) = bounded::<Command>(256);
        let (capture, capture_rx) = bounded::<AudioFrame>(AUDIO_QUEUE);
        let (playback_tx, playback) = bounded::<AudioFrame>(AUDIO_QUEUE);
        let status = Arc::new(std::sync::Mutex::new(PhoneStatus::default()));
        let st = status.clone();
        let clock = Arc::new(std::sync::Mutex::new(None));
        let ck = clock.clone();
        let thread = std::thread::Builder::new()
            .name("ac-phone".into())
            .spawn(move || {
                crate::run::run(
                    config,
                    options,
                    output,
                    cmd_rx,
                    capture_rx,
                    playback_tx,
                    st,
                    ck,
                )
            })
            .map_err(|e| CoreError::Io(e.to_string()))?;
        Ok(PhoneDriver {
            cmd,
            capture,
            playback,
            status,
            clock,
            thread: Some(thread),
        })
    }

    /// A board input (key, hook, headset, link). Never blocks; `Err(Busy)` when 256 are queued.
    pub fn board_event(&self, ev: BoardEvent) -> Result<(), CoreError> {
        self.send(Command::Board(ev))
    }

    /// Dials a number or SIP URI as if typed and sent (convenience for tests and programs).
    pub fn dial(&self, target: &str) -> Result<(), CoreError> {
        self.send(Command::Dial(target.to_string()))
    }

    /// Sends a DTMF digit in the active call (same as its key during a call).
    pub fn dtmf(&self, digit: char) -> Result<(), CoreError> {
        self.send(Command::Dtmf(digit))
    }

    /// Answer / hang up / hold / resume / blind-transfer the active call.
    pub fn call(&self, op: CallOp) -> Result<(), CoreError> {
        self.send(Command::Call(op))
    }

    /// Changes run-time feature settings (DND, forward, auto-answer, call waiting, busy on
    /// busy) on the phone thread.
    pub fn update_features(&self, f: FeatureFn) -> Result<(), CoreError> {
        self.send(Command::Features(f))
    }

    /// The board's audio thread, every 10 ms: the microphone frame in, the speaker frame
    /// out (silence when the phone has none ready). Never blocks.
    pub fn audio(&self, capture: &AudioFrame, playback: &mut AudioFrame) {
        let _ = self.capture.try_send(*capture);
        match self.playback.try_recv() {
            Ok(f) => *playback = f,
            Err(_) => *playback = [0; FRAME_SAMPLES],
        }
    }

    /// A snapshot of the phone's state (boot stage, registration, calls, last call quality).
    pub fn status(&self) -> PhoneStatus {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The current UTC time from the phone's SNTP client (manual 2.4), `None` until a
    /// time server answered.
    pub fn utc_now(&self) -> Option<std::time::SystemTime> {
        let s = match self.clock.lock() {
            Ok(c) => *c,
            Err(p) => *p.into_inner(),
        }?;
        let ns = s.utc_at(std::time::Instant::now());
        let ns = u64::try_from(ns).ok()?;
        Some(std::time::UNIX_EPOCH + Duration::from_nanos(ns))
    }

    /// Ends calls, unregisters (briefly) and stops the phone thread.
    pub fn stop(mut self) -> Result<(), CoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), CoreError> {
        let _ = self.cmd.send(Command::Stop);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| CoreError::Panicked)?,
            None => Ok(()),
        }
    }

    fn send(&self, c: Command) -> Result<(), CoreError> {
        self.cmd.try_send(c).map_err(|e| match e {
            crossbeam_channel::TrySendError::Full(_) => CoreError::Busy,
            crossbeam_channel::TrySendError::Disconnected(_) => CoreError::Stopped,
        })
    }
}

impl Drop for PhoneDriver {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
