// frontdesk status page: polls GET /status once a second, keeps a short history in the
// browser, and draws each figure as inline SVG. No framework, no build step.
"use strict";
(function () {
  // Once a second, or twice per health-check interval when checks run faster, so a
  // server going down shows within its interval (plus half of one at most).
  let pollMs = 1000;
  const KEEP = 120; // samples kept per series (two minutes at one a second)
  const token = new URLSearchParams(location.search).get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const series = { rate: [], p50: [], p99: [], hit: [], c2: [], c4: [], c5: [] };
  const states = new Map(); // "pool server" -> states seen by polling, oldest first
  const restarts = new Map(); // "app instance" -> restart counts seen
  let previous = null;

  function push(list, value) {
    list.push(value);
    if (list.length > KEEP) list.shift();
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgPath(values, max, cls) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    if (cls) path.setAttribute("class", cls);
    const n = values.length;
    const top = max > 0 ? max : 1;
    let d = "";
    values.forEach(function (v, i) {
      const x = 120 - ((n - 1 - i) * 120) / (KEEP - 1); // newest at the right edge
      const y = v === null ? 32 : 31 - (Math.min(v, top) / top) * 30;
      d += (i ? " L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    });
    path.setAttribute("d", d || "M0 32");
    return path;
  }

  function spark(id, lists, classes) {
    const svg = document.querySelector("#" + id + " svg");
    const max = Math.max(0, ...lists.flat().filter((v) => v !== null));
    svg.replaceChildren(...lists.map((l, i) => svgPath(l, max, classes && classes[i])));
  }

  function value(id, text) {
    document.querySelector("#" + id + " .value").textContent = text;
  }

  // The q-quantile of per-bucket counts, interpolated in its bucket (as Prometheus).
  function quantile(buckets, bounds, q) {
    const total = buckets.reduce((a, b) => a + b, 0);
    if (!total) return null;
    const rank = q * total;
    let seen = 0;
    for (let i = 0; i < buckets.length; i++) {
      const n = buckets[i];
      if (n && seen + n >= rank) {
        if (i >= bounds.length) return bounds[bounds.length - 1];
        const lower = i ? bounds[i - 1] : 0;
        return lower + ((bounds[i] - lower) * (rank - seen)) / n;
      }
      seen += n;
    }
    return bounds[bounds.length - 1];
  }

  function ms(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    return seconds < 0.001 ? (seconds * 1e6).toFixed(0) + " µs" : (seconds * 1000).toFixed(1) + " ms";
  }

  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(1) + " MB";
  }

  function ago(t) {
    if (!t) return "–";
    const s = Math.max(0, Date.now() / 1000 - t);
    return s < 60 ? s.toFixed(0) + " s ago" : (s / 60).toFixed(0) + " min ago";
  }

  function word(stateCounts) {
    const names = Object.keys(stateCounts);
    return names.length === 1 ? names[0] : "mixed";
  }

  function historySvg(marks) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "history");
    svg.setAttribute("viewBox", "0 0 120 14");
    const w = 120 / 30;
    const shown = marks.slice(-30);
    shown.forEach(function (m, i) {
      const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      r.setAttribute("x", ((30 - shown.length + i) * w).toFixed(1)); // newest at the right
      r.setAttribute("y", "1");
      r.setAttribute("width", (w - 0.8).toFixed(1));
      r.setAttribute("height", "12");
      r.setAttribute("class", m);
      svg.appendChild(r);
    });
    return svg;
  }

  function traffic(now) {
    const t = now.traffic;
    if (previous) {
      const p = previous.traffic;
      const dt = Math.max(0.001, t.time - p.time);
      const delta = t.latency_buckets.map((v, i) => v - p.latency_buckets[i]);
      push(series.rate, (t.requests - p.requests) / dt);
      push(series.p50, quantile(delta, t.bounds, 0.5));
      push(series.p99, quantile(delta, t.bounds, 0.99));
      push(series.c2, (t.by_class["2xx"] + t.by_class["3xx"] - p.by_class["2xx"] - p.by_class["3xx"]) / dt);
      push(series.c4, (t.by_class["4xx"] - p.by_class["4xx"]) / dt);
      push(series.c5, (t.by_class["5xx"] - p.by_class["5xx"]) / dt);
    }
    const last = (l) => (l.length ? l[l.length - 1] : null);
    value("tile-rate", last(series.rate) === null ? "–" : last(series.rate).toFixed(1));
    spark("tile-rate", [series.rate]);
    const c = t.by_class;
    value("tile-codes", "2xx " + c["2xx"] + " · 3xx " + c["3xx"] + " · 4xx " + c["4xx"] + " · 5xx " + c["5xx"]);
    spark("tile-codes", [series.c2, series.c4, series.c5], ["", "p99", "c5"]);
    value("tile-latency", ms(last(series.p50)) + " / " + ms(last(series.p99)));
    spark("tile-latency", [series.p50, series.p99], ["", "p99"]);
  }

  function caches(now) {
    let hits = 0, lookups = 0;
    const rows = [];
    for (const c of now.caches) {
      hits += c.hits;
      lookups += c.hits + c.misses;
      for (const t of c.tiers) {
        const tr = el("tr", { "data-cache": c.cache, "data-tier": t.name });
        tr.append(el("td", {}, c.cache), el("td", {}, t.name + (t.up ? "" : " (down)")),
          el("td", {}, String(t.entries)), el("td", {}, bytes(t.bytes)),
          el("td", {}, t.hit_ratio === null ? "–" : (100 * t.hit_ratio).toFixed(1) + "%"));
        rows.push(tr);
      }
    }
    push(series.hit, lookups ? hits / lookups : null);
    value("tile-cache", lookups ? ((100 * hits) / lookups).toFixed(1) + "%" : "–");
    spark("tile-cache", [series.hit]);
    fill("#caches", rows, 5, "no cache configured");
  }

  function fill(selector, rows, columns, empty) {
    const body = document.querySelector(selector + " tbody");
    if (!rows.length) {
      const tr = el("tr", { class: "empty" });
      tr.append(el("td", { colspan: String(columns) }, empty));
      rows = [tr];
    }
    body.replaceChildren(...rows);
  }

  function backends(now) {
    const rows = [];
    for (const pool of now.pools) {
      for (const s of pool.servers) {
        const key = pool.pool + " " + s.server;
        const state = word(s.states);
        const seen = states.get(key) || [];
        seen.push(state === "up" ? "up" : state === "down" ? "down" : "other");
        if (seen.length > KEEP) seen.shift();
        states.set(key, seen);
        // Active checks give the real history; without them, the states polled here.
        const marks = s.health && s.health.length ? s.health.map((h) => (h.passed ? "up" : "down")) : seen;
        const tr = el("tr", { "data-pool": pool.pool, "data-server": s.server });
        const check = s.last_check;
        tr.append(
          el("td", {}, pool.pool),
          el("td", {}, s.server),
          el("td", { class: "state", "data-state": state }, state),
          el("td", {}, String(s.in_flight)),
          el("td", {}, s.latency_ewma ? ms(s.latency_ewma) : "–"),
          el("td", {}, String(s.ejections)),
          el("td", { title: check ? check.detail : "" }, check ? (check.passed ? "pass " : "fail ") + ago(check.time) : "–"),
        );
        const cell = el("td", { class: "history" });
        cell.appendChild(historySvg(marks));
        tr.appendChild(cell);
        rows.push(tr);
      }
    }
    fill("#backends", rows, 8, "no proxy pool configured");
  }

  function apps(now) {
    const rows = [];
    for (const i of now.apps || []) {
      const seen = restarts.get(i.instance) || [];
      seen.push(i.restarts);
      if (seen.length > KEEP) seen.shift();
      restarts.set(i.instance, seen);
      const tr = el("tr", { "data-app": i.app, "data-instance": i.instance });
      tr.append(el("td", {}, i.app), el("td", {}, i.instance + " · " + i.address),
        el("td", {}, i.pid === null ? "–" : String(i.pid)),
        el("td", { class: "state", "data-state": i.state }, i.state), el("td", { class: "restarts" }, String(i.restarts)));
      const cell = el("td");
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("class", "spark");
      svg.setAttribute("viewBox", "0 0 120 32");
      svg.setAttribute("preserveAspectRatio", "none");
      svg.appendChild(svgPath(seen, Math.max(1, ...seen)));
      cell.appendChild(svg);
      tr.appendChild(cell);
      rows.push(tr);
    }
    fill("#apps", rows, 6, "no app processes configured");
  }

  function summary(now) {
    const up = now.workers.filter((w) => !w.error).length;
    document.getElementById("summary").textContent =
      "v" + now.version + " · up " + Math.round(now.uptime) + " s · generation " + now.generation +
      " · " + up + " worker(s) · " + now.totals.connections + " connections · " + now.listen.join(", ");
  }

  async function poll() {
    const problem = document.getElementById("problem");
    try {
      const resp = await fetch("status" + (token ? "?token=" + encodeURIComponent(token) : ""), { headers: headers, cache: "no-store" });
      if (!resp.ok) throw new Error("admin API answered " + resp.status);
      const now = await resp.json();
      summary(now);
      traffic(now);
      caches(now);
      backends(now);
      apps(now);
      previous = now;
      const intervals = now.pools.map((p) => p.health_interval).filter((i) => i);
      pollMs = Math.max(250, Math.min(1000, ...intervals.map((i) => (i * 1000) / 2)));
      problem.hidden = true;
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    } catch (err) {
      problem.textContent = "cannot reach the admin API (" + err.message + "); retrying";
      problem.hidden = false;
    }
    setTimeout(poll, pollMs);
  }

  poll();
})();
