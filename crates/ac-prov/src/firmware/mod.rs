//! Firmware: the signed image format, A/B slots, the streaming installer and the
//! bootloader's choice (issue 4: "firmware update that never bricks a phone").
//!
//! * [`image`]: the `.img` format (header with models, version, anti-rollback counter,
//!   sections with SHA-256, Ed25519 signature), builder and verifier.
//! * [`slots`]: the [`slots::SlotStore`] board trait, the boot state, [`slots::FileSlots`].
//! * [`install`]: [`install::Installer`], streaming verification, resume, activation.
//! * [`boot`]: [`boot::boot`], boot-count rollback and verified boot.

pub mod boot;
pub mod image;
pub mod install;
pub mod slots;

pub use image::{
    build, compare_versions, verify_image, BodyVerifier, BuildSpec, FirmwareError, Header, Keyring,
    MAX_HEADER_LEN, MAX_IMAGE,
};
pub use install::{install_factory, Installer, Policy, UpdateError};
pub use slots::{BootState, FileSlots, Slot, SlotState, SlotStore};
