//! fake-claude: a stand-in for the `claude` CLI that replays a transcript. It exists
//! only for homeclaude's tests and is never installed or deployed.
//!
//! It behaves like `claude -p --input-format stream-json --output-format
//! stream-json`: it waits for the prompt on stdin, prints the transcript's lines,
//! then lives on until stdin closes. A `control_request` `interrupt` on stdin or a
//! SIGINT ends the turn with an `error_during_execution` result, as the real CLI
//! does; SIGTERM kills it. Everything it was given is recorded for the test.
//!
//! Settings (a flag wins over its environment twin; the flags are meant to be passed
//! as the runner's extra arguments):
//! - `--fake-transcript PATH` / `FAKE_CLAUDE_TRANSCRIPT`: the lines to replay.
//! - `--fake-record PATH` / `FAKE_CLAUDE_RECORD`: where to record; the first line is
//!   argv as a JSON array, then each stdin line as read, `#signal N` for each signal
//!   caught and `#grandchild PID` for each process it started.
//! - `--fake-transcript-dir DIR` / `FAKE_CLAUDE_TRANSCRIPT_DIR`: a prompt whose text
//!   starts with `@name` (after the runner's `[user]: ` prefix) replays
//!   `DIR/name.jsonl` instead, so one server can be driven through several
//!   scenarios by what is typed.
//! - `--fake-delay-ms N` / `FAKE_CLAUDE_DELAY_MS`: a pause after every line.
//!
//! Runs sharing a record file append to it: each run starts with its argv line.
//! `{now_us}` anywhere in a transcript line is replaced by the time it is written
//! (microseconds since the epoch), for latency benchmarks.
//!
//! Transcript lines starting with `@` are directives, not output:
//! `@sleep MS`, `@stderr TEXT`, `@exit CODE` (at once, without waiting for stdin to
//! close), `@abort` (die of SIGABRT), `@big BYTES` (one line that long), `@raw TEXT`
//! (print as is), `@hex BYTES` (print raw bytes, e.g. `ff fe 41`), `@ignore_signals`
//! (from now on ignore interrupts, SIGINT and SIGTERM: only SIGKILL ends it) and
//! `@spawn_sleeper` (start a child that sleeps in the same process group and holds
//! stdout open), `@spawn_escapee` (the same, but it calls `setsid()` first, leaving
//! the group, and does not die with us; recorded as `#escapee PID`), `@nice`
//! (records the nice value it runs at as `#nice N`).
//!
//! The control protocol (`--permission-prompt-tool stdio`), as the fixtures show
//! the real CLI speaks it (tests/fixtures/README.md):
//! - `@ask {"type":"control_request","request_id":...,"request":{"subtype":
//!   "can_use_tool",...}}` prints that request and waits, with no time limit, for
//!   the `control_response` with its `request_id` on stdin (recorded like every
//!   stdin line). An allow whose `updatedPermissions` adds a rule (`addRules`,
//!   `ruleContent` = the Bash command) makes later `@ask`s for the same tool and
//!   command pass without asking, as the CLI does; with destination
//!   `localSettings` it also writes `<cwd>/.claude/settings.local.json`. A deny with
//!   `interrupt:true` ends the turn. An `interrupt` while a request is pending
//!   prints `control_cancel_request` for it first, as the CLI does.
//! - A `set_permission_mode` request on stdin is answered with the new mode and a
//!   `system/status` line carrying `permissionMode`.

