//! Approvals: what Claude waits for a person to answer — a tool to allow, questions,
//! a plan — from the CLI's `can_use_tool` request to the answer written back.
//!
//! Pure bookkeeping for the hub: it turns a [`ToolRequest`] into the `approval`
//! event the pages show, keeps the pending ones (they never time out unless
//! `--approval-timeout` is set, and survive any number of reconnects), and turns a
//! person's [`ApprovalAnswer`] into the [`PermissionAnswer`] the CLI gets. The
//! first answer wins; a late one is told `already_resolved`. No I/O here.

use crate::outbox::Bytes;
use crate::protocol::{ApprovalAnswer, ApprovalEvent, Decision, Destination};
use crate::stream_json::PermissionAnswer;
use crate::translate::ToolRequest;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Ids of resolved approvals remembered for `already_resolved`.
const RECENT: usize = 256;

/// One approval waiting for an answer.
#[derive(Debug)]
pub struct Pending {
    pub id: String,
    pub run: u64,
    pub request: ToolRequest,
    pub kind: Kind,
    /// The stamped `approval` frame, resent to every client that connects.
    pub frame: Bytes,
    pub deadline: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tool,
    Question,
    Plan,
}

impl Kind {
    fn of(tool: &str) -> Kind {
        match tool {
            "AskUserQuestion" => Kind::Question,
            "ExitPlanMode" => Kind::Plan,
            _ => Kind::Tool,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Question => "question",
            Kind::Plan => "plan",
        }
    }
}

/// Why an answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Answered (or withdrawn) before.
    AlreadyResolved,
    /// No such approval.
    Unknown,
    /// The decision does not fit the kind (e.g. "always" for a plan).
    Unfit(&'static str),
    /// A notification's one-time token that is not (or no longer) this approval's.
    BadToken,
    /// The person's role may not answer this kind; the role that may.
    Forbidden(crate::auth::Role),
}

/// How an approval ended, as `approval_resolved` says it.
pub fn outcome_name(decision: Decision, kind: Kind) -> &'static str {
    match (kind, decision) {
        (Kind::Question, Decision::Allow) => "answered",
        (_, Decision::Allow) => "allow",
        (_, Decision::AllowAlways) => "allow_always",
        (_, Decision::Deny) => "deny",
    }
}

/// The pending approvals of the hub.
#[derive(Default)]
pub struct Approvals {
    pending: Vec<Pending>,
    recent: VecDeque<String>,
    timeout: Option<Duration>,
}

impl Approvals {
    pub fn new(timeout: Option<Duration>) -> Approvals {
        Approvals {
            timeout,
            ..Approvals::default()
        }
    }

    /// The event for a new request, with the id it goes by (the CLI's request id).
    pub fn event(run: u64, request: &ToolRequest) -> ApprovalEvent {
        let kind = Kind::of(&request.tool);
        let plan = (kind == Kind::Plan)
            .then(|| request.input.get("plan").and_then(Value::as_str))
            .flatten()
            .map(str::to_string);
        ApprovalEvent {
            id: request.request_id.clone(),
            run,
            kind: kind.name(),
            tool: request.tool.clone(),
            detail: detail(request),
            input: request.input.clone(),
            suggestions: request.suggestions.clone(),
            questions: (kind == Kind::Question)
                .then(|| request.input.get("questions").cloned())
                .flatten(),
            html: plan.as_deref().map(crate::markdown::to_html),
            plan,
            reason: request.reason.clone(),
        }
    }

    /// Keeps a request broadcast as `frame` until it is answered.
    pub fn add(&mut self, run: u64, request: ToolRequest, frame: Bytes) {
        self.pending.push(Pending {
            id: request.request_id.clone(),
            run,
            kind: Kind::of(&request.tool),
            request,
            frame,
            deadline: self.timeout.map(|t| Instant::now() + t),
        });
    }

    /// The frames of every pending approval, oldest first.
    pub fn frames(&self) -> impl Iterator<Item = &Bytes> {
        self.pending.iter().map(|p| &p.frame)
    }

