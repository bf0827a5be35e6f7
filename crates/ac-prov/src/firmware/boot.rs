//! The bootloader's decision: which slot to boot, with boot-count rollback and verified boot.
//!
//! At every power-up:
//! 1. If the active slot is on trial, count the boot (committed before booting). Past
//!    `max_tries` unconfirmed boots the slot is marked bad and the other slot becomes active
//!    again (rollback).
//! 2. Verify the chosen slot (signature, model, every section's SHA-256, and that it is the
//!    image the boot state says). If it does not verify, boot the other slot if that one
//!    does. If neither does, the phone is in recovery mode (manual 8.7.3, appendix B): it
//!    asks DHCP for options 66/67 and fetches its model's image ([`crate::engine::Engine::recovery`]).

use ac_cfg::Model;

use super::image::{BodyVerifier, FirmwareError, Header, Keyring, MAX_HEADER_LEN};
use super::slots::{BootState, Slot, SlotError, SlotInfo, SlotState, SlotStore};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootDecision {
    pub slot: Slot,
    pub version: String,
    /// The slot is on trial: the phone must call `mark_good` once it is up and registered.
    pub trial: bool,
    /// The trial slot used up its boots; this is the previous image.
    pub rolled_back: bool,
    /// The active slot did not verify; this is the other one.
    pub fell_back: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("no slot holds a valid image: recovery mode (DHCP options 66/67)")]
    NoValidImage {
        a: Option<FirmwareError>,
        b: Option<FirmwareError>,
    },
    #[error(transparent)]
    Slot(#[from] SlotError),
}

/// Why a slot does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Image(#[from] FirmwareError),
    #[error(transparent)]
    Slot(#[from] SlotError),
}

/// Reads a slot back and verifies it completely; returns its header.
pub fn verify_slot(
    store: &mut dyn SlotStore,
    slot: Slot,
    keys: &Keyring,
    model: Model,
) -> Result<Header, VerifyError> {
    let cap = store.capacity();
    let mut head = vec![0u8; MAX_HEADER_LEN.min(cap as usize)];
    store.read(slot, 0, &mut head)?;
    let h = Header::parse(&head)?;
    h.check_for(keys, model, 0)?;
    if h.image_len() > cap {
        return Err(FirmwareError::Length {
            got: cap,
            want: h.image_len(),
        }
        .into());
    }
    let mut v = BodyVerifier::new(&h);
    let mut buf = vec![0u8; 64 << 10];
    let mut off = h.len() as u64;
    let end = h.image_len();
    while off < end {
        let n = ((end - off) as usize).min(buf.len());
        store.read(slot, off, &mut buf[..n])?;
        v.update(&buf[..n])?;
        off += n as u64;
    }
    v.finish()?;
    Ok(h)
}

fn info_of(h: &Header, state: SlotState) -> SlotInfo {
    SlotInfo {
        state,
        version: h.version.clone(),
        security_counter: h.security_counter,
        image_len: h.image_len(),
        resume_offset: 0,
        header_digest: h.digest(),
    }
}

fn check(
    store: &mut dyn SlotStore,
    st: &BootState,
    slot: Slot,
    keys: &Keyring,
    model: Model,
    strict: bool,
) -> Result<Header, FirmwareError> {
    let h = match verify_slot(store, slot, keys, model) {
        Ok(h) => h,
        Err(VerifyError::Image(e)) => return Err(e),
        // An unreadable slot is as good as an invalid one here.
        Err(VerifyError::Slot(_)) => return Err(FirmwareError::Short { need: 0 }),
    };
    // The active slot must hold the very image the boot state names.
    if strict && h.digest() != st.slot(slot).header_digest {
        return Err(FirmwareError::HeaderChanged);
    }
    Ok(h)
}

/// Runs the bootloader's decision on `store` and commits what it changes.
pub fn boot(
    store: &mut dyn SlotStore,
    keys: &Keyring,
    model: Model,
) -> Result<BootDecision, BootError> {
    let Some(mut st) = store.load_state()? else {
        // A blank boot state (factory-fresh flash): boot whichever slot verifies.
        for slot in [Slot::A, Slot::B] {
            if let Ok(h) = verify_slot(store, slot, keys, model) {
                let st = BootState::initial(slot, info_of(&h, SlotState::Good));
                store.commit_state(&st)?;
                return Ok(BootDecision {
                    slot,
                    version: h.version,
                    trial: false,
                    rolled_back: false,
                    fell_back: false,
                });
            }
        }
        return Err(BootError::NoValidImage { a: None, b: None });
    };
    let mut rolled_back = false;
    if st.trial {
        st.boot_count = st.boot_count.saturating_add(1);
        if st.boot_count > st.max_tries {
            let a = st.active;
            st.slot_mut(a).state = SlotState::Bad;
            st.active = a.other();
            st.trial = false;
            st.boot_count = 0;
            rolled_back = true;
        }
        store.commit_state(&st)?;
    }
    let active = st.active;
    let err_a = match check(store, &st, active, keys, model, true) {
        Ok(h) => {
            return Ok(BootDecision {
                slot: active,
                version: h.version,
                trial: st.trial,
                rolled_back,
                fell_back: false,
            })
        }
        Err(e) => e,
    };
    let other = active.other();
    match check(store, &st, other, keys, model, false) {
        Ok(h) => {
            st.slot_mut(active).state = SlotState::Bad;
            st.active = other;
            st.trial = false;
            st.boot_count = 0;
            let keep = st.slot(other).state;
            *st.slot_mut(other) = info_of(
                &h,
                if keep == SlotState::Good {
                    SlotState::Good
                } else {
                    SlotState::Installed
                },
            );
            store.commit_state(&st)?;
            Ok(BootDecision {
                slot: other,
                version: h.version,
                trial: false,
                rolled_back,
                fell_back: true,
            })
        }
        Err(err_b) => {
            let (a, b) = match active {
                Slot::A => (err_a, err_b),
                Slot::B => (err_b, err_a),
            };
            Err(BootError::NoValidImage {
                a: Some(a),
                b: Some(b),
            })
        }
    }
}
