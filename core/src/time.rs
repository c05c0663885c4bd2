//! Time as data: the core never reads a clock.
//!
//! - [`Instant`] / [`Duration`]: a monotonic millisecond count from an
//!   arbitrary origin (boot), for timeouts, backoff and polling.
//! - [`UnixTime`]: wall-clock milliseconds since 1970-01-01T00:00:00Z, for
//!   Electrum's `time` fields and certificate expiry.
//! - [`Timestamp`]: an RFC 3339 date-time as written on the wire (UTC,
//!   millisecond precision); parsing accepts any offset and any number of
//!   fraction digits and keeps how many were written, so a decoded message
//!   re-encodes to the same text.

use core::fmt;
use core::ops::{Add, Sub};

use crate::json::{Decode, DecodeError, Encode, EncodeError, Reader, Writer};

/// A span of time in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration(u64);

impl Duration {
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// From seconds (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// `self * factor`, saturating.
    pub const fn saturating_mul(self, factor: u64) -> Self {
        Self(self.0.saturating_mul(factor))
    }

    /// The smaller of two durations.
    pub fn min(self, other: Self) -> Self {
        Self(self.0.min(other.0))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// A point on the monotonic clock, in milliseconds since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant(u64);

impl Instant {
    /// The clock's origin.
    pub const ZERO: Self = Self(0);

    /// From milliseconds since the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of time rather than wrapping.
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}ms", self.0)
    }
}

/// Wall-clock time: milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnixTime(u64);

impl UnixTime {
    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// From seconds since the epoch (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// The RFC 3339 form with millisecond precision.
    pub const fn to_timestamp(self) -> Timestamp {
        Timestamp {
            time: self,
            fraction_digits: 3,
        }
    }
}

impl Add<Duration> for UnixTime {
    type Output = UnixTime;
    fn add(self, rhs: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_timestamp().fmt(f)
    }
}

/// Why an RFC 3339 date-time was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TimeError {
    /// Not `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    Syntax,
    /// A field out of range (month 13, 31 April, hour 24, …).
    Range,
    /// Before 1970-01-01T00:00:00Z; wall clocks here never are.
    BeforeEpoch,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => f.write_str("not an RFC 3339 date-time"),
            Self::Range => f.write_str("date-time field out of range"),
            Self::BeforeEpoch => f.write_str("date-time before 1970"),
        }
    }
}

impl core::error::Error for TimeError {}

/// Years this type handles: four-digit years from the epoch on.
const MAX_YEAR: i32 = 9999;

/// An RFC 3339 date-time, normalized to UTC, with millisecond precision.
///
/// `fraction_digits` (0–3) records how many fraction digits to write, so
/// `"2023-09-06T00:00:00Z"` re-encodes without a fraction. Times this
/// terminal makes ([`UnixTime::to_timestamp`]) always write three, as
/// Electrum recommends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timestamp {
    time: UnixTime,
    fraction_digits: u8,
}

impl Timestamp {
    /// The instant in UTC.
    pub const fn unix_time(self) -> UnixTime {
        self.time
    }

