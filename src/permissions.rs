//! Who may do what: the one place that decides it.
//!
//! Every refusal on the WebSocket and over HTTP asks [`Role::may`]; it answers with
//! the least role that would be allowed, which the `error` frame (code `forbidden`,
//! or `read_only` for a viewer, as before) and a 403 carry. Owner: everything.
//! Collaborator: prompts, Stop and cancel of their own prompts, answers to
//! questions, tool and plan approvals only with `--collaborators-approve`; never
//! the shell, file deletes, restart, or what changes the session for everyone
//! (clear, resume, permission mode), nor invites. Viewer: reads only.

use crate::auth::Role;

/// Something a client asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send a prompt.
    Prompt,
    /// Stop the running turn; `own`: the caller sent its prompt.
    Stop { own: bool },
    /// Take a queued prompt out; `own`: the caller sent it.
    Cancel { own: bool },
    /// Answer an AskUserQuestion.
    AnswerQuestion,
    /// Allow or deny a tool, or a plan.
    ApproveTool,
    /// Read-only requests that still cost the server work (usage, session list,
    /// file listings and downloads).
    Ask,
    /// New session, resume another, change the permission mode.
    ChangeSession,
    /// Restart the server.
    Restart,
    /// Run or stop a shell command, read the git views.
    Shell,
    /// Delete (or overwrite) a file.
    DeleteFile,
    /// Make, list or revoke invites.
    ManageInvites,
}

/// Settings that widen what collaborators may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--collaborators-approve`: collaborators answer tool and plan approvals.
    pub collaborators_approve: bool,
}

impl Role {
    /// Whether this role may do `action`; if not, the least role that may.
    pub fn may(self, action: Action, policy: Policy) -> Result<(), Role> {
        let needs = match action {
            Action::Prompt
            | Action::Stop { own: true }
            | Action::Cancel { own: true }
            | Action::AnswerQuestion
            | Action::Ask => Role::Collaborator,
            Action::ApproveTool if policy.collaborators_approve => Role::Collaborator,
            Action::ApproveTool
            | Action::Stop { own: false }
            | Action::Cancel { own: false }
            | Action::ChangeSession
            | Action::Restart
            | Action::Shell
            | Action::DeleteFile
            | Action::ManageInvites => Role::Owner,
        };
        if self.rank() >= needs.rank() {
            Ok(())
        } else {
            Err(needs)
        }
    }

    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Collaborator => 1,
            Role::Owner => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_what_the_issue_says() {
        let off = Policy::default();
        let on = Policy {
            collaborators_approve: true,
        };
        let all = [
            Action::Prompt,
            Action::Stop { own: true },
            Action::Stop { own: false },
            Action::Cancel { own: true },
            Action::Cancel { own: false },
            Action::AnswerQuestion,
            Action::ApproveTool,
            Action::Ask,
            Action::ChangeSession,
            Action::Restart,
            Action::Shell,
            Action::DeleteFile,
            Action::ManageInvites,
        ];
        for a in all {
            assert_eq!(Role::Owner.may(a, off), Ok(()), "{a:?}");
            assert!(Role::Viewer.may(a, on).is_err(), "{a:?}");
        }
        let c = Role::Collaborator;
        for a in [
            Action::Prompt,
            Action::Stop { own: true },
            Action::Cancel { own: true },
            Action::AnswerQuestion,
        ] {
            assert_eq!(c.may(a, off), Ok(()), "{a:?}");
        }
        for a in [
            Action::Stop { own: false },
            Action::Cancel { own: false },
            Action::ApproveTool,
            Action::Restart,
            Action::Shell,
            Action::DeleteFile,
            Action::ChangeSession,
            Action::ManageInvites,
        ] {
            assert_eq!(c.may(a, off), Err(Role::Owner), "{a:?}");
        }
        assert_eq!(c.may(Action::ApproveTool, on), Ok(()));
        assert_eq!(c.may(Action::Shell, on), Err(Role::Owner));
        assert_eq!(
            Role::Viewer.may(Action::Prompt, off),
            Err(Role::Collaborator)
        );
    }
}
