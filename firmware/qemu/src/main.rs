//! `till-qemu`: [`till_qemu::sales`] on QEMU's `mps2-an386` (Cortex-M4F,
//! the board's instruction set), replaying the recording built in
//! (`TILL_REPLAY` at build time), with its stack painted. Prints what each
//! sale did and the peak stack used while polling them, and exits
//! (semihosting) with 0 if all three charged. The stack test in `tests/`
//! records, builds and runs it:
//!
//! ```text
//! qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
//!     -semihosting-config enable=on,target=native -kernel till-qemu
//! ```

#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![deny(unsafe_code)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "till-qemu runs on thumbv7em-none-eabihf under QEMU (mps2-an386); \
         `cargo test -p till-qemu` records, builds and runs it"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
mod qemu {
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use cortex_m_rt::entry;
    use cortex_m_semihosting::hprintln;
    use static_cell::ConstStaticCell;
    use till_core::flow::Money;
    use till_qemu::{exit, sales, BoardBuffers, Loopback, Recording, ReplayTcp};

    static RECORDING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/replay.bin"));

    /// The buffers live in static memory, as on the board (not on the
    /// stack being measured).
    static BUFFERS: ConstStaticCell<BoardBuffers> = ConstStaticCell::new(BoardBuffers::new());

    /// The word painted over the free stack.
    const PAINT: u32 = 0xC0FF_EE5A;

    /// How many times in a row the sales may be pending: every replayed
    /// read and write is ready at once, so they never should be.
    const MAX_PENDING: u32 = 1000;

    #[entry]
    fn main() -> ! {
        let Some(recording) = Recording::parse(RECORDING) else {
            hprintln!("till-qemu: no recording built in (set TILL_REPLAY when building)");
            exit(false)
        };
        let bufs = BUFFERS.take();
        let tcp = ReplayTcp::new(&recording);
        // The sales' future sits in this frame (on the board it is a static
        // task): what is measured is the stack below it.
        let mut payment = pin!(sales(&tcp, &Loopback, &recording.site, bufs));
        let top = cortex_m::register::msp::read() as usize;
        paint();
        let mut cx = Context::from_waker(Waker::noop());
        let mut pending = 0;
        let outcome = loop {
            match payment.as_mut().poll(&mut cx) {
                Poll::Ready(outcome) => break outcome,
                Poll::Pending if pending < MAX_PENDING => pending += 1,
                Poll::Pending => {
                    hprintln!("till-qemu: the sales stalled");
                    exit(false)
                }
            }
        };
        let peak = top.saturating_sub(lowest_used());
        hprintln!("connections: {}", tcp.opened());
        hprintln!("peak stack: {} bytes", peak);
        match outcome {
            Ok(sold) => {
                hprintln!("bill: {}", sold.bill);
                hprintln!("momo: {}", sold.momo);
                hprintln!("airtime: {}", sold.airtime);
                exit([sold.bill, sold.momo, sold.airtime] == [Money::Charged; 3])
            }
            Err(e) => {
                hprintln!("sales: error {:?}", e);
                exit(false)
            }
        }
    }

    /// The stack's bounds from cortex-m-rt's link.x: its lowest address
    /// (after the statics) and the current stack pointer.
    fn bounds() -> (usize, usize) {
        extern "C" {
            static _stack_end: u32;
        }
        let bottom = core::ptr::addr_of!(_stack_end) as usize;
        let sp = cortex_m::register::msp::read() as usize;
        (bottom, sp)
    }

    /// Paint the stack from its bottom to a little below this function's
    /// frame.
    #[allow(unsafe_code)]
    #[inline(never)]
    fn paint() {
        let (bottom, sp) = bounds();
        let words = bottom as *mut u32;
        let count = sp.saturating_sub(256).saturating_sub(bottom) / 4;
        for i in 0..count {
            // SAFETY: `bottom..sp - 256` is stack memory below every live
            // frame (no interrupts are enabled here; Cortex-M has no red
            // zone), 4-aligned by link.x. Volatile writes, no references.
            unsafe { words.add(i).write_volatile(PAINT) };
        }
    }

    /// The lowest stack address written since [`paint`].
    #[allow(unsafe_code)]
    #[inline(never)]
    fn lowest_used() -> usize {
        let (bottom, sp) = bounds();
        let words = bottom as *const u32;
        let count = sp.saturating_sub(bottom) / 4;
        let mut i = 0;
        // SAFETY: `bottom..sp` is inside the stack region, 4-aligned;
        // volatile reads, no references.
        while i < count && unsafe { words.add(i).read_volatile() } == PAINT {
            i += 1;
        }
        bottom + 4 * i
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo) -> ! {
        hprintln!("till-qemu: {}", info);
        exit(false)
    }
}
