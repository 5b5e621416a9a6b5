// The scenario viewer: overview, histograms, scenario table, replays (side by side), run diff, WebM/PNG export.
// One page for both ways of opening results: served by `dask-runner view` (data asked from the server's JSON
// endpoints, one page or one replay at a time) and inlined in report.html (data embedded in the file). Only the
// data source differs (see makeSource). Plain JavaScript and canvas: no library, no network.
// window.__viewer exposes what is drawn (step, ego box in pixels, cursor positions...) for tests and debugging.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("viewer-config").textContent);
  const root = document.getElementById("viewer");
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  const AGENT_COLORS = ["#f4a261", "#8ab17d", "#e9c46a", "#999999"]; // vehicle, pedestrian, bicycle, static
  const LIGHT_COLORS = ["#2a9d48", "#e9c46a", "#d62828", "#999999"]; // green, yellow, red, unknown
  const TRACKS = [["speed", "speed m/s"], ["acceleration", "accel. m/s²"], ["jerk", "jerk m/s³"],
                  ["progress", "progress m"], ["ttc", "TTC s"]];
  const MARKER_COLORS = {no_ego_at_fault_collisions: "#d62728", drivable_area_compliance: "#9467bd",
                         driving_direction_compliance: "#8c564b", speed_limit_compliance: "#ff7f0e",
                         time_to_collision_within_bound: "#e377c2", ego_is_comfortable: "#17becf"};
  const LAYERS = ["map", "agents", "trajectory", "expert", "ego_path"];
  const FOLLOW_WIDTH_M = 90;
  const PANE_W = 560, PANE_H = 400, TRACK_H = 46, MARKER_ROW_H = 9, TRACK_LEFT = 86;

  const state = window.__viewer = {
    ready: false, run: 0, step: 0, playing: false, speed: 1, follow: false, framesDrawn: 0, panes: [],
    layers: Object.fromEntries(LAYERS.map(name => [name, true])),
    table: {filters: {}, sort: "score", descending: false, offset: 0, limit: 50, total: 0, rows: [], columns: []},
    tableRenders: 0, lastExport: null, errors: [],
  };

  // ---------------------------------------------------------------------------------------------- data
  function makeSource() {
    if (config.mode === "server") {
      const get = path => fetch(path).then(r => r.ok ? r.json() : r.text().then(t => { throw new Error(t); }));
      const qs = obj => Object.entries(obj).map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
      return {
        runs: () => get("api/runs"),
        scenarios: (run, q) => get(`api/runs/${run}/scenarios?` + qs({
          sort: q.sort || "", descending: q.descending ? 1 : 0, offset: q.offset, limit: q.limit,
          filters: JSON.stringify(q.filters)})),
        replay: (run, id) => get(`api/runs/${run}/replay?` + qs({id: id})),
        same: (run, id) => get(`api/runs/${run}/same?` + qs({id: id})),
        diff: (a, b, offset) => get("api/diff?" + qs({a: a, b: b, offset: offset || 0})),
      };
    }
    const data = JSON.parse(document.getElementById("viewer-data").textContent);
    const CONDITION = /^\s*(<=|>=|<|>|=)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*$/;
    const matches = (value, cond) => {
      const m = CONDITION.exec(cond);
      if (m && typeof value === "number") {
        const x = parseFloat(m[2]);
        return {"<": value < x, "<=": value <= x, ">": value > x, ">=": value >= x, "=": value === x}[m[1]];
      }
      if (m && value === null) { return false; }
      if (!m && cond.startsWith("=")) { return String(value) === cond.slice(1); }
      return String(value === null ? "" : value).toLowerCase().includes(cond.toLowerCase());
    };
    return {
      runs: () => Promise.resolve(data.runs.map(r => ({label: r.label, overview: r.overview, note: r.note}))),
      scenarios: (run, q) => {
        const r = data.runs[run];
        let rows = r.rows;
        for (const [column, cond] of Object.entries(q.filters)) {
          const i = r.columns.indexOf(column);
          if (i >= 0 && cond.trim()) { rows = rows.filter(row => matches(row[i], cond.trim())); }
        }
        const s = r.columns.indexOf(q.sort);
        if (s >= 0) {
          const sign = q.descending ? -1 : 1;
          rows = rows.map((row, k) => [row, k]).sort((a, b) => {
            const x = a[0][s], y = b[0][s];
            if (x === y) { return a[1] - b[1]; }
            if (x === null) { return 1; }
            if (y === null) { return -1; }
            return (x < y ? -1 : 1) * sign;
          }).map(pair => pair[0]);
        }
        return Promise.resolve({total: rows.length, offset: q.offset, columns: r.columns,
                                rows: rows.slice(q.offset, q.offset + q.limit)});
      },
      replay: (run, id) => {
        const r = data.runs[run];
        const found = r.replays[id];
        if (found) { return Promise.resolve(found); }
        const row = r.rows[r.columns.indexOf("runner_id") >= 0 ?
          r.rows.findIndex(x => x[r.columns.indexOf("runner_id")] === id) : -1];
        const c = name => row ? row[r.columns.indexOf(name)] : "";
        return Promise.resolve({runner_id: id, planner: c("planner"), scenario: c("scenario"), run: r.label,
          unavailable: "not embedded in this report.html (it holds a selection); see it with: " + r.view_command});
      },
      same: (run, id) => {
        const r = data.runs[run];
        const col = name => r.columns.indexOf(name);
        const row = r.rows.find(x => x[col("runner_id")] === id);
        if (!row) { return Promise.resolve([id]); }
        const others = r.rows.filter(x => x[col("log")] === row[col("log")] && x[col("scenario")] === row[col("scenario")]
                                          && x[col("runner_id")] !== id).map(x => x[col("runner_id")]);
        return Promise.resolve([id, ...others]);
      },
      diff: (a, b) => Promise.resolve(data.diffs[a + "-" + b]),
    };
  }
  const source = makeSource();

  // ------------------------------------------------------------------------------------------- helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "on") { for (const [ev, fn] of Object.entries(v)) { node.addEventListener(ev, fn); } }
      else if (k === "class") { node.className = v; }
      else { node.setAttribute(k, v); }
    }
    for (const child of children) {
      if (child !== null && child !== undefined) { node.append(child instanceof Node ? child : String(child)); }
    }
    return node;
  }
  const fmt = v => v === null || v === undefined ? "–" : typeof v === "number" ?
    (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v);
  const short = name => name.replace(/_/g, " ").replace("time to collision within bound", "ttc within bound")
    .replace("ego progress along expert route", "progress along route");

  // ------------------------------------------------------------------------------------------ overview
  function overviewSection(run) {
    const o = run.overview;
    const section = el("div", {id: "overview"});
    section.append(el("p", {}, `${o.scenarios} runners of ${o.planners.length} planner(s) in ${run.label}; ` +
                                `${o.failed} failed.`));
    if (run.note) { section.append(el("p", {class: "note"}, run.note)); }
    const metrics = ["score", ...o.metrics];
    const head = el("tr", {}, ...["planner", "scenario type", "runners", "failed", ...metrics.map(short)].map(
      (h, i) => el("th", {class: i < 2 ? "text" : ""}, h)));
    const body = el("tbody");
    for (const g of o.aggregates) {
      const cells = [el("td", {class: "text"}, g.planner), el("td", {class: "text"}, g.scenario_type),
                     el("td", {}, g.scenarios), el("td", {}, g.failed)];
      for (const m of metrics) {
        const v = g[m];
        cells.push(el("td", {class: v === null ? "" : v < 0.5 ? "bad" : v > 0.95 ? "good" : ""}, fmt(v)));
      }
      const tr = el("tr", {class: "clickable", on: {click: () => {
        state.table.filters = {planner: "=" + g.planner};
        if (g.scenario_type !== "all") { state.table.filters.scenario_type = "=" + g.scenario_type; }
        setFilters(state.table.filters);
      }}}, ...cells);
      body.append(tr);
    }
    section.append(el("div", {class: "scroll"}, el("table", {id: "aggregates"}, el("thead", {}, head), body)));
    const histograms = el("div", {class: "histograms", id: "histograms"});
    for (const m of metrics) { histograms.append(histogram(m, o.histograms[m], o.histogram_edges, o.planners)); }
    const legend = el("div", {class: "legend note"}, ...o.planners.map((p, k) =>
      el("span", {}, el("i", {style: "background:" + PALETTE[k % PALETTE.length]}), p)));
    section.append(el("h2", {}, "Histograms (score per scenario, 10 bins from 0 to 1)"), legend, histograms);
    return section;
  }

  function histogram(name, perPlanner, edges, planners) {
    const w = 230, h = 130, pad = 22;
    const canvas = el("canvas", {width: w, height: h, "data-metric": name});
    const ctx = canvas.getContext("2d");
    const bins = edges.length - 1;
    const max = Math.max(1, ...planners.flatMap(p => perPlanner[p] || []));
    const bw = (w - 2 * pad) / bins / Math.max(1, planners.length);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#222";
    ctx.fillText(short(name), 4, 11);
    planners.forEach((p, k) => {
      ctx.fillStyle = PALETTE[k % PALETTE.length];
      (perPlanner[p] || []).forEach((count, b) => {
        const bh = (h - 2 * pad) * count / max;
        ctx.fillRect(pad + (b * planners.length + k) * bw, h - pad - bh, Math.max(1, bw - 1), bh);
      });
    });
    ctx.fillStyle = "#666";
    ctx.fillText("0", pad - 3, h - 6);
    ctx.fillText("1", w - pad - 3, h - 6);
    ctx.fillText(String(max), 2, pad + 4);
    return canvas;
  }

  // --------------------------------------------------------------------------------------------- table
  let tableNode = null;
  function tableSection() {
    tableNode = el("div", {id: "scenario-table"});
    return tableNode;
  }
  function setFilters(filters) {
    state.table.filters = filters;
    state.table.offset = 0;
    return loadTable();
  }
  function loadTable() {
    const t = state.table;
    return source.scenarios(state.run, t).then(page => {
      t.total = page.total; t.rows = page.rows; t.columns = page.columns;
      renderTable();
      return page;
    });
  }
  function renderTable() {
    const t = state.table;
    const shown = t.columns.filter(c => c !== "runner_id");
    const index = name => t.columns.indexOf(name);
    const heads = shown.map(c => el("th", {class: ["planner", "scenario_type", "log", "scenario", "stage", "error"]
      .includes(c) ? "text" : "", "data-column": c, on: {click: () => {
        t.descending = t.sort === c ? !t.descending : false; t.sort = c; t.offset = 0; loadTable();
      }}}, short(c) + (t.sort === c ? (t.descending ? " ▼" : " ▲") : "")));
    const inputs = shown.map(c => {
      const input = el("input", {"data-filter": c, placeholder: ["planner", "scenario_type", "log", "scenario",
        "stage", "error", "succeeded"].includes(c) ? "text" : "<0.5"});
      input.value = t.filters[c] || "";
      input.addEventListener("change", () => { t.filters[c] = input.value; setFilters(t.filters); });
      return el("th", {}, input);
    });
    const body = el("tbody");
    for (const row of t.rows) {
      const id = row[index("runner_id")];
      const cells = shown.map(c => {
        const v = row[index(c)];
        const numeric = typeof v === "number" && !["duration"].includes(c);
        return el("td", {class: typeof v === "string" ? "text" : numeric ? (v < 0.5 ? "bad" : "") : ""}, fmt(v));
      });
      body.append(el("tr", {class: "clickable" + (row[index("succeeded")] === false ? " failed" : ""),
                            "data-runner": id, on: {click: () => openReplays([[state.run, id]])}}, ...cells));
    }
    const last = Math.min(t.offset + t.limit, t.total);
    const pager = el("div", {class: "bar"},
      el("button", {id: "page-prev", on: {click: () => { t.offset = Math.max(0, t.offset - t.limit); loadTable(); }}}, "◀"),
      el("span", {id: "page-info"}, `${t.total ? t.offset + 1 : 0}–${last} of ${t.total} (filters: text, =exact text, <0.5, >=1, =0)`),
      el("button", {id: "page-next", on: {click: () => { if (last < t.total) { t.offset += t.limit; loadTable(); } }}}, "▶"),
      el("button", {on: {click: () => setFilters({})}}, "clear filters"));
    tableNode.replaceChildren(pager, el("div", {class: "scroll"},
      el("table", {}, el("thead", {}, el("tr", {}, ...heads), el("tr", {}, ...inputs)), body)));
    state.tableRenders += 1;
  }

  // -------------------------------------------------------------------------------------------- replay
  let replayNode = null, controls = null, timer = null;
  function replaySection() {
    replayNode = el("div", {id: "replay"}, el("p", {class: "note"}, "Click a scenario in the table to replay it."));
    return replayNode;
  }

  function openReplays(pairs) {
    stop();
    return Promise.all(pairs.map(([run, id]) => source.replay(run, id).then(data => ({run: run, data: data}))))
      .then(loaded => {
        state.panes = loaded.map(({run, data}) => makePane(run, data));
        state.step = 0;
        renderReplayPanel();
        drawAll();
        replayNode.scrollIntoView({block: "start"});
        return state.panes.length;
      });
  }

  function makePane(run, data) {
    const pane = {run: run, data: data, runner_id: data.runner_id, unavailable: data.unavailable || null};
    if (pane.unavailable) {
      pane.node = el("div", {class: "pane", "data-runner": data.runner_id},
        el("h3", {}, `${data.planner || ""} | ${data.scenario || data.runner_id}`),
        el("div", {class: "unavailable"}, "unavailable: " + pane.unavailable));
      return pane;
    }
    pane.canvas = el("canvas", {width: PANE_W, height: PANE_H, class: "map"});
    pane.tracks = el("canvas", {width: PANE_W, height: TRACK_H * TRACKS.length +
                                MARKER_ROW_H * Object.keys(data.markers).length + 14, class: "tracks"});
    const b = data.bounds, margin = 15;
    const wx = b[2] - b[0] + 2 * margin, wy = b[3] - b[1] + 2 * margin;
    pane.fit = {scale: Math.min(PANE_W / wx, PANE_H / wy), cx: (b[0] + b[2]) / 2, cy: (b[1] + b[3]) / 2};
    setView(pane, 0);
    pane.starts = {agents: offsets(data.agents.count), trajectories: offsets(data.trajectories.count)};
    const failedMetrics = Object.entries(data.markers).filter(([, steps]) => steps.length).map(([m]) => short(m));
    pane.node = el("div", {class: "pane", "data-runner": data.runner_id},
      el("h3", {}, `${data.run ? data.run + ": " : ""}${data.planner} | ${data.scenario_type} | ${data.scenario}`),
      pane.canvas, el("br"), pane.tracks,
      el("div", {class: "note"}, failedMetrics.length ? "violations: " + failedMetrics.join(", ") : "no violation"),
      ...[data.map_note, data.note].filter(Boolean).map(text => el("div", {class: "note"}, text)));
    pane.tracks.addEventListener("click", ev => {
      const rect = pane.tracks.getBoundingClientRect();
      setStep(Math.round(xToStep(pane, ev.clientX - rect.left)));
    });
    return pane;
  }
  // The whole scenario, or a window of FOLLOW_WIDTH_M metres centred on the ego at the step.
  function setView(pane, step) {
    const f = state.follow ? {scale: PANE_W / FOLLOW_WIDTH_M, cx: pane.data.ego.x[step], cy: pane.data.ego.y[step]}
                           : pane.fit;
    pane.scale = f.scale;
    pane.toPx = (x, y) => [PANE_W / 2 + (x - f.cx) * f.scale, PANE_H / 2 - (y - f.cy) * f.scale];
  }
  function offsets(counts) {
    const out = new Array(counts.length + 1);
    out[0] = 0;
    for (let i = 0; i < counts.length; i++) { out[i + 1] = out[i] + counts[i]; }
    return out;
  }
  const maxSteps = () => Math.max(1, ...state.panes.filter(p => !p.unavailable).map(p => p.data.steps));

  function renderReplayPanel() {
    const live = state.panes.filter(p => !p.unavailable);
    const slider = el("input", {type: "range", id: "step-slider", min: 0, max: maxSteps() - 1, value: 0});
    slider.addEventListener("input", () => setStep(parseInt(slider.value, 10)));
    const speed = el("select", {id: "speed"}, ...[0.25, 0.5, 1, 2, 4].map(s => {
      const o = el("option", {value: s}, s + "×");
      if (s === state.speed) { o.selected = true; }
      return o;
    }));
    speed.addEventListener("change", () => { state.speed = parseFloat(speed.value); if (state.playing) { play(); } });
    const layerBoxes = LAYERS.map(name => {
      const box = el("input", {type: "checkbox", "data-layer": name});
      box.checked = state.layers[name];
      box.addEventListener("change", () => { state.layers[name] = box.checked; drawAll(); });
      return el("label", {}, box, name.replace("_", " "));
    });
    const followBox = el("input", {type: "checkbox", id: "follow-ego"});
    followBox.checked = state.follow;
    followBox.addEventListener("change", () => { state.follow = followBox.checked; drawAll(); });
    layerBoxes.push(el("label", {}, followBox, `follow the ego (${FOLLOW_WIDTH_M} m)`));
    const first = state.panes[0];
    const compare = first && state.panes.length === 1 ? el("button", {id: "compare-planners", on: {click: () =>
      source.same(first.run, first.runner_id).then(ids => openReplays(ids.map(id => [first.run, id])))}},
      "side by side with the other planners") : null;
    controls = {slider: slider, label: el("span", {id: "step-label"}), play: el("button", {id: "play", on: {click: () =>
      state.playing ? stop() : play()}}, "▶ play")};
    const bar = el("div", {class: "bar"}, controls.play,
      el("button", {id: "step-back", on: {click: () => setStep(state.step - 1)}}, "◀ step"),
      el("button", {id: "step-forward", on: {click: () => setStep(state.step + 1)}}, "step ▶"),
      slider, controls.label, el("label", {}, "speed ", speed));
    const bar2 = el("div", {class: "bar"}, ...layerBoxes, compare,
      el("button", {id: "export-png", on: {click: exportPng}}, "save PNG"),
      el("button", {id: "export-webm", on: {click: () => exportWebm()}}, "save video (WebM)"),
      el("span", {id: "export-status", class: "note"}));
    const legend = el("div", {class: "legend note"},
      ...[["#d62728", "ego"], ["#2b83ba", "expert"], ["#6a3d9a", "planned trajectory"], [AGENT_COLORS[0], "vehicle"],
          [AGENT_COLORS[1], "pedestrian"], [AGENT_COLORS[2], "bicycle"], [AGENT_COLORS[3], "static object"]]
        .map(([c, n]) => el("span", {}, el("i", {style: "background:" + c}), n)),
      ...Object.entries(MARKER_COLORS).map(([m, c]) => el("span", {}, el("i", {style: "background:" + c}),
                                                            "▲ " + short(m))));
    replayNode.replaceChildren(bar, bar2, live.length ? legend : "",
      el("div", {class: "panes"}, ...state.panes.map(p => p.node)));
  }

  function setStep(step) {
    state.step = Math.max(0, Math.min(maxSteps() - 1, step));
    drawAll();
  }
  function play() {
    stop();
    if (state.step >= maxSteps() - 1) { state.step = 0; }
    state.playing = true;
    if (controls) { controls.play.textContent = "❚❚ pause"; }
    timer = setInterval(() => {
      if (state.step >= maxSteps() - 1) { stop(); return; }
      setStep(state.step + 1);
    }, 100 / state.speed);
  }
  function stop() {
    state.playing = false;
    if (timer) { clearInterval(timer); timer = null; }
    if (controls) { controls.play.textContent = "▶ play"; }
  }

  function drawAll() {
    for (const pane of state.panes) {
      if (!pane.unavailable) { drawPane(pane); drawTracks(pane); }
    }
    if (controls) {
      controls.slider.value = state.step;
      const t = state.panes.find(p => !p.unavailable);
      controls.label.textContent = `step ${state.step} / ${maxSteps() - 1}` +
        (t ? ` (${fmt(t.data.time[Math.min(state.step, t.data.steps - 1)])} s)` : "");
    }
    state.framesDrawn += 1;
  }

  function boxCorners(x, y, h, length, width) {
    const c = Math.cos(h), s = Math.sin(h), l = length / 2, w = width / 2;
    return [[l, w], [-l, w], [-l, -w], [l, -w]].map(([a, b]) => [x + a * c - b * s, y + a * s + b * c]);
  }
  function polygon(ctx, pane, points, close) {
    ctx.beginPath();
    points.forEach(([x, y], i) => {
      const [px, py] = pane.toPx(x, y);
      if (i === 0) { ctx.moveTo(px, py); } else { ctx.lineTo(px, py); }
    });
    if (close) { ctx.closePath(); }
  }
  const zip = (xs, ys) => xs.map((x, i) => [x, ys[i]]);

  function drawPane(pane) {
    const d = pane.data, ctx = pane.canvas.getContext("2d"), L = state.layers;
    const step = Math.min(state.step, d.steps - 1);
    setView(pane, step);
    const drawn = {step: step, agents: 0, trajectoryPoints: 0};
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, PANE_W, PANE_H);
    if (L.map) {
      ctx.fillStyle = "#e6e6e6";
      for (const rings of d.map.area) {
        ctx.beginPath();
        for (const [xs, ys] of rings) {
          zip(xs, ys).forEach(([x, y], i) => {
            const [px, py] = pane.toPx(x, y);
            if (i === 0) { ctx.moveTo(px, py); } else { ctx.lineTo(px, py); }
          });
          ctx.closePath();
        }
        ctx.fill("evenodd");
      }
      ctx.lineWidth = 1;
      for (const lane of d.map.lanes) {
        ctx.strokeStyle = "#b5b5b5"; ctx.setLineDash([]);
        polygon(ctx, pane, zip(lane.l[0], lane.l[1])); ctx.stroke();
        polygon(ctx, pane, zip(lane.r[0], lane.r[1])); ctx.stroke();
        ctx.strokeStyle = "#cfcfcf"; ctx.setLineDash([4, 4]);
        polygon(ctx, pane, zip(lane.c[0], lane.c[1])); ctx.stroke();
      }
      ctx.setLineDash([]);
      ctx.strokeStyle = "#444"; ctx.lineWidth = 2;
      for (const [xs, ys] of d.map.stop_lines) { polygon(ctx, pane, zip(xs, ys)); ctx.stroke(); }
      for (const light of d.map.lights) {
        const status = (d.lights[light.id] || [])[step];
        const [px, py] = pane.toPx(light.at[0][1], light.at[1][1]);
        ctx.fillStyle = LIGHT_COLORS[status === undefined ? 3 : status];
        ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill();
      }
    }
    if (L.expert) {
      ctx.strokeStyle = "rgba(43,131,186,0.6)"; ctx.lineWidth = 3;
      polygon(ctx, pane, zip(d.expert.x, d.expert.y)); ctx.stroke();
      const e = d.expert, r = e.rear_to_center, h = e.step_h[step];
      ctx.strokeStyle = "#2b83ba"; ctx.lineWidth = 1; ctx.setLineDash([3, 2]);
      polygon(ctx, pane, boxCorners(e.step_x[step] + r * Math.cos(h), e.step_y[step] + r * Math.sin(h), h,
                                    d.ego.length, d.ego.width), true);
      ctx.stroke(); ctx.setLineDash([]);
    }
    if (L.ego_path) {
      ctx.strokeStyle = "rgba(215,25,28,0.35)"; ctx.lineWidth = 2;
      polygon(ctx, pane, zip(d.ego.x.slice(0, step + 1), d.ego.y.slice(0, step + 1))); ctx.stroke();
    }
    if (L.agents) {
      const a = d.agents, from = pane.starts.agents[step], to = pane.starts.agents[step + 1];
      ctx.lineWidth = 1; ctx.strokeStyle = "#555";
      for (let i = from; i < to; i++) {
        ctx.fillStyle = AGENT_COLORS[a.type[i]] || AGENT_COLORS[0];
        polygon(ctx, pane, boxCorners(a.x[i], a.y[i], a.h[i], a.length[i], a.width[i]), true);
        ctx.fill(); ctx.stroke();
      }
      drawn.agents = to - from;
    }
    if (L.trajectory) {
      const t = d.trajectories, from = pane.starts.trajectories[step], to = pane.starts.trajectories[step + 1];
      ctx.strokeStyle = "#6a3d9a"; ctx.lineWidth = 2;
      polygon(ctx, pane, zip(t.x.slice(from, to), t.y.slice(from, to))); ctx.stroke();
      drawn.trajectoryPoints = to - from;
    }
    const g = d.ego, corners = boxCorners(g.x[step], g.y[step], g.h[step], g.length, g.width);
    ctx.fillStyle = "rgba(215,25,28,0.85)"; ctx.strokeStyle = "#700";
    polygon(ctx, pane, corners, true); ctx.fill(); ctx.stroke();
    const collided = d.markers.no_ego_at_fault_collisions.includes(step);
    if (collided) {
      const [px, py] = pane.toPx(g.x[step], g.y[step]);
      ctx.strokeStyle = "#d62728"; ctx.lineWidth = 3;
      ctx.beginPath(); ctx.arc(px, py, 14, 0, 2 * Math.PI); ctx.stroke();
    }
    ctx.fillStyle = "#222"; ctx.font = "12px sans-serif";
    ctx.fillText(`${d.planner}  t = ${fmt(d.time[step])} s  step ${step}`, 8, 16);
    drawn.egoWorld = [g.x[step], g.y[step], g.h[step]];
    drawn.egoPixels = corners.map(([x, y]) => pane.toPx(x, y));
    pane.drawn = drawn;
  }

  function stepToX(pane, step) {
    return TRACK_LEFT + (PANE_W - TRACK_LEFT - 8) * step / Math.max(1, pane.data.steps - 1);
  }
  function xToStep(pane, x) {
    return (x - TRACK_LEFT) / (PANE_W - TRACK_LEFT - 8) * Math.max(1, pane.data.steps - 1);
  }

  function drawTracks(pane) {
    const d = pane.data, ctx = pane.tracks.getContext("2d"), W = pane.tracks.width, H = pane.tracks.height;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px sans-serif";
    TRACKS.forEach(([key, label], row) => {
      const values = d.tracks[key] || [], top = row * TRACK_H + 4, h = TRACK_H - 10;
      const finite = values.filter(v => v !== null);
      let lo = finite.length ? Math.min(...finite) : 0, hi = finite.length ? Math.max(...finite) : 1;
      if (hi - lo < 1e-6) { lo -= 0.5; hi += 0.5; }
      ctx.fillStyle = "#f6f6f6"; ctx.fillRect(TRACK_LEFT, top, W - TRACK_LEFT - 8, h);
      ctx.fillStyle = "#333"; ctx.fillText(label, 2, top + 12);
      ctx.fillStyle = "#888"; ctx.fillText(fmt(hi), 2, top + 24); ctx.fillText(fmt(lo), 2, top + h);
      ctx.strokeStyle = "#1f77b4"; ctx.lineWidth = 1.2; ctx.beginPath();
      let pen = false;
      values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        const x = stepToX(pane, i), y = top + h - (v - lo) / (hi - lo) * h;
        if (pen) { ctx.lineTo(x, y); } else { ctx.moveTo(x, y); pen = true; }
        if (key === "ttc") { ctx.fillStyle = "#1f77b4"; ctx.fillRect(x - 1, y - 1, 2, 2); }
      });
      ctx.stroke();
    });
    const markerTop = TRACKS.length * TRACK_H + 4;
    const markerX = {};
    Object.entries(d.markers).forEach(([metric, steps], row) => {
      const y = markerTop + row * MARKER_ROW_H;
      ctx.fillStyle = "#999"; ctx.font = "8px sans-serif";
      ctx.fillText(short(metric).slice(0, 20), 2, y + 7);
      ctx.fillStyle = MARKER_COLORS[metric] || "#000";
      markerX[metric] = steps.map(s => stepToX(pane, s));
      for (const x of markerX[metric]) {
        ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x - 3.5, y + 8); ctx.lineTo(x + 3.5, y + 8); ctx.fill();
      }
    });
    const cursor = stepToX(pane, Math.min(state.step, d.steps - 1));
    ctx.strokeStyle = "#d62728"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(cursor, 0); ctx.lineTo(cursor, H); ctx.stroke();
    pane.drawn.cursorX = cursor;
    pane.drawn.markerX = markerX;
  }

  // -------------------------------------------------------------------------------------------- export
  function composite() {
    const live = state.panes.filter(p => !p.unavailable);
    const canvas = document.createElement("canvas");
    canvas.width = PANE_W * live.length;
    canvas.height = PANE_H;
    const paint = () => {
      const ctx = canvas.getContext("2d");
      live.forEach((p, i) => ctx.drawImage(p.canvas, i * PANE_W, 0));
    };
    return {canvas: canvas, paint: paint, live: live};
  }
  function download(url, name) {
    const a = el("a", {href: url, download: name});
    document.body.append(a); a.click(); a.remove();
  }
  const fileStem = () => {
    const p = state.panes.find(q => !q.unavailable);
    return p ? (p.data.scenario + "-" + state.panes.filter(q => !q.unavailable).map(q => q.data.planner).join("-"))
      .replace(/[^A-Za-z0-9._-]/g, "_") : "replay";
  };
  function exportPng() {
    const c = composite();
    if (!c.live.length) { return null; }
    c.paint();
    const url = c.canvas.toDataURL("image/png");
    state.lastExport = {kind: "png", url: url, bytes: Math.round(url.length * 3 / 4)};
    download(url, fileStem() + `-step${state.step}.png`);
    return url;
  }

  // Records every step once, at 10 frames a second of video whatever the playback speed: each frame is
  // drawn, composited and pushed with requestFrame(), so the video has exactly one frame per step.
  function exportWebm(fps) {
    fps = fps || 10;
    const c = composite();
    const status = document.getElementById("export-status");
    if (!c.live.length || typeof MediaRecorder === "undefined") {
      status.textContent = "this browser cannot record video";
      return Promise.resolve(null);
    }
    stop();
    const stream = c.canvas.captureStream(0);
    const track = stream.getVideoTracks()[0];
    const types = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];
    const mime = types.find(t => MediaRecorder.isTypeSupported(t)) || "";
    const recorder = new MediaRecorder(stream, mime ? {mimeType: mime} : {});
    const chunks = [];
    recorder.ondataavailable = ev => { if (ev.data && ev.data.size) { chunks.push(ev.data); } };
    const total = maxSteps();
    let frames = 0;
    return new Promise(resolve => {
      recorder.onstop = () => {
        const blob = new Blob(chunks, {type: mime || "video/webm"});
        const url = URL.createObjectURL(blob);
        state.lastExport = {kind: "webm", url: url, bytes: blob.size, frames: frames, fps: fps, mime: blob.type};
        status.textContent = `video: ${frames} frames, ${(blob.size / 1e6).toFixed(2)} MB`;
        download(url, fileStem() + ".webm");
        resolve(state.lastExport);
      };
      recorder.start();
      status.textContent = "recording…";
      const next = () => {
        if (frames >= total) { recorder.stop(); return; }
        setStep(frames);
        c.paint();
        track.requestFrame();
        frames += 1;
        setTimeout(next, 1000 / fps);
      };
      next();
    });
  }
  state.exportWebm = exportWebm;
  state.exportPng = exportPng;

  // ---------------------------------------------------------------------------------------------- diff
  function diffSection(a, b) {
    const node = el("div", {id: "run-diff"});
    source.diff(a, b, 0).then(d => {
      if (!d) { node.append(el("p", {class: "note"}, "no comparison")); return; }
      const body = el("tbody");
      for (const row of d.rows) {
        const v = name => row[d.columns.indexOf(name)];
        const delta = v("delta");
        body.append(el("tr", {class: "clickable", "data-runner-a": v("runner_a"), "data-runner-b": v("runner_b"),
                              on: {click: () => openReplays([[a, v("runner_a")], [b, v("runner_b")]])}},
          ...["planner_a", "planner_b", "scenario_type", "log", "scenario", "score_a", "score_b", "delta"].map(c =>
            el("td", {class: typeof v(c) === "string" ? "text" : c === "delta" ? (delta < 0 ? "bad" : delta > 0 ?
              "good" : "") : ""}, fmt(v(c))))));
      }
      node.append(el("p", {}, `${d.before} → ${d.after}: ${d.matched} scenarios matched, ${d.regressions} ` +
                              `regressions, ${d.improvements} improvements, mean score change ${fmt(d.mean_delta)}. ` +
                              "Regressions first; click a row to replay both."),
        el("div", {class: "scroll"}, el("table", {},
          el("thead", {}, el("tr", {}, ...["planner (" + d.before + ")", "planner (" + d.after + ")", "scenario type",
            "log", "scenario", "score " + d.before, "score " + d.after, "change"].map(h => el("th", {}, h)))), body)),
        d.matched > d.rows.length ? el("p", {class: "note"}, `the ${d.rows.length} largest regressions of ` +
                                                             `${d.matched} are listed`) : "");
    });
    return node;
  }

  // ---------------------------------------------------------------------------------------------- page
  source.runs().then(runs => {
    state.runs = runs;
    const tabs = el("div", {class: "bar", id: "run-tabs"});
    const body = el("div");
    const show = (kind, i) => {
      stop();
      [...tabs.children].forEach(btn => btn.classList.toggle("active", btn.dataset.tab === kind + i));
      if (kind === "diff") {
        body.replaceChildren(el("h2", {}, `Run diff: ${runs[0].label} → ${runs[i].label}`), diffSection(0, i),
                             el("h2", {}, "Replay"), replaySection());
        return Promise.resolve();
      }
      state.run = i;
      state.table = {filters: {}, sort: "score", descending: false, offset: 0, limit: 50, total: 0, rows: [], columns: []};
      body.replaceChildren(el("h2", {}, "Overview: scores per planner and scenario type"), overviewSection(runs[i]),
                           el("h2", {}, "Scenarios"), tableSection(), el("h2", {}, "Replay"), replaySection());
      return loadTable();
    };
    runs.forEach((run, i) => tabs.append(el("button", {"data-tab": "run" + i, on: {click: () => show("run", i)}},
                                             run.label)));
    for (let i = 1; i < runs.length; i++) {
      tabs.append(el("button", {"data-tab": "diff" + i, id: "diff-tab-" + i, on: {click: () => show("diff", i)}},
                     `diff ${runs[0].label} → ${runs[i].label}`));
    }
    root.replaceChildren(runs.length > 1 ? tabs : "", body);
    state.show = show;
    state.openReplays = openReplays;
    state.setStep = setStep;
    state.play = play;
    state.stop = stop;
    state.setFilters = setFilters;
    return show("run", Math.min(config.start_run || 0, runs.length - 1));
  }).then(() => { state.ready = true; }, err => {
    state.errors.push(String(err));
    root.append(el("p", {class: "unavailable"}, "cannot load the results: " + err));
  });
})();
