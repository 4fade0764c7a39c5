//! Control groups for process sandboxes: a memory limit, a process limit, the measured peak,
//! OOM kills, and killing a whole tree, on cgroup v2 or (where only it is writable, as on
//! many container hosts) the v1 `memory` and `pids` controllers.
//!
//! hearth makes one directory of its own (`hearth-<pid>-<n>`) under the cgroup it was started in
//! and one child per sandbox. A sandbox's process joins its group before `exec` by writing
//! `0` (itself) to `cgroup.procs`, so nothing it starts is ever outside it.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Which cgroup interface the host offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// One unified hierarchy with the `memory` and `pids` controllers enabled for hearth.
    V2 { base: PathBuf },
    /// The v1 `memory` and `pids` hierarchies.
    V1 { memory: PathBuf, pids: PathBuf },
}

/// hearth's cgroup directory (or directories, on v1), made at start-up.
#[derive(Debug)]
pub struct Cgroups {
    version: Version,
}

/// The most processes (threads count) one sandbox may have: Lambda's limit.
pub const MAX_PROCESSES: u64 = 1024;

impl Cgroups {
    /// Finds a writable cgroup for hearth and makes `hearth-<pid>-<n>` in it; the error says why
    /// none is usable.
    pub fn detect() -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup: {e}"))?;
        // One directory per detection: several servers in one process (tests) never share it.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "hearth-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let root = Path::new("/sys/fs/cgroup");
        let v2_root = if root.join("cgroup.controllers").exists() {
            Some(root.to_path_buf())
        } else if root.join("unified/cgroup.controllers").exists() {
            Some(root.join("unified"))
        } else {
            None
        };
        let mut why = Vec::new();
        if let Some(v2) = v2_root {
            match Self::v2(&v2, &own, &name) {
                Ok(c) => return Ok(c),
                Err(e) => why.push(format!("cgroup v2: {e}")),
            }
        }
        match Self::v1(root, &own, &name) {
            Ok(c) => Ok(c),
            Err(e) => {
                why.push(format!("cgroup v1: {e}"));
                Err(why.join("; "))
            }
        }
    }

    fn v2(root: &Path, own: &str, name: &str) -> Result<Self, String> {
        let controllers =
            std::fs::read_to_string(root.join("cgroup.controllers")).map_err(|e| e.to_string())?;
        for wanted in ["memory", "pids"] {
            if !controllers.split_whitespace().any(|c| c == wanted) {
                return Err(format!("the {wanted} controller is not available"));
            }
        }
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or("no unified entry in /proc/self/cgroup")?;
        let parent = root.join(path.trim_start_matches('/'));
        collect_stale(&parent);
        let base = parent.join(name);
        std::fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        // Children of `base` get the controllers only if `base` delegates them.
        if let Err(e) = std::fs::write(base.join("cgroup.subtree_control"), "+memory +pids") {
            let _ = std::fs::remove_dir(&base);
            return Err(format!("enabling memory and pids for sandboxes: {e}"));
        }
        Ok(Self {
            version: Version::V2 { base },
        })
    }

    fn v1(root: &Path, own: &str, name: &str) -> Result<Self, String> {
        let dir_of = |controller: &str| -> Result<PathBuf, String> {
            let mount = root.join(controller);
            if !mount.join("cgroup.procs").exists() {
                return Err(format!("no {controller} hierarchy at {}", mount.display()));
            }
            // Our own group in that hierarchy, when the mount shows it; else the mount root.
            let path = own
                .lines()
                .find_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                    controllers
                        .split(',')
                        .any(|c| c == controller)
                        .then(|| path.trim_start_matches('/').to_owned())
                })
                .unwrap_or_default();
            let parent = if mount.join(&path).is_dir() {
                mount.join(path)
            } else {
                mount
            };
            collect_stale(&parent);
            let dir = parent.join(name);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Ok(dir)
        };
        let memory = dir_of("memory")?;
        let pids = dir_of("pids")?;
        Ok(Self {
            version: Version::V1 { memory, pids },
        })
    }

    /// "cgroup v2" or "cgroup v1 (memory, pids)".
    pub fn describe(&self) -> String {
        match &self.version {
            Version::V2 { base } => format!("cgroup v2 at {}", base.display()),
            Version::V1 { memory, .. } => {
                format!("cgroup v1 memory+pids at {}", memory.display())
            }
        }
    }

    /// A group for one sandbox, limited to `memory_bytes` and [`MAX_PROCESSES`].
    pub fn sandbox(&self, memory_bytes: u64) -> std::io::Result<Group> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!("sb-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let dirs = match &self.version {
            Version::V2 { base } => vec![base.join(&name)],
            Version::V1 { memory, pids } => vec![memory.join(&name), pids.join(&name)],
        };
        for d in &dirs {
            std::fs::create_dir(d)?;
        }
        let group = Group {
            v2: matches!(self.version, Version::V2 { .. }),
            dirs,
        };
        group.limit(memory_bytes)?;
        Ok(group)
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        match &self.version {
            Version::V2 { base } => {
                let _ = std::fs::remove_dir(base);
            }
            Version::V1 { memory, pids } => {
                let _ = std::fs::remove_dir(memory);
                let _ = std::fs::remove_dir(pids);
            }
        }
    }
}

