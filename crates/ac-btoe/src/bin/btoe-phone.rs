//! `btoe-phone`: the phone end of BToE with a simulated call state, for tests and for PC
//! integrators without a phone. (On the phone, ac-core composes `ac_btoe::driver::PhoneDriver`
//! with its real calls.)
//!
//! Reads the `lync/BToE/*` parameters from a .cfg file (`--cfg`, schema defaults otherwise).
//! Prints one line per event on stdout (`code K7Q2M9XA`, `connected mode=code peer=...`,
//! `command dial 5551234`, `call 1 connected out 5551234`, ...). Reads commands from stdin:
//! `incoming NUMBER`, `answer ID`, `hold ID`, `resume ID`, `hangup ID`, `lock`, `unlock`,
//! `code`, `may-lock`, `disconnect`, `quit`. With `--loopback-audio` it sends the PC's audio
//! straight back.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ac_btoe::config::{BtoeConfig, Subnet};
use ac_btoe::driver::{PhoneBind, PhoneDriver};
use ac_btoe::phone::{PhoneConfig, PhoneEvent};
use ac_btoe::wire::{CallInfo, CallState, Command, Number};
use ac_cfg::{Config, Document, Model};
use clap::Parser;

#[derive(Parser)]
#[command(about = "BToE phone end with a simulated call state")]
struct Args {
    /// Configuration file with lync/BToE/* parameters.
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// The phone's own subnet(s), address/prefix (CheckNetwork).
    #[arg(long = "network")]
    networks: Vec<String>,
    /// The phone's address/prefix on the PC-port link (enables automatic pairing).
    #[arg(long)]
    pc_port: Option<String>,
    /// Name shown to the PC.
    #[arg(long, default_value = "AudioCodes 450HD")]
    name: String,
    /// Send received audio back to the PC.
    #[arg(long)]
    loopback_audio: bool,
}

fn say(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
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

fn run(args: Args) -> Result<(), String> {
    let text = match &args.cfg {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        None => String::new(),
    };
    let doc = Document::parse(&text).map_err(|e| e.to_string())?;
    let cfg = Config::from_document(&doc, Model::Hd450).map_err(|e| e.to_string())?;
    let btoe = BtoeConfig::from_config(&cfg).map_err(|e| e.to_string())?;
    let networks = args
        .networks
        .iter()
        .map(|s| Subnet::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let pc_port = args
        .pc_port
        .as_deref()
        .map(Subnet::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let driver = PhoneDriver::start(
        PhoneConfig {
            btoe,
            networks,
            pc_port,
            name: args.name.clone(),
        },
        PhoneBind::default(),
    )
    .map_err(|e| e.to_string())?;
    say(&format!("listening {}", driver.tcp_addr()));

    let (line_tx, lines) = crossbeam_channel::unbounded::<String>();
    std::thread::spawn(move || {
        for l in std::io::stdin().lock().lines() {
            let Ok(l) = l else { break };
            if line_tx.send(l).is_err() {
                break;
            }
        }
        let _ = line_tx.send("quit".into());
    });

    let mut calls: BTreeMap<u32, CallInfo> = BTreeMap::new();
    let mut next_id = 1u32;
    let set = |calls: &mut BTreeMap<u32, CallInfo>, id: u32, st: CallState| {
        if let Some(c) = calls.get_mut(&id) {
            c.state = st;
            let c = c.clone();
            say(&call_line(&c));
            driver.update_call(c.clone());
            if st == CallState::Ended {
                calls.remove(&id);
            }
            true
        } else {
            false
        }
    };
    loop {
        crossbeam_channel::select! {
            recv(driver.events()) -> ev => {
                let Ok(ev) = ev else { return Err("driver stopped".into()) };
                match ev {
                    PhoneEvent::PairCode(c) => say(&format!("code {c}")),
                    PhoneEvent::Connected { peer, mode, .. } => {
                        say(&format!("connected mode={mode:?} peer={peer}"))
                    }
                    PhoneEvent::NewPairing(p) => say(&format!("paired mode={:?}", p.mode)),
                    PhoneEvent::Disconnected { reason, .. } => {
                        say(&format!("disconnected {reason:?}"))
                    }
                    PhoneEvent::Refused { peer, code } => {
                        say(&format!("refused peer={peer} code={code:?}"))
                    }
                    PhoneEvent::AuthFailed { peer } => say(&format!("auth-failed peer={peer}")),
                    PhoneEvent::PcLock { locked } => say(&format!("pc-lock {locked}")),
                    PhoneEvent::Audio { frame, .. } => {
                        if args.loopback_audio {
                            driver.send_audio(frame.payload_type, frame.timestamp, frame.payload);
                        }
                    }
                    PhoneEvent::Command { cmd, .. } => match cmd {
                        Command::Dial(n) => {
                            say(&format!("command dial {n}"));
                            let id = next_id;
                            next_id += 1;
                            // Simulated outgoing call: dialing, ringback, the far end answers.
                            calls.insert(id, CallInfo { id, state: CallState::Dialing, incoming: false, remote: n });
                            for st in [CallState::Dialing, CallState::Ringback, CallState::Connected] {
                                set(&mut calls, id, st);
                            }
                        }
                        Command::Answer(id) => {
                            say(&format!("command answer {id}"));
                            set(&mut calls, id, CallState::Connected);
                        }
                        Command::Hold(id) => {
                            say(&format!("command hold {id}"));
                            set(&mut calls, id, CallState::Held);
                        }
                        Command::Resume(id) => {
                            say(&format!("command resume {id}"));
                            set(&mut calls, id, CallState::Connected);
                        }
                        Command::Hangup(id) => {
                            say(&format!("command hangup {id}"));
                            set(&mut calls, id, CallState::Ended);
                        }
                        Command::Conference(a, b) => {
                            say(&format!("command conference {a} {b}"));
                            set(&mut calls, a, CallState::Connected);
                            set(&mut calls, b, CallState::Connected);
                        }
                    },
                }
            }
            recv(lines) -> l => {
                let l = l.unwrap_or_else(|_| "quit".into());
                let mut w = l.split_whitespace();
                let verb = w.next().unwrap_or("");
                let arg = w.next();
                let id = arg.and_then(|a| a.parse::<u32>().ok());
                let ok = match (verb, id) {
                    ("incoming", _) => match arg.map(Number::new) {
                        Some(Ok(n)) => {
                            let id = next_id;
                            next_id += 1;
                            calls.insert(id, CallInfo { id, state: CallState::Ringing, incoming: true, remote: n });
                            set(&mut calls, id, CallState::Ringing)
                        }
                        _ => false,
                    },
                    ("answer" | "resume", Some(id)) => set(&mut calls, id, CallState::Connected),
                    ("hold", Some(id)) => set(&mut calls, id, CallState::Held),
                    ("hangup", Some(id)) => set(&mut calls, id, CallState::Ended),
                    ("lock", _) => { driver.set_locked(true); say("locked true"); true }
                    ("unlock", _) => { driver.set_locked(false); say("locked false"); true }
                    ("code", _) => match driver.pair_code() {
                        Some(c) => { say(&format!("code {c}")); true }
                        None => false,
                    },
                    ("may-lock", _) => match driver.may_lock_manually() {
                        Some(m) => { say(&format!("may-lock {m}")); true }
                        None => false,
                    },
                    ("disconnect", _) => { driver.disconnect(false); true }
                    ("quit", _) => return Ok(()),
                    ("", _) => true,
                    _ => false,
                };
                if !ok {
                    say(&format!("error {l}"));
                }
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("btoe-phone: {e}");
            ExitCode::FAILURE
        }
    }
}
