//! `ac-cfgtool`: the administrator's tool for 400HD configuration files.
//!
//! Exit codes: 0 success, 1 invalid input (or a file that cannot be read/written), 2 usage.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ac_cfg::companion;
use ac_cfg::crypto::{self, AeadKey, Keys, TdesKey};
use ac_cfg::delta;
use ac_cfg::document::Document;
use ac_cfg::fsutil::atomic_write;
use ac_cfg::model::Model;
use ac_cfg::validate::{self, Severity};
use clap::{Args, Parser, Subcommand, ValueEnum};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "ac-cfgtool",
    version,
    about = "Validate, diff, merge and encrypt 400HD .cfg configuration files"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct KeyArgs {
    /// Passphrase (OpenSSL `-pass pass:` semantics). Prefer --passphrase-file or the
    /// AC_CFG_PASSPHRASE environment variable: command lines are visible to other users.
    #[arg(short = 'k', long)]
    passphrase: Option<String>,
    /// File whose first line is the passphrase.
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// Raw 3DES key, 48 hex digits (with --iv-hex), instead of a passphrase.
    #[arg(long, value_name = "HEX", requires = "iv_hex")]
    key_hex: Option<String>,
    /// Raw 3DES IV, 16 hex digits.
    #[arg(long, value_name = "HEX", requires = "key_hex")]
    iv_hex: Option<String>,
    /// Raw AES-256 key for the gcm format, 64 hex digits.
    #[arg(long, value_name = "HEX")]
    aes_key_hex: Option<String>,
    /// PBKDF2 iterations when encrypting to the gcm format with a passphrase.
    #[arg(long, default_value_t = crypto::DEFAULT_PBKDF2_ITERATIONS)]
    iterations: u32,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    /// 3DES-CBC, compatible with the phone and `openssl enc -des-ede3-cbc -nosalt -md md5`.
    Cfx,
    /// AES-256-GCM with a versioned, authenticated header (preferred).
    Gcm,
}

#[derive(Subcommand)]
enum Cmd {
    /// Encrypt a configuration file (-f) or a password (-s), like the manual's encryption_tool.
    Encrypt {
        /// Configuration file to encrypt; the output defaults to the same name with .cfx.
        #[arg(
            short = 'f',
            long,
            value_name = "FILE",
            conflicts_with = "string",
            required_unless_present = "string"
        )]
        file: Option<PathBuf>,
        /// Password to encrypt into {"base64"} for a .cfg value.
        #[arg(short = 's', long, value_name = "PASSWORD")]
        string: Option<String>,
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "cfx")]
        format: Format,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Decrypt a .cfx / gcm file (-f) or a {"base64"} value (-s).
    Decrypt {
        #[arg(
            short = 'f',
            long,
            value_name = "FILE",
            conflicts_with = "string",
            required_unless_present = "string"
        )]
        file: Option<PathBuf>,
        #[arg(short = 's', long, value_name = "VALUE")]
        string: Option<String>,
        /// Output file (default: standard output).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Check a configuration file; prints `line:column: severity[kind]: message`.
    Validate {
        file: PathBuf,
        /// Check against this model (405HD, 420HD, 430HD, 440HD, 450HD).
        #[arg(long)]
        model: Option<Model>,
        /// Treat unknown keys as errors.
        #[arg(long)]
        strict: bool,
        /// One JSON object per diagnostic.
        #[arg(long)]
        json: bool,
    },
    /// Keep only the fields that differ from the model's defaults (manual 2.2.4).
    Delta {
        file: PathBuf,
        #[arg(long)]
        model: Model,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Apply a delta onto a configuration (model-checked; nothing applied on error).
    Merge {
        base: PathBuf,
        delta: PathBuf,
        #[arg(long)]
        model: Model,
        /// Output file (may be BASE itself; written atomically). Default: standard output.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Print the factory configuration of a model.
    Defaults {
        #[arg(long)]
        model: Model,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
    },
    /// Print the parameter schema.
    Schema {
        /// One JSON object per parameter and line: {"key":...,"default":...,...}.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// The Markdown reference (docs/parameters.md).
        #[arg(long)]
        markdown: bool,
        /// Only the parameters of this model, with its defaults.
        #[arg(long)]
        model: Option<Model>,
    },
    /// Check a speed-dial list (manual 3.2.3.1.2) and print it normalized.
    SpeedDial { file: PathBuf },
    /// Check a personal directory file and print it normalized.
    Directory { file: PathBuf },
}

/// An error that maps to exit code 1.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail(e.to_string())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Fail> {
    if path == Path::new("-") {
        let mut v = Vec::new();
        io::stdin().read_to_end(&mut v)?;
        return Ok(v);
    }
    std::fs::read(path).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

fn write_out(output: Option<&Path>, data: &[u8]) -> Result<(), Fail> {
    match output {
        Some(p) if p != Path::new("-") => {
            atomic_write(p, data).map_err(|e| Fail(format!("{}: {e}", p.display())))
        }
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(data)?;
            out.flush()?;
            Ok(())
        }
    }
}

