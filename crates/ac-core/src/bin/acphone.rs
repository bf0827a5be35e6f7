//! `acphone`: a headless virtual 400HD phone on the ac-core driver. Its board is this
//! program: microphone from a WAV file (or a tone), speaker to a WAV file, keys from a script
//! or standard input, display/LED/ringer events printed one per line.
//!
//! ```text
//! acphone                       # demo: two phones on loopback, alice calls bob, audio flows,
//!                               # DTMF, hold/resume, then the call quality from RTCP-XR
//! acphone --aor sip:alice@example.com [--addr IP | --dhcp IFACE] [--config FILE.cfg]
//!         [--ca CA.pem] [--user U] [--password P] [--sip-port N] [--rtp-port N]
//!         [--in MIC.wav | --tone HZ] [--out SPEAKER.wav] [--script FILE|-] [--duration S]
//! script lines: dial X | dtmf D | key NAME | hook on|off | answer | hangup | hold | resume
//!               | transfer X | dnd on|off | autoanswer on|off | wait MS | status | quit
//! ```

use std::io::BufRead;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ac_cfg::{Config, Document, Model};
use ac_core::board::{
    AudioFrame, BoardEvent, BoardOutput, HookState, KeyAction, KeyCode, FRAME_SAMPLES, SAMPLE_RATE,
};
use ac_core::driver::{CallOp, DriverOptions, NetworkMode, PhoneDriver};
use ac_core::phone::{BootStage, CallPhase, PhoneStatus};
use ac_core::wav::Wav;
use ac_core::SignIn;

fn print_output(name: &str, start: Instant, o: &BoardOutput) {
    let t = start.elapsed().as_secs_f64();
    match o {
        BoardOutput::Display(d) => {
            println!(
                "{t:7.3} [{name}] display {:?} call={} {:?}",
                d.kind, d.call, d.text
            )
        }
        other => println!("{t:7.3} [{name}] {other:?}"),
    }
}

