//! The pods' log files outlive their Jobs: a job record links its runs' logs, so a file is kept
//! as long as job records are (`JOB_RETENTION_DAYS`, counted from the file's last write, which is
//! when its run ended), not deleted with the Job by the history limits.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How often the directory is swept.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// The log files to delete: those last written more than `retention` before `now`.
pub fn expired(files: &[(PathBuf, SystemTime)], now: SystemTime, retention: Duration) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|(_, written)| now.duration_since(*written).is_ok_and(|age| age > retention))
        .map(|(path, _)| path.clone())
        .collect()
}

/// The `*.log` files in `dir` with their last write.
fn log_files(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .filter_map(|p| Some((p.clone(), std::fs::metadata(&p).ok()?.modified().ok()?)))
        .collect()
}

/// Deletes the expired log files of `dir`; returns how many.
pub fn sweep(dir: &Path, retention: Duration) -> usize {
    let doomed = expired(&log_files(dir), SystemTime::now(), retention);
    doomed.iter().filter(|p| std::fs::remove_file(p).is_ok()).count()
}

/// Sweeps `dir` now and every [`SWEEP_EVERY`] until `stop` resolves.
pub async fn keep(dir: PathBuf, retention: Duration, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let removed = sweep(&dir, retention);
        if removed > 0 {
            tracing::info!(removed, dir = %dir.display(), "deleted pod logs past the job retention");
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_older_than_the_retention_go() {
        let day = Duration::from_secs(86_400);
        let now = SystemTime::UNIX_EPOCH + 100 * day;
        let files: Vec<(PathBuf, SystemTime)> = [
            ("fresh.log", now - day),
            ("at-the-limit.log", now - 30 * day),
            ("old.log", now - 31 * day),
            // A clock step back: written "in the future", kept.
            ("future.log", now + day),
        ]
        .into_iter()
        .map(|(name, t)| (PathBuf::from(name), t))
        .collect();
        assert_eq!(expired(&files, now, 30 * day), vec![PathBuf::from("old.log")]);
        assert!(expired(&files, now, 365 * day).is_empty());
    }

    #[test]
    fn a_sweep_deletes_old_log_files_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("local-keda-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["a.log", "b.log", "notes.txt"] {
            std::fs::write(dir.join(name), "x").unwrap();
        }
        assert_eq!(sweep(&dir, Duration::from_secs(3600)), 0, "nothing is an hour old");
        assert_eq!(sweep(&dir, Duration::ZERO), 2, "both logs are older than nothing");
        assert!(dir.join("notes.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
