// Draws the ECharts charts described by <div data-chart='{"type": "bar", "labels": [], "values": []}'>.
// A chart with nothing to count says so (data-empty holds the words) instead of drawing an
// empty axis or a pie of equal slices; drawn charts get the class chart-ready (and chart-empty).
// Labels can be names people typed (customers, kinds): the tooltip is HTML, so its formatters
// escape every value; axis labels, legends and titles are drawn on the canvas as text.
(function () {
  "use strict";

  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;"};
  function esc(value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"'`]/g, c => ENTITIES[c]);
  }
  // p.marker is the coloured dot ECharts itself writes; everything else is escaped.
  const pieTip = p => p.marker + esc(p.name) + ": <b>" + esc(p.value) + "</b> (" + esc(p.percent) + "%)";
  const barTip = p => p.marker + esc(p.name) + ": <b>" + esc(p.value) + "</b>";

  function draw(el) {
    const spec = JSON.parse(el.dataset.chart);
    const chart = echarts.init(el);
    const empty = !spec.values.length || spec.values.every(v => !v);
    let option;
    if (empty) {
      option = {title: {text: el.dataset.empty || "", left: "center", top: "middle",
        textStyle: {color: "#6c757d", fontSize: 14, fontWeight: "normal"}}};
      el.classList.add("chart-empty");
    } else if (spec.type === "pie") {
      option = {tooltip: {trigger: "item", confine: true, formatter: pieTip}, legend: {bottom: 0, type: "scroll"},
        series: [{type: "pie", radius: ["40%", "70%"], stillShowZeroSum: false,
          // A zero slice has no label: its name would sit on top of its neighbours'.
          data: spec.labels.map((name, i) => ({name: name, value: spec.values[i],
            label: {show: spec.values[i] > 0}, labelLine: {show: spec.values[i] > 0}}))}]};
    } else {
      option = {tooltip: {confine: true, formatter: barTip}, grid: {left: 40, right: 10, bottom: 60},
        xAxis: {type: "category", data: spec.labels, axisLabel: {rotate: 30}},
        yAxis: {type: "value", minInterval: 1}, series: [{type: "bar", data: spec.values, barMaxWidth: 48}]};
    }
    chart.setOption(option);
    el.classList.add("chart-ready");
    window.addEventListener("resize", () => chart.resize());
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-chart]").forEach(draw));
})();
