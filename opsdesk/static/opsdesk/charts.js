// Draws the ECharts charts described by <div data-chart='{"type": "bar", "labels": [], "values": []}'>.
(function () {
  function draw(el) {
    const spec = JSON.parse(el.dataset.chart);
    const chart = echarts.init(el);
    let option;
    if (spec.type === "pie") {
      option = {tooltip: {trigger: "item"}, legend: {bottom: 0},
        series: [{type: "pie", radius: ["40%", "70%"],
          data: spec.labels.map((name, i) => ({name: name, value: spec.values[i]}))}]};
    } else {
      option = {tooltip: {}, grid: {left: 40, right: 10, bottom: 60},
        xAxis: {type: "category", data: spec.labels, axisLabel: {rotate: 30}},
        yAxis: {type: "value"}, series: [{type: "bar", data: spec.values}]};
    }
    chart.setOption(option);
    window.addEventListener("resize", () => chart.resize());
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-chart]").forEach(draw));
})();
