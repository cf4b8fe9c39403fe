// The live feed: new actions arrive as server-sent events (JSON lists of rows) and are put at the top of the
// table with textContent only (never as markup). The table keeps a bounded window of rows: older rows drop
// off, so an unbounded stream costs the page a constant amount of memory and work.
(function () {
  "use strict";
  var table = document.getElementById("live");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var windowSize = parseInt(table.getAttribute("data-window"), 10) || 500;
  var state = document.getElementById("live-state");
  var count = document.getElementById("live-count");
  var seenEl = document.getElementById("live-seen");
  var droppedEl = document.getElementById("live-dropped");
  var seen = 0, dropped = 0, serverDropped = 0, pending = [], scheduled = false;

  function cell(tr, text, label, cls) {
    var td = document.createElement("td");
    td.setAttribute("data-label", label);
    if (cls) { td.className = cls; }
    td.textContent = text == null ? "" : String(text);
    tr.appendChild(td);
    return td;
  }

  function rowFor(r) {
    var tr = document.createElement("tr");
    tr.className = "fresh";
    cell(tr, r.at, "at", "nowrap");
    cell(tr, r.store, "store", "nowrap");
    var td = document.createElement("td");
    td.className = "nowrap";
    td.setAttribute("data-label", "order");
    var a = document.createElement("a");
    a.href = "/orders/" + encodeURIComponent(r.order || "");
    a.textContent = r.order == null ? "" : String(r.order);
    td.appendChild(a);
    tr.appendChild(td);
    cell(tr, r.rule, "rule");
    cell(tr, r.what, "action");
    cell(tr, r.why, "why", "why");
    return tr;
  }

  function flush() {
    scheduled = false;
    var rows = pending;
    pending = [];
    if (rows.length > windowSize) { dropped += rows.length - windowSize; rows = rows.slice(rows.length - windowSize); }
    var frag = document.createDocumentFragment();
    for (var i = rows.length - 1; i >= 0; i--) { frag.appendChild(rowFor(rows[i])); }
    body.insertBefore(frag, body.firstChild);
    while (body.rows.length > windowSize) { body.deleteRow(body.rows.length - 1); }
    count.textContent = String(body.rows.length);
    seenEl.textContent = String(seen);
    droppedEl.textContent = String(dropped);
  }

  var source = new EventSource(table.getAttribute("data-stream"));
  source.onopen = function () { state.textContent = "live"; };
  source.onerror = function () { state.textContent = "reconnecting…"; };
  source.onmessage = function (ev) {
    var msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    var rows = msg.rows || [];
    seen += rows.length;
    if (msg.dropped) { dropped += msg.dropped; serverDropped += msg.dropped; }
    table.setAttribute("data-received", String(seen));
    table.setAttribute("data-server-dropped", String(serverDropped));
    for (var i = 0; i < rows.length; i++) { pending.push(rows[i]); }
    if (pending.length > windowSize * 2) { dropped += pending.length - windowSize; pending = pending.slice(pending.length - windowSize); }
    if (!scheduled) { scheduled = true; window.requestAnimationFrame(flush); }
  };
})();