    /// Parse an RFC 3339 `date-time`. Lower-case `t`/`z` and a space
    /// separator are accepted (RFC 3339 section 5.6 note); fraction digits
    /// past the third are truncated; a leap second (`:60`) is read as the
    /// last millisecond of that minute.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let b = text.as_bytes();
        // Calendar fields in 32 bits (hardware multiply and divide on the
        // board); only the seconds since the epoch need 64.
        let num = |range: core::ops::Range<usize>| -> Result<i32, TimeError> {
            let digits = b.get(range).ok_or(TimeError::Syntax)?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(TimeError::Syntax);
            }
            digits
                .iter()
                .try_fold(0i32, |acc, d| {
                    acc.checked_mul(10)?.checked_add(i32::from(d - b'0'))
                })
                .ok_or(TimeError::Syntax)
        };
        let expect = |i: usize, allowed: &[u8]| -> Result<(), TimeError> {
            match b.get(i) {
                Some(c) if allowed.contains(c) => Ok(()),
                _ => Err(TimeError::Syntax),
            }
        };
        let year = num(0..4)?;
        expect(4, b"-")?;
        let month = num(5..7)?;
        expect(7, b"-")?;
        let day = num(8..10)?;
        expect(10, b"Tt ")?;
        let hour = num(11..13)?;
        expect(13, b":")?;
        let minute = num(14..16)?;
        expect(16, b":")?;
        let mut second = num(17..19)?;

        let mut i = 19;
        let mut millis = 0i32;
        let mut fraction_digits = 0u8;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                if i - start < 3 {
                    millis = millis * 10 + i32::from(c - b'0');
                    fraction_digits += 1;
                }
                i += 1;
            }
            if i == start {
                return Err(TimeError::Syntax);
            }
            for _ in fraction_digits..3 {
                millis *= 10;
            }
        }
        let offset_minutes = match b.get(i) {
            Some(b'Z' | b'z') => {
                i += 1;
                0
            }
            Some(sign @ (b'+' | b'-')) => {
                let sign = if *sign == b'+' { 1 } else { -1 };
                let oh = num(i + 1..i + 3)?;
                expect(i + 3, b":")?;
                let om = num(i + 4..i + 6)?;
                if oh > 23 || om > 59 {
                    return Err(TimeError::Range);
                }
                i += 6;
                sign * (oh * 60 + om)
            }
            _ => return Err(TimeError::Syntax),
        };
        if i != b.len() {
            return Err(TimeError::Syntax);
        }
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(TimeError::Range);
        }
        if second == 60 {
            second = 59;
            millis = 999;
        }
        let days = i64::from(days_from_civil(year, month, day));
        let secs =
            days * 86_400 + i64::from(hour * 3600 + minute * 60 + second - offset_minutes * 60);
        let ms = secs
            .checked_mul(1000)
            .and_then(|s| s.checked_add(i64::from(millis)))
            .ok_or(TimeError::Range)?;
        let ms = u64::try_from(ms).map_err(|_| TimeError::BeforeEpoch)?;
        Ok(Self {
            time: UnixTime(ms),
            fraction_digits,
        })
    }
}

impl core::str::FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, TimeError> {
        Self::parse(s)
    }
}