    /// The earliest deadline, if any approval can time out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().filter_map(|p| p.deadline).min()
    }

    /// Takes the approvals whose time is up.
    pub fn expired(&mut self, now: Instant) -> Vec<Pending> {
        let (gone, kept) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.deadline.is_some_and(|d| d <= now));
        self.pending = kept;
        for p in &gone {
            self.remember(&p.id);
        }
        gone
    }

    /// Takes the pending approval `id` (withdrawn by the CLI).
    pub fn withdraw(&mut self, id: &str) -> Option<Pending> {
        let i = self.pending.iter().position(|p| p.id == id)?;
        let p = self.pending.remove(i);
        self.remember(&p.id);
        Some(p)
    }

    /// Takes every approval of run `run` (it ended).
    pub fn of_run(&mut self, run: u64) -> Vec<Pending> {
        let (gone, kept) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.run == run);
        self.pending = kept;
        for p in &gone {
            self.remember(&p.id);
        }
        gone
    }

    /// The kind of the pending approval `id`, if one waits.
    pub fn kind_of(&self, id: &str) -> Option<Kind> {
        self.pending.iter().find(|p| p.id == id).map(|p| p.kind)
    }

    /// Takes the approval an answer is for and says what the CLI gets.
    pub fn answer(
        &mut self,
        answer: &ApprovalAnswer,
    ) -> Result<(Pending, PermissionAnswer), Refusal> {
        let Some(i) = self.pending.iter().position(|p| p.id == answer.id) else {
            return Err(if self.recent.contains(&answer.id) {
                Refusal::AlreadyResolved
            } else {
                Refusal::Unknown
            });
        };
        let cli = respond(&self.pending[i], answer)?;
        let p = self.pending.remove(i);
        self.remember(&p.id);
        Ok((p, cli))
    }

    fn remember(&mut self, id: &str) {
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(id.to_string());
    }
}

/// What the CLI is told for `answer` to `pending` (the shapes are in
/// tests/fixtures/README.md: allow, allow always, deny, questions, plans).
fn respond(pending: &Pending, answer: &ApprovalAnswer) -> Result<PermissionAnswer, Refusal> {
    let input = pending.request.input.clone();
    let deny = |default: &str| PermissionAnswer::Deny {
        message: answer
            .message
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| default.to_string()),
        interrupt: answer.interrupt,
    };
    Ok(match (pending.kind, answer.decision) {
        (_, Decision::Deny) => deny(match pending.kind {
            Kind::Plan => "Keep planning.",
            Kind::Question => "The user declined to answer.",
            Kind::Tool => "The user denied this.",
        }),
        (Kind::Tool, Decision::Allow) => PermissionAnswer::Allow {
            input,
            permissions: vec![],
        },
        (Kind::Tool, Decision::AllowAlways) => PermissionAnswer::Allow {
            input,
            permissions: vec![always_rule(&pending.request, answer.destination)],
        },
        (Kind::Question, Decision::Allow) => {
            let mut input = input;
            if let (Some(answers), Value::Object(obj)) = (&answer.answers, &mut input) {
                obj.insert("answers".into(), Value::Object(answers.clone()));
            }
            PermissionAnswer::Allow {
                input,
                permissions: vec![],
            }
        }
        (Kind::Plan, Decision::Allow) => PermissionAnswer::Allow {
            input,
            permissions: vec![json!({
                "type": "setMode",
                "mode": answer.mode.as_deref().unwrap_or("acceptEdits"),
                "destination": "session",
            })],
        },
        (Kind::Question | Kind::Plan, Decision::AllowAlways) => {
            return Err(Refusal::Unfit("\"allow_always\" is for tools"));
        }
    })
}

/// The rule "allow always" adds: the CLI's own `addRules` suggestion (so the rule
/// is exactly what the CLI would write), kept where the person chose.
fn always_rule(request: &ToolRequest, destination: Destination) -> Value {
    let destination = match destination {
        Destination::Session => "session",
        Destination::Local => "localSettings",
    };
    let mut rule = request
        .suggestions
        .iter()
        .find(|s| s.get("type").and_then(Value::as_str) == Some("addRules"))
        .cloned()
        .unwrap_or_else(|| {
            json!({"type": "addRules", "rules": [{"toolName": request.tool}], "behavior": "allow"})
        });
    rule["destination"] = Value::from(destination);
    rule
}

