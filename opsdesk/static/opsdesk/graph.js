// The CI relation graph: loads nodes and links from a JSON URL (data-source) and draws them with
// ECharts. The layout is computed here, once (a small force simulation, the same every time for
// the same data), and drawn with layout "none", which ECharts fits into the box: nothing moves
// after the first paint, and "Fit to view" (a [data-graph-fit] button) puts the whole graph back
// into view after zooming or panning.
//
// Security: names are typed by people, and the tooltip is HTML. Every value that goes into the
// tooltip passes through esc(); node and edge labels are drawn on the canvas as text.
(function () {
  "use strict";

  // Layout units: no two nodes closer than COLLIDE (linked ones about 110 apart).
  const COLLIDE = 80;
  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;"};
  function esc(value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"'`]/g, c => ENTITIES[c]);
  }

  // A deterministic force layout (velocity Verlet, like d3-force): links pull their ends to a
  // fixed distance, every pair of nodes repels (overlapping ones more), and a weak pull to the
  // centre keeps unconnected items close. Returns [{x, y}] in the order of `nodes`.
  function layout(nodes, links) {
    const n = nodes.length;
    const index = new Map(nodes.map((node, i) => [node.id, i]));
    const edges = links.map(l => [index.get(l.source), index.get(l.target)])
      .filter(([a, b]) => a !== undefined && b !== undefined && a !== b);
    const degree = new Array(n).fill(0);
    edges.forEach(([a, b]) => { degree[a] += 1; degree[b] += 1; });
    const golden = Math.PI * (3 - Math.sqrt(5));
    const pos = nodes.map((_node, i) => {
      const r = 30 * Math.sqrt(0.5 + i), angle = i * golden;
      return {x: r * Math.cos(angle), y: r * Math.sin(angle), vx: 0, vy: 0};
    });
    const distance = 110, charge = -900, collide = COLLIDE, gravity = 0.04, velocityDecay = 0.6, alphaMin = 0.001;
    const iterations = n > 250 ? 120 : 300;
    const alphaDecay = 1 - Math.pow(alphaMin, 1 / iterations);
    let alpha = 1;
    for (let step = 0; step < iterations; step += 1) {
      alpha += -alpha * alphaDecay;
      for (const [a, b] of edges) {
        const A = pos[a], B = pos[b];
        let dx = (B.x + B.vx) - (A.x + A.vx) || 1e-3, dy = (B.y + B.vy) - (A.y + A.vy) || 1e-3;
        const length = Math.sqrt(dx * dx + dy * dy);
        const k = (length - distance) / length * alpha / Math.min(degree[a], degree[b]);
        dx *= k; dy *= k;
        const bias = degree[a] / (degree[a] + degree[b]);
        B.vx -= dx * bias; B.vy -= dy * bias;
        A.vx += dx * (1 - bias); A.vy += dy * (1 - bias);
      }
      for (let i = 0; i < n; i += 1) {
        const P = pos[i];
        for (let j = i + 1; j < n; j += 1) {
          const Q = pos[j];
          let dx = Q.x - P.x, dy = Q.y - P.y, d2 = dx * dx + dy * dy;
          if (d2 < 1) { dx = (i - j) * 1e-3 || 1e-3; dy = 1e-3; d2 = 1; }
          const w = charge * alpha / d2;
          P.vx += dx * w; P.vy += dy * w;
          Q.vx -= dx * w; Q.vy -= dy * w;
          if (d2 < collide * collide) {  // two circles on top of each other: push them apart
            const d = Math.sqrt(d2), push = (collide - d) / d * 0.35;
            P.vx -= dx * push; P.vy -= dy * push;
            Q.vx += dx * push; Q.vy += dy * push;
          }
        }
        P.vx -= P.x * gravity * alpha; P.vy -= P.y * gravity * alpha;
      }
      for (const P of pos) {
        P.x += (P.vx *= velocityDecay);
        P.y += (P.vy *= velocityDecay);
      }
    }
    return pos.map(p => ({x: Math.round(p.x * 10) / 10, y: Math.round(p.y * 10) / 10}));
  }

  function tooltipFor(names) {
    return function (p) {
      if (p.dataType === "edge") {
        return esc(names.get(p.data.source)) + " <b>" + esc(p.data.label) + "</b> " + esc(names.get(p.data.target));
      }
      if (p.dataType === "node") {
        const d = p.data;
        return "<b>" + esc(d.name) + "</b><br>" + [d.kind, d.value, d.status].filter(Boolean).map(esc).join(" · ");
      }
      return esc(p.name);
    };
  }

  function draw(el) {
    const chart = echarts.init(el);
    const wrap = el.closest(".graph-wrap, .card") || document;
    chart.showLoading({text: ""});
    fetch(el.dataset.source, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(r => { if (!r.ok) { throw new Error(r.status + " " + r.statusText); } return r.json(); })
      .then(data => {
        chart.hideLoading();
        el.dataset.nodes = data.nodes.length;
        el.dataset.links = data.links.length;
        const names = new Map(data.nodes.map(n => [n.id, n.name]));
        const points = layout(data.nodes, data.links);
        const nodes = data.nodes.map((n, i) => Object.assign({}, n, points[i], n.focus ? {
          label: {fontWeight: "bold"}, itemStyle: {borderColor: "#212529", borderWidth: 2}} : {}));
        // Where the graph goes: the box the layout fills, with its own proportions (ECharts would
        // stretch it to any box with four sides given), room on the right for the names and at
        // the bottom for the legend.
        const xs = points.map(q => q.x), ys = points.map(q => q.y);
        const spanX = Math.max(...xs) - Math.min(...xs) || 1, spanY = Math.max(...ys) - Math.min(...ys) || 1;
        const margin = {left: 40, right: 130, top: 40, bottom: 56};
        const scaleOf = () => Math.min(Math.max(chart.getWidth() - margin.left - margin.right, 40) / spanX,
                                       Math.max(chart.getHeight() - margin.top - margin.bottom, 40) / spanY, 1.6);
        const box = () => {
          const width = Math.max(chart.getWidth() - margin.left - margin.right, 40);
          const height = Math.max(chart.getHeight() - margin.top - margin.bottom, 40);
          const w = spanX * scaleOf(), h = spanY * scaleOf();
          return {left: margin.left + (width - w) / 2, top: margin.top + (height - h) / 2, width: w, height: h};
        };
        // In a small box (the CI page's column) the nodes shrink with the distances between
        // them, so that they do not cover each other; elsewhere they keep their size.
        const shrink = Math.min(1, Math.max(0.6, COLLIDE * scaleOf() * 0.9 / 40));
        nodes.forEach(n => { n.symbolSize = Math.round(n.symbolSize * shrink); });
        // Edge labels on a crowded graph would cover each other: there they show on hover.
        const edgeLabels = data.links.length <= 12;
        const option = {
          tooltip: {confine: true, formatter: tooltipFor(names)},
          legend: [{data: data.categories.map(c => c.name), bottom: 0, type: "scroll"}],
          animationDurationUpdate: 300,
          series: [{
            id: "graph", type: "graph", layout: "none", roam: true, draggable: true, scaleLimit: {min: 0.2, max: 5},
            ...box(),
            categories: data.categories, data: nodes, links: data.links,
            label: {show: true, position: "right", fontSize: 12, color: "#212529"},
            labelLayout: {hideOverlap: true},
            edgeSymbol: ["none", "arrow"], edgeSymbolSize: 9,
            edgeLabel: {show: edgeLabels, formatter: p => p.data.label, fontSize: 11, color: "#495057",
              backgroundColor: "rgba(255,255,255,0.85)", padding: [1, 3], borderRadius: 3},
            lineStyle: {color: "source", width: 1.5, opacity: 0.7, curveness: 0.08},
            emphasis: {focus: "adjacency", lineStyle: {width: 3}, edgeLabel: {show: true}},
          }],
        };
        chart.setOption(option);
        const fit = () => chart.setOption({series: [{id: "graph", center: null, zoom: 1, ...box()}]});
        window.addEventListener("resize", () => { chart.resize(); fit(); });
        const target = el.id;
        wrap.querySelectorAll("[data-graph-fit]").forEach(button => {
          if (!button.dataset.graphTarget || button.dataset.graphTarget === target) {
            button.addEventListener("click", fit);
          }
        });
        chart.on("dblclick", p => { if (p.dataType === "node" && p.data.url) { window.location = p.data.url; } });
        el.classList.add("graph-ready");
      })
      .catch(error => {
        console.error("relation graph:", error);
        chart.hideLoading();
        chart.setOption({title: {text: el.dataset.error || "", left: "center", top: "middle",
          textStyle: {color: "#dc3545", fontSize: 14, fontWeight: "normal"}}});
        el.classList.add("graph-failed");
      });
  }

  window.opsdeskGraph = {esc: esc, layout: layout};
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-graph]").forEach(draw));
})();