/// Removes the directories of hearth processes that are gone (a crash, or an exit that ran no
/// destructors): their sandboxes died with them (`PR_SET_PDEATHSIG`), so the groups are
/// empty and only the directories are left.
fn collect_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("hearth-"))
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(children) = std::fs::read_dir(entry.path()) {
            for child in children.flatten() {
                if child.path().is_dir() {
                    let _ = std::fs::remove_dir(child.path());
                }
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

/// One sandbox's cgroup (one directory on v2, one per controller on v1).
#[derive(Debug)]
pub struct Group {
    v2: bool,
    /// The memory (or unified) directory first.
    dirs: Vec<PathBuf>,
}

impl Group {
    fn memory_dir(&self) -> &Path {
        &self.dirs[0]
    }

    fn pids_dir(&self) -> &Path {
        self.dirs.last().unwrap_or(&self.dirs[0])
    }

    fn limit(&self, memory_bytes: u64) -> std::io::Result<()> {
        let m = self.memory_dir();
        if self.v2 {
            std::fs::write(m.join("memory.max"), memory_bytes.to_string())?;
            // Swap would let a sandbox hold more than its MemorySize.
            let _ = std::fs::write(m.join("memory.swap.max"), "0");
        } else {
            std::fs::write(m.join("memory.limit_in_bytes"), memory_bytes.to_string())?;
            let _ = std::fs::write(
                m.join("memory.memsw.limit_in_bytes"),
                memory_bytes.to_string(),
            );
        }
        std::fs::write(self.pids_dir().join("pids.max"), MAX_PROCESSES.to_string())
    }

    /// The `cgroup.procs` files a new process writes `0` to, as C strings made before the
    /// fork (nothing may allocate between fork and exec).
    pub fn procs_files(&self) -> Vec<CString> {
        self.dirs
            .iter()
            .filter_map(|d| {
                CString::new(d.join("cgroup.procs").into_os_string().into_encoded_bytes()).ok()
            })
            .collect()
    }

    fn read_u64(&self, file: &str) -> Option<u64> {
        std::fs::read_to_string(self.memory_dir().join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Bytes the group holds now.
    pub fn memory_current(&self) -> Option<u64> {
        self.read_u64(if self.v2 {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        })
    }

    /// The most the group has held: `Max Memory Used`.
    pub fn memory_peak(&self) -> Option<u64> {
        self.read_u64(if self.v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        })
    }

    /// How many times the kernel's OOM killer killed a process of this group.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(self.memory_dir().join(file))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// The processes in the group now.
    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.pids_dir().join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// SIGKILLs every process in the group (`cgroup.kill` on v2; each listed process on v1,
    /// again until none is left, since a process may fork while it is being killed).
    /// Blocking (file system calls): run it off the async workers or where that is brief.
    pub fn kill_all(&self) {
        if self.v2 && std::fs::write(self.memory_dir().join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for _ in 0..64 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::yield_now();
        }
    }

    /// Removes the group's directories once it is empty; true when they are gone.
    pub fn remove(&self) -> bool {
        self.dirs.iter().all(|d| match std::fs::remove_dir(d) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        })
    }
}
