//! `ac_cfg_*`: the configuration utilities of `ac-cfg` for C: parse a `.cfg` file losslessly,
//! read and edit values, emit it byte-identical, validate it against the parameter schema of a
//! model, look up factory defaults, and encrypt/decrypt `.cfx` (3DES, manual 3.4.1),
//! authenticated ACFX-GCM files and `{"base64"}` values (manual 3.4.2).

use std::ffi::c_char;

use ::ac_cfg::crypto::{self, AeadKey, CryptoError, Keys, TdesKey};
use ::ac_cfg::document::EditError;
use ::ac_cfg::validate::{self, DiagKind, Options};
use ::ac_cfg::{Config, Diagnostic, Document, Model, ParseError, Severity};

use crate::{ac_result, boundary, boundary_or, in_bytes, in_mut, in_ref, in_str, Out, OutBuf};

/// A parsed `.cfg` document (opaque). Created by [`ac_cfg_parse`], released by
/// [`ac_cfg_free`].
pub struct ac_cfg {
    pub(crate) doc: Document<'static>,
}

/// The diagnostics of one validation (opaque). Created by [`ac_cfg_validate`], released by
/// [`ac_cfg_diagnostics_free`].
pub struct ac_cfg_diagnostics {
    list: Vec<Diagnostic>,
}

/// Severity of a diagnostic.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ac_cfg_severity {
    AC_CFG_SEVERITY_WARNING = 0,
    AC_CFG_SEVERITY_ERROR = 1,
}

/// What a diagnostic reports.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ac_cfg_diag_kind {
    /// A line that is not blank, a comment or `key=value`.
    AC_CFG_DIAG_SYNTAX = 0,
    /// A key that is no parameter of the manual.
    AC_CFG_DIAG_UNKNOWN_KEY = 1,
    /// A parameter of other models only.
    AC_CFG_DIAG_WRONG_MODEL = 2,
    /// An indexed family exists but not with this index.
    AC_CFG_DIAG_INDEX_OUT_OF_RANGE = 3,
    /// A value of the wrong type.
    AC_CFG_DIAG_BAD_VALUE = 4,
    /// A number outside the parameter's range.
    AC_CFG_DIAG_OUT_OF_RANGE = 5,
    /// Not one of the enum's values.
    AC_CFG_DIAG_BAD_ENUM = 6,
    /// An enum value in the wrong letter case.
    AC_CFG_DIAG_ENUM_CASE = 7,
    /// A string longer than the parameter allows.
    AC_CFG_DIAG_TOO_LONG = 8,
    /// A key set on more than one line (the last wins).
    AC_CFG_DIAG_DUPLICATE = 9,
    /// The file's `# model:` header names other models.
    AC_CFG_DIAG_MODEL_MISMATCH = 10,
}

/// One diagnostic, filled by [`ac_cfg_diagnostics_get`]. Its message is read with
/// [`ac_cfg_diagnostics_message`] into a buffer of at least `message_len + 1` bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ac_cfg_diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub severity: ac_cfg_severity,
    pub kind: ac_cfg_diag_kind,
    /// Length of the message in bytes, without a NUL.
    pub message_len: usize,
}

/// `flags` of [`ac_cfg_validate`]: report unknown keys as errors instead of warnings.
pub const AC_CFG_VALIDATE_STRICT: u32 = 1;

/// The encrypted file formats.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ac_cfg_cipher {
    /// `.cfx`: 3DES-EDE-CBC, key from the passphrase as `openssl enc -des-ede3-cbc -nosalt
    /// -md md5` (manual 3.4.1); no integrity check.
    AC_CFG_CIPHER_CFX = 0,
    /// ACFX-GCM: AES-256-GCM, key from PBKDF2-HMAC-SHA256 (600000 iterations) with a random
    /// salt; authenticated. Preferred where both ends are this library.
    AC_CFG_CIPHER_GCM = 1,
}

impl ac_cfg_cipher {
    fn from_u32(v: u32) -> Result<ac_cfg_cipher, ac_result> {
        match v {
            0 => Ok(ac_cfg_cipher::AC_CFG_CIPHER_CFX),
            1 => Ok(ac_cfg_cipher::AC_CFG_CIPHER_GCM),
            _ => Err(ac_result::AC_RESULT_INVALID_PARAMETER),
        }
    }

    /// Exact encrypted size of `plain_len` bytes.
    fn encrypted_len(self, plain_len: usize) -> Option<usize> {
        match self {
            // PKCS#7 always adds 1-8 bytes.
            ac_cfg_cipher::AC_CFG_CIPHER_CFX => (plain_len / 8).checked_add(1)?.checked_mul(8),
            // 42-byte header + ciphertext + 16-byte tag.
            ac_cfg_cipher::AC_CFG_CIPHER_GCM => plain_len.checked_add(42 + 16),
        }
    }
}

fn parse_error(e: &ParseError) -> ac_result {
    match e {
        ParseError::NotUtf8 { .. } => ac_result::AC_RESULT_CFG_NOT_UTF8,
        ParseError::NulByte { .. } => ac_result::AC_RESULT_CFG_NUL_BYTE,
        ParseError::LineTooLong { .. } => ac_result::AC_RESULT_CFG_LINE_TOO_LONG,
        ParseError::TooLarge { .. } => ac_result::AC_RESULT_CFG_TOO_LARGE,
    }
}

