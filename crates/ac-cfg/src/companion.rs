//! Companion files of the configuration.
//!
//! * Speed-dial lists (manual 3.2.3.1.2), fetched from `provisioning/speed_dial_uri`: a CSV text
//!   file of `<memory key>,<speed dial phone number>,<type>` lines, `type` always `0`.
//! * Personal directory files (manual 3.2.2, "Save/Load Personal Directory"): the manual gives no
//!   format, so ours is RFC 4180 CSV with the header `name,office,home,mobile` — the fields of the
//!   web page's Add Contact form — which spreadsheets open and write.
//! * Function / programmable key files (3.2.3.2.3, 3.2.5.2.1): `.cfg` subsets holding only the
//!   key parameters (`personal_settings/functional_key/...`, `voip/line_key/...`).

use std::collections::HashSet;

use crate::delta::{self, DeltaError};
use crate::document::{model_header, Document};
use crate::model::Model;
use crate::schema::Schema;

/// Largest companion file read, in bytes.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most entries a speed-dial list or directory may hold.
pub const MAX_ENTRIES: usize = 1000;
const MAX_NUMBER_LEN: usize = 64;
const MAX_NAME_LEN: usize = 64;

/// A located problem in a companion file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompanionError {
    #[error("line {line}: {message}")]
    At { line: usize, message: String },
    #[error("file is {0} bytes; the limit is {MAX_FILE_BYTES}")]
    TooLarge(usize),
    #[error("more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("not valid UTF-8 text")]
    NotUtf8,
    #[error(transparent)]
    Delta(#[from] DeltaError),
}

fn at(line: usize, message: impl Into<String>) -> CompanionError {
    CompanionError::At {
        line,
        message: message.into(),
    }
}

fn check_size(data: &[u8]) -> Result<&str, CompanionError> {
    if data.len() > MAX_FILE_BYTES {
        return Err(CompanionError::TooLarge(data.len()));
    }
    let s = std::str::from_utf8(data).map_err(|_| CompanionError::NotUtf8)?;
    Ok(s.strip_prefix('\u{feff}').unwrap_or(s))
}

/// A dialable number or address: digits, `*#+`, pause characters `,`-free `p`/`P`, letters and
/// the characters of a SIP address (`4418@pbx.example.com`).
fn check_number(line: usize, what: &str, n: &str) -> Result<(), CompanionError> {
    if n.chars().count() > MAX_NUMBER_LEN {
        return Err(at(
            line,
            format!("{what} is longer than {MAX_NUMBER_LEN} characters"),
        ));
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "*#+@.-_:;=".contains(*c)))
    {
        return Err(at(line, format!("{what} {n:?} has the character {c:?}")));
    }
    Ok(())
}

/// One speed dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeedDial {
    /// The memory key.
    pub key: u32,
    /// The number dialed.
    pub number: String,
}

fn csv_reader(text: &str, headers: bool) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(headers)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
}

