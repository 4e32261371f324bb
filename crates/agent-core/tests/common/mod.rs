//! Set-up for the engine's tests: a real chat service (in process, or the binary as a child
//! process that can be killed), agents in its database, a TCP proxy that can cut every
//! connection at once, and the `sim` visitor client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chat_service::store::{NewAgent, SqliteStore, Store};
use protocol::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery staple";
pub const WAIT: Duration = Duration::from_secs(15);

pub fn always_available() -> AgentSettings {
    AgentSettings::around_the_clock(30, 0)
}

/// Creates `n` always-available agents (`agent{i}@test.example`) in the database at `db`.
pub async fn create_agents(db: &Path, n: usize) -> Vec<AgentId> {
    let store = SqliteStore::open(db, false, 10).await.expect("open store");
    let hash = chat_service::auth::hash_password(PASSWORD).expect("hash");
    let mut ids = Vec::new();
    for i in 0..n {
        let id = store
            .create_agent(NewAgent {
                email: format!("agent{i}@test.example"),
                name: format!("Agent {i}"),
                password_hash: hash.clone(),
                settings: always_available(),
            })
            .await
            .expect("create agent");
        ids.push(id);
    }
    store.close().await;
    ids
}

pub fn email(i: usize) -> String {
    format!("agent{i}@test.example")
}

/// The chat-service binary (built by `cargo build -p chat-service`; `scripts/test.sh` does).
pub fn service_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CHAT_SERVICE_BIN") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/chat-service");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p chat-service` first (scripts/test.sh does)",
        p.display()
    );
    p
}

/// The service as a child process, so that it can be killed with SIGKILL.
pub struct ServiceProcess {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServiceProcess {
    /// Starts the binary on `listen` (use port 0 the first time) with the database `db`.
    pub fn spawn(db: &Path, listen: SocketAddr) -> ServiceProcess {
        let mut child = Command::new(service_binary())
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--db")
            .arg(db)
            .args([
                "--visitor-messages-per-10s",
                "1000000",
                "--heartbeat-secs",
                "2",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chat-service");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the service printed its address")
                .expect("read stdout");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().parse().expect("an address");
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        ServiceProcess { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no goodbye to anyone.
    pub fn kill(mut self) -> SocketAddr {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
        self.addr
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of the service whose connections can all be cut at once.
pub struct Proxy {
    pub addr: SocketAddr,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let list = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                if let Ok(mut l) = list.lock() {
                    l.retain(|t| !t.is_finished());
                    l.push(task);
                }
            }
        });
        Proxy {
            addr,
            conns,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts every open connection (both directions close at once).
    pub fn cut(&self) -> usize {
        let mut l = self.conns.lock().expect("lock");
        let n = l.len();
        for t in l.drain(..) {
            t.abort();
        }
        n
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
