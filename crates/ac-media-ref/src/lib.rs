//! Safe wrappers over a small C harness around the reference C implementations that
//! ac-media is checked and benchmarked against: libsrtp2 (SRTP interop), spandsp (G.711,
//! G.722, supervisory tone detection), speexdsp (jitter buffer, echo canceller and
//! preprocessor); and G.168-style test signals ([`g168`]). Test and bench support only;
//! nothing here ships in the phone.

pub mod g168;

use std::ffi::{c_int, c_void};

extern "C" {
    fn ref_srtp_new(
        out: *mut *mut c_void,
        tag80: c_int,
        key_salt30: *const u8,
        outbound: c_int,
    ) -> c_int;
    fn ref_srtp_free(s: *mut c_void);
    fn ref_srtp_protect(s: *mut c_void, buf: *mut u8, len: *mut c_int) -> c_int;
    fn ref_srtp_unprotect(s: *mut c_void, buf: *mut u8, len: *mut c_int) -> c_int;
    fn ref_srtcp_protect(s: *mut c_void, buf: *mut u8, len: *mut c_int) -> c_int;
    fn ref_srtcp_unprotect(s: *mut c_void, buf: *mut u8, len: *mut c_int) -> c_int;
    fn ref_alaw_encode(pcm: *const i16, out: *mut u8, n: c_int);
    fn ref_alaw_decode(codes: *const u8, out: *mut i16, n: c_int);
    fn ref_ulaw_encode(pcm: *const i16, out: *mut u8, n: c_int);
    fn ref_ulaw_decode(codes: *const u8, out: *mut i16, n: c_int);
    fn ref_g722_encoder_new() -> *mut c_void;
    fn ref_g722_encoder_free(s: *mut c_void);
    fn ref_g722_encode(s: *mut c_void, pcm: *const i16, n: c_int, out: *mut u8) -> c_int;
    fn ref_g722_decoder_new(rate: c_int) -> *mut c_void;
    fn ref_g722_decoder_free(s: *mut c_void);
    fn ref_g722_decode(s: *mut c_void, codes: *const u8, n: c_int, out: *mut i16) -> c_int;
}

/// Room libsrtp2 may append (tag + MKI + SRTCP index).
const TRAILER: usize = 16 + 128 + 4;

/// A libsrtp2 session (one direction), AES_CM_128_HMAC_SHA1_80 or _32 for SRTP;
/// SRTCP always uses the 80-bit tag.
pub struct LibSrtp {
    s: *mut c_void,
}

// SAFETY: the libsrtp2 session is only used through &mut self.
unsafe impl Send for LibSrtp {}

impl LibSrtp {
    /// Creates a session with a 30-byte master key||salt.
    pub fn new(tag80: bool, key_salt: &[u8; 30], outbound: bool) -> Result<Self, i32> {
        let mut s = std::ptr::null_mut();
        // SAFETY: key_salt is 30 readable bytes; libsrtp copies the key.
        let r = unsafe {
            ref_srtp_new(
                &mut s,
                c_int::from(tag80),
                key_salt.as_ptr(),
                c_int::from(outbound),
            )
        };
        if r != 0 || s.is_null() {
            return Err(r);
        }
        Ok(LibSrtp { s })
    }

    fn call(
        &mut self,
        f: unsafe extern "C" fn(*mut c_void, *mut u8, *mut c_int) -> c_int,
        pkt: &[u8],
    ) -> Result<Vec<u8>, i32> {
        let mut buf = Vec::with_capacity(pkt.len() + TRAILER);
        buf.extend_from_slice(pkt);
        buf.resize(pkt.len() + TRAILER, 0);
        let mut len = c_int::try_from(pkt.len()).map_err(|_| -1)?;
        // SAFETY: buf has len + TRAILER writable bytes, as libsrtp2 requires.
        let r = unsafe { f(self.s, buf.as_mut_ptr(), &mut len) };
        if r != 0 {
            return Err(r);
        }
        buf.truncate(usize::try_from(len).map_err(|_| -1)?);
        Ok(buf)
    }

