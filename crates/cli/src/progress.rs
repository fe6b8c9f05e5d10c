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
