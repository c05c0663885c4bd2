//! An in-memory NOR flash that loses power on command, the way
//! sequential-storage's own fuzzing does it, with STM32H7 rules:
//!
//! - a word (WORD bytes) written since the last erase of its page can not
//!   be written again (ECC); trying is an `EccViolation`, counted, and
//!   fails the test;
//! - a power cut in a write leaves the words before the cut programmed,
//!   the word in flight partially programmed (a random subset of the bits
//!   it was clearing: either a prefix of its bytes with a torn byte, or
//!   scattered bits over the whole word, as a parallel word programmer
//!   would), and the rest untouched. A word counts as written (needs an
//!   erase) as soon as any of its bits changed;
//! - a power cut in an erase leaves the bytes before the cut erased, the
//!   word in flight partially erased (random bits back to 1) and the rest
//!   as it was; the garbage word still needs an erase before it can be
//!   written. Erases run from low to high addresses, which is what
//!   sequential-storage's recovery assumes (the page's first word, its
//!   "open" marker, goes first);
//! - after a cut every operation fails until `reboot`.

// Shared by the power-cut and bit-flip tests; each uses a part.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Run a future whose awaits are all ready at once.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutError {
    /// The power went (or is gone): the operation did not complete.
    PowerCut,
    NotAligned,
    OutOfBounds,
    /// A write to a word that was written since its last erase.
    EccViolation {
        address: u32,
    },
}

impl NorFlashError for CutError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            _ => NorFlashErrorKind::Other,
        }
    }
}

/// Where power cuts landed.
#[derive(Debug, Default, Clone, Copy)]
pub struct CutStats {
    pub in_write: u64,
    pub in_erase: u64,
    pub ecc_violations: u64,
}

pub struct CutFlash<const PAGE: usize, const WORD: usize> {
    data: Vec<u8>,
    /// Per word: programmed since its page's last erase.
    written: Vec<bool>,
    /// Bytes (written or erased) left before the power goes.
    fuel: Option<u64>,
    dead: bool,
    rng: StdRng,
    /// Model a cut erase as a bulk erase (every cell of the page part way
    /// to erased) instead of an ordered one. sequential-storage does not
    /// survive this model; it is here to measure that, not run by default.
    pub bulk_erase: bool,
    pub stats: CutStats,
    /// The last [`WRITES_KEPT`] writes that completed: (offset, length),
    /// newest last. Where the newest items lie, for the bit-flip test.
    pub writes: std::collections::VecDeque<(usize, usize)>,
}

/// Writes [`CutFlash::writes`] remembers.
pub const WRITES_KEPT: usize = 32;

impl<const PAGE: usize, const WORD: usize> CutFlash<PAGE, WORD> {
    pub fn new(pages: usize, seed: u64) -> Self {
        Self {
            data: vec![0xFF; pages * PAGE],
            written: vec![false; pages * PAGE / WORD],
            fuel: None,
            dead: false,
            rng: StdRng::seed_from_u64(seed),
            bulk_erase: false,
            stats: CutStats::default(),
            writes: std::collections::VecDeque::new(),
        }
    }

    pub fn range(&self) -> std::ops::Range<u32> {
        0..self.data.len() as u32
    }

    /// Page states as sequential-storage reads them (markers).
    pub fn describe_pages(&self) -> String {
        let mut out = String::new();
        for (i, page) in self.data.chunks(PAGE).enumerate() {
            let zeros = |w: &[u8]| w.iter().map(|b| b.count_zeros()).sum::<u32>();
            let start = zeros(&page[..1]) >= 4;
            let end = zeros(&page[PAGE - 1..]) >= 4;
            out += &format!(
                "page {i}: start {start} end {end} first16 {:02x?}\n",
                &page[..16]
            );
        }
        out
    }

    /// Flip one bit, as retention loss or a disturbed cell does: the word
    /// keeps its written state (an erase is still needed to rewrite it).
    pub fn flip(&mut self, byte: usize, bit: u8) {
        self.data[byte] ^= 1 << bit;
    }

    /// Power comes back; it will go again after `fuel` bytes are written
    /// or erased (`None`: never).
    pub fn reboot(&mut self, fuel: Option<u64>) {
        self.dead = false;
        self.fuel = fuel;
    }

    /// Bytes left before the power goes (`None`: it never does).
    pub fn fuel_left(&self) -> Option<u64> {
        self.fuel
    }

    /// Spend one byte of fuel; true if the power goes now.
    fn cut_now(&mut self) -> bool {
        match self.fuel {
            Some(0) => {
                self.fuel = None;
                self.dead = true;
                true
            }
            Some(ref mut f) => {
                *f -= 1;
                false
            }
            None => false,
        }
    }