/// Parses a speed-dial file. Blank lines are skipped; a key may appear once.
pub fn parse_speed_dials(data: &[u8]) -> Result<Vec<SpeedDial>, CompanionError> {
    let text = check_size(data)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for rec in csv_reader(text, false).records() {
        let rec =
            rec.map_err(|e| at(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != 3 {
            return Err(at(
                line,
                format!("expected <key>,<number>,<type>, found {} fields", rec.len()),
            ));
        }
        let key: u32 = rec[0]
            .parse()
            .ok()
            .filter(|k| (1..=999).contains(k))
            .ok_or_else(|| {
                at(
                    line,
                    format!("memory key {:?} is not a number 1-999", &rec[0]),
                )
            })?;
        let number = &rec[1];
        if number.is_empty() {
            return Err(at(line, "empty speed dial number"));
        }
        check_number(line, "number", number)?;
        if &rec[2] != "0" {
            return Err(at(
                line,
                format!("type must be 0 (manual 3.2.3.1.2), found {:?}", &rec[2]),
            ));
        }
        if !seen.insert(key) {
            return Err(at(line, format!("memory key {key} appears twice")));
        }
        if out.len() == MAX_ENTRIES {
            return Err(CompanionError::TooManyEntries);
        }
        out.push(SpeedDial {
            key,
            number: number.to_string(),
        });
    }
    Ok(out)
}

/// Writes a speed-dial file (one `key,number,0` line each, LF).
pub fn emit_speed_dials(list: &[SpeedDial]) -> String {
    let mut out = String::new();
    for sd in list {
        out.push_str(&format!("{},{},0\n", sd.key, sd.number));
    }
    out
}

/// One personal directory contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub name: String,
    pub office: String,
    pub home: String,
    pub mobile: String,
}

const DIRECTORY_HEADER: [&str; 4] = ["name", "office", "home", "mobile"];

/// Parses a personal directory file.
pub fn parse_directory(data: &[u8]) -> Result<Vec<Contact>, CompanionError> {
    let text = check_size(data)?;
    let mut rdr = csv_reader(text, true);
    let header = rdr.headers().map_err(|e| at(1, e.to_string()))?.clone();
    let names: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    if names != DIRECTORY_HEADER {
        return Err(at(
            1,
            "the first line must be the header name,office,home,mobile",
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec =
            rec.map_err(|e| at(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != 4 {
            return Err(at(line, format!("expected 4 fields, found {}", rec.len())));
        }
        let c = Contact {
            name: rec[0].to_string(),
            office: rec[1].to_string(),
            home: rec[2].to_string(),
            mobile: rec[3].to_string(),
        };
        if c.name.is_empty() {
            return Err(at(line, "a contact needs a name"));
        }
        if c.name.chars().count() > MAX_NAME_LEN || c.name.chars().any(char::is_control) {
            return Err(at(
                line,
                format!("name longer than {MAX_NAME_LEN} characters or with control characters"),
            ));
        }
        if c.office.is_empty() && c.home.is_empty() && c.mobile.is_empty() {
            return Err(at(line, "a contact needs at least one number"));
        }
        check_number(line, "office number", &c.office)?;
        check_number(line, "home number", &c.home)?;
        check_number(line, "mobile number", &c.mobile)?;
        if out.len() == MAX_ENTRIES {
            return Err(CompanionError::TooManyEntries);
        }
        out.push(c);
    }
    Ok(out)
}

/// Writes a personal directory file.
pub fn emit_directory(contacts: &[Contact]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(DIRECTORY_HEADER);
    for c in contacts {
        let _ = w.write_record([&c.name, &c.office, &c.home, &c.mobile]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Which key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    /// Function keys (sidecar keys 0-11 of the 430HD/440HD, the 405HD/420HD speed dials).
    Function,
    /// Programmable keys (index 12 and up; `voip/line_key/...` key events).
    Programmable,
}

const FUNCTION_KEY_PREFIX: &str = "personal_settings/functional_key/";
const LINE_KEY_PREFIX: &str = "voip/line_key/";
const FIRST_PROGRAMMABLE_KEY: u32 = 12;

/// Whether a key parameter belongs to a key file kind.
pub fn in_key_file(kind: KeyFileKind, key: &str) -> bool {
    if let Some(rest) = key.strip_prefix(FUNCTION_KEY_PREFIX) {
        let idx = rest.split('/').next().and_then(|i| i.parse::<u32>().ok());
        return match (kind, idx) {
            (KeyFileKind::Function, Some(i)) => i < FIRST_PROGRAMMABLE_KEY,
            (KeyFileKind::Programmable, Some(i)) => i >= FIRST_PROGRAMMABLE_KEY,
            _ => false,
        };
    }
    kind == KeyFileKind::Programmable && key.starts_with(LINE_KEY_PREFIX)
}

/// "Save Function Keys" / "Save Programmable Keys": every key parameter of the model with the
/// value in effect in `config`, under a `# model:` header.
pub fn save_key_file(config: &Document<'_>, model: Model, kind: KeyFileKind) -> Document<'static> {
    let mut out = Document::new();
    out.append_comment(&model_header(&[model]));
    for def in Schema::get().params_for(model) {
        for (key, idx) in def.expand() {
            if in_key_file(kind, &key) {
                let v = config
                    .get(&key)
                    .unwrap_or_else(|| def.default_for(Some(model), idx.as_slice()));
                let _ = out.append(&key, v);
            }
        }
    }
    out
}

/// "Load Function Keys" / "Load Programmable Keys": merges a key file into `config`. The file
/// may only set parameters of its kind, must be for the model, and must be valid.
pub fn load_key_file(
    config: &Document<'_>,
    file: &Document<'_>,
    model: Model,
    kind: KeyFileKind,
) -> Result<Document<'static>, CompanionError> {
    if let Some(e) = file.entries().find(|e| !in_key_file(kind, e.key)) {
        return Err(at(
            e.line,
            format!(
                "{} is not a {:?} key parameter; a key file sets keys only",
                e.key, kind
            ),
        ));
    }
    Ok(delta::merge(config, file, model)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_speed_dial_example() {
        let src = b"1,4418,0\r\n2,4403,0\n3,039764432,0\n4,4391,0\n12,1234,0\n";
        let list = parse_speed_dials(src).unwrap();
        assert_eq!(list.len(), 5);
        assert_eq!(
            list[4],
            SpeedDial {
                key: 12,
                number: "1234".into()
            }
        );
        assert_eq!(
            parse_speed_dials(emit_speed_dials(&list).as_bytes()).unwrap(),
            list
        );
    }

    #[test]
    fn speed_dial_errors_are_located() {
        let e = parse_speed_dials(b"1,4418,0\n2,4403,1\n").unwrap_err();
        assert!(matches!(e, CompanionError::At { line: 2, .. }), "{e}");
        let e = parse_speed_dials(b"1,4418,0\n1,4403,0\n").unwrap_err();
        assert!(matches!(e, CompanionError::At { line: 2, .. }), "{e}");
        assert!(parse_speed_dials(b"x,1,0").is_err());
        assert!(parse_speed_dials(b"1,1").is_err());
        assert!(parse_speed_dials(b"\xff\xfe").is_err());
    }

    #[test]
    fn directory_round_trip() {
        let c = vec![
            Contact {
                name: "Smith, Anna \"Annie\"".into(),
                office: "4418".into(),
                home: "".into(),
                mobile: "+4915112345678".into(),
            },
            Contact {
                name: "Ops".into(),
                office: "ops@pbx.example.com".into(),
                ..Contact::default()
            },
        ];
        let text = emit_directory(&c);
        assert_eq!(parse_directory(text.as_bytes()).unwrap(), c);
        assert!(parse_directory(b"who,what\n").is_err());
        assert!(parse_directory(b"name,office,home,mobile\n,1,,\n").is_err());
    }

    #[test]
    fn key_file_membership() {
        assert!(in_key_file(
            KeyFileKind::Function,
            "personal_settings/functional_key/3/type"
        ));
        assert!(!in_key_file(
            KeyFileKind::Programmable,
            "personal_settings/functional_key/3/type"
        ));
        assert!(in_key_file(
            KeyFileKind::Programmable,
            "personal_settings/functional_key/13/type"
        ));
        assert!(in_key_file(
            KeyFileKind::Programmable,
            "voip/line_key/13/key_event"
        ));
        assert!(!in_key_file(KeyFileKind::Function, "network/lan_type"));
    }
}
