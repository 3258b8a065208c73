//! A create on the cluster, carried out: `POST /v1/vms` with the spec, then the VM
//! followed through Orchard's status into the sink's `stage` and log until the worker
//! reports it running, or it fails, or the request is cancelled (which deletes it).
//!
//! The VM is followed through a watch stream (its own thread, reconnecting) and, when
//! the stream says nothing for [`FOLLOW_POLL`], a `GET`, so a lost stream costs
//! latency, not correctness. The startup script's output (Orchard's events) becomes
//! the log.
//!
//! Threading: runs on the task worker that carries out the request; between watch
//! messages it looks at the cancel switch at once (a `select!`) and at the server's
//! shutdown every [`SHUTDOWN_LOOK`].

use std::time::{Duration, Instant};

use crossbeam_channel::select;
use serde_json::{Value, json};

use super::OrchardError;
use super::cache::ClusterCache;
use super::client::OrchardClient;
use super::model::OrchardVm;
use super::watch::{WatchEvent, spawn_watch};
use crate::backend::host::{Cancel, Failure, OpSink, Provision};

/// How long a create may wait for its VM to run: a first pull of a macOS image on a
/// worker takes many minutes; tart's own pull limit is of the same order.
pub const CREATE_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

/// The `GET` fallback between watch messages.
pub const FOLLOW_POLL: Duration = Duration::from_secs(2);

/// How often a create waiting for news looks whether the server shuts down (the sink
/// offers a flag, not a channel): short, so a shutdown waits for no cluster create.
pub const SHUTDOWN_LOOK: Duration = Duration::from_millis(250);

/// The Orchard create body of `p`: headless (Orchard's API default opens a window on
/// the worker's screen), memory in MiB, only the values given.
pub fn spec(p: &Provision) -> Value {
    let mut spec = json!({"name": p.name, "image": p.image, "headless": true});
    if let Some(n) = p.cpu {
        spec["cpu"] = json!(n);
    }
    if let Some(mib) = p.memory_mib {
        spec["memory"] = json!(mib);
    }
    if let Some(gb) = p.disk_gb {
        spec["diskSize"] = json!(gb);
    }
    if let Some(script) = &p.startup_script {
        spec["startup_script"] = json!({"script_content": script});
    }
    spec
}

/// Creates the VM of `p` and follows it until it runs; `Ok` with its worker.
pub fn create(
    client: &OrchardClient,
    cache: &ClusterCache,
    p: &Provision,
    sink: &mut dyn OpSink,
) -> Result<String, Failure> {
    let name = p.name.as_str();
    sink.note(format!("POST {}/v1/vms ({name})", client.endpoint.url()));
    sink.stage(Some("submitting"));
    let created = client
        .create_vm(&spec(p))
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let _ = cache.refresh(client);
    let mut follow = Follow {
        client,
        cache,
        name,
        uid: created.uid.clone(),
        stage: None,
        placed: false,
        events: 0,
    };
    let cancel = sink.cancel().cloned();
    let outcome = follow.until_running(created, cancel.as_ref(), sink);
    if let Err(Failure::Cancelled) = outcome {
        // Cancelling a create on Orchard is deleting what it made.
        sink.note(format!("cancelled: deleting {name} from the cluster"));
        if let Err(e) = client.delete_vm(name) {
            sink.note(format!("the delete failed: {e}"));
        }
        return outcome;
    }
    follow.copy_events(sink);
    let worker = outcome?;
    sink.progress(Some(100.0));
    Ok(worker)
}

/// One create being followed, and what it has reported so far.
struct Follow<'a> {
    client: &'a OrchardClient,
    cache: &'a ClusterCache,
    name: &'a str,
    /// The VM this create made: another of the same name is not it.
    uid: String,
    stage: Option<String>,
    placed: bool,
    /// Events already copied to the log.
    events: usize,
}

/// What one wait for news brought.
enum News {
    Vm(Box<OrchardVm>),
    /// The VM is gone from the cluster.
    Deleted,
    /// Nothing to look at yet.
    Nothing,
}

