// Tollgate console: CSRF header for htmx requests, the usage chart, copy buttons, confirmations.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (e) {
    var token = csrfToken();
    if (token) { e.detail.headers["x-csrf-token"] = token; }
  });

  if (window.htmx) {
    // Error pages (400, 404, 409, 503) are rendered pages too: show them rather than nothing.
    window.htmx.config.responseHandling = [{ code: "204", swap: false }, { code: ".*", swap: true }];
  }

  var palette = ["#0b5cad", "#d1495b", "#2e933c", "#edae49", "#7b2cbf", "#00798c", "#8d6a4f", "#666666"];

  function drawCharts(root) {
    if (!window.uPlot) { return; }
    (root || document).querySelectorAll("[data-usage]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      el.dataset.drawn = "1";
      var data = JSON.parse(el.dataset.usage);
      var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
      var axis = { stroke: dark ? "#a3a7b3" : "#5d6170", grid: { stroke: dark ? "#343842" : "#e3e5ea" } };
      var series = [{}];
      var columns = [data.days];
      data.series.forEach(function (s, i) {
        series.push({ label: s.label, stroke: palette[i % palette.length], width: 2, points: { show: true, size: 6 } });
        columns.push(s.values);
      });
      var width = Math.max(280, el.clientWidth || 600);
      new window.uPlot({ width: width, height: 240, series: series, axes: [axis, Object.assign({ label: "credits" }, axis)],
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } } }, columns, el);
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () { button.textContent = "Copied"; });
    }
  });

  document.addEventListener("submit", function (e) {
    var form = e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("htmx:load", function (e) { drawCharts(e.target); });
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
})();
