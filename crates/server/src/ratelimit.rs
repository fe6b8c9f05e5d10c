//! A token bucket per client address for the public endpoints: a burst, then a steady rate, so
//! the co-travel self-check cannot be used to enumerate services. Keyed by address unless told
//! otherwise (the trust hub also keys one by region).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets of all clients seen recently.
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    pub fn new(per_second: f64, burst: u32) -> RateLimiter<K> {
        RateLimiter {
            per_second,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`; `Err(seconds)` to wait when there is none.
    pub fn take(&self, ip: K) -> Result<(), f64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() > 100_000 {
            // Forget clients whose buckets have refilled: they would start full anyway.
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (t, at)| *t + rate * now.duration_since(*at).as_secs_f64() < burst);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens =
            (*tokens + self.per_second * now.duration_since(*at).as_secs_f64()).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.per_second)
        }
    }

    /// Whether `key` has a token, without taking it: for a cost charged only once a request
    /// turns out to be genuine. A key never charged is not remembered, so peeking at keys a
    /// client makes up costs no memory.
    pub fn peek(&self, key: &K) -> Result<(), f64> {
        let now = Instant::now();
        let buckets = self.buckets.lock().expect("rate limiter lock");
        let Some((tokens, at)) = buckets.get(key) else {
            return Ok(());
        };
        let tokens =
            (*tokens + self.per_second * now.duration_since(*at).as_secs_f64()).min(self.burst);
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err((1.0 - tokens) / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusals_per_client() {
        let l = RateLimiter::new(1.0, 3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.take(a).is_ok());
        }
        let wait = l.take(a).unwrap_err();
        assert!(wait > 0.0 && wait <= 1.0);
        assert!(l.take(b).is_ok(), "another client has its own bucket");
    }

    #[test]
    fn peeking_takes_nothing_and_any_key_will_do() {
        let l: RateLimiter<String> = RateLimiter::new(1.0, 2);
        let (a, b) = ("330300".to_string(), "440300".to_string());
        for _ in 0..5 {
            assert!(l.peek(&a).is_ok());
        }
        assert!(l.take(a.clone()).is_ok());
        assert!(l.take(a.clone()).is_ok());
        assert!(l.peek(&a).is_err());
        assert!(l.take(a.clone()).is_err());
        assert!(l.peek(&b).is_ok());
        // Made-up keys that are only peeked at are not kept.
        for i in 0..1000 {
            assert!(l.peek(&format!("made-up-{i}")).is_ok());
        }
        assert_eq!(l.buckets.lock().unwrap().len(), 1);
    }
}
