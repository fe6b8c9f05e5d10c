//! A value loaded from the operational database and kept between requests (the accepted
//! corrections, the attestations received), asked about again at most every `ttl` through a
//! cheap stamp query and reloaded only when the stamp changed.
//!
//! Once the time is up, one request asks the database while the others go on with what is
//! kept: a change another process made is seen a moment later anyway, and making every request
//! in flight wait for that query (under a busy audit writer, milliseconds) put a stall into the
//! lookups' tail every two seconds. A change made here calls [`Checked::forget`], after which
//! every request waits for the new value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

struct Kept<S, T> {
    checked: Instant,
    stamp: S,
    value: Arc<T>,
}

pub(crate) struct Checked<S, T> {
    ttl: Duration,
    state: RwLock<Option<Kept<S, T>>>,
    /// One load at a time.
    loading: tokio::sync::Mutex<()>,
    /// Bumped by [`Checked::forget`], so a load that began before it does not keep its
    /// older answer.
    generation: AtomicU64,
}

impl<S: PartialEq, T> Checked<S, T> {
    pub fn new(ttl: Duration) -> Self {
        Checked {
            ttl,
            state: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    /// Forgets what is kept: the next request loads again and every request waits for it.
    pub fn forget(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.state.write().expect("kept value") = None;
    }

    fn kept(&self, within_ttl: bool) -> Option<Arc<T>> {
        let state = self.state.read().expect("kept value");
        state
            .as_ref()
            .filter(|k| !within_ttl || k.checked.elapsed() < self.ttl)
            .map(|k| k.value.clone())
    }

    /// The value: kept, or checked with `stamp` and loaded with `load` when the stamp moved.
    pub async fn get<E>(
        &self,
        stamp: impl AsyncFnOnce() -> Result<S, E>,
        load: impl AsyncFnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(v) = self.kept(true) {
            return Ok(v);
        }
        let _one = match self.loading.try_lock() {
            Ok(guard) => guard,
            Err(_) => match self.kept(false) {
                Some(v) => return Ok(v),
                None => self.loading.lock().await,
            },
        };
        if let Some(v) = self.kept(true) {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let stamp = stamp().await?;
        let same = {
            let state = self.state.read().expect("kept value");
            state
                .as_ref()
                .filter(|k| k.stamp == stamp)
                .map(|k| k.value.clone())
        };
        let value = match same {
            Some(v) => v,
            None => Arc::new(load().await?),
        };
        let mut state = self.state.write().expect("kept value");
        if self.generation.load(Ordering::SeqCst) == generation {
            *state = Some(Kept {
                checked: Instant::now(),
                stamp,
                value: value.clone(),
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn loads_when_the_stamp_moves_and_keeps_serving_while_one_request_checks() {
        let kept: Arc<Checked<u32, String>> = Arc::new(Checked::new(Duration::ZERO));
        let (stamps, loads) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let get = |stamp: u32| {
            let (kept, stamps, loads) = (kept.clone(), stamps.clone(), loads.clone());
            async move {
                kept.get::<()>(
                    async || {
                        stamps.fetch_add(1, Ordering::SeqCst);
                        Ok(stamp)
                    },
                    async || {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Ok(format!("v{stamp}"))
                    },
                )
                .await
                .unwrap()
            }
        };
        assert_eq!(*get(1).await, "v1");
        assert_eq!(*get(1).await, "v1");
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "same stamp: not loaded again"
        );
        assert_eq!(*get(2).await, "v2");
        assert_eq!(loads.load(Ordering::SeqCst), 2);

        // While one request holds the check, another is answered from what is kept.
        let guard = kept.loading.try_lock().unwrap();
        assert_eq!(*get(3).await, "v2");
        drop(guard);
        // After forget, nothing is kept: the next request waits for the load.
        kept.forget();
        let guard = kept.loading.try_lock().unwrap();
        let waiting = tokio::spawn(get(4));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "forgotten: waits for the new value");
        drop(guard);
        assert_eq!(*waiting.await.unwrap(), "v4");
    }

    #[tokio::test]
    async fn a_load_begun_before_forget_is_not_kept() {
        let kept: Checked<u32, u32> = Checked::new(Duration::from_secs(60));
        let value = kept
            .get::<()>(
                async || Ok(1),
                async || {
                    kept.forget();
                    Ok(1)
                },
            )
            .await
            .unwrap();
        assert_eq!(*value, 1);
        assert!(kept.kept(false).is_none(), "the older answer was dropped");
    }
}
