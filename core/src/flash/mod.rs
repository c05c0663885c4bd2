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
//! layer on top, every value starting with [`FORMAT_VERSION`]:
//!
//! - **slot items**: map key = a *slot number*, one byte,
//!   `0..STORE_CAPACITY`; value = `version (1) ++ generation (u32 LE)`
//!   for a **free** slot, or `version ++ generation ++ uuid (16 bytes) ++
//!   record bytes (0..=RECORD_MAX_LEN)` for a used one;
//! - **the commit item**: map key [`COMMIT_KEY`]; value = `version ++
//!   generation of every slot (STORE_CAPACITY × u32 LE)`.
//!
//! A slot's *generation* counts the values ever written to it; each write
//! of a slot writes its value with the next generation, then a commit item
//! with the new generations. The commit item is the terminal's memory of
//! what each slot's newest value *is*, kept apart from the value itself.
//! In RAM, [`FlashStore`] keeps the index `slot -> free / record key /
//! damaged` and every slot's generation, rebuilt by [`FlashStore::open`].
//!
//! - `put` of a key the index knows writes a new value to *its* slot;
//!   `put` of a new key to a free slot ([`FlashStoreError::Full`] if none);
//! - `remove` writes the free value to the key's slot.
//!
//! # Damage is reported, never papered over
//!
//! sequential-storage skips an item whose CRC fails, and so does its
//! garbage collection: a bit flip in a slot's newest value would bring
//! back the value before it (a reversal already delivered, or nothing
//! where a reversal was pending). On open, a slot whose newest readable
//! value has an older generation than the commit item says, or none at
//! all, is **damaged**: its older value is not reported, the slot is not
//! given to a new key, [`Store::damaged`] counts it (the terminal refuses
//! new sales), and only an operator's acknowledgement
//! ([`Store::clear_damaged`]) frees it. The other slots load as usual.
//!
//! A cut between a value and its commit item leaves the commit one
//! generation behind the value: the value is the slot's newest, and open
//! writes a fresh commit item so that a later flip of that value is seen.
//! A flip in a commit item brings back an older commit item, which is
//! behind, never ahead: it costs a rewrite, no record. Only two faults at
//! once (a value and the commit item after it) can hide a lost value.
//!
//! A value of a newer [`FORMAT_VERSION`] stops the store from opening
//! ([`FlashStoreError::Format`]) rather than being misread or dropped. A
//! value whose checksum passes but that this layout never writes damages
//! its slot the same way; an unreadable commit item counts as none.
//!
//! Damaged pages (found by the `flash_image` fuzz target) can make a write
//! succeed where the next boot's reads never look, or make a lookup and a
//! pass over the map disagree. So every write is read back as the next
//! boot would read it — a pass over the map, before and after its commit
//! item — and a put that does not read back fails
//! ([`FlashStoreError::Unreadable`]) before the request it protects
//! leaves; a record the lookup misses is looked for in such a pass.
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
//! removal is a tombstone instead: the free value.
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
//! With slot keys, at most [`STORE_CAPACITY`] + 1 keys ever exist in the
//! map, so the live data is at most `STORE_CAPACITY` items of at most
//! [`ITEM_MAX_LEN`] bytes plus the small commit item, and
//! sequential-storage's garbage collection (copy the live items of the
//! oldest page, erase it) always finds room when the range has
//! [`FlashStore::min_pages`] pages, which `open` checks.
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
//! with many thousands of random power cuts (and that no cut ever reads
//! as damage); `tests/flash_bit_flips.rs` flips bits of the newest items
//! and checks that every record is either intact or reported.
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

use embedded_storage_async::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};
use sequential_storage::cache::key_pointers::ArrayKeyPointers;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapConfigError, MapStorage, SerializationError, Value};

use crate::id::Uuid;
use crate::outbox::{Store, RECORD_MAX_LEN, STORE_CAPACITY};

#[cfg(feature = "std")]
pub mod file;
mod guard;

