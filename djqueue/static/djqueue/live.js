/* djqueue's live overview: every few seconds while the tab is shown, ask
   the overview's JSON (data-djq-live) and put its counts, figures and
   charts in place. Without this script the page is the same, static. */
(function () {
  "use strict";
  var root = document.querySelector("[data-djq-live]");
  if (!root || !window.fetch) { return; }
  var every = (parseFloat(root.getAttribute("data-djq-every")) || 5) * 1000;
  var timer = null;

  function each(scope, selector, action) {
    Array.prototype.forEach.call(scope.querySelectorAll(selector), action);
  }

  function show(selector, shown) {
    each(root, selector, function (element) { element.hidden = !shown; });
  }

  function swap(scope, selector, html) {
    var element = scope.querySelector(selector);
    if (element && html) { element.outerHTML = html; }
  }

  function update(data) {
    data.queues.forEach(function (queue) {
      var card = null;
      each(root, "[data-djq-queue]", function (element) {
        if (element.getAttribute("data-djq-queue") === queue.name) { card = element; }
      });
      if (!card) { return; }
      each(card, "[data-djq-count]", function (cell) {
        var count = queue.counts && queue.counts[cell.getAttribute("data-djq-count")];
        if (count !== undefined && count !== null) { cell.textContent = String(count); }
      });
      swap(card, "[data-djq-figures]", queue.figures_html);
      swap(card, "[data-djq-chart]", queue.chart_html);
    });
    each(root, "[data-djq-updated]", function (element) {
      element.textContent = data.taken_at_text;
      element.setAttribute("datetime", data.taken_at);
    });
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!document.hidden) { timer = window.setTimeout(refresh, every); }
  }

  function refresh() {
    var asked = { credentials: "same-origin", headers: { Accept: "application/json" } };
    window.fetch(root.getAttribute("data-djq-live"), asked)
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) { update(data); show("[data-djq-stale]", false); })
      .catch(function () { show("[data-djq-stale]", true); })
      .then(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { window.clearTimeout(timer); } else { refresh(); }
  });
  show("[data-djq-refreshing]", true);
  schedule();
}());
