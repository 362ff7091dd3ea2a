/* Draw the dashboard's charts from data attributes (CSP: no inline JS).
 * Each <canvas data-chart="{...json...}"> carries its data; the JSON's "kind" picks the
 * renderer. Charts are drawn when they come near the viewport, also after htmx swaps. */
(function () {
  "use strict";

  var LEVEL_COLORS = {
    not_assessed: "#6b7280",
    aspirational: "#7c3aed",
    built: "#2563eb",
    tested: "#0f766e",
    benchmarked: "#15803d",
    contradicts: "#b91c1c"
  };
  var CLAIM_COLOR = "#b45309";
  var MS_DAY = 86400000;

  // Chart.js draws an array label as lines: long claim texts wrap instead of eating the plot.
  // Phones get narrower lines and at most two of them, so the axis never clips the text.
  function wrapLabel(text) {
    var narrow = window.innerWidth < 700;
    var width = narrow ? 18 : 30, most = narrow ? 2 : 3;
    var lines = [], line = "";
    String(text).split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    if (line) { lines.push(line); }
    if (lines.length > most) {
      lines = lines.slice(0, most);
      lines[most - 1] = lines[most - 1].replace(/…$/, "") + "…";
    }
    return lines;
  }

  function toTime(value) {
    return Date.parse(String(value).slice(0, 10) + "T00:00:00Z");
  }

  function yearTicks(axis) {
    return {
      stepSize: 365.25 * MS_DAY,
      callback: function (value) {
        return new Date(value).getUTCFullYear();
      }
    };
  }

  function timeAxis(data) {
    var start = toTime(data.start);
    var end = toTime(data.end);
    var ticks = yearTicks();
    return {
      type: "linear",
      min: start,
      max: end + 30 * MS_DAY,
      ticks: ticks,
      afterBuildTicks: function (axis) {
        var out = [];
        var first = new Date(axis.min).getUTCFullYear();
        var last = new Date(axis.max).getUTCFullYear();
        for (var y = first; y <= last; y++) {
          var t = Date.UTC(y, 0, 1);
          if (t >= axis.min && t <= axis.max) out.push({ value: t });
        }
        axis.ticks = out;
      },
      grid: { color: "#eceef1" }
    };
  }

  function fmtDate(t) {
    return new Date(t).toISOString().slice(0, 10);
  }

  function points(series) {
    return series.points.map(function (p) {
      return { x: toTime(p.x), when: p.when, y: p.y, label: p.label, level: p.level };
    });
  }

  function pointColors(series, fallback) {
    return series.points.map(function (p) {
      return LEVEL_COLORS[p.level] || fallback;
    });
  }

  var STYLES = {
    status: function (s) {
      return {
        type: "line", stepped: "before", borderColor: "#11161d", borderWidth: 2.5,
        backgroundColor: "#11161d", pointRadius: 0, pointHitRadius: 6, order: 5
      };
    },
    claim: function (s) {
      return {
        pointStyle: "triangle", pointRadius: 7, pointHoverRadius: 9,
        backgroundColor: "rgba(180,83,9,0.25)", borderColor: CLAIM_COLOR, borderWidth: 1.5
      };
    },
    evidence: function (s) {
      var colors = pointColors(s, LEVEL_COLORS.built);
      return { pointStyle: "circle", pointRadius: 7, pointHoverRadius: 9, backgroundColor: colors, borderColor: "#ffffff", borderWidth: 1.5 };
    },
    weak: function (s) {
      var colors = pointColors(s, LEVEL_COLORS.not_assessed);
      return { pointStyle: "circle", pointRadius: 6, backgroundColor: "#ffffff", borderColor: colors, borderWidth: 2 };
    },
    contradicts: function (s) {
      return { pointStyle: "crossRot", pointRadius: 9, borderColor: LEVEL_COLORS.contradicts, borderWidth: 3, backgroundColor: LEVEL_COLORS.contradicts };
    },
    change: function (s) {
      var colors = pointColors(s, "#11161d");
      return { pointStyle: "rectRot", pointRadius: 6, backgroundColor: colors, borderColor: "#11161d", borderWidth: 1 };
    },
    outcome: function (s) {
      return { pointStyle: "rect", pointRadius: 8, backgroundColor: "#7f1d1d", borderColor: "#7f1d1d" };
    }
  };

  function datasets(data) {
    return data.series.map(function (s) {
      var style = (STYLES[s.style] || STYLES.evidence)(s);
      var ds = { label: s.name, data: points(s), showLine: false };
      for (var k in style) ds[k] = style[k];
      if (ds.type === "line") ds.showLine = true;
      return ds;
    });
  }

  function tooltip(extra) {
    return {
      callbacks: {
        title: function (items) {
          // `when` is the date as precisely as known ("Aug 2019"); x is only where it is drawn.
          return items.length ? items[0].raw.when || fmtDate(items[0].raw.x) : "";
        },
        label: function (item) {
          var raw = item.raw;
          return (item.dataset.label + ": " + (raw.label || "")).slice(0, 140);
        }
      }
    };
  }

  // A scatter of dated points: the time axis, legend and tooltip are shared, the y axis varies.
  function timeScatter(data, yAxis) {
    return {
      type: "scatter",
      data: { datasets: datasets(data) },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: { x: timeAxis(data), y: yAxis },
        plugins: { legend: { position: "bottom", labels: { usePointStyle: true, boxWidth: 8 } }, tooltip: tooltip() }
      }
    };
  }

  var RENDERERS = {
    "level-timeline": function (data) {
      return timeScatter(data, {
        min: -0.3, max: data.levels.length - 0.6,
        ticks: { stepSize: 1, callback: function (v) { return data.levels[v] || ""; } },
        grid: { color: "#eceef1" }
      });
    },
    "capability-timeline": function (data) {
      return timeScatter(data, {
        reverse: true, min: -0.6, max: data.rows.length - 0.4,
        afterBuildTicks: function (axis) {
          axis.ticks = data.rows.map(function (_, i) { return { value: i }; });
        },
        ticks: {
          autoSkip: false,
          callback: function (v) {
            var name = data.rows[v] || "";
            return name.length > 26 ? name.slice(0, 25) + "…" : name;
          }
        },
        grid: { color: "#eceef1" }
      });
    },
    "claimed-vs-simulated": function (data) {
      return {
        type: "bar",
        data: {
          labels: data.bars.map(function (b) { return wrapLabel(b.label); }),
          datasets: [
            { label: "Claimed (100 %)", data: data.bars.map(function () { return 100; }), backgroundColor: "rgba(180,83,9,0.35)", borderColor: CLAIM_COLOR, borderWidth: 1 },
            { label: "Predicted by the simulation, % of claimed", data: data.bars.map(function (b) { return b.percent; }), backgroundColor: "#0f766e" }
          ]
        },
        options: {
          indexAxis: "y", maintainAspectRatio: false, animation: false,
          scales: {
            x: { beginAtZero: true, title: { display: true, text: "% of the claimed figure" } },
            y: { ticks: { autoSkip: false } }
          },
          plugins: {
            legend: { position: "bottom" },
            tooltip: {
              callbacks: {
                label: function (item) {
                  var b = data.bars[item.dataIndex];
                  return item.datasetIndex === 0
                    ? "Claimed: " + b.claimed + " " + b.unit
                    : (b.finding ? "Predicted (finding): " : "Predicted: ") + Number(b.simulated).toPrecision(4) + " " + b.unit + " (" + b.percent + " %)";
                }
              }
            }
          }
        }
      };
    },
    "bars": function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (d, i) {
            return { label: d.label, data: d.values, backgroundColor: d.color || ["#1d4ed8", "#b45309", "#0f766e", "#7c3aed", "#b91c1c", "#6b7280"][i % 6], stack: d.stack };
          })
        },
        options: {
          indexAxis: data.horizontal ? "y" : "x", maintainAspectRatio: false, animation: false,
          scales: {
            x: { stacked: !!data.stacked, beginAtZero: true, title: { display: !!data.x_title, text: data.x_title || "" } },
            y: { stacked: !!data.stacked, beginAtZero: true, title: { display: !!data.y_title, text: data.y_title || "" } }
          },
          plugins: { legend: { position: "bottom", display: data.datasets.length > 1 } }
        }
      };
    },
    "lines": function (data) {
      return {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.datasets.map(function (d, i) {
            var color = d.color || ["#1d4ed8", "#b45309", "#0f766e", "#7c3aed"][i % 4];
            return { label: d.label, data: d.values, borderColor: color, backgroundColor: color, borderDash: d.dashed ? [6, 4] : undefined, tension: 0, pointRadius: 3 };
          })
        },
        options: {
          maintainAspectRatio: false, animation: false,
          scales: {
            x: { title: { display: !!data.x_title, text: data.x_title || "" } },
            y: { beginAtZero: true, title: { display: !!data.y_title, text: data.y_title || "" } }
          },
          plugins: { legend: { position: "bottom" } }
        }
      };
    }
  };

  function drawOne(canvas) {
    if (canvas.dataset.drawn === "1" || !canvas.isConnected) return;
    var data;
    try {
      data = JSON.parse(canvas.dataset.chart);
    } catch (e) {
      return;
    }
    var renderer = RENDERERS[data.kind];
    if (!renderer) return;
    var existing = window.Chart.getChart(canvas);
    if (existing) existing.destroy();
    new window.Chart(canvas, renderer(data));
    canvas.dataset.drawn = "1";
  }

  // Chart.js (200 KB) is fetched only when the first chart comes near the viewport, and each
  // chart is drawn then: a page whose charts are further down costs nothing on first load.
  var CHART_JS = document.currentScript && document.currentScript.dataset.chartjs;
  var waiting = [];
  var loading = false;

  function whenChartJs(callback) {
    if (typeof window.Chart !== "undefined") return callback();
    waiting.push(callback);
    if (loading || !CHART_JS) return;
    loading = true;
    var script = document.createElement("script");
    script.src = CHART_JS;
    script.onload = function () {
      var queued = waiting;
      waiting = [];
      queued.forEach(function (fn) { fn(); });
    };
    document.head.appendChild(script);
  }

  var observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) return;
          observer.unobserve(entry.target);
          whenChartJs(function () { drawOne(entry.target); });
        });
      }, { rootMargin: "300px 0px" })
    : null;

  function draw(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn === "1") return;
      if (observer) observer.observe(canvas);
      else whenChartJs(function () { drawOne(canvas); });
    });
  }

  draw(document);
  document.addEventListener("htmx:load", function (evt) { draw(evt.target); });
})();
