use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::vec;
use std::vec::Vec;

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

use super::*;

/// Run a future whose awaits are all ready at once (the flash mocks never
/// wait).
fn block_on<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// An in-memory NOR flash with write-once words (H7 ECC): writing a word
/// that was written since its page's last erase is an error.
#[derive(Debug, Clone)]
struct RamFlash<const PAGE: usize, const WORD: usize> {
    data: Vec<u8>,
    written: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RamError {
    NotAligned,
    OutOfBounds,
    Rewrite(u32),
}

impl NorFlashError for RamError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::Rewrite(_) => NorFlashErrorKind::Other,
        }
    }
}

impl<const PAGE: usize, const WORD: usize> RamFlash<PAGE, WORD> {
    fn new(pages: usize) -> Self {
        Self {
            data: vec![0xFF; pages * PAGE],
            written: vec![false; pages * PAGE / WORD],
        }
    }

    fn range(&self) -> Range<u32> {
        0..self.data.len() as u32
    }

    /// A write the power cut short: the word at `address` got only the
    /// zero bits of `byte` in its first byte, and cannot be written again.
    fn tear(&mut self, address: usize, byte: u8) {
        self.data[address] &= byte;
        self.written[address / WORD] = true;
    }
}

impl<const PAGE: usize, const WORD: usize> ErrorType for RamFlash<PAGE, WORD> {
    type Error = RamError;
}

