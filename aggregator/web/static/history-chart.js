// Draws the offer's price intervals (the JSON in #history-data) as a step chart with uPlot.
// The table of intervals below it says the same without JavaScript.
(function () {
  "use strict";
  function draw() {
    var box = document.getElementById("history-chart");
    var source = document.getElementById("history-data");
    if (!box || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    if (!data.times.length) return;
    var width = function () { return Math.max(280, box.clientWidth); };
    var opts = {
      width: width(),
      height: 300,
      scales: { x: { time: true } },
      series: [
        {},
        {
          label: "per hour, " + data.currency,
          stroke: "#0a58ca",
          width: 2,
          fill: "rgba(10, 88, 202, 0.08)",
          paths: uPlot.paths.stepped({ align: 1 }),
          value: function (u, v) { return v == null ? "—" : v.toFixed(4); }
        }
      ],
      axes: [{}, { size: 70 }]
    };
    var chart = new uPlot(opts, [data.times, data.prices], box);
    box.dataset.drawn = String(data.times.length);
    window.addEventListener("resize", function () {
      chart.setSize({ width: width(), height: 300 });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
