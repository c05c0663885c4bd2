//! ST NUCLEO-H743ZI2: STM32H743ZI at 400 MHz, Ethernet RMII with a
//! LAN8742A PHY, TRNG, 2 MiB flash (two banks of 1 MiB, 128 KiB sectors,
//! 256-bit ECC flash words), USART3 on PD8/PD9 to the ST-LINK virtual COM
//! port.
//!
//! Memory use of this board:
//! - bank 1 (0x0800_0000..0x0810_0000) holds the program;
//! - bank 2 (0x0810_0000..0x0820_0000) holds the data areas below, so that
//!   erasing and programming them never stalls code fetches from bank 1;
//! - all RAM is AXI SRAM (embassy-stm32's `memory-x`), reachable by the
//!   Ethernet DMA; the data cache stays off (the Ethernet driver does no
//!   cache maintenance), the instruction cache is on.

use core::ops::Range;
use core::sync::atomic::{AtomicBool, Ordering};

use defmt::{info, unwrap, warn};
use embassy_embedded_hal::flash::partition::Partition;
use embassy_executor::Spawner;
use embassy_net::StackResources;
use embassy_stm32::eth::{Ethernet, GenericPhy, PacketQueue, Sma};
use embassy_stm32::flash::{Async, Flash};
use embassy_stm32::peripherals::{ETH, ETH_SMA, IWDG1, RNG, USART3};
use embassy_stm32::rng::Rng;
use embassy_stm32::usart::BufferedUart;
use embassy_stm32::wdg::IndependentWatchdog;
use embassy_stm32::{bind_interrupts, eth, flash, rng, usart};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use static_cell::StaticCell;
use till_firmware::Parts;

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
    RNG => rng::InterruptHandler<RNG>;
    FLASH => flash::InterruptHandler;
    USART3 => usart::BufferedInterruptHandler<USART3>;
});

/// The internal flash, async (embassy-stm32 drives H7 program/erase by
/// interrupt), shared by the two data areas.
type InternalFlash = Flash<'static, Async>;

/// One data area: a window of bank 2 with offsets starting at 0.
pub type FlashArea = Partition<'static, NoopRawMutex, InternalFlash>;

/// The Ethernet driver with the LAN8742A behind the generic SMI PHY.
type Device = Ethernet<'static, ETH, GenericPhy<Sma<'static, ETH_SMA>>>;

/// The console: USART3, interrupt-driven with ring buffers.
pub type Console = BufferedUart<'static>;

/// The CSPRNG: the TRNG (rand_core 0.6 `RngCore + CryptoRng`).
pub type BoardRng = Rng<'static, RNG>;

/// What this board hands `till_firmware::run`.
pub type BoardParts = Parts<FlashArea, FlashArea, BoardRng, Console>;

/// Flash sector (erase page) size.
const SECTOR: u32 = 128 * 1024;
/// Offset of bank 2 from the start of flash (0x0800_0000).
const BANK2: u32 = 0x10_0000;
/// Sectors of the outbox. Both areas are till-core `FlashStore`s, which
/// need `FlashStore::min_pages()` = 3 sectors on this flash (checked
/// below).
const OUTBOX_SECTORS: u32 = 3;
/// Sectors of the configuration area (a `FlashStore` too).
const CONFIG_SECTORS: u32 = 3;
/// Outbox: 0x0810_0000..0x0816_0000.
const OUTBOX: Range<u32> = BANK2..BANK2 + OUTBOX_SECTORS * SECTOR;
/// Configuration: 0x0816_0000..0x081C_0000. 0x081C_0000.. stays free.
const CONFIG: Range<u32> = OUTBOX.end..OUTBOX.end + CONFIG_SECTORS * SECTOR;

const _: () = {
    assert!(flash::WRITE_SIZE == 32, "H7 flash word is 256 bits");
    assert!(flash::MAX_ERASE_SIZE as u32 == SECTOR);
    assert!(CONFIG.end <= 2 * BANK2, "data areas must stay in bank 2");
    // The stores' flash word (largest of read and write size) must be one
    // sequential-storage supports (<= 32 bytes), and each area must hold
    // at least the pages a store asks for.
    match till_core::flash::FlashStore::<FlashArea>::min_pages() {
        Some(pages) => {
            assert!(pages <= OUTBOX_SECTORS, "outbox area too small");
            assert!(pages <= CONFIG_SECTORS, "configuration area too small");
        }
        None => panic!("a flash sector cannot hold the largest item"),
    }
};

/// Sockets of the network stack: DHCP, DNS, one TCP (HTTPS), one UDP
/// (SNTP). Raise it if the app opens more sockets at once.
const SOCKETS: usize = 4;

