//! `ac-webd`: the phone's web interface as a program.
//!
//! ```text
//! ac-webd --config-dir DIR --listen ADDR [--tls-cert PEM --tls-key PEM] [--model 440HD] [--log FILE]
//! ```
//!
//! DIR holds `phone.cfg`, `credentials` (created with the factory password on first start),
//! `directory.csv`, `tones/`, and the [`FilePhone`] files (`info.txt`, `calls.csv`, ...,
//! `firmware/`). Exit codes: 0 stopped, 1 could not start, 2 usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ac_web::app::{App, Settings};
use ac_web::phone::FilePhone;
use ac_web::server::{load_tls, Limits, Server};

const USAGE: &str = "usage: ac-webd --config-dir DIR --listen ADDR [--tls-cert PEM --tls-key PEM] [--model 440HD] [--log FILE]";

fn main() -> ExitCode {
    let mut dir = None;
    let mut listen = None;
    let mut cert = None;
    let mut key = None;
    let mut model = None;
    let mut log = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next();
        match a.as_str() {
            "--config-dir" => dir = val().map(PathBuf::from),
            "--listen" => listen = val(),
            "--tls-cert" => cert = val().map(PathBuf::from),
            "--tls-key" => key = val().map(PathBuf::from),
            "--model" => model = val(),
            "--log" => log = val().map(PathBuf::from),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(dir), Some(listen)) = (dir, listen) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if cert.is_some() != key.is_some() {
        eprintln!("--tls-cert and --tls-key go together\n{USAGE}");
        return ExitCode::from(2);
    }
    match run(dir, &listen, cert.zip(key), model, log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ac-webd: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(
    dir: PathBuf,
    listen: &str,
    tls: Option<(PathBuf, PathBuf)>,
    model: Option<String>,
    log: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = match model {
        Some(m) => m.parse()?,
        None => ac_cfg::Model::Hd440,
    };
    let phone = FilePhone::init(&dir, model)?;
    let tls = match tls {
        Some((c, k)) => Some(load_tls(&c, &k)?),
        None => None,
    };
    let mut settings = Settings::new(&dir);
    settings.tls_available = tls.is_some();
    let sink: Box<dyn std::io::Write + Send> = match log {
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let app = Arc::new(App::new(settings, Box::new(phone), sink)?);
    let server = Server::bind(listen, app.clone(), tls, Limits::default())?;
    app.log(&format!("ac-webd listening on {}", server.local_addr()?));
    server.run(Arc::new(AtomicBool::new(false)));
    Ok(())
}
