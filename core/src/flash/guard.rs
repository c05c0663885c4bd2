//! Page markers that a power cut tore count as written.
//!
//! sequential-storage 8 keeps each page's state in its first and last flash
//! word (written: all zeros) and reads back only the first `READ_SIZE`
//! bytes of each, counting a marker as written when at least 4 bits are
//! zero — tolerance for a bit flip. When the power goes while a marker word
//! is being programmed, the word can end up with only a few bits
//! programmed, and those can all lie outside the bytes read or number
//! fewer than 4. sequential-storage then sees an unwritten marker and
//! later writes that word again: on ECC flash (STM32H7) a second
//! programming of a word is forbidden (the ECC no longer matches and the
//! word faults when read). The same happens to an end marker left
//! partially erased by a cut erase.
//!
//! [`MarkerGuard`] sits between the store and the flash driver and makes
//! every read that lies inside a marker word report the word as written
//! (zeros) if *any* of its bits is programmed. A torn marker then reads as
//! the state its write was heading to, which sequential-storage reaches
//! anyway when the write completes and the power goes right after: a page
//! marked in use with nothing written yet, or a page marked full. So the
//! word is never written twice. Item reads never touch marker words
//! (items live between them), so they pass through unchanged.
//!
//! The guard also stands in front of a panic: sequential-storage 8.0.2
//! reads an item whose header is intact and whose length is zero as a
//! valid item, and then both its lookup and its iterator slice past the
//! end of the data for the key (`map.rs`: `data_len - item_key_len`,
//! `[..data_len][key_len..]`). It never writes such an item (every map
//! item holds its key), but flash damage can leave one — the
//! `flash_image` fuzz target found it — and on the board a panic at every
//! boot is a terminal that resets forever. The only header that reads so
//! is one constant, [`EMPTY_ITEM_HEADER`] (its checksums are those of no
//! data); the guard changes one bit of its data checksum as it is read,
//! so the item reads as damaged — skipped like any item whose checksum
//! fails, and reported by the store's generation check if it mattered.
//!
//! This relies on sequential-storage 8's page and item layout, which only
//! change with a major version (its in-flash format is semver-covered).

use embedded_storage_async::nor_flash::{ErrorType, NorFlash, ReadNorFlash};

use super::{flash_word, MAX_WORD_SIZE};

/// The flash driver, with torn page markers read as written.
pub(crate) struct MarkerGuard<F> {
    pub(crate) flash: F,
}

/// The value of an erased byte.
const ERASED: u8 = 0xFF;

/// The header of an item of length 0 that passes sequential-storage 8's
/// checks: data CRC (u32 LE) of no data, length 0 (u16 LE), length CRC
/// (u16 LE) of that length. `crc32` of no data with its initial value
/// 0xEEEE_EEEE is 0x1111_1111; its CRC-16 of `[0, 0]` is 0xE203 (both
/// checked against their definitions in the tests).
pub(crate) const EMPTY_ITEM_HEADER: [u8; 8] = [0x11, 0x11, 0x11, 0x11, 0x00, 0x00, 0x03, 0xE2];

impl<F: NorFlash> MarkerGuard<F> {
    /// The address of the marker word that holds all of
    /// `offset..offset + len`, if any: the first or the last word of a page
    /// (pages are aligned to the erase size; sequential-storage checks the
    /// range is).
    fn marker_word(offset: u32, len: usize) -> Option<u32> {
        let word = u32::try_from(flash_word::<F>()).ok()?;
        let page = u32::try_from(F::ERASE_SIZE).ok()?;
        let in_page = offset.checked_rem(page)?;
        let page_start = offset - in_page;
        let start = if in_page < word {
            page_start
        } else if in_page >= page.checked_sub(word)? {
            page_start + (page - word)
        } else {
            return None;
        };
        let end = offset.checked_add(u32::try_from(len).ok()?)?;
        (end <= start + word).then_some(start)
    }
}

impl<F: NorFlash> ErrorType for MarkerGuard<F> {
    type Error = F::Error;
}

impl<F: NorFlash> ReadNorFlash for MarkerGuard<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.flash.read(offset, bytes).await?;
        let Some(start) = Self::marker_word(offset, bytes.len()) else {
            // Item headers start on a word; see `EMPTY_ITEM_HEADER`.
            let on_word = usize::try_from(offset).is_ok_and(|o| o % flash_word::<F>() == 0);
            if on_word && bytes.starts_with(&EMPTY_ITEM_HEADER) {
                if let Some(first) = bytes.first_mut() {
                    *first ^= 1;
                }
            }
            return Ok(());
        };
        let mut programmed = bytes.iter().any(|b| *b != ERASED);
        if !programmed {
            // What was asked for reads erased; look at the whole word.
            let mut word = [ERASED; MAX_WORD_SIZE];
            if let Some(word) = word.get_mut(..flash_word::<F>()) {
                self.flash.read(start, word).await?;
                programmed = word.iter().any(|b| *b != ERASED);
            }
        }
        if programmed {
            bytes.fill(0);
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.flash.capacity()
    }
}

impl<F: NorFlash> NorFlash for MarkerGuard<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.flash.erase(from, to).await
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.flash.write(offset, bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::EMPTY_ITEM_HEADER;

    /// sequential-storage 8's `crc32` (Castagnoli, initial 0xEEEE_EEEE,
    /// inverted) and `crc16` (polynomial 0x1A2E, reflected, inverted),
    /// written again from their definitions.
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xEEEE_EEEEu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn crc16(data: &[u8]) -> u16 {
        let mut crc = 0xFFFFu16;
        for &byte in data {
            crc ^= u16::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x1A2E
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn the_empty_item_header_is_the_one_of_no_data() {
        let mut header = [0u8; 8];
        header[..4].copy_from_slice(&crc32(&[]).to_le_bytes());
        header[6..].copy_from_slice(&crc16(&[0, 0]).to_le_bytes());
        assert_eq!(header, EMPTY_ITEM_HEADER);
    }
}