use guard::MarkerGuard;

/// The layout of every value this module writes, its first byte: the slot
/// and commit layouts above and the outbox record encoding inside a slot.
/// A firmware that changes any of them raises it (and reads the versions
/// before it); one that finds a newer version refuses to open the store.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes of a map key: the slot number is one `u8`.
const SLOT_KEY_LEN: usize = 1;

/// Map key of the commit item, after every slot number.
pub const COMMIT_KEY: u8 = u8::MAX;

/// Bytes of the record key stored in a used slot's value.
const UUID_LEN: usize = 16;

/// Bytes of a generation.
const GENERATION_LEN: usize = 4;

/// Bytes before the record key in a slot value: version and generation.
const SLOT_HEAD_LEN: usize = 1 + GENERATION_LEN;

/// Bytes of the commit item's value.
const COMMIT_LEN: usize = 1 + GENERATION_LEN * STORE_CAPACITY;

/// Number of slots, as the map key type. One slot per record the outbox
/// can hold: the outbox never has more live records than
/// [`STORE_CAPACITY`].
const SLOT_COUNT: u8 = {
    assert!(
        STORE_CAPACITY < COMMIT_KEY as usize,
        "slot numbers are one byte, below the commit key"
    );
    STORE_CAPACITY as u8
};

/// Largest item payload sequential-storage stores for us: slot key,
/// version, generation, record key and the largest record.
pub const ITEM_MAX_LEN: usize = SLOT_KEY_LEN + SLOT_HEAD_LEN + UUID_LEN + RECORD_MAX_LEN;

/// The commit item's payload.
const COMMIT_ITEM_LEN: usize = SLOT_KEY_LEN + COMMIT_LEN;

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

/// Keys in the map: every slot and the commit item.
const MAP_KEYS: usize = STORE_CAPACITY + 1;

/// The cache sequential-storage keeps in RAM: only pointers to the newest
/// item of each key, one entry per key (8 bytes each), so all keys fit
/// and the cache is exact. Once a key has been looked up or written, every
/// `fetch_item` of it — our `get`, and the lookups garbage collection does
/// for each item it might move — is one direct read instead of a scan
/// over the whole range with a CRC of every item. (It starts empty: `open`
/// reads the whole map in one pass instead of one scan per slot.)
/// Page-state and page-pointer caches would save only a few small reads
/// per operation, and need the page count at compile time or more RAM;
/// they are left out.
type SlotCache = Cache<Uncached, Uncached, ArrayKeyPointers<u8, MAP_KEYS>, u8>;

/// The work buffer, 4-byte aligned: some flash drivers require aligned
/// source buffers for writes, and sequential-storage writes item data
/// straight from it.
#[repr(align(4))]
struct DataBuffer([u8; DATA_BUFFER_LEN]);

/// A value to write (reading takes the raw bytes and [`parse_slot`] or
/// [`parse_commit`]).
enum Write<'a> {
    /// A slot holding no record.
    Free { generation: u32 },
    /// A slot holding `record` under `key`.
    Used {
        generation: u32,
        key: Uuid,
        record: &'a [u8],
    },
    /// The generation of every slot.
    Commit(&'a [u32; STORE_CAPACITY]),
}

impl<'a> Value<'a> for Write<'a> {
    fn serialize_into(&self, buffer: &mut [u8]) -> Result<usize, SerializationError> {
        let too_small = SerializationError::BufferTooSmall;
        let (version, rest) = buffer.split_first_mut().ok_or(too_small)?;
        *version = FORMAT_VERSION;
        let mut out = Out { buf: rest, len: 1 };
        match self {
            Self::Free { generation } => out.put(&generation.to_le_bytes())?,
            Self::Used {
                generation,
                key,
                record,
            } => {
                out.put(&generation.to_le_bytes())?;
                out.put(key.as_bytes())?;
                out.put(record)?;
            }
            Self::Commit(generations) => {
                for generation in generations.iter() {
                    out.put(&generation.to_le_bytes())?;
                }
            }
        }
        Ok(out.len)
    }

    /// Never read back as this type.
    fn deserialize_from(_: &'a [u8]) -> Result<(Self, usize), SerializationError> {
        Err(SerializationError::InvalidFormat)
    }
}