    /// srtp_protect.
    pub fn protect(&mut self, pkt: &[u8]) -> Result<Vec<u8>, i32> {
        self.call(ref_srtp_protect, pkt)
    }
    /// srtp_unprotect.
    pub fn unprotect(&mut self, pkt: &[u8]) -> Result<Vec<u8>, i32> {
        self.call(ref_srtp_unprotect, pkt)
    }
    /// srtp_protect_rtcp.
    pub fn protect_rtcp(&mut self, pkt: &[u8]) -> Result<Vec<u8>, i32> {
        self.call(ref_srtcp_protect, pkt)
    }
    /// srtp_unprotect_rtcp.
    pub fn unprotect_rtcp(&mut self, pkt: &[u8]) -> Result<Vec<u8>, i32> {
        self.call(ref_srtcp_unprotect, pkt)
    }
    /// Protects in place in a caller-provided buffer of at least `len + 148` bytes; returns
    /// the new length (for benches without allocation).
    pub fn protect_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, i32> {
        assert!(buf.len() >= len + TRAILER);
        let mut l = c_int::try_from(len).map_err(|_| -1)?;
        // SAFETY: buf has len + TRAILER writable bytes.
        let r = unsafe { ref_srtp_protect(self.s, buf.as_mut_ptr(), &mut l) };
        if r != 0 {
            return Err(r);
        }
        usize::try_from(l).map_err(|_| -1)
    }
    /// Unprotects in place; returns the new length.
    pub fn unprotect_in_place(&mut self, buf: &mut [u8], len: usize) -> Result<usize, i32> {
        assert!(buf.len() >= len);
        let mut l = c_int::try_from(len).map_err(|_| -1)?;
        // SAFETY: unprotect only shrinks the packet.
        let r = unsafe { ref_srtp_unprotect(self.s, buf.as_mut_ptr(), &mut l) };
        if r != 0 {
            return Err(r);
        }
        usize::try_from(l).map_err(|_| -1)
    }
}

impl Drop for LibSrtp {
    fn drop(&mut self) {
        // SAFETY: s came from srtp_create and is freed once.
        unsafe { ref_srtp_free(self.s) }
    }
}

fn n(len: usize) -> c_int {
    c_int::try_from(len).expect("frame length fits a C int")
}

/// spandsp `linear_to_alaw` over a frame.
pub fn spandsp_alaw_encode(pcm: &[i16], out: &mut [u8]) {
    assert_eq!(pcm.len(), out.len());
    // SAFETY: both slices hold pcm.len() elements.
    unsafe { ref_alaw_encode(pcm.as_ptr(), out.as_mut_ptr(), n(pcm.len())) }
}
/// spandsp `alaw_to_linear` over a frame.
pub fn spandsp_alaw_decode(codes: &[u8], out: &mut [i16]) {
    assert_eq!(codes.len(), out.len());
    // SAFETY: both slices hold codes.len() elements.
    unsafe { ref_alaw_decode(codes.as_ptr(), out.as_mut_ptr(), n(codes.len())) }
}
/// spandsp `linear_to_ulaw` over a frame.
pub fn spandsp_ulaw_encode(pcm: &[i16], out: &mut [u8]) {
    assert_eq!(pcm.len(), out.len());
    // SAFETY: both slices hold pcm.len() elements.
    unsafe { ref_ulaw_encode(pcm.as_ptr(), out.as_mut_ptr(), n(pcm.len())) }
}
/// spandsp `ulaw_to_linear` over a frame.
pub fn spandsp_ulaw_decode(codes: &[u8], out: &mut [i16]) {
    assert_eq!(codes.len(), out.len());
    // SAFETY: both slices hold codes.len() elements.
    unsafe { ref_ulaw_decode(codes.as_ptr(), out.as_mut_ptr(), n(codes.len())) }
}

/// spandsp's G.722 encoder at 64 kbit/s.
pub struct SpandspG722Encoder(*mut c_void);
// SAFETY: used through &mut self only.
unsafe impl Send for SpandspG722Encoder {}

impl Default for SpandspG722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SpandspG722Encoder {
    /// g722_encode_init(NULL, 64000, 0).
    pub fn new() -> Self {
        // SAFETY: allocates a fresh state.
        let s = unsafe { ref_g722_encoder_new() };
        assert!(!s.is_null());
        SpandspG722Encoder(s)
    }
    /// Encodes `pcm` (16 kHz) into `out` (pcm.len()/2 codes); returns the code count.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        assert!(out.len() >= pcm.len() / 2);
        // SAFETY: out has room for pcm.len()/2 codes.
        let r = unsafe { ref_g722_encode(self.0, pcm.as_ptr(), n(pcm.len()), out.as_mut_ptr()) };
        usize::try_from(r).unwrap_or(0)
    }
}

impl Drop for SpandspG722Encoder {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe {
            ref_g722_encoder_free(self.0);
        }
    }
}

/// spandsp's G.722 decoder; `rate` 64000, 56000 or 48000 (codes of 8, 7 or 6 bits).
pub struct SpandspG722Decoder(*mut c_void);
// SAFETY: used through &mut self only.
unsafe impl Send for SpandspG722Decoder {}