/// Ethernet DMA descriptors and buffers, packets of 1536 B: 2 TX (the TCP
/// send buffer holds two segments at most), 4 RX (a 4 KiB TCP window plus
/// ARP, DHCP and DNS).
const ETH_TX: usize = 2;
const ETH_RX: usize = 4;

/// Console ring buffers.
const CONSOLE_TX: usize = 256;
const CONSOLE_RX: usize = 256;

/// Clocks: HSE 8 MHz bypass (the ST-LINK's MCO), PLL1 to 400 MHz system
/// clock, 200 MHz AHB, 100 MHz APBs; HSI48 for the TRNG.
fn config() -> embassy_stm32::Config {
    use embassy_stm32::rcc::*;
    use embassy_stm32::time::Hertz;

    let mut config = embassy_stm32::Config::default();
    config.rcc.hse = Some(Hse {
        freq: Hertz(8_000_000),
        mode: HseMode::Bypass,
    });
    config.rcc.hsi48 = Some(Default::default()); // TRNG kernel clock
    config.rcc.pll1 = Some(Pll {
        source: PllSource::HSE,
        prediv: PllPreDiv::DIV4, // 2 MHz reference
        mul: PllMul::MUL400,     // 800 MHz VCO
        fracn: None,
        divp: Some(PllDiv::DIV2), // 400 MHz
        divq: None,
        divr: None,
    });
    config.rcc.sys = Sysclk::PLL1_P; // 400 MHz
    config.rcc.ahb_pre = AHBPrescaler::DIV2; // 200 MHz
    config.rcc.apb1_pre = APBPrescaler::DIV2; // 100 MHz
    config.rcc.apb2_pre = APBPrescaler::DIV2; // 100 MHz
    config.rcc.apb3_pre = APBPrescaler::DIV2; // 100 MHz
    config.rcc.apb4_pre = APBPrescaler::DIV2; // 100 MHz
    config.rcc.voltage_scale = VoltageScale::Scale1;
    config
}

/// A locally administered unicast MAC address from the chip's unique ID,
/// so that several boards can share a network.
fn mac_address() -> [u8; 6] {
    let uid = embassy_stm32::uid::uid();
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, b) in uid.iter().enumerate() {
        mac[1 + i % 5] ^= *b;
    }
    mac
}

/// Feeds IWDG1 while the app makes progress (`till_firmware::watchdog`).
#[embassy_executor::task]
async fn watchdog_task(mut watchdog: IndependentWatchdog<'static, IWDG1>) -> ! {
    use till_firmware::watchdog::{making_progress, FEED_PERIOD_MS, PROGRESS_LIMIT_MS};
    watchdog.unleash();
    let mut starving = false;
    loop {
        if making_progress() {
            watchdog.pet();
            starving = false;
        } else if !starving {
            defmt::error!(
                "watchdog: no progress for {} ms: the terminal resets",
                PROGRESS_LIMIT_MS
            );
            starving = true;
        }
        embassy_time::Timer::after_millis(FEED_PERIOD_MS).await;
    }
}

#[embassy_executor::task]
async fn net_task(mut runner: embassy_net::Runner<'static, Device>) -> ! {
    runner.run().await
}

