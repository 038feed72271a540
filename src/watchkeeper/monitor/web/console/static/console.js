// watchkeeper console: draws the charts whose data the page carries inline
// (<script type="application/json" id="chart-data">) with the vendored uPlot,
// keeps the time-range form in the URL, and refreshes live views.
(function () {
  "use strict";

  var PALETTE = ["#3b82f6", "#ef4444", "#10b981", "#f59e0b", "#8b5cf6", "#06b6d4",
    "#ec4899", "#84cc16", "#f97316", "#6366f1", "#14b8a6", "#a855f7"];

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // Each formatter takes the significant digits (p, 3 by default): axis ticks ask
  // for more until neighbouring ticks read differently.
  function fmtNumber(v, p) {
    if (v == null || !isFinite(v)) return "–";
    p = p || 3;
    var a = Math.abs(v);
    var units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0]) return +(v / units[i][0]).toPrecision(p) + units[i][1];
    }
    if (a === 0 || a >= 0.01) return String(+v.toPrecision(p));
    if (a >= 1e-3) return +(v * 1e3).toPrecision(p) + "m";
    return +(v * 1e6).toPrecision(p) + "µ";
  }

  function fmtDuration(v, p) {
    if (v == null || !isFinite(v)) return "–";
    p = p || 3;
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 1e-3) return +(v * 1e6).toPrecision(p) + "µs";
    if (a < 1) return +(v * 1e3).toPrecision(p) + "ms";
    if (a < 60) return +v.toPrecision(p) + "s";
    if (a < 3600) return +(v / 60).toPrecision(p) + "m";
    return +(v / 3600).toPrecision(p) + "h";
  }

  function fmtBytes(v, p) {
    if (v == null || !isFinite(v)) return "–";
    p = p || 3;
    var units = [[1099511627776, "TiB"], [1073741824, "GiB"], [1048576, "MiB"], [1024, "KiB"]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(v) >= units[i][0]) return +(v / units[i][0]).toPrecision(p) + " " + units[i][1];
    }
    return Math.round(v) + " B";
  }

  function formatter(unit) {
    switch (unit) {
      case "s": return fmtDuration;
      case "%": return function (v, p) { return v == null ? "–" : +(v * 100).toPrecision(p || 3) + "%"; };
      case "B": return fmtBytes;
      case "reqps": return function (v, p) { return v == null ? "–" : fmtNumber(v, p) + "/s"; };
      case "$": return function (v, p) { return v == null ? "–" : "$" + fmtNumber(v, p); };
      default: return fmtNumber;
    }
  }

  function ticks(fmt) {
    return function (u, vals) {
      var out = vals.map(function (v) { return fmt(v); });
      for (var p = 4; p <= 7; p++) {
        var distinct = out.filter(function (t, i) { return out.indexOf(t) === i; }).length;
        if (distinct === out.length) break;
        out = vals.map(function (v) { return fmt(v, p); });
      }
      return out;
    };
  }

  var charts = [];
  window.__watchkeeperCharts = charts; // read by the browser tests

  function draw(el, spec) {
    var spark = el.classList.contains("spark-chart");
    var fmt = formatter(spec.unit);
    var axisColor = cssVar("--muted") || "#888";
    var gridColor = cssVar("--grid") || "rgba(128,128,128,0.2)";
    var series = [{}];
    for (var i = 0; i < spec.labels.length; i++) {
      var color = PALETTE[i % PALETTE.length];
      series.push({
        label: spec.labels[i],
        stroke: color,
        width: spark ? 1.5 : 1.25,
        fill: spark ? color + "22" : undefined,
        spanGaps: false,
        points: { show: false },
        value: function (u, v) { return fmt(v); }
      });
    }
    var width = Math.max(el.clientWidth, 80);
    var opts = {
      width: width,
      height: spark ? 44 : 220,
      series: series,
      legend: { show: !spark, live: true },
      cursor: spark ? { show: false } : { points: { size: 5 } },
      scales: { x: { time: true } },
      axes: spark ? [{ show: false }, { show: false }] : [
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor },
          size: 76, values: ticks(fmt) }
      ]
    };
    var plot = new uPlot(opts, spec.data, el);
    plot.__key = el.getAttribute("data-chart");
    charts.push(plot);
  }

  function drawAll() {
    var node = document.getElementById("chart-data");
    if (!node) return;
    var data = JSON.parse(node.textContent || "{}");
    var els = document.querySelectorAll(".chart[data-chart]");
    for (var i = 0; i < els.length; i++) {
      var spec = data[els[i].getAttribute("data-chart")];
      if (spec && spec.labels && spec.labels.length) draw(els[i], spec);
    }
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        charts.forEach(function (u) {
          var parent = u.root.parentNode;
          if (parent) u.setSize({ width: Math.max(parent.clientWidth, 80), height: u.height });
        });
      }, 150);
    });
  }

  function wireForms() {
    var selects = document.querySelectorAll("select[data-autosubmit]");
    for (var i = 0; i < selects.length; i++) {
      selects[i].addEventListener("change", function (e) { e.target.form.submit(); });
    }
    // Explore: evaluate at one point per pixel of the chart's actual width.
    var width = document.querySelector("input[data-width]");
    var main = document.querySelector("main");
    if (width && main) width.value = String(Math.max(Math.round(main.clientWidth), 100));
  }

  function autoRefresh() {
    var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (!seconds) return;
    var due = Date.now() + seconds * 1000;
    setInterval(function () {
      // Not while the tab is hidden or a form is being edited.
      var active = document.activeElement;
      var editing = active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT");
      if (Date.now() >= due && !document.hidden && !editing) location.reload();
    }, 1000);
  }

  function start() {
    wireForms();
    if (typeof uPlot === "undefined") {
      console.error("watchkeeper: uPlot failed to load");
      return;
    }
    drawAll();
    autoRefresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
