// Server events by `type`: one handler each in ON (a test checks its keys against
// src/protocol.rs, both ways: every event and reply the server sends, and no other).

const ON = {
  message: onMessage,
  system(ev) {
    addSystem(ev.message || "");
  },
  progress: onProgress,
  queue_status: onQueue,
  usage_status: onUsage,
  sessions: onSessions,
  approval: onApproval,
  approval_resolved: onApprovalResolved,
  permission_mode: onPermissionMode,
  shell_start: onShellStart,
  shell_output: onShellOutput,
  shell_exit: onShellExit,
  file_update: onFileUpdate,
  presence: onPresence,
  participant_joined: onParticipantJoined,
  participant_left: onParticipantLeft,
  error(ev) {
    if (shellRefused(ev)) return;
    if (ev.code === "read_only") setViewer(true);
    if (ev.code === "already_resolved" || ev.code === "unknown_approval") approvalRefused(ev);
    if (ev.code === "history_gap") addSystem(t("err_history_gap"), true);
    else if (ev.code !== "usage_unavailable") toast(STRINGS.en["err_" + ev.code] ? t("err_" + ev.code) : ev.message || ev.code || "error");
  },
};
function dispatch(ev) {
  if (typeof ev.type === "string" && Object.prototype.hasOwnProperty.call(ON, ev.type)) ON[ev.type](ev);
}