fn crypto_error(e: &CryptoError) -> ac_result {
    match e {
        CryptoError::Empty => ac_result::AC_RESULT_CRYPTO_EMPTY,
        CryptoError::NotBlockAligned(_) => ac_result::AC_RESULT_CRYPTO_NOT_BLOCK_ALIGNED,
        CryptoError::BadPadding => ac_result::AC_RESULT_CRYPTO_BAD_PADDING,
        CryptoError::NotText => ac_result::AC_RESULT_CRYPTO_NOT_TEXT,
        CryptoError::AuthFailed => ac_result::AC_RESULT_CRYPTO_AUTH_FAILED,
        CryptoError::Truncated { .. } => ac_result::AC_RESULT_CRYPTO_TRUNCATED,
        CryptoError::UnsupportedVersion(_) => ac_result::AC_RESULT_CRYPTO_UNSUPPORTED_VERSION,
        CryptoError::BadHeader(_) => ac_result::AC_RESULT_CRYPTO_BAD_HEADER,
        CryptoError::BadKey(_) => ac_result::AC_RESULT_CRYPTO_BAD_KEY,
        CryptoError::NotEncryptedValue | CryptoError::Base64 => {
            ac_result::AC_RESULT_CRYPTO_NOT_ENCRYPTED_VALUE
        }
        CryptoError::Rng => ac_result::AC_RESULT_CRYPTO_RNG,
    }
}

fn edit_error(e: &EditError) -> ac_result {
    match e {
        EditError::BadKey(_) => ac_result::AC_RESULT_CFG_BAD_KEY,
        EditError::BadValue => ac_result::AC_RESULT_CFG_BAD_VALUE,
    }
}

fn severity(s: Severity) -> ac_cfg_severity {
    match s {
        Severity::Warning => ac_cfg_severity::AC_CFG_SEVERITY_WARNING,
        Severity::Error => ac_cfg_severity::AC_CFG_SEVERITY_ERROR,
    }
}

fn diag_kind(k: DiagKind) -> ac_cfg_diag_kind {
    use ac_cfg_diag_kind::*;
    match k {
        DiagKind::Syntax => AC_CFG_DIAG_SYNTAX,
        DiagKind::UnknownKey => AC_CFG_DIAG_UNKNOWN_KEY,
        DiagKind::WrongModel => AC_CFG_DIAG_WRONG_MODEL,
        DiagKind::IndexOutOfRange => AC_CFG_DIAG_INDEX_OUT_OF_RANGE,
        DiagKind::BadValue => AC_CFG_DIAG_BAD_VALUE,
        DiagKind::OutOfRange => AC_CFG_DIAG_OUT_OF_RANGE,
        DiagKind::BadEnum => AC_CFG_DIAG_BAD_ENUM,
        DiagKind::EnumCase => AC_CFG_DIAG_ENUM_CASE,
        DiagKind::TooLong => AC_CFG_DIAG_TOO_LONG,
        DiagKind::Duplicate => AC_CFG_DIAG_DUPLICATE,
        DiagKind::ModelMismatch => AC_CFG_DIAG_MODEL_MISMATCH,
    }
}

/// A model name (`440HD`, `440hd`, `440`); an empty text means "no model".
///
/// # Safety
/// As [`in_str`].
pub(crate) unsafe fn model_arg(p: *const c_char, len: usize) -> Result<Option<Model>, ac_result> {
    // SAFETY: forwarded contract.
    let s = unsafe { in_str(p, len) }?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| ac_result::AC_RESULT_CFG_UNKNOWN_MODEL)
}

/// A passphrase: any bytes but none.
///
/// # Safety
/// As [`in_bytes`].
unsafe fn passphrase_arg<'a>(p: *const u8, len: usize) -> Result<&'a [u8], ac_result> {
    // SAFETY: forwarded contract.
    let pass = unsafe { in_bytes(p, len) }?;
    if pass.is_empty() {
        return Err(ac_result::AC_RESULT_CRYPTO_BAD_KEY);
    }
    Ok(pass)
}

/// Parses a `.cfg` file (UTF-8 text without NUL, lines up to 16 KiB, at most 16 MiB; comments,
/// blank lines, unknown keys and unreadable lines are kept). On success `*out` receives a new
/// handle the caller releases with [`ac_cfg_free`]; the input is copied and may be freed at
/// once.
///
/// # Safety
/// `data` must be valid for reads of `len` bytes; `out` for a write of a pointer.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_parse(
    data: *const u8,
    len: usize,
    out: *mut *mut ac_cfg,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let data = unsafe { in_bytes(data, len) }?;
        let out = Out::new(out)?;
        let doc = Document::parse_bytes(data)
            .map_err(|e| parse_error(&e))?
            .into_owned();
        let h = Box::into_raw(Box::new(ac_cfg { doc }));
        // SAFETY: `out` is non-NULL and writable per the contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Releases a document. NULL is allowed (no effect).
///
/// # Safety
/// `cfg` must be NULL or a handle from [`ac_cfg_parse`] not yet released.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_free(cfg: *mut ac_cfg) {
    boundary_or((), || {
        if !cfg.is_null() {
            // SAFETY: a handle from `Box::into_raw` released once, per the contract.
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// Number of bytes [`ac_cfg_emit`] writes (without a NUL), or 0 for NULL.
///
/// # Safety
/// `cfg` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_emit_len(cfg: *const ac_cfg) -> usize {
    boundary_or(0, || {
        // SAFETY: the caller's contract.
        unsafe { cfg.as_ref() }.map_or(0, |c| c.doc.emit().len())
    })
}

/// Writes the document as text: byte-identical to the parsed input when it was not edited.
/// `buf` needs [`ac_cfg_emit_len`] + 1 bytes (NUL-terminated).
///
/// # Safety
/// `cfg` a live handle; `buf` valid for writes of `len` bytes; `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_emit(
    cfg: *const ac_cfg,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let cfg = unsafe { in_ref(cfg) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(&cfg.doc.emit()) }
    })
}