/// What the tool will do, in one line: the command, the file, the URL, the
/// first question.
fn detail(request: &ToolRequest) -> String {
    let field = |name: &str| request.input.get(name).and_then(Value::as_str);
    let text = match request.tool.as_str() {
        "Bash" => field("command").map(str::to_string),
        "Write" | "Edit" | "MultiEdit" | "Read" | "NotebookEdit" => field("file_path")
            .or_else(|| field("notebook_path"))
            .map(str::to_string),
        "WebFetch" => field("url").map(str::to_string),
        "WebSearch" => field("query").map(str::to_string),
        "AskUserQuestion" => request
            .input
            .pointer("/questions/0/question")
            .and_then(Value::as_str)
            .map(str::to_string),
        "ExitPlanMode" => Some("Claude has a plan and asks to go ahead.".into()),
        _ => None,
    };
    let text = text
        .or_else(|| request.description.clone())
        .unwrap_or_else(|| request.tool.clone());
    let line = text.lines().next().unwrap_or_default();
    crate::protocol::excerpt(line, 300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream_json::{Line, parse_line};
    use crate::translate::{Emit, Translator};

    /// The `can_use_tool` requests of a recorded fixture, as the translator emits them.
    fn requests(name: &str) -> Vec<ToolRequest> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stream-json")
            .join(name);
        let text = std::fs::read_to_string(path).unwrap();
        let mut t = Translator::new(std::path::Path::new("/home/pi/project"));
        text.lines()
            .filter_map(|l| parse_line(l).ok())
            .filter(|l| matches!(l, Line::ControlRequest(_)))
            .flat_map(|l| t.line(l))
            .filter_map(|e| match e {
                Emit::Approval(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The stdin answers recorded with the fixture (what the real CLI accepted).
    fn recorded_answers(name: &str) -> Vec<Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stream-json")
            .join(name);
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == "control_response")
            .collect()
    }

    fn answer(id: &str, decision: Decision) -> ApprovalAnswer {
        ApprovalAnswer::decision(id, decision)
    }

    fn check(fixture: &str, make: impl Fn(&str) -> ApprovalAnswer) {
        let req = requests(&format!("{fixture}.jsonl")).remove(0);
        let id = req.request_id.clone();
        let mut a = Approvals::new(None);
        a.add(1, req, Bytes::from(&b""[..]));
        let (_, cli) = a.answer(&make(&id)).unwrap();
        let line: Value =
            serde_json::from_str(&crate::stream_json::permission_response_line(&id, &cli)).unwrap();
        let recorded = recorded_answers(&format!("{fixture}.stdin.jsonl")).remove(0);
        assert_eq!(line, recorded, "{fixture}: what the real CLI accepted");
        assert_eq!(
            a.answer(&make(&id)).unwrap_err(),
            Refusal::AlreadyResolved,
            "the first answer wins"
        );
    }

    #[test]
    fn answers_are_exactly_what_the_real_cli_accepted() {
        check("stdin_perm", |id| answer(id, Decision::Allow));
        check("stdin_perm_always_session", |id| {
            answer(id, Decision::AllowAlways)
        });
        check("stdin_plan_approve_accept_edits", |id| {
            answer(id, Decision::Allow)
        });
        check("stdin_ask_user_question", |id| {
            let mut a = answer(id, Decision::Allow);
            let answers = json!({
                "Which database should the app use?": "SQLite",
                "Which features do you want?": "Metrics, Audit log",
            });
            a.answers = answers.as_object().cloned();
            a
        });
    }

    #[test]
    fn events_say_what_will_happen() {
        let req = requests("stdin_perm.jsonl").remove(0);
        let ev = Approvals::event(3, &req);
        assert_eq!(
            (ev.kind, ev.detail.as_str()),
            ("tool", "touch approved.txt")
        );
        assert_eq!(ev.run, 3);
        let q = requests("stdin_ask_user_question.jsonl").remove(0);
        let ev = Approvals::event(3, &q);
        assert_eq!(ev.kind, "question");
        assert_eq!(ev.questions.unwrap().as_array().unwrap().len(), 2);
        let p = requests("stdin_plan_approve_accept_edits.jsonl").remove(0);
        let ev = Approvals::event(3, &p);
        assert_eq!(ev.kind, "plan");
        assert!(ev.html.unwrap().contains("<h1>Plan</h1>"));
    }

    #[test]
    fn always_is_for_tools_and_unknown_ids_are_told_apart() {
        let req = requests("stdin_plan_approve_accept_edits.jsonl").remove(0);
        let id = req.request_id.clone();
        let mut a = Approvals::new(None);
        a.add(1, req, Bytes::from(&b""[..]));
        assert!(matches!(
            a.answer(&answer(&id, Decision::AllowAlways)),
            Err(Refusal::Unfit(_))
        ));
        assert_eq!(
            a.answer(&answer("nope", Decision::Allow)).unwrap_err(),
            Refusal::Unknown
        );
        // Still pending after the refusals; a deny keeps planning with feedback.
        let mut keep = answer(&id, Decision::Deny);
        keep.message = Some("Keep planning: smaller steps".into());
        let (_, cli) = a.answer(&keep).unwrap();
        assert_eq!(
            cli,
            PermissionAnswer::Deny {
                message: "Keep planning: smaller steps".into(),
                interrupt: false
            }
        );
    }
}