fn parse_doc<'a>(path: &Path, bytes: &'a [u8]) -> Result<Document<'a>, Fail> {
    Document::parse_bytes(bytes).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

impl KeyArgs {
    fn passphrase(&self) -> Result<Option<Zeroizing<String>>, Fail> {
        if let Some(p) = &self.passphrase {
            return Ok(Some(Zeroizing::new(p.clone())));
        }
        if let Some(f) = &self.passphrase_file {
            let text = Zeroizing::new(read(f).map(|b| String::from_utf8_lossy(&b).into_owned())?);
            let line = text.lines().next().unwrap_or("").to_string();
            return Ok(Some(Zeroizing::new(line)));
        }
        Ok(std::env::var("AC_CFG_PASSPHRASE").ok().map(Zeroizing::new))
    }

    fn keys(&self) -> Result<Keys, Fail> {
        let pass = self.passphrase()?;
        let tdes = match (&self.key_hex, &self.iv_hex, &pass) {
            (Some(k), Some(iv), _) => Some(TdesKey::from_hex(k, iv)?),
            (_, _, Some(p)) => Some(TdesKey::passphrase(p.as_bytes())),
            _ => None,
        };
        let aead = match (&self.aes_key_hex, &pass) {
            (Some(k), _) => Some(AeadKey::from_hex(k)?),
            (None, Some(p)) => Some(AeadKey::Passphrase {
                passphrase: Zeroizing::new(p.as_bytes().to_vec()),
                iterations: self.iterations,
            }),
            _ => None,
        };
        if tdes.is_none() && aead.is_none() {
            return Err(Fail(
                "no key given: use --passphrase-file, AC_CFG_PASSPHRASE, -k, --key-hex/--iv-hex or --aes-key-hex \
                 (no key is built in)"
                    .into(),
            ));
        }
        Ok(Keys { tdes, aead })
    }
}

