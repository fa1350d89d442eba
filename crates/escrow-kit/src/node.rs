//! One running server of a deployment: a task of this process or a child process,
//! stopped and cleaned up the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::KitError;

/// How long a child process may take to announce its address.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The shutdown signal a server task is given.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

enum Run {
    Task { shutdown: Option<oneshot::Sender<()>>, handle: Option<JoinHandle<Result<(), String>>> },
    Process(Option<Child>),
}

/// A server at `addr`. Dropping it kills a child process (unless detached) and aborts
/// a task.
pub struct Node {
    /// The node's name (`trustee-0`, `relay`).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    run: Run,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("name", &self.name).field("addr", &self.addr).field("pid", &self.pid()).finish()
    }
}

impl Node {
    /// Binds `127.0.0.1:0`, runs `f(listener, shutdown)` as a task, returns the node.
    /// The task's error, if it ends with one, is what [`Node::shut_down`] reports.
    pub async fn serve<F, Fut, E>(name: &str, f: F) -> Result<Node, KitError>
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        Self::serve_at(name, "127.0.0.1:0", f).await
    }

    /// [`Node::serve`] on `addr` (a restart at the address others were told).
    pub async fn serve_at<F, Fut, E>(name: &str, addr: &str, f: F) -> Result<Node, KitError>
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let start = |why: String| KitError::Start { name: name.into(), why };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| start(format!("{addr}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| start(e.to_string()))?;
        let (tx, rx) = oneshot::channel::<()>();
        let shutdown: Shutdown = Box::pin(async move {
            let _ = rx.await;
        });
        let serving = f(listener, shutdown);
        let handle = tokio::spawn(async move { serving.await.map_err(|e| e.to_string()) });
        Ok(Node { name: name.into(), addr, run: Run::Task { shutdown: Some(tx), handle: Some(handle) } })
    }

    /// Starts `exe args… --listen 127.0.0.1:0 --addr-file <dir>/<name>.addr` with its
    /// output in `<logs>/<name>.log` and `passphrase` (if any) in `ESCROW_PASSPHRASE`
    /// (not argv: other users can read argv), and waits until it announces its address.
    pub async fn spawn(
        name: &str,
        exe: &Path,
        args: &[String],
        dir: &Path,
        logs: &Path,
        passphrase: Option<&str>,
    ) -> Result<Node, KitError> {
        Self::spawn_at(name, exe, args, dir, logs, passphrase, "127.0.0.1:0").await
    }

    /// [`Node::spawn`] listening on `listen` (a restart at the address others were
    /// told).
    pub async fn spawn_at(
        name: &str,
        exe: &Path,
        args: &[String],
        dir: &Path,
        logs: &Path,
        passphrase: Option<&str>,
        listen: &str,
    ) -> Result<Node, KitError> {
        let addr_file = addr_file(dir, name);
        let log_path = logs.join(format!("{name}.log"));
        match std::fs::remove_file(&addr_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(KitError::io(&addr_file, e)),
            _ => {}
        }
        std::fs::create_dir_all(logs).map_err(|e| KitError::io(logs, e))?;
        let log = std::fs::File::create(&log_path).map_err(|e| KitError::io(&log_path, e))?;
        let log2 = log.try_clone().map_err(|e| KitError::io(&log_path, e))?;
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .args(["--listen", listen, "--addr-file"])
            .arg(&addr_file)
            // Every server also serves its Prometheus metrics, at the address it
            // writes next to its own (`<name>.metrics.addr`).
            .args(["--metrics-listen", "127.0.0.1:0", "--metrics-addr-file"])
            .arg(dir.join(format!("{name}.metrics.addr")))
            .env("RUST_LOG", "info")
            .env_remove("ESCROW_PASSPHRASE")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if let Some(p) = passphrase {
            cmd.env("ESCROW_PASSPHRASE", p);
        }
        let failed = |why: String| KitError::Process { name: name.into(), why, log: log_path.clone() };
        let mut child = cmd.spawn().map_err(|e| failed(format!("cannot start {}: {e}", exe.display())))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&addr_file) {
                if let Ok(a) = text.trim().parse::<SocketAddr>() {
                    break a;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(failed(format!("exited during start-up ({status})")));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!("did not announce an address within {} s", START_TIMEOUT.as_secs())));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        Ok(Node { name: name.into(), addr, run: Run::Process(Some(child)) })
    }

    /// A node that is not running yet (address `0.0.0.0:0`), to be replaced by a start.
    pub fn placeholder(name: &str) -> Node {
        Node { name: name.into(), addr: SocketAddr::from(([0, 0, 0, 0], 0)), run: Run::Process(None) }
    }

    /// Whether it is still meant to be running (not stopped, killed or detached).
    pub fn is_up(&self) -> bool {
        match &self.run {
            Run::Task { handle, .. } => handle.is_some(),
            Run::Process(c) => c.is_some(),
        }
    }

    /// The child's pid, for a process that is up.
    pub fn pid(&self) -> Option<u32> {
        match &self.run {
            Run::Process(Some(c)) => Some(c.id()),
            _ => None,
        }
    }

    /// Stops it: a task is asked to shut down gracefully and awaited; a process is
    /// killed and reaped.
    pub async fn stop(&mut self) {
        match &mut self.run {
            Run::Task { shutdown, handle } => {
                if let Some(tx) = shutdown.take() {
                    let _ = tx.send(());
                }
                if let Some(h) = handle.take() {
                    let _ = h.await;
                }
            }
            Run::Process(_) => self.kill(),
        }
    }

    /// Stops it as [`Node::stop`] does and says whether it ended cleanly: a task
    /// that ended with an error or panicked, or a process that had already died, is an
    /// error.
    pub async fn shut_down(mut self) -> Result<(), KitError> {
        let name = self.name.clone();
        let failed = |why: String| KitError::Start { name: name.clone(), why };
        match &mut self.run {
            Run::Task { shutdown, handle } => {
                if let Some(tx) = shutdown.take() {
                    let _ = tx.send(());
                }
                match handle.take() {
                    Some(h) => h.await.map_err(|e| failed(format!("the server task failed: {e}")))?.map_err(failed),
                    None => Ok(()),
                }
            }
            Run::Process(c) => match c.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Err(failed(format!("had exited ({status})"))),
                _ => {
                    self.kill();
                    Ok(())
                }
            },
        }
    }

    /// Stops it at once: a process gets SIGKILL, a task is aborted.
    pub fn kill(&mut self) {
        match &mut self.run {
            Run::Task { shutdown, handle } => {
                shutdown.take();
                if let Some(h) = handle.take() {
                    h.abort();
                }
            }
            Run::Process(c) => {
                if let Some(mut c) = c.take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }

    /// Leaves a child process running after this handle is gone; returns its pid.
    pub fn detach(&mut self) -> Option<u32> {
        match &mut self.run {
            Run::Process(c) => c.take().map(|c| c.id()),
            Run::Task { .. } => None,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The file a child process named `name` writes its address to, in `dir`.
pub fn addr_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.addr"))
}

/// Serves a relay with `config` in this process, presenting `creds` (a relay's).
pub async fn serve_relay(
    config: escrow_relay::RelayConfig,
    creds: &escrow_service::transport::Credentials,
) -> Result<Node, KitError> {
    let svc = escrow_relay::RelayService::open(config)
        .map_err(|e| KitError::Start { name: "relay".into(), why: e.to_string() })?;
    let me = creds.clone();
    Node::serve("relay", move |l, s| async move { escrow_relay::serve(l, svc, &me, s).await }).await
}
