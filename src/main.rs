// Wired into /healthz by the server core; until then only its tests use it.
#[allow(dead_code)]
mod boxstatus;

fn main() {
    println!("Hello, world!");
}
