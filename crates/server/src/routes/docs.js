// The API docs page's script: reads /api/openapi.json and lets you try each call with
// your token and purpose (kept in this tab's session storage).
"use strict";
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e[k] = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const token = document.getElementById("token");
token.value = sessionStorage.getItem("fangyi-token") || "";
token.onchange = () => sessionStorage.setItem("fangyi-token", token.value);

function operation(path, method, op, base) {
  const params = op.parameters || [];
  const inputs = {};
  const form = el("div", { class: "body" });
  if (op.description) form.append(el("p", { class: "hint" }, op.description));
  for (const p of params) {
    const input = el("input", { placeholder: (p.description || "") + (p.required ? " (required)" : "") });
    inputs[p.name] = [p.in, input];
    form.append(el("div", { class: "row" }, el("label", {}, p.name), input));
  }
  let body = null;
  if (op.requestBody) {
    body = el("textarea", { placeholder: "request body" });
    const content = op.requestBody.content || {};
    if (content["application/json"]) body.value = "{}";
    form.append(body);
  }
  const out = el("div");
  const send = async () => {
    let url = base + path;
    const query = new URLSearchParams();
    for (const [name, [where, input]] of Object.entries(inputs)) {
      if (!input.value) continue;
      if (where === "path") url = url.replace("{" + name + "}", encodeURIComponent(input.value));
      else if (where === "query") query.set(name, input.value);
    }
    if ([...query].length) url += "?" + query;
    const headers = {};
    if (token.value) headers["Authorization"] = "Bearer " + token.value;
    const purpose = document.getElementById("purpose").value;
    if (purpose) headers["X-Purpose"] = purpose;
    const init = { method: method.toUpperCase(), headers };
    if (body && body.value) {
      init.body = body.value;
      headers["Content-Type"] = op.requestBody.content["application/json"] ? "application/json" : "text/csv";
    }
    out.replaceChildren(el("div", { class: "status" }, "…"));
    try {
      const r = await fetch(url, init);
      const type = r.headers.get("content-type") || "";
      let text;
      if (type.startsWith("image/")) {
        const blob = await r.blob();
        out.replaceChildren(el("div", { class: "status" }, r.status + " " + r.statusText),
          el("img", { src: URL.createObjectURL(blob), alt: "QR code" }));
        return;
      }
      text = await r.text();
      if (type.includes("json")) { try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (_) {} }
      out.replaceChildren(el("div", { class: "status" }, r.status + " " + r.statusText), el("pre", {}, text));
    } catch (e) {
      out.replaceChildren(el("div", { class: "status" }, "failed: " + e));
    }
  };
  form.append(el("button", { onclick: send }, "Send"), out);
  return el("details", {},
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()),
      el("span", { class: "path" }, base + path), el("span", { class: "sum" }, op.summary || "")),
    form);
}

fetch("/api/openapi.json").then(r => r.json()).then(doc => {
  const purposes = (((doc.components || {}).schemas || {}).Purpose || {}).enum || [];
  const select = document.getElementById("purpose");
  for (const p of purposes) select.append(el("option", { value: p }, p));
  const byTag = {};
  const base = (doc.servers && doc.servers[0] && doc.servers[0].url) || "";
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags && op.tags[0]) || "other";
      (byTag[tag] = byTag[tag] || []).push(operation(path, method, op, base));
    }
  }
  const root = document.getElementById("paths");
  root.replaceChildren();
  for (const tag of Object.keys(byTag).sort()) root.append(el("h2", {}, tag), ...byTag[tag]);
}).catch(e => { document.getElementById("paths").textContent = "Could not load the document: " + e; });
