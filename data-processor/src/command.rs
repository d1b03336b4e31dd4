//! Runs one attempt of a command kind as a child: the worker is the wrapper. The child gets the
//! job contract (`jobs_core::command::contract`) on a cleared environment, and has its output
//! logged line by line, tagged with the job id; how it is started is the port's
//! ([`crate::children`]: real processes, or the simulator's).
//!
//! Stopping it: a cancel request, the time limit or the worker's own stop send SIGTERM to the
//! child's process group, then SIGKILL after the grace. Whatever way the run ends (even when its
//! future is dropped), the child is killed with what it started, so nothing outlives the attempt.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs_core::command::CommandJob;
use jobs_core::command::contract::{self, ErrorTail, ResultFile, RunFacts, Verdict};
use jobs_core::kinds::{JobContext, JobFailure};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::children::{Launch, Signal, Spawn};

/// How long the output may keep flowing after the child exited (a background process it left
/// holding the pipes is killed with the group).
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

/// How a command's run ended.
#[derive(Debug)]
pub struct Ran {
    pub result: Result<Value, JobFailure>,
    /// Something about the run worth the attempt's history (a result file that was not stored).
    pub note: Option<String>,
}

/// A per-attempt directory for the payload and result files, removed afterwards.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs one attempt of `job`, started by `children`. `stop` asks the command to stop (the time
/// limit, the worker's stop): SIGTERM, then SIGKILL after `grace`; a cancel request on `ctx` does
/// the same.
pub async fn run(
    job: &CommandJob,
    ctx: &JobContext,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    children: &dyn Spawn,
) -> Ran {
    let kind = job.kind;
    let failed = |message: String| Ran { result: Err(JobFailure::retryable(message)), note: None };
    let scratch = match scratch_dir(&ctx.job_id, ctx.attempt, &job.payload) {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot prepare the command's files: {e}")),
    };
    let (payload_file, result_file) = (scratch.0.join("payload.json"), scratch.0.join("result.json"));
    let facts = RunFacts {
        job_id: &ctx.job_id,
        attempt: ctx.attempt,
        kind: &kind.name,
        payload: &job.payload,
        payload_file: &payload_file.to_string_lossy(),
        result_file: &result_file.to_string_lossy(),
    };
    let launch = Launch {
        program: &kind.config.command[0],
        args: &kind.config.command[1..],
        env: contract::environment(&kind.config.env, facts),
        working_dir: kind.config.working_dir.as_deref(),
    };
    let started = match children.spawn(launch) {
        Ok(started) => started,
        Err(why) => return failed(why),
    };
    let mut child = started.child;
    info!(pid = started.pid, command = ?kind.config.command, "command started");
    let tail = Arc::new(Mutex::new(ErrorTail::default()));
    let readers = [
        tokio::spawn(log_lines(started.stdout, ctx.job_id.clone(), "stdout", None)),
        tokio::spawn(log_lines(started.stderr, ctx.job_id.clone(), "stderr", Some(tail.clone()))),
    ];

    let mut term_sent = false;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let exit = loop {
        let kill = async {
            match kill_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let why = tokio::select! {
            exit = child.wait() => break exit,
            () = ctx.cancel.cancelled(), if !term_sent => "a cancel request",
            Ok(_) = stop.wait_for(|s| *s), if !term_sent => "a stop",
            () = kill => {
                warn!(grace_secs = grace.as_secs(), "the command did not stop within the grace; SIGKILL to its process group");
                child.signal(Signal::Kill);
                kill_at = None;
                continue;
            }
        };
        info!(why, grace_secs = grace.as_secs(), "SIGTERM to the command's process group");
        child.signal(Signal::Term);
        term_sent = true;
        kill_at = Some(tokio::time::Instant::now() + grace);
    };
    // The exit is known; give the output a moment to end, then stop whatever the command left
    // (which closes the pipes it held).
    let [out, err] = readers;
    let drained = tokio::time::timeout(OUTPUT_DRAIN, async {
        let _ = tokio::join!(out, err);
    });
    let _ = drained.await;
    drop(child);
    let exit = match exit {
        Ok(exit) => exit,
        Err(e) => return failed(format!("lost track of the command: {e}")),
    };
    info!(?exit, "command ended");
    let tail = tail.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match contract::judge(exit, &kind.config.permanent_exit_codes) {
        Verdict::Succeeded => {
            let read = read_result(&result_file);
            let note = read.problem();
            if let Some(problem) = &note {
                warn!(problem, "the command's result is not stored");
            }
            Ran { result: Ok(read.result()), note }
        }
        Verdict::Failed { permanent, reason } => {
            let message = tail.last_error(&reason);
            let failure = if permanent { JobFailure::permanent(message) } else { JobFailure::retryable(message) };
            Ran { result: Err(failure), note: None }
        }
    }
}

fn scratch_dir(job_id: &str, attempt: u32, payload: &Value) -> std::io::Result<Scratch> {
    let safe: String = job_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
    let dir = std::env::temp_dir().join(format!("job-{safe}-{attempt}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let scratch = Scratch(dir);
    std::fs::write(scratch.0.join("payload.json"), payload.to_string())?;
    Ok(scratch)
}

/// Reads at most the bound of the result file: a huge file costs no memory.
fn read_result(path: &Path) -> ResultFile {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else { return ResultFile::Absent };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = Vec::new();
    if let Err(e) = file.take(contract::MAX_RESULT_BYTES).read_to_end(&mut head) {
        return ResultFile::NotJson(format!("unreadable: {e}"));
    }
    ResultFile::read(size, &head)
}

/// Logs each line of `stream`, tagged with the job id, each cut at `MAX_LINE_BYTES` (a line
/// without an end costs no more memory than that); stderr's last lines go to `tail`.
async fn log_lines(
    stream: Option<impl AsyncRead + Unpin>,
    job_id: String,
    name: &'static str,
    tail: Option<Arc<Mutex<ErrorTail>>>,
) {
    let Some(stream) = stream else { return };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let limit = contract::MAX_LINE_BYTES as u64 + 1;
        match (&mut reader).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") && line.len() as u64 == limit {
            skip_line(&mut reader).await;
        }
        let text = String::from_utf8_lossy(&line);
        let text = contract::cut(text.trim_end_matches(['\n', '\r']), contract::MAX_LINE_BYTES);
        info!(target: "job_output", job_id, stream = name, "{text}");
        if let Some(tail) = &tail {
            tail.lock().unwrap_or_else(|e| e.into_inner()).push(text);
        }
    }
}

/// Consumes the rest of an overlong line.
async fn skip_line(reader: &mut BufReader<impl AsyncRead + Unpin>) {
    loop {
        let buf = match reader.fill_buf().await {
            Ok(b) if !b.is_empty() => b,
            _ => return,
        };
        if let Some(end) = buf.iter().position(|b| *b == b'\n') {
            reader.consume(end + 1);
            return;
        }
        let len = buf.len();
        reader.consume(len);
    }
}
