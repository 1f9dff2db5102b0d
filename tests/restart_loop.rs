//! Tests of `systemd/homeclaude-loop.sh`, the restart loop for boxes without
//! systemd, run with /bin/sh against a fake homeclaude.
//!
//! The fake is a shell script that, on its Nth start, does what line N of a
//! `sequence` file says (an exit code, `kill:SIG` to die by a signal, or `wait`
//! to run until signalled; past the end, exit 0) and appends a line to `runs`. The loop's back-off
//! sleep is replaced by a command that appends the delay to `sleeps` and
//! returns at once, so the tests assert on run counts, delays and exit
//! statuses without sleeping. Where the test must act while something runs, it
//! waits for a line on a pipe, never for time to pass.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

const LOOP_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/homeclaude-loop.sh");

/// A bound on how long any loop may run in a test, so a broken loop fails the
/// test instead of hanging CI. Not a synchronisation: tests never wait it out.
const DEADLINE: Duration = Duration::from_secs(20);

const FAKE_HOMECLAUDE: &str = r#"#!/bin/sh
dir=$(dirname "$0")
n=$(( $(wc -l < "$dir/runs") + 1 ))
echo "run $n: $*" >> "$dir/runs"
action=$(sed -n "${n}p" "$dir/sequence")
# Past the end of the sequence: exit cleanly, and let the run count tell.
[ -n "$action" ] || action=0
case $action in
    kill:*) kill -s "${action#kill:}" $$ ;;
    wait)
        # KILL, not TERM: a TERM that reaches the sleep between fork and exec
        # is lost, and a stray sleep would hold the pipes open.
        trap 'echo "got TERM" >> "$dir/runs"; kill -s KILL "$s"; exit 0' TERM
        sleep 600 &
        s=$!
        echo ready
        wait "$s" ;;
    *) exit "$action" ;;
esac
"#;

const FAKE_SLEEP: &str = "#!/bin/sh\necho \"$1\" >> \"$(dirname \"$0\")/sleeps\"\n";

/// A temp dir with the fake homeclaude, the fake sleep and a sequence.
struct Scene {
    dir: PathBuf,
}

impl Scene {
    fn new(sequence: &[&str]) -> Scene {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("homeclaude-loop-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scene dir");
        write_executable(&dir.join("homeclaude"), FAKE_HOMECLAUDE);
        write_executable(&dir.join("sleep"), FAKE_SLEEP);
        fs::write(dir.join("sequence"), sequence.join("\n") + "\n").expect("write sequence");
        fs::write(dir.join("runs"), "").expect("write runs");
        fs::write(dir.join("sleeps"), "").expect("write sleeps");
        Scene { dir }
    }

    /// The loop, started with `args` for homeclaude and extra environment.
    fn start(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut command = Command::new("/bin/sh");
        command
            .arg(LOOP_SCRIPT)
            .args(args)
            .env("HOMECLAUDE_BIN", self.dir.join("homeclaude"))
            .env("HOMECLAUDE_LOOP_SLEEP", self.dir.join("sleep"))
            .env("HOMECLAUDE_BACKOFF_BASE", "1")
            .env("HOMECLAUDE_BACKOFF_MAX", "8")
            .env("HOMECLAUDE_BACKOFF_RESET", "3600")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        // Its own process group, so a test that times out can stop everything.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command.spawn().expect("start the loop with /bin/sh")
    }

    fn runs(&self) -> Vec<String> {
        lines(&self.dir.join("runs"))
    }

    fn sleeps(&self) -> Vec<u32> {
        lines(&self.dir.join("sleeps"))
            .iter()
            .map(|l| l.parse().expect("a delay in seconds"))
            .collect()
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod script");
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read log")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits for the loop to exit (bounded by DEADLINE); returns its status and
/// its stderr log.
fn finish(mut child: Child) -> (ExitStatus, String) {
    let pid = Pid::from_child(&child);
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        let _ = done.send((child.wait(), log));
    });
    match wait.recv_timeout(DEADLINE) {
        Ok((status, log)) => (status.expect("wait for the loop"), log),
        Err(_) => {
            let _ = kill_process_group(pid, Signal::KILL);
            panic!("the loop did not exit within {DEADLINE:?}");
        }
    }
}

