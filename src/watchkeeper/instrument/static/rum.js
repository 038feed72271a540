/* watchkeeper real-user monitoring: page-load and API-call timings, reported by page.
 * Served by the watchkeeper SDK; include it with <script src="/_watchkeeper/rum.js" defer>.
 * Sends durations only (seconds) and the page's path: never URLs of API calls, query
 * strings, cookies or anything typed on the page. */
(function () {
  "use strict";
  var endpoint = "__WATCHKEEPER_RUM_ENDPOINT__";
  var MAX_API = 50; // the server rejects bigger batches
  var FLUSH_MS = 5000;
  var perf = window.performance;
  if (!perf || !perf.getEntriesByType || !window.fetch || !window.JSON) return;
  var api = [];
  var timer = null;
  var navSent = false;

  function seconds(ms) {
    return Math.round(ms) / 1000;
  }

  function send(body) {
    body.v = 1;
    body.page = location.pathname.slice(0, 2048); // the server's limit
    try {
      fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        keepalive: true,
        credentials: "same-origin"
      })["catch"](function () {});
    } catch (e) { /* monitoring must never break the page */ }
  }

  function takeApi() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    return api.splice(0, MAX_API);
  }

  function flushApi() {
    if (api.length) send({ api: takeApi() });
  }

  function onResource(entry) {
    if (entry.initiatorType !== "fetch" && entry.initiatorType !== "xmlhttprequest") return;
    var url;
    try {
      url = new URL(entry.name, location.href);
    } catch (e) {
      return;
    }
    // Same-origin calls only (the app's own API), and never our own beacons.
    if (url.origin !== location.origin || url.pathname === endpoint) return;
    if (!(entry.duration >= 0)) return;
    api.push(seconds(entry.duration));
    if (api.length >= MAX_API) flushApi();
    else if (timer === null) timer = setTimeout(flushApi, FLUSH_MS);
  }

  function sendNav() {
    if (navSent) return;
    var nav = perf.getEntriesByType("navigation")[0];
    if (!nav || !(nav.loadEventEnd > 0)) return;
    navSent = true;
    var body = { load: seconds(nav.loadEventEnd), ttfb: seconds(nav.responseStart) };
    if (api.length) body.api = takeApi(); // calls made during the load ride along
    send(body);
  }

  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(onResource);
    }).observe({ type: "resource", buffered: true });
  } catch (e) { /* no resource timing: page loads are still reported */ }

  // loadEventEnd is set once the load handlers return: read it on the next tick.
  if (document.readyState === "complete") setTimeout(sendNav, 0);
  else window.addEventListener("load", function () { setTimeout(sendNav, 0); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      sendNav();
      flushApi();
    }
  });
  window.addEventListener("pagehide", flushApi);
})();
