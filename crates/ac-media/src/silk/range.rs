//! The SILK range coder (draft-vos-silk-02 section 3.2; the SDK's `SKP_Silk_range_coder.c`):
//! a 32-bit base / 16-bit range arithmetic coder over Q16 cumulative distribution functions
//! (CDF tables start at 0 and end at 65535). Encoder and decoder follow the SDK step for
//! step (normalisation, carry propagation, wrap-up with the shortest uniquely decodable
//! tail and the trailing one bits, the decoder's search from a start index), so the bytes
//! are the SDK's.

use super::SilkError;

/// Largest range-coded payload of the SDK (`MAX_ARITHM_BYTES`), bytes.
pub const MAX_ARITHM_BYTES: usize = 1024;

/// Range encoder (the SDK's `SKP_Silk_range_encoder` and `SKP_Silk_range_enc_wrap_up`).
#[derive(Debug, Clone)]
pub struct RangeEncoder {
    buf: Vec<u8>,
    base: u32,
    range: u32,
    limit: usize,
    error: Option<SilkError>,
}

impl Default for RangeEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeEncoder {
    /// A new encoder whose output may grow to [`MAX_ARITHM_BYTES`].
    pub fn new() -> Self {
        Self::with_limit(MAX_ARITHM_BYTES)
    }

    /// A new encoder whose output may grow to `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        RangeEncoder {
            buf: Vec::with_capacity(limit.min(MAX_ARITHM_BYTES)),
            base: 0,
            range: 0xFFFF,
            limit,
            error: None,
        }
    }

    /// The first error met (every later symbol is ignored, as in the SDK).
    pub fn error(&self) -> Option<&SilkError> {
        self.error.as_ref()
    }

    /// Encode `symbol` with the CDF `cdf` (`cdf.len()` = number of symbols + 1).
    pub fn encode(&mut self, symbol: usize, cdf: &[u16]) {
        if self.error.is_some() {
            return;
        }
        let (Some(&low), Some(&high)) = (cdf.get(symbol), cdf.get(symbol + 1)) else {
            self.error = Some(SilkError::SymbolOutOfRange);
            return;
        };
        if high <= low {
            self.error = Some(SilkError::SymbolOutOfRange);
            return;
        }
        let base_tmp = self.base;
        self.base = self
            .base
            .wrapping_add(self.range.wrapping_mul(u32::from(low)));
        let range32 = self.range.wrapping_mul(u32::from(high - low));
        if self.base < base_tmp {
            // Carry into the bytes already written.
            for b in self.buf.iter_mut().rev() {
                *b = b.wrapping_add(1);
                if *b != 0 {
                    break;
                }
            }
        }
        if range32 & 0xFF00_0000 != 0 {
            self.range = range32 >> 16;
        } else {
            if range32 & 0xFFFF_0000 != 0 {
                self.range = range32 >> 8;
            } else {
                self.range = range32;
                if !self.put_byte() {
                    return;
                }
            }
            self.put_byte();
        }
    }

    fn put_byte(&mut self) -> bool {
        if self.buf.len() >= self.limit {
            self.error = Some(SilkError::PayloadTooLong);
            return false;
        }
        self.buf.push((self.base >> 24) as u8);
        self.base <<= 8;
        true
    }

    /// Number of bits written so far (the SDK's `SKP_Silk_range_coder_get_length`).
    pub fn bits(&self) -> usize {
        coded_bits(self.buf.len(), self.range)
    }

    /// Number of bytes the payload will have after [`finish`](Self::finish).
    pub fn len_bytes(&self) -> usize {
        self.bits().div_ceil(8)
    }

    /// Write the shortest uniquely decodable tail, fill the last byte with one bits and
    /// return the payload.
    pub fn finish(mut self) -> Result<Vec<u8>, SilkError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut base24 = self.base >> 8;
        let bits_in_stream = self.bits();
        let n_bytes = bits_in_stream.div_ceil(8);
        // 1..9 more bits.
        let bits_to_store = bits_in_stream - self.buf.len() * 8;
        base24 = base24.wrapping_add(0x0080_0000 >> (bits_to_store - 1));
        base24 &= 0xFFFF_FFFFu32.wrapping_shl(24 - bits_to_store as u32);
        if base24 & 0x0100_0000 != 0 {
            for b in self.buf.iter_mut().rev() {
                *b = b.wrapping_add(1);
                if *b != 0 {
                    break;
                }
            }
        }
        if self.buf.len() < self.limit {
            self.buf.push((base24 >> 16) as u8);
            if bits_to_store > 8 && self.buf.len() < self.limit {
                self.buf.push((base24 >> 8) as u8);
            }
        }
        if bits_in_stream & 7 != 0 {
            let mask = 0xFFu8 >> (bits_in_stream & 7);
            if let Some(b) = self.buf.get_mut(n_bytes - 1) {
                *b |= mask;
            }
        }
        self.buf.truncate(n_bytes);
        Ok(self.buf)
    }
}

