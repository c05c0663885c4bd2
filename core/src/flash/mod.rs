//! The outbox [`Store`] on any NOR flash, through sequential-storage's map.
//!
//! [`FlashStore`] is the one store the firmware and the desktop `till` use:
//! on the board over the MCU's flash, on the host over `file::FileFlash`
//! (feature `std`), a file that behaves like the same flash.
//!
//! # On-flash format
//!
//! The flash range holds one sequential-storage 8 map (its own page and
//! item format: page markers, CRC-protected item headers and data). Our
//! layer on top:
//!
//! - **map key**: a *slot number*, one byte, `0..STORE_CAPACITY`;
//! - **map value**: either empty — the slot is **free** — or the record's
//!   key followed by the record: `uuid (16 bytes) ++ record bytes
//!   (0..=RECORD_MAX_LEN)`. Any other value length is not ours
//!   ([`FlashStoreError::Corrupt`]).
//!
//! The newest item of a slot is the slot's value (sequential-storage
//! appends; the last write of a key wins). In RAM, [`FlashStore`] keeps the
//! index `slot -> Option<Uuid>`, rebuilt by [`FlashStore::open`].
//!
//! - `put` of a key the index knows appends a new value to *its* slot;
//!   `put` of a new key appends to a free slot ([`FlashStoreError::Full`]
//!   if none);
//! - `remove` appends the empty value to the key's slot.
//!
//! # Why this is safe on ECC flash
//!
//! The STM32H7 keeps an ECC per 32-byte flash word: a word that has been
//! programmed cannot be programmed again until its sector is erased. We
//! only call sequential-storage's `store_item`, `fetch_item` and
//! `fetch_all_items`, which only ever append to erased space and erase
//! whole pages. We never call `remove_item`/`remove_all_items`: they mark
//! an item deleted by rewriting its header (they require
//! `MultiwriteNorFlash` for that reason), which ECC flash forbids. A
//! removal is a tombstone instead: the empty value.
//!
//! One more path to a second write exists after a power cut: a page marker
//! word torn by the cut can read as unwritten, and sequential-storage would
//! write it again. The driver is wrapped so that a marker word with any
//! bit programmed reads as written (see `guard.rs`).
//!
//! # Why it is bounded
//!
//! Outbox keys are random UUIDs, never reused. Had they been the map
//! keys, every removed record would leave a tombstone key forever.
//! With slot keys, at most [`STORE_CAPACITY`] keys ever exist in the map,
//! so the live data is at most `STORE_CAPACITY` items of at most
//! [`ITEM_MAX_LEN`] bytes, and sequential-storage's garbage collection
//! (copy the live items of the oldest page, erase it) always finds room
//! when the range has [`FlashStore::min_pages`] pages, which `open` checks.
//!
//! # Power loss
//!
//! sequential-storage is power-fail safe per `store_item`: after a cut, a
//! slot holds either its previous or its new value. So a cut in a `put`
//! leaves the old record or the new one (for a new key: nothing, since the
//! slot was free, or the new record); a cut in a `remove` leaves the
//! record or nothing. A slot is only given to a new key when the index
//! says it is free, and the index is rebuilt from flash after a boot or
//! after any failed write, so one key's slot never receives another key's
//! record while the first is live. `tests/flash_power_cut.rs` checks this
//! with many thousands of random power cuts.
//!
//! sequential-storage's recovery assumes that an erase cut short leaves
//! the page's first word (its "in use" marker) erased before the rest, as
//! when a page is erased from low to high addresses. A flash whose cut
//! erase leaves every cell of the page part way erased can make its
//! repair discard the only copy of records moved just before; no layer on
//! top can tell. On such a flash, do not let an erase start when the
//! supply is failing (brown-out / power-voltage detection).

use core::fmt;
use core::ops::Range;

use embedded_storage_async::nor_flash::NorFlash;
use sequential_storage::cache::key_pointers::ArrayKeyPointers;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapConfigError, MapStorage, SerializationError, Value};

use crate::id::Uuid;
use crate::outbox::{Store, RECORD_MAX_LEN, STORE_CAPACITY};

#[cfg(feature = "std")]
pub mod file;
mod guard;

use guard::MarkerGuard;

/// Bytes of a map key: the slot number is one `u8`.
const SLOT_KEY_LEN: usize = 1;

/// Bytes of the record key stored at the start of a used slot's value.
const UUID_LEN: usize = 16;

