//! Peak memory of a step: a `fangyi` command run by a child process (the trace index built by
//! `fangyi index --rebuild --memory SIZE`, or any step of `bench scale`), whose peak resident
//! set the kernel reports when it is reaped (`wait4`), so the figure is the step's alone, not
//! the bench's own data.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use trace::MemoryBudget;

/// What one build in a child process took.
pub struct ChildRun {
    pub secs: f64,
    /// Peak resident set (bytes), as the kernel counted it.
    pub peak: u64,
}

/// Rebuilds the trace index of `data` (key file `key`) in a child `fangyi index --rebuild
/// --memory budget`, timing it and reading its peak RSS.
pub fn index_in_child(data: &Path, key: &Path, budget: MemoryBudget) -> anyhow::Result<ChildRun> {
    let budget = budget.to_string();
    fangyi_in_child(data, key, &["index", "--rebuild", "--memory", &budget], &[])
}

/// Runs `fangyi --data data --key-file key ARGS…` as a child (output discarded; `env` added
/// to its environment), timing it and reading its peak RSS; fails when it does.
pub fn fangyi_in_child(
    data: &Path,
    key: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<ChildRun> {
    let exe = std::env::current_exe().context("finding the fangyi binary")?;
    let started = Instant::now();
    let child = Command::new(exe)
        .arg("--data")
        .arg(data)
        .arg("--key-file")
        .arg(key)
        .args(args)
        // The bench's own key and budget, whatever the operator's environment says.
        .env_remove("FANGYI_MASTER_KEY")
        .env_remove("FANGYI_MEMORY")
        .env_remove("FANGYI_CLUSTER")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("starting fangyi {}", args.join(" ")))?;
    let (status, peak) = wait_with_peak(child.id())?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(status == 0, "fangyi {} failed ({status})", args.join(" "));
    Ok(ChildRun { secs, peak })
}

/// Reaps child `pid`: its exit status (or -signal) and peak RSS in bytes.
#[allow(unsafe_code)]
fn wait_with_peak(pid: u32) -> anyhow::Result<(i32, u64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data the call fills in; `status` is a valid out pointer; the pid
    // is our own child, which std's Child never reaps unless asked (it is not).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    anyhow::ensure!(
        r == pid as libc::pid_t,
        "waiting for a fangyi child: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    // Linux reports ru_maxrss in KiB.
    Ok((code, usage.ru_maxrss.max(0) as u64 * 1024))
}
