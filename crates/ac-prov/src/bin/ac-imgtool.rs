//! `ac-imgtool`: build, inspect and verify signed firmware images, and drive A/B slots on a
//! host (the bootloader's decision, confirmation, local installs).
//!
//! Keys are Ed25519 in PEM: `keygen` writes them, and `openssl genpkey -algorithm ed25519` /
//! `openssl pkey -pubout` keys work the same.
//!
//! Exit status: 0 success, 1 the image or update was refused / does not verify, 2 usage or
//! I/O error, 3 (`slots boot`) no valid image: recovery mode.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ac_cfg::{fsutil, Model};
use ac_prov::firmware::boot::{boot, BootError};
use ac_prov::firmware::image::{
    key_id, models_of, signing_key_from_pem, signing_key_to_pem, verifying_key_to_pem,
};
use ac_prov::firmware::{
    build, install_factory, verify_image, BuildSpec, FileSlots, Header, Installer, Keyring, Policy,
    Slot, SlotStore, UpdateError,
};
use clap::{Parser, Subcommand};
use ed25519_dalek::SigningKey;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "ac-imgtool",
    version,
    about = "400HD firmware images and A/B slots"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct SlotArgs {
    /// Slots directory (slot-a.img, slot-b.img, bootstate).
    #[arg(long)]
    dir: PathBuf,
    /// Capacity of each slot, bytes.
    #[arg(long, default_value_t = 64 << 20)]
    size: u64,
    /// Trusted public key(s), PEM.
    #[arg(long = "key")]
    keys: Vec<PathBuf>,
    /// This phone's model.
    #[arg(long)]
    model: Option<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate an Ed25519 signing key (PKCS#8 PEM) and its public key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "pub")]
        public: PathBuf,
    },
    /// Build and sign an image.
    Build {
        /// Signing key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "fw-version")]
        fw_version: String,
        /// Models the image is for (repeat).
        #[arg(long = "model", required = true)]
        models: Vec<String>,
        /// Anti-rollback security counter.
        #[arg(long, default_value_t = 0)]
        counter: u32,
        /// Build time (Unix seconds; default now, or SOURCE_DATE_EPOCH).
        #[arg(long)]
        build_time: Option<u64>,
        /// Sections, in order: NAME=FILE (repeat; 1 to 16).
        #[arg(long = "section", required = true)]
        sections: Vec<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Print an image's header (no key needed).
    Inspect { image: PathBuf },
    /// Verify an image completely with trusted key(s).
    Verify {
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// Also require that the image is for this model.
        #[arg(long)]
        model: Option<String>,
        image: PathBuf,
    },
    /// A/B slots on a host.
    Slots {
        #[command(subcommand)]
        cmd: SlotCmd,
    },
}

#[derive(Subcommand)]
enum SlotCmd {
    /// Factory-program IMAGE into slot A as the good, running image.
    Init {
        #[command(flatten)]
        s: SlotArgs,
        image: PathBuf,
    },
    /// The bootloader's decision (counts trial boots, rolls back, verifies).
    Boot {
        #[command(flatten)]
        s: SlotArgs,
    },
    /// Confirm the running slot (after a successful boot and registration).
    MarkGood {
        #[command(flatten)]
        s: SlotArgs,
    },
    /// Print the boot state.
    Status {
        #[command(flatten)]
        s: SlotArgs,
    },
    /// Install a local image file into the inactive slot (manual upgrade, manual 5.1).
    Install {
        #[command(flatten)]
        s: SlotArgs,
        #[arg(long)]
        allow_downgrade: bool,
        image: PathBuf,
    },
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn keyring(paths: &[PathBuf]) -> Result<Keyring, String> {
    let mut r = Keyring::new();
    for p in paths {
        let pem = String::from_utf8(read(p)?).map_err(|_| format!("{}: not PEM", p.display()))?;
        r.add_pem(&pem)
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(r)
}

fn model(m: &str) -> Result<Model, String> {
    m.parse::<Model>()
        .map_err(|_| format!("unknown model {m:?}"))
}

fn header_json(h: &Header) -> serde_json::Value {
    json!({
        "version": h.version,
        "models": models_of(h.models).iter().map(|m| m.name()).collect::<Vec<_>>(),
        "security_counter": h.security_counter,
        "key_id": hex(&h.key_id),
        "build_time": h.build_time,
        "header_bytes": h.len(),
        "image_bytes": h.image_len(),
        "sections": h.sections.iter().map(|s| json!({
            "name": s.name, "offset": s.offset, "size": s.size, "sha256": hex(&s.sha256)
        })).collect::<Vec<_>>(),
    })
}

/// Refusals exit 1, everything else 2.
enum Fail {
    Refused(String),
    Usage(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Usage(s)
    }
}

fn slot_ctx(s: &SlotArgs) -> Result<(FileSlots, Keyring, Model), Fail> {
    let store = FileSlots::open(&s.dir, s.size).map_err(|e| format!("{}: {e}", s.dir.display()))?;
    let keys = keyring(&s.keys)?;
    let m = match &s.model {
        Some(m) => model(m)?,
        None => Model::Hd420,
    };
    Ok((store, keys, m))
}

fn need_keys(keys: &Keyring) -> Result<(), Fail> {
    if keys.is_empty() {
        return Err(Fail::Usage("--key is required".into()));
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode, Fail> {
    match cli.cmd {
        Cmd::Keygen { out, public } => {
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).map_err(|e| format!("random: {e}"))?;
            let k = SigningKey::from_bytes(&seed);
            let pem = signing_key_to_pem(&k).map_err(|e| e.to_string())?;
            fsutil::atomic_write(&out, pem.as_bytes()).map_err(|e| e.to_string())?;
            let pubpem = verifying_key_to_pem(&k.verifying_key()).map_err(|e| e.to_string())?;
            fsutil::atomic_write(&public, pubpem.as_bytes()).map_err(|e| e.to_string())?;
            println!("{}", json!({"key_id": hex(&key_id(&k.verifying_key()))}));
        }
        Cmd::Build {
            key,
            fw_version,
            models,
            counter,
            build_time,
            sections,
            out,
        } => {
            let pem = String::from_utf8(read(&key)?).map_err(|_| "key: not PEM".to_string())?;
            let k = signing_key_from_pem(&pem).map_err(|e| e.to_string())?;
            let models = models
                .iter()
                .map(|m| model(m))
                .collect::<Result<Vec<_>, _>>()?;
            let mut data = Vec::new();
            for s in &sections {
                let (n, f) = s
                    .split_once('=')
                    .ok_or_else(|| format!("--section {s:?}: expected NAME=FILE"))?;
                data.push((n.to_string(), read(Path::new(f))?));
            }
            let secs: Vec<(&str, &[u8])> = data
                .iter()
                .map(|(n, d)| (n.as_str(), d.as_slice()))
                .collect();
            let build_time = build_time
                .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok()?.parse().ok())
                .unwrap_or_else(|| {
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                });
            let img = build(
                &k,
                &BuildSpec {
                    version: &fw_version,
                    models: &models,
                    security_counter: counter,
                    build_time,
                    sections: &secs,
                },
            )
            .map_err(|e| e.to_string())?;
            fsutil::atomic_write(&out, &img).map_err(|e| e.to_string())?;
            let h = Header::parse(&img).map_err(|e| e.to_string())?;
            println!("{}", header_json(&h));
        }
        Cmd::Inspect { image } => {
            let b = read(&image)?;
            let h = Header::parse(&b).map_err(|e| Fail::Refused(e.to_string()))?;
            println!(
                "{}",
                serde_json::to_string_pretty(&header_json(&h)).unwrap_or_default()
            );
        }
        Cmd::Verify {
            keys,
            model: m,
            image,
        } => {
            let keys = keyring(&keys)?;
            let b = read(&image)?;
            let h = verify_image(&b, &keys).map_err(|e| Fail::Refused(e.to_string()))?;
            if let Some(m) = m {
                let m = model(&m)?;
                if !h.supports(m) {
                    return Err(Fail::Refused(format!("image is not for {m}")));
                }
            }
            println!("{}", json!({"ok": true, "version": h.version}));
        }
        Cmd::Slots { cmd } => match cmd {
            SlotCmd::Init { s, image } => {
                let (mut st, keys, m) = slot_ctx(&s)?;
                need_keys(&keys)?;
                let img = read(&image)?;
                let h = install_factory(&mut st, Slot::A, &img, &keys, m)
                    .map_err(|e| Fail::Refused(e.to_string()))?;
                println!("{}", json!({"slot": "A", "version": h.version}));
            }
            SlotCmd::Boot { s } => {
                let (mut st, keys, m) = slot_ctx(&s)?;
                need_keys(&keys)?;
                match boot(&mut st, &keys, m) {
                    Ok(d) => println!(
                        "{}",
                        json!({"slot": d.slot.to_string(), "version": d.version, "trial": d.trial,
                               "rolled_back": d.rolled_back, "fell_back": d.fell_back})
                    ),
                    Err(BootError::NoValidImage { a, b }) => {
                        println!(
                            "{}",
                            json!({"recovery": true,
                                   "a": a.map(|e| e.to_string()), "b": b.map(|e| e.to_string())})
                        );
                        return Ok(ExitCode::from(3));
                    }
                    Err(e) => return Err(Fail::Usage(e.to_string())),
                }
            }
            SlotCmd::MarkGood { s } => {
                let (mut st, _, _) = slot_ctx(&s)?;
                let r = st.mark_good().map_err(|e| e.to_string())?;
                println!("{}", json!({"confirmed": r.map(|s| s.to_string())}));
            }
            SlotCmd::Status { s } => {
                let (mut st, _, _) = slot_ctx(&s)?;
                match st.load_state().map_err(|e| e.to_string())? {
                    None => println!("{}", json!({"state": null})),
                    Some(b) => {
                        let slot = |x: Slot| {
                            let i = b.slot(x);
                            json!({"state": format!("{:?}", i.state), "version": i.version,
                                   "security_counter": i.security_counter, "image_bytes": i.image_len,
                                   "resume_offset": i.resume_offset})
                        };
                        println!(
                            "{}",
                            json!({"seq": b.seq, "active": b.active.to_string(), "trial": b.trial,
                                   "boot_count": b.boot_count, "max_tries": b.max_tries,
                                   "min_counter": b.min_counter, "a": slot(Slot::A), "b": slot(Slot::B)})
                        );
                    }
                }
            }
            SlotCmd::Install {
                s,
                allow_downgrade,
                image,
            } => {
                let (mut st, keys, m) = slot_ctx(&s)?;
                need_keys(&keys)?;
                let img = read(&image)?;
                let pol = Policy {
                    allow_downgrade,
                    ..Policy::new(m)
                };
                let refused = |e: UpdateError| match e {
                    UpdateError::Slot(e) => Fail::Usage(e.to_string()),
                    e => Fail::Refused(e.to_string()),
                };
                let mut inst = Installer::begin(&mut st, &keys, &pol, &img).map_err(refused)?;
                let from = inst.offset() as usize;
                let body = img.get(from..).unwrap_or(&[]);
                for c in body.chunks(256 << 10) {
                    inst.feed(&mut st, c).map_err(refused)?;
                }
                let slot = inst.target();
                let h = inst.finish(&mut st).map_err(refused)?;
                println!(
                    "{}",
                    json!({"installed": h.version, "slot": slot.to_string(), "trial": true})
                );
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(c) => c,
        Err(Fail::Refused(e)) => {
            eprintln!("ac-imgtool: refused: {e}");
            ExitCode::from(1)
        }
        Err(Fail::Usage(e)) => {
            eprintln!("ac-imgtool: {e}");
            ExitCode::from(2)
        }
    }
}
