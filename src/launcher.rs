//! The launcher thread: starts runs for the hub.
//!
//! Starting a run forks and execs `claude` and starts the run's threads: hundreds
//! of microseconds on this machine, milliseconds on a Pi under load, longer when
//! the system is short of memory. The hub must not stall every connected phone for
//! that, so it hands the request here and goes on; the handle (or the error) comes
//! back as a message. The run's own outputs go straight to the hub from its
//! supervisor thread, so they may arrive before the handle does.

use crate::runner::{self, RunHandle, RunRequest, RunnerConfig, RunnerOutput};
use std::sync::mpsc::{self, Sender};

/// Where a run's outputs go (the hub's channel).
pub type Out = Box<dyn Fn(RunnerOutput) + Send + Sync>;
/// Told once per request: the run's id and its handle, or why it did not start.
pub type Started = Box<dyn Fn(u64, Result<RunHandle, String>) + Send>;

struct Job {
    config: RunnerConfig,
    request: RunRequest,
    out: Out,
}

/// The hub's side of the launcher thread; sending never blocks.
pub struct Launcher {
    tx: Sender<Job>,
}

impl Launcher {
    /// Starts the thread; `started` reports each launch. Everything it starts
    /// (`claude`, its tools and the run's threads) runs at `nice`.
    pub fn spawn(started: Started, nice: i32) -> std::io::Result<Launcher> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("launcher".into())
            .stack_size(256 << 10)
            .spawn(move || {
                // On Linux a nice value belongs to a thread and is inherited by the
                // threads and processes it creates: set here once, it lowers every
                // run below the hub and the connection threads, which keep theirs.
                // A node-based CLI starting up takes a whole core for a second on a
                // Pi; it must not be what a phone waits behind.
                if nice != 0
                    && let Err(e) = rustix::process::setpriority_process(None, nice)
                {
                    log::warn!("launcher: cannot lower claude's priority to nice {nice}: {e}");
                }
                for job in rx {
                    let run = job.request.run;
                    let result =
                        runner::start(&job.config, job.request, job.out).map_err(|e| e.to_string());
                    started(run, result);
                }
            })?;
        Ok(Launcher { tx })
    }

    /// Asks for a run to be started; the answer comes through `started`.
    pub fn launch(&self, config: RunnerConfig, request: RunRequest, out: Out) {
        if let Err(mpsc::SendError(job)) = self.tx.send(Job {
            config,
            request,
            out,
        }) {
            // The thread is gone (it only ends with the process): report it as a
            // failed start rather than leave the run waiting forever.
            (job.out)(RunnerOutput::Finished {
                run: job.request.run,
                session_id: None,
                outcome: runner::Outcome::Failed,
            });
        }
    }
}
