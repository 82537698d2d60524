//! The advertisement interval unit.
//!
//! VRRPv3 carries its interval in centiseconds (12 bits), VRRPv2 in whole seconds
//! (8 bits). Everything inside vipd keeps intervals as [`Centis`] so the two units
//! can never be mixed; the v2 codec converts at the edge of the packet.

use core::fmt;
use core::time::Duration;

/// A duration counted in centiseconds (hundredths of a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Centis(pub u16);

impl Centis {
    /// The largest interval VRRPv3 can carry: 12 bits, 40.95 s.
    pub const V3_MAX: Centis = Centis(0x0fff);
    /// One second, the default advertisement interval.
    pub const ONE_SECOND: Centis = Centis(100);

    /// Whole seconds, as VRRPv2 carries them.
    pub const fn from_secs(secs: u8) -> Centis {
        Centis(secs as u16 * 100)
    }

    /// The count of centiseconds.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whole seconds, if this interval is a whole number of seconds.
    pub const fn whole_secs(self) -> Option<u16> {
        if self.0 % 100 == 0 {
            Some(self.0 / 100)
        } else {
            None
        }
    }

    /// The same span as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    /// Converts a duration that is an exact number of centiseconds fitting in 16 bits.
    pub fn from_duration(d: Duration) -> Option<Centis> {
        let nanos = d.as_nanos();
        if nanos % 10_000_000 != 0 {
            return None;
        }
        u16::try_from(nanos / 10_000_000).ok().map(Centis)
    }
}

impl From<Centis> for Duration {
    fn from(c: Centis) -> Duration {
        c.as_duration()
    }
}

impl fmt::Display for Centis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}s", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_exact_durations_only() {
        assert_eq!(
            Centis::from_duration(Duration::from_millis(1230)),
            Some(Centis(123))
        );
        assert_eq!(Centis::from_duration(Duration::from_millis(1235)), None);
        assert_eq!(Centis(123).as_duration(), Duration::from_millis(1230));
        assert_eq!(Centis(150).whole_secs(), None);
        assert_eq!(Centis::from_secs(3).whole_secs(), Some(3));
        assert_eq!(Centis(105).to_string(), "1.05s");
    }
}
