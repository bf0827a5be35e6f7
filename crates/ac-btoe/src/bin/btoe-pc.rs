//! `btoe-pc`: the PC-side reference client of BToE (manual 4.11.7-4.11.8).
//!
//! ```text
//! btoe-pc pair                         automatic pairing: wait for the phone's announce on UDP 9999
//! btoe-pc pair --code K7Q2M9XA --phone 10.0.0.5   manual pairing with the phone's pair code
//! btoe-pc status                       connection and the phone's calls
//! btoe-pc dial NUMBER                  click-to-dial
//! btoe-pc answer|hold|resume|hangup ID
//! btoe-pc watch [--seconds S]          print call changes as they happen (reconnects)
//! btoe-pc lock|unlock                  report the PC's lock state (manual 4.9)
//! btoe-pc audio-loop --input A --output B   send 16 kHz L16 audio, record what comes back
//! btoe-pc unpair                       drop the pairing on both ends
//! ```
//!
//! The pairing (phone address, pairing id and secret) is kept in `--state` (mode 0600).
//! Exit codes: 0 ok, 1 error, 2 wrong pair code, 3 refused by the phone, 4 command refused.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ac_btoe::audio::{Playout, PlayoutBuffer};
use ac_btoe::code::PairCode;
use ac_btoe::config::default_tcp_port;
use ac_btoe::driver::{wait_announce, PcDriver};
use ac_btoe::pc::{PcAuth, PcConfig, PcEvent};
use ac_btoe::session::Pairing;
use ac_btoe::wire::{CallInfo, Command, CommandStatus, Mode, Number, PayloadType};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(about = "BToE PC reference client")]
struct Args {
    /// Pairing state file.
    #[arg(long, default_value = "btoe-pc.state")]
    state: PathBuf,
    /// The phone's TcpPortNumber (default: the lync/BToE/TcpPortNumber default).
    #[arg(long)]
    port: Option<u16>,
    /// Name shown to the phone.
    #[arg(long, default_value = "btoe-pc")]
    name: String,
    /// Seconds to wait for the phone.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Pair automatically (no code) or manually (--code, --phone).
    Pair {
        #[arg(long)]
        code: Option<String>,
        #[arg(long)]
        phone: Option<IpAddr>,
    },
    Status,
    Dial {
        number: String,
    },
    Answer {
        id: u32,
    },
    Hold {
        id: u32,
    },
    Resume {
        id: u32,
    },
    Hangup {
        id: u32,
    },
    Watch {
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    Lock,
    Unlock,
    AudioLoop {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Playout delay of the receive buffer, ms (with `--jitter fixed`).
        #[arg(long, default_value_t = 200)]
        delay_ms: u64,
        /// Receive buffer, ac-media's jitter buffer: `fixed` (`--delay-ms` over the first
        /// packet) or `adaptive` (delay from the arrival-delay quantile).
        #[arg(long, default_value = "fixed")]
        jitter: String,
    },
    Unpair,
}

enum Fail {
    Error(String),
    WrongCode,
    Refused(String),
    CommandRefused(CommandStatus),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Error(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Error(s.to_string())
    }
}

fn say(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut o = [0u8; N];
    for (i, b) in o.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(o)
}

fn save_state(path: &Path, phone: SocketAddr, p: &Pairing) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = Zeroizing::new(format!(
        "phone={phone}\nmode={}\nid={}\nsecret={}\n",
        if p.mode == Mode::Auto { "auto" } else { "code" },
        hex(&p.id),
        hex(p.secret.as_ref())
    ));
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn load_state(path: &Path) -> Result<(SocketAddr, Pairing), String> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e} (pair first: btoe-pc pair)", path.display()))?,
    );
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .ok_or_else(|| format!("{}: no {k}", path.display()))
    };
    let phone: SocketAddr = get("phone")?
        .parse()
        .map_err(|_| "bad phone address in state".to_string())?;
    let mode = if get("mode")? == "auto" {
        Mode::Auto
    } else {
        Mode::Code
    };
    let id = unhex::<16>(get("id")?).ok_or("bad id in state")?;
    let secret = unhex::<32>(get("secret")?).ok_or("bad secret in state")?;
    Ok((
        phone,
        Pairing {
            id,
            secret: Zeroizing::new(secret),
            mode,
        },
    ))
}

fn call_line(c: &CallInfo) -> String {
    format!(
        "call {} {} {} {}",
        c.id,
        c.state.name(),
        if c.incoming { "in" } else { "out" },
        c.remote
    )
}

