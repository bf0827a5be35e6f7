//! Firmware updates that never brick: power cut at every written byte, rollback, refusals.
//!
//! The device is [`FileSlots`] (real files, fsync) with its fault injection: the power goes
//! off after N written bytes, tearing the write in progress, and the bytes written since the
//! last sync are either kept or lost. After each cut the test "reboots": it opens the files
//! afresh and runs the bootloader, which must boot a valid image (old or new), and then the
//! phone must still be able to finish the update.

use std::fs;
use std::path::Path;

use ac_cfg::Model;
use ac_prov::firmware::boot::{boot, verify_slot, BootError};
use ac_prov::firmware::slots::{SlotError, Unsynced};
use ac_prov::firmware::{
    build, install_factory, BuildSpec, FileSlots, FirmwareError, Installer, Keyring, Policy, Slot,
    SlotState, SlotStore, UpdateError,
};
use ed25519_dalek::SigningKey;

const CAP: u64 = 64 << 10;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn ring() -> Keyring {
    let mut r = Keyring::new();
    r.add(key().verifying_key());
    r
}

fn image(version: &str, counter: u32, models: &[Model], fill: u8) -> Vec<u8> {
    let kernel: Vec<u8> = (0..1500u32).map(|i| (i as u8) ^ fill).collect();
    let rootfs: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8 ^ fill).collect();
    build(
        &key(),
        &BuildSpec {
            version,
            models,
            security_counter: counter,
            build_time: 1_790_000_000,
            sections: &[("kernel", &kernel), ("rootfs", &rootfs)],
        },
    )
    .unwrap()
}

/// The loops fsync thousands of times: on tmpfs when there is one (the files are still
/// real files; only the medium's speed differs).
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(t) = tempfile::tempdir_in(shm) {
            return t;
        }
    }
    tempfile::tempdir().unwrap()
}

fn policy() -> Policy {
    Policy {
        model: Model::Hd420,
        allow_downgrade: false,
        checkpoint_every: 1024,
    }
}

/// A device running `old` in slot A.
fn factory(dir: &Path, old: &[u8]) {
    let _ = fs::remove_dir_all(dir);
    let mut s = FileSlots::open(dir, CAP).unwrap();
    install_factory(&mut s, Slot::A, old, &ring(), Model::Hd420).unwrap();
}

fn update(s: &mut FileSlots, img: &[u8], pol: &Policy) -> Result<Installer, UpdateError> {
    let mut inst = Installer::begin(s, &ring(), pol, img)?;
    let mut off = inst.offset() as usize;
    while off < img.len() {
        let end = (off + 700).min(img.len());
        inst.feed(s, &img[off..end])?;
        off = end;
    }
    Ok(inst)
}

fn slot_bytes(dir: &Path, slot: Slot, len: usize) -> Vec<u8> {
    let name = match slot {
        Slot::A => "slot-a.img",
        Slot::B => "slot-b.img",
    };
    let mut b = fs::read(dir.join(name)).unwrap();
    b.resize(len.max(b.len()), 0xff);
    b.truncate(len);
    b
}

#[test]
fn power_cut_at_every_written_byte_never_bricks() {
    let old = image("3.4.0", 1, &[Model::Hd420], 0x00);
    let new = image("3.4.6", 2, &[Model::Hd420, Model::Hd440], 0x5a);
    let tmp = scratch();
    let dir = tmp.path().join("dev");
    // The size of everything one complete update writes.
    factory(&dir, &old);
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    s.cut_power_after(u64::MAX, Unsynced::Kept);
    let inst = update(&mut s, &new, &policy()).unwrap();
    inst.finish(&mut s).unwrap();
    let total = s.bytes_written();
    assert!(total > new.len() as u64, "{total}");

    let mut bricks = 0;
    let mut booted_old = 0;
    let mut booted_new = 0;
    let mut resumed = 0;
    for mode in [Unsynced::Kept, Unsynced::Lost] {
        for cut in 0..=total {
            factory(&dir, &old);
            let mut s = FileSlots::open(&dir, CAP).unwrap();
            s.cut_power_after(cut, mode);
            let r = update(&mut s, &new, &policy()).and_then(|i| i.finish(&mut s));
            if cut < total {
                assert!(
                    matches!(r, Err(UpdateError::Slot(SlotError::PowerLoss))),
                    "cut {cut}: {r:?}"
                );
            } else {
                r.unwrap();
            }
            drop(s);
            // Reboot.
            let mut s = FileSlots::open(&dir, CAP).unwrap();
            let d = match boot(&mut s, &ring(), Model::Hd420) {
                Ok(d) => d,
                Err(e) => {
                    bricks += 1;
                    eprintln!("BRICK at cut {cut} ({mode:?}): {e}");
                    continue;
                }
            };
            let h = verify_slot(&mut s, d.slot, &ring(), Model::Hd420).unwrap();
            assert_eq!(h.version, d.version);
            match d.version.as_str() {
                "3.4.0" => {
                    booted_old += 1;
                    assert!(!d.trial);
                    // The phone retries the update, resuming where the last sync left it.
                    let inst = update(&mut s, &new, &policy()).unwrap();
                    if inst.resumed_from() > 0 {
                        resumed += 1;
                    }
                    inst.finish(&mut s).unwrap();
                    let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
                    assert_eq!((d.version.as_str(), d.trial), ("3.4.6", true));
                }
                "3.4.6" => {
                    booted_new += 1;
                    assert!(d.trial, "cut {cut}: a new image boots on trial");
                }
                v => panic!("booted {v}"),
            }
            // Up and registered: confirm.
            assert_eq!(s.mark_good().unwrap(), Some(Slot::B));
            let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
            assert_eq!(
                (d.slot, d.version.as_str(), d.trial),
                (Slot::B, "3.4.6", false)
            );
            assert_eq!(slot_bytes(&dir, Slot::B, new.len()), new, "cut {cut}");
            // The old image is still there as the fallback.
            assert_eq!(slot_bytes(&dir, Slot::A, old.len()), old, "cut {cut}");
        }
    }
    eprintln!(
        "{} power cuts over {total} bytes x 2 sync models: booted old {booted_old}, new {booted_new}, \
         resumed {resumed}, bricks {bricks}",
        2 * (total + 1)
    );
    assert_eq!(bricks, 0);
    assert!(booted_new > 0 && booted_old > 0);
    assert!(
        resumed > 100,
        "resume from checkpoints exercised: {resumed}"
    );
}