use serde_json::{Value, json};
use std::io::{BufRead, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::exit;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

enum Input {
    Line(String),
    Eof,
    Signal(i32),
}

struct Fake {
    inputs: Receiver<Input>,
    tx: Sender<Input>,
    record: Option<String>,
    stdin_open: bool,
    ignore_signals: bool,
    session_id: String,
    /// The `can_use_tool` request waiting for its answer.
    pending: Option<String>,
    /// Its answer, once it came.
    answer: Option<Value>,
    /// "Allow always" rules: (tool, rule content).
    rules: Vec<(String, String)>,
}

fn main() {
    // `@spawn_escapee`'s child: leaves the process group and session (setsid), as a
    // daemonising tool does, and holds the inherited stdout open. It does not die
    // with its parent: escaping is the point (the test that starts it kills it).
    if std::env::args().nth(1).as_deref() == Some("--fake-escapee") {
        let _ = rustix::process::setsid();
        // Tell the parent we left its session: it waits for this line, not for
        // getsid (which some containers answer with 0, a value rustix rejects).
        eprintln!("escaped");
        thread::sleep(Duration::from_secs(600));
        return;
    }
    // A test that kills its server (kill -9) must not leave us running: die with the
    // parent. (Checked after setting it, in case the parent is already gone.)
    let parent = std::os::unix::process::parent_id();
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // A parent killed before this line ran left us to init (pid 1) already.
    if std::os::unix::process::parent_id() != parent || parent == 1 {
        exit(1);
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--fake-sleeper") {
        thread::sleep(Duration::from_secs(600));
        return;
    }
    let setting = |flag: &str, env: &str| {
        argv.windows(2)
            .find(|w| w[0] == flag)
            .map(|w| w[1].clone())
            .or_else(|| std::env::var(env).ok())
    };
    let record = setting("--fake-record", "FAKE_CLAUDE_RECORD");
    if let Some(path) = &record {
        append(path, &Value::from(argv.clone()).to_string());
    }
    let default_transcript = setting("--fake-transcript", "FAKE_CLAUDE_TRANSCRIPT");
    let scenario_dir = setting("--fake-transcript-dir", "FAKE_CLAUDE_TRANSCRIPT_DIR");
    let delay = setting("--fake-delay-ms", "FAKE_CLAUDE_DELAY_MS")
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or_default();

    let (tx, inputs) = mpsc::channel();
    let stdin_tx = tx.clone();
    let stdin_record = record.clone();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Some(path) = &stdin_record {
                append(path, &line);
            }
            let _ = stdin_tx.send(Input::Line(line));
        }
        let _ = stdin_tx.send(Input::Eof);
    });
    let mut fake = Fake {
        inputs,
        tx,
        record,
        stdin_open: true,
        ignore_signals: false,
        session_id: String::new(),
        pending: None,
        answer: None,
        rules: Vec::new(),
    };
    fake.catch(SIGINT);

    // The real CLI prints nothing before the first prompt arrives.
    let prompt = fake.wait_for_prompt().unwrap_or_default();
    let scenario = prompt
        .split_once("]: ")
        .map_or(prompt.as_str(), |(_, text)| text)
        .strip_prefix('@')
        .and_then(|rest| rest.split_whitespace().next());
    let transcript = match (scenario, &scenario_dir, default_transcript) {
        (Some(name), Some(dir), _) => format!("{dir}/{name}.jsonl"),
        (_, _, Some(path)) => path,
        _ => {
            eprintln!("fake-claude: no transcript (--fake-transcript or FAKE_CLAUDE_TRANSCRIPT)");
            exit(2);
        }
    };
    let transcript = match std::fs::read_to_string(&transcript) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("fake-claude: cannot read {transcript}: {e}");
            exit(2);
        }
    };
    for line in transcript.lines() {
        match line.strip_prefix('@') {
            Some(directive) => fake.directive(directive),
            None => fake.print(line),
        }
        fake.pause(delay);
    }
    fake.wait_for_stdin_to_close();
    exit(0);
}

impl Fake {
    fn print(&mut self, line: &str) {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && v["type"] == "system"
            && v["subtype"] == "init"
            && let Some(id) = v["session_id"].as_str()
        {
            self.session_id = id.to_string();
        }
        // `{now_us}` in a line becomes the wall-clock time of writing it, so a
        // benchmark can measure line-to-browser latency on the same machine.
        if line.contains("{now_us}") {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            print_bytes(line.replace("{now_us}", &now.to_string()).as_bytes());
            return;
        }
        print_bytes(line.as_bytes());
    }