impl Follow<'_> {
    /// Follows the VM from `first` until it runs (`Ok` with its worker), fails, is
    /// cancelled, or the server shuts down.
    fn until_running(
        &mut self,
        first: OrchardVm,
        cancel: Option<&Cancel>,
        sink: &mut dyn OpSink,
    ) -> Result<String, Failure> {
        let watch = spawn_watch(self.client.clone(), self.name);
        let never = crossbeam_channel::never();
        let cancelled = cancel.map_or(&never, Cancel::signal);
        let deadline = Instant::now() + CREATE_TIMEOUT;
        let mut last_news = Instant::now();
        let mut vm = first;
        loop {
            if vm.uid != self.uid {
                return Err(failed(
                    "another VM of the same name replaced it on the cluster",
                ));
            }
            if let Some(done) = self.progress(&vm, sink) {
                return done.map(|()| vm.worker.clone());
            }
            let news = loop {
                if cancel.is_some_and(Cancel::is_cancelled) {
                    return Err(Failure::Cancelled);
                }
                if sink.shutting_down() {
                    return Err(failed(
                        "the server is shutting down; the VM stays on the cluster",
                    ));
                }
                if Instant::now() >= deadline {
                    return Err(failed(&format!(
                        "the VM did not run within {} s",
                        CREATE_TIMEOUT.as_secs()
                    )));
                }
                let poll_due = |last: Instant| last.elapsed() >= FOLLOW_POLL;
                let news = select! {
                    recv(watch.events) -> event => match event {
                        Ok(WatchEvent::Changed(vm)) => Some(News::Vm(vm)),
                        Ok(WatchEvent::Deleted) => Some(News::Deleted),
                        Ok(WatchEvent::Lost(e)) => {
                            sink.note(format!("watch interrupted ({e}); reconnecting"));
                            Some(News::Nothing)
                        }
                        // No watch thread: the GET fallback alone.
                        Err(_) => {
                            std::thread::sleep(SHUTDOWN_LOOK);
                            poll_due(last_news).then(|| self.poll())
                        }
                    },
                    // The switch fired: seen at the top of the loop.
                    recv(cancelled) -> _ => None,
                    default(SHUTDOWN_LOOK) => poll_due(last_news).then(|| self.poll()),
                };
                let Some(news) = news else { continue };
                last_news = Instant::now();
                break news;
            };
            match news {
                News::Vm(now) => vm = *now,
                News::Deleted => return Err(failed("the VM was deleted on the cluster")),
                News::Nothing => {}
            }
            self.copy_events(sink);
        }
    }

    /// The VM as the controller has it now.
    fn poll(&self) -> News {
        match self.client.get_vm(self.name) {
            Ok(vm) => News::Vm(Box::new(vm)),
            Err(OrchardError::NotFound) => News::Deleted,
            Err(_) => News::Nothing,
        }
    }

    /// Reports where the VM is (stage and log lines); `Some` once the create has an
    /// outcome.
    fn progress(&mut self, vm: &OrchardVm, sink: &mut dyn OpSink) -> Option<Result<(), Failure>> {
        if !vm.worker.is_empty() && !self.placed {
            self.placed = true;
            sink.note(format!("scheduled on {}", vm.worker));
        }
        let stage = if vm.worker.is_empty() {
            "pending".to_string()
        } else if vm.status_message.is_empty() {
            format!("scheduled on {}", vm.worker)
        } else {
            vm.status_message.clone()
        };
        if self.stage.as_ref() != Some(&stage) {
            if vm.worker.is_empty() {
                let why = self
                    .cache
                    .pending_reason(vm)
                    .unwrap_or_else(|| "waiting for a worker".into());
                sink.note(format!("pending: {why}"));
            } else if !vm.status_message.is_empty() {
                sink.note(vm.status_message.clone());
            }
            sink.stage(Some(&stage));
            self.stage = Some(stage);
        }
        match vm.status.as_str() {
            "failed" if vm.status_message.is_empty() => {
                Some(Err(failed("the VM failed on the cluster")))
            }
            "failed" => Some(Err(failed(&vm.status_message))),
            // Running once the worker reports the `running` condition: then a startup
            // script has run (its output is in the events) and the VM is up, not starting.
            "running" if vm.condition("running") == Some(true) => Some(Ok(())),
            _ => None,
        }
    }

    /// Appends the VM's events not copied yet to the log.
    fn copy_events(&mut self, sink: &mut dyn OpSink) {
        if let Ok(lines) = self.client.events(self.name)
            && lines.len() > self.events
        {
            let new = lines[self.events..].to_vec();
            self.events = lines.len();
            sink.lines(new, 0);
        }
    }
}

fn failed(why: &str) -> Failure {
    Failure::Failed(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_carries_only_what_was_given_and_is_headless() {
        let mut p = Provision {
            name: "a".into(),
            image: "ghcr.io/x/y:1".into(),
            cpu: None,
            memory_mib: None,
            disk_gb: None,
            startup_script: None,
        };
        assert_eq!(
            spec(&p),
            json!({"name": "a", "image": "ghcr.io/x/y:1", "headless": true})
        );
        p.cpu = Some(2);
        p.memory_mib = Some(4096);
        p.disk_gb = Some(50);
        p.startup_script = Some("echo hi".into());
        let s = spec(&p);
        assert_eq!(
            (&s["cpu"], &s["memory"], &s["diskSize"]),
            (&json!(2), &json!(4096), &json!(50))
        );
        assert_eq!(s["startup_script"], json!({"script_content": "echo hi"}));
    }
}
