//! Accounts, sessions, CSRF tokens and login throttling.
//!
//! * Passwords (`system/password`, `system/web_user_password`, manual 5.4.1) are kept only as
//!   Argon2id hashes (PHC strings) in the credentials file, never in the clear.
//! * A session is a 256-bit random token (getrandom) in an `HttpOnly; SameSite=Strict` cookie,
//!   with its own 256-bit CSRF token that every state-changing form carries.
//! * [`Throttle`] slows down password guessing per client address and overall.
//!
//! Sessions and the throttle are sans-IO: they take `now: Instant` as an argument.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use subtle::ConstantTimeEq;

/// The factory password of both accounts (manual 5.4.1).
pub const DEFAULT_PASSWORD: &str = "1234";
/// Longest password accepted (bounds the hashing work per request).
pub const MAX_PASSWORD: usize = 128;

/// The two login accounts of manual 5.4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `system/user_name` / `system/password`: every page.
    Admin,
    /// `system/web_user_name` / `system/web_user_password`: status, personal pages, sign-in.
    User,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("credentials file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("credentials file {0} is malformed")]
    Malformed(PathBuf),
    #[error("password hashing failed")]
    Hash,
    #[error("the system random generator failed")]
    Random,
    #[error("a password must be 1 to {MAX_PASSWORD} characters")]
    BadPassword,
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, AuthError> {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).map_err(|_| AuthError::Random)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Constant-time comparison of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Hashes a password with Argon2id (default parameters, random 128-bit salt).
pub fn hash_password(pw: &str) -> Result<String, AuthError> {
    if pw.is_empty() || pw.chars().count() > MAX_PASSWORD {
        return Err(AuthError::BadPassword);
    }
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|_| AuthError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| AuthError::Hash)?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AuthError::Hash)
}

/// Checks a password against a PHC hash string.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    if pw.len() > MAX_PASSWORD * 4 {
        return false;
    }
    PasswordHash::new(phc)
        .is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// The password hashes of both accounts, in a file of `admin <phc>` / `user <phc>` lines
/// (mode 0600, replaced atomically).
#[derive(Debug)]
pub struct Credentials {
    path: PathBuf,
    admin: String,
    user: String,
}

