//! till's fuzz targets: every parser that reads bytes from the network or
//! from flash, behind one function of `&[u8]` each, with the properties it
//! must keep on any input (a property broken is a panic, which the fuzzer
//! reports as a crash).
//!
//! - `cargo test -p till-fuzz` replays every file of `fuzz/corpus/<target>`
//!   and `fuzz/regressions/<target>` through its target (CI does);
//! - `fuzz/run` fuzzes each target with AFL++ through cargo-afl, on the
//!   stable toolchain, for a bounded time (see `fuzz/README.md`);
//! - `cargo run -p till-fuzz --example seeds` rewrites the seed corpora.
//!
//! | target        | reads                                   | property beyond "no panic"                  |
//! |---------------|-----------------------------------------|---------------------------------------------|
//! | `json`        | every wire type of the three APIs, `json::Flat` | `Flat`: whole lines, within `FLAT_CAP` |
//! | `record`      | an outbox record                        | what decodes re-encodes to the same record  |
//! | `cert`        | a leaf and a trust anchor (DER)         | —                                           |
//! | `guard`       | TLS records, read in pieces             | the verdict does not depend on the pieces   |
//! | `http`        | an HTTP/1.1 answer, read in pieces      | read whole and in pieces: the same answer   |
//! | `sntp`        | an SNTP reply                           | an accepted reply answers our request       |
//! | `flash_value` | a slot or commit value                  | a value read has the documented layout      |
//! | `flash_image` | a whole outbox flash range              | a record written is read back, also after a reopen |

use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embedded_storage_async::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use till_core::flash::FlashStore;
use till_core::fuzz::{Guard, Slot};
use till_core::id::Uuid;
use till_core::json::decode;
use till_core::outbox::{Record, Store, RECORD_MAX_LEN};
use till_core::sntp::{Query, WallClock};
use till_core::time::{Instant, UnixTime};
use till_core::{conductor, electrum, momo};