    fn directive(&mut self, directive: &str) {
        let (name, arg) = directive.split_once(' ').unwrap_or((directive, ""));
        match name {
            "sleep" => self.pause(Duration::from_millis(arg.parse().unwrap_or(0))),
            "stderr" => eprintln!("{arg}"),
            "exit" => exit(arg.parse().unwrap_or(1)),
            "abort" => std::process::abort(),
            "big" => {
                let n: usize = arg.parse().unwrap_or(0);
                let head = br#"{"type":"user","padding":""#;
                let mut line = Vec::with_capacity(n);
                line.extend_from_slice(head);
                line.resize(n.saturating_sub(2), b'x');
                line.extend_from_slice(br#""}"#);
                print_bytes(&line);
            }
            "raw" => print_bytes(arg.as_bytes()),
            "hex" => {
                let bytes: Vec<u8> = arg
                    .split_whitespace()
                    .filter_map(|h| u8::from_str_radix(h, 16).ok())
                    .collect();
                print_bytes(&bytes);
            }
            "ask" => self.ask(arg),
            "ignore_signals" => {
                self.ignore_signals = true;
                self.catch(SIGTERM);
            }
            "spawn_escapee" => {
                let me = std::env::current_exe().unwrap_or_else(|_| "fake-claude".into());
                // Its stderr is a pipe to us, where it says it left our session;
                // its stdout stays the run's, which is the pipe it keeps open.
                match std::process::Command::new(me)
                    .arg("--fake-escapee")
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                {
                    Ok(mut child) => {
                        // Go on only once it has left our session, so a stop that
                        // follows cannot catch it still in the group.
                        if let Some(err) = child.stderr.take() {
                            let mut line = String::new();
                            let _ = std::io::BufReader::new(err).read_line(&mut line);
                        }
                        self.note(&format!("#escapee {}", child.id()));
                    }
                    Err(e) => eprintln!("fake-claude: cannot start an escapee: {e}"),
                }
            }
            "nice" => {
                // Asked of the kernel, not read from /proc/self/stat, which
                // qemu-user makes up for the programs it runs.
                let nice = rustix::process::getpriority_process(None)
                    .map_or("?".to_string(), |n| n.to_string());
                self.note(&format!("#nice {nice}"));
            }
            "spawn_sleeper" => {
                let me = std::env::current_exe().unwrap_or_else(|_| "fake-claude".into());
                match std::process::Command::new(me).arg("--fake-sleeper").spawn() {
                    Ok(child) => self.note(&format!("#grandchild {}", child.id())),
                    Err(e) => eprintln!("fake-claude: cannot start a sleeper: {e}"),
                }
            }
            _ => eprintln!("fake-claude: unknown directive @{directive}"),
        }
    }

    /// `@ask`: a `can_use_tool` request, answered on stdin.
    fn ask(&mut self, request: &str) {
        let Ok(v) = serde_json::from_str::<Value>(request) else {
            eprintln!("fake-claude: @ask needs a control_request line");
            return;
        };
        let tool = v["request"]["tool_name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let content = v["request"]["input"]["command"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if self.rules.contains(&(tool.clone(), content.clone())) {
            self.note(&format!("#allowed by rule {tool}({content})"));
            return;
        }
        self.pending = v["request_id"].as_str().map(String::from);
        self.answer = None;
        print_bytes(request.as_bytes());
        while self.answer.is_none() {
            let Ok(input) = self.inputs.recv() else {
                exit(1);
            };
            self.handle(input);
            if !self.stdin_open && self.answer.is_none() {
                exit(1);
            }
        }
        self.pending = None;
        let answer = self.answer.take().unwrap_or_default();
        let response = &answer["response"]["response"];
        if response["behavior"] == "deny" && response["interrupt"] == true {
            self.end_interrupted();
            self.wait_for_stdin_to_close();
            exit(0);
        }
        for p in response["updatedPermissions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if p["type"] != "addRules" {
                continue;
            }
            for rule in p["rules"].as_array().into_iter().flatten() {
                let t = rule["toolName"].as_str().unwrap_or_default().to_string();
                let c = rule["ruleContent"].as_str().unwrap_or_default().to_string();
                if p["destination"] == "localSettings" {
                    let _ = std::fs::create_dir_all(".claude");
                    let settings = json!({"permissions": {"allow": [format!("{t}({c})")]}});
                    let _ = std::fs::write(".claude/settings.local.json", settings.to_string());
                }
                self.rules.push((t, c));
            }
        }
    }

