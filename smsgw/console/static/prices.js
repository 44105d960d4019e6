/* The Prices page's chart: the table's prices (the JSON block the page writes from the same
   rows) drawn with the vendored uPlot. One line per market and price type; a filled point is
   a price, a hollow one an old price (prices.stale_days, the page's legend says it); a line
   is broken where its market had no price for longer than that. Without JavaScript the
   table alone is shown. */
(function () {
  "use strict";
  var box = document.getElementById("price-chart-box");
  var target = document.getElementById("price-chart");
  var source = document.getElementById("price-series");
  if (!box || !target || !source || typeof uPlot === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  if (!data.series.length) {
    return;
  }
  var COLORS = ["#0b6e4f", "#1d4ed8", "#b45309", "#9333ea", "#be123c", "#0e7490",
                "#4d7c0f", "#475569", "#c2410c", "#7c3aed", "#0f766e", "#a16207"];
  var DAY = 86400;
  var number = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

  function seconds(day) {   // "2026-04-15" -> that day's midnight UTC, in seconds
    return Date.UTC(+day.slice(0, 4), +day.slice(5, 7) - 1, +day.slice(8, 10)) / 1000;
  }

  function dayText(value) {  // 15 Apr 2026
    return new Date(value * 1000).toLocaleDateString("en-GB", {
      timeZone: "UTC", day: "numeric", month: "short", year: "numeric" });
  }

  // Every date of every line, and the day after each gap starts: nulls from there to the
  // price after the gap break that line (uPlot draws across undefined: a date another line
  // has and this one has not).
  var days = {};
  data.series.forEach(function (line) {
    line.points.forEach(function (point, i) {
      days[seconds(point[0])] = true;
      if (point[3] && i > 0) {
        days[seconds(line.points[i - 1][0]) + DAY] = true;
      }
    });
  });
  var x = Object.keys(days).map(Number).sort(function (a, b) { return a - b; });
  var index = {};
  x.forEach(function (value, i) { index[value] = i; });
  var ys = [];
  var old = [];
  data.series.forEach(function (line) {
    var y = new Array(x.length);
    var stale = new Array(x.length);
    line.points.forEach(function (point, i) {
      var at = index[seconds(point[0])];
      y[at] = point[1];
      stale[at] = point[2];
      if (point[3] && i > 0) {   // nothing between the two prices: uPlot leaves it blank
        for (var j = index[seconds(line.points[i - 1][0])] + 1; j < at; j++) {
          y[j] = null;
        }
      }
    });
    ys.push(y);
    old.push(stale);
  });

  // Points drawn by hand: filled for a price, hollow for an old one.
  function marks(u) {
    var ctx = u.ctx;
    var ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    ctx.lineWidth = 1.5 * ratio;
    for (var s = 1; s < u.series.length; s++) {
      if (!u.series[s].show) {
        continue;
      }
      var color = COLORS[(s - 1) % COLORS.length];
      var y = u.data[s];
      for (var i = 0; i < y.length; i++) {
        if (y[i] == null) {
          continue;
        }
        ctx.beginPath();
        ctx.arc(u.valToPos(u.data[0][i], "x", true), u.valToPos(y[i], "y", true),
                3.2 * ratio, 0, 2 * Math.PI);
        ctx.fillStyle = old[s - 1][i] ? "#fff" : color;
        ctx.fill();
        ctx.strokeStyle = color;
        ctx.stroke();
      }
    }
    ctx.restore();
  }

  function size() {
    var width = Math.max(240, target.clientWidth);
    return { width: width, height: width < 500 ? 220 : 300 };
  }

  var unit = (target.dataset.currency || "") + " per " + (target.dataset.unit || "");
  var series = [{ label: "Date", value: function (u, v) { return v == null ? "–" : dayText(v); } }];
  data.series.forEach(function (line, i) {
    series.push({
      label: line.label,
      stroke: COLORS[i % COLORS.length],
      width: 2,
      spanGaps: false,
      points: { show: false },
      value: function (u, v) { return v == null ? "–" : line.currency + " " + number.format(v); }
    });
  });

  box.hidden = false;
  var dims = size();
  var chart = new uPlot({
    width: dims.width,
    height: dims.height,
    tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
    scales: { x: { time: true } },
    series: series,
    axes: [{}, { label: unit, size: dims.width < 500 ? 48 : 64,
                 values: function (u, values) { return values.map(function (v) {
                   return number.format(v); }); } }],
    // Values under the cursor where there is room for them; a phone's legend names lines.
    legend: { live: dims.width >= 500 },
    hooks: { draw: [marks] }
  }, [x].concat(ys), target);
  target.setAttribute("data-drawn", String(data.series.length));

  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(function () { chart.setSize(size()); }, 150);
  });
})();
