//! The protocol loop's clock and timer.
//!
//! The core's `Time` is CLOCK_MONOTONIC since the daemon started, read
//! directly, and the protocol's next deadline arms a timerfd at that absolute
//! time: the kernel wakes the loop within microseconds of it, where tokio's
//! timer wheel would round up to the next whole millisecond. A packet's time
//! is when the kernel received it (SO_TIMESTAMPNS), not when the loop got to
//! it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::{ClockId as Clock_, clock_gettime};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::protocol::Time;

/// Reads CLOCK_MONOTONIC relative to the daemon's start.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    epoch: Duration,
}

fn read(clock: Clock_) -> Duration {
    // Cannot fail for these clocks on Linux; zero keeps time from going
    // backwards through an arithmetic surprise.
    clock_gettime(clock).map_or(Duration::ZERO, Duration::from)
}

impl Clock {
    pub(super) fn start() -> Clock {
        Clock {
            epoch: read(Clock_::CLOCK_MONOTONIC),
        }
    }

    pub(super) fn now(&self) -> Time {
        Time::from_duration(read(Clock_::CLOCK_MONOTONIC).saturating_sub(self.epoch))
    }

    /// The time of something the kernel stamped with the wall clock at
    /// `stamp` (a received packet): how long ago that was, taken from now.
    pub(super) fn stamped(&self, stamp: Duration) -> Time {
        let age = read(Clock_::CLOCK_REALTIME).saturating_sub(stamp);
        let now = self.now().since_epoch();
        Time::from_duration(now.saturating_sub(age))
    }

    /// The `std` instant of core time `t` (both read CLOCK_MONOTONIC).
    pub(super) fn instant_of(&self, t: Time) -> std::time::Instant {
        let now = std::time::Instant::now();
        let ahead = t.saturating_since(self.now());
        let behind = self.now().saturating_since(t);
        now.checked_sub(behind).unwrap_or(now) + ahead
    }

    /// Time since the daemon started.
    pub(super) fn uptime(&self) -> Duration {
        self.now().since_epoch()
    }
}

/// The timerfd behind [`ProtocolTimer`], as tokio wants it.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A one-shot timer at the protocol's next deadline.
pub(super) struct ProtocolTimer {
    fd: AsyncFd<Fd>,
    /// The deadline the timer is set for; `None` once it fired or when
    /// nothing is due.
    armed: Option<Time>,
}

impl ProtocolTimer {
    pub(super) fn new() -> io::Result<ProtocolTimer> {
        let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
        let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, flags).map_err(io::Error::from)?;
        // SAFETY: the AsyncFd owns the timer, so the descriptor stays open for
        // exactly as long as it is registered.
        let fd = unsafe { AsyncFd::register_with_interest(Fd(timer), Interest::READABLE)? };
        Ok(ProtocolTimer { fd, armed: None })
    }

    /// Sets the timer for `at` (or clears it), unless it is set for that already.
    pub(super) fn arm(&mut self, clock: &Clock, at: Option<Time>) -> io::Result<()> {
        if at == self.armed {
            return Ok(());
        }
        let timer = &self.fd.get_ref().0;
        match at {
            // Absolute, on the same clock as `Time`: never zero, which would
            // disarm it, since the epoch itself is later than boot.
            Some(at) => {
                let when = TimeSpec::from_duration(clock.epoch + at.since_epoch());
                timer.set(
                    Expiration::OneShot(when),
                    TimerSetTimeFlags::TFD_TIMER_ABSTIME,
                )
            }
            None => timer.unset(),
        }
        .map_err(io::Error::from)?;
        self.armed = at;
        Ok(())
    }

    /// Waits until the timer fires.
    pub(super) async fn expired(&mut self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let read = guard.try_io(|fd| {
                let mut count = [0u8; 8];
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut count).map_err(io::Error::from)
            });
            match read {
                Ok(result) => {
                    result?;
                    self.armed = None;
                    return Ok(());
                }
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_timer_fires_at_its_deadline_not_before() {
        let clock = Clock::start();
        let mut timer = ProtocolTimer::new().unwrap();
        let deadline = clock.now() + Duration::from_millis(20);
        timer.arm(&clock, Some(deadline)).unwrap();
        timer.expired().await.unwrap();
        assert!(clock.now() >= deadline);
        // Fired: the same deadline arms it again rather than being skipped.
        let again = clock.now() + Duration::from_millis(1);
        timer.arm(&clock, Some(again)).unwrap();
        timer.expired().await.unwrap();
        assert!(clock.now() >= again);
    }

    #[test]
    fn a_stamp_from_the_past_is_that_long_ago() {
        // Counted from boot, so a second ago is never before the epoch.
        let clock = Clock {
            epoch: Duration::ZERO,
        };
        let second_ago = read(Clock_::CLOCK_REALTIME) - Duration::from_secs(1);
        let then = clock.stamped(second_ago);
        assert!(clock.now() - then >= Duration::from_secs(1), "{then}");
    }
}
