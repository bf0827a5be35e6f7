//! A double of the Azure AD endpoints the phone's Web sign-in uses (tests only; the real
//! service is online): the device authorization endpoint and the token endpoint of RFC 8628
//! (3.1-3.5) and RFC 6749 (5.1, 5.2, 6), sans-IO: an [`HttpRequest`] in, an
//! [`HttpResponse`] out, `now` passed in. The "user" approves or denies a pairing code with
//! [`AadDouble::approve`] / [`AadDouble::deny`], as they would in the browser. Services that
//! take the bearer token (the Skype for Business web services of [MS-OCAUTHWS] 3.2) ask
//! [`AadDouble::validate`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::sipe::oauth::{
    split_url, DeviceAuthorization, ErrorResponse, HttpRequest, HttpResponse, TokenResponse,
    DEVICE_CODE_GRANT,
};

/// The double's settings.
#[derive(Debug, Clone)]
pub struct AadConfig {
    /// Path of the device authorization endpoint, e.g. `/common/oauth2/devicecode`.
    pub device_path: String,
    /// Path of the token endpoint, e.g. `/common/oauth2/token`.
    pub token_path: String,
    /// The registered public client.
    pub client_id: String,
    /// Where the user goes (RFC 8628 3.2 verification_uri).
    pub verification_uri: String,
    /// Lifetime of device codes.
    pub code_lifetime: Duration,
    /// Polling interval granted (RFC 8628 3.2 interval).
    pub interval: Duration,
    /// Access token lifetime.
    pub token_lifetime: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    Pending,
    Approved(String),
    Denied,
    Used,
}

#[derive(Debug, Clone)]
struct DeviceCode {
    user_code: String,
    scope: String,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    grant: Grant,
}

/// What the double saw, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AadEvent {
    DeviceCodeIssued {
        user_code: String,
    },
    /// A token request and the answer's `error` (or "granted").
    Polled {
        outcome: String,
    },
    TokenIssued {
        user: String,
    },
    Refreshed {
        user: String,
    },
}

/// The Azure AD double.
#[derive(Debug)]
pub struct AadDouble {
    cfg: AadConfig,
    seq: u64,
    codes: HashMap<String, DeviceCode>,
    /// access token -> (user, scope, expiry)
    tokens: HashMap<String, (String, String, Instant)>,
    /// refresh token -> (user, scope)
    refresh: HashMap<String, (String, String)>,
    events: Vec<AadEvent>,
}

const USER_CODE_CHARS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