/// A cursor writing into a buffer.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SerializationError> {
        let buf = core::mem::take(&mut self.buf);
        let (head, tail) = buf
            .split_at_mut_checked(bytes.len())
            .ok_or(SerializationError::BufferTooSmall)?;
        head.copy_from_slice(bytes);
        self.buf = tail;
        self.len += bytes.len();
        Ok(())
    }
}

/// A slot value as read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored<'a> {
    Free {
        generation: u32,
    },
    Used {
        generation: u32,
        key: Uuid,
        record: &'a [u8],
    },
}

impl Stored<'_> {
    const fn generation(&self) -> u32 {
        match self {
            Self::Free { generation } | Self::Used { generation, .. } => *generation,
        }
    }

    const fn state(&self) -> SlotState {
        match self {
            Self::Free { .. } => SlotState::Free,
            Self::Used { key, .. } => SlotState::Used(*key),
        }
    }
}

/// The version byte of a value, checked.
fn versioned<E>(bytes: &[u8]) -> Result<&[u8], FlashStoreError<E>> {
    match bytes.split_first() {
        Some((&FORMAT_VERSION, rest)) => Ok(rest),
        // A newer firmware's value: left alone (see `Format`). 0xFF, the
        // erased byte, is never a version.
        Some((&found, _)) if found > FORMAT_VERSION && found != 0xFF => {
            Err(FlashStoreError::Format { found })
        }
        // A version before the first, or the erased byte: not ours.
        Some(_) => Err(FlashStoreError::Corrupt),
        // This module never writes an empty value.
        None => Err(FlashStoreError::Corrupt),
    }
}

/// Read a slot value. Values that pass sequential-storage's CRC but do
/// not have this layout were not written by this module: `Corrupt`.
pub(crate) fn parse_slot<E>(bytes: &[u8]) -> Result<Stored<'_>, FlashStoreError<E>> {
    let rest = versioned(bytes)?;
    let (generation, rest) = rest
        .split_first_chunk::<GENERATION_LEN>()
        .ok_or(FlashStoreError::Corrupt)?;
    let generation = u32::from_le_bytes(*generation);
    if rest.is_empty() {
        return Ok(Stored::Free { generation });
    }
    let (key, record) = rest
        .split_first_chunk::<UUID_LEN>()
        .ok_or(FlashStoreError::Corrupt)?;
    Ok(Stored::Used {
        generation,
        key: Uuid::from_bytes(*key),
        record,
    })
}

/// Read the commit item's generations.
pub(crate) fn parse_commit<E>(bytes: &[u8]) -> Result<[u32; STORE_CAPACITY], FlashStoreError<E>> {
    let rest = versioned(bytes)?;
    if rest.len() != COMMIT_LEN - 1 {
        return Err(FlashStoreError::Corrupt);
    }
    let mut generations = [0u32; STORE_CAPACITY];
    for (generation, bytes) in generations
        .iter_mut()
        .zip(rest.chunks_exact(GENERATION_LEN))
    {
        let bytes: [u8; GENERATION_LEN] = bytes.try_into().map_err(|_| FlashStoreError::Corrupt)?;
        *generation = u32::from_le_bytes(bytes);
    }
    Ok(generations)
}