/// Writes the value `key` has in the document (its last line) as NUL-terminated text;
/// `AC_RESULT_CFG_KEY_NOT_FOUND` if the document does not set it (see
/// [`ac_cfg_default_value`] for factory defaults). Values are at most 16 KiB.
///
/// # Safety
/// `cfg` a live handle; `key` valid for `key_len` bytes; `buf` for writes of `len` bytes;
/// `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_get(
    cfg: *const ac_cfg,
    key: *const c_char,
    key_len: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let cfg = unsafe { in_ref(cfg) }?;
        let key = unsafe { in_str(key, key_len) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let v = cfg
            .doc
            .get(key)
            .ok_or(ac_result::AC_RESULT_CFG_KEY_NOT_FOUND)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(v) }
    })
}

/// Sets `key` to `value`: the key's last line is rewritten in place (white space and line
/// ending kept), a new key is appended. Validation is separate ([`ac_cfg_validate`]).
///
/// # Safety
/// `cfg` a live handle not used by another thread during the call; `key`/`value` valid for
/// their lengths.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_set(
    cfg: *mut ac_cfg,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let cfg = unsafe { in_mut(cfg) }?;
        let key = unsafe { in_str(key, key_len) }?;
        let value = unsafe { in_str(value, value_len) }?;
        cfg.doc.set(key, value).map_err(|e| edit_error(&e))
    })
}

/// Validates the document against the schema: for `model` (`"440HD"`, `"440"`...; an empty
/// text (`model_len` 0) accepts the keys of any model), with `flags` a combination of
/// `AC_CFG_VALIDATE_*`. On success `*out` receives the diagnostics (possibly none), released
/// with [`ac_cfg_diagnostics_free`]. A document with errors is a success of this call: count
/// them with [`ac_cfg_diagnostics_error_count`].
///
/// # Safety
/// `cfg` a live handle; `model` valid for `model_len` bytes; `out` for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_validate(
    cfg: *const ac_cfg,
    model: *const c_char,
    model_len: usize,
    flags: u32,
    out: *mut *mut ac_cfg_diagnostics,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let cfg = unsafe { in_ref(cfg) }?;
        let model = unsafe { model_arg(model, model_len) }?;
        let out = Out::new(out)?;
        if flags & !AC_CFG_VALIDATE_STRICT != 0 {
            return Err(ac_result::AC_RESULT_INVALID_PARAMETER);
        }
        let opts = Options {
            model,
            strict_unknown: flags & AC_CFG_VALIDATE_STRICT != 0,
        };
        let list = validate::validate(&cfg.doc, &opts);
        let h = Box::into_raw(Box::new(ac_cfg_diagnostics { list }));
        // SAFETY: the caller's contract.
        unsafe { out.write(h) };
        Ok(())
    })
}

/// Number of diagnostics (0 for NULL).
///
/// # Safety
/// `d` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_diagnostics_count(d: *const ac_cfg_diagnostics) -> usize {
    // SAFETY: the caller's contract.
    boundary_or(0, || unsafe { d.as_ref() }.map_or(0, |d| d.list.len()))
}

/// Number of diagnostics of severity error (0 for NULL). A configuration the phone accepts
/// has none.
///
/// # Safety
/// `d` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_diagnostics_error_count(d: *const ac_cfg_diagnostics) -> usize {
    boundary_or(0, || {
        // SAFETY: the caller's contract.
        unsafe { d.as_ref() }.map_or(0, |d| {
            d.list
                .iter()
                .filter(|x| x.severity == Severity::Error)
                .count()
        })
    })
}

/// Fills `*out` with diagnostic `index` (0-based, in line order).
///
/// # Safety
/// `d` a live handle; `out` valid for a write of an `ac_cfg_diagnostic`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_diagnostics_get(
    d: *const ac_cfg_diagnostics,
    index: usize,
    out: *mut ac_cfg_diagnostic,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { in_ref(d) }?;
        let out = Out::new(out)?;
        let x = d
            .list
            .get(index)
            .ok_or(ac_result::AC_RESULT_INDEX_OUT_OF_RANGE)?;
        let v = ac_cfg_diagnostic {
            line: x.line,
            column: x.column,
            severity: severity(x.severity),
            kind: diag_kind(x.kind),
            message_len: x.message.len(),
        };
        // SAFETY: the caller's contract.
        unsafe { out.write(v) };
        Ok(())
    })
}

/// Writes the message of diagnostic `index` as NUL-terminated text (`message_len + 1` bytes).
///
/// # Safety
/// `d` a live handle; `buf` valid for writes of `len` bytes; `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_diagnostics_message(
    d: *const ac_cfg_diagnostics,
    index: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let d = unsafe { in_ref(d) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let x = d
            .list
            .get(index)
            .ok_or(ac_result::AC_RESULT_INDEX_OUT_OF_RANGE)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(&x.message) }
    })
}

/// Releases diagnostics. NULL is allowed.
///
/// # Safety
/// `d` must be NULL or a handle from [`ac_cfg_validate`] not yet released.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_diagnostics_free(d: *mut ac_cfg_diagnostics) {
    boundary_or((), || {
        if !d.is_null() {
            // SAFETY: a handle from `Box::into_raw`, released once per the contract.
            drop(unsafe { Box::from_raw(d) });
        }
    })
}