impl<const PAGE: usize, const WORD: usize> ReadNorFlash for RamFlash<PAGE, WORD> {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamError> {
        let start = offset as usize;
        let src = self
            .data
            .get(start..start + bytes.len())
            .ok_or(RamError::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl<const PAGE: usize, const WORD: usize> NorFlash for RamFlash<PAGE, WORD> {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = PAGE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), RamError> {
        let (from, to) = (from as usize, to as usize);
        if !from.is_multiple_of(PAGE) || !to.is_multiple_of(PAGE) {
            return Err(RamError::NotAligned);
        }
        if from > to || to > self.data.len() {
            return Err(RamError::OutOfBounds);
        }
        self.data[from..to].fill(0xFF);
        self.written[from / WORD..to / WORD].fill(false);
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamError> {
        let start = offset as usize;
        if !start.is_multiple_of(WORD) || !bytes.len().is_multiple_of(WORD) {
            return Err(RamError::NotAligned);
        }
        if start + bytes.len() > self.data.len() {
            return Err(RamError::OutOfBounds);
        }
        let words = start / WORD..(start + bytes.len()) / WORD;
        if let Some(w) = words.clone().find(|w| self.written[*w]) {
            return Err(RamError::Rewrite((w * WORD) as u32));
        }
        self.written[words].fill(true);
        for (d, s) in self.data[start..].iter_mut().zip(bytes) {
            *d &= *s;
        }
        Ok(())
    }
}

/// 8 KiB pages of 32-byte words: three largest records per page.
type Flash = RamFlash<8192, 32>;
/// Pages [`FlashStore::min_pages`] asks for with [`Flash`].
const PAGES: usize = 11;

fn key(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

fn record(n: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| n.wrapping_add(i as u8)).collect()
}

fn open(flash: &mut Flash) -> FlashStore<&mut Flash> {
    let range = flash.range();
    block_on(FlashStore::open(flash, range)).unwrap()
}

fn get(store: &mut FlashStore<&mut Flash>, k: Uuid) -> Option<Vec<u8>> {
    let mut buf = [0u8; RECORD_MAX_LEN];
    block_on(store.get(k, &mut buf))
        .unwrap()
        .map(|n| buf[..n].to_vec())
}

fn all<F: NorFlash>(store: &mut FlashStore<F>) -> Vec<(Uuid, Vec<u8>)> {
    let mut out = Vec::new();
    block_on(store.for_each(&mut [], &mut |k, v| out.push((k, v.to_vec())))).unwrap();
    out.sort();
    out
}

#[test]
fn min_pages_of_the_geometries_in_use() {
    assert_eq!(FlashStore::<&mut Flash>::min_pages(), Some(PAGES as u32));
    // The host flash file: 4 KiB pages.
    assert_eq!(FlashStore::<RamFlash<4096, 32>>::min_pages(), Some(30));
    // STM32H7: 128 KiB sectors of 32-byte words.
    assert_eq!(FlashStore::<RamFlash<131_072, 32>>::min_pages(), Some(3));
    // A page that cannot hold the largest record.
    assert_eq!(FlashStore::<RamFlash<2048, 32>>::min_pages(), None);
}

#[test]
fn data_buffer_fits_largest_item() {
    assert_eq!(ITEM_MAX_LEN, 2070);
    assert_eq!(DATA_BUFFER_LEN, 2080);
}

#[test]
fn put_get_remove_for_each() {
    let mut flash = Flash::new(PAGES);
    let mut store = open(&mut flash);
    assert!(store.is_empty());
    assert_eq!(get(&mut store, key(1)), None);

    block_on(store.put(key(1), &record(1, 100))).unwrap();
    block_on(store.put(key(2), &record(2, 2048))).unwrap();
    block_on(store.put(key(3), &[])).unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(get(&mut store, key(1)), Some(record(1, 100)));
    assert_eq!(get(&mut store, key(2)), Some(record(2, 2048)));
    assert_eq!(get(&mut store, key(3)), Some(Vec::new()));

    block_on(store.remove(key(2))).unwrap();
    block_on(store.remove(key(9))).unwrap(); // missing: not an error
    assert_eq!(get(&mut store, key(2)), None);
    assert_eq!(
        all(&mut store),
        vec![(key(1), record(1, 100)), (key(3), Vec::new())]
    );
    assert_eq!(store.len(), 2);
}

#[test]
fn put_replaces() {
    let mut flash = Flash::new(PAGES);
    let mut store = open(&mut flash);
    block_on(store.put(key(1), &record(1, 500))).unwrap();
    block_on(store.put(key(1), &record(7, 40))).unwrap();
    assert_eq!(get(&mut store, key(1)), Some(record(7, 40)));
    assert_eq!(store.len(), 1);
    assert_eq!(all(&mut store), vec![(key(1), record(7, 40))]);
}

#[test]
fn full_and_too_large() {
    let mut flash = Flash::new(PAGES);
    let mut store = open(&mut flash);
    for n in 0..STORE_CAPACITY as u8 {
        block_on(store.put(key(n), &record(n, 64))).unwrap();
    }
    assert_eq!(store.free_slots(), 0);
    assert!(matches!(
        block_on(store.put(key(99), &record(0, 10))),
        Err(FlashStoreError::Full)
    ));
    // Replacing still works when full.
    block_on(store.put(key(3), &record(30, 70))).unwrap();
    assert!(matches!(
        block_on(store.put(key(3), &record(0, RECORD_MAX_LEN + 1))),
        Err(FlashStoreError::TooLarge)
    ));
    // A caller buffer too small for the record.
    let mut small = [0u8; 10];
    assert!(matches!(
        block_on(store.get(key(3), &mut small)),
        Err(FlashStoreError::TooLarge)
    ));
    // Removing frees a slot for a new key.
    block_on(store.remove(key(0))).unwrap();
    block_on(store.put(key(99), &record(9, 10))).unwrap();
    assert_eq!(get(&mut store, key(99)), Some(record(9, 10)));
    assert_eq!(get(&mut store, key(3)), Some(record(30, 70)));
}

#[test]
fn reopen_restores_index() {
    let mut flash = Flash::new(PAGES);
    {
        let mut store = open(&mut flash);
        block_on(store.put(key(1), &record(1, 300))).unwrap();
        block_on(store.put(key(2), &record(2, 300))).unwrap();
        block_on(store.put(key(3), &record(3, 300))).unwrap();
        block_on(store.put(key(2), &record(22, 30))).unwrap();
        block_on(store.remove(key(1))).unwrap();
    }
    let mut store = open(&mut flash);
    assert_eq!(store.len(), 2);
    assert_eq!(
        all(&mut store),
        vec![(key(2), record(22, 30)), (key(3), record(3, 300))]
    );
    // The freed slot is reused, the others keep their keys.
    block_on(store.put(key(4), &record(4, 10))).unwrap();
    assert_eq!(store.len(), 3);
}

/// A full outbox of largest records, replaced and removed over and over
/// on the fewest pages `open` accepts: garbage collection never runs out
/// of room, and no word is ever written twice (the mock would fail).
#[test]
fn churn_on_minimum_geometry_never_fills_flash() {
    let mut flash = Flash::new(PAGES);
    let mut store = open(&mut flash);
    for round in 0..40u8 {
        for n in 0..STORE_CAPACITY as u8 {
            let len = if (n + round) % 3 == 0 {
                100
            } else {
                RECORD_MAX_LEN
            };
            block_on(store.put(key(n), &record(n ^ round, len))).unwrap();
        }
        if round % 5 == 0 {
            for n in (0..STORE_CAPACITY as u8).step_by(2) {
                block_on(store.remove(key(n))).unwrap();
            }
        }
    }
    let mut store = open(&mut flash);
    assert_eq!(store.len(), STORE_CAPACITY);
    let n = 5u8;
    let round = 39u8;
    assert_eq!(
        get(&mut store, key(n)),
        Some(record(n ^ round, RECORD_MAX_LEN))
    );
}

#[test]
fn host_geometry_churn() {
    let mut flash = RamFlash::<4096, 32>::new(30);
    let range = flash.range();
    let mut store = block_on(FlashStore::open(&mut flash, range)).unwrap();
    for round in 0..20u8 {
        for n in 0..STORE_CAPACITY as u8 {
            block_on(store.put(key(n), &record(round, RECORD_MAX_LEN))).unwrap();
        }
    }
    assert_eq!(store.len(), STORE_CAPACITY);
}

/// A power cut tore the write of a page's first marker after one bit: the
/// marker reads as unwritten to sequential-storage, which would write the
/// word again (forbidden on ECC flash; the mock fails). The guard reads it
/// as written: an empty page in use.
#[test]
fn torn_page_marker_is_not_written_twice() {
    let mut flash = Flash::new(PAGES);
    flash.tear(0, 0b1111_1110);
    {
        let mut store = open(&mut flash);
        for n in 0..6 {
            block_on(store.put(key(n), &record(n, 1500))).unwrap();
        }
    }
    // The same for the end marker of a page in use: the first page fills
    // up next, and closing it writes its end marker.
    let end_of_page_1 = 2 * 8192 - 32;
    flash.tear(end_of_page_1, 0b0111_1111);
    let mut store = open(&mut flash);
    for round in 0..10u8 {
        for n in 0..6 {
            block_on(store.put(key(n), &record(n ^ round, 1500))).unwrap();
        }
    }
    let mut store = open(store.into_inner());
    assert_eq!(store.len(), 6);
    assert_eq!(get(&mut store, key(5)), Some(record(5 ^ 9, 1500)));
}

#[test]
fn geometry_errors() {
    let mut flash = Flash::new(PAGES - 1);
    let range = flash.range();
    assert!(matches!(
        block_on(FlashStore::open(&mut flash, range)),
        Err(FlashStoreError::TooFewPages {
            pages: 10,
            needed: 11
        })
    ));
    let mut flash = Flash::new(PAGES);
    assert!(matches!(
        block_on(FlashStore::open(&mut flash, 100..8192 * 8)),
        Err(FlashStoreError::Geometry(_))
    ));
    let mut small = RamFlash::<2048, 32>::new(40);
    let range = small.range();
    assert!(matches!(
        block_on(FlashStore::open(&mut small, range)),
        Err(FlashStoreError::PageTooSmall)
    ));
}

#[test]
fn erase_all_empties_the_store() {
    let mut flash = Flash::new(PAGES);
    let mut store = open(&mut flash);
    for n in 0..10 {
        block_on(store.put(key(n), &record(n, 1000))).unwrap();
    }
    block_on(store.erase_all()).unwrap();
    assert!(store.is_empty());
    assert_eq!(get(&mut store, key(1)), None);
    block_on(store.put(key(1), &record(5, 5))).unwrap();
    assert_eq!(get(&mut store, key(1)), Some(record(5, 5)));
    let mut store = open(&mut flash);
    assert_eq!(all(&mut store), vec![(key(1), record(5, 5))]);
}

#[test]
fn a_foreign_value_damages_its_slot_and_nothing_else() {
    // A map written by someone else: values this format never writes
    // (too short for a generation, a record key cut short, an empty
    // value, a version before the first). The slot is damaged (it may
    // have held a record), the store opens, and the other slots work.
    for (slot, value) in [
        (0u8, &[FORMAT_VERSION, 2, 3][..]),
        (0, &[FORMAT_VERSION, 0, 0, 0, 0, 9, 9][..]),
        (3, &[][..]),
        (5, &[0, 1, 0, 0, 0][..]),
    ] {
        let mut flash = foreign(slot, value);
        let mut store = open(&mut flash);
        assert_eq!(store.damaged(), 1, "{slot}: {value:?}");
        assert_eq!(
            store.slots()[usize::from(slot)],
            SlotState::Damaged { previous: None }
        );
        block_on(store.put(key(1), &record(1, 1))).unwrap();
        assert_eq!(get(&mut store, key(1)), Some(record(1, 1)));
        let mut store = open(&mut flash);
        assert_eq!(all(&mut store), vec![(key(1), record(1, 1))]);
        assert_eq!(store.damaged(), 1, "still reported until acknowledged");
    }
    // A commit item of the wrong length counts as none; a key past the
    // last slot holds nothing of ours: neither hides a record.
    for (key_, value) in [
        (COMMIT_KEY, &[FORMAT_VERSION, 1, 0, 0, 0][..]),
        (SLOT_COUNT, &[FORMAT_VERSION, 1, 0, 0, 0][..]),
    ] {
        let mut flash = foreign(key_, value);
        let mut store = open(&mut flash);
        assert_eq!(store.damaged(), 0, "{key_}: {value:?}");
        block_on(store.put(key(2), &record(2, 2))).unwrap();
        let mut store = open(&mut flash);
        assert_eq!(all(&mut store), vec![(key(2), record(2, 2))]);
    }
}

/// A flash whose map holds `value` under `key`, written around our layer.
fn foreign(key: u8, value: &[u8]) -> Flash {
    let mut flash = Flash::new(PAGES);
    let range = flash.range();
    let config = MapConfig::<&mut Flash>::try_new(range).unwrap();
    let mut map = MapStorage::<u8, _, _>::new(&mut flash, config, Cache::new_uncached());
    let mut buf = DataBuffer([0; DATA_BUFFER_LEN]);
    block_on(map.store_item(&mut buf.0, &key, &value)).unwrap();
    flash
}

#[test]
fn a_newer_format_is_left_alone() {
    let mut flash = foreign(0, &[FORMAT_VERSION + 1, 1, 0, 0, 0]);
    let before = flash.data.clone();
    let range = flash.range();
    let e = block_on(FlashStore::open(&mut flash, range)).err().unwrap();
    assert!(matches!(e, FlashStoreError::Format { found: 2 }), "{e:?}");
    assert!(std::format!("{e}").contains("format 2; this firmware reads format 1"));
    assert!(flash.data == before, "nothing written");
}

/// Where the newest value of `key` lies: the last stretch of `needle` in
/// the flash (a record's bytes are unique in these tests).
fn find(flash: &Flash, needle: &[u8]) -> usize {
    flash
        .data
        .windows(needle.len())
        .rposition(|w| w == needle)
        .expect("value on flash")
}

#[test]
fn a_damaged_newest_value_is_reported_not_replaced_by_the_older_one() {
    let mut flash = Flash::new(PAGES);
    {
        let mut store = open(&mut flash);
        block_on(store.put(key(1), &record(1, 300))).unwrap();
        block_on(store.put(key(2), &record(2, 300))).unwrap();
        // Slot of key 2 gets a newer value; slot of key 3 is used, freed.
        block_on(store.put(key(2), &record(20, 300))).unwrap();
        block_on(store.put(key(3), &record(3, 300))).unwrap();
        block_on(store.remove(key(3))).unwrap();
    }
    // One bit of key 2's newest record flips.
    let at = find(&flash, &record(20, 300)) + 100;
    flash.data[at] ^= 0x10;
    let mut store = open(&mut flash);
    assert_eq!(
        all(&mut store),
        vec![(key(1), record(1, 300))],
        "the older value of key 2 is not reported"
    );
    assert_eq!(store.damaged(), 1);
    assert_eq!(
        store.slots()[1],
        SlotState::Damaged {
            previous: Some(key(2))
        }
    );
    assert_eq!(get(&mut store, key(2)), None);
    // The damaged slot is not given to a new key.
    let free = store.free_slots();
    assert_eq!(free, STORE_CAPACITY - 2);
    // It stays reported on every boot until acknowledged.
    let mut store = open(store.into_inner());
    assert_eq!(store.damaged(), 1);
    assert_eq!(block_on(store.clear_damaged()).unwrap(), 1);
    assert_eq!(store.damaged(), 0);
    assert_eq!(store.free_slots(), STORE_CAPACITY - 1);
    let mut store = open(store.into_inner());
    assert_eq!(store.damaged(), 0);
    assert_eq!(all(&mut store), vec![(key(1), record(1, 300))]);
    block_on(store.put(key(4), &record(4, 30))).unwrap();
    assert_eq!(get(&mut store, key(4)), Some(record(4, 30)));
}

#[test]
fn a_damaged_only_value_is_reported() {
    let mut flash = Flash::new(PAGES);
    {
        let mut store = open(&mut flash);
        block_on(store.put(key(1), &record(1, 300))).unwrap();
        block_on(store.put(key(2), &record(2, 300))).unwrap();
    }
    let at = find(&flash, &record(1, 300));
    flash.data[at] ^= 0x01;
    let mut store = open(&mut flash);
    assert_eq!(store.damaged(), 1);
    assert_eq!(store.slots()[0], SlotState::Damaged { previous: None });
    assert_eq!(all(&mut store), vec![(key(2), record(2, 300))]);
}

/// A flash the test can reach while a store owns it.
struct Shared(std::rc::Rc<std::cell::RefCell<Flash>>);

impl ErrorType for Shared {
    type Error = RamError;
}

impl ReadNorFlash for Shared {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamError> {
        // RamFlash never waits: finish its future before the borrow ends.
        block_on(self.0.borrow_mut().read(offset, bytes))
    }

    fn capacity(&self) -> usize {
        self.0.borrow().capacity()
    }
}

impl NorFlash for Shared {
    const WRITE_SIZE: usize = 32;
    const ERASE_SIZE: usize = 8192;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), RamError> {
        block_on(self.0.borrow_mut().erase(from, to))
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamError> {
        block_on(self.0.borrow_mut().write(offset, bytes))
    }
}

#[test]
fn damage_while_running_is_never_served() {
    let flash = std::rc::Rc::new(std::cell::RefCell::new(Flash::new(PAGES)));
    let range = flash.borrow().range();
    let mut store = block_on(FlashStore::open(Shared(flash.clone()), range)).unwrap();
    block_on(store.put(key(1), &record(1, 300))).unwrap();
    block_on(store.put(key(1), &record(10, 300))).unwrap();
    block_on(store.put(key(2), &record(2, 300))).unwrap();
    // Key 1's newest value flips behind the store's index.
    let at = find(&flash.borrow(), &record(10, 300));
    flash.borrow_mut().data[at] ^= 0x80;
    let mut buf = [0u8; RECORD_MAX_LEN];
    // The lookup finds the older value and refuses it, ...
    assert!(matches!(
        block_on(store.get(key(1), &mut buf)),
        Err(FlashStoreError::Corrupt)
    ));
    // ... the next operation rebuilds the index and reports the slot.
    assert_eq!(block_on(store.get(key(1), &mut buf)).unwrap(), None);
    assert_eq!(store.damaged(), 1);
    assert_eq!(
        store.slots()[0],
        SlotState::Damaged {
            previous: Some(key(1))
        }
    );
    assert_eq!(all(&mut store), vec![(key(2), record(2, 300))]);
}

#[test]
fn a_cut_between_value_and_commit_keeps_the_value_and_commits_it() {
    let mut flash = Flash::new(PAGES);
    {
        let mut store = open(&mut flash);
        block_on(store.put(key(1), &record(1, 300))).unwrap();
        // The value of the next put, without its commit item (as a cut
        // right after it leaves it).
        let generation = store.generations[0] + 1;
        let value = Write::Used {
            generation,
            key: key(1),
            record: &record(11, 300),
        };
        block_on(store.map.store_item(&mut store.buf.0, &0, &value)).unwrap();
    }
    let mut store = open(&mut flash);
    assert_eq!(store.damaged(), 0);
    assert_eq!(all(&mut store), vec![(key(1), record(11, 300))]);
    // Open committed it: a flip of that value now counts as damage.
    let flash = store.into_inner();
    let at = find(flash, &record(11, 300));
    flash.data[at] ^= 0x02;
    let store = open(flash);
    assert_eq!(store.damaged(), 1);
}

#[test]
fn error_display() {
    let e: FlashStoreError<RamError> = FlashStoreError::TooFewPages {
        pages: 2,
        needed: 3,
    };
    assert_eq!(
        std::format!("{e}"),
        "flash range has 2 pages, needs at least 3"
    );
    let e: FlashStoreError<RamError> = sequential_storage::Error::FullStorage.into();
    assert_eq!(std::format!("{e}"), "flash storage full");
    let e: FlashStoreError<RamError> = FlashStoreError::Geometry(MapConfigError::RangeTooSmall);
    assert_eq!(
        std::format!("{e}"),
        "flash range unusable: fewer than two pages"
    );
}

#[cfg(feature = "std")]
mod file_flash {
    use super::*;
    use crate::flash::file::{FileFlash, FileFlashError, HostFlash, HOST_PAGE_COUNT};

    /// A fresh path in the temp dir, removed on drop.
    struct TempPath(std::path::PathBuf);

    impl TempPath {
        fn new(name: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let file = std::format!("till-flash-{name}-{}-{nanos}.bin", std::process::id());
            Self(std::env::temp_dir().join(file))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn host_geometry_holds_a_full_outbox() {
        let needed = FlashStore::<HostFlash>::min_pages().unwrap();
        assert!(needed <= HOST_PAGE_COUNT, "{needed} pages needed");
    }

    #[test]
    fn created_erased_and_survives_reopen() {
        let path = TempPath::new("reopen");
        {
            let flash = HostFlash::open(&path.0, HOST_PAGE_COUNT).unwrap();
            assert_eq!(
                std::fs::metadata(&path.0).unwrap().len(),
                u64::from(HOST_PAGE_COUNT) * 4096
            );
            let range = flash.range();
            let mut store = block_on(FlashStore::open(flash, range)).unwrap();
            assert!(store.is_empty());
            for n in 0..STORE_CAPACITY as u8 {
                block_on(store.put(key(n), &record(n, 1500))).unwrap();
            }
            block_on(store.put(key(4), &record(40, 44))).unwrap();
            block_on(store.remove(key(7))).unwrap();
        }
        let flash = HostFlash::open(&path.0, HOST_PAGE_COUNT).unwrap();
        let range = flash.range();
        let mut store = block_on(FlashStore::open(flash, range)).unwrap();
        assert_eq!(store.len(), STORE_CAPACITY - 1);
        let mut buf = [0u8; RECORD_MAX_LEN];
        let n = block_on(store.get(key(4), &mut buf)).unwrap().unwrap();
        assert_eq!(&buf[..n], &record(40, 44)[..]);
        let n = block_on(store.get(key(9), &mut buf)).unwrap().unwrap();
        assert_eq!(&buf[..n], &record(9, 1500)[..]);
        assert_eq!(block_on(store.get(key(7), &mut buf)).unwrap(), None);
    }

    #[test]
    fn write_twice_without_erase_fails() {
        let path = TempPath::new("ecc");
        let mut flash = FileFlash::<4096, 32>::open(&path.0, 2).unwrap();
        let word = [0x5Au8; 32];
        block_on(flash.write(32, &word)).unwrap();
        assert!(matches!(
            block_on(flash.write(32, &word)),
            Err(FileFlashError::NotErased { address: 32 })
        ));
        assert!(matches!(
            block_on(flash.write(16, &word)),
            Err(FileFlashError::NotAligned)
        ));
        assert!(matches!(
            block_on(flash.write(8192, &word)),
            Err(FileFlashError::OutOfBounds)
        ));
        let mut back = [0u8; 40];
        block_on(flash.read(30, &mut back)).unwrap();
        assert_eq!(&back[..2], &[0xFF, 0xFF]);
        assert_eq!(&back[2..34], &word);
        block_on(flash.erase(0, 4096)).unwrap();
        block_on(flash.write(32, &word)).unwrap();
        assert!(matches!(
            block_on(flash.erase(0, 100)),
            Err(FileFlashError::NotAligned)
        ));
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_lives() {
        let path = TempPath::new("lock");
        let first = HostFlash::open(&path.0, HOST_PAGE_COUNT).unwrap();
        assert!(matches!(
            HostFlash::open(&path.0, HOST_PAGE_COUNT),
            Err(FileFlashError::InUse)
        ));
        drop(first);
        HostFlash::open(&path.0, HOST_PAGE_COUNT).unwrap();
        assert_eq!(
            std::format!("{}", FileFlashError::InUse),
            "flash file is in use by another process (another `till` on the same outbox?)"
        );
    }

    #[test]
    fn wrong_size_is_an_error() {
        let path = TempPath::new("size");
        drop(FileFlash::<4096, 32>::open(&path.0, 2).unwrap());
        assert!(matches!(
            FileFlash::<4096, 32>::open(&path.0, 3),
            Err(FileFlashError::WrongSize {
                expected: 12288,
                found: 8192
            })
        ));
        assert!(matches!(
            FileFlash::<4096, 0>::open(&path.0, 3),
            Err(FileFlashError::Geometry)
        ));
    }
}
