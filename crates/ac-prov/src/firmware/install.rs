//! The streaming installer: writes an update into the inactive slot while it downloads and
//! activates it only when all of it verified.
//!
//! Order of events, each step durable before the next:
//! 1. [`Installer::begin`] checks the header alone: signature, model, anti-rollback counter,
//!    downgrade policy, size. Nothing is written before that. It then records in the boot
//!    state that the inactive slot is being written (the running slot is never touched).
//! 2. [`Installer::feed`] writes the bytes as they arrive and checks each section's SHA-256
//!    as soon as the section is complete. Every `checkpoint_every` bytes it syncs the slot
//!    and records the synced length, so an interrupted download resumes from there
//!    ([`Installer::begin`] with the same header finds the checkpoint and re-hashes what is
//!    already on flash).
//! 3. [`Installer::finish`] syncs, reads the whole slot back and verifies it again, and only
//!    then commits the boot state that makes it the active slot, on trial.
//!
//! A power cut anywhere leaves either the old boot state (old image boots) or the new one
//! (new image boots on trial, with rollback if it never confirms).

use std::cmp::Ordering;

use ac_cfg::Model;

use super::boot::{verify_slot, VerifyError};
use super::image::{compare_versions, BodyVerifier, FirmwareError, Header, Keyring};
use super::slots::{BootState, Slot, SlotError, SlotInfo, SlotState, SlotStore};

/// What this phone accepts.
#[derive(Debug, Clone)]
pub struct Policy {
    pub model: Model,
    /// Accept a lower version than the running one (the security counter still applies).
    pub allow_downgrade: bool,
    /// Sync and record progress every this many bytes (0: never, no resume).
    pub checkpoint_every: u64,
}

impl Policy {
    pub fn new(model: Model) -> Policy {
        Policy {
            model,
            allow_downgrade: false,
            checkpoint_every: 1 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Image(#[from] FirmwareError),
    #[error(transparent)]
    Slot(#[from] SlotError),
    #[error("firmware {0} is already installed and running")]
    AlreadyRunning(String),
    #[error("the previous update ({0}) has not been confirmed yet; its fallback slot is kept")]
    Unconfirmed(String),
    #[error("image of {len} bytes does not fit a {capacity}-byte slot")]
    TooBig { len: u64, capacity: u64 },
    #[error("bytes given at offset {got}, the installer is at {want}")]
    Offset { got: u64, want: u64 },
}

impl From<VerifyError> for UpdateError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Image(e) => UpdateError::Image(e),
            VerifyError::Slot(e) => UpdateError::Slot(e),
        }
    }
}

/// Checks an update's header against the running state: what the engine calls before it
/// downloads the body. Returns the parsed header.
pub fn check_header(
    state: &BootState,
    keys: &Keyring,
    policy: &Policy,
    header: &[u8],
    capacity: u64,
) -> Result<Header, UpdateError> {
    let h = Header::parse(header)?;
    h.check_for(keys, policy.model, state.min_counter)?;
    let running = state.slot(state.active);
    if h.digest() == running.header_digest {
        return Err(UpdateError::AlreadyRunning(h.version));
    }
    if !policy.allow_downgrade
        && compare_versions(&h.version, &running.version) == Some(Ordering::Less)
    {
        return Err(FirmwareError::Downgrade {
            running: running.version.clone(),
            offered: h.version,
        }
        .into());
    }
    if state.trial {
        return Err(UpdateError::Unconfirmed(running.version.clone()));
    }
    if h.image_len() > capacity {
        return Err(UpdateError::TooBig {
            len: h.image_len(),
            capacity,
        });
    }
    Ok(h)
}

/// An update in progress.
#[derive(Debug)]
pub struct Installer {
    header: Header,
    raw: Vec<u8>,
    target: Slot,
    pos: u64,
    verifier: BodyVerifier,
    checkpoint_every: u64,
    last_checkpoint: u64,
    resumed_from: u64,
    keys: Keyring,
    model: Model,
}

impl Installer {
    /// Starts (or resumes) installing the image whose header is at the start of `header`.
    pub fn begin(
        store: &mut dyn SlotStore,
        keys: &Keyring,
        policy: &Policy,
        header: &[u8],
    ) -> Result<Installer, UpdateError> {
        let mut st = store.state()?;
        let h = check_header(&st, keys, policy, header, store.capacity())?;
        let raw = h.emit();
        let target = st.active.other();
        let mut inst = Installer {
            verifier: BodyVerifier::new(&h),
            header: h,
            raw,
            target,
            pos: 0,
            checkpoint_every: policy.checkpoint_every,
            last_checkpoint: 0,
            resumed_from: 0,
            keys: keys.clone(),
            model: policy.model,
        };
        let digest = inst.header.digest();
        let t = st.slot(target).clone();
        if t.state == SlotState::Writing && t.header_digest == digest && t.resume_offset > 0 {
            if let Ok(at) = inst.rehash(store, t.resume_offset) {
                inst.pos = at;
                inst.last_checkpoint = at;
                inst.resumed_from = at;
                return Ok(inst);
            }
            inst.verifier = BodyVerifier::new(&inst.header);
        }
        *st.slot_mut(target) = SlotInfo {
            state: SlotState::Writing,
            version: inst.header.version.clone(),
            security_counter: inst.header.security_counter,
            image_len: inst.header.image_len(),
            resume_offset: 0,
            header_digest: digest,
        };
        store.commit_state(&st)?;
        Ok(inst)
    }

