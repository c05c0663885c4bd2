//! Logging: defmt on the board, `log` on the host. Never pass a secret:
//! configuration types print redacted, and till-core masks MSISDNs.

#[cfg(feature = "defmt")]
macro_rules! info { ($($t:tt)*) => { defmt::info!($($t)*) } }
#[cfg(feature = "defmt")]
macro_rules! warn { ($($t:tt)*) => { defmt::warn!($($t)*) } }
#[cfg(feature = "defmt")]
macro_rules! error { ($($t:tt)*) => { defmt::error!($($t)*) } }

#[cfg(not(feature = "defmt"))]
macro_rules! info { ($($t:tt)*) => { log::info!($($t)*) } }
#[cfg(not(feature = "defmt"))]
macro_rules! warn { ($($t:tt)*) => { log::warn!($($t)*) } }
#[cfg(not(feature = "defmt"))]
macro_rules! error { ($($t:tt)*) => { log::error!($($t)*) } }

/// Any `Display` value, for either logger.
pub(crate) struct Shown<'a, T: core::fmt::Display>(pub &'a T);

impl<T: core::fmt::Display> core::fmt::Display for Shown<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(feature = "defmt")]
impl<T: core::fmt::Display> defmt::Format for Shown<'_, T> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self.0))
    }
}
