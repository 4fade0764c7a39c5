//! Starting a runtime without copying hearth's address space.
//!
//! `fork` copies the page tables and mappings of the whole server, and a server with a wasm
//! engine has reserved terabytes of address space for its pool: measured here, a fork from it
//! took 87 ms where a `posix_spawn` took 0.8 ms. So a runtime is started the way
//! `posix_spawn` starts one: `clone(CLONE_VM | CLONE_VFORK)` on a stack of its own, where the
//! child shares hearth's memory until its `execve` (the calling thread waits that long), runs
//! the [`Prelude`] and execs. Everything the child touches is prepared before the clone; it
//! allocates nothing and calls only async-signal-safe functions.
//!
//! The child is hearth's own child process. Its end is awaited through a pidfd (readable
//! once it exits), then it is reaped with `waitpid`.

use super::spawn::Prelude;
use nix::libc;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// What to run: all as C strings and pointer arrays, made before the clone.
pub struct Launch {
    program: CString,
    cwd: CString,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
    /// Becomes fds 1 and 2.
    output: OwnedFd,
    prelude: Prelude,
}

// The raw pointers point into `_argv` and `_envp`, which the struct owns and never changes.
#[allow(unsafe_code)]
// SAFETY: the pointers are only read, by the child between clone and exec, while the parent
// thread that owns the `Launch` is suspended (CLONE_VFORK).
unsafe impl Send for Launch {}
#[allow(unsafe_code)]
// SAFETY: nothing in a `Launch` changes after `new`; the pointers are read-only views of
// strings it owns.
unsafe impl Sync for Launch {}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launch")
            .field("program", &self.program)
            .finish_non_exhaustive()
    }
}

fn c_string(bytes: impl Into<Vec<u8>>) -> std::io::Result<CString> {
    CString::new(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

impl Launch {
    pub fn new(
        program: &std::path::Path,
        args: &[String],
        cwd: &std::path::Path,
        env: impl IntoIterator<Item = (String, String)>,
        output: OwnedFd,
        prelude: Prelude,
    ) -> std::io::Result<Self> {
        let program = c_string(program.as_os_str().as_encoded_bytes())?;
        let mut argv = vec![program.clone()];
        for a in args {
            argv.push(c_string(a.as_bytes())?);
        }
        let envp = env
            .into_iter()
            .map(|(k, v)| c_string(format!("{k}={v}")))
            .collect::<std::io::Result<Vec<_>>>()?;
        let pointers = |strings: &[CString]| {
            strings
                .iter()
                .map(|s| s.as_ptr())
                .chain(std::iter::once(std::ptr::null()))
                .collect::<Vec<_>>()
        };
        Ok(Self {
            cwd: c_string(cwd.as_os_str().as_encoded_bytes())?,
            argv_ptrs: pointers(&argv),
            envp_ptrs: pointers(&envp),
            _argv: argv,
            _envp: envp,
            program,
            output,
            prelude,
        })
    }

    /// Starts the process; returns its pid once it has exec'd (or the error that stopped it
    /// before, from the child's own errno).
    #[allow(unsafe_code)]
    pub fn spawn(&self) -> std::io::Result<Child> {
        // Where the child leaves its errno if it cannot exec. Shared memory (CLONE_VM): the
        // parent reads it after the child has exec'd or exited, which CLONE_VFORK waits for.
        let failed = AtomicI32::new(0);
        let mut stack = vec![0u8; CHILD_STACK_BYTES];
        let child_body = || -> isize {
            let errno = self.in_child();
            failed.store(errno, Ordering::SeqCst);
            // SAFETY: `_exit` ends the child without running anything of the parent's (no
            // atexit handlers, no flushing of shared stdio buffers).
            unsafe { libc::_exit(127) }
        };
        // SAFETY: the child runs `child_body` on `stack`, sharing this process's memory until
        // it execs or exits; meanwhile this thread is suspended (CLONE_VFORK), so `self`,
        // `failed` and `stack` outlive every use. `in_child` allocates nothing and calls only
        // async-signal-safe functions, so the other threads of this process (which keep
        // running, and may hold the allocator's or any other lock) are never waited on.
        // SIGCHLD as the exit signal makes it an ordinary child for `waitpid`.
        let pid = unsafe {
            nix::sched::clone(
                Box::new(child_body),
                &mut stack,
                nix::sched::CloneFlags::CLONE_VM | nix::sched::CloneFlags::CLONE_VFORK,
                Some(libc::SIGCHLD),
            )
        }
        .map_err(std::io::Error::from)?;
        let errno = failed.load(Ordering::SeqCst);
        if errno != 0 {
            let _ = nix::sys::wait::waitpid(pid, None);
            return Err(std::io::Error::from_raw_os_error(errno));
        }
        // SAFETY: a plain system call; a returned descriptor is new and ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            return Err(e);
        }
        // SAFETY: `fd` is the pidfd just opened, owned by nothing else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        Ok(Child {
            pid,
            pidfd: Some(pidfd),
        })
    }

    /// The child's side: stdio, the prelude, the working directory, exec. Returns the errno
    /// of the step that failed (exec does not return on success).
    #[allow(unsafe_code)]
    fn in_child(&self) -> i32 {
        let errno = || nix::errno::Errno::last_raw();
        // SAFETY (each call below): direct system calls on descriptors and C strings owned by
        // `self`, valid for the whole call; no allocation, no locks.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            if null < 0 || libc::dup2(null, 0) < 0 {
                return errno();
            }
            let out = self.output.as_raw_fd();
            if libc::dup2(out, 1) < 0 || libc::dup2(out, 2) < 0 {
                return errno();
            }
            // The server ignores SIGPIPE and has signals blocked on some threads: the runtime
            // starts with the defaults.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            if libc::chdir(self.cwd.as_ptr()) < 0 {
                return errno();
            }
        }
        if let Err(e) = self.prelude.run() {
            return e as i32;
        }
        // SAFETY: null-terminated arrays of pointers into C strings `self` owns.
        unsafe {
            libc::execve(
                self.program.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.envp_ptrs.as_ptr(),
            );
        }
        errno()
    }
}