impl From<UnixTime> for Timestamp {
    fn from(t: UnixTime) -> Self {
        t.to_timestamp()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms_total = self.time.0;
        let secs = ms_total / 1000;
        let millis = (ms_total % 1000) as u32;
        // Past year 9999 the days do not fit the calendar's 32 bits: the
        // clamp below writes the last second of 9999 either way.
        let days = i32::try_from(secs / 86_400).unwrap_or(i32::MAX / 2);
        let rem = (secs % 86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        let (mut year, mut month, mut day) = (year as u32, month as u32, day as u32);
        let (mut hour, mut minute, mut second) = (rem / 3600, rem / 60 % 60, rem % 60);
        if year > MAX_YEAR as u32 {
            // Clamp rather than write a five-digit year no parser accepts.
            (year, month, day, hour, minute, second) = (MAX_YEAR as u32, 12, 31, 23, 59, 59);
        }
        // Written digit by digit, without `core::fmt`'s padding machinery:
        // this is on every Electrum request and advice.
        let mut text = [0u8; TIMESTAMP_TEXT_LEN];
        let mut n = 0usize;
        let mut put = |value: u32, width: u32, before: Option<u8>| {
            if let Some(b) = before {
                if let Some(slot) = text.get_mut(n) {
                    *slot = b;
                }
                n += 1;
            }
            for i in (0..width).rev() {
                let digit = (value / 10u32.pow(i) % 10) as u8;
                if let Some(slot) = text.get_mut(n) {
                    *slot = b'0' + digit;
                }
                n += 1;
            }
        };
        put(year, 4, None);
        put(month, 2, Some(b'-'));
        put(day, 2, Some(b'-'));
        put(hour, 2, Some(b'T'));
        put(minute, 2, Some(b':'));
        put(second, 2, Some(b':'));
        match self.fraction_digits {
            0 => {}
            1 => put(millis / 100, 1, Some(b'.')),
            2 => put(millis / 10, 2, Some(b'.')),
            _ => put(millis, 3, Some(b'.')),
        }
        put(0, 0, Some(b'Z'));
        // ASCII by construction.
        f.write_str(core::str::from_utf8(text.get(..n).unwrap_or_default()).unwrap_or(""))
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
const TIMESTAMP_TEXT_LEN: usize = 24;

impl Encode for Timestamp {
    fn encode(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.display(self)
    }
}

impl Decode for Timestamp {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        crate::json::decode_from_str(r)
    }
    fn placeholder() -> Self {
        Self {
            time: UnixTime::from_millis(0),
            fraction_digits: 0,
        }
    }
}

const fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

const fn days_in_month(year: i32, month: i32) -> i32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub(crate) const fn days_from_civil(year: i32, month: i32, day: i32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
const fn civil_from_days(days: i32) -> (i32, i32, i32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn parses_and_formats_electrum_times() {
        let t = Timestamp::parse("2020-12-03T12:09:05.017Z").unwrap();
        assert_eq!(t.unix_time().as_millis(), 1_606_997_345_017);
        assert_eq!(t.to_string(), "2020-12-03T12:09:05.017Z");
        let no_frac = Timestamp::parse("2023-09-06T00:00:00Z").unwrap();
        assert_eq!(no_frac.to_string(), "2023-09-06T00:00:00Z");
        assert_eq!(
            no_frac.unix_time().to_timestamp().to_string(),
            "2023-09-06T00:00:00.000Z"
        );
        assert_eq!(
            UnixTime::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn offsets_are_normalized_to_utc() {
        let t = Timestamp::parse("2019-08-24T16:15:22+02:00").unwrap();
        assert_eq!(t.to_string(), "2019-08-24T14:15:22Z");
        let t = Timestamp::parse("2019-08-24t14:15:22.5-00:30").unwrap();
        assert_eq!(t.to_string(), "2019-08-24T14:45:22.5Z");
        // More than three fraction digits: truncated to milliseconds.
        let t = Timestamp::parse("2019-08-24T14:15:22.123456Z").unwrap();
        assert_eq!(t.unix_time().as_millis() % 1000, 123);
        assert_eq!(t.to_string(), "2019-08-24T14:15:22.123Z");
    }

    #[test]
    fn leap_days_and_seconds() {
        assert!(Timestamp::parse("2024-02-29T00:00:00Z").is_ok());
        assert_eq!(
            Timestamp::parse("2023-02-29T00:00:00Z"),
            Err(TimeError::Range)
        );
        assert_eq!(
            Timestamp::parse("2016-12-31T23:59:60Z")
                .unwrap()
                .to_string(),
            "2016-12-31T23:59:59Z"
        );
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "",
            "2020-12-03",
            "2020-12-03T12:09:05",
            "2020-12-03T12:09:05.Z",
            "2020-12-03T12:09:05.017",
            "2020-12-03T12:09:05ZZ",
            "2020-1-03T12:09:05Z",
            "2020-12-03T12:09:05+0200",
            "20201203T120905Z",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(TimeError::Syntax), "{bad}");
        }
        for bad in [
            "2020-13-03T12:09:05Z",
            "2020-04-31T12:09:05Z",
            "2020-12-03T24:00:00Z",
            "2020-12-03T12:60:00Z",
            "2020-12-03T12:00:00+24:00",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(TimeError::Range), "{bad}");
        }
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59Z"),
            Err(TimeError::BeforeEpoch)
        );
    }

    #[test]
    fn monotonic_arithmetic_saturates() {
        let t = Instant::from_millis(1000);
        assert_eq!(t + Duration::from_secs(2), Instant::from_millis(3000));
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(
            Instant::from_millis(u64::MAX) + Duration::from_millis(1),
            Instant::from_millis(u64::MAX)
        );
    }

    #[test]
    fn times_past_year_9999_are_written_as_its_last_second() {
        let text = |ms| UnixTime::from_millis(ms).to_timestamp().to_string();
        assert_eq!(text(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(text(253_402_300_800_000), "9999-12-31T23:59:59.000Z");
        // Days beyond the calendar's 32 bits.
        assert_eq!(text(u64::MAX), "9999-12-31T23:59:59.615Z");
    }

    proptest! {
        #[test]
        fn unix_time_round_trips(ms in 0u64..253_402_300_799_999) {
            let ts = UnixTime::from_millis(ms).to_timestamp();
            let text = ts.to_string();
            prop_assert_eq!(Timestamp::parse(&text), Ok(ts));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Timestamp::parse(&text);
        }
    }
}
