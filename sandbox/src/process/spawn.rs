//! What a sandbox's process does between its clone ([`super::launch`]) and `exec`: only
//! async-signal-safe system calls on values prepared before (no allocation, no locks).

use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::resource::{Resource, setrlimit};
use std::ffi::CString;

/// Descriptors a runtime may have open (Lambda's limit).
pub const MAX_DESCRIPTORS: u64 = 1024;

/// The steps, prepared.
#[derive(Debug, Clone, Default)]
pub struct Prelude {
    /// `cgroup.procs` files to join (write `0`).
    pub cgroup_procs: Vec<CString>,
    /// A private tmpfs on `/tmp` with these mount options (`size=…,mode=1777`), in a new
    /// mount namespace.
    pub tmpfs_options: Option<CString>,
    /// `RLIMIT_AS`, when no memory cgroup limits the sandbox.
    pub address_space: Option<u64>,
    /// Processes the runtime may have (`RLIMIT_NPROC`).
    pub processes: u64,
    /// With the mount namespace: the code directory (the process's working directory when
    /// these steps run), bound read-only onto its own path. When it lies under `/tmp`, the
    /// private tmpfs hides it, so the directories leading to it are made in the tmpfs first
    /// (`mkdirs`) and it is bound back from the working directory.
    pub task_root: Option<TaskRoot>,
    /// Instead of a new mount namespace: the one this descriptor names (another process of
    /// the same environment), so every process of an environment sees one `/tmp`.
    pub join_mount_namespace: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// The code directory as the mount steps need it.
#[derive(Debug, Clone)]
pub struct TaskRoot {
    pub path: CString,
    pub mkdirs: Vec<CString>,
}

impl TaskRoot {
    pub fn new(path: &std::path::Path) -> Option<Self> {
        let c = |p: &std::path::Path| CString::new(p.as_os_str().as_encoded_bytes()).ok();
        let mkdirs = match path.strip_prefix("/tmp") {
            Ok(below) => {
                let mut at = std::path::PathBuf::from("/tmp");
                let mut dirs = Vec::new();
                for part in below.components() {
                    at.push(part);
                    dirs.push(c(&at)?);
                }
                dirs
            }
            Err(_) => Vec::new(),
        };
        Some(Self {
            path: c(path)?,
            mkdirs,
        })
    }
}

impl Prelude {
    /// The steps of the start-up probe: a mount namespace with a small tmpfs.
    pub(crate) fn probe() -> Self {
        Self {
            tmpfs_options: CString::new("size=1m,mode=1777").ok(),
            processes: super::cgroup::MAX_PROCESSES,
            ..Self::default()
        }
    }

    /// The steps themselves, in the child.
    pub(crate) fn run(&self) -> nix::Result<()> {
        nix::unistd::setsid()?;
        // Die with hearth: no environment outlives the server that owns it.
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
        setrlimit(Resource::RLIMIT_NPROC, self.processes, self.processes)?;
        setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
        if let Some(bytes) = self.address_space {
            setrlimit(Resource::RLIMIT_AS, bytes, bytes)?;
        }
        for procs in &self.cgroup_procs {
            let fd = nix::fcntl::open(
                procs.as_c_str(),
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )?;
            let written = nix::unistd::write(&fd, b"0");
            drop(fd);
            written?;
        }
        if let Some(namespace) = &self.join_mount_namespace {
            nix::sched::setns(namespace.as_ref(), CloneFlags::CLONE_NEWNS)?;
            if let Some(root) = &self.task_root {
                nix::unistd::chdir(root.path.as_c_str())?;
            }
        } else if let Some(options) = &self.tmpfs_options {
            nix::sched::unshare(CloneFlags::CLONE_NEWNS)?;
            // Nothing mounted here may propagate back to the host.
            nix::mount::mount(
                None::<&std::ffi::CStr>,
                c"/",
                None::<&std::ffi::CStr>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&std::ffi::CStr>,
            )?;
            nix::mount::mount(
                Some(c"tmpfs"),
                c"/tmp",
                Some(c"tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_c_str()),
            )?;
            if let Some(root) = &self.task_root {
                for dir in &root.mkdirs {
                    match nix::unistd::mkdir(
                        dir.as_c_str(),
                        nix::sys::stat::Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                        Err(e) => return Err(e),
                    }
                }
                // The working directory still is the code directory, wherever it is hidden.
                nix::mount::mount(
                    Some(c"/proc/self/cwd"),
                    root.path.as_c_str(),
                    None::<&std::ffi::CStr>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&std::ffi::CStr>,
                )?;
                nix::mount::mount(
                    None::<&std::ffi::CStr>,
                    root.path.as_c_str(),
                    None::<&std::ffi::CStr>,
                    MsFlags::MS_BIND
                        | MsFlags::MS_REMOUNT
                        | MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV,
                    None::<&std::ffi::CStr>,
                )?;
                nix::unistd::chdir(root.path.as_c_str())?;
            }
        }
        // Last: until exec closes them, this process still holds the server's descriptors
        // (close-on-exec, and possibly more than 1,024): a lower limit before the opens above
        // would make them fail with EMFILE.
        setrlimit(Resource::RLIMIT_NOFILE, MAX_DESCRIPTORS, MAX_DESCRIPTORS)?;
        Ok(())
    }
}
