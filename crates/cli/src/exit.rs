//! Exit codes (contract §6): 0 success, 1 failure, 2 bad usage or bad arguments — and the one
//! place errors are printed, including the quiet exit when the reader of stdout has gone
//! (`fangyi kinds | head -1`).

use std::fmt;

/// An error caused by what the user asked for (a bad path, bad SQL, a bad id): exit code 2.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Shorthand for a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// Prints `e` and returns its exit code. A write that failed because the reader of stdout has
/// gone (a pipe into `head` that closed) is that reader's choice, not an error: nothing is
/// printed and the exit code is 0, as Unix tools do, whichever writer met the closed pipe.
pub fn report(e: &anyhow::Error) -> i32 {
    if is_broken_pipe(e) && stdout_reader_gone() {
        return 0;
    }
    eprintln!("error: {e:#}");
    if e.chain().any(|c| c.is::<Usage>()) {
        2
    } else {
        1
    }
}

/// Whether `e` is a write into a closed pipe: an `EPIPE` in its chain, or its text where a
/// library kept only the message (`writing output: Broken pipe (os error 32)`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let epipe = std::io::Error::from_raw_os_error(libc::EPIPE);
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) || format!("{e:#}").contains(&epipe.to_string())
}

/// `print!` and `println!` panic when stdout is a pipe nobody reads any more (Rust ignores
/// SIGPIPE, so the write fails with EPIPE). Ends the process quietly instead; other panics go
/// to the usual hook.
pub fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && stdout_reader_gone() {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Whether stdout is a pipe or socket whose reading end is closed: the write end then polls
/// as an error (POLLERR for a pipe, POLLHUP for a socket).
#[allow(unsafe_code)]
pub fn stdout_reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd, a count of 1 and no waiting; poll only writes `revents`.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    n == 1 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}
