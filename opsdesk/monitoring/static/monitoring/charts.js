// Charts of monitoring data (the CI page, a check's page), drawn with ECharts.
//
// Each [data-monitoring-charts] board lists its charts in data-specs ([{key, title, unit,
// series: [{id, label, scale}]}]); the samples come from the query API (data-query-url) as JSON,
// all series of a board in requests of at most 50. A range button asks for the last hour, 6 h,
// 24 h, 7 or 30 days; "Custom" for two times typed in the person's time zone, which the API reads
// in that zone. The server picks the resolution: raw samples are a line; a rollup is its average
// as a line over a band from its minimum to its maximum (on charts of up to three lines).
//
// Times are shown in the person's time zone (data-tz), not the browser's: every timestamp is
// shifted by the zone's offset at that moment and ECharts draws in UTC. Series labels can be names
// people or hosts chose (mounts, interfaces, checks): the tooltip is HTML, so they are escaped;
// the legend and axes are drawn on the canvas as text.
//
// A drawn chart's element gets data-state="ready" (or "empty", "error") and the board
// data-loaded-range (the range shown), which the browser tests wait for.
(function () {
  "use strict";
  if (window.opsdeskMonitoringCharts) {
    return;  // the script is on the page once per board; one copy draws them all
  }
  window.opsdeskMonitoringCharts = true;

  const RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600, "7d": 7 * 86400, "30d": 30 * 86400};
  const MAX_SERIES = 50;
  // Beyond this many lines on a chart, their bands would hide each other: the lines alone then
  // (the tooltip still gives each one's minimum and maximum).
  const MAX_BANDS = 3;
  const PALETTE = ["#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#d63384", "#0dcaf0", "#dc3545", "#6c757d"];

  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;"};
  const esc = value => String(value === undefined || value === null ? "" : value).replace(/[&<>"'`]/g, c => ENTITIES[c]);
  const fill = (text, params) => text.replace(/%\((\w+)\)s/g, (all, key) => (key in params ? params[key] : all));

  // --- units ------------------------------------------------------------------------------------

  function num(x) {
    if (x === 0) {
      return "0";
    }
    return Math.abs(x) >= 100 ? String(Math.round(x)) : String(Number(x.toPrecision(3)));
  }

  function scaled(value, base, units) {
    let x = Math.abs(value);
    let i = 0;
    while (x >= base && i < units.length - 1) {
      x /= base;
      i += 1;
    }
    return ((value < 0 ? "-" : "") + num(x) + " " + units[i]).trim();
  }

  const FORMATS = {
    percent: v => num(v) + " %",
    bytes: v => scaled(v, 1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]),
    bytes_per_second: v => scaled(v, 1024, ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"]),
    bits_per_second: v => scaled(v, 1000, ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"]),
    seconds: v => (v !== 0 && Math.abs(v) < 0.001 ? num(v * 1e6) + " µs"
      : Math.abs(v) < 1 ? num(v * 1000) + " ms" : num(v) + " s"),
    number: v => scaled(v, 1000, ["", "k", "M", "G", "T"]),
  };

  // Byte axes step in powers of two (256 KiB, 1 MiB, 2 GiB…), not in the decimal steps ECharts
  // would pick (2.86 MiB, 5.72 MiB…): about four ticks up to the highest value shown.
  const BINARY_STEPS = [0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000];
  function binaryAxis(highest) {
    if (!(highest > 0)) {
      return {};
    }
    const unit = Math.pow(1024, Math.max(0, Math.floor(Math.log(highest) / Math.log(1024))));
    const wanted = highest / unit / 4;
    const interval = (BINARY_STEPS.find(n => n >= wanted) || 1000) * unit;
    return {interval: interval, max: Math.ceil(highest / interval) * interval};
  }

  // A percentage that nears 100 (a busy CPU, a full disk) ends its axis at 100 %, in quarters:
  // ECharts' own steps would run it to 120 %, a value no share can take. Lower ones scale freely.
  function percentAxis(highest) {
    return highest > 60 && highest <= 100 ? {interval: 25, max: 100} : {};
  }

  // The time axis' labels on the person's clock (the values are shifted: see above).
  const TIME_LABELS = {year: "{yyyy}", month: "{yyyy}-{MM}", day: "{MM}-{dd}", hour: "{HH}:{mm}",
    minute: "{HH}:{mm}", second: "{HH}:{mm}:{ss}", millisecond: "{HH}:{mm}:{ss}", none: "{MM}-{dd} {HH}:{mm}"};

  // --- the person's time zone ------------------------------------------------------------------

  // offset(ms): how far the zone's wall clock is ahead of UTC at that moment (cached per quarter
  // of an hour: no zone changes its offset more often).
  function zoneOffset(zone) {
    let format;
    try {
      format = new Intl.DateTimeFormat("en-US", {timeZone: zone, hourCycle: "h23", year: "numeric",
        month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric"});
    } catch (error) {
      return () => -new Date().getTimezoneOffset() * 60000;  // an unknown zone: the browser's
    }
    const cache = new Map();
    return ms => {
      const key = Math.floor(ms / 900000);
      if (!cache.has(key)) {
        const at = key * 900000;
        const parts = {};
        format.formatToParts(new Date(at)).forEach(p => { parts[p.type] = Number(p.value); });
        cache.set(key, Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - at);
      }
      return cache.get(key);
    };
  }

  // --- drawing ----------------------------------------------------------------------------------

  // [[t, avg, min, max]] with a null point wherever samples stop for longer than three intervals
  // (an agent that was down is a gap, not a straight line across it).
  function withGaps(points, step) {
    if (points.length < 2) {
      return points;
    }
    let expected = step;
    if (!expected) {
      const gaps = [];
      for (let i = 1; i < points.length; i += 1) {
        gaps.push(points[i][0] - points[i - 1][0]);
      }
      gaps.sort((a, b) => a - b);
      expected = gaps[Math.floor(gaps.length / 2)] || 60;
    }
    const out = [points[0]];
    for (let i = 1; i < points.length; i += 1) {
      if (points[i][0] - points[i - 1][0] > 3 * expected) {
        out.push([points[i - 1][0] + expected, null, null, null]);
      }
      out.push(points[i]);
    }
    return out;
  }

  function stepText(step, strings) {
    if (!step) {
      return strings.raw;
    }
    const size = step % 3600 === 0 ? fill(strings.hours, {n: step / 3600}) : fill(strings.minutes, {n: Math.round(step / 60)});
    return fill(strings.rollup, {step: size});
  }

  class Board {
    constructor(root) {
      this.root = root;
      this.specs = JSON.parse(root.dataset.specs || "[]");
      this.strings = JSON.parse(root.dataset.strings || "{}");
      this.url = root.dataset.queryUrl;
      this.offset = zoneOffset(root.dataset.tz || "UTC");
      this.locale = (root.dataset.lang || "en").toLowerCase().startsWith("zh") ? "ZH" : "EN";
      this.instances = new Map();
      this.generation = 0;
      this.shown = null;  // {start, end} of the range on screen, Unix seconds
      this.form = root.querySelector("[data-custom-range]");
      this.error = root.querySelector("[data-chart-error]");
      this.resolution = root.querySelector("[data-resolution]");
    }

    start() {
      this.root.querySelectorAll("[data-range-button]").forEach(button => {
        button.addEventListener("click", () => this.choose(button.dataset.rangeButton));
      });
      this.form.addEventListener("submit", event => {
        event.preventDefault();
        this.custom();
      });
      window.addEventListener("resize", () => this.instances.forEach(chart => chart.resize()));
      this.root.querySelectorAll("[data-chart]").forEach(el => this.chart(el));
      if (this.root.dataset.start && this.root.dataset.end) {
        // A board about one moment (an alert's page) opens on its own range.
        this.press("custom");
        this.load("custom", {start: this.root.dataset.start, end: this.root.dataset.end});
        return;
      }
      this.choose(this.root.dataset.range || "24h");
    }

    press(key) {
      this.root.querySelectorAll("[data-range-button]").forEach(button => {
        const on = button.dataset.rangeButton === key;
        button.classList.toggle("active", on);
        button.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    choose(key) {
      this.press(key);
      if (key === "custom") {
        this.showForm();
        return;
      }
      this.form.classList.add("d-none");
      this.form.classList.remove("d-flex");
      const end = Math.floor(Date.now() / 1000);
      this.load(key, {start: String(end - RANGES[key]), end: String(end)});
    }

    // A datetime-local value for a moment, on the person's clock.
    local(seconds) {
      const ms = seconds * 1000;
      return new Date(ms + this.offset(ms)).toISOString().slice(0, 16);
    }

    showForm() {
      this.form.classList.remove("d-none");
      this.form.classList.add("d-flex");
      const now = Date.now() / 1000;
      const shown = this.shown || {start: now - 86400, end: now};
      if (!this.form.elements.start.value) {
        this.form.elements.start.value = this.local(shown.start);
      }
      if (!this.form.elements.end.value) {
        this.form.elements.end.value = this.local(shown.end);
      }
      this.form.elements.start.focus();
    }

    custom() {
      const start = this.form.elements.start.value;
      const end = this.form.elements.end.value;
      const problem = this.form.querySelector("[data-range-error]");
      if (!start || !end || end <= start) {
        problem.textContent = this.strings.badRange;
        return;
      }
      problem.textContent = "";
      this.load("custom", {start: start, end: end});
    }

    async fetchAll(range) {
      const ids = [...new Set(this.specs.flatMap(spec => spec.series.map(s => s.id)))];
      const requests = [];
      for (let i = 0; i < ids.length; i += MAX_SERIES) {
        const params = new URLSearchParams(range);
        ids.slice(i, i + MAX_SERIES).forEach(id => params.append("series", id));
        requests.push(fetch(this.url + "?" + params.toString(), {credentials: "same-origin",
          headers: {Accept: "application/json"}}).then(async response => {
          const body = await response.json().catch(() => ({}));
          if (!response.ok) {
            const detail = body.detail || Object.values(body).flat().join(" ");
            throw new Error(detail || response.statusText);
          }
          return body;
        }));
      }
      const answers = await Promise.all(requests);
      const byId = new Map();
      answers.forEach(answer => answer.series.forEach(s => byId.set(s.id, s)));
      const first = answers[0] || {start: 0, end: 0};
      return {start: first.start, end: first.end, byId: byId};
    }

    async load(key, range) {
      const generation = ++this.generation;
      this.root.removeAttribute("data-loaded-range");
      this.instances.forEach(chart => chart.showLoading({text: this.strings.loading, color: PALETTE[0]}));
      let data;
      try {
        data = await this.fetchAll(range);
      } catch (error) {
        if (generation === this.generation) {
          this.fail(error);
        }
        return;
      }
      if (generation !== this.generation) {
        return;  // a newer range was asked for meanwhile
      }
      this.error.classList.add("d-none");
      this.shown = {start: data.start, end: data.end};
      const steps = new Set();
      this.specs.forEach(spec => this.draw(spec, data, steps));
      this.resolution.textContent = steps.size ? [...steps].map(s => stepText(s, this.strings)).join(" · ") : "";
      this.root.dataset.loadedRange = key;
    }

    fail(error) {
      this.error.textContent = this.strings.error + (error && error.message ? " " + error.message : "");
      this.error.classList.remove("d-none");
      this.instances.forEach(chart => chart.hideLoading());
      this.root.querySelectorAll("[data-chart]").forEach(el => { el.dataset.state = "error"; });
    }

    chart(el) {
      let chart = this.instances.get(el);
      if (!chart) {
        chart = echarts.init(el, null, {locale: this.locale});
        this.instances.set(el, chart);
      }
      return chart;
    }

    draw(spec, data, steps) {
      const el = this.root.querySelector('[data-chart="' + spec.key + '"]');
      if (!el) {
        return;
      }
      const chart = this.chart(el);
      chart.hideLoading();
      const shift = t => t * 1000 + this.offset(t * 1000);
      const format = FORMATS[spec.unit] || FORMATS.number;
      const series = [];
      const lines = [];  // per drawn line: its label and points, for the tooltip
      let threshold = null;  // an alert's threshold, drawn: the value axis must reach it
      spec.series.forEach((line, i) => {
        const found = data.byId.get(line.id);
        if (!found || !found.points.length) {
          return;
        }
        steps.add(found.step);
        const scale = line.scale || 1;
        const points = withGaps(found.points, found.step).map(p => [shift(p[0]),
          p[1] === null ? null : p[1] * scale, p[2] === null ? null : p[2] * scale, p[3] === null ? null : p[3] * scale]);
        const color = PALETTE[i % PALETTE.length];
        lines.push({index: series.length, label: line.label, points: points, rollup: found.step > 0});
        // Raw samples may be thinned for drawing (LTTB keeps the peaks); a rollup's line is not,
        // so that it stays aligned with its band.
        const drawn = {type: "line", name: line.label, color: color, showSymbol: points.length < 3, symbolSize: 4,
          sampling: found.step > 0 ? undefined : "lttb", lineStyle: {width: 1.5}, emphasis: {disabled: true},
          data: points.map(p => [p[0], p[1]])};
        if (spec.mark && i === 0) {
          // An alert's page: the time it fired (to its resolution) shaded, its threshold a dashed line.
          const until = spec.mark.to === null ? points[points.length - 1][0] : shift(spec.mark.to);
          drawn.markArea = {silent: true, itemStyle: {color: "rgba(220, 53, 69, 0.12)"},
            data: [[{xAxis: shift(spec.mark.from)}, {xAxis: until}]]};
          if (spec.mark.threshold !== null && spec.mark.threshold !== undefined) {
            threshold = spec.mark.threshold * scale;
            drawn.markLine = {silent: true, symbol: "none", lineStyle: {color: "#dc3545", type: "dashed"},
              label: {show: false}, data: [{yAxis: threshold}]};
          }
        }
        series.push(drawn);
        if (found.step > 0 && spec.series.length <= MAX_BANDS) {
          // The band: an invisible line at the minimum, and the distance to the maximum stacked on it.
          const band = "band" + i;
          series.push({type: "line", name: line.label, stack: band, color: color, symbol: "none", silent: true,
            lineStyle: {opacity: 0}, emphasis: {disabled: true}, data: points.map(p => [p[0], p[2]])});
          series.push({type: "line", name: line.label, stack: band, color: color, symbol: "none", silent: true,
            lineStyle: {opacity: 0}, emphasis: {disabled: true}, areaStyle: {color: color, opacity: 0.15},
            data: points.map(p => [p[0], p[3] === null ? null : p[3] - p[2]])});
        }
      });
      if (threshold !== null && lines.length) {
        // A mark line does not stretch the axis: a threshold far above the values (the alert
        // fired on a spike, or recovered) would be off the chart. An invisible point at the
        // threshold makes the axis reach it, with ECharts' own round numbers.
        series.push({type: "line", silent: true, symbol: "none", lineStyle: {opacity: 0}, emphasis: {disabled: true},
          tooltip: {show: false}, data: [[shift(data.start), threshold]]});
      }
      chart.clear();
      if (!lines.length) {
        chart.setOption({title: {text: this.strings.empty, left: "center", top: "middle",
          textStyle: {color: "#6c757d", fontSize: 13, fontWeight: "normal"}}});
        el.dataset.state = "empty";
        return;
      }
      const strings = this.strings;
      let yRange = {};
      const highest = lines.reduce((top, l) => l.points.reduce((m, p) => (p[3] > m ? p[3] : m), top),
        threshold !== null && threshold > 0 ? threshold : 0);
      if (spec.unit === "bytes" || spec.unit === "bytes_per_second") {
        yRange = binaryAxis(highest);
      } else if (spec.unit === "percent") {
        yRange = percentAxis(highest);
      }
      chart.setOption({
        animation: false,
        useUTC: true,
        grid: {left: 8, right: 16, top: 26, bottom: 4, containLabel: true},
        legend: {top: 0, left: 0, type: "scroll", itemHeight: 8, itemWidth: 14, textStyle: {fontSize: 11},
          data: lines.map(l => l.label)},
        tooltip: {trigger: "axis", confine: true, formatter: params => {
          const at = params.length ? params[0].axisValue : 0;
          let html = esc(echarts.time.format(at, "{yyyy}-{MM}-{dd} {HH}:{mm}:{ss}", true));
          lines.forEach(line => {
            const p = params.find(q => q.seriesIndex === line.index);
            if (!p) {
              return;
            }
            const point = line.points[p.dataIndex];
            if (!point || point[1] === null) {
              return;
            }
            html += "<br>" + p.marker + esc(line.label) + ": <b>" + esc(format(point[1])) + "</b>";
            if (line.rollup) {
              html += " <span style=\"color:#6c757d\">(" + esc(strings.min) + " " + esc(format(point[2])) + ", "
                + esc(strings.max) + " " + esc(format(point[3])) + ")</span>";
            }
          });
          return html;
        }},
        xAxis: {type: "time", min: shift(data.start), max: shift(data.end), splitLine: {show: false},
          axisLabel: {hideOverlap: true, fontSize: 11, formatter: TIME_LABELS}},
        yAxis: Object.assign({type: "value", min: v => Math.min(0, v.min), splitNumber: 4,
          axisLabel: {formatter: format, fontSize: 11}, splitLine: {lineStyle: {color: "#e9ecef"}}}, yRange),
        series: series,
      });
      el.dataset.state = "ready";
    }
  }

  function withEcharts(src) {
    if (window.echarts) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function start() {
    const boards = [...document.querySelectorAll("[data-monitoring-charts]")].filter(root => root.querySelector("[data-chart]"));
    if (!boards.length) {
      return;
    }
    withEcharts(boards[0].dataset.echarts).then(() => boards.forEach(root => new Board(root).start()));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
