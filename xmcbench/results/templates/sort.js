// Sorting: click a column header (or press Enter on it) to sort by it, numbers best-first, again
// to reverse; missing values stay last. #sort=<key> or #sort=<key>:asc|desc in the URL clicks
// that header on load, so a sorted view can be linked (and checked headlessly).
(function () {
  "use strict";
  function value(cell, numeric) {
    var raw = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent.trim();
    if (!numeric) { return raw.toLowerCase(); }
    var x = parseFloat(raw);
    return isNaN(x) ? null : x;
  }
  function sortTable(table, col, direction) {
    var head = table.tHead.rows[0], th = head.cells[col];
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var sign = direction === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = value(a.cells[col], numeric), y = value(b.cells[col], numeric);
      if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
      return x < y ? -sign : (x > y ? sign : 0);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(head.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction);
    table.setAttribute("data-sorted", th.getAttribute("data-key") + ":" + direction);
    table.dispatchEvent(new CustomEvent("xmcbench:sorted"));  // the chart follows (board.js)
  }
  function onClick(event) {
    var th = event.currentTarget, current = th.getAttribute("aria-sort");
    var first = th.getAttribute("data-type") === "num" ? "descending" : "ascending";
    var direction = current ? (current === "ascending" ? "descending" : "ascending") : first;
    sortTable(th.closest("table"), th.cellIndex, direction);
  }
  function fromHash() {
    var match = /^#sort=([^:]+)(?::(asc|desc))?$/.exec(decodeURIComponent(location.hash));
    if (!match) { return; }
    var heads = document.querySelectorAll("table.sortable thead th");
    var th = Array.prototype.filter.call(heads, function (h) {
      return h.getAttribute("data-key") === match[1];
    })[0];
    if (!th) { return; }
    th.click();
    var wanted = { asc: "ascending", desc: "descending" }[match[2]];
    if (wanted && th.getAttribute("aria-sort") !== wanted) { th.click(); }
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", onClick);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { th.click(); } });
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