/// Writes the factory default of parameter `key` for `model` (from the schema of the
/// administrator manual; indexed keys such as `network/lan/dhcp/domain_name/enabled` work) as NUL-terminated
/// text. `AC_RESULT_CFG_KEY_NOT_FOUND` if `key` is no parameter of that model.
///
/// # Safety
/// Text arguments valid for their lengths; `buf` for writes of `len` bytes; `out_n` for a
/// `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_default_value(
    model: *const c_char,
    model_len: usize,
    key: *const c_char,
    key_len: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let model = unsafe { model_arg(model, model_len) }?
            .ok_or(ac_result::AC_RESULT_CFG_UNKNOWN_MODEL)?;
        let key = unsafe { in_str(key, key_len) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let cfg = Config::defaults(model);
        let v = cfg
            .get_raw(key)
            .ok_or(ac_result::AC_RESULT_CFG_KEY_NOT_FOUND)?;
        // SAFETY: the caller's contract.
        unsafe { out.text(v) }
    })
}

/// `*out` receives the exact size [`ac_cfg_encrypt`] produces for `plain_len` bytes with
/// `cipher` (an `ac_cfg_cipher` value).
///
/// # Safety
/// `out` valid for a `size_t` write.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_encrypted_len(
    cipher: u32,
    plain_len: usize,
    out: *mut usize,
) -> ac_result {
    boundary(|| {
        let out = Out::new(out)?;
        let n = ac_cfg_cipher::from_u32(cipher)?
            .encrypted_len(plain_len)
            .ok_or(ac_result::AC_RESULT_INVALID_PARAMETER)?;
        // SAFETY: the caller's contract.
        unsafe { out.write(n) };
        Ok(())
    })
}

/// Encrypts a configuration file with `cipher` (an `ac_cfg_cipher` value) under a non-empty
/// passphrase. `out` needs [`ac_cfg_encrypted_len`] bytes; binary output, no NUL.
///
/// # Safety
/// `plain` valid for `plain_len` bytes, `passphrase` for `passphrase_len`; `out` for writes of
/// `out_len` bytes; `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_encrypt(
    cipher: u32,
    plain: *const u8,
    plain_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    out: *mut u8,
    out_len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let plain = unsafe { in_bytes(plain, plain_len) }?;
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let out = OutBuf::new(out, out_len, out_n)?;
        let cipher = ac_cfg_cipher::from_u32(cipher)?;
        // Refuse a short buffer before spending the key derivation.
        if cipher.encrypted_len(plain.len()) > Some(out_len) {
            return Err(ac_result::AC_RESULT_INSUFFICIENT_SIZE);
        }
        let ct = match cipher {
            ac_cfg_cipher::AC_CFG_CIPHER_CFX => {
                crypto::encrypt_cfx(plain, &TdesKey::passphrase(pass))
            }
            ac_cfg_cipher::AC_CFG_CIPHER_GCM => {
                crypto::encrypt_aead(plain, &AeadKey::passphrase(pass))
                    .map_err(|e| crypto_error(&e))?
            }
        };
        // SAFETY: the caller's contract.
        unsafe { out.bytes(&ct) }
    })
}

/// Decrypts an encrypted configuration of either format (`.cfx`, unsalted or OpenSSL
/// `Salted__`; or ACFX-GCM, recognised by its magic) and checks that the result is
/// configuration text. The plain text is never longer than the input: `out_len >= data_len`
/// always suffices. Binary output, no NUL.
///
/// # Safety
/// `data` valid for `data_len` bytes, `passphrase` for `passphrase_len`; `out` for writes of
/// `out_len` bytes; `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_decrypt(
    data: *const u8,
    data_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    out: *mut u8,
    out_len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let data = unsafe { in_bytes(data, data_len) }?;
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let out = OutBuf::new(out, out_len, out_n)?;
        let text =
            crypto::decrypt_config(data, &Keys::passphrase(pass)).map_err(|e| crypto_error(&e))?;
        // SAFETY: the caller's contract.
        unsafe { out.bytes(text.as_bytes()) }
    })
}

/// Encrypts one value (a password) as `{"base64"}` (manual 3.4.2) under a non-empty
/// passphrase, as NUL-terminated text. `((value_len / 8 + 1) * 8 + 2) / 3 * 4 + 5` bytes
/// suffice (NUL included).
///
/// # Safety
/// `value` valid for `value_len` bytes, `passphrase` for `passphrase_len`; `buf` for writes
/// of `len` bytes; `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_encrypt_value(
    value: *const c_char,
    value_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let value = unsafe { in_str(value, value_len) }?;
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let enc = crypto::encrypt_value(value, &TdesKey::passphrase(pass));
        // SAFETY: the caller's contract.
        unsafe { out.text(&enc) }
    })
}

