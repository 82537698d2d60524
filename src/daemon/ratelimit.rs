//! Rate-limited logging for things a peer can make happen at line rate
//! (malformed packets, foreign adverts): the first occurrence per key is logged,
//! then at most one line per period with the number suppressed in between.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

pub struct RateLimiter {
    period: Duration,
    seen: HashMap<String, (Instant, u64)>,
}

impl RateLimiter {
    pub fn new(period: Duration) -> RateLimiter {
        RateLimiter {
            period,
            seen: HashMap::new(),
        }
    }

    /// Returns `Some(suppressed_since_last_line)` when a line may be logged now.
    pub fn allow(&mut self, key: &str) -> Option<u64> {
        let now = Instant::now();
        match self.seen.get_mut(key) {
            None => {
                self.seen.insert(key.to_owned(), (now, 0));
                Some(0)
            }
            Some((last, suppressed)) if now.duration_since(*last) >= self.period => {
                let n = *suppressed;
                *last = now;
                *suppressed = 0;
                Some(n)
            }
            Some((_, suppressed)) => {
                *suppressed += 1;
                None
            }
        }
    }
}
