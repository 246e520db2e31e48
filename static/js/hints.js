// The colour hint editor on a photograph's staff page (portal/jobs/templates/jobs/hint_editor.html).
// Marks are points, strokes (open polylines) and regions (closed polygons), their vertices fractions of the picture
// (x from the left, y from the top), each with an sRGB hex colour and a reach; with the colour strength they make
// the hints document of the README's "Colour hints", written into the colorize form's hidden `hints` field on
// every change (the server checks it with the library's rule). Everything works from the keyboard too: the
// focused photograph has a cursor that the arrow keys move (the keys are listed on the page).
// On a film (data-film-frames) the marks go on frames: each frame shown has its own marks, the still of a frame comes
// from the quick preview's worker (HintPreview with a frame), and the document is {"keyframes": {"120": {...}}}.
// Plain script, no inline code (the site's Content Security Policy allows this site's files only).
(function () {
  "use strict";

  var editor = document.querySelector("[data-hint-editor]");
  var field = document.getElementById("id_hints");
  if (!editor || !field) return;
  var form = field.form;
  function find(selector) { return editor.querySelector(selector); }
  var stage = find("[data-hint-stage]");
  var photo = find("[data-hint-photo]");
  var lines = find("[data-hint-lines]");
  var cursorMark = find("[data-hint-cursor]");
  var rows = find("[data-hint-rows]");
  var empty = find("[data-hint-empty]");
  var status = find("[data-hint-status]");
  var count = form.querySelector("[data-hint-count]");
  var finishButton = find("[data-hint-finish]");
  var cancelButton = find("[data-hint-cancel]");
  var strengthOn = find("[data-hint-strength-on]");
  var strengthInput = find("[data-hint-strength]");
  var strengthValue = find("[data-hint-strength-value]");
  var referenceFile = find("[data-hint-reference-file]");
  var reference = find("[data-hint-reference]");
  var referenceHelp = find("[data-hint-reference-help]");
  var previewButton = find("[data-hint-preview]");
  var previewFigure = find("[data-hint-preview-figure]");
  var previewImage = find("[data-hint-preview-image]");
  var frameInput = find("[data-hint-frame]");
  var frameGo = find("[data-hint-frame-go]");
  var frameList = find("[data-hint-frame-list]");
  var timecode = find("[data-hint-timecode]");
  var smoothing = form.querySelector("[name=smoothing]");

  // The library's rules as the page gives them (portal.jobs.hints.editor_settings).
  var settings = {};
  try { settings = JSON.parse(editor.getAttribute("data-hint-settings") || "{}") || {}; } catch (e) { settings = {}; }
  var REACHES = settings.reaches || ["small", "medium", "region"];
  var DEFAULT_REACH = settings.defaultReach || "medium";
  var MAX_POINTS = settings.maxPoints || 200;
  var MAX_STROKES = settings.maxStrokes || 50;
  var MAX_VERTICES = settings.maxVertices || 500;
  var STRENGTH = settings.strength || [0.5, 1.5];
  var NEW_COLOR = "#2f5a8a";
  var KIND = { point: "Point", stroke: "Stroke", region: "Region" };
  var TOOL_KEYS = { p: "point", s: "stroke", r: "region" };
  var LEAST = { stroke: 2, region: 3 };  // vertices a finished stroke or region needs
  var DRAG_STEP = 0.008;  // a dragged stroke takes a vertex each time the pointer has moved this far
  var CLOSE_PX = 12;      // a click this near a region's first corner closes it

  var marks = [];      // {kind, points: [[x, y], ...], color, reach}: the points first, then strokes and regions
  var selected = -1;
  var drawing = null;  // the stroke or region being drawn, not yet in `marks`; `by`: "mouse" (a stroke dragged),
                       // "clicks" (a region clicked corner by corner) or "keys"
  var dragging = null; // {index, from: [x, y]} while a handle is dragged
  var cursor = [0.5, 0.5];
  var tool = "point";
  // A film: the frames and their marks ({frame number: marks}); `marks` is the list of the frame shown.
  var film = editor.hasAttribute("data-film-frames");
  var FRAMES = Number(editor.getAttribute("data-film-frames")) || 1;
  var FPS = Number(editor.getAttribute("data-film-fps")) || 24;
  var POSTER = Number(editor.getAttribute("data-poster-frame")) || 0;
  var keyframes = {};
  var frame = POSTER;
  var smoothingChosen = false;  // staff chose the smoothing themselves: the first mark leaves it as it is

  function clamp(v) { v = Number(v); return isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.5; }
  function percent(v) { return Math.round(v * 1000) / 10; }
  function round(v) { return Math.round(v * 10000) / 10000; }
  function hex(color) {
    var m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(String(color || "").trim());
    if (!m) return NEW_COLOR;
    var d = m[1].toLowerCase();
    return "#" + (d.length === 3 ? d.replace(/(.)/g, "$1$1") : d);
  }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function say(text) { status.textContent = text; }
  function where(xy) { return percent(xy[0]) + "% across, " + percent(xy[1]) + "% down"; }
  function name(i) { return KIND[marks[i].kind] + " " + (i + 1); }
  function lastColor() { return marks.length ? marks[marks.length - 1].color : NEW_COLOR; }
  function strokeCount() { return marks.filter(function (m) { return m.kind !== "point"; }).length; }
  function strength() { return strengthOn.checked ? Number(strengthInput.value) : null; }

  // ---------------------------------------------------------------- the hints document
  function marksDocument(list) {
    var doc = { points: [], strokes: [] };
    list.forEach(function (m) {
      var reach = m.reach !== DEFAULT_REACH ? { reach: m.reach } : {};
      if (m.kind === "point") {
        doc.points.push(Object.assign({ x: round(m.points[0][0]), y: round(m.points[0][1]), color: m.color }, reach));
      } else {
        doc.strokes.push(Object.assign({
          points: m.points.map(function (p) { return [round(p[0]), round(p[1])]; }),
          color: m.color, closed: m.kind === "region",
        }, reach));
      }
    });
    if (!doc.strokes.length) delete doc.strokes;
    return doc;
  }

  function markedFrames() {
    keyframes[frame] = marks;
    return Object.keys(keyframes).map(Number).filter(function (f) { return keyframes[f].length; })
      .sort(function (a, b) { return a - b; });
  }
  function allMarks() {
    return film ? markedFrames().reduce(function (all, f) { return all.concat(keyframes[f]); }, []) : marks;
  }

  function documentOf() {
    var doc;
    if (film) {
      doc = { keyframes: {} };
      markedFrames().forEach(function (f) { doc.keyframes[String(f)] = marksDocument(keyframes[f]); });
    } else doc = marksDocument(marks);
    if (strength() !== null) doc.strength = strength();
    return doc;
  }

  function summary() {
    var n = { point: 0, stroke: 0, region: 0 };
    allMarks().forEach(function (m) { n[m.kind] += 1; });
    var parts = [];
    if (n.point) parts.push(plural(n.point, "colour hint"));
    if (n.stroke) parts.push(plural(n.stroke, "stroke"));
    if (n.region) parts.push(plural(n.region, "region"));
    var text = parts.length > 1 ? parts.slice(0, -1).join(", ") + " and " + parts[parts.length - 1] : parts.join("");
    var frames = film ? markedFrames().length : 0;
    if (frames) text += " on " + plural(frames, "frame");
    if (strength() !== null) text += (text ? ", " : "") + "colour strength " + strength();
    return text;
  }

  function save() {
    field.value = allMarks().length || strength() !== null ? JSON.stringify(documentOf()) : "";
    if (count) {
      count.textContent = field.value
        ? summary() + " given."
        : "No colour hints: the model chooses every colour. Place some under “Colour hints”.";
    }
    empty.hidden = marks.length > 0;
    if (film) showFrames();
  }

  // ---------------------------------------------------------------- drawing
  var SVG = "http://www.w3.org/2000/svg";
  function svgLine(m, color, width, extra) {
    var el = document.createElementNS(SVG, m.kind === "region" && !m.open ? "polygon" : "polyline");
    el.setAttribute("points", m.points.map(function (p) { return (p[0] * 100) + "," + (p[1] * 100); }).join(" "));
    el.setAttribute("fill", "none");
    el.setAttribute("stroke", color);
    el.setAttribute("stroke-width", width);
    el.setAttribute("stroke-linecap", "round");
    el.setAttribute("stroke-linejoin", "round");
    el.setAttribute("vector-effect", "non-scaling-stroke");
    Object.keys(extra || {}).forEach(function (k) { el.setAttribute(k, extra[k]); });
    return el;
  }

  // The strokes and regions (and the one being drawn) as lines over the photograph.
  function drawLines() {
    lines.textContent = "";
    marks.forEach(function (m, i) {
      if (m.kind === "point") return;
      var g = document.createElementNS(SVG, "g");
      g.setAttribute("data-hint-line", i + 1);
      var halo = i === selected ? "#f2c14e" : "#ffffff";
      if (m.kind === "region") {
        g.appendChild(svgLine(m, halo, i === selected ? 7 : 5, { fill: m.color, "fill-opacity": "0.35" }));
        g.appendChild(svgLine(m, m.color, 3));
      } else {
        g.appendChild(svgLine(m, halo, i === selected ? 12 : 10));
        g.appendChild(svgLine(m, m.color, 6));
      }
      lines.appendChild(g);
    });
    if (drawing) {
      var d = { kind: drawing.kind, points: drawing.points, open: true };
      lines.appendChild(svgLine(d, "#ffffff", drawing.kind === "stroke" ? 10 : 5));
      lines.appendChild(svgLine(d, drawing.color, drawing.kind === "stroke" ? 6 : 3,
        drawing.kind === "region" ? { "stroke-dasharray": "6 4" } : {}));
    }
    stage.querySelectorAll("[data-hint-vertex]").forEach(function (v) { v.remove(); });
    if (drawing) {
      drawing.points.forEach(function (p, k) {
        var v = document.createElement("div");
        v.className = "hint-vertex" + (k === 0 && drawing.kind === "region" ? " first" : "");
        v.setAttribute("data-hint-vertex", k + 1);
        v.setAttribute("aria-hidden", "true");
        v.style.left = (p[0] * 100) + "%";
        v.style.top = (p[1] * 100) + "%";
        v.style.borderColor = drawing.color;
        stage.appendChild(v);
      });
    }
    finishButton.hidden = !drawing;
    cancelButton.hidden = !drawing;
    if (drawing) {
      finishButton.textContent = drawing.kind === "region" ? "Close the region" : "Finish the stroke";
      finishButton.disabled = drawing.points.length < LEAST[drawing.kind];
    }
  }

  function drawCursor() {
    cursorMark.style.left = (cursor[0] * 100) + "%";
    cursorMark.style.top = (cursor[1] * 100) + "%";
  }

  function handle(i) { return stage.querySelector("[data-hint-marker='" + (i + 1) + "']"); }
  function row(i) { return rows.querySelector("[data-hint-row='" + (i + 1) + "']"); }

  // Bring one mark's handle and table row up to date (the field being typed in keeps its text).
  function update(i) {
    var m = marks[i], h = handle(i), r = row(i), at = m.points[0];
    h.style.left = (at[0] * 100) + "%";
    h.style.top = (at[1] * 100) + "%";
    h.style.backgroundColor = m.color;
    h.classList.toggle("selected", i === selected);
    var shape = m.kind === "point" ? "" : ", " + plural(m.points.length, "corner") + ", starting";
    h.setAttribute("aria-label", name(i) + ", colour " + m.color + ", reach " + m.reach + shape + " at " + where(at) +
      ". Arrow keys move it, Delete removes it.");
    h.setAttribute("aria-pressed", i === selected ? "true" : "false");
    r.classList.toggle("selected", i === selected);
    var x = r.querySelector("[data-hint-x]"), y = r.querySelector("[data-hint-y]");
    var c = r.querySelector("[data-hint-color]"), reach = r.querySelector("[data-hint-reach]");
    if (document.activeElement !== x) x.value = percent(at[0]);
    if (document.activeElement !== y) y.value = percent(at[1]);
    if (document.activeElement !== c) c.value = m.color;
    reach.value = m.reach;
    drawLines();
    save();
  }

  function input(type, label, attrs) {
    var el = document.createElement("input");
    el.type = type;
    el.setAttribute("aria-label", label);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }
  function cell(tr, child) {
    var td = document.createElement("td");
    if (typeof child === "string") td.textContent = child; else td.appendChild(child);
    tr.appendChild(td);
    return td;
  }

  // Rebuild every handle and row (after a mark is added or removed: the numbers change).
  function render() {
    stage.querySelectorAll("[data-hint-marker]").forEach(function (m) { m.remove(); });
    rows.textContent = "";
    marks.forEach(function (m, i) {
      var n = i + 1, what = KIND[m.kind] + " " + n, corner = m.kind === "point" ? "" : " of its first corner";
      var h = document.createElement("button");
      h.type = "button";
      h.className = "hint-marker hint-marker-" + m.kind;
      h.setAttribute("data-hint-marker", n);
      h.setAttribute("data-hint-kind", m.kind);
      h.textContent = n;
      stage.appendChild(h);

      var tr = document.createElement("tr");
      tr.setAttribute("data-hint-row", n);
      tr.setAttribute("data-hint-kind", m.kind);
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = n;
      tr.appendChild(th);
      cell(tr, m.kind === "point" ? "point" : m.kind + " (" + plural(m.points.length, "corner") + ")");
      [["data-hint-x", what + ": x" + corner + ", percent of the width from the left"],
       ["data-hint-y", what + ": y" + corner + ", percent of the height from the top"]].forEach(function (spec) {
        var attrs = { min: "0", max: "100", step: "0.1", inputmode: "decimal" };
        attrs[spec[0]] = "";
        cell(tr, input("number", spec[1], attrs));
      });
      cell(tr, input("color", what + ": colour", { "data-hint-color": "" }));
      var reach = document.createElement("select");
      reach.setAttribute("data-hint-reach", "");
      reach.setAttribute("aria-label", what + ": reach, how far its colour spreads");
      REACHES.forEach(function (r) {
        var o = document.createElement("option");
        o.value = r;
        o.textContent = r;  // the default (DEFAULT_REACH) is what a new mark starts with
        reach.appendChild(o);
      });
      cell(tr, reach);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.setAttribute("data-hint-remove", "");
      remove.setAttribute("aria-label", "Remove " + what.toLowerCase());
      remove.textContent = "Remove";
      cell(tr, remove);
      rows.appendChild(tr);
      update(i);
    });
    drawLines();
    save();
  }

  function select(i) {
    var before = selected;
    selected = i;
    if (before >= 0 && before < marks.length) update(before);
    if (i >= 0 && i < marks.length) update(i);
  }

  // ---------------------------------------------------------------- adding, drawing, moving, removing
  function add(mark) {
    var isPoint = mark.kind === "point";
    if (isPoint && marks.length - strokeCount() >= MAX_POINTS) { say("At most " + MAX_POINTS + " points are taken."); return -1; }
    if (!isPoint && strokeCount() >= MAX_STROKES) { say("At most " + MAX_STROKES + " strokes and regions are taken."); return -1; }
    var at = isPoint ? marks.length - strokeCount() : marks.length;  // the points stay first, as in the document
    marks.splice(at, 0, mark);
    selected = at;
    render();
    if (film && smoothing && !smoothingChosen && smoothing.value !== "keyframes" &&
        smoothing.querySelector("option[value=keyframes]")) {
      smoothing.value = "keyframes";  // a hinted frame becomes a keyframe whose colour the shot keeps
    }
    return at;
  }

  function addPoint(xy) {
    var i = add({ kind: "point", points: [[clamp(xy[0]), clamp(xy[1])]], color: lastColor(), reach: DEFAULT_REACH });
    if (i >= 0) say(name(i) + " added, " + where(marks[i].points[0]) + ", colour " + marks[i].color + ".");
  }

  function startDrawing(kind, xy, by) {
    drawing = { kind: kind, points: [[clamp(xy[0]), clamp(xy[1])]], color: lastColor(), reach: DEFAULT_REACH, by: by };
    drawLines();
  }

  function addVertex(xy) {
    if (drawing.points.length >= MAX_VERTICES) { say("At most " + MAX_VERTICES + " corners are taken; finish it."); return; }
    drawing.points.push([clamp(xy[0]), clamp(xy[1])]);
    drawLines();
  }

  function finishDrawing() {
    if (!drawing) return;
    var d = drawing, least = LEAST[d.kind];
    if (d.points.length < least) {
      say(KIND[d.kind] + ": " + plural(d.points.length, "corner") + " so far; it needs at least " + least +
        (d.kind === "stroke" ? " (press, drag and release, or add corners with Enter)." : "."));
      return;
    }
    drawing = null;
    var i = add({ kind: d.kind, points: d.points, color: d.color, reach: d.reach });
    drawLines();
    if (i >= 0) say(name(i) + " added, " + plural(d.points.length, "corner") + ", colour " + d.color + ".");
  }

  function cancelDrawing(why) {
    if (!drawing) return;
    var kind = drawing.kind;
    drawing = null;
    drawLines();
    say(why || "The " + kind + " being drawn was cancelled.");
  }

  function removeAt(i) {
    var was = name(i);
    marks.splice(i, 1);
    selected = Math.min(i, marks.length - 1);
    render();
    say(was + " removed; " + plural(marks.length, "mark") + " left.");
  }

  function moveMark(i, dx, dy) {
    var m = marks[i];  // the whole mark moves, kept inside the picture
    var xs = m.points.map(function (p) { return p[0]; }), ys = m.points.map(function (p) { return p[1]; });
    dx = Math.min(Math.max(dx, -Math.min.apply(null, xs)), 1 - Math.max.apply(null, xs));
    dy = Math.min(Math.max(dy, -Math.min.apply(null, ys)), 1 - Math.max.apply(null, ys));
    m.points = m.points.map(function (p) { return [p[0] + dx, p[1] + dy]; });
    update(i);
  }

  function setTool(value) {
    if (drawing && value !== tool) {
      say("Finish (F) or cancel (Escape) the " + drawing.kind + " being drawn first.");
      return;
    }
    tool = value;
    editor.querySelectorAll("[data-hint-tool]").forEach(function (r) { r.checked = r.value === value; });
    stage.setAttribute("data-tool", value);
  }

  function fractionAt(event) {
    var box = photo.getBoundingClientRect();
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
  }

  function nearFirstCorner(event) {
    if (!drawing || drawing.kind !== "region" || drawing.points.length < LEAST.region) return false;
    var box = photo.getBoundingClientRect(), first = drawing.points[0];
    return Math.hypot(event.clientX - box.left - first[0] * box.width,
      event.clientY - box.top - first[1] * box.height) <= CLOSE_PX;
  }

  // ---------------------------------------------------------------- the mouse (and touch, pen)
  editor.querySelectorAll("[data-hint-tool]").forEach(function (r) {
    r.addEventListener("change", function () { if (r.checked) setTool(r.value); });
  });
  finishButton.addEventListener("click", finishDrawing);
  cancelButton.addEventListener("click", function () { cancelDrawing(); });

  stage.addEventListener("pointerdown", function (event) {
    stage.classList.remove("keys");
    var h = event.target.closest("[data-hint-marker]");
    if (h) {
      var i = Number(h.getAttribute("data-hint-marker")) - 1;
      dragging = { index: i, from: fractionAt(event), moved: false };
      select(i);
      h.setPointerCapture(event.pointerId);
      event.preventDefault();
    } else if (tool === "stroke" && event.button === 0 && !drawing) {
      startDrawing("stroke", fractionAt(event), "mouse");
      stage.setPointerCapture(event.pointerId);
      event.preventDefault();
    }
  });
  stage.addEventListener("pointermove", function (event) {
    var at = fractionAt(event);
    if (dragging) {
      moveMark(dragging.index, at[0] - dragging.from[0], at[1] - dragging.from[1]);
      dragging.from = at;
      dragging.moved = true;
    } else if (drawing && drawing.by === "mouse") {
      var last = drawing.points[drawing.points.length - 1];
      if (Math.hypot(at[0] - last[0], at[1] - last[1]) >= DRAG_STEP) addVertex(at);
    }
  });
  function endPointer(event) {
    if (dragging) {
      var i = dragging.index;
      if (dragging.moved) say(name(i) + " moved to " + where(marks[i].points[0]) + ".");
      dragging = null;
      var h = handle(i);
      if (h) h.focus();
    } else if (drawing && drawing.by === "mouse") {
      if (event.type === "pointerup") {
        var at = fractionAt(event), last = drawing.points[drawing.points.length - 1];
        if (at[0] !== last[0] || at[1] !== last[1]) addVertex(at);
      }
      if (drawing.points.length < LEAST.stroke) cancelDrawing("To draw a stroke, press on the photograph, drag and release.");
      else finishDrawing();
    }
  }
  stage.addEventListener("pointerup", endPointer);
  stage.addEventListener("pointercancel", endPointer);

  photo.addEventListener("click", function (event) {
    var at = fractionAt(event);
    cursor = at;
    drawCursor();
    if (tool === "point") addPoint(at);
    else if (tool === "region") {
      if (nearFirstCorner(event)) finishDrawing();
      else if (!drawing) { startDrawing("region", at, "clicks"); say("Region started: click its next corners, then its first corner again to close it."); }
      else addVertex(at);
    }
  });

  // ---------------------------------------------------------------- the keyboard
  stage.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var h = event.target.closest("[data-hint-marker]");
    var step = event.shiftKey ? 0.05 : 0.01;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    stage.classList.add("keys");
    if (h) {  // a mark's handle: move it, or remove it
      var i = Number(h.getAttribute("data-hint-marker")) - 1;
      if (moves[event.key]) {
        select(i);
        moveMark(i, moves[event.key][0], moves[event.key][1]);
        say(name(i) + " at " + where(marks[i].points[0]) + ".");
      } else if (key === "Delete" || key === "Backspace") {
        removeAt(i);
        (handle(Math.max(0, i - 1)) || stage).focus();
      } else return;
      event.preventDefault();
      return;
    }
    if (event.target !== stage) return;
    if (moves[event.key]) {
      cursor = [clamp(cursor[0] + moves[event.key][0]), clamp(cursor[1] + moves[event.key][1])];
      drawCursor();
      say("Cursor at " + where(cursor) + ".");
    } else if (TOOL_KEYS[key]) {
      setTool(TOOL_KEYS[key]);
      if (tool === TOOL_KEYS[key]) {
        say(KIND[tool] + " tool: " + (tool === "point" ? "Enter places a point at the cursor." :
          "Enter adds a corner at the cursor, F finishes, Escape cancels."));
      }
    } else if (key === "Enter" || key === " ") {
      if (tool === "point") addPoint(cursor);
      else if (!drawing) {
        startDrawing(tool, cursor, "keys");
        say(KIND[tool] + " started at " + where(cursor) + ": move the cursor and press Enter for each next corner, F to finish.");
      } else {
        addVertex(cursor);
        say("Corner " + drawing.points.length + " at " + where(cursor) + ".");
      }
    } else if (key === "f") {
      if (drawing) finishDrawing(); else say("Nothing is being drawn: choose S or R, then press Enter to start.");
    } else if (key === "Escape") {
      if (!drawing) return;
      cancelDrawing();
    } else if (key === "Backspace" && drawing) {
      drawing.points.pop();
      if (!drawing.points.length) cancelDrawing(); else { drawLines(); say("Last corner taken back; " + plural(drawing.points.length, "corner") + "."); }
    } else if (key === "Delete" || key === "Backspace") {
      if (selected < 0) { say("No mark is selected (N selects the next one)."); }
      else removeAt(selected);
    } else if (key === "n") {
      if (!marks.length) { say("No marks yet."); }
      else {
        select(((selected < 0 ? (event.shiftKey ? 0 : -1) : selected) + (event.shiftKey ? -1 : 1) + marks.length) % marks.length);
        cursor = marks[selected].points[0].slice();
        drawCursor();
        var m = marks[selected];
        say(name(selected) + " selected: colour " + m.color + ", reach " + m.reach + ", at " + where(m.points[0]) + ".");
      }
    } else return;
    event.preventDefault();
  });
  stage.addEventListener("focusin", function (event) {
    var h = event.target.closest("[data-hint-marker]");
    if (h && !dragging) select(Number(h.getAttribute("data-hint-marker")) - 1);
  });
  stage.addEventListener("focusout", function () { stage.classList.remove("keys"); });

  // ---------------------------------------------------------------- the table: x, y, colour, reach; remove
  function rowIndex(el) { return Number(el.closest("[data-hint-row]").getAttribute("data-hint-row")) - 1; }
  rows.addEventListener("focusin", function (event) {
    if (event.target.closest("[data-hint-row]")) select(rowIndex(event.target));
  });
  rows.addEventListener("change", function (event) {
    if (!event.target.closest("[data-hint-row]")) return;
    var i = rowIndex(event.target), m = marks[i], t = event.target, at = m.points[0];
    if (t.hasAttribute("data-hint-x")) moveMark(i, clamp(Number(t.value) / 100) - at[0], 0);
    else if (t.hasAttribute("data-hint-y")) moveMark(i, 0, clamp(Number(t.value) / 100) - at[1]);
    else if (t.hasAttribute("data-hint-color")) m.color = hex(t.value);
    else if (t.hasAttribute("data-hint-reach")) m.reach = REACHES.indexOf(t.value) >= 0 ? t.value : DEFAULT_REACH;
    else return;
    if (t.hasAttribute("data-hint-x") || t.hasAttribute("data-hint-y")) {
      t.value = percent(m.points[0][t.hasAttribute("data-hint-x") ? 0 : 1]);
    } else if (t.hasAttribute("data-hint-color")) t.value = m.color;
    update(i);
    say(name(i) + ": " + where(m.points[0]) + ", colour " + m.color + ", reach " + m.reach + ".");
  });
  rows.addEventListener("input", function (event) {  // the colour picker's live choice recolours the mark
    if (!event.target.hasAttribute("data-hint-color")) return;
    var i = rowIndex(event.target);
    marks[i].color = hex(event.target.value);
    update(i);
  });
  rows.addEventListener("click", function (event) {
    var button = event.target.closest("[data-hint-remove]");
    if (!button) return;
    removeAt(rowIndex(button));
    var next = rows.querySelector("[data-hint-remove]");
    (next || find("[data-hint-add]")).focus();
  });
  find("[data-hint-add]").addEventListener("click", function () { addPoint([0.5, 0.5]); });

  // ---------------------------------------------------------------- the colour strength
  strengthInput.min = STRENGTH[0];
  strengthInput.max = STRENGTH[1];
  function showStrength() {
    strengthInput.disabled = !strengthOn.checked;
    var v = Number(strengthInput.value);
    strengthValue.textContent = strengthOn.checked
      ? v.toFixed(2) + (v < 1 ? " (muted)" : v > 1 ? " (vivid)" : " (the model’s)") : "model’s own";
    strengthInput.setAttribute("aria-valuetext", strengthValue.textContent);
    save();
  }
  strengthOn.addEventListener("change", showStrength);
  strengthInput.addEventListener("input", showStrength);

  // ---------------------------------------------------------------- a reference colour picture
  // Read in this browser only: a click takes the pixel's colour for the selected mark.
  referenceFile.addEventListener("change", function () {
    var file = referenceFile.files && referenceFile.files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () {
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, 480 / Math.max(img.naturalWidth, img.naturalHeight));
        reference.width = Math.max(1, Math.round(img.naturalWidth * scale));
        reference.height = Math.max(1, Math.round(img.naturalHeight * scale));
        reference.getContext("2d").drawImage(img, 0, 0, reference.width, reference.height);
        reference.hidden = false;
        referenceHelp.hidden = false;
        say("Reference picture loaded: click a spot on it to give the selected mark its colour.");
      };
      img.onerror = function () { say(file.name + " could not be read as a picture."); };
      img.src = reader.result;  // a data: URL (the Content Security Policy allows data: images)
    };
    reader.readAsDataURL(file);
  });
  reference.addEventListener("click", function (event) {
    if (selected < 0 || selected >= marks.length) { say("Place or select a mark first, then pick its colour."); return; }
    var box = reference.getBoundingClientRect();
    var x = Math.min(reference.width - 1, Math.floor((event.clientX - box.left) * reference.width / box.width));
    var y = Math.min(reference.height - 1, Math.floor((event.clientY - box.top) * reference.height / box.height));
    var px = reference.getContext("2d").getImageData(Math.max(0, x), Math.max(0, y), 1, 1).data;
    marks[selected].color = "#" + [px[0], px[1], px[2]].map(function (v) { return (v < 16 ? "0" : "") + v.toString(16); }).join("");
    update(selected);
    say(name(selected) + " takes the colour " + marks[selected].color + " from the reference picture.");
  });

  // ---------------------------------------------------------------- the quick preview
  // A worker runs the network at preview size with these hints; poll for the JPEG.
  // `shown(job)` gets the finished preview's status (image_url; a film's still_url too).
  function preview(atFrame, what, shown) {
    var data = new FormData();
    var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var model = form.querySelector("[name=models]:checked");
    data.append("hints", field.value);
    if (model) data.append("model", model.value);
    if (film) data.append("frame", String(atFrame));
    previewButton.disabled = true;
    say(what);
    var finish = function (text) { previewButton.disabled = false; say(text); };
    fetch(editor.getAttribute("data-preview-url"), {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": token },
    })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        if (!answer.ok) { finish(answer.body.error || "The preview could not be started."); return; }
        var started = Date.now();
        var poll = function () {
          fetch(answer.body.status_url, { credentials: "same-origin" })
            .then(function (r) { return r.json(); })
            .then(function (job) {
              if (job.status === "done") {
                previewButton.disabled = false;
                shown(job);
              } else if (job.status === "failed" || job.status === "cancelled") {
                finish("The preview failed: " + (job.error || job.status));
              } else if (Date.now() - started > 120000) {
                finish("The preview is taking too long; the workers may be busy. Try again later.");
              } else {
                setTimeout(poll, 300);
              }
            })
            .catch(function () { finish("The preview's status could not be read."); });
        };
        poll();
      })
      .catch(function () { finish("The preview could not be started."); });
  }

  previewButton.addEventListener("click", function () {
    var at = frame;
    preview(at, "Making a quick preview with " + plural(marks.length, "mark") + (film ? " on frame " + at : "") + "…",
      function (job) {
        previewImage.src = job.image_url;
        previewFigure.hidden = false;
        previewImage.setAttribute("data-preview-id", job.id);
        if (film) previewImage.alt = "Quick preview of frame " + at + " colorized with its hints";
        say("Preview ready" + (film ? " of frame " + at : "") + " (" + plural(job.marks, "mark") + ")." +
          (job.note ? " " + job.note : ""));
      });
  });

  // ---------------------------------------------------------------- a film's frames
  function timecodeOf(f) {
    var t = f / FPS, h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, sec = t - 60 * Math.floor(t / 60);
    return (h ? h + ":" : "") + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec.toFixed(2);
  }

  // The frame control: the frame shown, its time, and a button for each frame that holds marks.
  function showFrames() {
    if (document.activeElement !== frameInput) frameInput.value = frame;
    timecode.textContent = "at " + timecodeOf(frame);
    stage.setAttribute("data-frame", frame);
    var frames = markedFrames();
    frameList.textContent = frames.length ? "Frames with marks: " : "No frame has marks yet.";
    frames.forEach(function (f) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "link" + (f === frame ? " current" : "");
      b.setAttribute("data-hint-goto", f);
      b.setAttribute("aria-label", "Frame " + f + ", " + plural(keyframes[f].length, "mark") +
        (f === frame ? " (shown)" : ""));
      b.textContent = f + " (" + keyframes[f].length + ")";
      frameList.appendChild(b);
    });
  }

  function goTo(n) {
    n = Math.min(FRAMES - 1, Math.max(0, Math.round(Number(n))));
    if (!isFinite(n)) { say("A frame number is a whole number from 0 to " + (FRAMES - 1) + "."); return; }
    if (drawing) cancelDrawing();
    keyframes[frame] = marks;
    frame = n;
    marks = keyframes[n] || [];
    selected = -1;
    render();
    frameInput.value = n;
    var count = marks.length ? ", " + plural(marks.length, "mark") : "";
    if (n === POSTER) {
      photo.src = editor.getAttribute("data-poster-url");
      say("Frame " + n + " (" + timecodeOf(n) + ") shown" + count + ".");
      return;
    }
    preview(n, "Loading frame " + n + "…", function (job) {
      if (frame !== n) return;  // another frame was chosen meanwhile
      photo.src = job.still_url;
      say("Frame " + n + " (" + timecodeOf(n) + ") shown" + count + ".");
    });
  }

  if (film) {
    frameGo.addEventListener("click", function () { goTo(frameInput.value); });
    frameInput.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); goTo(frameInput.value); }
    });
    frameInput.addEventListener("input", function () {
      var f = Number(frameInput.value);
      if (isFinite(f)) timecode.textContent = "at " + timecodeOf(Math.min(FRAMES - 1, Math.max(0, f)));
    });
    frameList.addEventListener("click", function (event) {
      var b = event.target.closest("[data-hint-goto]");
      if (!b) return;
      goTo(b.getAttribute("data-hint-goto"));
      stage.focus();  // the list is rebuilt; the keys go on with the frame shown
    });
    if (smoothing) smoothing.addEventListener("change", function () { smoothingChosen = true; });
  }

  // ---------------------------------------------------------------- the start
  // The hints given to the page (an earlier request's, or a refused submission's, to correct).
  function vertex(p) { return Array.isArray(p) ? [clamp(p[0]), clamp(p[1])] : [0.5, 0.5]; }
  function reachOf(m) { return REACHES.indexOf(m.reach) >= 0 ? m.reach : DEFAULT_REACH; }
  function marksOf(given) {
    var list = [];
    (given.points || []).slice(0, MAX_POINTS).forEach(function (p) {
      if (p && typeof p === "object") list.push({ kind: "point", points: [[clamp(p.x), clamp(p.y)]], color: hex(p.color), reach: reachOf(p) });
    });
    (given.strokes || []).slice(0, MAX_STROKES).forEach(function (s) {
      if (s && typeof s === "object" && Array.isArray(s.points) && s.points.length) {
        list.push({ kind: s.closed ? "region" : "stroke", points: s.points.slice(0, MAX_VERTICES).map(vertex), color: hex(s.color), reach: reachOf(s) });
      }
    });
    return list;
  }
  var first = null;  // a film's first frame with marks given: the editor starts there
  try {
    var given = JSON.parse(editor.getAttribute("data-initial-hints") || "{}") || {};
    if (Array.isArray(given)) given = { points: given };
    if (film) {
      Object.keys(given.keyframes || {}).forEach(function (key) {
        var list = /^\d+$/.test(key) && Number(key) < FRAMES ? marksOf(given.keyframes[key] || {}) : [];
        if (list.length) {
          keyframes[Number(key)] = list;
          if (first === null || Number(key) < first) first = Number(key);
        }
      });
      marks = keyframes[frame] || [];
    } else marks = marksOf(given);
    if (typeof given.strength === "number") {
      strengthOn.checked = true;
      strengthInput.value = given.strength;
    }
  } catch (e) { marks = []; keyframes = {}; }
  setTool("point");
  drawCursor();
  showStrength();
  render();
  if (film && first !== null && first !== frame) goTo(first);
  else if (allMarks().length) say(plural(allMarks().length, "mark") + " loaded into the editor.");
})();