/// Decrypts a `{"base64"}` value (manual 3.4.2) as NUL-terminated text; `value_len` bytes
/// suffice.
///
/// # Safety
/// `value` valid for `value_len` bytes, `passphrase` for `passphrase_len`; `buf` for writes
/// of `len` bytes; `out_n` for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ac_cfg_decrypt_value(
    value: *const c_char,
    value_len: usize,
    passphrase: *const u8,
    passphrase_len: usize,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> ac_result {
    boundary(|| {
        // SAFETY: the caller's contract (each line).
        let value = unsafe { in_str(value, value_len) }?;
        let pass = unsafe { passphrase_arg(passphrase, passphrase_len) }?;
        let out = OutBuf::new(buf.cast(), len, out_n)?;
        let plain = crypto::decrypt_value(value, &TdesKey::passphrase(pass))
            .map_err(|e| crypto_error(&e))?;
        if plain.contains('\0') {
            return Err(ac_result::AC_RESULT_CRYPTO_NOT_TEXT);
        }
        // SAFETY: the caller's contract.
        unsafe { out.text(&plain) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ac_result::*;
    use std::ptr::{null, null_mut};

    const SAMPLE: &[u8] = b"# model: 440HD\r\n; a comment\r\nnetwork/lan_type=DHCP\r\n\
        network/lan/dhcp/domain_name/enabled = 1\r\nnetwork/lan_typ=DHCP\r\nnetwork/lan/dhcp/domain_name/enabled=banana\r\n";

    fn parse(data: &[u8]) -> Result<*mut ac_cfg, ac_result> {
        let mut out = null_mut();
        match unsafe { ac_cfg_parse(data.as_ptr(), data.len(), &mut out) } {
            AC_RESULT_OK => {
                assert!(!out.is_null());
                Ok(out)
            }
            e => {
                assert!(out.is_null(), "no output on failure");
                Err(e)
            }
        }
    }

    fn text_out(
        f: impl FnOnce(*mut c_char, usize, *mut usize) -> ac_result,
    ) -> Result<String, ac_result> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = usize::MAX;
        match f(buf.as_mut_ptr().cast(), buf.len(), &mut n) {
            AC_RESULT_OK => {
                assert_eq!(buf[n], 0);
                Ok(String::from_utf8(buf[..n].to_vec()).unwrap())
            }
            e => {
                assert_eq!(n, usize::MAX, "out_n untouched on failure");
                Err(e)
            }
        }
    }

    fn get(cfg: *const ac_cfg, key: &str) -> Result<String, ac_result> {
        text_out(|b, l, n| unsafe { ac_cfg_get(cfg, key.as_ptr().cast(), key.len(), b, l, n) })
    }

    #[test]
    fn parse_emit_is_lossless_and_get_set_work() {
        let cfg = parse(SAMPLE).unwrap();
        let n = unsafe { ac_cfg_emit_len(cfg) };
        assert_eq!(n, SAMPLE.len());
        let emitted = text_out(|b, l, o| unsafe { ac_cfg_emit(cfg, b, l, o) }).unwrap();
        assert_eq!(emitted.as_bytes(), SAMPLE);
        // The buffer must hold the NUL too.
        let mut small = vec![0u8; n];
        let mut on = 99;
        let r = unsafe { ac_cfg_emit(cfg, small.as_mut_ptr().cast(), n, &mut on) };
        assert_eq!((r, on), (AC_RESULT_INSUFFICIENT_SIZE, 99));

        assert_eq!(get(cfg, "network/lan_type").unwrap(), "DHCP");
        // The last line wins.
        assert_eq!(
            get(cfg, "network/lan/dhcp/domain_name/enabled").unwrap(),
            "banana"
        );
        assert_eq!(get(cfg, "no/such/key"), Err(AC_RESULT_CFG_KEY_NOT_FOUND));

        let set = |k: &str, v: &[u8]| unsafe {
            ac_cfg_set(cfg, k.as_ptr().cast(), k.len(), v.as_ptr().cast(), v.len())
        };
        assert_eq!(
            set("network/lan/dhcp/domain_name/enabled", b"0"),
            AC_RESULT_OK
        );
        assert_eq!(
            get(cfg, "network/lan/dhcp/domain_name/enabled").unwrap(),
            "0"
        );
        assert_eq!(set("system/ntp/enabled", b"1"), AC_RESULT_OK);
        let emitted = text_out(|b, l, o| unsafe { ac_cfg_emit(cfg, b, l, o) }).unwrap();
        assert!(
            emitted.ends_with("network/lan/dhcp/domain_name/enabled=0\r\nsystem/ntp/enabled=1\r\n"),
            "{emitted}"
        );
        assert_eq!(set("bad key", b"1"), AC_RESULT_CFG_BAD_KEY);
        assert_eq!(set("a/b", b"x\ny=1"), AC_RESULT_CFG_BAD_VALUE);
        assert_eq!(set("a/b", b"\xff"), AC_RESULT_INVALID_UTF8);
        unsafe { ac_cfg_free(cfg) };
    }

    #[test]
    fn parse_refuses_garbage_with_a_clear_error() {
        assert_eq!(parse(b"a/b=\xff\xfe\n"), Err(AC_RESULT_CFG_NOT_UTF8));
        assert_eq!(parse(b"a/b=1\n\0"), Err(AC_RESULT_CFG_NUL_BYTE));
        let long = vec![b'x'; 17 * 1024];
        assert_eq!(parse(&long), Err(AC_RESULT_CFG_LINE_TOO_LONG));
        let huge = "a=1\n".repeat(4 * 1024 * 1024 + 1);
        assert_eq!(parse(huge.as_bytes()), Err(AC_RESULT_CFG_TOO_LARGE));
        // A .cfx file given by mistake.
        let mut enc = vec![0u8; 64];
        let mut n = 0;
        let r = unsafe {
            ac_cfg_encrypt(
                0,
                b"a/b=1\n".as_ptr(),
                6,
                b"k".as_ptr(),
                1,
                enc.as_mut_ptr(),
                64,
                &mut n,
            )
        };
        assert_eq!(r, AC_RESULT_OK);
        assert!(matches!(
            parse(&enc[..n]),
            Err(AC_RESULT_CFG_NOT_UTF8 | AC_RESULT_CFG_NUL_BYTE)
        ));
        // Lines that are no entries are kept (validation reports them), the empty file is fine.
        let c = parse(b"\x01\x02 garbage without equals\n=\n").unwrap();
        unsafe { ac_cfg_free(c) };
        let c = parse(b"").unwrap();
        assert_eq!(unsafe { ac_cfg_emit_len(c) }, 0);
        unsafe { ac_cfg_free(c) };
    }

    #[test]
    fn null_parameters_are_refused() {
        let mut out = null_mut();
        assert_eq!(
            unsafe { ac_cfg_parse(null(), 0, &mut out) },
            AC_RESULT_NULL_PARAMETER
        );
        assert_eq!(
            unsafe { ac_cfg_parse(b"".as_ptr(), 0, null_mut()) },
            AC_RESULT_NULL_PARAMETER
        );
        let cfg = parse(SAMPLE).unwrap();
        let mut buf = [0 as c_char; 64];
        let mut n = 0;
        let k = "network/lan_type";
        unsafe {
            assert_eq!(
                ac_cfg_get(
                    null(),
                    k.as_ptr().cast(),
                    k.len(),
                    buf.as_mut_ptr(),
                    64,
                    &mut n
                ),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_get(cfg, null(), 0, buf.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_get(cfg, k.as_ptr().cast(), k.len(), null_mut(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_get(
                    cfg,
                    k.as_ptr().cast(),
                    k.len(),
                    buf.as_mut_ptr(),
                    64,
                    null_mut()
                ),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_emit(null(), buf.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(ac_cfg_emit_len(null()), 0);
            assert_eq!(
                ac_cfg_set(null_mut(), k.as_ptr().cast(), k.len(), k.as_ptr().cast(), 1),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_set(cfg, k.as_ptr().cast(), k.len(), null(), 0),
                AC_RESULT_NULL_PARAMETER
            );
            let mut d = null_mut();
            assert_eq!(
                ac_cfg_validate(null(), b"".as_ptr().cast(), 0, 0, &mut d),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_validate(cfg, null(), 0, 0, &mut d),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_validate(cfg, b"".as_ptr().cast(), 0, 0, null_mut()),
                AC_RESULT_NULL_PARAMETER
            );
            assert!(d.is_null());
            assert_eq!(ac_cfg_diagnostics_count(null()), 0);
            assert_eq!(ac_cfg_diagnostics_error_count(null()), 0);
            let mut diag = std::mem::MaybeUninit::<ac_cfg_diagnostic>::uninit();
            assert_eq!(
                ac_cfg_diagnostics_get(null(), 0, diag.as_mut_ptr()),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_diagnostics_message(null(), 0, buf.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            ac_cfg_diagnostics_free(null_mut());
            ac_cfg_free(null_mut());
            assert_eq!(
                ac_cfg_encrypted_len(0, 1, null_mut()),
                AC_RESULT_NULL_PARAMETER
            );
            let mut o = [0u8; 64];
            assert_eq!(
                ac_cfg_encrypt(0, null(), 0, b"k".as_ptr(), 1, o.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_encrypt(0, b"x".as_ptr(), 1, null(), 0, o.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_encrypt(
                    0,
                    b"x".as_ptr(),
                    1,
                    b"k".as_ptr(),
                    1,
                    null_mut(),
                    64,
                    &mut n
                ),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_encrypt(
                    0,
                    b"x".as_ptr(),
                    1,
                    b"k".as_ptr(),
                    1,
                    o.as_mut_ptr(),
                    64,
                    null_mut()
                ),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_decrypt(null(), 0, b"k".as_ptr(), 1, o.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_decrypt(
                    o.as_ptr(),
                    8,
                    b"k".as_ptr(),
                    1,
                    o.as_mut_ptr(),
                    64,
                    null_mut()
                ),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_encrypt_value(null(), 0, b"k".as_ptr(), 1, buf.as_mut_ptr(), 64, &mut n),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_decrypt_value(
                    b"x".as_ptr().cast(),
                    1,
                    null(),
                    0,
                    buf.as_mut_ptr(),
                    64,
                    &mut n
                ),
                AC_RESULT_NULL_PARAMETER
            );
            assert_eq!(
                ac_cfg_default_value(
                    null(),
                    0,
                    k.as_ptr().cast(),
                    k.len(),
                    buf.as_mut_ptr(),
                    64,
                    &mut n
                ),
                AC_RESULT_NULL_PARAMETER
            );
        }
        unsafe { ac_cfg_free(cfg) };
    }

    fn validate(
        cfg: *const ac_cfg,
        model: &str,
        flags: u32,
    ) -> Result<*mut ac_cfg_diagnostics, ac_result> {
        let mut d = null_mut();
        match unsafe { ac_cfg_validate(cfg, model.as_ptr().cast(), model.len(), flags, &mut d) } {
            AC_RESULT_OK => Ok(d),
            e => {
                assert!(d.is_null());
                Err(e)
            }
        }
    }

    #[test]
    fn validation_reports_located_diagnostics() {
        let cfg = parse(SAMPLE).unwrap();
        let d = validate(cfg, "440HD", 0).unwrap();
        let count = unsafe { ac_cfg_diagnostics_count(d) };
        let mut found = Vec::new();
        for i in 0..count {
            let mut x = std::mem::MaybeUninit::<ac_cfg_diagnostic>::uninit();
            assert_eq!(
                unsafe { ac_cfg_diagnostics_get(d, i, x.as_mut_ptr()) },
                AC_RESULT_OK
            );
            let x = unsafe { x.assume_init() };
            let msg =
                text_out(|b, l, n| unsafe { ac_cfg_diagnostics_message(d, i, b, l, n) }).unwrap();
            assert_eq!(msg.len(), x.message_len);
            found.push((x.line, x.kind, x.severity, msg));
        }
        // Line 5: the typo (a warning, with a suggestion); line 6: a bad boolean (an error); the
        // duplicate of network/lan/dhcp/domain_name/enabled (lines 4 and 6).
        let typo = found
            .iter()
            .find(|f| f.1 == ac_cfg_diag_kind::AC_CFG_DIAG_UNKNOWN_KEY)
            .unwrap();
        assert_eq!(
            (typo.0, typo.2),
            (5, ac_cfg_severity::AC_CFG_SEVERITY_WARNING)
        );
        assert!(typo.3.contains("network/lan_type"), "{}", typo.3);
        let bad = found
            .iter()
            .find(|f| f.0 == 6 && f.2 == ac_cfg_severity::AC_CFG_SEVERITY_ERROR)
            .unwrap();
        assert!(bad.3.contains("banana"), "{}", bad.3);
        assert!(found
            .iter()
            .any(|f| f.1 == ac_cfg_diag_kind::AC_CFG_DIAG_DUPLICATE));
        let errors = unsafe { ac_cfg_diagnostics_error_count(d) };
        assert_eq!(
            errors,
            found
                .iter()
                .filter(|f| f.2 == ac_cfg_severity::AC_CFG_SEVERITY_ERROR)
                .count()
        );
        assert!(errors >= 1);

        // Past the end.
        let mut x = std::mem::MaybeUninit::<ac_cfg_diagnostic>::uninit();
        assert_eq!(
            unsafe { ac_cfg_diagnostics_get(d, count, x.as_mut_ptr()) },
            AC_RESULT_INDEX_OUT_OF_RANGE
        );
        assert_eq!(
            text_out(|b, l, n| unsafe { ac_cfg_diagnostics_message(d, usize::MAX, b, l, n) }),
            Err(AC_RESULT_INDEX_OUT_OF_RANGE)
        );
        unsafe { ac_cfg_diagnostics_free(d) };

        // Strict: the unknown key becomes an error.
        let d = validate(cfg, "440", AC_CFG_VALIDATE_STRICT).unwrap();
        assert!(unsafe { ac_cfg_diagnostics_error_count(d) } > errors);
        unsafe { ac_cfg_diagnostics_free(d) };
        // Another model than the header's.
        let d = validate(cfg, "405HD", 0).unwrap();
        let mut kinds = Vec::new();
        for i in 0..unsafe { ac_cfg_diagnostics_count(d) } {
            let mut x = std::mem::MaybeUninit::<ac_cfg_diagnostic>::uninit();
            assert_eq!(
                unsafe { ac_cfg_diagnostics_get(d, i, x.as_mut_ptr()) },
                AC_RESULT_OK
            );
            kinds.push(unsafe { x.assume_init() }.kind);
        }
        assert!(kinds.contains(&ac_cfg_diag_kind::AC_CFG_DIAG_MODEL_MISMATCH));
        unsafe { ac_cfg_diagnostics_free(d) };

        assert_eq!(validate(cfg, "999HD", 0), Err(AC_RESULT_CFG_UNKNOWN_MODEL));
        assert_eq!(validate(cfg, "440HD", 2), Err(AC_RESULT_INVALID_PARAMETER));
        let mut d = null_mut();
        let r = unsafe { ac_cfg_validate(cfg, b"\xff".as_ptr().cast(), 1, 0, &mut d) };
        assert_eq!(r, AC_RESULT_INVALID_UTF8);

        // A clean file has no diagnostics.
        let clean = parse(b"network/lan_type=DHCP\n").unwrap();
        let d = validate(clean, "", 0).unwrap();
        assert_eq!(unsafe { ac_cfg_diagnostics_count(d) }, 0);
        unsafe {
            ac_cfg_diagnostics_free(d);
            ac_cfg_free(clean);
            ac_cfg_free(cfg);
        }
    }

    fn default_value(model: &str, key: &str) -> Result<String, ac_result> {
        text_out(|b, l, n| unsafe {
            ac_cfg_default_value(
                model.as_ptr().cast(),
                model.len(),
                key.as_ptr().cast(),
                key.len(),
                b,
                l,
                n,
            )
        })
    }

    #[test]
    fn defaults_come_from_the_schema() {
        let schema = ::ac_cfg::Schema::get();
        let p = schema
            .params()
            .iter()
            .find(|p| p.key == "network/lan_type")
            .unwrap();
        assert_eq!(
            default_value("440HD", "network/lan_type").unwrap(),
            p.default_for(Some(Model::Hd440), &[])
        );
        assert_eq!(
            default_value("440HD", "no/such/param"),
            Err(AC_RESULT_CFG_KEY_NOT_FOUND)
        );
        assert_eq!(
            default_value("", "network/lan_type"),
            Err(AC_RESULT_CFG_UNKNOWN_MODEL)
        );
        assert_eq!(
            default_value("HD", "network/lan_type"),
            Err(AC_RESULT_CFG_UNKNOWN_MODEL)
        );
    }

    fn encrypt(cipher: u32, plain: &[u8], pass: &[u8]) -> Result<Vec<u8>, ac_result> {
        let mut need = 0;
        let r = unsafe { ac_cfg_encrypted_len(cipher, plain.len(), &mut need) };
        if r != AC_RESULT_OK {
            return Err(r);
        }
        let mut out = vec![0u8; need];
        let mut n = usize::MAX;
        let r = unsafe {
            ac_cfg_encrypt(
                cipher,
                plain.as_ptr(),
                plain.len(),
                pass.as_ptr(),
                pass.len(),
                out.as_mut_ptr(),
                need,
                &mut n,
            )
        };
        if r != AC_RESULT_OK {
            assert_eq!(n, usize::MAX);
            return Err(r);
        }
        assert_eq!(n, need, "ac_cfg_encrypted_len is exact");
        Ok(out)
    }

    fn decrypt(data: &[u8], pass: &[u8], cap: usize) -> Result<Vec<u8>, ac_result> {
        let mut out = vec![0u8; cap];
        let mut n = usize::MAX;
        let r = unsafe {
            ac_cfg_decrypt(
                data.as_ptr(),
                data.len(),
                pass.as_ptr(),
                pass.len(),
                out.as_mut_ptr(),
                cap,
                &mut n,
            )
        };
        if r != AC_RESULT_OK {
            assert_eq!(n, usize::MAX);
            return Err(r);
        }
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn cfx_round_trip_matches_the_crate_and_refuses_bad_input() {
        for len in [0usize, 1, 7, 8, 9, SAMPLE.len()] {
            let plain = &SAMPLE[..len];
            let ct = encrypt(0, plain, b"secret").unwrap();
            assert_eq!(
                ct,
                ::ac_cfg::crypto::encrypt_cfx(plain, &TdesKey::passphrase("secret"))
            );
            if len == 0 {
                continue;
            }
            // The input length is always enough for the output.
            assert_eq!(decrypt(&ct, b"secret", ct.len()).unwrap(), plain);
        }
        let ct = encrypt(0, SAMPLE, b"secret").unwrap();
        assert!(matches!(
            decrypt(&ct, b"wrong", ct.len()),
            Err(AC_RESULT_CRYPTO_BAD_PADDING | AC_RESULT_CRYPTO_NOT_TEXT)
        ));
        assert_eq!(
            decrypt(&ct[..ct.len() - 1], b"secret", ct.len()),
            Err(AC_RESULT_CRYPTO_NOT_BLOCK_ALIGNED)
        );
        assert_eq!(decrypt(&ct[..0], b"secret", 8), Err(AC_RESULT_CRYPTO_EMPTY));
        assert_eq!(decrypt(&ct, b"", ct.len()), Err(AC_RESULT_CRYPTO_BAD_KEY));
        assert_eq!(
            decrypt(&ct, b"secret", SAMPLE.len() - 1),
            Err(AC_RESULT_INSUFFICIENT_SIZE)
        );
        assert_eq!(encrypt(0, SAMPLE, b""), Err(AC_RESULT_CRYPTO_BAD_KEY));
        assert_eq!(encrypt(7, SAMPLE, b"k"), Err(AC_RESULT_INVALID_PARAMETER));
        let mut n = 0;
        assert_eq!(
            unsafe { ac_cfg_encrypted_len(0, usize::MAX, &mut n) },
            AC_RESULT_INVALID_PARAMETER
        );
        // Short output buffer: refused before any work, nothing written.
        let mut out = [0xAAu8; 8];
        let r = unsafe {
            ac_cfg_encrypt(
                0,
                b"12345678".as_ptr(),
                8,
                b"k".as_ptr(),
                1,
                out.as_mut_ptr(),
                8,
                &mut n,
            )
        };
        assert_eq!(r, AC_RESULT_INSUFFICIENT_SIZE);
        assert_eq!(out, [0xAA; 8]);
    }

    #[test]
    fn gcm_round_trip_and_tamper_detection() {
        let ct = encrypt(1, SAMPLE, b"secret").unwrap();
        assert!(::ac_cfg::crypto::is_aead(&ct));
        assert_eq!(decrypt(&ct, b"secret", ct.len()).unwrap(), SAMPLE);
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            decrypt(&bad, b"secret", ct.len()),
            Err(AC_RESULT_CRYPTO_AUTH_FAILED)
        );
        assert_eq!(
            decrypt(&ct[..30], b"secret", ct.len()),
            Err(AC_RESULT_CRYPTO_TRUNCATED)
        );
    }

    #[test]
    fn value_encryption_round_trip() {
        let enc = text_out(|b, l, n| unsafe {
            ac_cfg_encrypt_value(b"p4ss".as_ptr().cast(), 4, b"k".as_ptr(), 1, b, l, n)
        })
        .unwrap();
        assert_eq!(
            enc,
            ::ac_cfg::crypto::encrypt_value("p4ss", &TdesKey::passphrase("k"))
        );
        assert!(enc.starts_with("{\"") && enc.ends_with("\"}"));
        let dec = |v: &str, k: &[u8]| {
            text_out(|b, l, n| unsafe {
                ac_cfg_decrypt_value(v.as_ptr().cast(), v.len(), k.as_ptr(), k.len(), b, l, n)
            })
        };
        assert_eq!(dec(&enc, b"k").unwrap(), "p4ss");
        assert_eq!(
            dec("plain", b"k"),
            Err(AC_RESULT_CRYPTO_NOT_ENCRYPTED_VALUE)
        );
        assert_eq!(
            dec("{\"!!!\"}", b"k"),
            Err(AC_RESULT_CRYPTO_NOT_ENCRYPTED_VALUE)
        );
        assert!(dec(&enc, b"other").is_err());
        // The documented size bound (NUL included) is exact enough for every length.
        for len in 0..40usize {
            let v = "x".repeat(len);
            let e = ::ac_cfg::crypto::encrypt_value(&v, &TdesKey::passphrase("k"));
            assert!(e.len() < ((len / 8 + 1) * 8).div_ceil(3) * 4 + 5, "{len}");
            // The decrypted value always fits in value_len bytes.
            assert!(len < e.len());
        }
    }
}
