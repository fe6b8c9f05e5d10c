//! A few recent answers of an expensive, identity-free computation (a day's inflow rows, a
//! day's alerts, the power index), keyed by what they were computed from, so the dashboard's
//! repeated requests for the same day of the same data cost one computation. Keys include the
//! snapshot's stamp, or the list of files the answer read, so new data makes entries stale.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// At most `cap` answers, the most recently used first.
pub(crate) struct Recent<K, V> {
    cap: usize,
    entries: Mutex<VecDeque<(K, Arc<V>)>>,
}

impl<K: PartialEq + Clone, V> Recent<K, V> {
    pub fn new(cap: usize) -> Self {
        Recent {
            cap: cap.max(1),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    fn get(&self, key: &K) -> Option<Arc<V>> {
        let mut e = self.entries.lock().expect("cache lock");
        let i = e.iter().position(|(k, _)| k == key)?;
        let hit = e.remove(i).expect("present");
        let value = hit.1.clone();
        e.push_front(hit);
        Some(value)
    }

    fn put(&self, key: K, value: Arc<V>) {
        let mut e = self.entries.lock().expect("cache lock");
        e.retain(|(k, _)| k != &key);
        e.push_front((key, value));
        e.truncate(self.cap);
    }

    /// The answer for `key`, computed by `compute` when not kept (two requests at once may
    /// both compute; the answers are the same).
    pub async fn get_or_try<E>(
        &self,
        key: K,
        compute: impl AsyncFnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let v = Arc::new(compute().await?);
        self.put(key, v.clone());
        Ok(v)
    }

    /// [`Recent::get_or_try`] for a computation that runs on the calling (blocking) thread.
    pub fn get_or_compute<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let v = Arc::new(compute()?);
        self.put(key, v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_most_recent_and_computes_once_per_key() {
        let cache: Recent<u32, String> = Recent::new(2);
        let mut computed = 0;
        for key in [1, 1, 2, 1, 3, 2] {
            cache
                .get_or_try::<()>(key, async || {
                    computed += 1;
                    Ok(format!("v{key}"))
                })
                .await
                .unwrap();
        }
        // 1 computed, 1 kept, 2 computed, 1 kept, 3 computed (2 dropped), 2 computed again.
        assert_eq!(computed, 4);
        let v = cache
            .get_or_try::<()>(3, async || Ok("new".into()))
            .await
            .unwrap();
        assert_eq!(*v, "v3");
        let failed = cache.get_or_try(9, async || Err("no")).await;
        assert!(failed.is_err());
        assert!(cache.get(&9).is_none(), "a failure is not kept");
    }
}