/// What the index knows of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SlotState {
    /// No record.
    Free,
    /// The record of this key.
    Used(Uuid),
    /// The newest value could not be read back; `previous` is the key of
    /// the newest value that could (an older one: not reported, shown to
    /// the operator to find the sale).
    Damaged {
        /// The record key of the newest readable value, if any.
        previous: Option<Uuid>,
    },
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
        /// Pages in the range. (Half-words, like `needed`: so that the
        /// error stays two words and a `Result` of it travels in
        /// registers.)
        pages: u16,
        /// Pages needed ([`FlashStore::min_pages`]).
        needed: u16,
    },
    /// All [`STORE_CAPACITY`] slots hold records (or are damaged).
    Full,
    /// A record longer than [`RECORD_MAX_LEN`], or longer than the
    /// caller's buffer.
    TooLarge,
    /// The flash holds a value this format never writes, or does not hold
    /// the record the index expects.
    Corrupt,
    /// A value just written does not read back (damaged pages): the write
    /// did not happen, as far as anyone relying on the store is concerned.
    Unreadable,
    /// A value in a format this firmware does not know (a newer one): the
    /// store is left as it is for the firmware that wrote it.
    Format {
        /// The value's format version.
        found: u8,
    },
}

// Written out rather than through the inner errors' `Debug`: the board
// carries no `Debug` formatting (str escaping, struct builders: 5 KB).
impl<E: NorFlashError> fmt::Display for FlashStoreError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sequential_storage::Error as S;
        match self {
            Self::Flash(S::Storage { value, .. }) => f.write_str(match value.kind() {
                NorFlashErrorKind::NotAligned => "flash storage: unaligned access",
                NorFlashErrorKind::OutOfBounds => "flash storage: out of bounds",
                _ => "flash storage: the flash failed",
            }),
            Self::Flash(S::FullStorage) => f.write_str("flash storage full"),
            Self::Flash(S::Corrupted { .. }) => f.write_str("flash storage corrupted"),
            Self::Flash(S::BufferTooSmall(needed)) => {
                write!(f, "flash storage: a buffer of {needed} bytes needed")
            }
            Self::Flash(_) => f.write_str("flash storage failed"),
            Self::Geometry(e) => f.write_str(match e {
                MapConfigError::StartRangeNotAtPageBoundary
                | MapConfigError::EndRangeNotAtPageBoundary => {
                    "flash range unusable: not on page boundaries"
                }
                MapConfigError::RangeTooSmall => "flash range unusable: fewer than two pages",
                MapConfigError::PagesTooSmall => "flash range unusable: pages too small",
                MapConfigError::WordSizeTooLarge => "flash range unusable: flash word too large",
            }),
            Self::PageTooSmall => f.write_str("flash page too small for the largest record"),
            Self::TooFewPages { pages, needed } => {
                write!(f, "flash range has {pages} pages, needs at least {needed}")
            }
            Self::Full => f.write_str("outbox store full"),
            Self::TooLarge => f.write_str("record too large"),
            Self::Corrupt => f.write_str("outbox store corrupt"),
            Self::Unreadable => f.write_str("a record written to flash does not read back: flash damaged"),
            Self::Format { found } => write!(
                f,
                "outbox store written in format {found}; this firmware reads format {FORMAT_VERSION}: \
                 run the firmware that wrote it until its outbox is empty"
            ),
        }
    }
}

impl<E: NorFlashError> core::error::Error for FlashStoreError<E> {}

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
/// slot index: about 2.6 KiB of RAM beside the driver.
pub struct FlashStore<F: NorFlash> {
    map: MapStorage<u8, MarkerGuard<F>, SlotCache>,
    /// What each slot holds, as last read from or written to flash.
    slots: [SlotState; STORE_CAPACITY],
    /// The generation of each slot's newest value (what the commit item
    /// holds once written).
    generations: [u32; STORE_CAPACITY],
    /// False after a failed write (the slot may hold the old or the new
    /// value) or a failed read: the next operation rebuilds the index
    /// from flash first.
    index_valid: bool,
    buf: DataBuffer,
}

