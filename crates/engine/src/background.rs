//! Work a server does for itself (storing residents' reports, following new sources) run at a
//! lower CPU priority than the requests it answers.
//!
//! On a small machine the flush of a wave of reports — ingest, a trace-index segment, the new
//! snapshot — took the cores from the requests answering meanwhile for a fraction of a second:
//! one stalled second of code lookups at p99 ~100 ms among seconds at 15 ms. Run on a thread of
//! its own at a higher nice value (Linux; threads it starts inherit it), the flush takes what
//! the requests leave and a little longer, and the requests keep their latency. A thread of its
//! own because an unprivileged process cannot lower a nice value again, so the shared blocking
//! pool's threads must never be reniced.

use crate::EngineError;

/// The nice value of background work (requests run at the process's own, usually 0).
const BACKGROUND_NICE: i32 = 10;

/// Runs `work` on a new thread at background priority and waits for it without blocking the
/// runtime. A panic in `work` comes back as an internal error.
pub(crate) async fn run<T, F>(what: &'static str, work: F) -> Result<T, EngineError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("fangyi-{what}"))
        .spawn(move || {
            lower_priority();
            let _ = tx.send(work());
        })
        .map_err(EngineError::internal)?;
    rx.await
        .map_err(|_| EngineError::Internal(format!("{what}: the background work panicked")))?
}

/// Makes the calling thread (only it, on Linux) nicer; where that is not possible the work
/// runs at normal priority.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: plain system calls on this thread's own id; no memory is passed.
    let done = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE)
    };
    if done != 0 {
        tracing::debug!(
            "background work at normal priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    /// This thread's nice value (Linux: `/proc/thread-self/stat`, field 19).
    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_work_runs_nicer_and_threads_it_starts_too() {
        let before = own_nice();
        let (mine, helper) = run("test", || {
            let helper = std::thread::spawn(own_nice).join().unwrap();
            Ok((own_nice(), helper))
        })
        .await
        .unwrap();
        assert_eq!(mine, (before + BACKGROUND_NICE).min(19));
        assert_eq!(
            helper, mine,
            "a thread the work starts inherits its priority"
        );
        assert_eq!(own_nice(), before, "the caller's thread is left as it was");
    }

    #[tokio::test]
    async fn errors_and_panics_come_back() {
        let e = run::<(), _>("test", || Err(EngineError::BadRequest("no".into())))
            .await
            .unwrap_err();
        assert!(matches!(e, EngineError::BadRequest(_)), "{e:?}");
        let e = run::<(), _>("test", || panic!("boom")).await.unwrap_err();
        assert!(e.to_string().contains("panicked"), "{e}");
    }
}
