// mastra-memory inspector: read-only views over /ui/api (no dependencies, no network beyond this server).
"use strict";

const state = { resource: "default", q: "", page: 0, perPage: 20, thread: null, msgPage: 0, namespace: "default" };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

async function api(path) {
  const headers = {};
  const key = sessionStorage.getItem("mastra-memory-key");
  if (key) headers.Authorization = "Bearer " + key;
  const res = await fetch("/ui/api" + path, { headers });
  if (res.status === 401) {
    $("key-form").hidden = false;
    throw new Error("this server needs an API key: enter one above");
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.detail || body.title || res.status + " " + res.statusText);
  return body;
}

function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "-"; }

async function loadInfo() {
  const info = await api("/info");
  const flags = [`storage ${info.storage}`, `semantic recall ${info.semantic_recall ? "on" : "off"}`,
    `observational memory ${info.observational_memory ? "on" : "off"}`, `v${info.version}`];
  $("info").textContent = flags.join(" · ");
}

async function loadThreads() {
  const params = new URLSearchParams({ resource_id: state.resource, page: state.page, per_page: state.perPage });
  if (state.q) params.set("q", state.q);
  const data = await api("/threads?" + params);
  const list = $("threads");
  list.replaceChildren();
  for (const t of data.threads) {
    const item = el("li", { "data-thread": t.id, onclick: () => openThread(t.id, 0) },
      el("div", {}, t.title || "(untitled)"), el("div", { class: "id" }, t.id), el("div", { class: "muted" }, fmtTime(t.updatedAt || t.updated_at)));
    if (state.thread === t.id) item.classList.add("active");
    list.append(item);
  }
  const first = data.total ? state.page * state.perPage + 1 : 0;
  $("threads-summary").textContent = `${first}-${state.page * state.perPage + data.threads.length} of ${data.total} threads`;
  $("threads-prev").disabled = state.page === 0;
  $("threads-next").disabled = !data.has_more;
}

function renderMessage(m) {
  const content = m.content || {};
  const speaker = (content.metadata || {}).speaker;
  const body = el("div", { class: "body" });
  for (const part of content.parts || []) {
    if (part.type === "text") body.append(el("div", { class: "text" }, part.text));
    else if (part.type === "tool-invocation") {
      const inv = part.toolInvocation || part;
      const args = JSON.stringify(inv.args ?? {});
      const result = inv.result === undefined ? "" : " → " + JSON.stringify(inv.result);
      body.append(el("div", { class: "tool-call" }, `tool ${inv.toolName || inv.tool_name}(${args})${result}`));
    }
  }
  return el("li", { class: "msg " + m.role, "data-message": m.id },
    el("span", { class: "who" }, speaker ? `${m.role} (${speaker})` : m.role),
    el("span", { class: "when" }, fmtTime(m.createdAt || m.created_at)), body);
}

function bar(label, value, limit) {
  const pct = limit ? Math.min(100, (100 * value) / limit) : 0;
  return el("div", {},
    el("div", { class: "stat" }, el("span", {}, label), el("span", { class: "tokens" }, `${value.toLocaleString()} / ${limit.toLocaleString()} tokens`)),
    el("div", { class: "bar" + (value >= limit ? " over" : "") }, el("span", { style: `width:${pct}%` })));
}