impl SpandspG722Decoder {
    /// g722_decode_init(NULL, rate, 0).
    pub fn new(rate: i32) -> Self {
        // SAFETY: allocates a fresh state.
        let s = unsafe { ref_g722_decoder_new(rate) };
        assert!(!s.is_null());
        SpandspG722Decoder(s)
    }
    /// Decodes codes into `out` (2 samples per code); returns the sample count.
    pub fn decode(&mut self, codes: &[u8], out: &mut [i16]) -> usize {
        assert!(out.len() >= codes.len() * 2);
        // SAFETY: out has room for 2 samples per code.
        let r =
            unsafe { ref_g722_decode(self.0, codes.as_ptr(), n(codes.len()), out.as_mut_ptr()) };
        usize::try_from(r).unwrap_or(0)
    }
}

impl Drop for SpandspG722Decoder {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe {
            ref_g722_decoder_free(self.0);
        }
    }
}

extern "C" {
    fn ref_jb_new(step: c_int) -> *mut c_void;
    fn ref_jb_free(j: *mut c_void);
    fn ref_jb_put(j: *mut c_void, ts: u32, span: u32, seq: u16);
    fn ref_jb_get(j: *mut c_void, span: u32, ts_out: *mut u32) -> c_int;
    fn ref_jb_tick(j: *mut c_void);
}

/// speexdsp's adaptive jitter buffer (`jitter_buffer_*`), packets only (no payload).
pub struct SpeexJitter(*mut c_void);
// SAFETY: used through &mut self only.
unsafe impl Send for SpeexJitter {}

impl SpeexJitter {
    /// jitter_buffer_init(step) with `step` in timestamp units (one frame).
    pub fn new(step: i32) -> Self {
        // SAFETY: allocates a fresh buffer.
        let j = unsafe { ref_jb_new(step) };
        assert!(!j.is_null());
        SpeexJitter(j)
    }
    /// jitter_buffer_put.
    pub fn put(&mut self, timestamp: u32, span: u32, seq: u16) {
        // SAFETY: j is valid; the library copies the packet.
        unsafe { ref_jb_put(self.0, timestamp, span, seq) }
    }
    /// jitter_buffer_get: the timestamp of the frame to play, or None (missing/insertion).
    pub fn get(&mut self, span: u32) -> Option<u32> {
        let mut ts = 0;
        // SAFETY: ts is a valid out pointer.
        let r = unsafe { ref_jb_get(self.0, span, &mut ts) };
        (r == 0).then_some(ts)
    }
    /// jitter_buffer_tick.
    pub fn tick(&mut self) {
        // SAFETY: j is valid.
        unsafe { ref_jb_tick(self.0) }
    }
}

impl Drop for SpeexJitter {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe { ref_jb_free(self.0) }
    }
}

extern "C" {
    fn ref_aec_new(frame: c_int, filter: c_int, rate: c_int, with_pre: c_int) -> *mut c_void;
    fn ref_aec_free(a: *mut c_void);
    fn ref_aec_process(a: *mut c_void, far: *const i16, near: *const i16, out: *mut i16);
}

/// speexdsp's MDF echo canceller (`speex_echo_cancellation`), optionally followed by its
/// preprocessor with residual-echo and noise suppression (`speex_preprocess_run`).
pub struct SpeexAec {
    a: *mut c_void,
    frame: usize,
}
// SAFETY: used through &mut self only.
unsafe impl Send for SpeexAec {}

impl SpeexAec {
    /// `frame` and `filter` (tail) in samples at `rate` Hz.
    pub fn new(frame: usize, filter: usize, rate: i32, with_preprocess: bool) -> Self {
        // SAFETY: allocates a fresh state.
        let a = unsafe { ref_aec_new(n(frame), n(filter), rate, c_int::from(with_preprocess)) };
        assert!(!a.is_null());
        SpeexAec { a, frame }
    }
    /// One frame: `far` played to the loudspeaker, `near` from the microphone.
    pub fn process(&mut self, far: &[i16], near: &[i16], out: &mut [i16]) {
        assert!(far.len() == self.frame && near.len() == self.frame && out.len() == self.frame);
        // SAFETY: the three slices hold one frame each.
        unsafe { ref_aec_process(self.a, far.as_ptr(), near.as_ptr(), out.as_mut_ptr()) }
    }
}

impl Drop for SpeexAec {
    fn drop(&mut self) {
        // SAFETY: freed once.
        unsafe { ref_aec_free(self.a) }
    }
}

extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn ref_super_tone_detect(
        amp: *const i16,
        n: c_int,
        el: *const c_int,
        nelem: c_int,
        codes: *mut c_int,
        max: c_int,
        segs: *mut c_int,
        smax: c_int,
        nsegs: *mut c_int,
    ) -> c_int;
}

/// What spandsp's supervisory tone detector (`super_tone_rx`) reported.
#[derive(Debug, Clone, Default)]
pub struct SuperToneReport {
    /// Tone callback codes: 0 = the pattern was detected, -1 = it ended.
    pub codes: Vec<i32>,
    /// Segment callback: (f1, f2, duration) of each element it saw.
    pub segments: Vec<(i32, i32, i32)>,
}

