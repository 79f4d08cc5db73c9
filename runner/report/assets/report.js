(function () {
  "use strict";
  var start = performance.now();
  var doc = JSON.parse(document.getElementById("report-data").textContent);
  var parsed = performance.now();
  var config = {responsive: true, displaylogo: false, scrollZoom: true};
  function fmt(v, kind) {
    if (v === null || v === undefined || v === "") return "\u2014";
    if (kind === "time") {
      var iso = typeof v === "number" ? new Date(v).toISOString() : String(v);
      return iso.replace("T", " ").replace(/(\.000)?Z$/, "");
    }
    if (kind === "text") return String(v);
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return v > 0 ? "\u221e" : "-\u221e";
    if (kind === "pct") return (v * 100).toFixed(2) + "%";
    if (kind === "int") return v.toLocaleString("en-US");
    return v.toLocaleString("en-US", {maximumFractionDigits: 6});
  }
  function table(spec) {
    var root = document.getElementById(spec.id);
    var rows = spec.rows.slice(), page = 0, size = spec.page || 100, key = -1, dir = 1;
    var el = document.createElement("table"); el.className = "sortable";
    var head = el.createTHead().insertRow();
    var body = el.createTBody();
    var pager = document.createElement("div"); pager.className = "pager";
    spec.columns.forEach(function (c, i) {
      var th = document.createElement("th"); th.textContent = c.name;
      th.onclick = function () {
        dir = key === i ? -dir : 1; key = i;
        rows.sort(function (a, b) {
          var x = a[i], y = b[i];
          if (x === y) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          return (x < y ? -1 : 1) * dir;
        });
        Array.prototype.forEach.call(head.cells, function (h) { h.className = ""; });
        th.className = dir > 0 ? "asc" : "desc"; page = 0; draw();
      };
      head.appendChild(th);
    });
    function draw() {
      body.innerHTML = "";
      var last = Math.max(0, Math.ceil(rows.length / size) - 1);
      page = Math.min(Math.max(page, 0), last);
      rows.slice(page * size, page * size + size).forEach(function (r) {
        var tr = body.insertRow();
        spec.columns.forEach(function (c, i) {
          var td = tr.insertCell(); td.textContent = fmt(r[i], c.kind);
          if (c.sign && typeof r[i] === "number") td.className = r[i] > 0 ? "pos" : (r[i] < 0 ? "neg" : "");
        });
      });
      pager.innerHTML = "";
      if (rows.length > size) {
        var prev = document.createElement("button"); prev.textContent = "\u2039 prev";
        prev.onclick = function () { page -= 1; draw(); };
        var next = document.createElement("button"); next.textContent = "next \u203a";
        next.onclick = function () { page += 1; draw(); };
        pager.appendChild(prev);
        pager.appendChild(document.createTextNode("rows " + (page * size + 1) + "\u2013" +
          Math.min(rows.length, page * size + size) + " of " + rows.length));
        pager.appendChild(next);
      } else {
        pager.textContent = rows.length + (rows.length === 1 ? " row" : " rows");
      }
    }
    root.appendChild(pager); root.appendChild(el); draw();
  }
  (doc.tables || []).forEach(table);
  function lazyMarkers(gd, limit) {
    // show the entry/exit markers only while the visible range holds at most `limit`
    var traces = [];
    gd.data.forEach(function (t, i) { if (t.name === "entries" || t.name === "exits") traces.push(i); });
    gd.on("plotly_relayout", function () {
      var range = gd.layout.xaxis.range.map(function (r) {
        if (typeof r === "number") return r;
        var text = String(r).replace(" ", "T");
        return new Date(text.length > 10 ? text + "Z" : text + "T00:00:00Z").getTime();
      });
      var count = 0;
      traces.forEach(function (i) {
        gd.data[i].x.forEach(function (x) { if (x >= range[0] && x <= range[1]) count += 1; });
      });
      var visible = count <= limit ? true : "legendonly";
      if (gd.data[traces[0]].visible !== visible) Plotly.restyle(gd, {visible: visible}, traces);
    });
  }
  var timings = window.reportTimings = {script: start, parsed: parsed,
                                        tables: performance.now()};
  var drawn = Object.keys(doc.figures || {}).map(function (id) {
    var fig = doc.figures[id], t0 = performance.now();
    var gd = document.getElementById(id);
    return Plotly.newPlot(gd, fig.data, fig.layout, config).then(function () {
      timings[id] = performance.now() - t0;
      if (fig.layout.meta && fig.layout.meta.lazy_markers) lazyMarkers(gd, fig.layout.meta.lazy_markers);
    });
  });
  Promise.all(drawn).then(function () {
    timings.ready = performance.now();
    document.body.setAttribute("data-ready", "1");
  });
})();
