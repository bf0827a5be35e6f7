//! The 8-character pair code (manual 4.11.8.1) and the limiter of wrong codes.
//!
//! The code is 8 symbols of Crockford's base32 (`0-9 A-Z` without `I L O U`), 40 bits from
//! the CSPRNG. It is only ever a SPAKE2 password: a passive eavesdropper learns nothing
//! from a handshake, and an active attacker tests one code per handshake. The
//! [`Limiter`] bounds those online guesses.

use std::time::{Duration, Instant};

use crate::crypto::Rng;
use crate::error::Error;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A pair code in canonical form.
#[derive(Clone, PartialEq, Eq)]
pub struct PairCode(String);

impl std::fmt::Debug for PairCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairCode(..)")
    }
}

impl PairCode {
    /// A fresh random code.
    pub fn generate(rng: &mut dyn Rng) -> PairCode {
        let mut b = [0u8; 5];
        rng.fill_bytes(&mut b);
        let mut v = b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        let mut s = [0u8; 8];
        for c in s.iter_mut().rev() {
            *c = ALPHABET[(v & 31) as usize];
            v >>= 5;
        }
        PairCode(String::from_utf8_lossy(&s).into_owned())
    }

    /// Reads what a user typed: case-insensitive, `-` and spaces ignored, `I`/`L` read as
    /// `1` and `O` as `0`; exactly 8 symbols.
    pub fn parse(s: &str) -> Result<PairCode, Error> {
        let mut out = String::with_capacity(8);
        for c in s.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' => continue,
                'I' | 'L' => '1',
                'O' => '0',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(Error::PairCode("characters are 0-9 and A-Z without U"));
            }
            out.push(c);
        }
        if out.len() != 8 {
            return Err(Error::PairCode("a pair code has 8 characters"));
        }
        Ok(PairCode(out))
    }

    /// The canonical text (shown on the phone).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Consecutive failures allowed before lockouts start.
pub const FREE_FAILURES: u32 = 3;
/// Longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(60);
/// After this many consecutive failures the phone shows a new code.
pub const ROTATE_AFTER: u32 = 10;

/// Global limiter of failed pairing handshakes (all sources together, so an attacker cannot
/// spread guesses over addresses). After [`FREE_FAILURES`] consecutive failures every
/// further failure locks pairing for 2 s, 4 s, 8 s ... up to [`MAX_LOCKOUT`]; a success
/// resets it.
#[derive(Debug, Clone, Default)]
pub struct Limiter {
    failures: u32,
    locked_until: Option<Instant>,
}

impl Limiter {
    /// `Err(retry_after)` while locked.
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        match self.locked_until {
            Some(t) if t > now => Err(t - now),
            _ => Ok(()),
        }
    }

    /// One failed (or abandoned) handshake. Returns `true` when the code should rotate.
    pub fn failure(&mut self, now: Instant) -> bool {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= FREE_FAILURES {
            let exp = (self.failures - FREE_FAILURES + 1).min(6);
            let d = Duration::from_secs(1u64 << exp).min(MAX_LOCKOUT);
            self.locked_until = Some(now + d);
        }
        self.failures % ROTATE_AFTER == 0
    }

    /// A successful handshake.
    pub fn success(&mut self) {
        self.failures = 0;
        self.locked_until = None;
    }

    /// Consecutive failures.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn generated_codes_parse_back() {
        let mut r = OsRng;
        for _ in 0..100 {
            let c = PairCode::generate(&mut r);
            assert_eq!(c.as_str().len(), 8);
            assert_eq!(PairCode::parse(c.as_str()).unwrap(), c);
        }
        assert_eq!(PairCode::parse("k7q2-m9xo").unwrap().as_str(), "K7Q2M9X0");
        assert!(PairCode::parse("K7Q2M9X").is_err());
        assert!(PairCode::parse("K7Q2M9XU").is_err());
    }

    #[test]
    fn lockout_grows_and_resets() {
        let t = Instant::now();
        let mut l = Limiter::default();
        l.failure(t);
        l.failure(t);
        assert!(l.check(t).is_ok());
        l.failure(t);
        assert_eq!(l.check(t), Err(Duration::from_secs(2)));
        l.failure(t);
        assert_eq!(l.check(t), Err(Duration::from_secs(4)));
        for _ in 0..20 {
            l.failure(t);
        }
        assert_eq!(l.check(t), Err(MAX_LOCKOUT));
        l.success();
        assert!(l.check(t).is_ok());
    }
}