/// The virtual board's audio thread: every 10 ms one microphone frame in, one speaker
/// frame out.
struct Board {
    stop: Arc<AtomicBool>,
    heard: Arc<Mutex<Vec<i16>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Board {
    fn start(phone: Arc<PhoneDriver>, mic: Vec<i16>, tone_hz: f32) -> Board {
        let stop = Arc::new(AtomicBool::new(false));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (s, h) = (stop.clone(), heard.clone());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut n = 0usize;
            let mut tick = 0u32;
            while !s.load(Ordering::Relaxed) {
                let mut cap: AudioFrame = [0; FRAME_SAMPLES];
                for v in cap.iter_mut() {
                    *v = if mic.is_empty() {
                        let t = n as f32 / SAMPLE_RATE as f32;
                        (6000.0 * (2.0 * std::f32::consts::PI * tone_hz * t).sin()) as i16
                    } else {
                        mic[n % mic.len()]
                    };
                    n += 1;
                }
                let mut play: AudioFrame = [0; FRAME_SAMPLES];
                phone.audio(&cap, &mut play);
                if let Ok(mut h) = h.lock() {
                    h.extend_from_slice(&play);
                }
                tick += 1;
                let next = t0 + Duration::from_millis(10 * u64::from(tick));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Board {
            stop,
            heard,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<i16> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.heard.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// Goertzel: share of the signal's power at `f`.
fn tone_share(x: &[i16], f: f32) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * f64::from(f) / f64::from(SAMPLE_RATE);
    let c = 2.0 * w.cos();
    let (mut s1, mut s2, mut e) = (0.0f64, 0.0f64, 0.0f64);
    for &v in x {
        let v = f64::from(v);
        e += v * v;
        let s0 = v + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    if e == 0.0 {
        return 0.0;
    }
    2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f64 * e)
}

fn wait_for(
    d: &PhoneDriver,
    timeout: Duration,
    f: impl Fn(&PhoneStatus) -> bool,
) -> Result<PhoneStatus, String> {
    let end = Instant::now() + timeout;
    loop {
        let s = d.status();
        if f(&s) {
            return Ok(s);
        }
        if Instant::now() > end {
            return Err(format!("timed out; status {s:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn start_phone(
    name: &'static str,
    cfg: Config,
    opts: DriverOptions,
    start: Instant,
) -> Result<Arc<PhoneDriver>, String> {
    let d = PhoneDriver::start(cfg, opts, Box::new(move |o| print_output(name, start, &o)))
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(d))
}

fn demo() -> Result<(), String> {
    let start = Instant::now();
    println!("acphone demo: two virtual 440HD phones on 127.0.0.1; alice calls bob (G.722).");
    let lo: IpAddr = "127.0.0.1".parse().map_err(|_| "addr")?;
    // Factory defaults put SILK_16000 first (manual 3.3.14.2); the demo's call is G.722.
    let mut cfg = Config::defaults(Model::Hd440);
    cfg.set("voip/codec/codec_info/0/name", "G722")
        .map_err(|e| format!("{e:?}"))?;
    let mut ob = DriverOptions::static_addr(lo, SignIn::new("bob", "127.0.0.1", ""));
    ob.rtp_base_port = Some(52000);
    let bob = start_phone("bob", cfg.clone(), ob, start)?;
    bob.update_features(Box::new(|f| f.auto_answer = true))
        .map_err(|e| e.to_string())?;
    let mut oa = DriverOptions::static_addr(lo, SignIn::new("alice", "127.0.0.1", ""));
    oa.rtp_base_port = Some(51000);
    let alice = start_phone("alice", cfg, oa, start)?;
    let ready = |s: &PhoneStatus| s.stage == BootStage::Ready && s.sip_addr.is_some();
    let sb = wait_for(&bob, Duration::from_secs(5), ready)?;
    wait_for(&alice, Duration::from_secs(5), ready)?;
    let bob_addr = sb.sip_addr.ok_or("bob has no address")?;
    let board_a = Board::start(alice.clone(), Vec::new(), 1000.0);
    let board_b = Board::start(bob.clone(), Vec::new(), 1500.0);
    alice
        .dial(&format!("sip:bob@{bob_addr}"))
        .map_err(|e| e.to_string())?;
    let connected = |s: &PhoneStatus| {
        s.calls
            .first()
            .is_some_and(|c| c.phase == CallPhase::Connected)
    };
    wait_for(&alice, Duration::from_secs(5), connected)?;
    std::thread::sleep(Duration::from_millis(700));
    for d in ['1', '2', '3'] {
        alice.dtmf(d).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(250));
    }
    // RTCP-XR voice quality reports come every 5 s (RFC 3611 / manual 3.3.14).
    std::thread::sleep(Duration::from_millis(4300));
    let st = alice.status();
    // Hold and resume after the report: ac-media's VQ accounting counts the frames of a
    // hold gap as lost (see the crate README), which would blur the figure shown.
    alice.call(CallOp::Hold).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(400));
    alice.call(CallOp::Resume).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(400));
    alice.call(CallOp::Hangup).map_err(|e| e.to_string())?;
    wait_for(&alice, Duration::from_secs(3), |s| s.calls.is_empty())?;
    wait_for(&bob, Duration::from_secs(3), |s| s.calls.is_empty())?;
    let heard_a = board_a.finish();
    let heard_b = board_b.finish();
    let sa = alice.status();
    let sbob = bob.status();
    println!();
    if let Some(c) = st.calls.first() {
        println!(
            "call alice -> bob: codec {}, packets sent {}, received {}",
            c.codec, c.packets_sent, c.packets_received
        );
    }
    // Skip the first second (setup) when checking what each side heard.
    let skip = SAMPLE_RATE as usize;
    let ta = tone_share(heard_a.get(skip..).unwrap_or(&[]), 1500.0);
    let tb = tone_share(heard_b.get(skip..).unwrap_or(&[]), 1000.0);
    println!(
        "alice heard bob's 1500 Hz tone: {:.0}% of her speaker power",
        ta * 100.0
    );
    println!(
        "bob heard alice's 1000 Hz tone: {:.0}% of his speaker power",
        tb * 100.0
    );
    for (n, s) in [("alice", &sa), ("bob", &sbob)] {
        match s.last_quality {
            Some(q) => println!(
                "{n}: RTCP-XR MOS-LQ {:.1} MOS-CQ {:.1} R-factor {} loss {:.1}% jitter {:.2} ms RTT {:.2} ms ({} packets received)",
                q.mos_lq, q.mos_cq, q.r_factor, q.loss_pct, q.jitter_ms, q.rtt_ms, q.packets_received
            ),
            None => println!("{n}: no RTCP-XR report"),
        }
    }
    drop(Arc::try_unwrap(alice).map(|d| d.stop()));
    drop(Arc::try_unwrap(bob).map(|d| d.stop()));
    if ta < 0.5 || tb < 0.5 || sa.last_quality.is_none() {
        return Err("audio or quality check failed".into());
    }
    println!("demo ok");
    Ok(())
}

fn key_by_name(s: &str) -> Option<KeyCode> {
    if let Some(k) = s
        .chars()
        .next()
        .filter(|_| s.len() == 1)
        .and_then(KeyCode::from_digit)
    {
        return Some(k);
    }
    let n = s.to_ascii_lowercase();
    KeyCode::ALL
        .into_iter()
        .find(|k| format!("{k:?}").to_ascii_lowercase() == n)
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut it = args.into_iter();
    let mut aor = None;
    let mut addr: IpAddr = "127.0.0.1".parse().map_err(|_| "addr")?;
    let mut dhcp = None;
    let mut cfg_file = None;
    let mut ca = Vec::new();
    let (mut user, mut password) = (String::new(), String::new());
    let (mut sip_port, mut rtp_port) = (5060u16, None);
    let (mut wav_in, mut wav_out, mut script) = (None, None, None);
    let mut tone = 1000.0f32;
    let mut duration = 60u64;
    while let Some(a) = it.next() {
        let mut v = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--aor" => aor = Some(v()?),
            "--addr" => addr = v()?.parse().map_err(|_| "bad --addr")?,
            "--dhcp" => dhcp = Some(v()?),
            "--config" => cfg_file = Some(v()?),
            "--ca" => ca.push(std::fs::read(v()?).map_err(|e| format!("--ca: {e}"))?),
            "--user" => user = v()?,
            "--password" => password = v()?,
            "--sip-port" => sip_port = v()?.parse().map_err(|_| "bad --sip-port")?,
            "--rtp-port" => rtp_port = Some(v()?.parse().map_err(|_| "bad --rtp-port")?),
            "--in" => wav_in = Some(v()?),
            "--out" => wav_out = Some(v()?),
            "--tone" => tone = v()?.parse().map_err(|_| "bad --tone")?,
            "--script" => script = Some(v()?),
            "--duration" => duration = v()?.parse().map_err(|_| "bad --duration")?,
            "-h" | "--help" => {
                println!("usage: acphone [--aor URI [options]] (see the source header or README)");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let aor = aor.ok_or("--aor is required (or no arguments for the demo)")?;
    let start = Instant::now();
    let model = Model::Hd440;
    let cfg = match &cfg_file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
            let doc = Document::parse(&text).map_err(|e| format!("{f}: {e}"))?;
            Config::from_document(&doc, model).map_err(|e| format!("{f}: {e}"))?
        }
        None => Config::defaults(model),
    };
    let mic = match &wav_in {
        Some(f) => {
            let w = Wav::parse(&std::fs::read(f).map_err(|e| format!("{f}: {e}"))?)
                .map_err(|e| format!("{f}: {e}"))?;
            if w.rate != SAMPLE_RATE {
                return Err(format!("{f}: {} Hz, need 16000", w.rate));
            }
            w.samples
        }
        None => Vec::new(),
    };
    let sign_in = SignIn {
        aor,
        user,
        password,
        display_name: None,
    };
    let mut opts = DriverOptions::static_addr(addr, sign_in);
    if let Some(i) = dhcp {
        opts.network = NetworkMode::Dhcp { interface: i };
    }
    opts.ca_certs = ca;
    opts.sip_port = sip_port;
    opts.rtp_base_port = rtp_port;
    let phone = start_phone("phone", cfg, opts, start)?;
    let board = Board::start(phone.clone(), mic, tone);
    let lines: Box<dyn Iterator<Item = String>> = match script.as_deref() {
        None | Some("-") => Box::new(std::io::stdin().lock().lines().map_while(Result::ok)),
        Some(f) => Box::new(
            std::fs::read_to_string(f)
                .map_err(|e| format!("{f}: {e}"))?
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
                .into_iter(),
        ),
    };
    let end = start + Duration::from_secs(duration);
    for line in lines {
        if Instant::now() > end {
            break;
        }
        let mut w = line.split_whitespace();
        let verb = w.next().unwrap_or("");
        let arg = w.next().unwrap_or("");
        let r = match verb {
            "" | "#" => Ok(()),
            "dial" => phone.dial(arg),
            "dtmf" => arg.chars().try_for_each(|c| phone.dtmf(c)),
            "key" => match key_by_name(arg) {
                Some(k) => phone
                    .board_event(BoardEvent::Key(k, KeyAction::Pressed))
                    .and_then(|_| phone.board_event(BoardEvent::Key(k, KeyAction::Released))),
                None => {
                    println!("unknown key {arg}");
                    Ok(())
                }
            },
            "hook" => phone.board_event(BoardEvent::Hook(if arg == "off" {
                HookState::OffHook
            } else {
                HookState::OnHook
            })),
            "answer" => phone.call(CallOp::Answer),
            "hangup" => phone.call(CallOp::Hangup),
            "hold" => phone.call(CallOp::Hold),
            "resume" => phone.call(CallOp::Resume),
            "transfer" => phone.call(CallOp::Transfer(arg.to_string())),
            "dnd" => {
                let on = arg == "on";
                phone.update_features(Box::new(move |f| f.dnd = on))
            }
            "autoanswer" => {
                let on = arg == "on";
                phone.update_features(Box::new(move |f| f.auto_answer = on))
            }
            "wait" => {
                std::thread::sleep(Duration::from_millis(arg.parse().unwrap_or(100)));
                Ok(())
            }
            "status" => {
                println!(
                    "{:7.3} [phone] status {:?}",
                    start.elapsed().as_secs_f64(),
                    phone.status()
                );
                Ok(())
            }
            "quit" => break,
            other => {
                println!("unknown command {other}");
                Ok(())
            }
        };
        if let Err(e) = r {
            println!("error: {e}");
        }
    }
    let heard = board.finish();
    println!(
        "{:7.3} [phone] status {:?}",
        start.elapsed().as_secs_f64(),
        phone.status()
    );
    if let Some(f) = wav_out {
        let w = Wav {
            rate: SAMPLE_RATE,
            samples: heard,
        };
        std::fs::write(&f, w.emit()).map_err(|e| format!("{f}: {e}"))?;
    }
    drop(Arc::try_unwrap(phone).map(|d| d.stop()));
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = if args.is_empty() { demo() } else { run(args) };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("acphone: {e}");
            ExitCode::from(1)
        }
    }
}