/// A fuzz target: its name (the corpus folder) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target.
pub static TARGETS: &[Target] = &[
    Target {
        name: "json",
        run: json,
    },
    Target {
        name: "record",
        run: record,
    },
    Target {
        name: "cert",
        run: cert,
    },
    Target {
        name: "guard",
        run: guard,
    },
    Target {
        name: "http",
        run: http,
    },
    Target {
        name: "sntp",
        run: sntp,
    },
    Target {
        name: "flash_value",
        run: flash_value,
    },
    Target {
        name: "flash_image",
        run: flash_image,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Decodes `bytes` as every message of the three APIs.
pub fn json(bytes: &[u8]) {
    let _ = decode::<conductor::wire::HealthcheckResponse>(bytes);
    let _ = decode::<conductor::wire::AccountEnquiryRequest>(bytes);
    let _ = decode::<conductor::wire::AccountEnquiryResponse>(bytes);
    let _ = decode::<conductor::wire::CreateTransactionRequest>(bytes);
    let _ = decode::<conductor::wire::PartnerCreateTransactionRequest>(bytes);
    let _ = decode::<conductor::wire::CompleteTransactionRequest>(bytes);
    let _ = decode::<conductor::wire::CancelTransactionRequest>(bytes);
    let _ = decode::<conductor::wire::TransactionResponse>(bytes);
    let _ = decode::<conductor::wire::CatalogResponse>(bytes);
    let _ = decode::<conductor::wire::CreateOrderRequest>(bytes);
    let _ = decode::<conductor::wire::OrderResponse>(bytes);
    let _ = decode::<conductor::error::ErrorResponse>(bytes);
    let _ = decode::<momo::wire::TokenResponse>(bytes);
    let _ = decode::<momo::wire::CreatePaymentsRequest>(bytes);
    let _ = decode::<momo::wire::PaymentStatus>(bytes);
    let _ = decode::<momo::wire::ApiUser>(bytes);
    let _ = decode::<momo::wire::ApiKeyResponse>(bytes);
    let _ = decode::<momo::error::ErrorBody>(bytes);
    let _ = decode::<momo::error::TokenError>(bytes);
    electrum_json(bytes);
    // The console's reader of any answer: whole lines, within its cap.
    if let Ok(flat) = decode::<till_core::json::Flat>(bytes) {
        assert!(flat.text.len() <= till_core::json::FLAT_CAP);
        assert!(flat.text.is_empty() || flat.text.ends_with('\n'));
    }
}

fn electrum_json(bytes: &[u8]) {
    use electrum::wire::*;
    let _ = decode::<PurchaseRequest>(bytes);
    let _ = decode::<PurchaseResponse>(bytes);
    let _ = decode::<TenderAdvice>(bytes);
    let _ = decode::<BasicReversal>(bytes);
    let _ = decode::<BasicAdvice>(bytes);
    let _ = decode::<BasicAdviceResponse>(bytes);
    let _ = decode::<VoucherRequest>(bytes);
    let _ = decode::<VoucherResponse>(bytes);
    let _ = decode::<MsisdnInfoResponse>(bytes);
    let _ = decode::<ProductList>(bytes);
    let _ = decode::<electrum::error::ErrorDetail>(bytes);
}

/// Decodes `bytes` as an outbox record; a record that decodes and fits a
/// store slot re-encodes to bytes that decode to the same record (what
/// the terminal reads back after a reboot is what it wrote).
pub fn record(bytes: &[u8]) {
    let Ok(first) = decode::<Record>(bytes) else {
        return;
    };
    let mut buf = [0u8; RECORD_MAX_LEN];
    let Ok(n) = till_core::json::encode(&first, &mut buf) else {
        return;
    };
    let again = decode::<Record>(&buf[..n]);
    assert_eq!(
        again.as_ref(),
        Ok(&first),
        "a record changed on re-encoding"
    );
}

/// The host the `cert` target checks names against.
pub const CERT_HOST: &str = "api.till.test";

/// The time the `cert` target checks validity at: 2026-12-01T00:00:00Z.
pub const CERT_NOW: u64 = 1_796_083_200 + 86_400;

/// `bytes` = leaf length (u16 BE) ++ leaf DER ++ anchor DER: reads both
/// and checks the leaf against the anchor (every check but the handshake
/// signature), and each certificate as its own anchor.
pub fn cert(bytes: &[u8]) {
    let Some((len, rest)) = bytes.split_first_chunk::<2>() else {
        return;
    };
    let (leaf, anchor) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    let _ = till_core::fuzz::cert_read(leaf);
    let _ = till_core::fuzz::cert_read(anchor);
    let _ = till_core::fuzz::cert_verify(&[leaf], anchor, CERT_HOST, CERT_NOW);
    let _ = till_core::fuzz::cert_verify(&[leaf, anchor], anchor, CERT_HOST, CERT_NOW);
    let _ = till_core::fuzz::cert_verify(&[leaf], leaf, CERT_HOST, CERT_NOW);
}

/// `bytes` = piece length (1 byte; 0 reads as 1) ++ a stream of TLS
/// records: the guard's verdict on the stream read in such pieces is its
/// verdict on the stream read whole, and once it refuses it refuses every
/// later piece.
pub fn guard(bytes: &[u8]) {
    let Some((&piece, stream)) = bytes.split_first() else {
        return;
    };
    let whole = Guard::new().check(stream);
    let mut pieces = Guard::new();
    let mut passed = true;
    for chunk in stream.chunks(usize::from(piece.max(1))) {
        let ok = pieces.check(chunk);
        assert!(passed || !ok, "the guard passed a piece after refusing");
        passed &= ok;
    }
    assert_eq!(
        passed, whole,
        "the verdict depends on how the stream is cut"
    );
}

/// The response buffer of the `http` target: small, so that the
/// too-large paths are reached.
const HTTP_BUFFER: usize = 512;

/// An answer handed out in pieces of one length, then the end of the
/// connection.
struct Pieces<'a> {
    rest: &'a [u8],
    piece: usize,
}

impl embedded_io_async::ErrorType for Pieces<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for Pieces<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.piece).min(self.rest.len());
        let (now, later) = self.rest.split_at(n);
        buf[..n].copy_from_slice(now);
        self.rest = later;
        Ok(n)
    }
}

