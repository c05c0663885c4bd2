//! A NOR flash in a file, for the desktop `till` and the firmware's host
//! (TAP) build: the outbox then runs through the same [`super::FlashStore`]
//! code path as on the board.
//!
//! [`FileFlash`] behaves like the STM32H7's internal flash where it
//! matters to the store: erased bytes read `0xFF`, writes are whole words
//! into erased space only (a second write to a word before its page is
//! erased is an error, as ECC makes it on the H7), erases are whole pages.
//! Every write and erase is flushed to the disk (`sync_data`) before it
//! returns, so a killed process or a crashed machine keeps it.
//!
//! The erased check reads the bytes about to be written and requires all
//! of them to be `0xFF`. That is cheap (one read per write) but cannot see
//! a word that was programmed with all `0xFF`s; sequential-storage never
//! writes a word twice anyway, and the tests' in-memory flash tracks every
//! word exactly.
//!
//! The operations are blocking file I/O behind `async fn`s: each finishes
//! in well under a millisecond plus one `fsync`, which a desktop tool can
//! afford on its executor thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Erase (page) size of the host flash: 4 KiB, a common NOR sector, small
/// enough that a file of [`HOST_PAGE_COUNT`] pages stays 128 KiB.
pub const HOST_PAGE_SIZE: usize = 4096;

/// Write (word) size of the host flash: the STM32H7's 256-bit flash word,
/// so the host pads and aligns items exactly as the board does.
pub const HOST_WORD_SIZE: usize = 32;

/// Pages of the host flash file: with 4 KiB pages a largest record needs
/// a page of its own, so a full store (every pending record and every
/// one set aside) needs [`super::FlashStore::min_pages`] = 30 pages; 32
/// leave room for
/// garbage collection to run rarely.
pub const HOST_PAGE_COUNT: u32 = 32;

/// The flash the desktop and the host build use.
pub type HostFlash = FileFlash<HOST_PAGE_SIZE, HOST_WORD_SIZE>;

/// Bytes moved per file read or write when filling, erasing or checking:
/// one host page, a stack buffer that is small on any desktop.
const IO_CHUNK: usize = 4096;

/// The value of an erased byte on NOR flash.
const ERASED: u8 = 0xFF;

/// A NOR flash of `pages` pages of `PAGE_SIZE` bytes, written in words of
/// `WORD_SIZE` bytes, stored in a file of exactly `pages * PAGE_SIZE`
/// bytes. Addresses run from 0 to [`Self::capacity_bytes`].
#[derive(Debug)]
pub struct FileFlash<const PAGE_SIZE: usize, const WORD_SIZE: usize> {
    file: File,
    pages: u32,
}

/// Why a [`FileFlash`] operation failed.
#[derive(Debug)]
pub enum FileFlashError {
    /// The file could not be read, written or synced.
    Io(io::Error),
    /// An address range beyond the end of the flash.
    OutOfBounds,
    /// A write not on word boundaries, or an erase not on page boundaries.
    NotAligned,
    /// A write to a word that is not erased (ECC flash refuses it).
    NotErased {
        /// The first byte of the word.
        address: u32,
    },
    /// The file exists but has the wrong size for the geometry.
    WrongSize {
        /// `pages * PAGE_SIZE`.
        expected: u64,
        /// The file's size.
        found: u64,
    },
    /// Page or word size zero, page not a whole number of words, no pages,
    /// or more than 4 GiB.
    Geometry,
    /// Another process has the file open (an exclusive lock is held while
    /// a [`FileFlash`] lives): two writers would corrupt it.
    InUse,
}

impl core::fmt::Display for FileFlashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "flash file: {e}"),
            Self::OutOfBounds => f.write_str("flash address out of bounds"),
            Self::NotAligned => f.write_str("flash access not aligned"),
            Self::NotErased { address } => {
                write!(f, "flash word at {address:#x} written twice without erase")
            }
            Self::WrongSize { expected, found } => {
                write!(f, "flash file is {found} bytes, expected {expected}")
            }
            Self::Geometry => f.write_str("flash geometry unusable"),
            Self::InUse => f.write_str(
                "flash file is in use by another process (another `till` on the same outbox?)",
            ),
        }
    }
}

impl std::error::Error for FileFlashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for FileFlashError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl NorFlashError for FileFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            _ => NorFlashErrorKind::Other,
        }
    }
}

