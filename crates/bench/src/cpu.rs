//! CPU time from `/proc` (Linux): of this whole process, and of its threads with a given name.
//! `bench api` runs the server and its load generator in one process; the server's CPU time
//! is the process's less the load generator's threads', a figure that other work on the
//! machine barely moves, unlike requests per second.

/// Clock ticks per second of `/proc`'s times (`USER_HZ`, 100 on Linux whatever the kernel's
/// own tick).
const TICKS_PER_SECOND: f64 = 100.0;

/// User and system time, in seconds, from a `stat` line (`/proc/…/stat`): fields 14 and 15,
/// counted after the command name in parentheses, which may itself hold spaces or `)`.
fn stat_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// CPU seconds this process has used, all its threads together, ended ones included.
pub fn process_seconds() -> Option<f64> {
    stat_seconds(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// CPU seconds another process (a server the bench started) has used so far.
pub fn pid_seconds(pid: u32) -> Option<f64> {
    stat_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU seconds used by this process's live threads named `name` (as `/proc/self/task/*/comm`
/// shows it: 15 bytes at most).
pub fn thread_seconds(name: &str) -> Option<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if comm.trim_end() != name {
            continue;
        }
        if let Some(s) = std::fs::read_to_string(dir.join("stat"))
            .ok()
            .as_deref()
            .and_then(stat_seconds)
        {
            total += s;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_after_the_command_name_whatever_it_holds() {
        let line = "4242 (tokio (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(stat_seconds(line), Some(3.0));
        assert_eq!(stat_seconds("garbage"), None);
    }

    #[test]
    fn this_process_is_seen_using_cpu() {
        let before = process_seconds().expect("a /proc to read");
        let mut x = 0u64;
        let mut spent = 0.0;
        // Work until the clock moves: it ticks a hundred times a second.
        while spent <= 0.0 {
            for i in 0..1_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            std::hint::black_box(x);
            spent = process_seconds().unwrap() - before;
        }
        let main = std::thread::current();
        let name = main.name().unwrap_or("");
        assert!(thread_seconds(&name[..name.len().min(15)]).is_some());
    }
}
