//! A/B firmware slots and the boot state, behind a small board trait.
//!
//! A phone has two firmware slots. One runs; updates are written to the other and activated
//! only after they verify, by one atomic change of the boot state. The boot state records
//! which slot is active, whether it is on trial (booted but not yet confirmed by
//! [`SlotStore::mark_good`] after a successful boot and registration), how many trial boots
//! it has had, and what each slot holds.
//!
//! [`SlotStore`] is what a board implements: raw reads and writes of the slots, a sync, and
//! an atomic load / commit of the boot state (on flash: two redundant copies with a sequence
//! number and a digest, as U-Boot's redundant environment; the newest valid copy wins).
//! [`FileSlots`] implements it on files for hosts and tests, with fault injection that cuts
//! power after any number of written bytes.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Slot::A => 0,
            Slot::B => 1,
        }
    }

    fn from_index(i: u8) -> Option<Slot> {
        match i {
            0 => Some(Slot::A),
            1 => Some(Slot::B),
            _ => None,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Slot::A => "A",
            Slot::B => "B",
        })
    }
}

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Empty = 0,
    /// An update is being written (resumable from `resume_offset`).
    Writing = 1,
    /// Written and verified; activated, waiting for its first confirmed boot.
    Installed = 2,
    /// Booted and confirmed.
    Good = 3,
    /// Failed its trial boots, or did not verify.
    Bad = 4,
}

impl SlotState {
    fn from_u8(b: u8) -> Option<SlotState> {
        Some(match b {
            0 => SlotState::Empty,
            1 => SlotState::Writing,
            2 => SlotState::Installed,
            3 => SlotState::Good,
            4 => SlotState::Bad,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub state: SlotState,
    pub version: String,
    pub security_counter: u32,
    pub image_len: u64,
    /// Image bytes known to be on flash (synced) while `Writing`.
    pub resume_offset: u64,
    /// SHA-256 of the image's header and signature ([`super::image::Header::digest`]).
    pub header_digest: [u8; 32],
}

impl SlotInfo {
    pub fn empty() -> SlotInfo {
        SlotInfo {
            state: SlotState::Empty,
            version: String::new(),
            security_counter: 0,
            image_len: 0,
            resume_offset: 0,
            header_digest: [0; 32],
        }
    }
}

/// Trial boots allowed before the bootloader falls back to the other slot.
pub const DEFAULT_MAX_TRIES: u8 = 3;

/// The boot state (one record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootState {
    /// Incremented by every commit; the newest valid copy wins.
    pub seq: u64,
    pub active: Slot,
    /// The active slot is on trial: it becomes good only through `mark_good`.
    pub trial: bool,
    pub boot_count: u8,
    pub max_tries: u8,
    /// Anti-rollback floor: the highest security counter of any confirmed image.
    pub min_counter: u32,
    pub slots: [SlotInfo; 2],
}

pub const RECORD_LEN: usize = 256;
const RECORD_MAGIC: &[u8; 4] = b"ACBE";
const SLOT_INFO_LEN: usize = 88;
const DIGEST_AT: usize = RECORD_LEN - 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("boot state record too short")]
    Short,
    #[error("no boot state magic")]
    Magic,
    #[error("boot state record digest mismatch (torn or corrupted write)")]
    Digest,
    #[error("boot state field {0} out of range")]
    Field(&'static str),
}

impl BootState {
    /// The state of a phone whose running image is in `active` (factory / first update).
    pub fn initial(active: Slot, info: SlotInfo) -> BootState {
        let mut slots = [SlotInfo::empty(), SlotInfo::empty()];
        let min_counter = info.security_counter;
        slots[active.index()] = info;
        BootState {
            seq: 0,
            active,
            trial: false,
            boot_count: 0,
            max_tries: DEFAULT_MAX_TRIES,
            min_counter,
            slots,
        }
    }

    pub fn slot(&self, s: Slot) -> &SlotInfo {
        &self.slots[s.index()]
    }