fn coded_bits(buffer_ix: usize, range: u32) -> usize {
    // nBits = bufferIx * 8 + CLZ32(range_Q16 - 1) - 14; range >= 1 so this is >= 2.
    (buffer_ix * 8 + range.wrapping_sub(1).leading_zeros() as usize).saturating_sub(14)
}

/// Range decoder (the SDK's `SKP_Silk_range_decoder`), over a borrowed payload.
#[derive(Debug, Clone)]
pub struct RangeDecoder<'a> {
    data: &'a [u8],
    /// Bytes read past the first four (the SDK's `bufferIx`).
    ix: usize,
    base: u32,
    range: u32,
}

impl<'a> RangeDecoder<'a> {
    /// Start decoding `data` (at most [`MAX_ARITHM_BYTES`]). Bytes past the end read as 0.
    pub fn new(data: &'a [u8]) -> Result<Self, SilkError> {
        if data.len() > MAX_ARITHM_BYTES {
            return Err(SilkError::PayloadTooLong);
        }
        let b = |i: usize| u32::from(data.get(i).copied().unwrap_or(0));
        Ok(RangeDecoder {
            data,
            ix: 0,
            base: (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3),
            range: 0xFFFF,
        })
    }

    fn next_byte(&mut self) -> u32 {
        // The SDK reads buffer[4 + ix] while ix < length (its buffer goes 4 bytes past the
        // payload); bytes past the payload do not change a valid stream's symbols.
        let v = if self.ix < self.data.len() {
            u32::from(self.data.get(4 + self.ix).copied().unwrap_or(0))
        } else {
            0
        };
        if self.ix < self.data.len() {
            self.ix += 1;
        }
        v
    }

    /// Decode one symbol with `cdf`, starting the search at `start` (the SDK's `probIx`).
    pub fn decode(&mut self, cdf: &[u16], start: usize) -> Result<usize, SilkError> {
        let bad = SilkError::CdfOutOfRange;
        let mut ix = start;
        let mut high = u32::from(*cdf.get(ix).ok_or(bad.clone())?);
        let mut low;
        let base_tmp = self.range.wrapping_mul(high);
        if base_tmp > self.base {
            loop {
                ix = ix.checked_sub(1).ok_or(bad.clone())?;
                low = u32::from(*cdf.get(ix).ok_or(bad.clone())?);
                if self.range.wrapping_mul(low) <= self.base {
                    break;
                }
                high = low;
                if high == 0 {
                    return Err(bad);
                }
            }
        } else {
            loop {
                low = high;
                ix += 1;
                high = u32::from(*cdf.get(ix).ok_or(bad.clone())?);
                if self.range.wrapping_mul(high) > self.base {
                    ix -= 1;
                    break;
                }
                if high == 0xFFFF {
                    return Err(bad);
                }
            }
        }
        let symbol = ix;
        self.base = self.base.wrapping_sub(self.range.wrapping_mul(low));
        let range32 = self.range.wrapping_mul(high.wrapping_sub(low));
        if range32 & 0xFF00_0000 != 0 {
            self.range = range32 >> 16;
        } else {
            if range32 & 0xFFFF_0000 != 0 {
                self.range = range32 >> 8;
                if self.base >> 24 != 0 {
                    return Err(SilkError::NormalizationFailed);
                }
            } else {
                self.range = range32;
                if self.base >> 16 != 0 {
                    return Err(SilkError::NormalizationFailed);
                }
                self.base <<= 8;
                self.base |= self.next_byte();
            }
            self.base <<= 8;
            self.base |= self.next_byte();
        }
        if self.range == 0 {
            return Err(SilkError::ZeroInterval);
        }
        Ok(symbol)
    }

    /// Bits consumed so far (the SDK's `SKP_Silk_range_coder_get_length`).
    pub fn bits(&self) -> usize {
        coded_bits(self.ix, self.range)
    }

    /// Bytes of the payload used so far (rounded up).
    pub fn bytes_used(&self) -> usize {
        self.bits().div_ceil(8)
    }

    /// The payload length.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The SDK's `SKP_Silk_range_coder_check_after_decoding`: the unused bits of the last
    /// byte must be ones.
    pub fn check_after_decoding(&self) -> Result<(), SilkError> {
        let bits = self.bits();
        let n_bytes = bits.div_ceil(8);
        if n_bytes == 0 || n_bytes > self.data.len() {
            return Err(SilkError::DecoderCheckFailed);
        }
        if bits & 7 != 0 {
            let mask = 0xFFu8 >> (bits & 7);
            if self.data[n_bytes - 1] & mask != mask {
                return Err(SilkError::DecoderCheckFailed);
            }
        }
        Ok(())
    }
}