impl Credentials {
    /// Loads the file, creating it with the factory password for both accounts if missing.
    pub fn load_or_init(path: &Path) -> Result<Credentials, AuthError> {
        let io = |source| AuthError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut admin = None;
                let mut user = None;
                for line in text.lines() {
                    match line.split_once(' ') {
                        Some(("admin", h)) if PasswordHash::new(h).is_ok() => {
                            admin = Some(h.to_string())
                        }
                        Some(("user", h)) if PasswordHash::new(h).is_ok() => {
                            user = Some(h.to_string())
                        }
                        _ => return Err(AuthError::Malformed(path.to_path_buf())),
                    }
                }
                match (admin, user) {
                    (Some(admin), Some(user)) => Ok(Credentials {
                        path: path.to_path_buf(),
                        admin,
                        user,
                    }),
                    _ => Err(AuthError::Malformed(path.to_path_buf())),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let c = Credentials {
                    path: path.to_path_buf(),
                    admin: hash_password(DEFAULT_PASSWORD)?,
                    user: hash_password(DEFAULT_PASSWORD)?,
                };
                c.save()?;
                Ok(c)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn save(&self) -> Result<(), AuthError> {
        let text = format!("admin {}\nuser {}\n", self.admin, self.user);
        ac_cfg::fsutil::atomic_write(&self.path, text.as_bytes()).map_err(|source| {
            AuthError::Io {
                path: self.path.clone(),
                source,
            }
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    pub fn verify(&self, role: Role, pw: &str) -> bool {
        verify_password(
            pw,
            match role {
                Role::Admin => &self.admin,
                Role::User => &self.user,
            },
        )
    }

    /// Replaces an account's password (hashed) and saves the file.
    pub fn set(&mut self, role: Role, pw: &str) -> Result<(), AuthError> {
        let h = hash_password(pw)?;
        match role {
            Role::Admin => self.admin = h,
            Role::User => self.user = h,
        }
        self.save()
    }

    /// Both accounts back to the factory password.
    pub fn reset(&mut self) -> Result<(), AuthError> {
        self.admin = hash_password(DEFAULT_PASSWORD)?;
        self.user = hash_password(DEFAULT_PASSWORD)?;
        self.save()
    }
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub user: String,
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
    /// The account still has the factory password: every page shows a warning.
    pub default_password: bool,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions.
#[derive(Debug)]
pub struct Sessions {
    map: HashMap<String, Session>,
    /// Idle time after which a session ends.
    pub idle: Duration,
    /// Longest life of a session.
    pub max_age: Duration,
    /// Most live sessions; the oldest is dropped for a new one.
    pub max: usize,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            map: HashMap::new(),
            idle: Duration::from_secs(15 * 60),
            max_age: Duration::from_secs(8 * 3600),
            max: 32,
        }
    }
}

impl Sessions {
    /// Starts a session; returns its token.
    pub fn create(
        &mut self,
        role: Role,
        user: &str,
        default_password: bool,
        now: Instant,
    ) -> Result<String, AuthError> {
        self.expire(now);
        if self.map.len() >= self.max {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        let token = random_hex(32)?;
        self.map.insert(
            token.clone(),
            Session {
                role,
                user: user.to_string(),
                csrf: random_hex(32)?,
                default_password,
                created: now,
                last_seen: now,
            },
        );
        Ok(token)
    }

    fn alive(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.last_seen) < self.idle
            && now.saturating_duration_since(s.created) < self.max_age
    }

    fn expire(&mut self, now: Instant) {
        let (idle, max_age) = (self.idle, self.max_age);
        self.map.retain(|_, s| {
            now.saturating_duration_since(s.last_seen) < idle
                && now.saturating_duration_since(s.created) < max_age
        });
    }

    /// The session of a token, if it is live; touches it.
    pub fn get(&mut self, token: &str, now: Instant) -> Option<Session> {
        if token.len() != 64 {
            return None;
        }
        let alive = self.map.get(token).map(|s| self.alive(s, now))?;
        if !alive {
            self.map.remove(token);
            return None;
        }
        let s = self.map.get_mut(token)?;
        s.last_seen = now;
        Some(s.clone())
    }

    pub fn remove(&mut self, token: &str) {
        self.map.remove(token);
    }

    /// Ends every session (password change, factory reset).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Ends the sessions of one account but the one of `keep`.
    pub fn clear_role_except(&mut self, role: Role, keep: &str) {
        self.map.retain(|t, s| s.role != role || t == keep);
    }

    /// Clears the default-password warning of an account's sessions.
    pub fn password_changed(&mut self, role: Role) {
        for s in self.map.values_mut() {
            if s.role == role {
                s.default_password = false;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Login throttling: after [`Throttle::free_failures`] failed logins from one address, that
/// address is locked out for 30 s, doubling with each further failure (at most 15 min);
/// a success clears it. Across all addresses at most [`Throttle::global_per_minute`]
/// failures per minute are accepted before every login waits for the minute to end.
#[derive(Debug)]
pub struct Throttle {
    per_ip: HashMap<IpAddr, Failures>,
    window_start: Option<Instant>,
    window_failures: u32,
    pub free_failures: u32,
    pub global_per_minute: u32,
    pub max_tracked: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            per_ip: HashMap::new(),
            window_start: None,
            window_failures: 0,
            free_failures: 5,
            global_per_minute: 60,
            max_tracked: 4096,
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);

impl Throttle {
    /// `Err(wait)` if a login from `ip` must not be tried now.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if let Some(start) = self.window_start {
            if now.saturating_duration_since(start) >= MINUTE {
                self.window_start = None;
                self.window_failures = 0;
            } else if self.window_failures >= self.global_per_minute {
                return Err(MINUTE - now.saturating_duration_since(start));
            }
        }
        if let Some(until) = self.per_ip.get(&ip).and_then(|f| f.locked_until) {
            if now < until {
                return Err(until - now);
            }
        }
        Ok(())
    }

    /// Records a failed login.
    pub fn failure(&mut self, ip: IpAddr, now: Instant) {
        if self.window_start.is_none() {
            self.window_start = Some(now);
        }
        self.window_failures = self.window_failures.saturating_add(1);
        if self.per_ip.len() >= self.max_tracked && !self.per_ip.contains_key(&ip) {
            if let Some(old) = self
                .per_ip
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| *k)
            {
                self.per_ip.remove(&old);
            }
        }
        let f = self.per_ip.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count >= self.free_failures {
            let doublings = (f.count - self.free_failures).min(5);
            let lock = Duration::from_secs(30 << doublings).min(Duration::from_secs(900));
            f.locked_until = Some(now + lock);
        }
    }

    /// Records a successful login.
    pub fn success(&mut self, ip: IpAddr) {
        self.per_ip.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_never_hold_the_password() {
        let h = hash_password("s3cret-Pw").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("s3cret"));
        assert!(verify_password("s3cret-Pw", &h));
        assert!(!verify_password("s3cret-pw", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(hash_password("").is_err());
    }

    #[test]
    fn credentials_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("credentials");
        let mut c = Credentials::load_or_init(&p).unwrap();
        assert!(c.verify(Role::Admin, DEFAULT_PASSWORD));
        c.set(Role::Admin, "new-admin-pw").unwrap();
        let c2 = Credentials::load_or_init(&p).unwrap();
        assert!(c2.verify(Role::Admin, "new-admin-pw"));
        assert!(!c2.verify(Role::Admin, DEFAULT_PASSWORD));
        assert!(c2.verify(Role::User, DEFAULT_PASSWORD));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(!text.contains("new-admin-pw") && !text.contains("1234"));
        std::fs::write(&p, "admin nothash\n").unwrap();
        assert!(matches!(
            Credentials::load_or_init(&p),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn sessions_expire() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        let tok = s.create(Role::Admin, "admin", true, t0).unwrap();
        assert_eq!(tok.len(), 64);
        let sess = s.get(&tok, t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(sess.csrf.len(), 64);
        assert_ne!(sess.csrf, tok);
        // Touched at 60 s: still alive 14 min later, gone after 15 idle minutes.
        assert!(s
            .get(&tok, t0 + Duration::from_secs(60 + 14 * 60))
            .is_some());
        assert!(s
            .get(&tok, t0 + Duration::from_secs(60 + 30 * 60))
            .is_none());
        assert!(s.is_empty());
        assert!(s.get("short", t0).is_none());
        // The cap drops the oldest.
        s.max = 2;
        let a = s.create(Role::User, "u", false, t0).unwrap();
        let _b = s
            .create(Role::User, "u", false, t0 + Duration::from_secs(1))
            .unwrap();
        let _c = s
            .create(Role::User, "u", false, t0 + Duration::from_secs(2))
            .unwrap();
        assert_eq!(s.len(), 2);
        assert!(s.get(&a, t0 + Duration::from_secs(3)).is_none());
    }

    #[test]
    fn throttle_locks_and_backs_off() {
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let mut t = Throttle::default();
        for i in 0..4 {
            t.failure(ip, t0 + Duration::from_secs(i));
            assert!(t.check(ip, t0 + Duration::from_secs(i)).is_ok());
        }
        t.failure(ip, t0 + Duration::from_secs(4));
        let wait = t.check(ip, t0 + Duration::from_secs(4)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30));
        assert!(t.check(other, t0 + Duration::from_secs(4)).is_ok());
        assert!(t.check(ip, t0 + Duration::from_secs(35)).is_ok());
        t.failure(ip, t0 + Duration::from_secs(35));
        assert_eq!(
            t.check(ip, t0 + Duration::from_secs(35)).unwrap_err(),
            Duration::from_secs(60)
        );
        t.success(ip);
        assert!(t.check(ip, t0 + Duration::from_secs(36)).is_ok());
        // Global limit.
        let mut g = Throttle {
            global_per_minute: 3,
            ..Throttle::default()
        };
        for i in 0..3u8 {
            g.failure(IpAddr::from([10, 0, 0, i]), t0);
        }
        assert!(g.check(other, t0 + Duration::from_secs(10)).is_err());
        assert!(g.check(other, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn token_compare() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }
}