/// Waits for the session (or its failure).
fn wait_connected(d: &PcDriver, timeout: Duration) -> Result<Option<Pairing>, Fail> {
    let deadline = Instant::now() + timeout;
    let mut paired = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = d
            .events()
            .recv_timeout(left)
            .map_err(|_| Fail::Error("timed out waiting for the phone".into()))?;
        match ev {
            PcEvent::Paired(p) => paired = Some(p),
            PcEvent::Connected { mode, version } => {
                say(&format!("connected mode={mode:?} version={version}"));
                return Ok(paired);
            }
            PcEvent::AuthFailed => return Err(Fail::WrongCode),
            PcEvent::Refused { code, retry_after } => {
                return Err(Fail::Refused(if retry_after > 0 {
                    format!("{code} (retry after {retry_after} s)")
                } else {
                    code.to_string()
                }))
            }
            PcEvent::Disconnected(r) => return Err(Fail::Error(format!("disconnected: {r:?}"))),
            PcEvent::Reconnecting { .. } => {
                return Err(Fail::Error("cannot reach the phone".into()))
            }
            _ => {}
        }
    }
}

fn resume(args: &Args, reconnect: bool) -> Result<PcDriver, Fail> {
    let (phone, p) = load_state(&args.state)?;
    let d = PcDriver::start(
        PcConfig {
            phone,
            name: args.name.clone(),
            reconnect,
        },
        PcAuth::Resume(p),
    )
    .map_err(|e| e.to_string())?;
    wait_connected(&d, Duration::from_secs(args.timeout))?;
    Ok(d)
}

fn command(args: &Args, cmd: Command) -> Result<(), Fail> {
    let d = resume(args, false)?;
    let req = d.command(cmd).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match d.events().recv_timeout(left) {
            Ok(PcEvent::CommandResult {
                req: r,
                status,
                call,
            }) if r == req => {
                d.disconnect(false);
                return if status == CommandStatus::Ok {
                    say(&format!("ok call={call}"));
                    Ok(())
                } else {
                    Err(Fail::CommandRefused(status))
                };
            }
            Ok(PcEvent::Call(c)) => say(&call_line(&c)),
            Ok(PcEvent::Disconnected(r)) => {
                return Err(Fail::Error(format!("disconnected: {r:?}")))
            }
            Ok(_) => {}
            Err(_) => return Err(Fail::Error("no answer from the phone".into())),
        }
    }
}

fn read_pcm(p: &Path) -> Result<Vec<i16>, String> {
    let b = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect())
}

/// Sends the input as 20 ms L16 frames at 16 kHz in real time and records what the phone
/// sends back through the playout buffer `buf` (ac-media's jitter buffer).
fn audio_loop(
    args: &Args,
    input: &Path,
    output: &Path,
    mut buf: Box<dyn PlayoutBuffer>,
    delay: Duration,
) -> Result<(), Fail> {
    const FRAME: usize = 320;
    let period = Duration::from_millis(20);
    let pcm = read_pcm(input)?;
    let d = resume(args, false)?;
    let mut out: Vec<i16> = Vec::with_capacity(pcm.len());
    let frames: Vec<&[i16]> = pcm.chunks(FRAME).collect();
    let start = Instant::now();
    // Room at the end for the playout delay and a few expansions.
    let total = frames.len() + 25 + (delay.as_millis() / 20) as usize;
    let (mut played, mut concealed, mut started) = (0u64, 0u64, false);
    for i in 0..total {
        let due = start + period * i as u32;
        // Until this frame's send time: take arrivals, play due frames.
        loop {
            let now = Instant::now();
            while let Some(t) = buf.poll_timeout().filter(|&t| t <= now) {
                let _ = t;
                match buf.poll_frame(now) {
                    Playout::Frame { payload, .. } => {
                        started = true;
                        played += 1;
                        out.extend(
                            payload
                                .chunks_exact(2)
                                .map(|c| i16::from_le_bytes([c[0], c[1]])),
                        );
                    }
                    Playout::Conceal { .. } if started => {
                        concealed += 1;
                        out.extend(std::iter::repeat_n(0i16, FRAME));
                    }
                    _ => {}
                }
            }
            if now >= due {
                break;
            }
            let wake = buf.poll_timeout().map_or(due, |t| t.min(due));
            if let Ok(PcEvent::Audio(f)) =
                d.events().recv_timeout(wake.saturating_duration_since(now))
            {
                buf.handle_packet(Instant::now(), f.timestamp, &f.payload);
            }
        }
        if let Some(f) = frames.get(i) {
            let bytes: Vec<u8> = f.iter().flat_map(|s| s.to_le_bytes()).collect();
            d.send_audio(PayloadType::L16Wide, (i * FRAME) as u32, bytes);
        }
    }
    d.disconnect(false);
    let bytes: Vec<u8> = out.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(output, bytes).map_err(|e| format!("{}: {e}", output.display()))?;
    let (late, expanded) = buf.late_and_expanded();
    say(&format!(
        "audio sent={} played={played} concealed={concealed} expanded={expanded} late={late}",
        frames.len(),
    ));
    Ok(())
}

