//! The isolation layers a process sandbox gets, detected once at start-up by trying each, and
//! reported (start-up log, `/health`, `hearth doctor`).
//!
//! Always: a session and process group of its own (the whole tree is signalled at once), a
//! clean environment, rlimits (1,024 descriptors, 1,024 processes, no core dumps), and death
//! with hearth (`PR_SET_PDEATHSIG`). Where the host allows: a cgroup (memory limit at
//! MemorySize, 1,024 processes, measured peak, OOM kills seen, the tree killed as one), and a
//! mount namespace with a private tmpfs `/tmp` bounded by `EphemeralStorage`. Without a
//! memory cgroup, the address space is capped instead (`RLIMIT_AS`), a coarse stand-in: it
//! counts reservations, not memory.
//!
//! Not used: a network namespace (the runtime reaches its Runtime API on the host's
//! loopback, and Lambda functions have the network); a pid namespace and a user namespace
//! (not yet: the first needs a reaper inside, the second uid maps written before exec).

use super::cgroup::Cgroups;
use serde::Serialize;

/// One layer, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub name: &'static str,
    pub enabled: bool,
    pub detail: String,
}

/// What this host gives process sandboxes.
#[derive(Debug)]
pub struct Isolation {
    pub(crate) cgroups: Option<Cgroups>,
    /// `unshare(CLONE_NEWNS)` and a tmpfs mount work here.
    pub(crate) mount_namespace: bool,
    layers: Vec<Layer>,
    /// SHUTDOWNs of this host's environments under way.
    pub(crate) shutdowns: std::sync::Arc<Shutdowns>,
}

/// A count of SHUTDOWNs (SIGTERM, the grace, SIGKILL, cgroup removal) under way.
#[derive(Debug, Default)]
pub(crate) struct Shutdowns {
    count: std::sync::Mutex<usize>,
    done: tokio::sync::Notify,
}

/// One SHUTDOWN under way; dropping it ends it.
pub(crate) struct Underway(std::sync::Arc<Shutdowns>);

impl Shutdowns {
    pub(crate) fn begin(self: &std::sync::Arc<Self>) -> Underway {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Underway(self.clone())
    }

    fn underway(&self) -> usize {
        *self.count.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Underway {
    fn drop(&mut self) {
        *self.0.count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.done.notify_waiters();
    }
}

impl Isolation {
    /// Probes each layer (a cgroup directory is made; a throwaway child tries the mount
    /// namespace). Blocking: a few ms.
    pub fn detect() -> Self {
        let cgroups = Cgroups::detect();
        let mount = probe_mount_namespace();
        let mut layers = vec![
            Layer {
                name: "process-group",
                enabled: true,
                detail: "own session and process group; the group is killed as one".into(),
            },
            Layer {
                name: "clean-environment",
                enabled: true,
                detail: "only the Lambda runtime variables and the function's own".into(),
            },
            Layer {
                name: "rlimits",
                enabled: true,
                detail: "1024 descriptors, 1024 processes, no core dumps".into(),
            },
        ];
        layers.push(Layer {
            name: "cgroup",
            enabled: cgroups.is_ok(),
            detail: match &cgroups {
                Ok(c) => format!(
                    "{}: memory limit at MemorySize, pids.max 1024, peak and OOM kills measured",
                    c.describe()
                ),
                Err(why) => format!(
                    "unavailable ({why}): memory is capped by RLIMIT_AS (address space, coarse), Max Memory Used is the runtime process's high-water mark, no process limit beyond RLIMIT_NPROC"
                ),
            },
        });
        layers.push(Layer {
            name: "mount-namespace",
            enabled: mount.is_ok(),
            detail: match &mount {
                Ok(()) => "private tmpfs /tmp of EphemeralStorage size".into(),
                Err(why) => format!(
                    "unavailable ({why}): /tmp is a private directory named by TMPDIR, not bounded"
                ),
            },
        });
        layers.push(Layer {
            name: "network-namespace",
            enabled: false,
            detail: "not used: the Runtime API is on the host's loopback, and functions have the network as on Lambda".into(),
        });
        Self {
            cgroups: cgroups.ok(),
            mount_namespace: mount.is_ok(),
            layers,
            shutdowns: Default::default(),
        }
    }

    /// No layer beyond the ones every host has (for tests of the fallbacks).
    pub fn minimal() -> Self {
        Self {
            cgroups: None,
            mount_namespace: false,
            layers: Vec::new(),
            shutdowns: Default::default(),
        }
    }

    /// Waits until every environment let go has finished its SHUTDOWN (at most 2 s each, in
    /// parallel), so a server that stops leaves no process and no cgroup behind; gives up at
    /// `deadline`.
    pub async fn wait_for_shutdowns(&self, deadline: std::time::Instant) {
        loop {
            let notified = self.shutdowns.done.notified();
            if self.shutdowns.underway() == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return;
            }
        }
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// A memory cgroup limits and measures sandboxes.
    pub fn has_cgroup(&self) -> bool {
        self.cgroups.is_some()
    }
}

/// Starts `/bin/sh -c 'exit 0'` in a new mount namespace with a tmpfs on `/tmp`, and says
/// whether that worked.
fn probe_mount_namespace() -> Result<(), String> {
    let refused = |e: std::io::Error| format!("unshare or mount refused: {e}");
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(refused)?;
    // Started the way every runtime is (a fork would copy the address space of whatever
    // this process already holds, such as other servers' wasm pools in one test binary).
    let probe = super::launch::Launch::new(
        std::path::Path::new("/bin/sh"),
        &["-c".into(), "exit 0".into()],
        std::path::Path::new("/"),
        Vec::new(),
        null.into(),
        super::spawn::Prelude::probe(),
    )
    .map_err(refused)?;
    match probe.spawn().map_err(refused)?.wait_blocking() {
        Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
        Ok(status) => Err(format!(
            "a probe in a new mount namespace ended with {status:?}"
        )),
        Err(e) => Err(refused(e)),
    }
}