/// Number of slots, as the map key type. One slot per record the outbox
/// can hold: the outbox never has more live records than
/// [`STORE_CAPACITY`].
const SLOT_COUNT: u8 = {
    assert!(
        STORE_CAPACITY <= u8::MAX as usize,
        "slot numbers are one byte"
    );
    STORE_CAPACITY as u8
};

/// Largest item payload sequential-storage stores for us: slot key, record
/// key and the largest record.
pub const ITEM_MAX_LEN: usize = SLOT_KEY_LEN + UUID_LEN + RECORD_MAX_LEN;

/// The largest flash word sequential-storage supports (its `MAX_WORD_SIZE`:
/// the 256-bit word of STM32 internal flash). Items are padded to the
/// flash word, so the data buffer is rounded up to it to fit any flash.
const MAX_WORD_SIZE: usize = 32;

/// Length of the work buffer sequential-storage needs: it serialises the
/// key and value into it and reads whole items (padded to the flash word)
/// into it, also while moving items during garbage collection. Owned by
/// [`FlashStore`], so no operation needs a buffer from the caller.
pub const DATA_BUFFER_LEN: usize = ITEM_MAX_LEN.next_multiple_of(MAX_WORD_SIZE);

/// Bytes of sequential-storage's item header (data CRC, length, length
/// CRC) before it is padded to the flash word.
const ITEM_HEADER_LEN: usize = 8;

/// The cache sequential-storage keeps in RAM: only pointers to the newest
/// item of each key, one entry per slot (8 bytes each), so all keys fit
/// and the cache is exact. Once a key has been looked up or written, every
/// `fetch_item` of it — our `get`, and the lookups garbage collection does
/// for each item it might move — is one direct read instead of a scan
/// over the whole range with a CRC of every item. (It starts empty: `open`
/// reads the whole map in one pass instead of one scan per slot.)
/// Page-state and page-pointer caches would save only a few small reads
/// per operation, and need the page count at compile time or more RAM;
/// they are left out.
type SlotCache = Cache<Uncached, Uncached, ArrayKeyPointers<u8, STORE_CAPACITY>, u8>;

/// The work buffer, 4-byte aligned: some flash drivers require aligned
/// source buffers for writes, and sequential-storage writes item data
/// straight from it.
#[repr(align(4))]
struct DataBuffer([u8; DATA_BUFFER_LEN]);

/// A slot's value in the map.
enum SlotValue<'a> {
    /// The slot holds no record.
    Free,
    /// The slot holds `record` under `key`.
    Used {
        /// The outbox key.
        key: Uuid,
        /// The encoded record.
        record: &'a [u8],
    },
}

impl<'a> Value<'a> for SlotValue<'a> {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        match self {
            Self::Free => Ok(0),
            Self::Used { key, record } => {
                let len = UUID_LEN + record.len();
                let out = buffer
                    .get_mut(..len)
                    .ok_or(SerializationError::BufferTooSmall)?;
                let (head, tail) = out
                    .split_at_mut_checked(UUID_LEN)
                    .ok_or(SerializationError::BufferTooSmall)?;
                head.copy_from_slice(key.as_bytes());
                tail.copy_from_slice(record);
                Ok(len)
            }
        }
    }

    fn deserialize_from(buffer: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        if buffer.is_empty() {
            return Ok((Self::Free, 0));
        }
        let (head, record) = buffer
            .split_at_checked(UUID_LEN)
            .ok_or(SerializationError::InvalidFormat)?;
        let bytes: [u8; UUID_LEN] = head
            .try_into()
            .map_err(|_| SerializationError::InvalidFormat)?;
        let key = Uuid::from_bytes(bytes);
        Ok((Self::Used { key, record }, buffer.len()))
    }
}

/// Why the flash store failed.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FlashStoreError<E> {
    /// sequential-storage failed; it wraps the flash driver's errors.
    Flash(sequential_storage::Error<E>),
    /// The flash range does not suit sequential-storage (not page
    /// aligned, fewer than two pages, word too large).
    Geometry(MapConfigError),
    /// A flash page cannot hold the largest record.
    PageTooSmall,
    /// The range has too few pages to hold a full outbox plus the room
    /// garbage collection needs.
    TooFewPages {
        /// Pages in the range.
        pages: u32,
        /// Pages needed ([`FlashStore::min_pages`]).
        needed: u32,
    },
    /// All [`STORE_CAPACITY`] slots hold records.
    Full,
    /// A record longer than [`RECORD_MAX_LEN`], or longer than the
    /// caller's buffer.
    TooLarge,
    /// The flash holds a value this format never writes, or does not hold
    /// the record the index expects.
    Corrupt,
}