impl<F: NorFlash> FlashStore<F> {
    /// Open the store on `range` of `flash` (page aligned; at least
    /// [`Self::min_pages`] pages) and read its slot index: one pass over
    /// the map, after letting sequential-storage repair what a power cut
    /// left half done. An erased range is an empty store. Damaged slots
    /// do not fail the open: [`Store::damaged`] reports them.
    ///
    /// The driver is consumed; pass `&mut flash` (every `&mut NorFlash` is
    /// a `NorFlash`) to keep it after an error.
    pub async fn open(flash: F, range: Range<u32>) -> Result<Self, FlashStoreError<F::Error>> {
        let config = MapConfig::<MarkerGuard<F>>::try_new(range.clone())
            .map_err(FlashStoreError::Geometry)?;
        let needed = Self::min_pages().ok_or(FlashStoreError::PageTooSmall)?;
        let pages = range.end.saturating_sub(range.start) / page_size::<F>();
        if pages < needed {
            // (Fewer than `needed`, so `pages` fits where `needed` does.)
            let half = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
            return Err(FlashStoreError::TooFewPages {
                pages: half(pages),
                needed: half(needed),
            });
        }
        let cache = Cache::new(Uncached, Uncached, ArrayKeyPointers::new());
        let mut store = Self {
            map: MapStorage::new(MarkerGuard { flash }, config, cache),
            slots: [SlotState::Free; STORE_CAPACITY],
            generations: [0; STORE_CAPACITY],
            index_valid: false,
            buf: DataBuffer([0; DATA_BUFFER_LEN]),
        };
        store.rebuild_index().await?;
        Ok(store)
    }

    /// The fewest pages a range needs on this flash: room for
    /// [`STORE_CAPACITY`] largest items, the commit item and the item
    /// being written, when every page may waste up to one largest item at
    /// its end (items never span pages), plus the empty page garbage
    /// collection copies into and one page of slack. `None` if a page
    /// cannot hold the largest item.
    pub const fn min_pages() -> Option<u32> {
        let word = flash_word::<F>();
        let page = F::ERASE_SIZE;
        // Two words of every page are sequential-storage's page markers.
        let Some(usable) = page.checked_sub(2 * word) else {
            return None;
        };
        let header = ITEM_HEADER_LEN.next_multiple_of(word);
        let item = header + ITEM_MAX_LEN.next_multiple_of(word);
        let commit = header + COMMIT_ITEM_LEN.next_multiple_of(word);
        if usable < item {
            return None;
        }
        // A page is closed only when the next item does not fit, so a
        // compacted page holds more than `usable - item` bytes.
        let per_page = usable - item + 1;
        let live = (STORE_CAPACITY + 1) * item + commit;
        let pages = live.div_ceil(per_page) + 2;
        if pages > u32::MAX as usize {
            return None;
        }
        Some(pages as u32)
    }