/// Runs spandsp's `super_tone_rx` on 8 kHz `pcm` with one tone pattern made of
/// `elements` = (f1, f2, min ms, max ms) (f = 0 for unused / silence, as spandsp takes it).
/// Not thread-safe against itself (the segment callback has no user pointer).
pub fn spandsp_super_tone(pcm: &[i16], elements: &[(i32, i32, i32, i32)]) -> SuperToneReport {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let el: Vec<c_int> = elements
        .iter()
        .flat_map(|(a, b, c, d)| [*a, *b, *c, *d])
        .collect();
    let mut codes = vec![0 as c_int; 256];
    let mut segs = vec![0 as c_int; 3 * 1024];
    let mut nsegs = 0;
    // SAFETY: all buffers are valid for the lengths passed.
    let nc = unsafe {
        ref_super_tone_detect(
            pcm.as_ptr(),
            n(pcm.len()),
            el.as_ptr(),
            n(elements.len()),
            codes.as_mut_ptr(),
            n(codes.len()),
            segs.as_mut_ptr(),
            n(segs.len()),
            &mut nsegs,
        )
    };
    SuperToneReport {
        codes: codes[..usize::try_from(nc).unwrap_or(0)].to_vec(),
        segments: segs[..3 * usize::try_from(nsegs).unwrap_or(0)]
            .chunks_exact(3)
            .map(|c| (c[0], c[1], c[2]))
            .collect(),
    }
}

mod bcg729_ffi {
    use std::ffi::{c_int, c_void};
    extern "C" {
        pub fn ref_g729_encoder_new(vad: c_int) -> *mut c_void;
        pub fn ref_g729_encoder_free(s: *mut c_void);
        pub fn ref_g729_encode(s: *mut c_void, pcm: *const i16, out: *mut u8) -> c_int;
        pub fn ref_g729_decoder_new() -> *mut c_void;
        pub fn ref_g729_decoder_free(s: *mut c_void);
        pub fn ref_g729_decode(s: *mut c_void, frame: *const u8, len: c_int, out: *mut i16);
    }
}

/// bcg729's G.729A encoder (Annex B VAD/DTX when `vad`).
pub struct Bcg729Encoder {
    s: *mut std::ffi::c_void,
}

impl Bcg729Encoder {
    /// A new channel.
    pub fn new(vad: bool) -> Self {
        // SAFETY: plain constructor of the library.
        let s = unsafe { bcg729_ffi::ref_g729_encoder_new(i32::from(vad)) };
        assert!(!s.is_null(), "bcg729 encoder allocation failed");
        Self { s }
    }

    /// Encodes 80 samples; returns the frame bytes (10, 2 or 0 of them).
    pub fn encode(&mut self, pcm: &[i16; 80]) -> Vec<u8> {
        let mut out = [0u8; 10];
        // SAFETY: 80 input samples and a 10-byte output, as the API requires.
        let n = unsafe { bcg729_ffi::ref_g729_encode(self.s, pcm.as_ptr(), out.as_mut_ptr()) };
        out[..n.clamp(0, 10) as usize].to_vec()
    }
}

impl Drop for Bcg729Encoder {
    fn drop(&mut self) {
        // SAFETY: created by ref_g729_encoder_new, freed once.
        unsafe { bcg729_ffi::ref_g729_encoder_free(self.s) }
    }
}

/// bcg729's G.729A/B decoder.
pub struct Bcg729Decoder {
    s: *mut std::ffi::c_void,
}

impl Default for Bcg729Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Bcg729Decoder {
    /// A new channel.
    pub fn new() -> Self {
        // SAFETY: plain constructor of the library.
        let s = unsafe { bcg729_ffi::ref_g729_decoder_new() };
        assert!(!s.is_null(), "bcg729 decoder allocation failed");
        Self { s }
    }

    /// Decodes one frame: 10 bytes speech, 2 bytes SID, empty = untransmitted.
    pub fn decode(&mut self, frame: &[u8], out: &mut [i16; 80]) {
        assert!(
            matches!(frame.len(), 0 | 2 | 10),
            "G.729 frame of {} bytes",
            frame.len()
        );
        let mut buf = [0u8; 10];
        buf[..frame.len()].copy_from_slice(frame);
        // SAFETY: a 10-byte buffer holding `len` valid bytes and an 80-sample output.
        unsafe {
            bcg729_ffi::ref_g729_decode(self.s, buf.as_ptr(), frame.len() as i32, out.as_mut_ptr())
        }
    }
}

impl Drop for Bcg729Decoder {
    fn drop(&mut self) {
        // SAFETY: created by ref_g729_decoder_new, freed once.
        unsafe { bcg729_ffi::ref_g729_decoder_free(self.s) }
    }
}