/// Runs the loop to its end with no signals involved.
fn run(sequence: &[&str], env: &[(&str, &str)]) -> (Scene, ExitStatus, String) {
    let scene = Scene::new(sequence);
    let (status, log) = finish(scene.start(&["--listen", "127.0.0.1:0"], env));
    (scene, status, log)
}

#[test]
fn restarts_at_once_on_exit_100_and_stops_on_exit_0() {
    let (scene, status, log) = run(&["100", "100", "0"], &[]);
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(scene.runs().len(), 3, "{log}");
    assert_eq!(
        scene.sleeps(),
        Vec::<u32>::new(),
        "no back-off for a requested restart"
    );
    assert!(log.contains("restart requested"), "{log}");
    // homeclaude gets the loop's arguments, every time.
    assert!(
        scene
            .runs()
            .iter()
            .all(|r| r.ends_with(": --listen 127.0.0.1:0")),
        "{:?}",
        scene.runs()
    );
}

#[test]
fn restarts_after_a_crash_and_after_death_by_signal() {
    let (scene, status, log) = run(&["1", "kill:KILL", "kill:SEGV", "0"], &[]);
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(scene.runs().len(), 4, "{log}");
    assert_eq!(scene.sleeps(), [1, 2, 4]);
    assert!(log.contains("exited with 1;"), "{log}");
    assert!(log.contains("killed by signal 9;"), "{log}");
    assert!(log.contains("killed by signal 11;"), "{log}");
}

#[test]
fn back_off_doubles_up_to_the_cap() {
    let (scene, status, log) = run(&["3", "3", "3", "3", "3", "3", "0"], &[]);
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(scene.runs().len(), 7);
    assert_eq!(scene.sleeps(), [1, 2, 4, 8, 8, 8]);
}

#[test]
fn requested_restart_resets_the_back_off() {
    let (scene, status, log) = run(&["1", "1", "100", "1", "0"], &[]);
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(scene.sleeps(), [1, 2, 1]);
}

#[test]
fn a_long_enough_run_resets_the_back_off() {
    // Every run counts as long enough when the threshold is 0 seconds.
    let (scene, status, log) = run(&["1", "1", "1", "0"], &[("HOMECLAUDE_BACKOFF_RESET", "0")]);
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(scene.sleeps(), [1, 1, 1]);
}

#[test]
fn bad_configuration_stops_the_loop() {
    let (scene, status, log) = run(&["2", "0"], &[]);
    assert_eq!(status.code(), Some(2), "{log}");
    assert_eq!(scene.runs().len(), 1);
    assert_eq!(scene.sleeps(), Vec::<u32>::new());
}

#[test]
fn sigterm_and_sigint_reach_homeclaude_and_end_the_loop() {
    for (signal, name) in [(Signal::TERM, "TERM"), (Signal::INT, "INT")] {
        // After the signal the loop must not start homeclaude again, though
        // the sequence would let it crash and be restarted.
        let scene = Scene::new(&["wait", "1", "0"]);
        let mut child = scene.start(&[], &[]);
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the fake's ready line");
        assert_eq!(line, "ready\n");
        kill_process(Pid::from_child(&child), signal).expect("signal the loop");
        let (status, log) = finish(child);
        assert_eq!(status.code(), Some(0), "{name}: {log}");
        // Both arrive as SIGTERM: sh starts homeclaude with SIGINT ignored.
        assert_eq!(scene.runs(), ["run 1: ", "got TERM"], "{name}: {log}");
        assert!(log.contains(&format!("got SIG{name}")), "{name}: {log}");
    }
}

#[test]
fn sigterm_during_the_back_off_ends_the_loop_at_once() {
    // Real `sleep` for an hour: only the signal can end this test in time.
    let scene = Scene::new(&["1", "0"]);
    let mut child = scene.start(
        &[],
        &[
            ("HOMECLAUDE_LOOP_SLEEP", "sleep"),
            ("HOMECLAUDE_BACKOFF_BASE", "3600"),
        ],
    );
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read the loop's log");
    assert!(line.contains("starting again in 3600s"), "{line}");
    kill_process(Pid::from_child(&child), Signal::TERM).expect("signal the loop");
    child.stderr = Some(stderr.into_inner());
    let (status, log) = finish(child);
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(scene.runs().len(), 1);
    assert!(log.contains("while waiting to restart"), "{log}");
}
