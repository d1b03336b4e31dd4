//! Simulated children for the `shell` command kind: what `examples/shell/job.sh` does, on the
//! simulator's clock, started through the worker's own port (`data_processor::children::Spawn`).
//! The real wrapper (`command.rs`) runs around it: the job contract's environment (read here,
//! as the script reads it), SIGTERM and SIGKILL after the grace, the exit's verdict, the result
//! file, the output and its error tail.
//!
//! From the payload (`JOB_ARG_*`): attempts up to `failAttempts` exit 75 (retried); then it works
//! `seconds` (1 s steps), stopping with 143 on SIGTERM unless `ignoreTerm` (then only SIGKILL
//! stops it); then it exits `exitCode`, or writes its result and exits 0.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use data_processor::children::{Child, Launch, Output, Signal, Spawn, Started};
use jobs_core::command::contract::{self, Exit};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The simulated `shell` kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shell;

/// What the script reads from its environment.
#[derive(Debug, Clone)]
struct Script {
    job_id: String,
    attempt: u32,
    seconds: u64,
    exit_code: i32,
    fail_attempts: u32,
    ignore_term: bool,
    message: Option<String>,
    result_file: String,
}

impl Script {
    fn read(env: Vec<(String, String)>) -> Result<Script, String> {
        let env: HashMap<String, String> = env.into_iter().collect();
        let var = |name: &str| env.get(name).cloned();
        let arg = |name: &str| var(&format!("{}{name}", contract::JOB_ARG_PREFIX));
        let number = |name: &str, default: u64| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        Ok(Script {
            job_id: var(contract::JOB_ID).ok_or("no JOB_ID")?,
            attempt: var(contract::JOB_ATTEMPT).and_then(|v| v.parse().ok()).ok_or("no JOB_ATTEMPT")?,
            seconds: number("SECONDS", 1),
            exit_code: number("EXITCODE", 0) as i32,
            fail_attempts: number("FAILATTEMPTS", 0) as u32,
            ignore_term: arg("IGNORETERM").as_deref() == Some("true"),
            message: arg("MESSAGE"),
            result_file: var(contract::JOB_RESULT_FILE).ok_or("no JOB_RESULT_FILE")?,
        })
    }

    /// The script's run; `signals` brings SIGTERM (SIGKILL aborts the task).
    async fn run(self, mut signals: watch::Receiver<bool>, mut out: DuplexStream, mut err: DuplexStream) -> Exit {
        let _ = out.write_all(format!("job {} attempt {}: working\n", self.job_id, self.attempt).as_bytes()).await;
        if self.attempt <= self.fail_attempts {
            let _ = err.write_all(format!("attempt {} fails on purpose\n", self.attempt).as_bytes()).await;
            return Exit::Code(75);
        }
        for step in 1..=self.seconds {
            let term = async {
                if signals.wait_for(|term| *term).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = term, if !self.ignore_term => {
                    let _ = err.write_all(b"stopped by SIGTERM\n").await;
                    return Exit::Code(143);
                }
            }
            let _ = out.write_all(format!("step {step} of {}\n", self.seconds).as_bytes()).await;
        }
        if let Some(message) = &self.message {
            let _ = err.write_all(format!("{message}\n").as_bytes()).await;
        }
        if self.exit_code != 0 {
            return Exit::Code(self.exit_code);
        }
        let result = serde_json::json!({ "seconds": self.seconds, "attempt": self.attempt });
        if std::fs::write(&self.result_file, result.to_string()).is_err() {
            return Exit::Code(1);
        }
        Exit::Code(0)
    }
}

impl Spawn for Shell {
    fn spawn(&self, launch: Launch<'_>) -> Result<Started, String> {
        let script = Script::read(launch.env)?;
        let (term, signals) = watch::channel(false);
        let (out, stdout) = tokio::io::duplex(64 * 1024);
        let (err, stderr) = tokio::io::duplex(64 * 1024);
        let task = tokio::spawn(script.run(signals, out, err));
        Ok(Started {
            pid: None,
            stdout: Some(Box::new(stdout) as Output),
            stderr: Some(Box::new(stderr) as Output),
            child: Box::new(Running { task, term }),
        })
    }
}

/// A running simulated child: its task and its SIGTERM.
struct Running {
    task: JoinHandle<Exit>,
    term: watch::Sender<bool>,
}

impl Child for Running {
    fn wait(&mut self) -> Pin<Box<dyn Future<Output = std::io::Result<Exit>> + Send + '_>> {
        Box::pin(async move {
            match (&mut self.task).await {
                Ok(exit) => Ok(exit),
                Err(e) if e.is_cancelled() => Ok(Exit::Signal(9)),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            }
        })
    }

    fn signal(&self, signal: Signal) {
        match signal {
            Signal::Term => {
                self.term.send_replace(true);
            }
            Signal::Kill => self.task.abort(),
        }
    }
}

/// Dies with the attempt, as the real child's process group does.
impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}
