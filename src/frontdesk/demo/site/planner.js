// frontdesk demo: the planner page. Plain JavaScript, no library, no build step.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let cities = [];          // [label, x, y, population], index = city id
let known = new Map();    // lower-cased label -> label, to check names before asking
let log = [];             // the answers so far, newest first
let slowest = 1;          // the longest answer time seen, for the bars (ms)

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

async function loadMap() {
  const res = await fetch("/api/map");
  if (!res.ok) throw new Error(`the map did not load (${res.status})`);
  const map = await res.json();
  cities = map.cities;
  known = new Map(cities.map(([label]) => [label.toLowerCase(), label]));
  const list = $("cities");
  for (const [label] of [...cities].sort((a, b) => a[0].localeCompare(b[0]))) {
    const option = document.createElement("option");
    option.value = label;
    list.appendChild(option);
  }
  const roads = $("roads");
  for (const [a, b] of map.roads) {
    el("line", { x1: cities[a][1], y1: cities[a][2], x2: cities[b][1], y2: cities[b][2] }, roads);
  }
  const towns = $("towns");
  for (const [label, x, y, population] of cities) {
    const dot = el("circle", { cx: x, cy: y, r: (1.1 + Math.sqrt(population) / 900).toFixed(2) }, towns);
    el("title", {}, dot).textContent = label;
  }
}

// RFC 9211: a list of caches, the last one nearest to us; "hit" is a parameter.
function cacheStatus(header) {
  if (!header) return { hit: false, text: "no Cache-Status header" };
  const last = header.split(",").pop().trim();
  const params = last.split(";").map((p) => p.trim());
  return { hit: params.includes("hit"), text: last };
}

function points(ids) {
  return ids.map((id) => `${cities[id][1]},${cities[id][2]}`).join(" ");
}

function drawRoute(answer) {
  const route = $("route"), alts = $("alternatives"), labels = $("labels");
  clear(route); clear(alts); clear(labels);
  for (const alt of answer.alternatives) {
    el("polyline", { points: points(alt.cities) }, alts);
  }
  el("polyline", { points: points(answer.route.cities) }, route);
  const ids = answer.route.cities;
  ids.forEach((id, i) => {
    const end = i === 0 || i === ids.length - 1;
    const dot = el("circle", { cx: cities[id][1], cy: cities[id][2], r: end ? 7 : 3.2, class: end ? "end" : "" }, route);
    el("title", {}, dot).textContent = cities[id][0];
  });
  for (const id of [ids[0], ids[ids.length - 1]]) {
    const [label, x, y] = cities[id];
    const right = x > 760;
    const text = el("text", { x: right ? x - 12 : x + 12, y: y < 30 ? y + 20 : y - 10, "text-anchor": right ? "end" : "start" }, labels);
    text.textContent = label;
  }
}

function showAnswer(answer, ms, res) {
  const status = cacheStatus(res.headers.get("Cache-Status"));
  const instance = res.headers.get("X-Planner-Instance") || "the planner";
  const timing = /dur=([\d.]+)/.exec(res.headers.get("Server-Timing") || "");
  const age = res.headers.get("Age");
  $("km").textContent = answer.route.km.toLocaleString("en-US");
  $("stops").textContent = String(answer.route.cities.length - 2);
  $("straight").textContent = answer.straight_km.toLocaleString("en-US");
  $("rank").textContent = `${answer.longer_than_percent}%`;
  $("rank-label").textContent = `of the ${answer.pairs.toLocaleString("en-US")} trips are shorter`;
  const badge = $("cache-badge");
  badge.textContent = status.hit ? "cache hit" : "miss";
  badge.className = `badge ${status.hit ? "hit" : "miss"}`;
  badge.dataset.status = status.hit ? "hit" : "miss";
  $("took").textContent = formatMs(ms);
  const computed = timing ? `${formatMs(Number(timing[1]))} of planning` : "planning";
  $("source").textContent = status.hit
    ? `from frontdesk's cache (stored ${age || 0} s ago; ${computed} by ${instance} saved)`
    : `computed by ${instance} (${computed})`;
  $("cache-status").textContent = `Cache-Status: ${status.text}`;
  $("result").hidden = false;
  addToLog(answer, ms, status.hit);
}

function addToLog(answer, ms, hit) {
  log.unshift({ what: `${answer.from.name} → ${answer.to.name}`, ms, hit });
  log = log.slice(0, 8);
  slowest = Math.max(slowest, ms);
  const list = $("log");
  clear(list);
  for (const entry of log) {
    const item = document.createElement("li");
    item.className = entry.hit ? "hit" : "miss";
    item.innerHTML = `<span class="what"></span><span><b></b> <span class="badge ${item.className}"></span></span><span class="bar"><i></i></span>`;
    item.querySelector(".what").textContent = entry.what;
    item.querySelector("b").textContent = formatMs(entry.ms);
    item.querySelector(".badge").textContent = entry.hit ? "hit" : "miss";
    item.querySelector(".bar i").style.width = `${(100 * entry.ms) / slowest}%`;
    list.appendChild(item);
  }
  $("log-empty").hidden = true;
}

function formatMs(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

async function plan(event) {
  if (event) event.preventDefault();
  const error = $("error");
  error.hidden = true;
  const names = [];
  for (const input of [$("from"), $("to")]) {
    const name = known.get(input.value.trim().replace(/\s+/g, " ").toLowerCase());
    if (!name) {
      error.textContent = `Unknown city "${input.value.trim()}": pick one from the suggestions.`;
      error.hidden = false;
      input.focus();
      return;
    }
    input.value = name;
    names.push(name);
  }
  const [from, to] = names;
  $("go").disabled = true;
  const url = `/api/route?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
  try {
    const started = performance.now();
    // "no-store": the browser neither keeps nor reuses its own copy, so every answer
    // shown is frontdesk's (a hit from its cache, or a miss computed by the planner).
    const res = await fetch(url, { cache: "no-store" });
    const answer = await res.json();
    const ms = performance.now() - started;
    if (!res.ok) throw new Error(answer.error || `the planner answered ${res.status}`);
    drawRoute(answer);
    showAnswer(answer, ms, res);
    history.replaceState(null, "", `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    $("go").disabled = false;
  }
}

function init() {
  $("route-form").addEventListener("submit", plan);
  $("swap").addEventListener("click", () => {
    [$("from").value, $("to").value] = [$("to").value, $("from").value];
  });
  for (const chip of document.querySelectorAll(".chip")) {
    chip.addEventListener("click", () => {
      $("from").value = chip.dataset.from;
      $("to").value = chip.dataset.to;
      plan();
    });
  }
  loadMap()
    .then(() => {
      const query = new URLSearchParams(location.search);
      if (query.get("from") && query.get("to")) {
        $("from").value = query.get("from");
        $("to").value = query.get("to");
        plan();
      }
    })
    .catch((err) => {
      $("error").textContent = err.message;
      $("error").hidden = false;
    });
}

document.addEventListener("DOMContentLoaded", init);