    /// Records held (from the index).
    pub fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, SlotState::Used(_)))
            .count()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots free for new keys.
    pub fn free_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, SlotState::Free))
            .count()
    }

    /// What each slot holds, for the operator's view of damage.
    pub fn slots(&self) -> &[SlotState; STORE_CAPACITY] {
        &self.slots
    }

    /// Erase the whole range: every record is lost. For an operator's
    /// explicit reset only (e.g. after [`FlashStoreError::Corrupt`]).
    pub async fn erase_all(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        self.index_valid = false;
        self.map.erase_all().await?;
        // sequential-storage's key cache still points into the erased
        // pages: a lookup that finds a cached item gone drops the whole
        // cache. Look up every key (cheap on an empty map) so no stale
        // pointer survives to point at a later, different item.
        for key in (0..SLOT_COUNT).chain([COMMIT_KEY]) {
            self.map.fetch_item::<&[u8]>(&mut self.buf.0, &key).await?;
        }
        self.rebuild_index().await
    }

    /// Give the flash driver back.
    pub fn into_inner(self) -> F {
        self.map.destroy().0.flash
    }

    /// Read every slot's newest value and the newest commit item in one
    /// pass over the map, then judge each slot against the commit item
    /// (see the module docs). The newest value of a slot is the one with
    /// the highest generation; of the commit item, the last one
    /// (sequential-storage's contract for `fetch_all_items`).
    async fn rebuild_index(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        self.index_valid = false;
        self.repair_if_needed().await?;
        let mut newest: [Option<(u32, SlotState)>; STORE_CAPACITY] = [None; STORE_CAPACITY];
        let mut committed = [0u32; STORE_CAPACITY];
        // Slots holding a value this layout never writes (its checksum
        // passed, so flash damage hit before it was written, or someone
        // else wrote it): damaged, like one whose value is unreadable.
        let mut foreign = [false; STORE_CAPACITY];
        let mut items = self.map.fetch_all_items(&mut self.buf.0).await?;
        while let Some((key, bytes)) = items.next::<&[u8]>(&mut self.buf.0).await? {
            if key == COMMIT_KEY {
                // An unreadable commit item counts as none: the one
                // before it stays, which is behind, never ahead.
                match parse_commit::<F::Error>(bytes) {
                    Ok(generations) => committed = generations,
                    Err(FlashStoreError::Format { found }) => {
                        return Err(FlashStoreError::Format { found })
                    }
                    Err(_) => {}
                }
                continue;
            }
            // A key past the last slot is not ours either; it holds no
            // record of this terminal's.
            let (Some(entry), Some(foreign)) = (
                newest.get_mut(usize::from(key)),
                foreign.get_mut(usize::from(key)),
            ) else {
                continue;
            };
            let stored = match parse_slot::<F::Error>(bytes) {
                Ok(stored) => stored,
                Err(FlashStoreError::Format { found }) => {
                    return Err(FlashStoreError::Format { found })
                }
                Err(_) => {
                    *foreign = true;
                    continue;
                }
            };
            // A readable value after the foreign one (flash order is write
            // order) is newer than it.
            *foreign = false;
            let generation = stored.generation();
            if entry.is_none_or(|(g, _)| generation >= g) {
                *entry = Some((generation, stored.state()));
            }
        }
        let mut behind = false;
        for ((((slot, generation), newest), committed), foreign) in self
            .slots
            .iter_mut()
            .zip(self.generations.iter_mut())
            .zip(newest)
            .zip(committed)
            .zip(foreign)
        {
            (*slot, *generation) = match newest {
                Some((g, state)) if g >= committed && !foreign => {
                    behind |= g > committed;
                    (state, g)
                }
                None if committed == 0 && !foreign => (SlotState::Free, 0),
                older => {
                    let previous = match older {
                        Some((_, SlotState::Used(key))) => Some(key),
                        _ => None,
                    };
                    (SlotState::Damaged { previous }, committed)
                }
            };
        }
        if behind {
            // A cut between a value and its commit item: commit the value,
            // so that a later loss of it is seen.
            self.commit().await?;
        }
        self.index_valid = true;
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
                self.map.fetch_item::<&[u8]>(&mut self.buf.0, &0).await?;
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
        self.find(|state| *state == SlotState::Used(key))
    }

    fn free_slot(&self) -> Option<u8> {
        self.find(|state| *state == SlotState::Free)
    }

    fn find(&self, which: impl Fn(&SlotState) -> bool) -> Option<u8> {
        (0..SLOT_COUNT)
            .zip(self.slots.iter())
            .find(|(_, state)| which(state))
            .map(|(slot, _)| slot)
    }

    /// Write the next value of `slot`, then the commit item that names it
    /// the slot's newest.
    async fn write_slot(
        &mut self,
        slot: u8,
        record: Option<(Uuid, &[u8])>,
    ) -> Result<(), FlashStoreError<F::Error>> {
        let i = usize::from(slot);
        let generation = self
            .generations
            .get(i)
            .and_then(|g| g.checked_add(1))
            .ok_or(FlashStoreError::Corrupt)?;
        let value = match record {
            Some((key, record)) => Write::Used {
                generation,
                key,
                record,
            },
            None => Write::Free { generation },
        };
        if let Err(e) = self.map.store_item(&mut self.buf.0, &slot, &value).await {
            // The slot now holds its old or its new value; find out
            // before the next operation relies on the index.
            self.index_valid = false;
            return Err(e.into());
        }
        let stored = match record {
            Some((key, record)) => Stored::Used {
                generation,
                key,
                record,
            },
            None => Stored::Free { generation },
        };
        self.read_back(slot, &stored, false).await?;
        if let (Some(g), Some(state)) = (self.generations.get_mut(i), self.slots.get_mut(i)) {
            *g = generation;
            *state = record.map_or(SlotState::Free, |(key, _)| SlotState::Used(key));
        }
        self.commit().await?;
        self.read_back(slot, &stored, true).await
    }

    /// Check that the next boot would find `written` as `slot`'s newest
    /// value — and, with `committed`, the commit item naming its
    /// generation: one pass over the map as [`Self::rebuild_index`] makes
    /// it, not a lookup through the key cache (which points at the item
    /// just written whatever the pages around it say).
    ///
    /// On pages damaged behind sequential-storage's back (a half-written
    /// page marker, an item header it cannot follow, another value of the
    /// same generation) a write can succeed where the next boot's reads
    /// never look, and the commit item written after it with it: the
    /// record would be gone without a trace. Found by the `flash_image`
    /// fuzz target. With the check the put fails — before the request it
    /// protects leaves — and the index is rebuilt before the next
    /// operation. Checked before the commit item is written (the slot then
    /// keeps its older value) and after it (garbage collection on the
    /// commit's write can move or lose items).
    async fn read_back(
        &mut self,
        slot: u8,
        written: &Stored<'_>,
        committed: bool,
    ) -> Result<(), FlashStoreError<F::Error>> {
        let seen = self.boot_view(slot, written).await;
        let ok = matches!(seen, Ok((Some((_, true)), commit))
            if !committed || commit == Some(written.generation()));
        if ok {
            Ok(())
        } else {
            self.index_valid = false;
            Err(FlashStoreError::Unreadable)
        }
    }

    /// What a pass over the map finds for `slot`: the generation of its
    /// newest readable value and whether that value is `written`, and the
    /// generation the last commit item gives it.
    async fn boot_view(
        &mut self,
        slot: u8,
        written: &Stored<'_>,
    ) -> Result<(Option<(u32, bool)>, Option<u32>), FlashStoreError<F::Error>> {
        let mut newest: Option<(u32, bool)> = None;
        let mut commit = None;
        let mut items = self.map.fetch_all_items(&mut self.buf.0).await?;
        while let Some((key, bytes)) = items.next::<&[u8]>(&mut self.buf.0).await? {
            if key == COMMIT_KEY {
                commit = parse_commit::<F::Error>(bytes)
                    .ok()
                    .and_then(|g| g.get(usize::from(slot)).copied());
            } else if key == slot {
                if let Ok(stored) = parse_slot::<F::Error>(bytes) {
                    let generation = stored.generation();
                    if newest.is_none_or(|(g, _)| generation >= g) {
                        newest = Some((generation, stored == *written));
                    }
                }
            }
        }
        Ok((newest, commit))
    }

    /// Write the commit item: every slot's generation.
    async fn commit(&mut self) -> Result<(), FlashStoreError<F::Error>> {
        let value = Write::Commit(&self.generations);
        match self
            .map
            .store_item(&mut self.buf.0, &COMMIT_KEY, &value)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => {
                self.index_valid = false;
                Err(e.into())
            }
        }
    }

    /// The record in `slot`, which the index says belongs to `key`.
    async fn read_slot(&mut self, slot: u8, key: Uuid) -> Result<&[u8], FlashStoreError<F::Error>> {
        let expected = self.generations.get(usize::from(slot)).copied();
        // Where in the work buffer the record is, if `bytes` is the value
        // the index expects: never another key's record or an older value.
        let base = self.buf.0.as_ptr() as usize;
        let wanted = |bytes: &[u8]| match parse_slot::<F::Error>(bytes) {
            Ok(Stored::Used {
                generation,
                key: found,
                record,
            }) if found == key && Some(generation) == expected => {
                Some(((record.as_ptr() as usize).checked_sub(base)?, record.len()))
            }
            _ => None,
        };
        let mut at = match self.map.fetch_item::<&[u8]>(&mut self.buf.0, &slot).await {
            Ok(Some(bytes)) => wanted(bytes),
            _ => None,
        };
        if at.is_none() {
            // On damaged pages the lookup and the pass the index was built
            // from can disagree; the pass is what the index says.
            if let Ok(mut items) = self.map.fetch_all_items(&mut self.buf.0).await {
                while let Ok(Some((found, bytes))) = items.next::<&[u8]>(&mut self.buf.0).await {
                    if found == slot {
                        if let Some(place) = wanted(bytes) {
                            at = Some(place);
                            break;
                        }
                    }
                }
            }
        }
        match at.and_then(|(offset, len)| self.buf.0.get(offset..offset.checked_add(len)?)) {
            Some(record) => Ok(record),
            None => {
                // The next operation rebuilds the index and reports the
                // slot damaged.
                self.index_valid = false;
                Err(FlashStoreError::Corrupt)
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
        self.write_slot(slot, Some((key, bytes))).await
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
            self.write_slot(slot, None).await?;
        }
        Ok(())
    }

    /// Calls `each` in flash order, once per record: one pass over the
    /// map, reporting each used slot's value of the generation the index
    /// holds (the index `open` built serves the boot-time restore). Records
    /// are read into the store's own buffer, so `_buf` is not used.
    async fn for_each(
        &mut self,
        _buf: &mut [u8],
        each: &mut dyn FnMut(Uuid, &[u8]),
    ) -> Result<(), Self::Error> {
        self.ensure_index().await?;
        let mut reported = [false; STORE_CAPACITY];
        let mut items = self.map.fetch_all_items(&mut self.buf.0).await?;
        while let Some((slot, bytes)) = items.next::<&[u8]>(&mut self.buf.0).await? {
            if slot == COMMIT_KEY {
                continue;
            }
            let i = usize::from(slot);
            let (Some(done), Some(state), Some(generation)) = (
                reported.get_mut(i),
                self.slots.get(i),
                self.generations.get(i),
            ) else {
                continue; // a key past the last slot: not ours
            };
            // Foreign values were judged by the index already.
            let Ok(Stored::Used {
                generation: g,
                key,
                record,
            }) = parse_slot::<F::Error>(bytes)
            else {
                continue;
            };
            if *done || g != *generation || *state != SlotState::Used(key) {
                continue; // an older value, or a copy
            }
            *done = true;
            // Only the first slot of a (corrupt) duplicate counts.
            if self.slots.iter().position(|s| *s == SlotState::Used(key)) == Some(i) {
                each(key, record);
            }
        }
        let missing = self
            .slots
            .iter()
            .zip(reported)
            .any(|(state, done)| matches!(state, SlotState::Used(_)) && !done);
        if missing {
            // The flash changed behind the index: rebuild on the next call.
            self.index_valid = false;
            return Err(FlashStoreError::Corrupt);
        }
        Ok(())
    }

    fn damaged(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s, SlotState::Damaged { .. }))
            .count()
    }

    fn for_each_damaged(&self, each: &mut dyn FnMut(usize, Option<Uuid>)) {
        for (slot, state) in self.slots.iter().enumerate() {
            if let SlotState::Damaged { previous } = state {
                each(slot, *previous);
            }
        }
    }

    /// Free every damaged slot: a free value of the next generation, then
    /// the commit item. Their older values stay unreported.
    async fn clear_damaged(&mut self) -> Result<usize, Self::Error> {
        self.ensure_index().await?;
        let mut cleared = 0;
        while let Some(slot) = self.find(|s| matches!(s, SlotState::Damaged { .. })) {
            self.write_slot(slot, None).await?;
            cleared += 1;
        }
        Ok(cleared)
    }
}

#[cfg(test)]
mod tests;