    /// Turns a signal into an input, so the main loop sees it like a stdin line.
    fn catch(&self, sig: i32) {
        let Ok((mut rd, wr)) = UnixStream::pair() else {
            return;
        };
        if signal_hook::low_level::pipe::register(sig, wr).is_err() {
            return;
        }
        let tx = self.tx.clone();
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            while rd.read(&mut byte).is_ok_and(|n| n == 1) {
                if tx.send(Input::Signal(sig)).is_err() {
                    break;
                }
            }
        });
    }

    fn note(&self, line: &str) {
        if let Some(path) = &self.record {
            append(path, line);
        }
    }

    /// Waits for the first `user` line and returns its text.
    fn wait_for_prompt(&mut self) -> Option<String> {
        while self.stdin_open {
            let input = self.inputs.recv().ok()?;
            if let Input::Line(line) = &input
                && let Ok(v) = serde_json::from_str::<Value>(line)
                && v["type"] == "user"
            {
                let content = &v["message"]["content"];
                let text = content
                    .as_str()
                    .or_else(|| content[0]["text"].as_str())
                    .unwrap_or_default();
                return Some(text.to_string());
            }
            self.handle(input);
        }
        None
    }

    fn wait_for_stdin_to_close(&mut self) {
        while self.stdin_open {
            let Ok(input) = self.inputs.recv() else {
                return;
            };
            self.handle(input);
        }
    }

    /// Waits `d`, acting on stdin lines and signals meanwhile.
    fn pause(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.inputs.recv_timeout(left) {
                Ok(input) => self.handle(input),
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => {
                    thread::sleep(left);
                    return;
                }
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Eof => self.stdin_open = false,
            Input::Signal(sig) => {
                self.note(&format!("#signal {sig}"));
                if sig == SIGINT && !self.ignore_signals {
                    self.end_interrupted();
                    exit(0);
                }
            }
            Input::Line(line) => {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    return;
                };
                if v["type"] == "control_response"
                    && self.pending.is_some()
                    && v["response"]["request_id"].as_str() == self.pending.as_deref()
                {
                    self.answer = Some(v);
                    return;
                }
                if v["type"] == "control_request"
                    && v["request"]["subtype"] == "set_permission_mode"
                {
                    let mode = v["request"]["mode"].clone();
                    let ok = json!({"type": "control_response", "response": {
                        "subtype": "success", "request_id": v["request_id"],
                        "response": {"mode": mode}}});
                    print_bytes(ok.to_string().as_bytes());
                    let status = json!({"type": "system", "subtype": "status", "status": null,
                        "permissionMode": mode, "session_id": self.session_id});
                    print_bytes(status.to_string().as_bytes());
                    return;
                }
                if v["type"] == "control_request"
                    && v["request"]["subtype"] == "interrupt"
                    && !self.ignore_signals
                {
                    if let Some(id) = self.pending.take() {
                        let cancel = json!({"type": "control_cancel_request", "request_id": id});
                        print_bytes(cancel.to_string().as_bytes());
                    }
                    let ack = json!({"type": "control_response", "response": {
                        "subtype": "success", "request_id": v["request_id"],
                        "response": {"still_queued": []}}});
                    print_bytes(ack.to_string().as_bytes());
                    self.end_interrupted();
                    // Like the real CLI, the process lives on for the next prompt.
                    self.wait_for_stdin_to_close();
                    exit(0);
                }
            }
        }
    }

    /// The lines the CLI prints when a turn is interrupted.
    fn end_interrupted(&self) {
        let user = json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "text", "text": "[Request interrupted by user]"}]},
            "parent_tool_use_id": null, "session_id": self.session_id});
        let result = json!({"type": "result", "subtype": "error_during_execution",
            "duration_ms": 1, "is_error": true, "num_turns": 1,
            "session_id": self.session_id, "total_cost_usd": 0.001,
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0},
            "errors": ["[ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"],
            "terminal_reason": "aborted_streaming"});
        print_bytes(user.to_string().as_bytes());
        print_bytes(result.to_string().as_bytes());
    }
}

fn print_bytes(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(bytes)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if written.is_err() {
        // The reader went away: nothing left to talk to.
        exit(1);
    }
}

fn append(path: &str, line: &str) {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Ok(mut file) = file {
        let _ = file.write_all(format!("{line}\n").as_bytes());
    }
}