fn run(cmd: Cmd) -> Result<bool, Fail> {
    match cmd {
        Cmd::Encrypt {
            file,
            string,
            output,
            format,
            key,
        } => {
            let keys = key.keys()?;
            if let Some(s) = string {
                let k = keys.tdes.ok_or_else(|| {
                    Fail("a value is encrypted with 3DES: give a passphrase or --key-hex".into())
                })?;
                println!("{}", crypto::encrypt_value(&s, &k));
                return Ok(true);
            }
            let Some(file) = file else {
                return Err(Fail("give -f FILE or -s PASSWORD".into()));
            };
            let plain = read(&file)?;
            // Refuse to encrypt something that is not a configuration document.
            parse_doc(&file, &plain)?;
            let data = match format {
                Format::Cfx => {
                    let k = keys.tdes.ok_or_else(|| {
                        Fail("the cfx format needs a passphrase or --key-hex".into())
                    })?;
                    crypto::encrypt_cfx(&plain, &k)
                }
                Format::Gcm => {
                    let k = keys.aead.ok_or_else(|| {
                        Fail("the gcm format needs a passphrase or --aes-key-hex".into())
                    })?;
                    crypto::encrypt_aead(&plain, &k)?
                }
            };
            let out = output.unwrap_or_else(|| file.with_extension("cfx"));
            write_out(Some(&out), &data)?;
            eprintln!("wrote {}", out.display());
            Ok(true)
        }
        Cmd::Decrypt {
            file,
            string,
            output,
            key,
        } => {
            let keys = key.keys()?;
            if let Some(s) = string {
                let k = keys.tdes.ok_or_else(|| {
                    Fail("a value is encrypted with 3DES: give a passphrase or --key-hex".into())
                })?;
                let plain = Zeroizing::new(crypto::decrypt_value(&s, &k)?);
                println!("{}", plain.as_str());
                return Ok(true);
            }
            let Some(file) = file else {
                return Err(Fail("give -f FILE or -s VALUE".into()));
            };
            let data = read(&file)?;
            let text = crypto::decrypt_config(&data, &keys)
                .map_err(|e| Fail(format!("{}: {e}", file.display())))?;
            parse_doc(&file, text.as_bytes())?;
            write_out(output.as_deref(), text.as_bytes())?;
            Ok(true)
        }
        Cmd::Validate {
            file,
            model,
            strict,
            json,
        } => {
            let bytes = read(&file)?;
            let doc = parse_doc(&file, &bytes)?;
            let opts = validate::Options {
                model,
                strict_unknown: strict,
            };
            let diags = validate::validate(&doc, &opts);
            let mut out = io::stdout().lock();
            for d in &diags {
                if json {
                    let o = serde_json::json!({
                        "file": file.display().to_string(), "line": d.line, "column": d.column,
                        "severity": if d.severity == Severity::Error { "error" } else { "warning" },
                        "kind": d.kind.name(), "message": d.message,
                    });
                    writeln!(out, "{o}")?;
                } else {
                    writeln!(out, "{}:{d}", file.display())?;
                }
            }
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            if !json {
                eprintln!(
                    "{}: {} entries, {} error(s), {} warning(s)",
                    file.display(),
                    doc.entries().count(),
                    errors,
                    diags.len() - errors
                );
            }
            Ok(errors == 0)
        }
        Cmd::Delta {
            file,
            model,
            output,
        } => {
            let bytes = read(&file)?;
            let doc = parse_doc(&file, &bytes)?;
            delta::check_model(&doc, model)?;
            let (d, notes) = delta::modified_fields(&doc, model);
            for n in notes {
                eprintln!("{}:{n}", file.display());
            }
            write_out(output.as_deref(), d.emit().as_bytes())?;
            Ok(true)
        }
        Cmd::Merge {
            base,
            delta: delta_path,
            model,
            output,
        } => {
            let b = read(&base)?;
            let d = read(&delta_path)?;
            let base_doc = parse_doc(&base, &b)?;
            let delta_doc = parse_doc(&delta_path, &d)?;
            let merged = delta::merge(&base_doc, &delta_doc, model).map_err(|e| match e {
                delta::DeltaError::Invalid(diags)
                | delta::DeltaError::ModelMismatch {
                    diagnostics: diags, ..
                } => {
                    let lines: Vec<String> = diags
                        .iter()
                        .map(|x| format!("{}:{x}", delta_path.display()))
                        .collect();
                    Fail(format!(
                        "merge rejected; nothing applied\n{}",
                        lines.join("\n")
                    ))
                }
                other => Fail(other.to_string()),
            })?;
            write_out(output.as_deref(), merged.emit().as_bytes())?;
            Ok(true)
        }
        Cmd::Defaults { model, output } => {
            write_out(output.as_deref(), delta::defaults(model).emit().as_bytes())?;
            Ok(true)
        }
        Cmd::Schema {
            json,
            markdown,
            model,
        } => {
            let mut out = io::stdout().lock();
            if markdown {
                out.write_all(ac_cfg::docs::parameters_markdown().as_bytes())?;
            } else if json {
                for o in ac_cfg::docs::schema_json(model) {
                    writeln!(out, "{o}")?;
                }
            } else {
                for p in ac_cfg::Schema::get().params() {
                    if model.is_some_and(|m| !p.applies_to(m)) {
                        continue;
                    }
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}",
                        p.key,
                        p.ty.name(),
                        p.default_for(model, &[]),
                        p.desc
                    )?;
                }
            }
            Ok(true)
        }
        Cmd::SpeedDial { file } => {
            let list = companion::parse_speed_dials(&read(&file)?)
                .map_err(|e| Fail(format!("{}: {e}", file.display())))?;
            write_out(None, companion::emit_speed_dials(&list).as_bytes())?;
            Ok(true)
        }
        Cmd::Directory { file } => {
            let list = companion::parse_directory(&read(&file)?)
                .map_err(|e| Fail(format!("{}: {e}", file.display())))?;
            write_out(None, companion::emit_directory(&list).as_bytes())?;
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli.cmd) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Fail(msg)) => {
            eprintln!("ac-cfgtool: {msg}");
            ExitCode::from(1)
        }
    }
}
