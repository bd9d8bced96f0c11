// The ranking table's filter and its chart. Typing in #filter keeps the rows whose method and
// parameters (data-filter) contain every word typed; ?filter=words in the URL fills it on load.
// The PSP chart (an inline matplotlib SVG) follows the table: after every sort or filter, each
// row's bar group (data-group -> <g id="xmcbench-{bar,value,tick}-N...">) moves to the row's
// place among the visible rows, data-pitch user units per place; hidden rows hide their bars.
(function () {
  "use strict";
  var table = document.getElementById("board");
  if (!table) { return; }
  var input = document.getElementById("filter");
  var count = document.getElementById("filter-count");
  var figure = document.getElementById(table.getAttribute("data-chart") || "");
  var svg = figure ? figure.querySelector("svg") : null;
  var pitch = svg ? parseFloat(svg.getAttribute("data-pitch")) : NaN;
  var parts = {};
  if (svg) {
    svg.querySelectorAll("g[id^='xmcbench-']").forEach(function (g) {
      var match = /^xmcbench-(?:bar|value|tick)-(\d+)/.exec(g.id);
      if (match) { (parts[match[1]] = parts[match[1]] || []).push(g); }
    });
  }
  function rows() { return Array.prototype.slice.call(table.tBodies[0].rows); }
  function layout() {
    if (isNaN(pitch)) { return; }
    var place = 0;
    rows().forEach(function (row) {
      var group = row.getAttribute("data-group");
      if (group === null || !parts[group]) { return; }
      var shift = (place - Number(group)) * pitch;
      parts[group].forEach(function (g) {
        g.setAttribute("transform", "translate(0 " + shift.toFixed(3) + ")");
        g.style.display = row.hidden ? "none" : "";
      });
      if (!row.hidden) { place += 1; }
    });
    table.setAttribute("data-chart-order", rows().filter(function (row) {
      return !row.hidden && row.getAttribute("data-group") !== null;
    }).map(function (row) { return row.getAttribute("data-group"); }).join(","));
  }
  function applyFilter() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var all = rows(), shown = 0;
    all.forEach(function (row) {
      var text = row.getAttribute("data-filter") || row.textContent.toLowerCase();
      var keep = words.every(function (word) { return text.indexOf(word) !== -1; });
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + all.length + " configurations"; }
    layout();
  }
  table.addEventListener("xmcbench:sorted", layout);
  if (input) {
    input.addEventListener("input", applyFilter);
    var wanted = /[?&]filter=([^&]*)/.exec(location.search);
    if (wanted) { input.value = decodeURIComponent(wanted[1].replace(/\+/g, " ")); }
    applyFilter();
  } else {
    layout();
  }
})();
