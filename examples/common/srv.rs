//! The benchmarked server process, shared by the load generators (`#[path]`
//! module: examples cannot reach each other's code otherwise).

use std::net::SocketAddr;
use std::process::Child;

/// A running homeclaude: killed, and its data dir removed, when dropped.
pub struct Srv {
    pub child: Child,
    pub addr: SocketAddr,
    pub data: std::path::PathBuf,
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
