// The overview's chart: messages sent and failed per day and provider (uPlot, vendored).
// The same figures are in the table under it, which is all a browser without JavaScript shows.
"use strict";

(function () {
  var holder = document.getElementById("daily-chart");
  var source = document.getElementById("daily-data");
  if (!holder || !source || typeof uPlot === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var colours = ["#0b6e4f", "#1d4ed8", "#7c3aed", "#b45309", "#0e7490", "#4d7c0f"];
  var xs = data.days.map(function (day) { return day.at; });
  var columns = [xs];
  // Each day is placed at its noon, so that a browser in another time zone still puts it
  // on the right date; the legend names the day as the deployment does.
  var series = [{ label: "Day", value: function (u, at, seriesIndex, index) {
    return index == null ? "" : data.days[index].label;
  } }];
  data.providers.forEach(function (provider, index) {
    var colour = colours[index % colours.length];
    columns.push(data.days.map(function (day) { return day.providers[provider.name][0]; }));
    series.push({ label: provider.label + " sent", stroke: colour, width: 2,
                  points: { show: true, size: 5 } });
    columns.push(data.days.map(function (day) { return day.providers[provider.name][1]; }));
    series.push({ label: provider.label + " failed", stroke: "#b42318", dash: [6, 4],
                  width: 2, points: { show: true, size: 5, stroke: colour } });
  });

  function width() {
    return Math.max(240, holder.clientWidth - 16);
  }

  var chart = new uPlot({
    width: width(),
    height: 280,
    series: series,
    scales: { x: { time: true } },
    axes: [{}, { label: "Messages", size: 60 }]
  }, columns, holder);

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) {
      window.clearTimeout(pending);
    }
    pending = window.setTimeout(function () {
      chart.setSize({ width: width(), height: 280 });
    }, 150);
  });
}());
