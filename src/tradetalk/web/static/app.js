// tradetalk pages: live updates over the event stream, the composer and its live shield check.
// Plain JavaScript, no build step. User text only ever reaches the page through textContent.
(function () {
  "use strict";

  const body = document.body;
  const me = body.dataset.userId;
  if (!me) return;
  const csrf = body.dataset.csrf;
  const current = body.dataset.conversationId ? Number(body.dataset.conversationId) : null;
  const thread = document.getElementById("thread");
  const list = document.getElementById("conversation-list");
  const composer = document.getElementById("composer");
  const textarea = document.getElementById("body");
  const refusal = document.getElementById("refusal");
  const warning = document.getElementById("shield-warning");
  const typingLine = document.getElementById("typing");

  let token = null;
  let tokenExpires = 0;
  let lastEventId = null;
  let socket = null;
  let retryDelay = 1000;

  async function userToken() {
    if (token && Date.now() < tokenExpires - 60000) return token;
    const response = await fetch("/web/token", { credentials: "same-origin" });
    if (!response.ok) throw new Error("not signed in");
    const data = await response.json();
    token = data.token;
    tokenExpires = Date.parse(data.expires_at);
    return token;
  }

  function api(path, payload) {
    return userToken().then(function (t) {
      return fetch(path, {
        method: "POST",
        headers: { "Authorization": "Bearer " + t, "Content-Type": "application/json" },
        body: JSON.stringify(payload),
      });
    });
  }

  // --- the thread ---------------------------------------------------------------------

  function scrollToEnd() {
    if (thread) thread.lastElementChild && thread.lastElementChild.scrollIntoView({ block: "end" });
  }

  // Times come from the server in UTC; people read them in their own time zone.
  function localTime(iso) {
    return new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function localDay(date) {
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
  }

  function dayLabel(date) {
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86400000);
    if (localDay(date) === localDay(today)) return "Today";
    if (localDay(date) === localDay(yesterday)) return "Yesterday";
    return date.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  }

  // The server groups a thread by UTC day; regroup it by the reader's own days.
  function localiseThread() {
    if (!thread) return;
    thread.querySelectorAll("li.day").forEach(function (li) { li.remove(); });
    let previous = null;
    thread.querySelectorAll("li.item").forEach(function (li) {
      const time = li.querySelector("time[datetime]");
      if (!time) return;
      const date = new Date(time.dateTime);
      const day = localDay(date);
      if (day !== previous) {
        const sep = document.createElement("li");
        sep.className = "day";
        sep.dataset.day = day;
        const span = document.createElement("span");
        span.textContent = dayLabel(date);
        sep.appendChild(span);
        li.before(sep);
        previous = day;
      }
    });
  }

  function localiseTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (time) {
      if (time.closest(".meta")) time.textContent = localTime(time.dateTime);
      else if (time.closest(".feed")) {
        const date = new Date(time.dateTime);
        time.textContent = date.toLocaleDateString(undefined, { day: "2-digit", month: "short" }) + " " + localTime(time.dateTime);
      }
    });
  }

  function ensureDay(createdAt) {
    const date = new Date(createdAt);
    const iso = localDay(date);
    const days = thread.querySelectorAll("li.day");
    const last = days[days.length - 1];
    if (last && last.dataset.day === iso) return;
    const li = document.createElement("li");
    li.className = "day";
    li.dataset.day = iso;
    const span = document.createElement("span");
    span.textContent = dayLabel(date);
    li.appendChild(span);
    thread.appendChild(li);
  }

  function textItem(message) {
    const mine = message.sender_id === me;
    const li = document.createElement("li");
    li.id = "m" + message.id;
    li.dataset.messageId = message.id;
    if (message.sender_role === "system") {
      li.className = "item kind-system system";
      const p = document.createElement("p");
      p.className = "system-text";
      p.textContent = message.body;
      li.appendChild(p);
      return li;
    }
    li.className = "item kind-text " + (mine ? "mine" : "theirs");
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const sender = document.createElement("span");
    sender.className = "sender";
    sender.textContent = mine ? "You" : message.sender_role === "support" ? "Support" : (document.querySelector(".thread-head h1") || {}).textContent || "";
    const text = document.createElement("p");
    text.className = "text";
    text.textContent = message.body;
    const meta = document.createElement("span");
    meta.className = "meta";
    const time = document.createElement("time");
    time.dateTime = message.created_at;
    time.textContent = localTime(message.created_at);
    meta.appendChild(time);
    bubble.append(sender, text, meta);
    li.appendChild(bubble);
    return li;
  }

  // Offers, shipping updates and attachments come rendered by the server, as on page load
  // (Jinja escapes every user-supplied value there).
  async function fragment(message) {
    const response = await fetch("/inbox/" + message.conversation_id + "/items/" + message.id, { credentials: "same-origin" });
    if (!response.ok) return null;
    const doc = new DOMParser().parseFromString("<ol>" + (await response.text()) + "</ol>", "text/html");
    const li = doc.querySelector("li.item");
    if (!li) return null;
    const node = document.importNode(li, true);
    localiseTimes(node);
    return node;
  }

  async function appendMessage(message) {
    if (!thread || document.getElementById("m" + message.id)) return;
    // One's own text comes from the server too: it carries the Edit and Withdraw controls.
    const simple = message.kind === "text" && message.sender_id !== me && !(message.attachments && message.attachments.length);
    const li = simple || message.kind === "system" ? textItem(message) : await fragment(message);
    if (!li || document.getElementById("m" + message.id)) return;
    ensureDay(message.created_at);
    thread.appendChild(li);
    scrollToEnd();
    // The other side may have read it while its fragment was on the way.
    if (message.sender_id === me && otherReadUpTo >= message.id) markSeen(otherReadUpTo);
    if (message.sender_id !== me) {
      hideTyping();
      api("/v1/conversations/" + current + "/read", { message_id: message.id });
    }
  }

  async function replaceItem(conversationId, messageId) {
    const old = document.getElementById("m" + messageId);
    if (!old || conversationId !== current) return;
    const li = await fragment({ conversation_id: conversationId, id: messageId });
    if (li) old.replaceWith(li);
  }

  // How far the other side has read in the open thread, as last told by conversation.read.
  let otherReadUpTo = 0;

  function markSeen(lastReadId) {
    if (!thread) return;
    otherReadUpTo = Math.max(otherReadUpTo, lastReadId);
    const mine = thread.querySelectorAll("li.item.mine");
    let target = null;
    mine.forEach(function (li) { if (Number(li.dataset.messageId) <= lastReadId) target = li; });
    if (!target) return;
    thread.querySelectorAll(".seen").forEach(function (el) { el.remove(); });
    const meta = target.querySelector(".meta");
    const seen = document.createElement("span");
    seen.className = "seen";
    seen.textContent = " · Seen";
    meta.appendChild(seen);
  }

  // --- the conversation list ------------------------------------------------------------

  function updateList(message) {
    if (!list) return;
    const row = list.querySelector('li.conversation[data-conversation-id="' + message.conversation_id + '"]');
    if (!row) {
      refreshList();
      return;
    }
    const preview = row.querySelector(".preview");
    preview.textContent = (message.sender_id === me ? "You: " : "") + (message.body || (message.kind === "offer" ? "Offer" : "Attachment"));
    if (message.sender_id !== me && message.conversation_id !== current) {
      const badge = row.querySelector('[data-role="badge"]');
      const count = (parseInt(badge.firstChild.textContent, 10) || 0) + 1;
      badge.firstChild.textContent = String(count);
      badge.hidden = false;
      row.classList.add("unread");
    }
    list.prepend(row);
  }

  // A conversation not on the list yet: the server renders the list again.
  async function refreshList() {
    const query = current ? "?current=" + current : "";
    const response = await fetch("/web/inbox-list" + query, { credentials: "same-origin" });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("conversation-list");
    if (!fresh) return;
    list.replaceChildren(...Array.from(fresh.children).map(function (li) { return document.importNode(li, true); }));
    // The open conversation is being read right now.
    const open = list.querySelector("li.conversation.current");
    if (open) {
      open.classList.remove("unread");
      open.querySelector('[data-role="badge"]').hidden = true;
    }
  }

  // The dashboard's unread figure follows new messages from others.
  function bumpUnread(message) {
    const figure = document.getElementById("unread-messages");
    if (!figure || message.sender_id === me || message.sender_role === "system") return;
    figure.textContent = String((parseInt(figure.textContent, 10) || 0) + 1);
  }

  // The dashboard's feed is rendered by the server (folded items, escaping) and fetched again
  // when news arrives; a burst of events is one fetch.
  let feedTimer = null;
  function refreshFeed() {
    const panel = document.getElementById("feed-panel");
    if (!panel) return;
    clearTimeout(feedTimer);
    feedTimer = setTimeout(async function () {
      const response = await fetch("/web/dashboard-feed", { credentials: "same-origin" });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("feed-panel");
      if (!fresh) return;
      const node = document.importNode(fresh, true);
      panel.replaceWith(node);
      localiseTimes(node);
    }, 300);
  }

  // --- typing -----------------------------------------------------------------------------

  let typingTimer = null;
  function showTyping() {
    if (!typingLine) return;
    const name = (document.querySelector(".thread-head h1") || {}).textContent || "They";
    typingLine.textContent = name + " is typing…";
    typingLine.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 5000);
  }
  function hideTyping() { if (typingLine) typingLine.hidden = true; }

  let lastTypingSent = 0;
  function sendTyping() {
    if (!socket || socket.readyState !== WebSocket.OPEN || !current) return;
    if (Date.now() - lastTypingSent < 3000) return;
    lastTypingSent = Date.now();
    socket.send(JSON.stringify({ type: "typing", conversation_id: current }));
  }

  // --- the event stream -------------------------------------------------------------------

  function handle(frame) {
    if (frame.id !== null && frame.id !== undefined) lastEventId = frame.id;
    const data = frame.data || {};
    switch (frame.type) {
      case "ready":
        lastEventId = data.last_event_id;
        body.dataset.live = "true";
        break;
      case "resync":
        lastEventId = data.last_event_id;
        window.location.reload();
        break;
      case "notification.created":
      case "notification.updated":
        refreshFeed();
        break;
      case "message.created":
        bumpUnread(data);
        if (data.sender_id !== me) refreshFeed();
        updateList(data);
        if (data.conversation_id === current) appendMessage(data);
        break;
      case "message.updated":
        replaceItem(data.conversation_id, data.id);
        break;
      case "offer.updated":
        replaceItem(data.conversation_id, data.message_id);
        break;
      case "conversation.read":
        if (data.conversation_id === current && data.user_id !== me) markSeen(data.last_read_message_id);
        break;
      case "typing":
        if (data.conversation_id === current && data.user_id !== me) showTyping();
        break;
      default:
        break;
    }
  }

  async function connect() {
    let t;
    try { t = await userToken(); } catch (e) { return; }
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let url = scheme + location.host + "/v1/events?token=" + encodeURIComponent(t);
    if (lastEventId !== null) url += "&after=" + lastEventId;
    socket = new WebSocket(url);
    socket.addEventListener("open", function () { retryDelay = 1000; });
    socket.addEventListener("message", function (event) {
      try { handle(JSON.parse(event.data)); } catch (e) { /* ignore a malformed frame */ }
    });
    socket.addEventListener("close", function () {
      body.dataset.live = "false";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    });
  }

  // --- the composer ------------------------------------------------------------------------

  function showRefusal(text) {
    refusal.textContent = text;
    refusal.hidden = !text;
    if (text) warning.hidden = true;  // the refusal says it all
  }

  let checkTimer = null;
  let checkSeq = 0;
  function liveCheck() {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(async function () {
      const draft = textarea.value.trim();
      const seq = ++checkSeq;
      if (!draft) { warning.hidden = true; return; }
      try {
        const response = await api("/v1/shield/check", { body: draft, conversation_id: current });
        if (!response.ok || seq !== checkSeq) return;
        const verdict = await response.json();
        if (verdict.action && refusal.hidden) {
          const lead = verdict.action === "block" ? "This message can't be sent as it is. "
            : verdict.action === "mask" ? "Part of this message will be hidden. " : "Heads up: ";
          warning.textContent = lead + (verdict.explanation || "It looks like it contains contact details.");
          warning.dataset.action = verdict.action;
          warning.hidden = false;
        } else {
          warning.hidden = true;
        }
      } catch (e) { /* the check is advisory */ }
    }, 400);
  }

  // --- attachments: uploaded as soon as they are chosen, with progress ------------------------

  const attach = document.getElementById("attach");
  const uploads = document.getElementById("uploads");
  const ready = new Map();  // list item -> attachment id
  let uploading = 0;

  function upload(file) {
    const li = document.createElement("li");
    li.className = "upload";
    const name = document.createElement("span");
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "✕";
    remove.setAttribute("aria-label", "Remove " + file.name);
    remove.addEventListener("click", function () {
      ready.delete(li);
      li.remove();
      uploads.hidden = uploads.children.length === 0;
    });
    li.append(name, bar, remove);
    uploads.appendChild(li);
    uploads.hidden = false;
    uploading += 1;
    userToken().then(function (t) {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/attachments");
      xhr.setRequestHeader("Authorization", "Bearer " + t);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
      });
      xhr.addEventListener("loadend", function () {
        uploading -= 1;
        let data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 201) {
          bar.value = 100;
          li.dataset.ready = "true";
          bar.setAttribute("aria-label", file.name + " ready");
          ready.set(li, data.id);
        } else {
          li.classList.add("failed");
          bar.remove();
          name.textContent = file.name + ": " + (data.detail || "could not be uploaded");
        }
      });
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  if (attach && uploads) {
    attach.addEventListener("change", function () {
      Array.from(attach.files).forEach(upload);
      attach.value = "";
    });
  }

  async function submit(event) {
    event.preventDefault();
    const button = composer.querySelector("button[type=submit]");
    if (uploading > 0) { showRefusal("Wait for the files to finish uploading."); return; }
    if (!textarea.value.trim() && ready.size === 0) return;
    button.disabled = true;
    const form = new FormData(composer);
    ready.forEach(function (id) { form.append("attachment_ids", id); });
    form.set("client_message_id", "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10));
    try {
      const response = await fetch(composer.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
        body: form,
      });
      const data = await response.json();
      if (response.status === 201) {
        textarea.value = "";
        ready.clear();
        uploads.replaceChildren();
        uploads.hidden = true;
        showRefusal("");
        warning.hidden = true;
        appendMessage(data);
        updateList(data);
      } else {
        showRefusal(data.detail || "The message could not be sent.");
      }
    } catch (e) {
      showRefusal("The message could not be sent: check your connection and try again.");
    } finally {
      button.disabled = false;
      textarea.focus();
    }
  }

  if (composer && textarea) {
    composer.addEventListener("submit", submit);
    textarea.addEventListener("input", function () { showRefusal(""); liveCheck(); sendTyping(); });
    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    if (textarea.value) liveCheck();
    const saved = document.getElementById("saved-reply");
    if (saved) {
      saved.addEventListener("change", function () {
        const option = saved.selectedOptions[0];
        if (!option || !option.value) return;
        textarea.value = textarea.value ? textarea.value + "\n" + option.dataset.body : option.dataset.body;
        saved.value = "";
        textarea.focus();
        liveCheck();
      });
    }
  }
  // Forms that undo something ask first (data-confirm); without scripts they just submit.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  localiseTimes(document);
  localiseThread();
  scrollToEnd();
  connect();
})();