#[test]
fn power_cut_during_boot_count_and_confirmation() {
    let old = image("3.4.0", 1, &[Model::Hd420], 0x00);
    let new = image("3.4.6", 2, &[Model::Hd420], 0x5a);
    let tmp = scratch();
    let dir = tmp.path().join("dev");
    for mode in [Unsynced::Kept, Unsynced::Lost] {
        for cut in 0..=600u64 {
            factory(&dir, &old);
            let mut s = FileSlots::open(&dir, CAP).unwrap();
            update(&mut s, &new, &policy())
                .unwrap()
                .finish(&mut s)
                .unwrap();
            drop(s);
            // First boot of the new image (boot count commit), then confirmation, cut anywhere.
            let mut s = FileSlots::open(&dir, CAP).unwrap();
            s.cut_power_after(cut, mode);
            let _ = boot(&mut s, &ring(), Model::Hd420).map(|_| s.mark_good());
            drop(s);
            let mut s = FileSlots::open(&dir, CAP).unwrap();
            let d =
                boot(&mut s, &ring(), Model::Hd420).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert_eq!(d.version, "3.4.6", "cut {cut}");
            verify_slot(&mut s, d.slot, &ring(), Model::Hd420).unwrap();
        }
    }
}

#[test]
fn unconfirmed_image_rolls_back_after_max_tries() {
    let old = image("3.4.0", 1, &[Model::Hd420], 0x00);
    let new = image("3.4.6", 2, &[Model::Hd420], 0x5a);
    let tmp = scratch();
    let dir = tmp.path().join("dev");
    factory(&dir, &old);
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    update(&mut s, &new, &policy())
        .unwrap()
        .finish(&mut s)
        .unwrap();
    // A second update is refused while the first is unconfirmed (its fallback is kept).
    let newer = image("3.4.7", 2, &[Model::Hd420], 0x33);
    assert!(matches!(
        Installer::begin(&mut s, &ring(), &policy(), &newer),
        Err(UpdateError::Unconfirmed(_))
    ));
    // The new image crashes before it registers, three times.
    for n in 1..=3u8 {
        let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
        assert_eq!((d.version.as_str(), d.trial), ("3.4.6", true));
        assert_eq!(s.boot_count().unwrap(), n);
    }
    let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
    assert_eq!(
        (d.slot, d.version.as_str(), d.rolled_back, d.trial),
        (Slot::A, "3.4.0", true, false)
    );
    let st = s.state().unwrap();
    assert_eq!(st.slot(Slot::B).state, SlotState::Bad);
    assert_eq!(
        st.min_counter, 1,
        "an unconfirmed image does not raise the floor"
    );
    // And the phone can update again afterwards.
    update(&mut s, &newer, &policy())
        .unwrap()
        .finish(&mut s)
        .unwrap();
    assert_eq!(
        boot(&mut s, &ring(), Model::Hd420).unwrap().version,
        "3.4.7"
    );
    assert_eq!(s.mark_good().unwrap(), Some(Slot::B));
    assert_eq!(s.state().unwrap().min_counter, 2);
}

