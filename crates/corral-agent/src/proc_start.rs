//! When a process started, in seconds since the Unix epoch, from /proc.

/// Start time of `pid`, or `None` when it cannot be read or the process is a zombie.
pub fn started_at(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    // A zombie (or dead) process has a start time but is not running.
    if matches!(after.split_whitespace().next(), Some("Z" | "X" | "x")) {
        return None;
    }
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??.max(1) as u64;
    Some(btime + ticks / hz)
}

#[cfg(test)]
mod tests {
    #[test]
    fn own_start_time_is_recent() {
        let t = super::started_at(std::process::id()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(t <= now + 1 && now - t < 3600, "{t} vs {now}");
    }
}
