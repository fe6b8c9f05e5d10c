//! Progress bars on a terminal (hidden otherwise) and Ctrl-C handling: the first Ctrl-C asks
//! long work to stop at a safe point, a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-counting bar.
pub fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A step-counting bar.
pub fn steps_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {pos}/{len} eta {eta} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A flag set by the first Ctrl-C; the second exits with 130.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                if f.swap(true, Ordering::SeqCst) {
                    eprintln!("\ninterrupted again: exiting now");
                    std::process::exit(130);
                }
                eprintln!(
                    "\ninterrupted: stopping at the next safe point (Ctrl-C again to quit now)"
                );
            }
        });
    });
    flag
}

/// While a question runs on a cluster: a line on a terminal saying what the scheduler says of
/// the job (queued, running for how long), and Ctrl-C cancelling the job on the scheduler
/// (`CancelJob`) before the process exits with 130 — Ballista's client would leave it running
/// on the executors. Dropping it stops both.
#[cfg(feature = "cluster")]
pub struct ClusterWatch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(feature = "cluster")]
impl ClusterWatch {
    pub fn start(address: &str) -> ClusterWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, address) = (stop.clone(), address.to_string());
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(watch(s, address));
        });
        ClusterWatch {
            stop,
            thread: Some(thread),
        }
    }
}

#[cfg(feature = "cluster")]
impl Drop for ClusterWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(feature = "cluster")]
async fn watch(stop: Arc<AtomicBool>, address: String) {
    use engine::cluster_mode::jobs;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} {spinner} {msg} ({elapsed})")
            .expect("valid template"),
    );
    bar.set_prefix("cluster");
    bar.set_message(format!("sending the job to {address}"));
    bar.enable_steady_tick(Duration::from_millis(200));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while !stop.load(Ordering::SeqCst) {
        tokio::select! {
            _ = &mut ctrl_c => {
                bar.set_message("interrupted: cancelling the job on the scheduler");
                let cancelled = jobs::cancel_all().await;
                bar.finish_and_clear();
                match cancelled.is_empty() {
                    true => eprintln!("interrupted; no job of this command was running on {address}"),
                    false => eprintln!(
                        "interrupted: cancelled cluster job {} on the scheduler at {address}",
                        cancelled.join(", ")
                    ),
                }
                std::process::exit(130);
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Some(p) = jobs::latest().await {
                    let since = p
                        .running_for
                        .map_or(String::new(), |d| format!(" for {} s", d.as_secs()));
                    bar.set_message(format!("job {} {}{since}", p.job_id, p.state));
                }
            }
        }
    }
    bar.finish_and_clear();
}
