/**
 * GET /: a status page a person can look at. One self-contained HTML document
 * (no CDN, no build step, no external file): it polls /stats and /bloom/stats
 * every POLL_MS and draws its line charts by hand on <canvas>.
 *
 * Every chart canvas carries `data-points` (the samples drawn so far), which
 * the headless-browser test reads to check that charts are drawn with data.
 */

/** How often the page polls, in ms. */
export const STATUS_POLL_MS = 2000;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bloomgate status</title>
<link rel="icon" href="data:,">
<style>
  :root { color-scheme: light dark; --fg: #1d2330; --muted: #667; --bg: #f6f7f9; --card: #fff; --grid: #e3e6eb; }
  @media (prefers-color-scheme: dark) { :root { --fg: #e6e8ee; --muted: #99a; --bg: #14171d; --card: #1d2129; --grid: #2c313b; } }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
  header { padding: 12px 20px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  h1 { font-size: 18px; margin: 0; }
  .kv { color: var(--muted); } .kv b { color: var(--fg); font-weight: 600; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 14px; padding: 0 20px 20px; }
  section { background: var(--card); border-radius: 8px; padding: 10px 12px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 13px; margin: 0 0 6px; font-weight: 600; }
  canvas { width: 100%; height: 170px; display: block; }
  .legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; color: var(--muted); margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; }
  #error { color: #c0392b; }
</style>
</head>
<body>
<header>
  <h1>bloomgate</h1>
  <span class="kv">items <b id="items">-</b> / capacity <b id="capacity">-</b></span>
  <span class="kv">stale <b id="stale">-</b></span>
  <span class="kv">rebuild <b id="rebuild">-</b></span>
  <span class="kv">snapshot <b id="snapshot">-</b></span>
  <span class="kv">updated <b id="updated">never</b></span>
  <span id="error"></span>
</header>
<main>
  <section><h2>Lookups per second by outcome</h2><canvas id="c-lookups" data-points="0"></canvas><div class="legend" id="l-lookups"></div></section>
  <section><h2>Database round trips avoided (share of lookups)</h2><canvas id="c-avoided" data-points="0"></canvas><div class="legend" id="l-avoided"></div></section>
  <section><h2>Fill ratio (bits set / bits)</h2><canvas id="c-fill" data-points="0"></canvas><div class="legend" id="l-fill"></div></section>
  <section><h2>False-positive rate: observed (60 s) vs target vs estimated</h2><canvas id="c-fpr" data-points="0"></canvas><div class="legend" id="l-fpr"></div></section>
  <section><h2>Items vs capacity</h2><canvas id="c-items" data-points="0"></canvas><div class="legend" id="l-items"></div></section>
  <section><h2>Rebuilds (completed) and progress</h2><canvas id="c-rebuilds" data-points="0"></canvas><div class="legend" id="l-rebuilds"></div></section>
</main>
<script>
"use strict";
(function () {
  var POLL_MS = ${STATUS_POLL_MS};
  var MAX_POINTS = 150;
  var COLORS = ["#2e86de", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085"];
  var history = [];
  var previous = null;

  var charts = {
    lookups: { series: [["bloom_rejected", "filter rejected"], ["negative_cache_hit", "negative cache"], ["cache_hit", "cache hit"], ["db_hit", "db hit"], ["db_miss", "db miss (false positive)"]], format: fmtNum },
    avoided: { series: [["avoided", "round trips avoided"]], format: fmtPct, max: 1 },
    fill: { series: [["fill", "fill ratio"]], format: fmtPct },
    fpr: { series: [["observed", "observed (60 s)"], ["target", "target"], ["estimated", "estimated from fill"]], format: fmtPct },
    items: { series: [["items", "items"], ["capacity", "capacity"], ["stale", "stale"]], format: fmtNum },
    rebuilds: { series: [["rebuilds", "completed"], ["progress", "progress of the running one (x100%)"]], format: fmtNum }
  };

  function fmtNum(v) { return v >= 1e6 ? (v / 1e6).toFixed(2) + "M" : v >= 1e3 ? (v / 1e3).toFixed(1) + "k" : String(Math.round(v * 100) / 100); }
  function fmtPct(v) { return (v * 100).toFixed(v < 0.01 ? 3 : 1) + "%"; }

  function legend(name) {
    var el = document.getElementById("l-" + name);
    var last = history[history.length - 1];
    el.textContent = "";
    charts[name].series.forEach(function (s, i) {
      var span = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = COLORS[i % COLORS.length];
      span.appendChild(swatch);
      var v = last ? last[s[0]] : null;
      span.appendChild(document.createTextNode(s[1] + (v === null || v === undefined ? "" : ": " + charts[name].format(v))));
      el.appendChild(span);
    });
  }

  function draw(name) {
    var chart = charts[name];
    var canvas = document.getElementById("c-" + name);
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var style = getComputedStyle(document.documentElement);
    var left = 56, right = 8, top = 8, bottom = 18;
    var max = chart.max || 0;
    history.forEach(function (p) { chart.series.forEach(function (s) { var v = p[s[0]]; if (typeof v === "number" && v > max) max = v; }); });
    if (max <= 0) max = 1;
    max *= chart.max ? 1 : 1.1;
    ctx.strokeStyle = style.getPropertyValue("--grid"); ctx.fillStyle = style.getPropertyValue("--muted");
    ctx.lineWidth = 1; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (var g = 0; g <= 4; g++) {
      var gy = top + (h - top - bottom) * (1 - g / 4);
      ctx.beginPath(); ctx.moveTo(left, gy); ctx.lineTo(w - right, gy); ctx.stroke();
      ctx.fillText(chart.format(max * g / 4), left - 4, gy);
    }
    ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
    ctx.fillText(Math.round(history.length * POLL_MS / 1000) + " s", left, h - 4);
    var n = history.length;
    // Points spread over the whole width until the history is full, then scroll.
    var x = function (i) { return left + (w - left - right) * (n <= 1 ? 1 : i / (n - 1)); };
    var y = function (v) { return top + (h - top - bottom) * (1 - v / max); };
    chart.series.forEach(function (s, si) {
      ctx.strokeStyle = COLORS[si % COLORS.length]; ctx.lineWidth = 2; ctx.beginPath();
      var started = false;
      history.forEach(function (p, i) {
        var v = p[s[0]];
        if (typeof v !== "number") return;
        if (!started) { ctx.moveTo(x(i), y(v)); started = true; } else ctx.lineTo(x(i), y(v));
      });
      if (n === 1 && started) ctx.lineTo(x(0) - 4, y(history[0][s[0]]));
      ctx.stroke();
    });
    canvas.setAttribute("data-points", String(n));
    legend(name);
  }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function sample(stats, bloom) {
    var now = Date.now();
    var point = {
      avoided: stats.db_roundtrip_reduction,
      fill: bloom.fill_ratio,
      observed: bloom.observed_fpr && bloom.observed_fpr.window !== null ? bloom.observed_fpr.window : null,
      target: bloom.target_fpr,
      estimated: bloom.estimated_fpr,
      items: bloom.items,
      capacity: bloom.capacity,
      stale: bloom.stale_items,
      rebuilds: bloom.rebuild ? bloom.rebuild.completed : 0,
      progress: bloom.rebuild && bloom.rebuild.running ? bloom.rebuild.progress : 0
    };
    charts.lookups.series.forEach(function (s) {
      var key = s[0];
      point[key] = previous ? Math.max(0, (stats[key] - previous.stats[key]) / ((now - previous.at) / 1000)) : 0;
    });
    previous = { at: now, stats: stats };
    history.push(point);
    if (history.length > MAX_POINTS) history.shift();
    setText("items", fmtNum(bloom.items)); setText("capacity", fmtNum(bloom.capacity)); setText("stale", fmtNum(bloom.stale_items || 0));
    var r = bloom.rebuild;
    setText("rebuild", !r ? "-" : r.running ? "running " + Math.round(r.progress * 100) + "%" : r.last ? "last: " + r.last.reason + (r.last.ok ? " ok" : " failed") : "none yet");
    setText("snapshot", bloom.snapshot && bloom.snapshot.last_saved_at ? new Date(bloom.snapshot.last_saved_at).toLocaleTimeString() : "not yet");
    setText("updated", new Date(now).toLocaleTimeString());
    Object.keys(charts).forEach(draw);
  }

  function get(path) {
    return fetch(path, { cache: "no-store" }).then(function (res) {
      if (!res.ok) throw new Error(path + " answered " + res.status);
      return res.json();
    });
  }

  function poll() {
    Promise.all([get("/stats"), get("/bloom/stats")]).then(function (both) {
      setText("error", "");
      sample(both[0], both[1]);
    }, function (err) {
      setText("error", "cannot reach the service: " + err.message);
    }).then(function () { setTimeout(poll, POLL_MS); });
  }

  window.addEventListener("resize", function () { Object.keys(charts).forEach(draw); });
  poll();
})();
</script>
</body>
</html>
`;
