// Claude usage in the header.

// ---------------------------------------------------------------- usage
let usage = null;
function onUsage(ev) {
  usage = ev;
  renderUsage();
}
function renderUsage() {
  const box = $("usage");
  if (!usage) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.title = t("usageTitle");
  const today = usage.today && typeof usage.today.totalCost === "number" ? usage.today.totalCost : null;
  const ut = $("u-today");
  ut.hidden = today === null;
  ut.textContent = t("usageToday", fmtUsd(today));
  ut.className = "u-item" + (today >= USAGE.dangerUsd * 2 ? " danger" : today >= USAGE.warnUsd * 2 ? " warn" : "");
  const block = usage.block;
  const ub = $("u-block");
  if (block && typeof block.costUSD === "number") {
    ub.hidden = false;
    const left = typeof block.remainingMinutes === "number" ? block.remainingMinutes : null;
    ub.textContent = t("usageBlock", fmtUsd(block.costUSD), left === null ? "–" : fmtMinutes(left));
    const danger = block.costUSD >= USAGE.dangerUsd || (left !== null && left <= USAGE.dangerMinutes);
    const warn = block.costUSD >= USAGE.warnUsd || (left !== null && left <= USAGE.warnMinutes);
    ub.className = "u-item" + (danger ? " danger" : warn ? " warn" : "");
  } else {
    ub.hidden = true;
  }
}
