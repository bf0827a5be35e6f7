//! LDAP directory search over ldap3's synchronous API (manual 3.5.3): simple bind with
//! `system/ldap/user_name` / `password` (anonymous when empty), subtree search under
//! `system/ldap/base` with the size limit `max_hits` and time limit `search_timeout` sent
//! to the server, results formatted with `display_name` and sorted when configured.

use std::time::Duration;

use ldap3::{LdapConn, LdapConnSettings, Scope, SearchEntry, SearchOptions};

use crate::ldap::{format_display, sort_entries, DirectoryEntry, LdapError, LdapSettings};

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("LDAP is disabled (system/ldap/enabled=0)")]
    Disabled,
    #[error("no LDAP server configured")]
    NoServer,
    #[error(transparent)]
    Filter(#[from] LdapError),
    #[error("LDAP: {0}")]
    Ldap(#[from] ldap3::LdapError),
    #[error("LDAP {op} failed: result code {rc} {text}")]
    Result {
        op: &'static str,
        rc: u32,
        text: String,
    },
}

/// A directory client for one configuration.
#[derive(Debug, Clone)]
pub struct Directory {
    pub settings: LdapSettings,
    /// Connection and operation timeout on the phone's side.
    pub io_timeout: Duration,
}

/// sizeLimitExceeded (RFC 4511 4.1.9): the entries received so far are the answer.
const SIZE_LIMIT_EXCEEDED: u32 = 4;

impl Directory {
    pub fn new(settings: LdapSettings) -> Directory {
        let t = settings.search_timeout.max(1) as u64;
        Directory {
            settings,
            io_timeout: Duration::from_secs(t + 2),
        }
    }

    fn url(&self) -> Result<String, DirectoryError> {
        let s = self.settings.server.trim();
        if s.is_empty() {
            return Err(DirectoryError::NoServer);
        }
        if s.starts_with("ldap://") {
            return Ok(s.to_string());
        }
        let host = if s.contains(':') && !s.starts_with('[') {
            format!("[{s}]")
        } else {
            s.to_string()
        };
        Ok(format!("ldap://{host}:{}", self.settings.port))
    }

    /// Entries whose name starts with `input` (`None` while the input is shorter than
    /// `minimal_name_search_length`).
    pub fn search_names(&self, input: &str) -> Result<Option<Vec<DirectoryEntry>>, DirectoryError> {
        match self.settings.name_search(input)? {
            Some(f) => self.search(&f).map(Some),
            None => Ok(None),
        }
    }

    /// Entries with `number` (also with the area and country code prefixes).
    pub fn search_number(&self, number: &str) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let f = self.settings.number_search(number)?;
        self.search(&f)
    }

    /// The display name of a caller (`system/ldap/call_lookup`); `Ok(None)` when lookup is
    /// off or nothing matches.
    pub fn lookup_caller(&self, number: &str) -> Result<Option<String>, DirectoryError> {
        if !self.settings.call_lookup {
            return Ok(None);
        }
        Ok(self
            .search_number(number)?
            .into_iter()
            .map(|e| e.display)
            .find(|d| !d.is_empty()))
    }

    /// Runs one search with an already expanded filter.
    pub fn search(&self, filter: &str) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let s = &self.settings;
        if !s.enabled {
            return Err(DirectoryError::Disabled);
        }
        let url = self.url()?;
        let mut conn = LdapConn::with_settings(
            LdapConnSettings::new().set_conn_timeout(self.io_timeout),
            &url,
        )?;
        if !s.user.is_empty() {
            let r = conn
                .with_timeout(self.io_timeout)
                .simple_bind(&s.user, &s.password)?;
            if r.rc != 0 {
                return Err(DirectoryError::Result {
                    op: "bind",
                    rc: r.rc,
                    text: r.text,
                });
            }
        }
        let attrs = s.attributes();
        let res = conn
            .with_search_options(
                SearchOptions::new()
                    .sizelimit(s.max_hits)
                    .timelimit(s.search_timeout),
            )
            .with_timeout(self.io_timeout)
            .search(&s.base, Scope::Subtree, filter, &attrs)?;
        let ldap3::SearchResult(entries, result) = res;
        if result.rc != 0 && result.rc != SIZE_LIMIT_EXCEEDED {
            return Err(DirectoryError::Result {
                op: "search",
                rc: result.rc,
                text: result.text,
            });
        }
        let _ = conn.unbind();
        let mut out: Vec<DirectoryEntry> = entries
            .into_iter()
            .map(SearchEntry::construct)
            .map(|e| {
                let get = |a: &str| {
                    e.attrs
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(a))
                        .and_then(|(_, v)| v.first())
                        .map(String::as_str)
                };
                let mut display = format_display(&s.display_name, get);
                if display.is_empty() {
                    display = s
                        .name_attrs
                        .iter()
                        .find_map(|a| get(a))
                        .unwrap_or_default()
                        .to_string();
                }
                let numbers = s
                    .number_attrs
                    .iter()
                    .flat_map(|a| {
                        e.attrs
                            .iter()
                            .filter(|(k, _)| k.eq_ignore_ascii_case(a))
                            .flat_map(|(_, v)| v.iter().map(|n| (a.clone(), n.clone())))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                DirectoryEntry {
                    dn: e.dn.clone(),
                    display,
                    numbers,
                }
            })
            .collect();
        if s.sort {
            sort_entries(&mut out);
        }
        // The server may ignore the size limit; max_hits is honoured here too.
        if s.max_hits > 0 {
            out.truncate(s.max_hits as usize);
        }
        Ok(out)
    }
}