/// Status, body and keep-alive of `stream` read in pieces of `piece`.
fn http_answer(stream: &[u8], piece: usize) -> Option<(u16, Vec<u8>, bool)> {
    let mut buf = [0u8; HTTP_BUFFER];
    let mut conn = Pieces {
        rest: stream,
        piece,
    };
    let answer = block_on(till_core::net::http1::read_response(&mut conn, &mut buf)).ok()?;
    assert!(answer.len <= HTTP_BUFFER, "a body longer than its buffer");
    Some((
        answer.head.status.0,
        buf[..answer.len].to_vec(),
        answer.keep,
    ))
}

/// `bytes` = piece length (1 byte; 0 reads as 1) ++ an answer: read in
/// such pieces and read whole, it is the same answer (status and body)
/// whenever both read; read whole, more of what follows the answer is
/// seen, so it may only take away the connection's reuse, never grant it.
pub fn http(bytes: &[u8]) {
    let Some((&piece, stream)) = bytes.split_first() else {
        return;
    };
    let whole = http_answer(stream, usize::MAX);
    let pieces = http_answer(stream, usize::from(piece.max(1)));
    if let (Some(whole), Some(pieces)) = (whole, pieces) {
        assert_eq!(
            (whole.0, &whole.1),
            (pieces.0, &pieces.1),
            "the answer depends on how it is cut"
        );
        assert!(pieces.2 || !whole.2, "reuse granted by reading more");
    }
}

/// The server the `sntp` target's query asks.
pub fn sntp_server() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 123)), 123)
}

/// The build time the `sntp` target's clock refuses to go before:
/// 2026-11-30T00:00:00Z.
pub const SNTP_BUILD: UnixTime = UnixTime::from_secs(1_796_083_200);

/// The random bytes of the `sntp` target's query: 1, 2, 3, … (so that the
/// seeds can carry the matching originate timestamp).
pub struct Counter(pub u8);

impl rand_core::RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// `bytes` = a datagram from the server: a reply the query accepts echoes
/// our transmit timestamp and comes from a synchronised server in server
/// mode; the wall clock then takes it only if it is not before the build.
pub fn sntp(bytes: &[u8]) {
    let (query, request) = Query::new(sntp_server(), &mut Counter(0));
    let Ok(time) = query.accept(sntp_server(), bytes) else {
        return;
    };
    let echoed = bytes.get(24..32) == request.get(40..48);
    let mode = bytes.first().map(|b| b & 0b111);
    assert!(
        echoed && mode == Some(4),
        "accepted a reply to another request"
    );
    let mut clock = WallClock::new(SNTP_BUILD);
    let set = clock.set(time, Instant::from_millis(1_000)).is_ok();
    assert_eq!(
        set,
        time >= SNTP_BUILD,
        "the clock took a time before the build"
    );
    assert_eq!(clock.is_set(), set);
}

/// Reads `bytes` as a slot value and as a commit value; what reads has the
/// layout `till_core::flash` documents.
pub fn flash_value(bytes: &[u8]) {
    let version = bytes.first().copied();
    match till_core::fuzz::flash_slot(bytes) {
        Slot::Free { .. } => assert!(bytes.len() == 5 && version == Some(1)),
        Slot::Used { record, .. } => {
            assert!(version == Some(1) && record.len() + 21 == bytes.len())
        }
        Slot::Format(found) => assert!(version == Some(found) && found != 1),
        Slot::Corrupt => {}
    }
    if till_core::fuzz::flash_commit(bytes).is_some() {
        assert!(version == Some(1) && bytes.len() == 1 + 4 * till_core::outbox::STORE_CAPACITY);
    }
}

/// Flash page of the `flash_image` target: the host's page size.
pub const IMAGE_PAGE: usize = 4096;

/// Flash word of the `flash_image` target: the STM32H7's 256-bit word.
pub const IMAGE_WORD: usize = 32;

