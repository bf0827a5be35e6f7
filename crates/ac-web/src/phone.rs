//! What the web interface needs from the running phone: the [`PhoneModel`] trait.
//!
//! `ac-core` (issue 10) will implement it over the live phone. [`FilePhone`] implements it
//! over plain files in a directory, for the tests, the demo and a host-side `ac-webd`: status
//! and call history are read from files, and actions (restart, Check Now, sign-in) are
//! appended to `events.log` where a test can see them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ac_cfg::Model;
use ac_prov::firmware::{FileSlots, Keyring, SlotStore};

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// System Information page (manual 6.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// Name/value rows (MAC address, serial number, hardware version, uptime, ...).
    pub rows: Vec<(String, String)>,
}

/// One line's registration state (VoIP status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineStatus {
    pub line: u32,
    pub uri: String,
    pub registered: bool,
    pub detail: String,
}

/// The kind of a call history entry (manual 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Missed,
    Received,
    Dialed,
}

impl CallKind {
    pub fn name(self) -> &'static str {
        match self {
            CallKind::Missed => "missed",
            CallKind::Received => "received",
            CallKind::Dialed => "dialed",
        }
    }

    pub fn parse(s: &str) -> Option<CallKind> {
        match s {
            "missed" => Some(CallKind::Missed),
            "received" => Some(CallKind::Received),
            "dialed" => Some(CallKind::Dialed),
            _ => None,
        }
    }
}

/// One call history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: u64,
    pub kind: CallKind,
    pub number: String,
    pub name: String,
    /// When, as the phone shows it.
    pub time: String,
    pub duration_s: u64,
}

/// Skype for Business sign-in state (manual 4.21).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInState {
    SignedOut,
    SignedIn { user: String },
}

/// A sign-in request from the Sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Pin { phone_number: String, pin: String },
    UserPassword { user: String, password: String },
}

/// The running phone, as the web interface sees it.
pub trait PhoneModel: Send + Sync {
    /// The hardware model (selects the schema's key set).
    fn model(&self) -> Model;
    /// Model, versions, addresses (System Information).
    fn system_info(&self) -> SystemInfo;
    /// Network status rows (IP address, mask, gateway, DNS, VLAN, ...).
    fn network_status(&self) -> Vec<(String, String)>;
    /// Line registration states (VoIP status).
    fn lines(&self) -> Vec<LineStatus>;
    /// Call history, newest first.
    fn calls(&self) -> Vec<CallRecord>;
    fn delete_call(&self, id: u64) -> Result<(), PhoneError>;
    /// Restarts the phone (after the response is sent).
    fn restart(&self) -> Result<(), PhoneError>;
    /// Automatic Provisioning "Check Now" (manual 5.2): what the check found.
    fn check_now(&self) -> Result<String, PhoneError>;
    fn sign_in_state(&self) -> SignInState;
    fn sign_in(&self, req: &SignIn) -> Result<(), PhoneError>;
    fn sign_out(&self) -> Result<(), PhoneError>;
    /// Monitoring (manual 7.2): pings `dest` (already validated) `count` times.
    fn ping(&self, dest: &str, count: u32) -> Result<String, PhoneError>;
    /// Tracing (manual 7.5): the trace log, and cleaning it.
    fn trace_log(&self) -> String;
    fn clear_trace(&self) -> Result<(), PhoneError>;
    /// The firmware A/B slots and the keys firmware must be signed with.
    fn firmware_slots(&self) -> Result<Box<dyn SlotStore>, PhoneError>;
    fn firmware_keys(&self) -> Keyring;
}

/// A [`PhoneModel`] over files in a directory:
///
/// | file | what |
/// |---|---|
/// | `info.txt` | `name=value` lines: `model`, then System Information rows; `net.*` rows are Network Status |
/// | `lines.txt` | `line,uri,registered(0/1),detail` |
/// | `calls.csv` | `id,kind,number,name,time,duration_s` |
/// | `signin.txt` | the signed-in user, absent when signed out |
/// | `trace.log` | the trace log |
/// | `events.log` | appended: `restart`, `check-now`, `sign-in <user>`, `sign-out`, `ping <dest>` |
/// | `firmware/` | `FileSlots` (`slot-a.img`, `slot-b.img`, `bootstate`) |
/// | `firmware-keys.pem` | trusted firmware signing keys |
pub struct FilePhone {
    dir: PathBuf,
    model: Model,
    slot_capacity: u64,
    lock: Mutex<()>,
}

impl FilePhone {
    /// Opens the directory; `info.txt` must name the model (`model=440HD`).
    pub fn open(dir: &Path) -> Result<FilePhone, PhoneError> {
        let info = fs::read_to_string(dir.join("info.txt"))?;
        let model = info
            .lines()
            .find_map(|l| l.strip_prefix("model="))
            .ok_or_else(|| PhoneError::Refused("info.txt has no model= line".into()))?
            .parse::<Model>()
            .map_err(|e| PhoneError::Refused(e.to_string()))?;
        Ok(FilePhone {
            dir: dir.to_path_buf(),
            model,
            slot_capacity: 64 << 20,
            lock: Mutex::new(()),
        })
    }

