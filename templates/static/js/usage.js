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
  ut.textContent = t("usageToday", fmtMoney(today));
  ut.className = "u-item" + (today >= USAGE.dangerUsd * 2 ? " danger" : today >= USAGE.warnUsd * 2 ? " warn" : "");
  const block = usage.block;
  const ub = $("u-block");
  if (block && typeof block.costUSD === "number") {
    ub.hidden = false;
    const left = blockLeft(block);
    ub.textContent = t("usageBlock", fmtMoney(block.costUSD), left === null ? "–" : fmtMinutes(left));
    const danger = block.costUSD >= USAGE.dangerUsd || (left !== null && left <= USAGE.dangerMinutes);
    const warn = block.costUSD >= USAGE.warnUsd || (left !== null && left <= USAGE.warnMinutes);
    ub.className = "u-item" + (danger ? " danger" : warn ? " warn" : "");
  } else {
    ub.hidden = true;
  }
  if ($("usage-sheet").open) renderUsageDetails();
}
// Minutes to the block's end, counting down between events.
function blockLeft(block) {
  const end = typeof block.endTime === "string" ? Date.parse(block.endTime) : NaN;
  if (!isNaN(end)) return Math.max(0, (end - Date.now()) / 60000);
  return typeof block.remainingMinutes === "number" ? block.remainingMinutes : null;
}
setInterval(() => usage && renderUsage(), 30000);

// The details a tap on the header opens: per model, burn rate, projected block cost.
function renderUsageDetails() {
  const box = $("usage-details");
  box.textContent = "";
  if (!usage) return;
  const section = (title) => {
    const s = el("section", "u-section");
    s.appendChild(el("h3", "", title));
    const dl = el("dl");
    s.appendChild(dl);
    box.appendChild(s);
    return dl;
  };
  const row = (dl, name, value) => dl.append(el("dt", "", name), el("dd", "", value));
  const today = usage.today || {};
  const td = section(t("usageTodayTitle"));
  row(td, t("usageCost"), fmtMoney(today.totalCost));
  if (typeof today.totalTokens === "number") row(td, t("usageTokens"), fmtInt(today.totalTokens));
  (Array.isArray(today.modelBreakdowns) ? today.modelBreakdowns : []).forEach((m) => {
    if (m && m.modelName) row(td, m.modelName, fmtMoney(m.cost));
  });
  const block = usage.block;
  const bd = section(t("usageBlockTitle"));
  if (!block) {
    row(bd, t("usageNoBlock"), "");
    return;
  }
  const left = blockLeft(block);
  const end = Date.parse(block.endTime);
  row(bd, t("usageCost"), fmtMoney(block.costUSD));
  row(bd, t("usageResets"), (isNaN(end) ? "" : fmtClock(new Date(end)) + " · ") + t("usageLeft", left === null ? "–" : fmtMinutes(left)));
  row(bd, t("usageBurn"), typeof block.costPerHour === "number" ? t("perHour", fmtMoney(block.costPerHour)) : "–");
  row(bd, t("usageProjected"), typeof block.projectedCost === "number" ? fmtMoney(block.projectedCost) : "–");
  if (typeof block.totalTokens === "number") row(bd, t("usageTokens"), fmtInt(block.totalTokens));
  if (Array.isArray(block.models) && block.models.length) row(bd, t("usageModels"), block.models.join(", "));
}
$("usage").addEventListener("click", () => {
  renderUsageDetails();
  $("usage-sheet").showModal();
});
$("usage-close").addEventListener("click", () => $("usage-sheet").close());
$("usage-sheet").addEventListener("click", (e) => {
  if (e.target === $("usage-sheet")) $("usage-sheet").close();
});