function renderObservations(om) {
  const box = $("observations");
  box.replaceChildren();
  if (!om) { box.append(el("p", { class: "muted" }, "This store has no observational memory.")); return; }
  const r = om.record;
  if (!r) {
    box.append(el("p", { class: "muted" }, `No record yet (observational memory is ${om.enabled ? "on" : "off"} on this server).`));
    box.append(bar("unobserved messages", 0, om.thresholds.message_tokens));
    return;
  }
  const badges = el("div", {});
  const flag = (on, text) => badges.append(el("span", { class: "badge" + (on ? " on" : "") }, text));
  flag(false, `generation ${r.generation} (${r.origin})`);
  flag(r.buffered_chunks > 0, `${r.buffered_chunks} buffered chunk(s)`);
  flag(r.buffered_reflection, r.buffered_reflection ? "reflection buffered" : "no buffered reflection");
  if (r.is_observing || r.is_buffering_observation) flag(true, "observing");
  if (r.is_reflecting || r.is_buffering_reflection) flag(true, "reflecting");
  box.append(badges,
    bar("unobserved messages", r.pending_message_tokens, om.thresholds.message_tokens),
    bar("observations", r.observation_tokens, om.thresholds.observation_tokens),
    el("div", { class: "muted" }, `observed ${r.total_tokens_observed.toLocaleString()} message tokens; cursor ${fmtTime(r.last_observed_at)}`),
    el("pre", { id: "observation-log" }, r.observations || "(empty)"));
}

async function openThread(id, page) {
  state.thread = id;
  state.msgPage = page;
  const data = await api(`/threads/${encodeURIComponent(id)}?page=${page}&per_page=50`);
  const t = data.thread;
  $("thread-empty").hidden = true;
  $("thread").hidden = false;
  $("thread-title").textContent = t.title || t.id;
  $("thread-meta").textContent = `${t.id} · resource ${t.resourceId || t.resource_id} · ${data.total} messages`;
  $("messages").replaceChildren(...data.messages.map(renderMessage));
  $("messages-summary").textContent = `page ${page + 1} of ${Math.max(1, Math.ceil(data.total / data.per_page))}`;
  $("messages-older").disabled = !data.has_more;
  $("messages-newer").disabled = page === 0;
  const wm = data.working_memory;
  $("working-memory").textContent = wm.content || `(no working memory yet; scope: ${wm.scope})`;
  renderObservations(data.observational_memory);
  for (const li of document.querySelectorAll("#threads li")) li.classList.toggle("active", li.dataset.thread === id);
}

async function loadKV() {
  const data = await api(`/kv/${encodeURIComponent(state.namespace)}`);
  const rows = data.entries.map((e) => el("tr", {}, el("td", {}, e.key), el("td", { class: "value" }, e.value), el("td", {}, fmtTime(e.expires_at))));
  $("kv").tBodies[0].replaceChildren(...rows);
  $("kv-summary").textContent = `${data.stats.keys} keys, ${data.stats.value_bytes.toLocaleString()} bytes` + (data.has_more ? " (first 100 shown)" : "");
}

function guard(fn) {
  return async (...args) => { try { showError(""); await fn(...args); } catch (err) { showError(err.message); } };
}

function selectTab(name) {
  for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== "tab-" + name;
}

document.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(location.search);
  state.resource = params.get("resource") || state.resource;
  state.namespace = params.get("namespace") || state.namespace;
  $("resource").value = state.resource;
  $("namespace").value = state.namespace;
  openThread = guard(openThread);
  const refresh = guard(async () => { await loadInfo(); await loadThreads(); await loadKV();
    if (params.get("thread") && !state.thread) await openThread(params.get("thread"), 0); });
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); sessionStorage.setItem("mastra-memory-key", $("key").value); $("key-form").hidden = true; refresh(); });
  $("resource-form").addEventListener("submit", guard(async (e) => { e.preventDefault(); state.resource = $("resource").value; state.q = $("search").value; state.page = 0; await loadThreads(); }));
  $("kv-form").addEventListener("submit", guard(async (e) => { e.preventDefault(); state.namespace = $("namespace").value; await loadKV(); }));
  $("threads-prev").addEventListener("click", guard(async () => { state.page -= 1; await loadThreads(); }));
  $("threads-next").addEventListener("click", guard(async () => { state.page += 1; await loadThreads(); }));
  $("messages-older").addEventListener("click", () => openThread(state.thread, state.msgPage + 1));
  $("messages-newer").addEventListener("click", () => openThread(state.thread, state.msgPage - 1));
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  refresh();
});