    /// Re-reads what a previous attempt synced, to continue from it.
    fn rehash(&mut self, store: &mut dyn SlotStore, upto: u64) -> Result<u64, UpdateError> {
        let hl = self.header.len();
        let mut head = vec![0u8; hl];
        store.read(self.target, 0, &mut head)?;
        if head != self.raw || upto < hl as u64 || upto > self.header.image_len() {
            return Err(FirmwareError::HeaderChanged.into());
        }
        let mut buf = vec![0u8; 64 << 10];
        let mut off = hl as u64;
        while off < upto {
            let n = ((upto - off) as usize).min(buf.len());
            store.read(self.target, off, &mut buf[..n])?;
            self.verifier.update(&buf[..n])?;
            off += n as u64;
        }
        Ok(upto)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn target(&self) -> Slot {
        self.target
    }

    /// Where the next bytes of the image go (the download continues from here).
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// Non-zero when an earlier interrupted attempt was picked up.
    pub fn resumed_from(&self) -> u64 {
        self.resumed_from
    }

    /// Writes the next bytes of the image (starting at [`Installer::offset`]).
    pub fn feed(&mut self, store: &mut dyn SlotStore, data: &[u8]) -> Result<(), UpdateError> {
        let end = self.pos + data.len() as u64;
        if end > self.header.image_len() {
            return Err(FirmwareError::Length {
                got: end,
                want: self.header.image_len(),
            }
            .into());
        }
        let hl = self.raw.len() as u64;
        // The header part must be the header that was checked.
        if self.pos < hl {
            let n = ((hl - self.pos) as usize).min(data.len());
            if data[..n] != self.raw[self.pos as usize..self.pos as usize + n] {
                return Err(FirmwareError::HeaderChanged.into());
            }
            self.verifier.update(&[])?;
            self.verifier.update(&data[n..])?;
        } else {
            self.verifier.update(data)?;
        }
        store.write(self.target, self.pos, data)?;
        self.pos = end;
        if self.checkpoint_every > 0
            && self.pos - self.last_checkpoint >= self.checkpoint_every
            && self.pos < self.header.image_len()
        {
            store.sync(self.target)?;
            let mut st = store.state()?;
            st.slot_mut(self.target).resume_offset = self.pos;
            store.commit_state(&st)?;
            self.last_checkpoint = self.pos;
        }
        Ok(())
    }

    /// Completes the update: verifies the slot as written and activates it (on trial).
    pub fn finish(mut self, store: &mut dyn SlotStore) -> Result<Header, UpdateError> {
        if self.pos != self.header.image_len() {
            return Err(FirmwareError::Length {
                got: self.pos,
                want: self.header.image_len(),
            }
            .into());
        }
        self.verifier.finish()?;
        store.sync(self.target)?;
        // Read back: what is on flash, not what was sent, is what will boot.
        let h = verify_slot(store, self.target, &self.keys, self.model)?;
        if h.digest() != self.header.digest() {
            return Err(FirmwareError::HeaderChanged.into());
        }
        let mut st = store.state()?;
        *st.slot_mut(self.target) = SlotInfo {
            state: SlotState::Installed,
            version: h.version.clone(),
            security_counter: h.security_counter,
            image_len: h.image_len(),
            resume_offset: 0,
            header_digest: h.digest(),
        };
        st.active = self.target;
        st.trial = true;
        st.boot_count = 0;
        store.commit_state(&st)?;
        Ok(h)
    }

    /// Gives up: the target slot is marked empty (nothing to resume).
    pub fn abort(self, store: &mut dyn SlotStore) -> Result<(), UpdateError> {
        let mut st = store.state()?;
        *st.slot_mut(self.target) = SlotInfo::empty();
        store.commit_state(&st)?;
        Ok(())
    }
}

/// Writes a complete image into `slot` and makes it the good, running slot (the factory
/// programming step, and the host tools' `slots init`).
pub fn install_factory(
    store: &mut dyn SlotStore,
    slot: Slot,
    image: &[u8],
    keys: &Keyring,
    model: Model,
) -> Result<Header, UpdateError> {
    let h = super::image::verify_image(image, keys)?;
    h.check_for(keys, model, 0)?;
    if h.image_len() > store.capacity() {
        return Err(UpdateError::TooBig {
            len: h.image_len(),
            capacity: store.capacity(),
        });
    }
    store.write(slot, 0, image)?;
    store.sync(slot)?;
    let st = BootState::initial(
        slot,
        SlotInfo {
            state: SlotState::Good,
            version: h.version.clone(),
            security_counter: h.security_counter,
            image_len: h.image_len(),
            resume_offset: 0,
            header_digest: h.digest(),
        },
    );
    store.commit_state(&st)?;
    Ok(h)
}
