// The CI relation graph: loads nodes and links from a JSON URL and draws an ECharts force graph.
(function () {
  function draw(el) {
    const chart = echarts.init(el);
    chart.showLoading();
    fetch(el.dataset.source, {credentials: "same-origin"}).then(r => r.json()).then(data => {
      chart.hideLoading();
      el.dataset.nodes = data.nodes.length;
      el.dataset.links = data.links.length;
      chart.setOption({
        tooltip: {formatter: p => p.dataType === "edge" ? p.data.label : p.data.name + " · " + p.data.value},
        legend: [{data: data.categories.map(c => c.name), bottom: 0}],
        series: [{
          type: "graph", layout: "force", roam: true, draggable: true,
          categories: data.categories, data: data.nodes, links: data.links,
          label: {show: true, position: "right"},
          edgeSymbol: ["none", "arrow"], edgeSymbolSize: 8,
          edgeLabel: {show: true, formatter: p => p.data.label, fontSize: 10},
          force: {repulsion: 260, edgeLength: 120},
          lineStyle: {color: "source", curveness: 0.1},
        }],
      });
      chart.on("dblclick", p => { if (p.dataType === "node" && p.data.url) window.location = p.data.url; });
      el.classList.add("graph-ready");
    });
    window.addEventListener("resize", () => chart.resize());
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-graph]").forEach(draw));
})();
