//! A run's log lines. Locally each run's `logs` is the pod's log file, which the local controller
//! keeps as long as job records are kept: the API serves it (only files inside `LOCAL_LOGS_DIR`).
//! In AWS the lines are in CloudWatch Logs: the answer says where.

use std::path::{Path as FsPath, PathBuf};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::checked_job_id;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::views::JobView;

/// The most of a log one answer carries: its last bytes.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// Read the log lines of one run of a job (as numbered in its `attemptHistory`, from 1).
#[utoipa::path(get, path = "/jobs/{id}/runs/{run}/log", tag = "jobs",
    params(
        ("id" = String, Path, description = "The job id", pattern = r"^[A-Za-z0-9._:-]{1,128}$"),
        ("run" = u32, Path, description = "The run's place in the job's attemptHistory, from 1", minimum = 1),
    ),
    responses(
        (status = 200, description = "The run's log (its last MiB)", content_type = "text/plain", body = String),
        (status = 400, description = "Malformed job id or run number", body = ErrorBody),
        (status = 404, description = "No such job or run, or its log is not a local file (`log_not_local`: the message says where it is)", body = ErrorBody),
        (status = 410, description = "The log file was removed (`log_rotated`)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn run_log(
    State(state): State<AppState>,
    Path((id, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    checked_job_id(&id)?;
    let number = run.parse::<usize>().ok().filter(|n| *n >= 1).ok_or_else(|| {
        ApiError::bad_request("invalid_run", format!("{run:?} is not a run number (1 is the job's first run)"))
    })?;
    let app = &state.0;
    let job = JobView::from(app.store.get(&id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id:?}")))?);
    let runs = job.progress.attempt_history.len();
    let entry = job.progress.attempt_history.into_iter().nth(number - 1).ok_or_else(|| {
        ApiError::not_found(format!("job {id:?} has {runs} run(s) on record; there is no run {number}"))
    })?;
    let Some(location) = entry.logs else {
        return Err(not_local(format!("run {number} of job {id:?} recorded no log location")));
    };
    let Some(file) = app.logs_dir.as_deref().and_then(|dir| local_file(dir, &location)) else {
        let pod = entry.worker.map(|w| format!(", stream named after the pod {w:?}")).unwrap_or_default();
        return Err(not_local(format!("run {number}'s log lines are in CloudWatch Logs: log group {location:?}{pod}")));
    };
    match tail(&file, MAX_LOG_BYTES).await {
        Ok(text) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::new(
            StatusCode::GONE,
            "log_rotated",
            format!("run {number}'s log file {location:?} was removed (rotated) after the local retention"),
        )),
        Err(e) => {
            tracing::error!(error = %e, file = %file.display(), "reading a run's log failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "log_unreadable",
                format!("reading the log failed: {e}"),
            ))
        }
    }
}

fn not_local(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "log_not_local", message)
}

/// `location` as a file inside `dir` (the only files served), or `None`. The file need not exist
/// any more: a missing one is a rotated log.
fn local_file(dir: &FsPath, location: &str) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let path = FsPath::new(location);
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => std::fs::canonicalize(p).ok()?,
        _ => return None,
    };
    (parent == dir).then(|| dir.join(name))
}

/// The last `max` bytes of the file (from a line start), as text.
async fn tail(file: &FsPath, max: u64) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut f = tokio::fs::File::open(file).await?;
    let len = f.metadata().await?.len();
    let skip = len.saturating_sub(max);
    f.seek(std::io::SeekFrom::Start(skip)).await?;
    let mut bytes = Vec::with_capacity(len.min(max) as usize);
    f.read_to_end(&mut bytes).await?;
    let text = String::from_utf8_lossy(&bytes);
    if skip == 0 {
        return Ok(text.into_owned());
    }
    let from_line = text.find('\n').map_or(0, |i| i + 1);
    Ok(format!("[{skip} earlier bytes not shown]\n{}", &text[from_line..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_directly_inside_the_logs_directory_are_served() {
        let dir = std::env::temp_dir().join(format!("api-logs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let inside = dir.join("pod-1.log");
        let canonical = std::fs::canonicalize(&dir).unwrap();
        // (location, served as)
        let cases = [
            (inside.display().to_string(), Some(canonical.join("pod-1.log"))),
            // Missing files are still inside (a rotated log).
            (dir.join("gone.log").display().to_string(), Some(canonical.join("gone.log"))),
            (dir.join("sub/../pod-1.log").display().to_string(), Some(canonical.join("pod-1.log"))),
            (dir.join("sub/pod-1.log").display().to_string(), None),
            (dir.join("../etc.log").display().to_string(), None),
            ("/etc/passwd".to_owned(), None),
            ("/aws/eks/keda-sqs-jobs/jobs".to_owned(), None),
            ("pod-1.log".to_owned(), None),
        ];
        for (location, want) in cases {
            assert_eq!(local_file(&dir, &location), want, "{location}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_long_log_is_cut_to_its_last_lines() {
        let file = std::env::temp_dir().join(format!("api-tail-{}.log", std::process::id()));
        std::fs::write(&file, "first line\nsecond line\nthird line\n").unwrap();
        assert_eq!(tail(&file, 1024).await.unwrap(), "first line\nsecond line\nthird line\n");
        // The last 16 bytes start inside "second line": the partial line is dropped.
        assert_eq!(tail(&file, 16).await.unwrap(), "[18 earlier bytes not shown]\nthird line\n");
        std::fs::remove_file(&file).unwrap();
        assert_eq!(tail(&file, 16).await.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
