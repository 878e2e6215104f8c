// 112 障碍申告 agent desktop. Plain script, no framework. Every text from the server is put
// into the page with textContent (never innerHTML), so nothing typed by anyone runs as code.
(function () {
  "use strict";
  var body = document.body;
  var view = body.dataset.view;
  var agent = body.dataset.agent;
  var csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  var skew = 0; // server clock minus ours, ms
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(e) { while (e && e.firstChild) e.removeChild(e.firstChild); }
  function now() { return Date.now() + skew; }
  function fmtTime(ms) {
    var d = new Date(ms);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function fmtDur(ms) {
    var s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + p(m) : m) + ":" + p(r);
  }
  function flash(msg, bad) {
    var f = $("flash");
    if (!f) return;
    f.textContent = msg;
    f.className = "flash" + (bad ? " bad" : "");
    f.hidden = false;
    clearTimeout(flash.t);
    flash.t = setTimeout(function () { f.hidden = true; }, 6000);
  }
  function key() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Math.random()).slice(2) + String(Date.now());
  }

  // ---- forms kept locally, so an expired session loses nothing ----
  var storeKey = function (name) { return "hl:" + agent + ":" + name; };
  function saveForm(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (i) {
      if (!i.name) return;
      data[i.name] = i.type === "checkbox" ? i.checked : i.value;
    });
    try { localStorage.setItem(storeKey(form.dataset.keep), JSON.stringify(data)); } catch (e) { /* full */ }
  }
  function restoreForm(form) {
    var raw = null;
    try { raw = localStorage.getItem(storeKey(form.dataset.keep)); } catch (e) { return false; }
    if (!raw) return false;
    var data;
    try { data = JSON.parse(raw); } catch (e) { return false; }
    Array.prototype.forEach.call(form.elements, function (i) {
      if (!i.name || !(i.name in data)) return;
      if (i.type === "checkbox") i.checked = !!data[i.name]; else i.value = data[i.name];
    });
    return true;
  }
  function forgetForm(form) { try { localStorage.removeItem(storeKey(form.dataset.keep)); } catch (e) { /* */ } }
  function saveAll() {
    document.querySelectorAll("form[data-keep]").forEach(saveForm);
    var n = $("t-note");
    if (n) try { localStorage.setItem(storeKey("t-note"), n.value); } catch (e) { /* */ }
  }
  function toLogin(expired) {
    saveAll();
    location.href = "/login?" + (expired ? "expired=1&" : "") + "next=" + encodeURIComponent(location.pathname);
  }

  // ---- API ----
  function api(method, url, data, idem) {
    var h = { "Accept": "application/json" };
    if (method !== "GET") { h["X-CSRF-Token"] = csrf; h["Content-Type"] = "application/json"; }
    if (idem) h["Idempotency-Key"] = idem;
    return fetch(url, { method: method, headers: h, credentials: "same-origin", body: data === undefined ? undefined : JSON.stringify(data) })
      .then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = t ? JSON.parse(t) : null; } catch (e) { j = { message: t }; }
          if (r.status === 401) { toLogin(j && j.error === "expired"); throw new Error("logged out"); }
          if (!r.ok) { var err = new Error((j && j.message) || ("HTTP " + r.status)); err.status = r.status; err.body = j; throw err; }
          return j;
        });
      });
  }

  // ---- live countdowns (alerts, deadlines, ringing) ----
  function tick() {
    document.querySelectorAll("[data-due]").forEach(function (e) {
      var left = Number(e.dataset.due) - now();
      e.textContent = (left >= 0 ? "剩余 " : "已超时 ") + fmtDur(left);
      e.classList.toggle("late", left < 0);
    });
  }
  setInterval(tick, 1000);

  // ---- alerts ----
  var levelZh = { warning: "预警", breach: "超时", stuck: "派送受阻" };
  function alertItem(a) {
    var li = el("li", null, "alert " + (a.level || ""));
    li.dataset.id = a.id;
    li.appendChild(el("span", levelZh[a.level] || a.level, "tag" + (a.level === "breach" ? " red" : "")));
    li.appendChild(el("span", " 工单 " + a.ticket_id + " "));
    li.appendChild(el("span", a.message));
    var cd = el("span", "", "countdown");
    cd.dataset.due = a.due_at;
    li.appendChild(cd);
    return li;
  }
  function addAlert(a, top) {
    var ul = $("alerts");
    if (!ul || ul.querySelector('[data-id="' + Number(a.id) + '"]')) return;
    var li = alertItem(a);
    if (top) ul.insertBefore(li, ul.firstChild); else ul.appendChild(li);
    while (ul.children.length > 30) ul.removeChild(ul.lastChild);
    tick();
  }
  function loadAlerts() {
    if (!$("alerts")) return Promise.resolve();
    return api("GET", "/api/alerts").then(function (list) { clear($("alerts")); list.forEach(function (a) { addAlert(a, false); }); });
  }

  // ---- the call desk ----
  var current = null; // the ticket on screen
  var call = null; // the screen pop
  var presenceZh = { available: "示闲", not_ready: "示忙", wrap_up: "话后整理", ringing: "振铃", on_call: "通话中", logged_out: "未登录队列" };

  function showPresence(p) {
    var e = $("presence");
    if (e) e.textContent = presenceZh[p] || p;
    document.querySelectorAll("[data-presence]").forEach(function (b) { b.classList.toggle("on", b.dataset.presence === p); });
  }
  function updateLimit() {
    var f = $("ticket-form");
    if (!f) return;
    var limits = JSON.parse(f.dataset.limits || "{}");
    var h = limits[$("f-fault").value + "|" + $("f-class").value];
    $("f-limit").textContent = h ? h + " 小时" : "—";
  }
  function ticketLine(t, onclick) {
    var li = el("li");
    li.dataset.id = t.id;
    li.appendChild(el("b", "#" + t.id + " "));
    li.appendChild(el("span", t.faulty_number + " " + t.fault_type_label + " "));
    li.appendChild(el("span", t.status_label, "tag"));
    if (t.urgent) li.appendChild(el("span", "紧急", "tag red"));
    li.appendChild(el("span", " " + (t.description || ""), "desc"));
    if (onclick) { li.classList.add("click"); li.addEventListener("click", function () { onclick(t); }); }
    return li;
  }
  var fieldZh = { status_label: "状态", urgent: "紧急", description: "描述", fault_type_label: "故障类型", customer_name: "客户", contact_number: "联系电话" };
  function changes(a, b) {
    var out = [];
    Object.keys(fieldZh).forEach(function (k) {
      if (a && b && String(a[k]) !== String(b[k])) out.push(fieldZh[k] + "：" + a[k] + " → " + b[k]);
    });
    if (a && b && (a.orders || []).length !== (b.orders || []).length) out.push("派单：" + (a.orders || []).length + " → " + (b.orders || []).length + " 条");
    return out;
  }
  function showTicket(t, staleFrom) {
    current = t;
    var box = $("ticket");
    if (!box) return;
    box.hidden = false;
    $("t-id").textContent = "#" + t.id;
    $("t-status").textContent = t.status_label;
    $("t-urgent").hidden = !t.urgent;
    $("t-number").textContent = t.faulty_number + (t.contact_number ? "（联系 " + t.contact_number + "）" : "");
    $("t-customer").textContent = (t.customer_name || "—") + " · " + t.customer_class_label + (t.branch ? " · " + t.branch : "");
    $("t-fault").textContent = t.fault_type_label;
    $("t-limit").textContent = t.repair_limit_hours + " 小时";
    $("t-desc").textContent = t.description;
    var st = $("t-stale");
    if (staleFrom) {
      clear(st);
      st.appendChild(el("b", "工单已被他人更新，已显示最新状态："));
      var ul = el("ul");
      changes(staleFrom, t).forEach(function (c) { ul.appendChild(el("li", c)); });
      st.appendChild(ul);
      st.hidden = false;
    } else st.hidden = true;
    var dl = $("t-deadlines"); clear(dl);
    (t.deadlines || []).forEach(function (d) {
      var li = el("li");
      li.appendChild(el("span", d.label + " " + fmtTime(d.due_at) + " "));
      if (d.met_at) li.appendChild(el("span", "已完成", "tag"));
      else { var c = el("span", "", "countdown"); c.dataset.due = d.due_at; li.appendChild(c); }
      dl.appendChild(li);
    });
    var ol = $("t-orders"); clear(ol);
    (t.orders || []).forEach(function (o) {
      var li = el("li");
      li.appendChild(el("span", o.kind_label + " #" + o.id + " "));
      li.appendChild(el("span", o.review_label, "tag"));
      li.appendChild(el("span", " 派送：" + o.delivery + " " + (o.note || "")));
      if (o.review_note) li.appendChild(el("span", " 审核意见：" + o.review_note));
      ol.appendChild(li);
    });
    var hl = $("t-history"); clear(hl);
    (t.history || []).forEach(function (h) {
      hl.appendChild(el("li", fmtTime(h.at) + " " + h.actor + " " + (h.action_label || h.action) + " " + h.from + "→" + h.to + (h.detail ? " " + h.detail : "")));
    });
    tick();
  }
  function openTicket(id) {
    return api("GET", "/api/tickets/" + id).then(function (t) { showTicket(t); });
  }
  function loadRecent() {
    if (!$("recent")) return Promise.resolve();
    return api("GET", "/api/tickets?limit=20").then(function (list) {
      var ul = $("recent"); clear(ul);
      list.forEach(function (t) { ul.appendChild(ticketLine(t, function (x) { openTicket(x.id); })); });
    });
  }
  function showPop(c, state) {
    call = c;
    var p = $("pop");
    if (!p) return;
    p.hidden = false;
    $("pop-state").textContent = state === "offer" ? "振铃中" : "已接通";
    $("pop-caller").textContent = c.caller_number;
    $("pop-number").textContent = c.faulty_number;
    $("pop-customer").textContent = c.customer_name ? c.customer_name + " · " + c.customer_class_label : "（无记录）";
    $("pop-repeat").textContent = c.repeat ? "是：该号码有未完成工单" : "否";
    $("pop-repeat").className = c.repeat ? "red" : "";
    $("pop-reason").textContent = c.reason || "—";
    var ring = $("pop-ring");
    if (state === "offer" && c.ring_timeout_ms) ring.dataset.due = now() + c.ring_timeout_ms;
    else { delete ring.dataset.due; ring.textContent = ""; }
    var ul = $("pop-recent"); clear(ul);
    (c.recent || []).forEach(function (t) { ul.appendChild(ticketLine(t, function (x) { openTicket(x.id); })); });
    if (!c.recent || !c.recent.length) ul.appendChild(el("li", "无"));
    if (state === "connected") fillFromCall();
    tick();
  }
  function fillFromCall() {
    if (!call) return;
    $("f-faulty").value = call.faulty_number || "";
    $("f-contact").value = call.caller_number || "";
    if (call.customer_name) $("f-name").value = call.customer_name;
    if (call.customer_class) $("f-class").value = call.customer_class;
    if (call.branch) $("f-branch").value = call.branch;
    updateLimit();
    saveForm($("ticket-form"));
  }
  function act(action, btn) {
    if (!current) return;
    var note = $("t-note").value;
    var data = { action: action, note: note, version: current.version };
    if (action === "manager") data.reason = $("t-manager-reason").value;
    busy(btn, api("POST", "/api/tickets/" + current.id + "/act", data, btn.dataset.idem)
      .then(function (t) {
        showTicket(t);
        $("t-note").value = "";
        try { localStorage.removeItem(storeKey("t-note")); } catch (e) { /* */ }
        flash("已" + btn.textContent + "：工单 #" + t.id + " " + t.status_label);
        loadRecent();
      }), true);
  }
  // one request at a time per button; the idempotency key is kept until it succeeds
  function busy(btn, p, keepKeyOnError) {
    btn.disabled = true;
    p.then(function () { delete btn.dataset.idem; }, function (e) {
      if (!keepKeyOnError || (e.status && e.status !== 0)) delete btn.dataset.idem;
      if (e.status === 409 && e.body && e.body.error === "stale" && e.body.ticket) {
        showTicket(e.body.ticket, current);
      }
      if (e.message !== "logged out") flash(e.message, true);
    }).then(function () { btn.disabled = false; });
    return p;
  }
  function initDesk() {
    var f = $("ticket-form");
    if (restoreForm(f)) flash("已恢复上次未提交的填写内容");
    var n = localStorage.getItem(storeKey("t-note"));
    if (n) $("t-note").value = n;
    f.addEventListener("input", function () { saveForm(f); updateLimit(); });
    f.addEventListener("change", function () { saveForm(f); updateLimit(); });
    $("t-note").addEventListener("input", function () { try { localStorage.setItem(storeKey("t-note"), $("t-note").value); } catch (e) { /* */ } });
    updateLimit();
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var btn = $("f-submit");
      if (btn.disabled) return;
      if (!btn.dataset.idem) btn.dataset.idem = key();
      var data = {};
      Array.prototype.forEach.call(f.elements, function (i) { if (i.name) data[i.name] = i.type === "checkbox" ? i.checked : i.value; });
      busy(btn, api("POST", "/api/tickets", data, btn.dataset.idem).then(function (t) {
        forgetForm(f);
        f.reset();
        updateLimit();
        showTicket(t);
        flash("已受理：工单 #" + t.id + (t.repeat_of ? "（重复申告，原工单 #" + t.repeat_of + "）" : ""));
        loadRecent();
        openTicket(t.id);
      }), true);
    });
    document.querySelectorAll("[data-act]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (b.disabled) return;
        if (!b.dataset.idem) b.dataset.idem = key();
        act(b.dataset.act, b);
      });
    });
    document.querySelectorAll("[data-presence]").forEach(function (b) {
      b.addEventListener("click", function () {
        busy(b, api("POST", "/api/presence", { presence: b.dataset.presence }).then(function (r) { showPresence(r.presence); }));
      });
    });
    $("pop-fill").addEventListener("click", fillFromCall);
    $("a-progress").addEventListener("click", function () {
      if (!current) return;
      var out = $("t-result");
      busy(this, api("GET", "/api/tickets/" + current.id + "/progress").then(function (r) {
        out.hidden = false;
        out.textContent = "112 中心进程：" + r.status + "（中心单号 " + r.center_ref + "）\n" + JSON.stringify(r.detail && r.detail.statusChangeHistory || [], null, 1);
      }));
    });
    $("a-linetest").addEventListener("click", function () {
      if (!current) return;
      var out = $("t-result");
      busy(this, api("GET", "/api/line-test?number=" + encodeURIComponent(current.faulty_number)).then(function (r) {
        out.hidden = false;
        out.textContent = "线路测试 " + r.lineNumber + "：" + r.verdict + "  环阻 " + r.loopResistanceOhm + "Ω  绝缘 " + r.insulationResistanceMohm + "MΩ  交流 " + r.acVoltageV + "V  直流 " + r.dcVoltageV + "V";
      }));
    });
  }
  function refreshDesk() {
    return Promise.all([
      api("GET", "/api/me").then(function (me) { showPresence(me.presence); }),
      loadRecent(), loadAlerts(),
      current ? openTicket(current.id) : null,
    ]);
  }

  // ---- the review queue ----
  function reviewItem(t) {
    var li = el("li", null, "review-item");
    li.dataset.id = t.id;
    var h = el("div");
    h.appendChild(el("b", "工单 #" + t.id + " "));
    h.appendChild(el("span", t.faulty_number + " · " + t.fault_type_label + " · " + t.customer_class_label + " "));
    if (t.urgent) h.appendChild(el("span", "紧急", "tag red"));
    li.appendChild(h);
    li.appendChild(el("div", t.description, "desc pre"));
    var pending = (t.orders || []).filter(function (o) { return o.review === "pending"; });
    pending.forEach(function (o) {
      var row = el("div", null, "order");
      row.appendChild(el("span", o.kind_label + " #" + o.id + " 由 " + o.created_by + " 提交 " + (o.note || "")));
      var note = el("input"); note.placeholder = "审核意见"; note.className = "review-note";
      var ok = el("button", "批准"); ok.type = "button"; ok.className = "approve";
      var no = el("button", "驳回"); no.type = "button"; no.className = "reject";
      [ok, no].forEach(function (b) {
        b.addEventListener("click", function () {
          if (b.disabled) return;
          if (!b.dataset.idem) b.dataset.idem = key();
          busy(b, api("POST", "/api/tickets/" + t.id + "/review",
            { order_id: o.id, approve: b === ok, note: note.value, version: t.version }, b.dataset.idem)
            .then(function (after) {
              flash((b === ok ? "已批准" : "已驳回") + "：工单 #" + after.id + " " + after.status_label);
              li.remove(); count();
            }), true).catch(function (e) {
            if (e.body && e.body.error === "stale" && e.body.ticket) {
              var fresh = e.body.ticket;
              if (fresh.status === "awaiting_review") li.replaceWith(reviewItem(fresh)); else { li.remove(); count(); }
            }
          });
        });
      });
      row.appendChild(note); row.appendChild(ok); row.appendChild(no);
      li.appendChild(row);
    });
    return li;
  }
  function count() { var c = $("review-count"); if (c) c.textContent = $("review-list").children.length + " 件"; }
  function upsertReview(t) {
    var ul = $("review-list");
    if (!ul) return;
    var old = ul.querySelector('[data-id="' + Number(t.id) + '"]');
    if (t.status !== "awaiting_review") { if (old) old.remove(); count(); return; }
    var li = reviewItem(t);
    if (old) old.replaceWith(li); else ul.appendChild(li);
    count();
  }
  function loadReview() {
    return api("GET", "/api/review").then(function (list) { clear($("review-list")); list.forEach(upsertReview); count(); });
  }

  // ---- voicemail ----
  function vmItem(v) {
    var li = el("li", null, "vm");
    li.dataset.id = v.id;
    var h = el("div");
    h.appendChild(el("b", "留言 #" + v.id + " "));
    h.appendChild(el("span", "来电 " + v.caller_id + " · 所报号码 " + (v.number_entered || "—") + " · " + fmtDur(v.duration_ms) + " · " + fmtTime(v.received_at) + " "));
    h.appendChild(el("span", v.state_label + (v.claimed_by ? "（" + v.claimed_by + "）" : ""), "tag"));
    li.appendChild(h);
    var mine = v.state === "claimed" && v.claimed_by === agent;
    var row = el("div", null, "actions");
    if (v.state === "new") {
      var c = el("button", "认领"); c.type = "button"; c.className = "claim";
      c.addEventListener("click", function () {
        if (!c.dataset.idem) c.dataset.idem = key();
        busy(c, api("POST", "/api/voicemails/" + v.id + "/claim", undefined, c.dataset.idem).then(function (nv) { li.replaceWith(vmItem(nv)); flash("已认领留言 #" + nv.id); }), true);
      });
      row.appendChild(c);
    }
    if (mine || (v.state !== "new" && body.dataset.role !== "recording_extractor")) {
      var audio = el("audio"); audio.controls = true; audio.preload = "metadata"; audio.src = "/voicemails/" + v.id + "/audio"; audio.className = "player";
      row.appendChild(audio);
    }
    if (mine) {
      var sel = el("select"); sel.className = "vm-fault";
      var tpl = $("vm-faults");
      Array.prototype.forEach.call(tpl.content.querySelectorAll("option"), function (o) { sel.appendChild(o.cloneNode(true)); });
      var num = el("input"); num.placeholder = "故障号码"; num.value = v.number_entered || ""; num.className = "vm-number";
      var desc = el("input"); desc.placeholder = "故障描述"; desc.className = "vm-desc";
      var conv = el("button", "转工单"); conv.type = "button"; conv.className = "convert";
      conv.addEventListener("click", function () {
        if (!conv.dataset.idem) conv.dataset.idem = key();
        busy(conv, api("POST", "/api/voicemails/" + v.id + "/convert", { faulty_number: num.value, fault_type: sel.value, description: desc.value }, conv.dataset.idem)
          .then(function (r) { li.remove(); flash("已转为工单 #" + r.ticket_id); }), true);
      });
      var esc = el("button", "转高级话务员"); esc.type = "button"; esc.className = "escalate";
      esc.addEventListener("click", function () {
        if (!esc.dataset.idem) esc.dataset.idem = key();
        busy(esc, api("POST", "/api/voicemails/" + v.id + "/escalate", { reason: desc.value }, esc.dataset.idem)
          .then(function (nv) { li.replaceWith(vmItem(nv)); flash("已转高级话务员：留言 #" + nv.id); }), true);
      });
      [num, sel, desc, conv, esc].forEach(function (x) { row.appendChild(x); });
    }
    li.appendChild(row);
    return li;
  }
  function upsertVm(v) {
    var ul = $("vm-list");
    if (!ul) return;
    var old = ul.querySelector('[data-id="' + Number(v.id) + '"]');
    if (v.state === "converted") { if (old) old.remove(); return; }
    // a playing message keeps its player
    if (old && old.querySelector("audio") && !old.querySelector("audio").paused) return;
    var li = vmItem(v);
    if (old) old.replaceWith(li); else ul.appendChild(li);
  }
  function loadVm() {
    return api("GET", "/api/voicemails").then(function (list) {
      var ul = $("vm-list"); clear(ul);
      list.forEach(upsertVm);
      if (!list.length) ul.appendChild(el("li", "暂无留言", "empty"));
    });
  }

  // ---- text intake (TE1, TE4) ----
  function inItem(d) {
    var li = el("li");
    li.dataset.id = d.id;
    var h = el("div");
    h.appendChild(el("b", d.channel_label + " #" + d.id + " "));
    h.appendChild(el("span", (d.sender ? d.sender + " · " : "") + (d.subject || d.file_name) + " · 收到 " + fmtTime(d.received_at) + " "));
    h.appendChild(el("span", d.state_label, "tag"));
    var cd = el("span", "", "countdown"); cd.dataset.due = d.due_at; h.appendChild(cd);
    li.appendChild(h);
    if (d.pass_reason) li.appendChild(el("div", "转交原因：" + d.pass_reason + (d.passed_by ? "（" + d.passed_by + "）" : ""), "hint"));
    if (d.body_text) li.appendChild(el("div", d.body_text.slice(0, 300), "hint"));
    var row = el("div", null, "actions");
    var a = el("a", "原件 " + d.file_name); a.href = "/intake/" + d.id + "/original"; a.className = "original";
    row.appendChild(a);
    var num = el("input"); num.placeholder = "故障号码"; num.className = "in-number";
    var sel = el("select"); sel.className = "in-fault";
    Array.prototype.forEach.call($("in-faults").content.querySelectorAll("option"), function (o) { sel.appendChild(o.cloneNode(true)); });
    var desc = el("input"); desc.placeholder = "故障描述（默认取信件内容）"; desc.className = "in-desc";
    var enter = el("button", "录入工单"); enter.type = "button"; enter.className = "in-enter";
    enter.addEventListener("click", function () {
      if (!enter.dataset.idem) enter.dataset.idem = key();
      busy(enter, api("POST", "/api/intake/" + d.id + "/enter", { faulty_number: num.value, fault_type: sel.value, description: desc.value }, enter.dataset.idem)
        .then(function (r) { li.remove(); flash("已录入工单 #" + r.ticket_id); }), true);
    });
    [num, sel, desc, enter].forEach(function (x) { row.appendChild(x); });
    if (d.state === "unentered") {
      var pass = el("button", "转高级话务员"); pass.type = "button"; pass.className = "in-pass";
      pass.addEventListener("click", function () {
        if (!pass.dataset.idem) pass.dataset.idem = key();
        busy(pass, api("POST", "/api/intake/" + d.id + "/pass", { reason: desc.value }, pass.dataset.idem)
          .then(function () { return loadIn(); }).then(function () { flash("已转高级话务员"); }), true);
      });
      row.appendChild(pass);
    }
    li.appendChild(row);
    return li;
  }
  function loadIn() {
    return api("GET", "/api/intake").then(function (list) {
      var ul = $("in-list"); clear(ul);
      list.forEach(function (d) { ul.appendChild(inItem(d)); });
      if (!list.length) ul.appendChild(el("li", "暂无待录入的文件", "empty"));
      tick();
    });
  }

  // ---- surveys (SS1-SS4) ----
  function svItem(e) {
    var li = el("li");
    li.dataset.ticket = e.ticket_id;
    var h = el("div");
    h.appendChild(el("b", "工单 #" + e.ticket_id + " "));
    h.appendChild(el("span", (e.customer_name || "客户") + " · 回访号码 " + e.contact_number + " · " + e.fault_type_label + " · " + e.status_label + " · " + fmtTime(e.since) + " "));
    if (e.source_label) h.appendChild(el("span", e.source_label, "tag"));
    if (e.list === "due") h.appendChild(el("span", e.urged ? "已催单" : "预警", "tag" + (e.urged ? " late" : "")));
    if (e.list === "investigate") h.appendChild(el("span", "重复申告 " + e.repeats + " · 不满意 " + e.dissatisfied, "tag"));
    li.appendChild(h);
    if (e.list !== "cleared" && e.list !== "completed") return li;
    var info = el("div", "已回访 " + e.attempts + " 次" + (e.next_attempt_at ? " · 可回访时间 " + fmtTime(e.next_attempt_at) : ""), "hint");
    li.appendChild(info);
    var row = el("div", null, "actions");
    var comment = el("input"); comment.placeholder = "备注"; comment.className = "sv-comment";
    row.appendChild(comment);
    var send = function (btn, outcome, satisfaction) {
      if (!btn.dataset.idem) btn.dataset.idem = key();
      busy(btn, api("POST", "/api/surveys/" + e.ticket_id + "/callback", { outcome: outcome, satisfaction: satisfaction, comment: comment.value }, btn.dataset.idem)
        .then(function (r) {
          flash(r.next === "retry" ? "已记录未接通（第 " + r.attempt + " 次），下次回访 " + fmtTime(r.next_attempt_at) : r.next === "unreachable" ? "已达最多次数，回访结束" : "回访已记录：工单 #" + r.ticket_id);
          return loadSv();
        }), true);
    };
    [["satisfied", "满意"], ["basically_satisfied", "基本满意"], ["dissatisfied", "不满意"]].forEach(function (o) {
      var b = el("button", o[1]); b.type = "button"; b.className = "sv-" + o[0];
      b.disabled = !e.callable_now;
      b.addEventListener("click", function () { send(b, "reached", o[0]); });
      row.appendChild(b);
    });
    var nr = el("button", "未接通"); nr.type = "button"; nr.className = "sv-not-reached";
    nr.disabled = !e.callable_now;
    nr.addEventListener("click", function () { send(nr, "not_reached", ""); });
    row.appendChild(nr);
    li.appendChild(row);
    return li;
  }
  function loadSv() {
    var sel = $("sv-list");
    return api("GET", "/api/surveys?list=" + encodeURIComponent(sel.value)).then(function (list) {
      var ul = $("sv-work"); clear(ul);
      list.forEach(function (e) { ul.appendChild(svItem(e)); });
      if (!list.length) ul.appendChild(el("li", "暂无待办", "empty"));
    });
  }

  // ---- wallboard ----
  function showBoard(b) {
    if (!b || !$("w-sl")) return;
    $("w-sl").textContent = b.service_level === null || b.service_level === undefined ? "—" : (b.service_level * 100).toFixed(1) + "%";
    $("w-waiting").textContent = b.waiting;
    $("w-longest").textContent = fmtDur(b.longest_wait_ms);
    $("w-longest").classList.toggle("late", b.longest_wait_ms > 60000);
    $("w-calls").textContent = b.entered + " / " + b.answered;
    var st = $("w-states"); clear(st);
    Object.keys(presenceZh).forEach(function (k) {
      if (!b.by_state[k]) return;
      var d = el("span", presenceZh[k] + " " + b.by_state[k], "state " + k);
      st.appendChild(d);
    });
    var ag = $("w-agents"); clear(ag);
    b.agents.forEach(function (a) { ag.appendChild(el("li", a.name + "（" + a.agent_id + "）" + (presenceZh[a.presence] || a.presence), "state " + a.presence)); });
    var cv = $("w-curve"); clear(cv);
    var max = 1;
    b.curve.forEach(function (p) { max = Math.max(max, p.entered); });
    b.curve.forEach(function (p) {
      var col = el("div", null, "col");
      col.title = fmtTime(p.start) + " 呼入 " + p.entered + " 接通 " + p.answered;
      var e = el("div", null, "bar in"); e.style.height = (100 * p.entered / max) + "%";
      var a = el("div", null, "bar ans"); a.style.height = (100 * p.answered / max) + "%";
      col.appendChild(e); col.appendChild(a);
      cv.appendChild(col);
    });
    if (!b.curve.length) cv.appendChild(el("span", "今日尚无呼入", "empty"));
  }

  // ---- live updates ----
  var es = null, broken = false;
  function conn(ok, text) { var c = $("conn"); if (c) { c.textContent = text; c.className = "conn " + (ok ? "ok" : "bad"); } }
  function refresh() {
    if (view === "desk") return refreshDesk();
    if (view === "review") return Promise.all([loadReview(), loadAlerts()]);
    if (view === "voicemail") return loadVm();
    if (view === "surveys") return loadSv();
    if (view === "intake") return loadIn();
    if (view === "wallboard") return Promise.all([api("GET", "/api/wallboard").then(showBoard), loadAlerts()]);
    return Promise.resolve();
  }
  function connect() {
    if (view === "soon") { conn(true, "—"); return; }
    es = new EventSource("/events");
    es.onopen = function () {
      conn(true, "实时");
      if (broken) { broken = false; refresh().catch(function () { /* shown */ }); }
    };
    es.onerror = function () {
      broken = true;
      conn(false, "连接中断，正在重连…");
      if (es.readyState === EventSource.CLOSED) {
        // the server refused the stream (logged out?) or is down: ask, then retry
        api("GET", "/api/me").then(function () { setTimeout(connect, 1000); }, function () { setTimeout(connect, 2000); });
      }
    };
    var on = function (name, f) { es.addEventListener(name, function (m) { var d; try { d = JSON.parse(m.data); } catch (e) { return; } f(d); }); };
    on("hello", function (d) { skew = d.now - Date.now(); });
    on("expired", function () { toLogin(true); });
    on("alert", function (a) { if (view === "intake") loadIn().catch(function () { /* shown */ }); addAlert(a, true); if (a.level === "breach") flash("超时告警：工单 " + a.ticket_id + " " + a.message, true); });
    on("offer", function (c) { showPop(c, "offer"); flash("来电：" + c.caller_number); });
    on("connected", function (c) { showPop(c, "connected"); });
    on("offer_ended", function (d) {
      if (call && call.call_id === d.call_id) { $("pop-state").textContent = d.reason_label; var r = $("pop-ring"); delete r.dataset.due; r.textContent = ""; }
    });
    on("agent_alert", function (d) { flash("话务员 " + d.agent_id + "：" + d.kind_label + " " + d.message, true); });
    on("review", function (d) { upsertReview(d.ticket); if (view === "review") flash("新的待审核派单：工单 #" + d.ticket.id); });
    on("ticket", function (d) {
      var t = d.ticket;
      if (view === "surveys") { clearTimeout(loadSv.t); loadSv.t = setTimeout(function () { loadSv().catch(function () { /* shown */ }); }, 300); }
      upsertReview(t);
      if (current && current.id === t.id && t.version !== current.version) {
        var mine = d.actor === agent;
        t.history = current.history;
        showTicket(t, mine ? null : current);
        openTicket(t.id).catch(function () { /* */ });
      }
      if (view === "desk") {
        var r = $("recent"), old = r && r.querySelector('[data-id="' + Number(t.id) + '"]');
        if (old) old.replaceWith(ticketLine(t, function (x) { openTicket(x.id); }));
      }
    });
    on("voicemail", function (d) { upsertVm(d.voicemail); });
    on("queue", showBoard);
    on("lagged", function () { refresh(); });
  }

  if (view === "desk") initDesk();
  if (view === "surveys") $("sv-list").addEventListener("change", function () { loadSv().catch(function (e) { flash(e.message, true); }); });
  refresh().catch(function (e) { if (e.message !== "logged out") flash(e.message, true); });
  connect();
  window.addEventListener("beforeunload", function () { if (es) es.close(); });
})();
