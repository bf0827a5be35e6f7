//! Failure responses to screen notifications: the status code and the `ms-diagnostics`
//! / `ms-diagnostics-public` header ([MS-SIPRE] 2.2.3.1: `code;reason="...";source=...`)
//! mapped to the texts of the manual's Table 2-9 and section 8.
//!
//! The manual gives texts, not codes; the mapping from responses to texts is ours:
//!
//! | response | notification (manual) |
//! |---|---|
//! | 401/407 after our credentials, 403 | "Invalid address, username or password" (8.1) |
//! | 404, 480, 485, 604 on sign-in | "Cannot find Lync server at <domain>" (Table 2-9) |
//! | 408, 500, 502, 503, 504, no response | "Failed to connect to Lync server" (Table 2-9) |
//!
//! The `ms-diagnostics` code and reason are kept as the detail shown under the text.

use crate::msg::{HeaderName, Message, MsDiagnostics};

/// One notification for the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub text: &'static str,
    /// Where the manual lists it.
    pub section: &'static str,
    /// ms-diagnostics code and reason, when the response carried them.
    pub diagnostics: Option<(u32, String)>,
}

pub const INVALID_CREDENTIALS: &str = "Invalid address, username or password";
pub const SERVER_NOT_FOUND: &str = "Cannot find Lync server at <domain>";
pub const CANNOT_CONNECT: &str = "Failed to connect to Lync server";

/// The notification for a status code alone (a transaction timeout is 408).
pub fn for_status(code: u16) -> Option<(&'static str, &'static str)> {
    match code {
        401 | 403 | 407 => Some((INVALID_CREDENTIALS, "8.1")),
        404 | 480 | 485 | 604 => Some((SERVER_NOT_FOUND, "2.2 Table 2-9")),
        408 | 500 | 502 | 503 | 504 => Some((CANNOT_CONNECT, "2.2 Table 2-9")),
        _ => None,
    }
}

/// The ms-diagnostics (or ms-diagnostics-public) of a response.
pub fn diagnostics(m: &Message<'_>) -> Option<(u32, String)> {
    let v = m
        .first(HeaderName::MsDiagnostics)
        .or_else(|| m.first(HeaderName::MsDiagnosticsPublic))?;
    let d = MsDiagnostics::parse(v).ok()?;
    Some((
        d.code,
        d.reason().map(|r| r.into_owned()).unwrap_or_default(),
    ))
}

/// The notification for a failure response, or `None` for codes the manual has no text
/// for.
pub fn notification(m: &Message<'_>) -> Option<Notification> {
    let (text, section) = for_status(m.status()?)?;
    Some(Notification {
        text,
        section,
        diagnostics: diagnostics(m),
    })
}