/// Bring the board up and build the app's parts. Spawns the network
/// stack's runner task on `spawner`.
pub fn init(spawner: Spawner) -> BoardParts {
    let p = embassy_stm32::init(config());
    info!("till-board: NUCLEO-H743ZI2, 400 MHz");

    // Instruction cache only: safe with DMA, and TLS is compute-bound.
    match cortex_m::Peripherals::take() {
        Some(mut core) => core.SCB.enable_icache(),
        None => warn!("core peripherals already taken: instruction cache left off"),
    }

    // The watchdog first: whatever hangs from here on resets the board.
    // It stops while a debugger halts the core (DBGMCU), so a breakpoint
    // does not reset the board under the probe.
    embassy_stm32::pac::DBGMCU
        .apb4fzr1()
        .modify(|w| w.set_iwdg1(true));
    till_firmware::watchdog::progress();
    let watchdog = IndependentWatchdog::new(
        p.IWDG1,
        till_firmware::watchdog::HARDWARE_TIMEOUT_MS * 1_000,
    );
    spawner.spawn(unwrap!(watchdog_task(watchdog)));

    let mut rng = Rng::new(p.RNG, Irqs);
    let seed = rand_core::RngCore::next_u64(&mut rng);

    static PACKETS: StaticCell<PacketQueue<ETH_TX, ETH_RX>> = StaticCell::new();
    let device = Ethernet::new(
        PACKETS.init(PacketQueue::new()),
        p.ETH,
        Irqs,
        p.PA1,  // REF_CLK
        p.PA7,  // CRS_DV
        p.PC4,  // RXD0
        p.PC5,  // RXD1
        p.PG13, // TXD0
        p.PB13, // TXD1
        p.PG11, // TX_EN
        mac_address(),
        p.ETH_SMA,
        p.PA2, // MDIO
        p.PC1, // MDC
    );
    static RESOURCES: StaticCell<StackResources<SOCKETS>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        device,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(unwrap!(net_task(runner)));

    static FLASH: StaticCell<Mutex<NoopRawMutex, InternalFlash>> = StaticCell::new();
    let flash: &'static _ = FLASH.init(Mutex::new(Flash::new(p.FLASH, Irqs)));
    let outbox_flash = Partition::new(flash, OUTBOX.start, OUTBOX.end - OUTBOX.start);
    let config_flash = Partition::new(flash, CONFIG.start, CONFIG.end - CONFIG.start);

    static CONSOLE_TX_BUF: StaticCell<[u8; CONSOLE_TX]> = StaticCell::new();
    static CONSOLE_RX_BUF: StaticCell<[u8; CONSOLE_RX]> = StaticCell::new();
    let mut uart_config = usart::Config::default();
    uart_config.baudrate = 115_200;
    // (Matched, not `unwrap!`ed: embassy-stm32 is built without defmt,
    // so its errors have no `Format`.)
    let Ok(console) = BufferedUart::new(
        p.USART3,
        p.PD9, // RX (from the ST-LINK)
        p.PD8, // TX (to the ST-LINK)
        CONSOLE_TX_BUF.init([0; CONSOLE_TX]),
        CONSOLE_RX_BUF.init([0; CONSOLE_RX]),
        Irqs,
        uart_config,
    ) else {
        defmt::panic!("console UART: 115200 8N1 refused by the HAL");
    };

    Parts {
        stack,
        outbox_flash,
        outbox_range: 0..OUTBOX.end - OUTBOX.start,
        config_flash,
        config_range: 0..CONFIG.end - CONFIG.start,
        rng,
        console,
        stack_high_water,
    }
}

/// The word painted over the free stack.
const STACK_PAINT: u32 = 0xC0FF_EE5A;
/// Bytes below the stack pointer left unpainted (the painting code's own
/// frame is above the stack pointer; this is only slack).
const PAINT_SLACK: usize = 64;

/// Set once the stack has been painted.
static PAINTED: AtomicBool = AtomicBool::new(false);

/// Paint the free stack. Call first thing in `main`, before the executor
/// and before interrupts are enabled.
pub fn paint_stack() {
    stack_paint_or_scan(true);
    PAINTED.store(true, Ordering::Release);
}

/// Peak stack use since boot, in bytes (stack painting). All embassy tasks
/// and interrupt handlers share the one MSP stack, so this is the peak of
/// the deepest task — the one doing the TLS handshake.
pub fn stack_high_water() -> Option<usize> {
    if !PAINTED.load(Ordering::Acquire) {
        return None;
    }
    Some(stack_paint_or_scan(false))
}

/// With `paint`, fill the stack from its bottom (`_stack_end`) to a little
/// below the current stack pointer with [`STACK_PAINT`] and return 0;
/// without, return the stack used at the deepest point so far: the bytes
/// from the lowest word that no longer holds the paint up to the top
/// (`_stack_start`).
#[allow(unsafe_code)]
#[inline(never)]
fn stack_paint_or_scan(paint: bool) -> usize {
    extern "C" {
        // cortex-m-rt's link.x: the initial MSP (top of RAM) and the lowest
        // address the stack may grow to (after .bss and .uninit).
        static _stack_start: u32;
        static _stack_end: u32;
    }
    // Only the addresses of the linker symbols are taken (safe).
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    let words = bottom as *mut u32;
    if paint {
        let end = sp.saturating_sub(PAINT_SLACK).max(bottom);
        let count = (end - bottom) / 4;
        for i in 0..count {
            // SAFETY: `bottom..end` is RAM between the end of the statics
            // and the stack pointer (minus slack): no Rust object lives
            // there (Cortex-M has no red zone below SP, and this runs before
            // any interrupt is enabled), and `_stack_end` is 4-aligned
            // (asserted by link.x). Volatile writes, no references formed.
            unsafe { words.add(i).write_volatile(STACK_PAINT) };
        }
        0
    } else {
        let count = (sp.min(top) - bottom) / 4;
        let mut i = 0;
        // SAFETY: `bottom..sp` is inside the stack region, aligned as
        // above. Aligned 32-bit volatile reads are single-copy atomic, and
        // no reference is formed, so a frame an interrupt handler writes
        // at the same time only changes the value read.
        while i < count && unsafe { words.add(i).read_volatile() } == STACK_PAINT {
            i += 1;
        }
        top - (bottom + 4 * i)
    }
}
