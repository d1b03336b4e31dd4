//! How a command's child is started, signalled and waited for: the one seam between the wrapper's
//! rules (`command.rs`: the job contract, SIGTERM then SIGKILL after the grace, the exit's verdict,
//! the result file, the output) and the operating system. [`Processes`] starts real processes, each
//! in a process group of its own that dies with the worker; the simulator starts simulated children
//! on its own clock through the same port.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;

use jobs_core::command::contract::Exit;
use tokio::io::AsyncRead;

/// What to start: the kind's command, its environment (the cleared one plus the job contract),
/// and where.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub env: Vec<(String, String)>,
    pub working_dir: Option<&'a str>,
}

/// One of the child's output streams.
pub type Output = Box<dyn AsyncRead + Send + Unpin>;

/// A started child: its id (if it has one), its output, and the handle that stops and waits for it.
pub struct Started {
    pub pid: Option<u32>,
    pub stdout: Option<Output>,
    pub stderr: Option<Output>,
    pub child: Box<dyn Child>,
}

/// The signals the wrapper sends to a child (to its whole process group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Asks it to stop.
    Term,
    /// Stops it.
    Kill,
}

/// A running child. Dropping it kills it and whatever it started, however the attempt ended.
pub trait Child: Send {
    /// Waits until it exits (cancel-safe: may be called again).
    fn wait(&mut self) -> Pin<Box<dyn Future<Output = std::io::Result<Exit>> + Send + '_>>;
    fn signal(&self, signal: Signal);
}

/// Starts children. `Err`: why it could not (shown as the attempt's failure).
pub trait Spawn: Send + Sync + std::fmt::Debug {
    fn spawn(&self, launch: Launch<'_>) -> Result<Started, String>;
}

/// The worker's variables a command keeps; everything else (the worker's settings, its AWS
/// credentials) is cleared.
const PASSED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER"];

/// Real processes: a cleared environment, a process group of its own, and death with the worker
/// (`PR_SET_PDEATHSIG`), as with its pod.
#[derive(Debug, Clone, Copy, Default)]
pub struct Processes;

impl Spawn for Processes {
    fn spawn(&self, launch: Launch<'_>) -> Result<Started, String> {
        let program = launch.program;
        let mut command = tokio::process::Command::new(program);
        command.args(launch.args).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for name in PASSED_ENV {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(launch.env);
        if let Some(dir) = launch.working_dir {
            if !Path::new(dir).is_dir() {
                return Err(format!("cannot start {program:?}: its workingDir {dir:?} is not a directory here"));
            }
            command.current_dir(dir);
        }
        command.process_group(0);
        // SAFETY: prctl only, between fork and exec: async-signal-safe, touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| format!("cannot start {program:?}: {e}"))?;
        let pid = child.id();
        let stdout = child.stdout.take().map(|s| Box::new(s) as Output);
        let stderr = child.stderr.take().map(|s| Box::new(s) as Output);
        Ok(Started { pid, stdout, stderr, child: Box::new(Process { child, group: pid.map(|p| p as i32) }) })
    }
}

/// A real child and its process group.
struct Process {
    child: tokio::process::Child,
    group: Option<i32>,
}

impl Process {
    fn kill_group(&self, signal: i32) {
        if let Some(pgid) = self.group {
            // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
            unsafe { libc::kill(-pgid, signal) };
        }
    }
}

impl Child for Process {
    fn wait(&mut self) -> Pin<Box<dyn Future<Output = std::io::Result<Exit>> + Send + '_>> {
        Box::pin(async move {
            let status = self.child.wait().await?;
            Ok(match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Code(-1),
            })
        })
    }

    fn signal(&self, signal: Signal) {
        self.kill_group(match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        });
    }
}

/// After a normal exit (a background process left behind), after a stop, or when the attempt's
/// future is dropped mid-run: nothing the command started outlives the attempt.
impl Drop for Process {
    fn drop(&mut self) {
        self.kill_group(libc::SIGKILL);
    }
}