impl<E: fmt::Debug> fmt::Display for FlashStoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flash(e) => write!(f, "flash storage: {e:?}"),
            Self::Geometry(e) => write!(f, "flash range unusable: {e:?}"),
            Self::PageTooSmall => f.write_str("flash page too small for the largest record"),
            Self::TooFewPages { pages, needed } => {
                write!(f, "flash range has {pages} pages, needs at least {needed}")
            }
            Self::Full => f.write_str("outbox store full"),
            Self::TooLarge => f.write_str("record too large"),
            Self::Corrupt => f.write_str("outbox store corrupt"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for FlashStoreError<E> {}

impl<E> From<sequential_storage::Error<E>> for FlashStoreError<E> {
    fn from(e: sequential_storage::Error<E>) -> Self {
        match e {
            // Values that do not parse were not written by this module.
            sequential_storage::Error::SerializationError(_) => Self::Corrupt,
            other => Self::Flash(other),
        }
    }
}

/// The outbox [`Store`] on a NOR flash range. See the [module
/// documentation](self) for the format and its guarantees.
///
/// Holds the flash driver, a [`DATA_BUFFER_LEN`]-byte work buffer and the
/// slot index: about 2.3 KiB of RAM beside the driver.
pub struct FlashStore<F: NorFlash> {
    map: MapStorage<u8, MarkerGuard<F>, SlotCache>,
    /// Which record key each slot holds, as last read from or written to
    /// flash.
    index: [Option<Uuid>; STORE_CAPACITY],
    /// False after a failed write (the slot may hold the old or the new
    /// value) or a failed read: the next operation rebuilds the index
    /// from flash first.
    index_valid: bool,
    /// Items of each slot in the map (its old values included), from the
    /// last pass over the map, while nothing can have changed the map
    /// since: lets [`Store::for_each`] right after [`FlashStore::open`] —
    /// the boot-time restore — read the map once instead of twice.
    counts: Option<[u32; STORE_CAPACITY]>,
    buf: DataBuffer,
}

impl<F: NorFlash> FlashStore<F> {
    /// Open the store on `range` of `flash` (page aligned; at least
    /// [`Self::min_pages`] pages) and read its slot index: one pass over
    /// the map, after letting sequential-storage repair what a power cut
    /// left half done. An erased range is an empty store.
    ///
    /// The driver is consumed; pass `&mut flash` (every `&mut NorFlash` is
    /// a `NorFlash`) to keep it after an error.
    pub async fn open(flash: F, range: Range<u32>) -> Result<Self, FlashStoreError<F::Error>> {
        let config = MapConfig::<MarkerGuard<F>>::try_new(range.clone())
            .map_err(FlashStoreError::Geometry)?;
        let needed = Self::min_pages().ok_or(FlashStoreError::PageTooSmall)?;
        let pages = range.end.saturating_sub(range.start) / page_size::<F>();
        if pages < needed {
            return Err(FlashStoreError::TooFewPages { pages, needed });
        }
        let cache = Cache::new(Uncached, Uncached, ArrayKeyPointers::new());
        let mut store = Self {
            map: MapStorage::new(MarkerGuard { flash }, config, cache),
            index: [None; STORE_CAPACITY],
            index_valid: false,
            counts: None,
            buf: DataBuffer([0; DATA_BUFFER_LEN]),
        };
        store.rebuild_index().await?;
        Ok(store)
    }

    /// The fewest pages a range needs on this flash: room for
    /// [`STORE_CAPACITY`] largest items plus the one being written, when
    /// every page may waste up to one largest item at its end (items never
    /// span pages), plus the empty page garbage collection copies into and
    /// one page of slack. `None` if a page cannot hold the largest item.
    pub const fn min_pages() -> Option<u32> {
        let word = flash_word::<F>();
        let page = F::ERASE_SIZE;
        // Two words of every page are sequential-storage's page markers.
        let Some(usable) = page.checked_sub(2 * word) else {
            return None;
        };
        let item = ITEM_HEADER_LEN.next_multiple_of(word) + ITEM_MAX_LEN.next_multiple_of(word);
        if usable < item {
            return None;
        }
        // A page is closed only when the next item does not fit, so a
        // compacted page holds more than `usable - item` bytes.
        let per_page = usable - item + 1;
        let live = (STORE_CAPACITY + 1) * item;
        let pages = live.div_ceil(per_page) + 2;
        if pages > u32::MAX as usize {
            return None;
        }
        Some(pages as u32)
    }

    /// Records held (from the index).
    pub fn len(&self) -> usize {
        self.index.iter().flatten().count()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots free for new keys.
    pub fn free_slots(&self) -> usize {
        STORE_CAPACITY - self.len()
    }

    /// Erase the whole range: every record is lost. For an operator's
    /// explicit reset only (e.g. after [`FlashStoreError::Corrupt`]).
    pub async fn erase_all(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        self.index_valid = false;
        self.counts = None;
        self.map.erase_all().await?;
        // sequential-storage's key cache still points into the erased
        // pages: a lookup that finds a cached item gone drops the whole
        // cache. Look up every slot (cheap on an empty map) so no stale
        // pointer survives to point at a later, different item.
        for slot in 0..SLOT_COUNT {
            self.map
                .fetch_item::<SlotValue<'_>>(&mut self.buf.0, &slot)
                .await?;
        }
        self.rebuild_index().await
    }

    /// Give the flash driver back.
    pub fn into_inner(self) -> F {
        self.map.destroy().0.flash
    }

    /// Read every slot's newest value into the index, and count each
    /// slot's items: one pass over the map, oldest item first, so the last
    /// item of a slot is its value (sequential-storage's contract for
    /// `fetch_all_items`).
    async fn rebuild_index(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        self.index_valid = false;
        self.counts = None;
        self.repair_if_needed().await?;
        let mut index = [None; STORE_CAPACITY];
        let mut counts = [0u32; STORE_CAPACITY];
        let mut items = self.map.fetch_all_items(&mut self.buf.0).await?;
        while let Some((slot, value)) = items.next::<SlotValue<'_>>(&mut self.buf.0).await? {
            let i = usize::from(slot);
            let (Some(entry), Some(count)) = (index.get_mut(i), counts.get_mut(i)) else {
                return Err(FlashStoreError::Corrupt);
            };
            *entry = match value {
                SlotValue::Used { key, .. } => Some(key),
                SlotValue::Free => None,
            };
            *count = count.saturating_add(1);
        }
        self.index = index;
        self.index_valid = true;
        self.counts = Some(counts);
        Ok(())
    }

    /// Let sequential-storage repair what a power cut left half done
    /// before iterating: `fetch_all_items` does not repair a half-erased
    /// page itself (in 8.0.2 the page-state error returns early, past its
    /// auto-repair) but fails with `Corrupted`, while `fetch_item` repairs
    /// and retries. The check is cheap: whether `fetch_all_items` can
    /// start.
    async fn repair_if_needed(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        match self.map.fetch_all_items(&mut self.buf.0).await {
            Ok(_) => Ok(()),
            Err(sequential_storage::Error::Corrupted { .. }) => {
                self.map
                    .fetch_item::<SlotValue<'_>>(&mut self.buf.0, &0)
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn ensure_index(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        if self.index_valid {
            Ok(())
        } else {
            self.rebuild_index().await
        }
    }

    /// The first slot holding `key`. (Two slots can only hold the same key
    /// if the flash was changed behind our back; the first one wins
    /// everywhere, and `remove` frees both.)
    fn slot_of(&self, key: Uuid) -> Option<u8> {
        (0..SLOT_COUNT)
            .zip(self.index.iter())
            .find(|(_, entry)| **entry == Some(key))
            .map(|(slot, _)| slot)
    }

    fn free_slot(&self) -> Option<u8> {
        (0..SLOT_COUNT)
            .zip(self.index.iter())
            .find(|(_, entry)| entry.is_none())
            .map(|(slot, _)| slot)
    }

    fn set_index(&mut self, slot: u8, key: Option<Uuid>) {
        if let Some(entry) = self.index.get_mut(usize::from(slot)) {
            *entry = key;
        }
    }

    /// Append `value` as the newest value of `slot`.
    async fn write_slot(
        &mut self,
        slot: u8,
        value: &SlotValue<'_>,
    ) -> Result<(), FlashStoreError<F::Error>> {
        self.counts = None;
        match self.map.store_item(&mut self.buf.0, &slot, value).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // The slot now holds its old or its new value; find out
                // before the next operation relies on the index.
                self.index_valid = false;
                Err(e.into())
            }
        }
    }

    /// The record in `slot`, which the index says belongs to `key`.
    async fn read_slot(&mut self, slot: u8, key: Uuid) -> Result<&[u8], FlashStoreError<F::Error>> {
        // A lookup repairs the map if it finds it damaged, which moves
        // items.
        self.counts = None;
        let value = self
            .map
            .fetch_item::<SlotValue<'_>>(&mut self.buf.0, &slot)
            .await;
        match value {
            Ok(Some(SlotValue::Used { key: found, record })) if found == key => Ok(record),
            Ok(_) => {
                // Never hand out another key's record.
                self.index_valid = false;
                Err(FlashStoreError::Corrupt)
            }
            Err(e) => {
                self.index_valid = false;
                Err(e.into())
            }
        }
    }
}

/// Sequential-storage's flash word: the larger of the read and write sizes.
const fn flash_word<F: NorFlash>() -> usize {
    if F::WRITE_SIZE > F::READ_SIZE {
        F::WRITE_SIZE
    } else {
        F::READ_SIZE
    }
}

/// The erase size as `u32` (flash addresses are `u32`); a page larger than
/// the address space cannot occur, and would count as one page too few.
const fn page_size<F: NorFlash>() -> u32 {
    if F::ERASE_SIZE > u32::MAX as usize || F::ERASE_SIZE == 0 {
        u32::MAX
    } else {
        F::ERASE_SIZE as u32
    }
}

impl<F: NorFlash> Store for FlashStore<F> {
    type Error = FlashStoreError<F::Error>;

    async fn put(&mut self, key: Uuid, bytes: &[u8]) -> Result<(), Self::Error> {
        if bytes.len() > RECORD_MAX_LEN {
            return Err(FlashStoreError::TooLarge);
        }
        self.ensure_index().await?;
        let slot = self
            .slot_of(key)
            .or_else(|| self.free_slot())
            .ok_or(FlashStoreError::Full)?;
        self.write_slot(slot, &SlotValue::Used { key, record: bytes })
            .await?;
        self.set_index(slot, Some(key));
        Ok(())
    }

    async fn get(&mut self, key: Uuid, buf: &mut [u8]) -> Result<Option<usize>, Self::Error> {
        self.ensure_index().await?;
        let Some(slot) = self.slot_of(key) else {
            return Ok(None);
        };
        let record = self.read_slot(slot, key).await?;
        let dst = buf
            .get_mut(..record.len())
            .ok_or(FlashStoreError::TooLarge)?;
        dst.copy_from_slice(record);
        Ok(Some(record.len()))
    }

    async fn remove(&mut self, key: Uuid) -> Result<(), Self::Error> {
        self.ensure_index().await?;
        while let Some(slot) = self.slot_of(key) {
            self.write_slot(slot, &SlotValue::Free).await?;
            self.set_index(slot, None);
        }
        Ok(())
    }

    /// Calls `each` in flash order, once per record. Records are read
    /// into the store's own buffer, so `_buf` is not used.
    ///
    /// One pass over the map reports each slot's last item, its newest
    /// value; it needs to know how many items each slot has, which the
    /// pass that built the index counted, if nothing has touched the map
    /// since (as at boot), or else a counting pass first. Looking records
    /// up one by one instead would scan the map once per record while the
    /// key cache is empty.
    async fn for_each(
        &mut self,
        _buf: &mut [u8],
        each: &mut dyn FnMut(Uuid, &[u8]),
    ) -> Result<(), Self::Error> {
        let counts = match (self.index_valid, self.counts) {
            (true, Some(counts)) => counts,
            _ => {
                self.rebuild_index().await?;
                self.counts.ok_or(FlashStoreError::Corrupt)?
            }
        };
        let mut seen = [0u32; STORE_CAPACITY];
        let mut items = self.map.fetch_all_items(&mut self.buf.0).await?;
        while let Some((slot, value)) = items.next::<SlotValue<'_>>(&mut self.buf.0).await? {
            let i = usize::from(slot);
            let (Some(n), Some(count), Some(expected)) =
                (seen.get_mut(i), counts.get(i), self.index.get(i))
            else {
                return Err(FlashStoreError::Corrupt);
            };
            *n = n.saturating_add(1);
            if *n != *count {
                continue; // an older value of the slot
            }
            let found = match value {
                SlotValue::Used { key, record } => Some((key, record)),
                SlotValue::Free => None,
            };
            if found.map(|(key, _)| key) != *expected {
                // The index does not match the flash: never report a
                // record under a key the other operations do not see.
                self.index_valid = false;
                return Err(FlashStoreError::Corrupt);
            }
            if let Some((key, record)) = found {
                // Only the first slot of a (corrupt) duplicate counts.
                if self.index.iter().position(|e| *e == Some(key)) == Some(i) {
                    each(key, record);
                }
            }
        }
        if seen != counts {
            // Cannot happen: reading does not change the map.
            self.index_valid = false;
            return Err(FlashStoreError::Corrupt);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