fn run(args: &Args) -> Result<(), Fail> {
    let port = args.port.unwrap_or_else(default_tcp_port);
    match &args.cmd {
        Cmd::Pair { code, phone } => {
            let (addr, auth) = match code {
                Some(c) => {
                    let code = PairCode::parse(c).map_err(|e| e.to_string())?;
                    let ip = (*phone).ok_or("manual pairing needs --phone ADDRESS")?;
                    (SocketAddr::new(ip, port), PcAuth::Code(code))
                }
                None => {
                    // Manual 4.11.11: the PC listens on UDP 9999 for a phone on its link.
                    let (addr, a) = wait_announce(Duration::from_secs(args.timeout))
                        .map_err(|e| e.to_string())?;
                    say(&format!("announce from {addr} name={}", a.name));
                    (addr, PcAuth::Auto { token: a.token })
                }
            };
            let d = PcDriver::start(
                PcConfig {
                    phone: addr,
                    name: args.name.clone(),
                    reconnect: false,
                },
                auth,
            )
            .map_err(|e| e.to_string())?;
            let p = wait_connected(&d, Duration::from_secs(args.timeout))?
                .ok_or("connected without a new pairing")?;
            save_state(&args.state, addr, &p)?;
            d.disconnect(false);
            say(&format!("paired mode={:?}", p.mode));
            Ok(())
        }
        Cmd::Status => {
            let d = resume(args, false)?;
            d.request_status().map_err(|e| e.to_string())?;
            let deadline = Instant::now() + Duration::from_secs(args.timeout);
            loop {
                match d
                    .events()
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(PcEvent::Status { locked, calls }) => {
                        say(&format!("phone-locked {locked}"));
                        for c in &calls {
                            say(&call_line(c));
                        }
                        d.disconnect(false);
                        return Ok(());
                    }
                    Ok(_) => {}
                    Err(_) => return Err(Fail::Error("no status from the phone".into())),
                }
            }
        }
        Cmd::Dial { number } => command(
            args,
            Command::Dial(Number::new(number).map_err(|e| e.to_string())?),
        ),
        Cmd::Answer { id } => command(args, Command::Answer(*id)),
        Cmd::Hold { id } => command(args, Command::Hold(*id)),
        Cmd::Resume { id } => command(args, Command::Resume(*id)),
        Cmd::Hangup { id } => command(args, Command::Hangup(*id)),
        Cmd::Lock | Cmd::Unlock => {
            let d = resume(args, false)?;
            d.set_pc_locked(matches!(args.cmd, Cmd::Lock));
            d.disconnect(false);
            say("ok");
            Ok(())
        }
        Cmd::Watch { seconds } => {
            let d = resume(args, true)?;
            let end = Instant::now() + Duration::from_secs(*seconds);
            while let Ok(ev) = d
                .events()
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                match ev {
                    PcEvent::Call(c) => say(&call_line(&c)),
                    PcEvent::Connected { mode, .. } => say(&format!("connected mode={mode:?}")),
                    PcEvent::Disconnected(r) => say(&format!("disconnected {r:?}")),
                    PcEvent::Reconnecting { .. } => say("reconnecting"),
                    PcEvent::Refused { code, .. } => say(&format!("refused {code}")),
                    _ => {}
                }
            }
            d.disconnect(false);
            Ok(())
        }
        Cmd::AudioLoop {
            input,
            output,
            delay_ms,
            jitter,
        } => {
            let buf: Box<dyn PlayoutBuffer> = match jitter.as_str() {
                "adaptive" => Box::new(ac_btoe::audio::media_buffer(None)),
                "fixed" => Box::new(ac_btoe::audio::media_buffer(Some(
                    u32::try_from(*delay_ms).unwrap_or(300).min(300),
                ))),
                other => return Err(Fail::Error(format!("--jitter {other}: adaptive or fixed"))),
            };
            audio_loop(args, input, output, buf, Duration::from_millis(*delay_ms))
        }
        Cmd::Unpair => {
            let d = resume(args, false)?;
            d.disconnect(true);
            let _ = std::fs::remove_file(&args.state);
            say("unpaired");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Error(e)) => {
            eprintln!("btoe-pc: {e}");
            ExitCode::from(1)
        }
        Err(Fail::WrongCode) => {
            eprintln!("btoe-pc: wrong pair code");
            ExitCode::from(2)
        }
        Err(Fail::Refused(r)) => {
            eprintln!("btoe-pc: refused by the phone: {r}");
            ExitCode::from(3)
        }
        Err(Fail::CommandRefused(s)) => {
            eprintln!("btoe-pc: command refused: {s:?}");
            ExitCode::from(4)
        }
    }
}