impl<const PAGE_SIZE: usize, const WORD_SIZE: usize> FileFlash<PAGE_SIZE, WORD_SIZE> {
    /// Open the flash file at `path`, or create it erased (all `0xFF`) if
    /// it does not exist. Creation writes a temporary file and renames it,
    /// so a crash never leaves a half-created flash. An existing file of
    /// another size is [`FileFlashError::WrongSize`].
    ///
    /// The file is locked exclusively (advisory, `flock` on Unix) for as
    /// long as the `FileFlash` lives: a second open, from this process or
    /// another, is [`FileFlashError::InUse`]. The lock goes with the
    /// process, so a killed `till` leaves none behind.
    pub fn open(path: impl AsRef<Path>, pages: u32) -> Result<Self, FileFlashError> {
        let path = path.as_ref();
        let expected = Self::capacity_for(pages).ok_or(FileFlashError::Geometry)?;
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_erased(path, expected)?;
                OpenOptions::new().read(true).write(true).open(path)?
            }
            Err(e) => return Err(e.into()),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(FileFlashError::InUse),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let found = file.metadata()?.len();
        if found != expected {
            return Err(FileFlashError::WrongSize { expected, found });
        }
        Ok(Self { file, pages })
    }

    /// Bytes of a flash of `pages` pages, if the geometry is usable.
    fn capacity_for(pages: u32) -> Option<u64> {
        if PAGE_SIZE == 0 || PAGE_SIZE.checked_rem(WORD_SIZE) != Some(0) || pages == 0 {
            return None;
        }
        let bytes = u64::try_from(PAGE_SIZE)
            .ok()?
            .checked_mul(u64::from(pages))?;
        // Addresses and the range end are u32.
        (bytes <= u64::from(u32::MAX)).then_some(bytes)
    }

    /// Pages in the flash.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Bytes in the flash.
    pub fn capacity_bytes(&self) -> u32 {
        // `open` checked that this fits.
        u32::try_from(PAGE_SIZE)
            .unwrap_or(u32::MAX)
            .saturating_mul(self.pages)
    }

    /// The whole flash as a range, for [`super::FlashStore::open`].
    pub fn range(&self) -> Range<u32> {
        0..self.capacity_bytes()
    }

    /// `offset..offset + len` if it lies inside the flash.
    fn span(&self, offset: u32, len: usize) -> Result<Range<u64>, FileFlashError> {
        let start = u64::from(offset);
        let len = u64::try_from(len).map_err(|_| FileFlashError::OutOfBounds)?;
        let end = start.checked_add(len).ok_or(FileFlashError::OutOfBounds)?;
        if end > u64::from(self.capacity_bytes()) {
            return Err(FileFlashError::OutOfBounds);
        }
        Ok(start..end)
    }

    /// Fail with [`FileFlashError::NotErased`] unless every byte of `span`
    /// reads `0xFF`.
    fn check_erased(&mut self, span: Range<u64>) -> Result<(), FileFlashError> {
        let mut chunk = [0u8; IO_CHUNK];
        self.file.seek(SeekFrom::Start(span.start))?;
        let mut at = span.start;
        while at < span.end {
            let n = usize::try_from(span.end - at).map_or(IO_CHUNK, |left| left.min(IO_CHUNK));
            let part = chunk.get_mut(..n).ok_or(FileFlashError::OutOfBounds)?;
            self.file.read_exact(part)?;
            if let Some(pos) = part.iter().position(|b| *b != ERASED) {
                let byte = at + pos as u64;
                let word = byte - byte.checked_rem(WORD_SIZE as u64).unwrap_or(0);
                let address = u32::try_from(word).map_err(|_| FileFlashError::OutOfBounds)?;
                return Err(FileFlashError::NotErased { address });
            }
            at += n as u64;
        }
        Ok(())
    }
}

/// Write `len` bytes of `0xFF` to `file` from its current position.
fn fill_erased(file: &mut File, len: u64) -> io::Result<()> {
    let chunk = [ERASED; IO_CHUNK];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).map_or(IO_CHUNK, |l| l.min(IO_CHUNK));
        file.write_all(chunk.get(..n).unwrap_or(&chunk))?;
        left -= n as u64;
    }
    Ok(())
}

/// Create an erased flash file of `len` bytes at `path`, atomically.
fn create_erased(path: &Path, len: u64) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp)?;
    fill_erased(&mut file, len)?;
    file.sync_all()?;
    drop(file);
    // A link, not a rename: if another process created the flash
    // meanwhile (and may hold it locked), keep its file, not ours.
    let linked = std::fs::hard_link(&tmp, path);
    std::fs::remove_file(&tmp)?;
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    // Make the rename itself durable.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl<const PAGE_SIZE: usize, const WORD_SIZE: usize> ErrorType for FileFlash<PAGE_SIZE, WORD_SIZE> {
    type Error = FileFlashError;
}

impl<const PAGE_SIZE: usize, const WORD_SIZE: usize> ReadNorFlash
    for FileFlash<PAGE_SIZE, WORD_SIZE>
{
    /// Any byte can be read, as on memory-mapped internal flash.
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let span = self.span(offset, bytes.len())?;
        self.file.seek(SeekFrom::Start(span.start))?;
        self.file.read_exact(bytes)?;
        Ok(())
    }

    fn capacity(&self) -> usize {
        usize::try_from(self.capacity_bytes()).unwrap_or(usize::MAX)
    }
}

impl<const PAGE_SIZE: usize, const WORD_SIZE: usize> NorFlash for FileFlash<PAGE_SIZE, WORD_SIZE> {
    const WRITE_SIZE: usize = WORD_SIZE;
    const ERASE_SIZE: usize = PAGE_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let page = PAGE_SIZE as u64;
        if u64::from(from) % page != 0 || u64::from(to) % page != 0 {
            return Err(FileFlashError::NotAligned);
        }
        if from > to || to > self.capacity_bytes() {
            return Err(FileFlashError::OutOfBounds);
        }
        self.file.seek(SeekFrom::Start(u64::from(from)))?;
        fill_erased(&mut self.file, u64::from(to - from))?;
        self.file.sync_data()?;
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        let aligned = |n: usize| n.checked_rem(WORD_SIZE) == Some(0);
        if !aligned(offset as usize) || !aligned(bytes.len()) {
            return Err(FileFlashError::NotAligned);
        }
        let span = self.span(offset, bytes.len())?;
        self.check_erased(span.clone())?;
        self.file.seek(SeekFrom::Start(span.start))?;
        self.file.write_all(bytes)?;
        self.file.sync_data()?;
        Ok(())
    }
}