#[test]
fn corrupted_slots_fall_back_or_enter_recovery() {
    let old = image("3.4.0", 1, &[Model::Hd420], 0x00);
    let new = image("3.4.6", 2, &[Model::Hd420], 0x5a);
    let tmp = scratch();
    let dir = tmp.path().join("dev");
    factory(&dir, &old);
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    update(&mut s, &new, &policy())
        .unwrap()
        .finish(&mut s)
        .unwrap();
    s.mark_good().unwrap();
    drop(s);
    // A bit flips in the running slot's root file system: verified boot refuses it.
    let mut b = fs::read(dir.join("slot-b.img")).unwrap();
    b[4000] ^= 1;
    fs::write(dir.join("slot-b.img"), &b).unwrap();
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
    assert_eq!(
        (d.slot, d.version.as_str(), d.fell_back),
        (Slot::A, "3.4.0", true)
    );
    drop(s);
    // Both damaged: recovery mode.
    let mut a = fs::read(dir.join("slot-a.img")).unwrap();
    a[10] ^= 1;
    fs::write(dir.join("slot-a.img"), &a).unwrap();
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    match boot(&mut s, &ring(), Model::Hd420) {
        Err(BootError::NoValidImage { a, b }) => {
            assert!(matches!(a, Some(FirmwareError::Signature)), "{a:?}");
            assert!(
                matches!(b, Some(FirmwareError::SectionDigest { .. })),
                "{b:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A blank boot state (erased environment) finds a valid slot by itself.
    fs::write(dir.join("slot-a.img"), &old).unwrap();
    fs::write(dir.join("bootstate"), []).unwrap();
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
    assert_eq!((d.slot, d.version.as_str()), (Slot::A, "3.4.0"));
}

#[test]
fn bad_updates_are_refused_and_the_running_slot_is_untouched() {
    let old = image("3.4.0", 3, &[Model::Hd420], 0x00);
    let tmp = scratch();
    let dir = tmp.path().join("dev");
    let new = image("3.4.6", 3, &[Model::Hd420], 0x5a);
    let hl = ac_prov::firmware::Header::parse(&new).unwrap().len();

    let mut tampered_header = new.clone();
    tampered_header[12] ^= 1; // inside the version string
    let mut tampered_section = new.clone();
    tampered_section[hl + 1600] ^= 0x40; // inside rootfs
    let other_key = build(
        &SigningKey::from_bytes(&[7; 32]),
        &BuildSpec {
            version: "3.4.6",
            models: &[Model::Hd420],
            security_counter: 3,
            build_time: 0,
            sections: &[("rootfs", b"evil")],
        },
    )
    .unwrap();
    let mut truncated = new.clone();
    truncated.truncate(new.len() - 1);

    type Check = fn(&UpdateError) -> bool;
    let cases: Vec<(&str, Vec<u8>, Policy, Check)> = vec![
        ("tampered header", tampered_header, policy(), |e| {
            matches!(e, UpdateError::Image(FirmwareError::Signature))
        }),
        (
            "tampered section",
            tampered_section,
            policy(),
            |e| matches!(e, UpdateError::Image(FirmwareError::SectionDigest { name }) if name == "rootfs"),
        ),
        ("untrusted key", other_key, policy(), |e| {
            matches!(e, UpdateError::Image(FirmwareError::UnknownKey(_)))
        }),
        (
            "wrong model",
            image("3.4.6", 3, &[Model::Hd450], 1),
            policy(),
            |e| {
                matches!(
                    e,
                    UpdateError::Image(FirmwareError::WrongModel(Model::Hd420))
                )
            },
        ),
        (
            "downgrade",
            image("3.2.1", 3, &[Model::Hd420], 1),
            policy(),
            |e| matches!(e, UpdateError::Image(FirmwareError::Downgrade { .. })),
        ),
        (
            "rollback below the security counter, downgrades allowed",
            image("3.2.1", 2, &[Model::Hd420], 1),
            Policy {
                allow_downgrade: true,
                ..policy()
            },
            |e| {
                matches!(
                    e,
                    UpdateError::Image(FirmwareError::Rollback {
                        counter: 2,
                        minimum: 3
                    })
                )
            },
        ),
        ("same image", old.clone(), policy(), |e| {
            matches!(e, UpdateError::AlreadyRunning(_))
        }),
        ("truncated", truncated, policy(), |e| {
            matches!(e, UpdateError::Image(FirmwareError::Length { .. }))
        }),
    ];
    for (name, img, pol, check) in cases {
        factory(&dir, &old);
        let before_a = fs::read(dir.join("slot-a.img")).unwrap();
        let mut s = FileSlots::open(&dir, CAP).unwrap();
        let r = update(&mut s, &img, &pol).and_then(|i| i.finish(&mut s));
        let e = r.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(check(&e), "{name}: {e:?}");
        assert!(!e.to_string().is_empty());
        eprintln!("{name}: {e}");
        assert_eq!(
            fs::read(dir.join("slot-a.img")).unwrap(),
            before_a,
            "{name}"
        );
        let d = boot(&mut s, &ring(), Model::Hd420).unwrap();
        assert_eq!(
            (d.slot, d.version.as_str(), d.trial),
            (Slot::A, "3.4.0", false),
            "{name}"
        );
    }
    // An allowed downgrade at the same security counter installs.
    factory(&dir, &old);
    let mut s = FileSlots::open(&dir, CAP).unwrap();
    let pol = Policy {
        allow_downgrade: true,
        ..policy()
    };
    update(&mut s, &image("3.2.1", 3, &[Model::Hd420], 1), &pol)
        .unwrap()
        .finish(&mut s)
        .unwrap();
    assert_eq!(
        boot(&mut s, &ring(), Model::Hd420).unwrap().version,
        "3.2.1"
    );
}
