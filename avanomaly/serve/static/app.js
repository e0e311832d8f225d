// avanomaly upload page: posts the file to /score and draws the result. No libraries, nothing external.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PLOT = { w: 800, h: 260, left: 55, right: 15, top: 15, bottom: 35 };

  function fmt(x, digits) {
    return (x === null || x === undefined || Number.isNaN(x)) ? "n/a" : Number(x).toFixed(digits);
  }

  function svgEl(name, attrs, text) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function drawPlot(svg, times, nll, skipSeconds) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const pts = [];
    for (let i = 0; i < nll.length; i++) if (nll[i] !== null && times[i] !== null) pts.push([times[i], nll[i]]);
    if (pts.length === 0) {
      svg.appendChild(svgEl("text", { x: PLOT.w / 2, y: PLOT.h / 2, "text-anchor": "middle" }, "no frames"));
      return;
    }
    let x0 = 0, x1 = Math.max(...pts.map((p) => p[0]));
    let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
    const pw = PLOT.w - PLOT.left - PLOT.right, ph = PLOT.h - PLOT.top - PLOT.bottom;
    const sx = (x) => PLOT.left + (x - x0) / (x1 - x0) * pw;
    const sy = (y) => PLOT.top + (1 - (y - y0) / (y1 - y0)) * ph;
    if (skipSeconds > 0) {
      svg.appendChild(svgEl("rect", { class: "skip", x: sx(0), y: PLOT.top,
        width: Math.max(0, sx(Math.min(skipSeconds, x1)) - sx(0)), height: ph }));
      svg.appendChild(svgEl("text", { x: sx(0) + 4, y: PLOT.top + 14 }, "not scored"));
    }
    svg.appendChild(svgEl("line", { class: "axis", x1: PLOT.left, y1: PLOT.top + ph, x2: PLOT.left + pw, y2: PLOT.top + ph }));
    svg.appendChild(svgEl("line", { class: "axis", x1: PLOT.left, y1: PLOT.top, x2: PLOT.left, y2: PLOT.top + ph }));
    const d = pts.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    svg.appendChild(svgEl("path", { class: "line", d: d }));
    const ticks = 5;
    for (let i = 0; i <= ticks; i++) {
      const xv = x0 + (x1 - x0) * i / ticks, yv = y0 + (y1 - y0) * i / ticks;
      svg.appendChild(svgEl("text", { x: sx(xv), y: PLOT.h - PLOT.bottom + 16, "text-anchor": "middle" }, xv.toFixed(1)));
      svg.appendChild(svgEl("text", { x: PLOT.left - 6, y: sy(yv) + 4, "text-anchor": "end" }, yv.toFixed(2)));
    }
    svg.appendChild(svgEl("text", { x: PLOT.left + pw / 2, y: PLOT.h - 4, "text-anchor": "middle" }, "time (s)"));
    svg.appendChild(svgEl("text", { x: 12, y: PLOT.top + ph / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (PLOT.top + ph / 2) + ")" }, "NLL"));
  }

  function showError(msg) {
    $("error").textContent = msg;
    $("error").hidden = false;
  }

  function showResult(r) {
    const v = $("verdict");
    v.className = "verdict " + (r.verdict === "fake" || r.verdict === "real" ? r.verdict : "none");
    const why = (r.abstain && r.abstain.length) ? " (" + r.abstain.join(", ") + ")" : "";
    v.textContent = (r.verdict ? r.verdict.toUpperCase() : "uncalibrated") + why;
    $("name").textContent = r.path || "";
    $("score").textContent = fmt(r.score, 3);
    $("threshold").textContent = fmt(r.threshold, 3);
    $("percentile").textContent = r.percentile === null ? "n/a" : fmt(r.percentile, 1) + " %";
    $("offset").textContent = r.av_offset_frames + " frames (confidence " + fmt(r.av_offset_confidence, 2) + ")";
    $("facerate").textContent = r.face_rate === null ? "n/a" : fmt(100 * r.face_rate, 0) + " %";
    $("duration").textContent = fmt(r.duration, 2) + " s";
    const skip = (r.aggregation && r.aggregation.skip_seconds) || 0;
    drawPlot($("plot"), r.frame_times || [], r.frame_nll || [], skip);
    const ul = $("warnings");
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    for (const w of r.warnings || []) {
      const li = document.createElement("li");
      li.textContent = w;
      ul.appendChild(li);
    }
    const blob = new Blob([JSON.stringify(r, null, 2)], { type: "application/json" });
    $("json").href = URL.createObjectURL(blob);
    $("result").hidden = false;
  }

  async function submit(ev) {
    ev.preventDefault();
    const input = $("file");
    if (!input.files.length) { showError("choose a video file first"); return; }
    $("error").hidden = true;
    $("result").hidden = true;
    $("submit").disabled = true;
    $("status").textContent = "Scoring\u2026";
    const body = new FormData();
    body.append("file", input.files[0]);
    try {
      const resp = await fetch("/score", { method: "POST", body: body });
      let data = null;
      try { data = await resp.json(); } catch (e) { data = null; }
      if (!resp.ok) {
        showError("Error " + resp.status + (data ? " (" + data.error + "): " + data.detail : ""));
        $("status").textContent = "failed";
      } else {
        showResult(data);
        $("status").textContent = "done";
      }
    } catch (e) {
      showError("request failed: " + e);
      $("status").textContent = "failed";
    } finally {
      $("submit").disabled = false;
    }
  }

  async function loadHealth() {
    try {
      const h = await (await fetch("/health")).json();
      const m = h.model || {};
      $("model").textContent = "model: " + (m.source || m.type || "?") + " \u00b7 " +
        (m.calibrated ? "calibrated" : "uncalibrated") + " \u00b7 avanomaly " + h.avanomaly_version +
        " \u00b7 max upload " + h.limits.max_upload_mb + " MB";
    } catch (e) {
      $("model").textContent = "model: unavailable (" + e + ")";
    }
  }

  $("upload").addEventListener("submit", submit);
  loadHealth();
})();
