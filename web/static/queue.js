// The queue page: select-all, the merge confirmation, and live rows. Every second the page asks
// /queue/rows for its own filter and page, sending the ETag of what it shows; the server answers
// 304 while nothing changed, or the new rows, which replace the old ones (ticked rows stay ticked,
// new and changed rows are marked for a few seconds).
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table) return;
  var body = table.tBodies[0];
  var selectAll = document.getElementById("select-all");
  var bulk = document.getElementById("bulk");

  function boxes() {
    return body.querySelectorAll("input[type=checkbox][name=ids]");
  }

  if (selectAll) {
    selectAll.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = selectAll.checked; });
    });
  }
  if (bulk) {
    bulk.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (button && button.dataset.confirmMerge && !window.confirm(button.dataset.confirmMerge)) {
        event.preventDefault();
      }
    });
  }

  function rowKeys() {
    var keys = {};
    body.querySelectorAll("tr[data-ticket]").forEach(function (row) {
      keys[row.dataset.ticket] = row.dataset.updated;
    });
    return keys;
  }

  var etag = null;
  var busy = false;

  function apply(data) {
    var before = rowKeys();
    var ticked = {};
    boxes().forEach(function (box) { if (box.checked) ticked[box.value] = true; });
    body.innerHTML = data.html;
    boxes().forEach(function (box) { if (ticked[box.value]) box.checked = true; });
    body.querySelectorAll("tr[data-ticket]").forEach(function (row) {
      if (before[row.dataset.ticket] !== row.dataset.updated) {
        row.classList.add("fresh");
        window.setTimeout(function () { row.classList.remove("fresh"); }, 4000);
      }
    });
    var count = document.getElementById("queue-count");
    if (count) count.textContent = data.count;
    var pager = document.getElementById("pager");
    if (pager) {
      pager.textContent = "";
      if (data.next_url) {
        var link = document.createElement("a");
        link.href = data.next_url;
        link.id = "next-page";
        link.textContent = pager.dataset.nextLabel;
        pager.appendChild(link);
      }
    }
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    var headers = { "Accept": "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(table.dataset.rowsUrl + window.location.search, {
      headers: headers, credentials: "same-origin", cache: "no-store"
    }).then(function (response) {
      if (response.status === 304 || !response.ok) return null;
      var tag = response.headers.get("ETag");
      return response.json().then(function (data) {
        // The first answer describes what the page already shows.
        if (etag !== null) apply(data);
        etag = tag;
      });
    }).catch(function () { /* offline or logged out: try again next time */ })
      .finally(function () { busy = false; });
  }

  poll();
  window.setInterval(poll, 1000);
})();