impl AadDouble {
    pub fn new(cfg: AadConfig, seed: u64) -> AadDouble {
        AadDouble {
            cfg,
            seq: seed,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            refresh: HashMap::new(),
            events: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.seq;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn token(&mut self, prefix: &str) -> String {
        format!("{prefix}{:016x}{:016x}", self.next(), self.next())
    }

    pub fn take_events(&mut self) -> Vec<AadEvent> {
        std::mem::take(&mut self.events)
    }

    /// The user entered `user_code` in the browser and signed in as `user`.
    pub fn approve(&mut self, user_code: &str, user: &str) -> bool {
        self.set_grant(user_code, Grant::Approved(user.to_string()))
    }

    /// The user refused.
    pub fn deny(&mut self, user_code: &str) -> bool {
        self.set_grant(user_code, Grant::Denied)
    }

    fn set_grant(&mut self, user_code: &str, g: Grant) -> bool {
        // RFC 8628 3.3: the user code is compared case-insensitively, dashes ignored
        // (6.1 recommends it); ours is upper-case letters with one dash.
        let norm = |s: &str| s.replace('-', "").to_ascii_uppercase();
        match self
            .codes
            .values_mut()
            .find(|c| norm(&c.user_code) == norm(user_code) && c.grant == Grant::Pending)
        {
            Some(c) => {
                c.grant = g;
                true
            }
            None => false,
        }
    }

    /// The user a bearer access token belongs to, while it is valid (RFC 6750 3.1:
    /// otherwise `invalid_token`).
    pub fn validate(&self, now: Instant, access_token: &str) -> Option<&str> {
        self.tokens
            .get(access_token)
            .filter(|(_, _, exp)| now < *exp)
            .map(|(u, _, _)| u.as_str())
    }

    fn error(status: u16, error: &str, description: &str) -> HttpResponse {
        HttpResponse::json(
            status,
            ErrorResponse {
                error: error.to_string(),
                error_description: Some(description.to_string()),
                error_uri: None,
            }
            .emit(),
        )
    }

    /// Answers one request.
    pub fn handle(&mut self, now: Instant, req: &HttpRequest) -> HttpResponse {
        let path = split_url(&req.url).map(|(_, p)| p).unwrap_or("/");
        let path = path.split('?').next().unwrap_or(path);
        if path != self.cfg.device_path && path != self.cfg.token_path {
            return Self::error(404, "invalid_request", "no such endpoint");
        }
        // RFC 6749 3.2 / RFC 8628 3.1: the endpoints take POST.
        if req.method != "POST" {
            return HttpResponse {
                status: 405,
                headers: vec![("Allow".into(), "POST".into())],
                body: Vec::new(),
            };
        }
        let ct_ok = req.header("Content-Type").is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
        if !ct_ok {
            return Self::error(400, "invalid_request", "form encoding expected");
        }
        let params: HashMap<String, String> = req.form_params().into_iter().collect();
        // RFC 6749 3.2.1: a public client sends client_id.
        if params.get("client_id").map(String::as_str) != Some(self.cfg.client_id.as_str()) {
            return Self::error(400, "invalid_client", "unknown client");
        }
        if path == self.cfg.device_path {
            return self.device_authorization(now, &params);
        }
        match params.get("grant_type").map(String::as_str) {
            Some(DEVICE_CODE_GRANT) => self.device_token(now, &params),
            Some("refresh_token") => self.refresh_token(now, &params),
            Some(_) => Self::error(400, "unsupported_grant_type", "grant type not supported"),
            None => Self::error(400, "invalid_request", "grant_type missing"),
        }
    }

    fn device_authorization(
        &mut self,
        now: Instant,
        params: &HashMap<String, String>,
    ) -> HttpResponse {
        let device_code = self.token("dc-");
        let mut user_code = String::new();
        for i in 0..8 {
            if i == 4 {
                user_code.push('-');
            }
            let n = (self.next() % USER_CODE_CHARS.len() as u64) as usize;
            user_code.push(USER_CODE_CHARS[n] as char);
        }
        self.codes.insert(
            device_code.clone(),
            DeviceCode {
                user_code: user_code.clone(),
                scope: params.get("scope").cloned().unwrap_or_default(),
                expires: now + self.cfg.code_lifetime,
                interval: self.cfg.interval,
                last_poll: None,
                grant: Grant::Pending,
            },
        );
        self.events.push(AadEvent::DeviceCodeIssued {
            user_code: user_code.clone(),
        });
        let da = DeviceAuthorization {
            device_code,
            verification_uri_complete: Some(format!(
                "{}?user_code={}",
                self.cfg.verification_uri, user_code
            )),
            user_code,
            verification_uri: self.cfg.verification_uri.clone(),
            expires_in: self.cfg.code_lifetime.as_secs(),
            interval: Some(self.cfg.interval.as_secs()),
            message: None,
        };
        HttpResponse::json(200, da.emit())
    }

    fn issue(&mut self, now: Instant, user: &str, scope: &str) -> HttpResponse {
        let at = self.token("at-");
        let rt = self.token("rt-");
        self.tokens.insert(
            at.clone(),
            (
                user.to_string(),
                scope.to_string(),
                now + self.cfg.token_lifetime,
            ),
        );
        self.refresh
            .insert(rt.clone(), (user.to_string(), scope.to_string()));
        HttpResponse::json(
            200,
            TokenResponse {
                access_token: at,
                token_type: "Bearer".into(),
                expires_in: Some(self.cfg.token_lifetime.as_secs()),
                refresh_token: Some(rt),
                scope: Some(scope.to_string()),
            }
            .emit(),
        )
    }

    fn device_token(&mut self, now: Instant, params: &HashMap<String, String>) -> HttpResponse {
        let Some(dc) = params.get("device_code") else {
            return Self::error(400, "invalid_request", "device_code missing");
        };
        let Some(code) = self.codes.get_mut(dc) else {
            return Self::error(400, "invalid_grant", "unknown device code");
        };
        let outcome: &str;
        let resp = if now >= code.expires {
            outcome = "expired_token";
            Self::error(400, outcome, "the device code expired")
        } else if code.last_poll.is_some_and(|t| now < t + code.interval) {
            // RFC 8628 3.5: polling faster than the interval earns slow_down (the client then
            // adds 5 s to its interval).
            code.last_poll = Some(now);
            outcome = "slow_down";
            Self::error(400, outcome, "polling too fast")
        } else {
            code.last_poll = Some(now);
            match code.grant.clone() {
                Grant::Pending => {
                    outcome = "authorization_pending";
                    Self::error(400, outcome, "the user has not signed in yet")
                }
                Grant::Denied => {
                    outcome = "access_denied";
                    Self::error(400, outcome, "the user declined")
                }
                Grant::Used => {
                    outcome = "invalid_grant";
                    Self::error(400, outcome, "the device code was used")
                }
                Grant::Approved(user) => {
                    code.grant = Grant::Used;
                    let scope = code.scope.clone();
                    outcome = "granted";
                    self.events
                        .push(AadEvent::TokenIssued { user: user.clone() });
                    self.issue(now, &user, &scope)
                }
            }
        };
        self.events.push(AadEvent::Polled {
            outcome: outcome.to_string(),
        });
        resp
    }

    fn refresh_token(&mut self, now: Instant, params: &HashMap<String, String>) -> HttpResponse {
        let Some(rt) = params.get("refresh_token") else {
            return Self::error(400, "invalid_request", "refresh_token missing");
        };
        // RFC 6749 6: a new refresh token is issued and the old one revoked.
        let Some((user, scope)) = self.refresh.remove(rt) else {
            return Self::error(400, "invalid_grant", "refresh token not valid");
        };
        self.events.push(AadEvent::Refreshed { user: user.clone() });
        self.issue(now, &user, &scope)
    }
}