/// Pages of the `flash_image` target: the fewest the store opens on.
pub fn image_pages() -> usize {
    FlashStore::<RamFlash>::min_pages().map_or(0, |p| p as usize)
}

/// The key the `flash_image` target writes after opening.
pub const IMAGE_KEY: Uuid = Uuid::from_bytes([0x5A; 16]);

/// `bytes` = the start of a flash range (the rest erased): the store
/// opens or refuses with an error, lists what it holds, and if it takes a
/// new record, reads it back — also after opening the range again.
pub fn flash_image(bytes: &[u8]) {
    let mut flash = RamFlash::new(image_pages());
    flash.load(bytes);
    block_on(async {
        let range = flash.range();
        let Ok(mut store) = FlashStore::open(&mut flash, range.clone()).await else {
            return;
        };
        let mut buf = [0u8; RECORD_MAX_LEN];
        let _ = store.for_each(&mut buf, &mut |_, _| {}).await;
        let record = b"{\"fuzz\":true}";
        if store.put(IMAGE_KEY, record).await.is_err() {
            return;
        }
        let got = store.get(IMAGE_KEY, &mut buf).await;
        assert_eq!(
            got.ok().flatten().and_then(|n| buf.get(..n)),
            Some(&record[..])
        );
        // The first store's borrow of the flash ends here: a reboot.
        let Ok(mut store) = FlashStore::open(&mut flash, range).await else {
            panic!("a store that took a record does not open again");
        };
        let got = store.get(IMAGE_KEY, &mut buf).await;
        assert_eq!(
            got.ok().flatten().and_then(|n| buf.get(..n)),
            Some(&record[..]),
            "a record written is gone after a reopen"
        );
    });
}

/// Run a future whose awaits are all ready at once (the RAM flash never
/// waits).
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// A NOR flash in RAM with [`IMAGE_PAGE`] pages and [`IMAGE_WORD`] words:
/// writes can only clear bits, erases set whole pages.
pub struct RamFlash {
    data: Vec<u8>,
}

/// A RAM flash operation out of bounds or misaligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RamFlashError {
    NotAligned,
    OutOfBounds,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
        }
    }
}

impl RamFlash {
    /// `pages` erased pages.
    pub fn new(pages: usize) -> Self {
        Self {
            data: vec![0xFF; pages * IMAGE_PAGE],
        }
    }

    /// Copy `image` over the start of the flash (the rest stays as it is).
    pub fn load(&mut self, image: &[u8]) {
        let n = image.len().min(self.data.len());
        self.data[..n].copy_from_slice(&image[..n]);
    }

    /// The flash, without the erased bytes at its end.
    pub fn image(&self) -> &[u8] {
        let used = self
            .data
            .iter()
            .rposition(|&b| b != 0xFF)
            .map_or(0, |i| i + 1);
        &self.data[..used]
    }

    /// The whole flash as a store range.
    pub fn range(&self) -> core::ops::Range<u32> {
        0..self.data.len() as u32
    }

    fn span(
        &self,
        offset: u32,
        len: usize,
        align: usize,
    ) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = offset as usize;
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError::NotAligned);
        }
        let end = start.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if end > self.data.len() {
            return Err(RamFlashError::OutOfBounds);
        }
        Ok(start..end)
    }
}

impl ErrorType for RamFlash {
    type Error = RamFlashError;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), RamFlashError> {
        let span = self.span(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.data[span]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = IMAGE_WORD;
    const ERASE_SIZE: usize = IMAGE_PAGE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), RamFlashError> {
        let len = (to as usize)
            .checked_sub(from as usize)
            .ok_or(RamFlashError::OutOfBounds)?;
        let span = self.span(from, len, IMAGE_PAGE)?;
        self.data[span].fill(0xFF);
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), RamFlashError> {
        let span = self.span(offset, bytes.len(), IMAGE_WORD)?;
        for (cell, &byte) in self.data[span].iter_mut().zip(bytes) {
            *cell &= byte;
        }
        Ok(())
    }
}