    pub fn slot_mut(&mut self, s: Slot) -> &mut SlotInfo {
        &mut self.slots[s.index()]
    }

    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[..4].copy_from_slice(RECORD_MAGIC);
        r[4] = 1;
        r[5] = self.active.index() as u8;
        r[6] = self.trial as u8;
        r[7] = self.boot_count;
        r[8] = self.max_tries;
        r[12..16].copy_from_slice(&self.min_counter.to_be_bytes());
        r[16..24].copy_from_slice(&self.seq.to_be_bytes());
        for (i, s) in self.slots.iter().enumerate() {
            let o = 24 + i * SLOT_INFO_LEN;
            r[o] = s.state as u8;
            r[o + 4..o + 8].copy_from_slice(&s.security_counter.to_be_bytes());
            r[o + 8..o + 16].copy_from_slice(&s.image_len.to_be_bytes());
            r[o + 16..o + 24].copy_from_slice(&s.resume_offset.to_be_bytes());
            r[o + 24..o + 56].copy_from_slice(&s.header_digest);
            let v = s.version.as_bytes();
            let n = v.len().min(32);
            r[o + 56..o + 56 + n].copy_from_slice(&v[..n]);
        }
        let d = Sha256::digest(&r[..DIGEST_AT]);
        r[DIGEST_AT..].copy_from_slice(&d);
        r
    }

    pub fn decode(b: &[u8]) -> Result<BootState, RecordError> {
        let r = b.get(..RECORD_LEN).ok_or(RecordError::Short)?;
        if &r[..4] != RECORD_MAGIC {
            return Err(RecordError::Magic);
        }
        if Sha256::digest(&r[..DIGEST_AT])[..] != r[DIGEST_AT..] {
            return Err(RecordError::Digest);
        }
        if r[4] != 1 {
            return Err(RecordError::Field("format"));
        }
        let active = Slot::from_index(r[5]).ok_or(RecordError::Field("active"))?;
        if r[6] > 1 {
            return Err(RecordError::Field("trial"));
        }
        if r[9..12].iter().chain(&r[200..DIGEST_AT]).any(|&c| c != 0) {
            return Err(RecordError::Field("reserved"));
        }
        let u32at = |o: usize| u32::from_be_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
        let u64at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&r[o..o + 8]);
            u64::from_be_bytes(a)
        };
        let mut slots = [SlotInfo::empty(), SlotInfo::empty()];
        for (i, s) in slots.iter_mut().enumerate() {
            let o = 24 + i * SLOT_INFO_LEN;
            s.state = SlotState::from_u8(r[o]).ok_or(RecordError::Field("slot state"))?;
            if r[o + 1..o + 4].iter().any(|&c| c != 0) {
                return Err(RecordError::Field("reserved"));
            }
            s.security_counter = u32at(o + 4);
            s.image_len = u64at(o + 8);
            s.resume_offset = u64at(o + 16);
            s.header_digest.copy_from_slice(&r[o + 24..o + 56]);
            let v = &r[o + 56..o + 88];
            let n = v.iter().position(|&c| c == 0).unwrap_or(32);
            if !v[..n].iter().all(|c| c.is_ascii_graphic()) || v[n..].iter().any(|&c| c != 0) {
                return Err(RecordError::Field("version"));
            }
            s.version = String::from_utf8_lossy(&v[..n]).into_owned();
        }
        Ok(BootState {
            seq: u64at(16),
            active,
            trial: r[6] == 1,
            boot_count: r[7],
            max_tries: r[8],
            min_counter: u32at(12),
            slots,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("slot storage: {0}")]
    Io(#[from] io::Error),
    #[error("write of {len} bytes at {offset} is beyond the slot's {capacity} bytes")]
    Capacity {
        offset: u64,
        len: u64,
        capacity: u64,
    },
    /// Fault injection: the simulated power went off.
    #[error("power lost")]
    PowerLoss,
    #[error("no boot state on this device")]
    NoState,
}

/// What a board provides for A/B updates.
pub trait SlotStore {
    /// Bytes one slot can hold.
    fn capacity(&self) -> u64;
    fn read(&mut self, slot: Slot, offset: u64, buf: &mut [u8]) -> Result<(), SlotError>;
    fn write(&mut self, slot: Slot, offset: u64, data: &[u8]) -> Result<(), SlotError>;
    /// Makes the slot's written bytes durable.
    fn sync(&mut self, slot: Slot) -> Result<(), SlotError>;
    /// The newest completely committed boot state, `None` on a blank device.
    fn load_state(&mut self) -> Result<Option<BootState>, SlotError>;
    /// Atomically replaces the boot state (with `seq` one above the current): after a
    /// power cut, the old or the new state loads, never a mix.
    fn commit_state(&mut self, s: &BootState) -> Result<(), SlotError>;

    /// The boot state, or [`SlotError::NoState`].
    fn state(&mut self) -> Result<BootState, SlotError> {
        self.load_state()?.ok_or(SlotError::NoState)
    }

    /// Makes `slot` the one to boot next, on trial (boot count reset).
    fn mark_active(&mut self, slot: Slot) -> Result<(), SlotError> {
        let mut s = self.state()?;
        s.active = slot;
        s.trial = true;
        s.boot_count = 0;
        self.commit_state(&s)
    }

    /// Confirms the running slot after a successful boot and registration: ends its trial,
    /// marks it good and raises the anti-rollback floor to its security counter. Returns
    /// the slot confirmed, `None` if there was nothing on trial.
    fn mark_good(&mut self) -> Result<Option<Slot>, SlotError> {
        let mut s = self.state()?;
        if !s.trial && s.slot(s.active).state == SlotState::Good {
            return Ok(None);
        }
        let a = s.active;
        s.trial = false;
        s.boot_count = 0;
        s.slot_mut(a).state = SlotState::Good;
        s.min_counter = s.min_counter.max(s.slot(a).security_counter);
        self.commit_state(&s)?;
        Ok(Some(a))
    }

    /// Trial boots of the active slot so far.
    fn boot_count(&mut self) -> Result<u8, SlotError> {
        Ok(self.state()?.boot_count)
    }
}

/// How [`FileSlots`] models a power cut for the bytes written since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsynced {
    /// They reached the medium (a write-through flash controller).
    Kept,
    /// They are lost (a write-back cache that was never flushed).
    Lost,
}

