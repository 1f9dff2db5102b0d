//! Fair use: a token bucket per participant for prompts and commands.
//!
//! Each participant but the owner (see [`crate::presence`]) may send `rate` requests a second
//! on average and `burst` at once (defaults 10 and 20, `--rate-limit`). The hub
//! asks [`Buckets::take`] before acting on a prompt or a command; a refusal says
//! how long until the next one would be taken. Pure: time is passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `--rate-limit RATE[,BURST]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            per_sec: 10.0,
            burst: 20.0,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Buckets {
    rate: Rate,
    buckets: HashMap<String, Bucket>,
}

impl Buckets {
    pub fn new(rate: Rate) -> Buckets {
        Buckets {
            rate,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token from `who`'s bucket, or says how long until one is there.
    pub fn take(&mut self, who: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.rate;
        if self.buckets.len() > 10_000 {
            // Full buckets are the same as none.
            self.buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * rate.per_sec < rate.burst
            });
        }
        let b = self.buckets.entry(who.to_string()).or_insert(Bucket {
            tokens: rate.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * rate.per_sec;
        b.tokens = (b.tokens + refill).min(rate.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate.per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_and_others_unaffected() {
        let mut b = Buckets::new(Rate::default());
        let t = Instant::now();
        let taken = (0..100).filter(|_| b.take("a", t).is_ok()).count();
        assert_eq!(taken, 20);
        let wait = b.take("a", t).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(b.take("b", t).is_ok());
        assert!(b.take("a", t + Duration::from_millis(100)).is_ok());
        assert!(b.take("a", t + Duration::from_millis(150)).is_err());
    }
}