/// Starts `launch` on the launcher thread: one long-lived thread that makes every runtime
/// process, so the clone never holds an async worker and `PR_SET_PDEATHSIG` (which fires
/// when the creating *thread* exits) fires only when the server ends.
pub async fn spawn_shared(launch: std::sync::Arc<Launch>) -> std::io::Result<Child> {
    type Request = (
        std::sync::Arc<Launch>,
        tokio::sync::oneshot::Sender<std::io::Result<Child>>,
    );
    static LAUNCHER: std::sync::OnceLock<std::sync::mpsc::Sender<Request>> =
        std::sync::OnceLock::new();
    let launcher = LAUNCHER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Request>();
        let started = std::thread::Builder::new()
            .name("hearth-launcher".into())
            .spawn(move || {
                for (launch, reply) in rx {
                    let _ = reply.send(launch.spawn());
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the launcher thread");
        }
        tx
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    launcher
        .send((launch, reply))
        .map_err(|_| std::io::Error::other("the launcher thread is gone"))?;
    answer
        .await
        .map_err(|_| std::io::Error::other("the launcher thread is gone"))?
}

/// The child's stack until it execs: the prelude and libc's wrappers need little.
const CHILD_STACK_BYTES: usize = 256 * 1024;

/// A started runtime process.
#[derive(Debug)]
pub struct Child {
    pid: nix::unistd::Pid,
    pidfd: Option<OwnedFd>,
}

impl Child {
    pub fn pid(&self) -> nix::unistd::Pid {
        self.pid
    }

    /// Waits for the process to end and reaps it.
    #[allow(unsafe_code)]
    pub async fn wait(mut self) -> std::io::Result<nix::sys::wait::WaitStatus> {
        if let Some(pidfd) = self.pidfd.take() {
            // SAFETY: the `AsyncFd` owns the pidfd, which stays open and unchanged until the
            // `AsyncFd` is dropped at the end of this function.
            let watched = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    pidfd,
                    tokio::io::Interest::READABLE,
                )
            }
            .map_err(|e| e.into_parts().1)?;
            let _ = watched.readable().await?;
        }
        nix::sys::wait::waitpid(self.pid, None).map_err(std::io::Error::from)
    }
}

impl Child {
    /// [`Self::wait`] on this thread (for a short-lived child, outside any async context).
    pub fn wait_blocking(mut self) -> std::io::Result<nix::sys::wait::WaitStatus> {
        self.pidfd = None;
        nix::sys::wait::waitpid(self.pid, None).map_err(std::io::Error::from)
    }
}

impl Drop for Child {
    /// A child dropped before it was waited for is killed and reaped, so none is left a
    /// zombie.
    fn drop(&mut self) {
        if self.pidfd.is_some() {
            let pid = self.pid;
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            std::thread::spawn(move || {
                let _ = nix::sys::wait::waitpid(pid, None);
            });
        }
    }
}