#[derive(Debug)]
struct Fault {
    initial: u64,
    budget: u64,
    mode: Unsynced,
    /// Writes not yet synced (file index 0/1 = slots, 2 = boot state), in order.
    pending: Vec<(usize, u64, Vec<u8>)>,
    dead: bool,
}

/// File-backed slots: `slot-a.img`, `slot-b.img` and `bootstate` (two redundant records) in
/// one directory.
#[derive(Debug)]
pub struct FileSlots {
    dir: PathBuf,
    files: [File; 3],
    capacity: u64,
    fault: Option<Fault>,
}

const STATE_FILE: usize = 2;

impl FileSlots {
    /// Opens (creating if needed) the slots in `dir`.
    pub fn open(dir: &Path, capacity: u64) -> Result<FileSlots, SlotError> {
        fs::create_dir_all(dir)?;
        let open = |n: &str| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(n))
        };
        Ok(FileSlots {
            dir: dir.to_path_buf(),
            files: [open("slot-a.img")?, open("slot-b.img")?, open("bootstate")?],
            capacity,
            fault: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fault injection (tests): the power goes off once `bytes` more bytes have been
    /// written; the write in progress is torn at that byte, what was not synced is kept or
    /// lost as `mode` says, and every later call fails with [`SlotError::PowerLoss`].
    pub fn cut_power_after(&mut self, bytes: u64, mode: Unsynced) {
        self.fault = Some(Fault {
            initial: bytes,
            budget: bytes,
            mode,
            pending: Vec::new(),
            dead: false,
        });
    }

    /// Bytes written since fault injection was armed (with a budget of `u64::MAX`: the
    /// size of everything a sequence of operations writes).
    pub fn bytes_written(&self) -> u64 {
        self.fault.as_ref().map_or(0, |f| f.initial - f.budget)
    }

    /// Whether the injected power cut happened.
    pub fn power_lost(&self) -> bool {
        self.fault.as_ref().is_some_and(|f| f.dead)
    }

    fn raw_write(&mut self, file: usize, offset: u64, data: &[u8]) -> Result<(), SlotError> {
        let Some(f) = self.fault.as_mut() else {
            self.files[file].write_all_at(data, offset)?;
            return Ok(());
        };
        if f.dead {
            return Err(SlotError::PowerLoss);
        }
        let n = (f.budget.min(data.len() as u64)) as usize;
        f.budget -= n as u64;
        f.pending.push((file, offset, data[..n].to_vec()));
        if n < data.len() {
            // The cut: keep or drop what was never synced, then stay dead.
            f.dead = true;
            let pending = std::mem::take(&mut f.pending);
            if f.mode == Unsynced::Kept {
                for (fi, o, d) in pending {
                    self.files[fi].write_all_at(&d, o)?;
                }
            }
            return Err(SlotError::PowerLoss);
        }
        Ok(())
    }

    fn raw_sync(&mut self, file: usize) -> Result<(), SlotError> {
        if let Some(f) = self.fault.as_mut() {
            if f.dead {
                return Err(SlotError::PowerLoss);
            }
            let mut rest = Vec::new();
            for (fi, o, d) in std::mem::take(&mut f.pending) {
                if fi == file {
                    self.files[fi].write_all_at(&d, o)?;
                } else {
                    rest.push((fi, o, d));
                }
            }
            if let Some(f) = self.fault.as_mut() {
                f.pending = rest;
            }
        }
        self.files[file].sync_data()?;
        Ok(())
    }

    fn raw_read(&mut self, file: usize, offset: u64, buf: &mut [u8]) -> Result<(), SlotError> {
        if self.fault.as_ref().is_some_and(|f| f.dead) {
            return Err(SlotError::PowerLoss);
        }
        // Beyond the end of the file reads as erased flash (0xFF).
        buf.fill(0xff);
        let mut done = 0;
        while done < buf.len() {
            match self.files[file].read_at(&mut buf[done..], offset + done as u64)? {
                0 => break,
                n => done += n,
            }
        }
        // Reads see this process's own unsynced writes.
        if let Some(f) = &self.fault {
            for (fi, o, d) in &f.pending {
                if *fi != file {
                    continue;
                }
                let (s, e) = (*o, *o + d.len() as u64);
                let (bs, be) = (offset, offset + buf.len() as u64);
                let (lo, hi) = (s.max(bs), e.min(be));
                if lo < hi {
                    buf[(lo - bs) as usize..(hi - bs) as usize]
                        .copy_from_slice(&d[(lo - s) as usize..(hi - s) as usize]);
                }
            }
        }
        Ok(())
    }

    fn read_records(&mut self) -> Result<[Option<BootState>; 2], SlotError> {
        let mut b = [0u8; 2 * RECORD_LEN];
        self.raw_read(STATE_FILE, 0, &mut b)?;
        Ok([
            BootState::decode(&b[..RECORD_LEN]).ok(),
            BootState::decode(&b[RECORD_LEN..]).ok(),
        ])
    }
}

impl SlotStore for FileSlots {
    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn read(&mut self, slot: Slot, offset: u64, buf: &mut [u8]) -> Result<(), SlotError> {
        if offset.saturating_add(buf.len() as u64) > self.capacity {
            return Err(SlotError::Capacity {
                offset,
                len: buf.len() as u64,
                capacity: self.capacity,
            });
        }
        self.raw_read(slot.index(), offset, buf)
    }

    fn write(&mut self, slot: Slot, offset: u64, data: &[u8]) -> Result<(), SlotError> {
        if offset.saturating_add(data.len() as u64) > self.capacity {
            return Err(SlotError::Capacity {
                offset,
                len: data.len() as u64,
                capacity: self.capacity,
            });
        }
        self.raw_write(slot.index(), offset, data)
    }

    fn sync(&mut self, slot: Slot) -> Result<(), SlotError> {
        self.raw_sync(slot.index())
    }

    fn load_state(&mut self) -> Result<Option<BootState>, SlotError> {
        let [a, b] = self.read_records()?;
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(if b.seq > a.seq { b } else { a }),
            (a, b) => a.or(b),
        })
    }

    fn commit_state(&mut self, s: &BootState) -> Result<(), SlotError> {
        // Write over the older copy (or an invalid one), so the newer stays intact until
        // the new record is complete and synced.
        let [a, b] = self.read_records()?;
        let newest = [&a, &b]
            .iter()
            .filter_map(|r| r.as_ref().map(|r| r.seq))
            .max();
        let mut rec = s.clone();
        rec.seq = newest.map_or(1, |n| n + 1);
        let target = match (&a, &b) {
            (None, _) => 0,
            (_, None) => 1,
            (Some(a), Some(b)) => usize::from(a.seq > b.seq),
        };
        self.raw_write(STATE_FILE, (target * RECORD_LEN) as u64, &rec.encode())?;
        self.raw_sync(STATE_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(v: &str) -> SlotInfo {
        SlotInfo {
            state: SlotState::Good,
            version: v.into(),
            security_counter: 1,
            image_len: 1000,
            resume_offset: 0,
            header_digest: [5; 32],
        }
    }

    #[test]
    fn record_round_trip_and_corruption() {
        let s = BootState::initial(Slot::B, info("3.4.6"));
        let r = s.encode();
        assert_eq!(BootState::decode(&r).unwrap(), s);
        for i in 0..RECORD_LEN {
            let mut bad = r;
            bad[i] ^= 4;
            assert!(BootState::decode(&bad).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn commits_alternate_and_the_newest_wins() {
        let d = tempfile::tempdir().unwrap();
        let mut f = FileSlots::open(d.path(), 4096).unwrap();
        assert_eq!(f.load_state().unwrap(), None);
        let mut s = BootState::initial(Slot::A, info("1"));
        f.commit_state(&s).unwrap();
        s.slot_mut(Slot::B).version = "2".into();
        f.commit_state(&s).unwrap();
        let got = f.load_state().unwrap().unwrap();
        assert_eq!(got.seq, 2);
        assert_eq!(got.slot(Slot::B).version, "2");
        f.mark_active(Slot::B).unwrap();
        assert_eq!(f.boot_count().unwrap(), 0);
        assert_eq!(f.mark_good().unwrap(), Some(Slot::B));
        assert_eq!(f.mark_good().unwrap(), None);
        let got = FileSlots::open(d.path(), 4096)
            .unwrap()
            .load_state()
            .unwrap()
            .unwrap();
        assert_eq!((got.seq, got.active, got.trial), (4, Slot::B, false));
    }

    #[test]
    fn a_torn_commit_leaves_the_previous_state() {
        let mut new = 0;
        for mode in [Unsynced::Kept, Unsynced::Lost] {
            for cut in 0..RECORD_LEN as u64 {
                let d = tempfile::tempdir().unwrap();
                let mut f = FileSlots::open(d.path(), 4096).unwrap();
                let s1 = BootState::initial(Slot::A, info("1"));
                f.commit_state(&s1).unwrap();
                let mut s2 = s1.clone();
                s2.active = Slot::B;
                f.commit_state(&s2).unwrap();
                let mut s3 = s2.clone();
                s3.trial = true;
                f.cut_power_after(cut, mode);
                assert!(matches!(f.commit_state(&s3), Err(SlotError::PowerLoss)));
                let got = FileSlots::open(d.path(), 4096)
                    .unwrap()
                    .load_state()
                    .unwrap()
                    .unwrap();
                // Old or new, never a mix. (A cut in the last bytes can leave the complete
                // new record when the old bytes there happen to equal the new ones.)
                match got.seq {
                    2 => assert_eq!((got.active, got.trial), (Slot::B, false)),
                    3 => {
                        assert_eq!((got.active, got.trial), (Slot::B, true));
                        new += 1;
                    }
                    n => panic!("seq {n}"),
                }
            }
        }
        assert!(new <= 4, "{new} torn commits loaded as new");
    }

    #[test]
    fn unsynced_writes_are_lost_or_kept_as_asked() {
        for (mode, want) in [(Unsynced::Kept, 7u8), (Unsynced::Lost, 0xff)] {
            let d = tempfile::tempdir().unwrap();
            let mut f = FileSlots::open(d.path(), 4096).unwrap();
            f.cut_power_after(10, mode);
            f.write(Slot::A, 0, &[7; 8]).unwrap();
            let mut b = [0u8; 8];
            f.read(Slot::A, 0, &mut b).unwrap();
            assert_eq!(b, [7; 8], "reads see own writes");
            assert!(f.write(Slot::A, 8, &[7; 8]).is_err());
            assert!(f.power_lost());
            let mut g = FileSlots::open(d.path(), 4096).unwrap();
            g.read(Slot::A, 0, &mut b).unwrap();
            assert_eq!(b, [want; 8]);
        }
    }
}
