/* The console's live updates: polls the JSON API every few seconds and updates the page in place
   (no reload, no library, no network beyond this server). Rows are kept by conversation id so that
   a button with keyboard focus survives a refresh. Every text goes in through textContent, never as
   markup. State-changing requests carry the page's CSRF token in X-CSRF-Token; each is confirmed in
   a modal dialog first. */
(function () {
  "use strict";

  var script = document.currentScript;
  var API = script.dataset.api;
  var ROOT = script.dataset.root;
  var PAGE = script.dataset.page;
  var CAN_ACT = script.dataset.canAct === "yes";
  var POLL_MS = Number(script.dataset.pollMs) || 3000;
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // -- talking to the API ---------------------------------------------------------------------

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  function api(method, path, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = CSRF;
      options.body = JSON.stringify(body || {});
    }
    return fetch(API + path, options).then(function (response) {
      if (response.status === 401) {
        window.location.assign(ROOT + "/login");
        throw new ApiError(401, "signed out");
      }
      return response
        .json()
        .catch(function () { return {}; })
        .then(function (data) {
          if (!response.ok) {
            throw new ApiError(response.status, data.message || data.error || "HTTP " + response.status);
          }
          return data;
        });
    });
  }

  function enc(value) {
    return encodeURIComponent(value);
  }

  // -- small DOM helpers ----------------------------------------------------------------------

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setText(node, text) {
    text = text === null || text === undefined ? "" : String(text);
    if (node.textContent !== text) node.textContent = text;
  }

  var outcome = document.getElementById("outcome");
  function say(text, ok) {
    if (!outcome) return;
    outcome.className = "message " + (ok ? "ok" : "error");
    outcome.setAttribute("role", ok ? "status" : "alert");
    outcome.textContent = text;
  }

  // -- countdowns: ticked every second between polls from the seconds the API said ------------

  // "2026-12-02T10:08:17Z" -> "2026-12-02 10:08:17 UTC": the platform's time, as the API gives it.
  function when(iso) {
    if (!iso) return "—";
    return String(iso).replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
  }

  function countdownText(seconds) {
    if (seconds === null || seconds === undefined || seconds === "") return "—";
    seconds = Math.max(0, Math.round(Number(seconds)));
    if (seconds === 0) return "eligible now";
    var h = Math.floor(seconds / 3600);
    var m = Math.floor((seconds % 3600) / 60);
    var s = seconds % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h) return h + "h " + pad(m) + "m " + pad(s) + "s";
    if (m) return m + "m " + pad(s) + "s";
    return s + "s";
  }

  function armCountdown(node, seconds) {
    if (seconds === null || seconds === undefined || seconds === "") {
      delete node.dataset.deadline;
    } else {
      node.dataset.deadline = String(Date.now() + Number(seconds) * 1000);
    }
    tickOne(node);
  }

  function tickOne(node) {
    var left = node.dataset.deadline ? (Number(node.dataset.deadline) - Date.now()) / 1000 : null;
    setText(node, countdownText(left === null ? null : Math.max(0, Math.ceil(left))));
    node.classList.toggle("now", left !== null && left <= 0);
  }

  function tickAll() {
    document.querySelectorAll("[data-deadline]").forEach(tickOne);
  }

  // -- confirmation ---------------------------------------------------------------------------

  var dialog = document.getElementById("confirm");
  function confirmStep(text, label) {
    return new Promise(function (resolve) {
      document.getElementById("confirm-text").textContent = text;
      document.getElementById("confirm-ok").textContent = label;
      dialog.returnValue = "cancel";
      dialog.addEventListener("close", function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "confirm");
      });
      dialog.showModal();
      document.getElementById("confirm-cancel").focus(); // the safe choice is the default one
    });
  }

  // -- the acts (operator only; the API refuses a viewer anyway) --------------------------------

  function act(button, refresh) {
    if (button.getAttribute("aria-busy") === "true") return; // already asked: one act at a time
    var kind = button.dataset.act;
    var id = button.dataset.conversation;
    var step;
    if (kind === "close") {
      step = confirmStep(
        "Close conversation " + id + " now? It is read again first; if it still stands, the reaper " +
          "ends it on the platform the way its rule would, recorded under your name.",
        "Close now"
      ).then(function (yes) {
        if (!yes) return null;
        return api("POST", "/conversations/" + enc(id) + "/close").then(function (data) {
          return "Conversation " + id + ": " + data.decision + ", " + data.outcome +
            (data.reason ? " (" + data.reason + ")" : "") + ".";
        });
      });
    } else if (kind === "exempt") {
      var exempt = button.dataset.exempt !== "yes";
      step = confirmStep(
        exempt
          ? "Exempt conversation " + id + "? The reaper will leave it alone until the exemption is lifted."
          : "Lift the exemption of conversation " + id + "? Its rules apply to it again.",
        exempt ? "Exempt" : "Lift exemption"
      ).then(function (yes) {
        if (!yes) return null;
        return api("POST", "/conversations/" + enc(id) + "/exempt", { exempt: exempt }).then(function (data) {
          return "Conversation " + id + (data.exempt ? " is exempt." : ": exemption lifted.");
        });
      });
    } else if (kind === "approve" || kind === "reject") {
      var approve = kind === "approve";
      var decision = button.dataset.decision;
      step = confirmStep(
        approve
          ? "Approve closing conversation " + id + "? It is read again first and closed only if it still stands."
          : "Reject closing conversation " + id + "? It is left open.",
        approve ? "Approve" : "Reject"
      ).then(function (yes) {
        if (!yes) return null;
        return api("POST", "/pending/" + enc(decision), { approve: approve }).then(function (data) {
          return "Decision on " + id + ": " + data.status + (data.outcome ? ", " + data.outcome : "") + ".";
        });
      });
    } else {
      return;
    }
    // Busy, not disabled: a disabled button would drop the keyboard focus the dialog gives back.
    button.setAttribute("aria-busy", "true");
    step
      .then(function (text) {
        if (text) say(text, true);
      })
      .catch(function (error) {
        say("Not done: " + error.message, false);
      })
      .then(function () {
        button.removeAttribute("aria-busy");
        refresh();
      });
  }

  function actButton(kind, label, conversationId, css) {
    var button = el("button", { type: "button", "data-act": kind, "data-conversation": conversationId }, label);
    if (css) button.className = css;
    return button;
  }

  // -- the live view --------------------------------------------------------------------------

  function connected(participants) {
    var who = (participants || [])
      .filter(function (p) { return p.state === "connected"; })
      .map(function (p) { return p.purpose + (p.name ? " (" + p.name + ")" : ""); });
    return who.length ? who.join(", ") : "nobody";
  }

  // A row that goes (its conversation ended) must not take the keyboard's place with it: the focus
  // moves to the line that says what happened.
  function drop(tr) {
    var hadFocus = tr.contains(document.activeElement);
    tr.remove();
    if (hadFocus && outcome) outcome.focus();
  }

  function livePage() {
    var table = document.getElementById("live");
    var body = table.querySelector("tbody");
    var statusLine = document.getElementById("live-status");
    var emptyNote = document.getElementById("live-empty");
    var queueSelect = document.getElementById("filter-queue");
    var ruleSelect = document.getElementById("filter-rule");
    var orgSelect = document.getElementById("filter-org"); // only with [orgs] configured
    var rows = new Map();
    var pendingRows = new Map();
    var lastAnnounced = "";

    var params = new URLSearchParams(window.location.search);
    if (params.get("queue")) queueSelect.value = params.get("queue");
    if (params.get("rule")) ruleSelect.value = params.get("rule");
    if (orgSelect && params.get("org")) orgSelect.value = params.get("org");

    function filterQuery() {
      var query = new URLSearchParams();
      if (orgSelect && orgSelect.value) query.set("org", orgSelect.value);
      if (queueSelect.value) query.set("queue", queueSelect.value);
      if (ruleSelect.value) query.set("rule", ruleSelect.value);
      return query.toString() ? "?" + query.toString() : "";
    }

    function knowQueue(id, name) {
      if (!id) return;
      for (var i = 0; i < queueSelect.options.length; i++) {
        if (queueSelect.options[i].value === id) return;
      }
      queueSelect.appendChild(el("option", { value: id }, name || id));
    }

    function row(c) {
      var tr = rows.get(c.conversationId);
      if (!tr) {
        tr = el("tr", { "data-conversation": c.conversationId });
        var idCell = el("td", { class: "id" });
        idCell.appendChild(
          el("a", { href: ROOT + "/conversations/" + enc(c.conversationId) }, c.conversationId)
        );
        tr.appendChild(idCell);
        (orgSelect ? ["org", "queue", "rule", "reason", "connected"] : ["queue", "rule", "reason", "connected"]).forEach(function (name) {
          tr.appendChild(el("td", { "data-cell": name }));
        });
        tr.appendChild(el("td", { "data-cell": "countdown", class: "countdown" }));
        tr.appendChild(el("td", { "data-cell": "would" }));
        if (CAN_ACT) {
          var acts = el("td", { class: "actions" });
          var close = actButton("close", "Close now", c.conversationId, "danger");
          close.setAttribute("aria-label", "Close " + c.conversationId + " now");
          acts.appendChild(close);
          acts.appendChild(actButton("exempt", "Exempt", c.conversationId));
          tr.appendChild(acts);
        }
        rows.set(c.conversationId, tr);
      }
      var cell = function (name) { return tr.querySelector('[data-cell="' + name + '"]'); };
      if (orgSelect) setText(cell("org"), c.org || "—");
      setText(cell("queue"), c.queueName || c.queueId || "—");
      var ruleCell = cell("rule");
      setText(ruleCell, c.rule || "—");
      if (c.exempt) ruleCell.appendChild(el("span", { class: "tag exempt" }, "exempt"));
      if (c.pendingDecisionId) ruleCell.appendChild(el("span", { class: "tag pending" }, "waiting for approval"));
      setText(cell("reason"), c.reason || "");
      setText(cell("connected"), connected(c.participants));
      armCountdown(cell("countdown"), c.secondsUntilEligible);
      setText(cell("would"), c.wouldDo && c.wouldDo.length ? c.wouldDo.join(", ") : "nothing");
      var exemptButton = tr.querySelector('[data-act="exempt"]');
      if (exemptButton) {
        exemptButton.dataset.exempt = c.exempt ? "yes" : "no";
        setText(exemptButton, c.exempt ? "Lift exemption" : "Exempt");
        exemptButton.setAttribute("aria-label", (c.exempt ? "Lift the exemption of " : "Exempt ") + c.conversationId);
      }
      return tr;
    }

    function showConversations(data) {
      var seen = new Set();
      var previous = null;
      data.conversations.forEach(function (c) {
        knowQueue(c.queueId, c.queueName);
        seen.add(c.conversationId);
        var tr = row(c);
        var expected = previous ? previous.nextSibling : body.firstChild;
        if (tr !== expected) body.insertBefore(tr, expected); // moved only when out of place
        previous = tr;
      });
      rows.forEach(function (tr, id) {
        if (!seen.has(id)) {
          drop(tr);
          rows.delete(id);
        }
      });
      emptyNote.hidden = data.conversations.length > 0;
      var announced = data.conversations.length + " conversation" +
        (data.conversations.length === 1 ? "" : "s") + " in scope";
      if (announced !== lastAnnounced) {
        lastAnnounced = announced;
        setText(statusLine, announced + ", platform time " + when(data.now) + ".");
      }
      statusLine.dataset.updated = data.now || "";
    }

    function showPending(data) {
      var table = document.getElementById("pending");
      var tbody = table.querySelector("tbody");
      var seen = new Set();
      data.pending.forEach(function (p) {
        seen.add(p.decisionId);
        var tr = pendingRows.get(p.decisionId);
        if (!tr) {
          tr = el("tr", { "data-decision": p.decisionId, "data-conversation": p.conversationId });
          var idCell = el("td", { class: "id" });
          idCell.appendChild(el("a", { href: ROOT + "/conversations/" + enc(p.conversationId) }, p.conversationId));
          tr.appendChild(idCell);
          if (orgSelect) tr.appendChild(el("td", { "data-cell": "org" }, p.org || "—"));
          tr.appendChild(el("td", {}, p.rule));
          tr.appendChild(el("td", {}, p.reason));
          tr.appendChild(el("td", {}, when(p.createdAt)));
          tr.appendChild(el("td", {}, when(p.expiresAt)));
          if (CAN_ACT) {
            var acts = el("td", { class: "actions" });
            var approve = actButton("approve", "Approve", p.conversationId, "approve");
            approve.dataset.decision = p.decisionId;
            approve.setAttribute("aria-label", "Approve closing " + p.conversationId);
            var reject = actButton("reject", "Reject", p.conversationId);
            reject.dataset.decision = p.decisionId;
            reject.setAttribute("aria-label", "Reject closing " + p.conversationId);
            acts.appendChild(approve);
            acts.appendChild(reject);
            tr.appendChild(acts);
          }
          tbody.appendChild(tr);
          pendingRows.set(p.decisionId, tr);
        }
      });
      pendingRows.forEach(function (tr, id) {
        if (!seen.has(id)) {
          drop(tr);
          pendingRows.delete(id);
        }
      });
      table.hidden = data.pending.length === 0;
      document.getElementById("pending-empty").hidden = data.pending.length > 0;
    }

    var timer = null;
    function refresh() {
      window.clearTimeout(timer);
      var suffix = filterQuery();
      Promise.all([api("GET", "/conversations" + suffix), api("GET", "/pending")])
        .then(function (answers) {
          showConversations(answers[0]);
          showPending(answers[1]);
        })
        .catch(function (error) {
          lastAnnounced = "";
          setText(statusLine, "Cannot update: " + error.message + " (trying again).");
        })
        .then(function () {
          timer = window.setTimeout(refresh, POLL_MS);
        });
    }

    function filtered() {
      var suffix = filterQuery();
      window.history.replaceState(null, "", window.location.pathname + suffix);
      refresh();
    }
    queueSelect.addEventListener("change", filtered);
    ruleSelect.addEventListener("change", filtered);
    if (orgSelect) orgSelect.addEventListener("change", filtered);
    document.getElementById("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      filtered();
    });
    document.querySelector("main").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-act]");
      if (button) act(button, refresh);
    });
    refresh();
  }

  // -- one conversation -----------------------------------------------------------------------

  function conversationPage() {
    var id = script.dataset.conversation;
    var countdown = document.getElementById("fact-countdown");
    armCountdown(countdown, countdown.dataset.seconds);
    var timer = null;
    function refresh() {
      window.clearTimeout(timer);
      api("GET", "/conversations/" + enc(id))
        .then(function (c) {
          setText(document.getElementById("fact-rule"), c.rule || "none applies");
          setText(document.getElementById("fact-decision"), c.decision + (c.outcome ? " (" + c.outcome + ")" : ""));
          setText(document.getElementById("fact-reason"), c.reason || "");
          setText(document.getElementById("fact-would"), c.wouldDo && c.wouldDo.length ? c.wouldDo.join(", ") : "nothing");
          setText(document.getElementById("fact-exempt"), c.exempt ? "yes" : "no");
          armCountdown(countdown, c.secondsUntilEligible);
          var exemptButton = document.querySelector('#acts [data-act="exempt"]');
          if (exemptButton) {
            exemptButton.dataset.exempt = c.exempt ? "yes" : "no";
            setText(exemptButton, c.exempt ? "Lift exemption" : "Exempt");
          }
        })
        .catch(function (error) {
          if (error.status === 404) {
            setText(document.getElementById("fact-decision"), "no longer in scope (ended, or out of scope)");
            armCountdown(countdown, null);
          }
        })
        .then(function () {
          timer = window.setTimeout(refresh, POLL_MS);
        });
    }
    var acts = document.getElementById("acts");
    if (acts) {
      acts.querySelectorAll("button[data-act]").forEach(function (button) {
        button.dataset.conversation = id;
        if (button.dataset.act === "exempt") button.dataset.exempt = acts.dataset.exempt;
      });
      acts.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-act]");
        if (button) act(button, refresh);
      });
    }
    timer = window.setTimeout(refresh, POLL_MS);
  }

  window.setInterval(tickAll, 1000);
  if (PAGE === "live") livePage();
  else if (PAGE === "conversation") conversationPage();
})();
