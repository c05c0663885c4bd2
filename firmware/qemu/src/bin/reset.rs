//! `till-qemu-reset`: a fault resets the terminal, and the next boot
//! restores what the outbox held — on QEMU's `mps2-an386`, whose system
//! reset keeps RAM (only the program image is loaded again), so a RAM
//! region left out of the image stands in for the board's flash.
//!
//! 1. First boot: the outbox store (till-core's `FlashStore`, the board's
//!    code) on that region takes a pending MoMo status record, as a sale
//!    does before its request leaves; then the program panics. The panic
//!    handler resets the system, as the board's does.
//! 2. Second boot: `outbox::restore` finds the record pending. Then the
//!    program arms the CMSDK watchdog of the mps2 (the board has IWDG1)
//!    and hangs in a loop that never feeds it: the watchdog's first
//!    timeout raises NMI (whose default handler hangs too), its second
//!    resets the system.
//! 3. Third boot: the record is restored again (nothing delivered it), and
//!    the program exits with success (semihosting).
//!
//! `tests/reset.rs` builds and runs it and checks what each boot printed.

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![deny(unsafe_code)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("till-qemu-reset runs on thumbv7em-none-eabihf under QEMU (mps2-an386)");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
mod qemu {
    use core::future::Future;
    use core::mem::MaybeUninit;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use cortex_m_rt::entry;
    use cortex_m_semihosting::hprintln;
    use embedded_storage_async::nor_flash::{
        ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
    };
    use till_core::flash::FlashStore;
    use till_core::id::Uuid;
    use till_core::outbox::{self, Advice, Outbox, Record, Store, RECORD_MAX_LEN};
    use till_core::time::{Instant, UnixTime};
    use till_qemu::exit;

    /// Flash page and word: the host's page, the STM32H7's 256-bit word.
    const PAGE: usize = 4096;
    const WORD: usize = 32;
    /// Pages of the store: what `FlashStore::min_pages` asks for on this
    /// geometry, checked at boot.
    const PAGES: usize = 32;

    /// Marks the region as set up by an earlier boot.
    const MAGIC: u32 = 0x7111_0B07;

    /// What survives a reset: left out of the image (`.uninit`), so QEMU
    /// neither loads nor zeroes it, and cortex-m-rt does not initialise it.
    struct Persistent {
        magic: u32,
        boots: u32,
        flash: [u8; PAGES * PAGE],
    }

    #[allow(unsafe_code)]
    #[unsafe(link_section = ".uninit.TILL_RESET")]
    static mut PERSISTENT: MaybeUninit<Persistent> = MaybeUninit::uninit();

    /// The one reference to [`PERSISTENT`], taken once at boot.
    #[allow(unsafe_code)]
    fn persistent() -> &'static mut Persistent {
        // SAFETY: called once, from `main`, before anything else runs (no
        // interrupts are enabled); every field is plain integers, valid
        // for any bit pattern, so reading what a previous boot (or power
        // on) left there is defined. `addr_of_mut!` takes no reference to
        // the `static mut` itself.
        unsafe { &mut *core::ptr::addr_of_mut!(PERSISTENT).cast::<Persistent>() }
    }

    /// The CMSDK APB watchdog of mps2-an386 (at 0x4000_8000, clocked by
    /// the 25 MHz system clock): its first timeout raises NMI, its second
    /// resets the system when RESEN is set.
    mod cmsdk_watchdog {
        const BASE: usize = 0x4000_8000;
        const LOAD: usize = BASE;
        const CONTROL: usize = BASE + 0x008;
        const LOCK: usize = BASE + 0xC00;
        const UNLOCK_KEY: u32 = 0x1ACC_E551;
        const INTEN: u32 = 1;
        const RESEN: u32 = 2;

        #[allow(unsafe_code)]
        fn write(address: usize, value: u32) {
            // SAFETY: the watchdog's registers on mps2-an386 (QEMU's
            // hw/arm/mps2.c maps cmsdk-apb-watchdog there); volatile
            // 32-bit writes to device memory.
            unsafe { (address as *mut u32).write_volatile(value) }
        }

        /// Start it with a period of `ticks` of the 25 MHz clock.
        pub fn arm(ticks: u32) {
            write(LOCK, UNLOCK_KEY);
            write(LOAD, ticks);
            write(CONTROL, INTEN | RESEN);
            write(LOCK, 0);
        }
    }

    /// A NOR flash over the persistent region.
    struct RamFlash(&'static mut [u8; PAGES * PAGE]);

    #[derive(Debug)]
    struct OutOfBounds;

    impl NorFlashError for OutOfBounds {
        fn kind(&self) -> NorFlashErrorKind {
            NorFlashErrorKind::OutOfBounds
        }
    }

    impl ErrorType for RamFlash {
        type Error = OutOfBounds;
    }

    impl RamFlash {
        fn span(&mut self, offset: u32, len: usize) -> Result<&mut [u8], OutOfBounds> {
            let start = offset as usize;
            self.0
                .get_mut(start..start.checked_add(len).ok_or(OutOfBounds)?)
                .ok_or(OutOfBounds)
        }
    }

    impl ReadNorFlash for RamFlash {
        const READ_SIZE: usize = 1;
        async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), OutOfBounds> {
            bytes.copy_from_slice(self.span(offset, bytes.len())?);
            Ok(())
        }
        fn capacity(&self) -> usize {
            PAGES * PAGE
        }
    }

    impl NorFlash for RamFlash {
        const WRITE_SIZE: usize = WORD;
        const ERASE_SIZE: usize = PAGE;
        async fn erase(&mut self, from: u32, to: u32) -> Result<(), OutOfBounds> {
            let len = to.checked_sub(from).ok_or(OutOfBounds)? as usize;
            self.span(from, len)?.fill(0xFF);
            Ok(())
        }
        async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), OutOfBounds> {
            for (cell, byte) in self.span(offset, bytes.len())?.iter_mut().zip(bytes) {
                *cell &= byte;
            }
            Ok(())
        }
    }

    /// Run a future whose awaits are all ready at once (the RAM flash).
    fn block_on<T>(future: impl Future<Output = T>) -> T {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    /// The pending record a MoMo sale stores before its request leaves.
    fn pending_record() -> Record {
        Record {
            key: Uuid::from_bytes([0x2A; 16]),
            sale: Uuid::from_bytes([0x2B; 16]),
            seq: 1,
            created: UnixTime::from_secs(1_796_601_600).to_timestamp(),
            advice: Advice::MomoStatus {
                reference_id: Uuid::from_bytes([0x2A; 16]),
                create: None,
            },
            attention: None,
        }
    }

    /// Open the store and restore the outbox: how many records are
    /// pending, and whether the one boot 1 stored is among them.
    async fn restore(flash: &mut RamFlash) -> Result<(usize, bool), &'static str> {
        let range = 0..(PAGES * PAGE) as u32;
        let mut store = FlashStore::open(flash, range).await.map_err(|_| "open")?;
        let mut outbox = Outbox::new();
        let mut buf = [0u8; RECORD_MAX_LEN];
        let report = outbox::restore(&mut store, &mut outbox, &mut buf, Instant::ZERO)
            .await
            .map_err(|_| "restore")?;
        let found = outbox
            .entries()
            .iter()
            .any(|e| e.key == pending_record().key);
        Ok((report.restored, found))
    }

    #[entry]
    fn main() -> ! {
        let state = persistent();
        if state.magic != MAGIC {
            state.flash.fill(0xFF);
            state.boots = 0;
            state.magic = MAGIC;
        }
        state.boots += 1;
        let boots = state.boots;
        hprintln!("boot {}", boots);
        if FlashStore::<RamFlash>::min_pages() > Some(PAGES as u32) {
            hprintln!("too few pages for the store");
            exit(false)
        }
        let mut flash = RamFlash(&mut state.flash);
        match boots {
            1 => {
                let stored = block_on(async {
                    let range = 0..(PAGES * PAGE) as u32;
                    let mut store = FlashStore::open(&mut flash, range).await.ok()?;
                    let record = pending_record();
                    let mut buf = [0u8; RECORD_MAX_LEN];
                    let n = till_core::json::encode(&record, &mut buf).ok()?;
                    store.put(record.key, buf.get(..n)?).await.ok()
                });
                if stored.is_none() {
                    hprintln!("boot 1: the record was not stored");
                    exit(false)
                }
                hprintln!("boot 1: pending record stored; now a fault");
                panic!("a bug after the record was stored")
            }
            2 | 3 => match block_on(restore(&mut flash)) {
                Ok((restored, true)) => {
                    hprintln!(
                        "boot {}: restored {} pending, the record among them",
                        boots,
                        restored
                    );
                    if boots == 3 {
                        hprintln!("boot 3: after the watchdog's reset");
                        exit(true)
                    }
                    hprintln!("boot 2: watchdog armed; now a loop that never feeds it");
                    // 0.2 s at 25 MHz: NMI, then the reset 0.2 s later.
                    cmsdk_watchdog::arm(5_000_000);
                    #[allow(clippy::empty_loop)]
                    loop {}
                }
                Ok((restored, false)) => {
                    hprintln!(
                        "boot {}: restored {} pending, but not the record",
                        boots,
                        restored
                    );
                    exit(false)
                }
                Err(what) => {
                    hprintln!("boot {}: {} failed", boots, what);
                    exit(false)
                }
            },
            _ => {
                hprintln!("boot {}: more resets than the test makes", boots);
                exit(false)
            }
        }
    }

    /// As the board's: a panic resets the system (here it also says why).
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo) -> ! {
        hprintln!("panic: {}; resetting", info.message());
        cortex_m::peripheral::SCB::sys_reset()
    }
}