    /// Mask with each bit of `bits` kept with probability 1/2.
    fn some_bits(&mut self, bits: u8) -> u8 {
        bits & self.rng.gen::<u8>()
    }
}

impl<const PAGE: usize, const WORD: usize> ErrorType for CutFlash<PAGE, WORD> {
    type Error = CutError;
}

impl<const PAGE: usize, const WORD: usize> ReadNorFlash for CutFlash<PAGE, WORD> {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), CutError> {
        if self.dead {
            return Err(CutError::PowerCut);
        }
        let start = offset as usize;
        let src = self
            .data
            .get(start..start + bytes.len())
            .ok_or(CutError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl<const PAGE: usize, const WORD: usize> NorFlash for CutFlash<PAGE, WORD> {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = PAGE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), CutError> {
        if self.dead {
            return Err(CutError::PowerCut);
        }
        let (from, to) = (from as usize, to as usize);
        if !from.is_multiple_of(PAGE) || !to.is_multiple_of(PAGE) {
            return Err(CutError::NotAligned);
        }
        if from > to || to > self.data.len() {
            return Err(CutError::OutOfBounds);
        }
        for page in (from..to).step_by(PAGE) {
            if self.bulk_erase {
                if let Some(fuel) = self.fuel.filter(|f| *f < PAGE as u64) {
                    // Every cell of the page is part way to erased.
                    let progress = fuel as f64 / PAGE as f64;
                    for b in page..page + PAGE {
                        for bit in 0..8 {
                            if self.rng.gen_bool(progress) {
                                self.data[b] |= 1 << bit;
                            }
                        }
                    }
                    self.fuel = None;
                    self.dead = true;
                    self.stats.in_erase += 1;
                    return Err(CutError::PowerCut);
                }
                self.fuel = self.fuel.map(|f| f - PAGE as u64);
                self.data[page..page + PAGE].fill(0xFF);
                self.written[page / WORD..(page + PAGE) / WORD].fill(false);
                continue;
            }
            for word in (page..page + PAGE).step_by(WORD) {
                for _ in 0..WORD {
                    if self.cut_now() {
                        // The word in flight is partly erased: garbage that
                        // still needs an erase if it was programmed.
                        for b in word..word + WORD {
                            let ones = self.some_bits(!self.data[b]);
                            self.data[b] |= ones;
                        }
                        self.stats.in_erase += 1;
                        return Err(CutError::PowerCut);
                    }
                }
                self.data[word..word + WORD].fill(0xFF);
                self.written[word / WORD] = false;
            }
        }
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), CutError> {
        if self.dead {
            return Err(CutError::PowerCut);
        }
        let start = offset as usize;
        if !start.is_multiple_of(WORD) || !bytes.len().is_multiple_of(WORD) {
            return Err(CutError::NotAligned);
        }
        // Flash drivers may require aligned source buffers.
        if !(bytes.as_ptr() as usize).is_multiple_of(4) {
            return Err(CutError::NotAligned);
        }
        if start + bytes.len() > self.data.len() {
            return Err(CutError::OutOfBounds);
        }
        for (i, src) in bytes.chunks_exact(WORD).enumerate() {
            let word = start + i * WORD;
            if self.written[word / WORD] {
                self.stats.ecc_violations += 1;
                return Err(CutError::EccViolation {
                    address: word as u32,
                });
            }
            for byte in 0..WORD {
                if self.cut_now() {
                    let before = self.data[word..word + WORD].to_vec();
                    if self.rng.gen::<bool>() {
                        // Bytes programmed in order, the last one torn.
                        for (d, s) in self.data[word..word + byte].iter_mut().zip(src) {
                            *d &= *s;
                        }
                        let clear = self.some_bits(!src[byte]);
                        self.data[word + byte] &= !clear;
                    } else {
                        // All bits in parallel, some of them made it.
                        for (b, s) in src.iter().enumerate() {
                            let clear = self.some_bits(!*s);
                            self.data[word + b] &= !clear;
                        }
                    }
                    if self.data[word..word + WORD] != before[..] {
                        self.written[word / WORD] = true;
                    }
                    self.stats.in_write += 1;
                    return Err(CutError::PowerCut);
                }
            }
            for (d, s) in self.data[word..word + WORD].iter_mut().zip(src) {
                *d &= *s;
            }
            self.written[word / WORD] = true;
        }
        if self.writes.len() == WRITES_KEPT {
            self.writes.pop_front();
        }
        self.writes.push_back((start, bytes.len()));
        Ok(())
    }
}
