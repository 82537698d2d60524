//! RFC 9568 section 6.1 timer arithmetic, kept exact.
//!
//! Skew_Time is ((256 - Priority) * Master_Adver_Interval) / 256. With a 1 s
//! interval that is a fraction of a second that truncating to whole seconds (as
//! RFC 3768 once did) or to centiseconds (as some implementations do) would get
//! wrong; nanoseconds keep every priority distinct.

use core::time::Duration;

use super::Time;
use crate::wire::{Centis, Version};

const NANOS_PER_CENTI: u64 = 10_000_000;

/// Skew_Time for a router of `priority` that uses `master_adver_interval`.
pub fn skew_time(priority: u8, master_adver_interval: Centis) -> Duration {
    let interval_nanos = u64::from(master_adver_interval.get()) * NANOS_PER_CENTI;
    let weight = 256 - u64::from(priority);
    Duration::from_nanos(weight * interval_nanos / 256)
}

/// Master_Down_Interval: (3 * Master_Adver_Interval) + Skew_Time.
pub fn master_down_interval(priority: u8, master_adver_interval: Centis) -> Duration {
    3 * master_adver_interval.as_duration() + skew_time(priority, master_adver_interval)
}

/// Skew_Time as each version defines it: RFC 3768 6.1 fixes VRRPv2's at
/// (256 - Priority) / 256 seconds whatever the interval; RFC 9568 scales it
/// with Master_Adver_Interval.
pub fn skew_time_for(version: Version, priority: u8, master_adver_interval: Centis) -> Duration {
    match version {
        Version::V2 => skew_time(priority, Centis::ONE_SECOND),
        Version::V3 => skew_time(priority, master_adver_interval),
    }
}

/// Master_Down_Interval as each version defines it (see [`skew_time_for`]).
pub fn master_down_interval_for(
    version: Version,
    priority: u8,
    master_adver_interval: Centis,
) -> Duration {
    3 * master_adver_interval.as_duration()
        + skew_time_for(version, priority, master_adver_interval)
}

/// The Adver_Timer's next deadline after `deadline` fired at `now`: one
/// interval later on the same grid, so a late wake-up delays one advert and
/// never the ones after it. A wake-up later than a whole interval skips the
/// slots already missed rather than sending a burst.
pub fn next_on_grid(deadline: Time, interval: Duration, now: Time) -> Time {
    let step = interval.as_nanos().max(1);
    let missed = (now - deadline).as_nanos() / step;
    let steps = u64::try_from(missed + 1).unwrap_or(u64::MAX);
    let offset = u64::try_from(step)
        .unwrap_or(u64::MAX)
        .saturating_mul(steps);
    Time::from_nanos(deadline.as_nanos().saturating_add(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_time_is_not_truncated() {
        // (256 - 100) * 1 s / 256 = 0.609375 s exactly.
        assert_eq!(skew_time(100, Centis(100)), Duration::from_micros(609_375));
        // (256 - 254) * 10 ms / 256 = 78.125 us: below one centisecond, still non-zero.
        assert_eq!(skew_time(254, Centis(1)), Duration::from_nanos(78_125));
        assert_eq!(skew_time(255, Centis(100)), Duration::from_nanos(3_906_250));
    }

    #[test]
    fn master_down_interval_is_three_intervals_plus_skew() {
        assert_eq!(
            master_down_interval(100, Centis(100)),
            Duration::from_secs(3) + Duration::from_micros(609_375)
        );
        assert_eq!(
            master_down_interval(200, Centis(50)),
            // (256 - 200) * 500 ms / 256 = 109.375 ms.
            Duration::from_millis(1500) + Duration::from_micros(109_375)
        );
    }

    #[test]
    fn adverts_stay_on_their_grid() {
        let ms = Duration::from_millis;
        let t = |ms: u64| Time::from_nanos(ms * 1_000_000);
        // Woken 0.7 ms late: the next advert is still due 10 ms after the last deadline.
        assert_eq!(
            next_on_grid(t(100), ms(10), t(100) + Duration::from_micros(700)),
            t(110)
        );
        assert_eq!(next_on_grid(t(100), ms(10), t(100)), t(110));
        // Woken 25 ms late: the missed slots at 110 and 120 are skipped, not sent in a burst.
        assert_eq!(next_on_grid(t(100), ms(10), t(125)), t(130));
    }
}