    /// Writes a fresh directory for `model` (no calls, no firmware keys).
    pub fn init(dir: &Path, model: Model) -> Result<FilePhone, PhoneError> {
        fs::create_dir_all(dir)?;
        let info = dir.join("info.txt");
        if !info.exists() {
            fs::write(
                &info,
                format!(
                    "model={model}\nMAC address=00:90:8f:00:00:01\nSerial number=000000000001\nHardware version=1.0\nnet.IP address=192.0.2.10\nnet.Subnet mask=255.255.255.0\nnet.Default gateway=192.0.2.1\n"
                ),
            )?;
        }
        FilePhone::open(dir)
    }

    fn event(&self, what: &str) -> Result<(), PhoneError> {
        let _g = self.lock.lock();
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("events.log"))?;
        writeln!(f, "{what}")?;
        Ok(())
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    fn info_rows(&self) -> Vec<(String, String)> {
        self.read("info.txt")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl PhoneModel for FilePhone {
    fn model(&self) -> Model {
        self.model
    }

    fn system_info(&self) -> SystemInfo {
        SystemInfo {
            rows: self
                .info_rows()
                .into_iter()
                .filter(|(k, _)| k != "model" && !k.starts_with("net."))
                .collect(),
        }
    }

    fn network_status(&self) -> Vec<(String, String)> {
        self.info_rows()
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("net.").map(|k| (k.to_string(), v)))
            .collect()
    }

    fn lines(&self) -> Vec<LineStatus> {
        self.read("lines.txt")
            .lines()
            .filter_map(|l| {
                let mut it = l.splitn(4, ',');
                Some(LineStatus {
                    line: it.next()?.parse().ok()?,
                    uri: it.next()?.to_string(),
                    registered: it.next()? == "1",
                    detail: it.next().unwrap_or("").to_string(),
                })
            })
            .collect()
    }

    fn calls(&self) -> Vec<CallRecord> {
        let mut v: Vec<CallRecord> = self
            .read("calls.csv")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                if f.len() != 6 {
                    return None;
                }
                Some(CallRecord {
                    id: f[0].parse().ok()?,
                    kind: CallKind::parse(f[1])?,
                    number: f[2].to_string(),
                    name: f[3].to_string(),
                    time: f[4].to_string(),
                    duration_s: f[5].parse().ok()?,
                })
            })
            .collect();
        v.reverse();
        v
    }

    fn delete_call(&self, id: u64) -> Result<(), PhoneError> {
        let _g = self.lock.lock();
        let text = self.read("calls.csv");
        let kept: String = text
            .lines()
            .filter(|l| l.split(',').next() != Some(&id.to_string()))
            .map(|l| format!("{l}\n"))
            .collect();
        ac_cfg::fsutil::atomic_write(&self.dir.join("calls.csv"), kept.as_bytes())?;
        Ok(())
    }

    fn restart(&self) -> Result<(), PhoneError> {
        self.event("restart")
    }

    fn check_now(&self) -> Result<String, PhoneError> {
        self.event("check-now")?;
        Ok("No newer firmware or configuration on the provisioning server.".into())
    }

    fn sign_in_state(&self) -> SignInState {
        match self.read("signin.txt").trim() {
            "" => SignInState::SignedOut,
            u => SignInState::SignedIn {
                user: u.to_string(),
            },
        }
    }

    fn sign_in(&self, req: &SignIn) -> Result<(), PhoneError> {
        let user = match req {
            SignIn::Pin { phone_number, .. } => phone_number.clone(),
            SignIn::UserPassword { user, .. } => user.clone(),
        };
        fs::write(self.dir.join("signin.txt"), &user)?;
        // The PIN / password goes to the sign-in service, never into a file or log.
        self.event(&format!("sign-in {user}"))
    }

    fn sign_out(&self) -> Result<(), PhoneError> {
        let _ = fs::remove_file(self.dir.join("signin.txt"));
        self.event("sign-out")
    }

    fn ping(&self, dest: &str, count: u32) -> Result<String, PhoneError> {
        self.event(&format!("ping {dest}"))?;
        // No shell: the destination is one argument, validated by the caller as an address
        // or host name, after `--`-free options.
        let out = std::process::Command::new("ping")
            .arg("-n")
            .arg("-c")
            .arg(count.to_string())
            .arg("-W")
            .arg("1")
            .arg(dest)
            .output()?;
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(s)
    }

    fn trace_log(&self) -> String {
        self.read("trace.log")
    }

    fn clear_trace(&self) -> Result<(), PhoneError> {
        fs::write(self.dir.join("trace.log"), "")?;
        Ok(())
    }

    fn firmware_slots(&self) -> Result<Box<dyn SlotStore>, PhoneError> {
        let d = self.dir.join("firmware");
        fs::create_dir_all(&d)?;
        let s = FileSlots::open(&d, self.slot_capacity)
            .map_err(|e| PhoneError::Refused(e.to_string()))?;
        Ok(Box::new(s))
    }

    fn firmware_keys(&self) -> Keyring {
        let mut k = Keyring::new();
        let _ = k.add_pem(&self.read("firmware-keys.pem"));
        k
    }
}
