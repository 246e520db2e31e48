// The colour hint editor on a photograph's staff page (portal/jobs/templates/jobs/hint_editor.html).
// Points are fractions of the picture (x from the left, y from the top) with an sRGB hex colour, the format of
// the README's "Colour hints"; they are written into the colorize form's hidden `hints` field on every change.
// Plain script, no inline code (the site's Content Security Policy allows this site's files only).
(function () {
  "use strict";

  var editor = document.querySelector("[data-hint-editor]");
  var field = document.getElementById("id_hints");
  if (!editor || !field) return;
  var form = field.form;
  var stage = editor.querySelector("[data-hint-stage]");
  var photo = editor.querySelector("[data-hint-photo]");
  var rows = editor.querySelector("[data-hint-rows]");
  var empty = editor.querySelector("[data-hint-empty]");
  var status = editor.querySelector("[data-hint-status]");
  var count = form.querySelector("[data-hint-count]");
  var referenceFile = editor.querySelector("[data-hint-reference-file]");
  var reference = editor.querySelector("[data-hint-reference]");
  var referenceHelp = editor.querySelector("[data-hint-reference-help]");
  var previewButton = editor.querySelector("[data-hint-preview]");
  var previewFigure = editor.querySelector("[data-hint-preview-figure]");
  var previewImage = editor.querySelector("[data-hint-preview-image]");
  var MAX_POINTS = 200;
  var NEW_COLOR = "#2f5a8a";

  var points = [];
  var selected = -1;
  var dragging = -1;

  function clamp(v) { v = Number(v); return isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.5; }
  function percent(v) { return Math.round(v * 1000) / 10; }
  function round(v) { return Math.round(v * 10000) / 10000; }
  function hex(color) {
    var m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(String(color || "").trim());
    if (!m) return NEW_COLOR;
    var d = m[1].toLowerCase();
    return "#" + (d.length === 3 ? d.replace(/(.)/g, "$1$1") : d);
  }
  function say(text) { status.textContent = text; }
  function where(p) { return percent(p.x) + "% across, " + percent(p.y) + "% down"; }

  function save() {
    field.value = points.length ? JSON.stringify({ points: points.map(function (p) {
      return { x: round(p.x), y: round(p.y), color: p.color };
    }) }) : "";
    if (count) {
      count.textContent = points.length
        ? points.length + " colour hint" + (points.length === 1 ? "" : "s") + " placed."
        : "No colour hints: the model chooses every colour. Place some under “Colour hints”.";
    }
    empty.hidden = points.length > 0;
  }

  function marker(i) { return stage.querySelector("[data-hint-marker='" + (i + 1) + "']"); }
  function row(i) { return rows.querySelector("[data-hint-row='" + (i + 1) + "']"); }

  // Bring one point's marker and table row up to date (the field being typed in keeps its text).
  function update(i) {
    var p = points[i], n = i + 1, m = marker(i), r = row(i);
    m.style.left = (p.x * 100) + "%";
    m.style.top = (p.y * 100) + "%";
    m.style.backgroundColor = p.color;
    m.classList.toggle("selected", i === selected);
    m.setAttribute("aria-label", "Point " + n + ", colour " + p.color + ", " + where(p) +
      ". Arrow keys move it, Delete removes it.");
    m.setAttribute("aria-pressed", i === selected ? "true" : "false");
    r.classList.toggle("selected", i === selected);
    var x = r.querySelector("[data-hint-x]"), y = r.querySelector("[data-hint-y]"), c = r.querySelector("[data-hint-color]");
    if (document.activeElement !== x) x.value = percent(p.x);
    if (document.activeElement !== y) y.value = percent(p.y);
    if (document.activeElement !== c) c.value = p.color;
    save();
  }

  function input(type, label, attrs) {
    var el = document.createElement("input");
    el.type = type;
    el.setAttribute("aria-label", label);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    return el;
  }

  // Rebuild every marker and row (after a point is added or removed: the numbers change).
  function render() {
    stage.querySelectorAll("[data-hint-marker]").forEach(function (m) { m.remove(); });
    rows.textContent = "";
    points.forEach(function (p, i) {
      var n = i + 1;
      var m = document.createElement("button");
      m.type = "button";
      m.className = "hint-marker";
      m.setAttribute("data-hint-marker", n);
      m.textContent = n;
      stage.appendChild(m);

      var tr = document.createElement("tr");
      tr.setAttribute("data-hint-row", n);
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = n;
      tr.appendChild(th);
      [["data-hint-x", "Point " + n + ": x, percent of the width from the left"],
       ["data-hint-y", "Point " + n + ": y, percent of the height from the top"]].forEach(function (spec) {
        var td = document.createElement("td");
        var attrs = { min: "0", max: "100", step: "0.1", inputmode: "decimal" };
        attrs[spec[0]] = "";
        td.appendChild(input("number", spec[1], attrs));
        tr.appendChild(td);
      });
      var tdColor = document.createElement("td");
      tdColor.appendChild(input("color", "Point " + n + ": colour", { "data-hint-color": "" }));
      tr.appendChild(tdColor);
      var tdRemove = document.createElement("td");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.setAttribute("data-hint-remove", "");
      remove.setAttribute("aria-label", "Remove point " + n);
      remove.textContent = "Remove";
      tdRemove.appendChild(remove);
      tr.appendChild(tdRemove);
      rows.appendChild(tr);
      update(i);
    });
    save();
  }

  function select(i) {
    var before = selected;
    selected = i;
    if (before >= 0 && before < points.length) update(before);
    if (i >= 0) update(i);
  }

  function add(x, y, color) {
    if (points.length >= MAX_POINTS) { say("At most " + MAX_POINTS + " points are taken."); return; }
    var last = points.length ? points[points.length - 1].color : NEW_COLOR;
    points.push({ x: clamp(x), y: clamp(y), color: hex(color || last) });
    selected = points.length - 1;
    render();
    say("Point " + points.length + " added, " + where(points[selected]) + ", colour " + points[selected].color + ".");
  }

  function removeAt(i) {
    points.splice(i, 1);
    selected = Math.min(i, points.length - 1);
    render();
    say("Point " + (i + 1) + " removed; " + points.length + " point" + (points.length === 1 ? "" : "s") + " left.");
  }

  function fractionAt(event) {
    var box = photo.getBoundingClientRect();
    return { x: clamp((event.clientX - box.left) / box.width), y: clamp((event.clientY - box.top) / box.height) };
  }

  // The photograph: a click places a point.
  photo.addEventListener("click", function (event) {
    var at = fractionAt(event);
    add(at.x, at.y);
  });

  // Markers: select, drag, and the keyboard.
  stage.addEventListener("pointerdown", function (event) {
    var m = event.target.closest("[data-hint-marker]");
    if (!m) return;
    dragging = Number(m.getAttribute("data-hint-marker")) - 1;
    select(dragging);
    m.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  stage.addEventListener("pointermove", function (event) {
    if (dragging < 0) return;
    var at = fractionAt(event);
    points[dragging].x = at.x;
    points[dragging].y = at.y;
    update(dragging);
  });
  function endDrag() {
    if (dragging < 0) return;
    say("Point " + (dragging + 1) + " moved to " + where(points[dragging]) + ".");
    var m = marker(dragging);
    dragging = -1;
    if (m) m.focus();
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);
  stage.addEventListener("keydown", function (event) {
    var m = event.target.closest("[data-hint-marker]");
    if (!m) return;
    var i = Number(m.getAttribute("data-hint-marker")) - 1;
    var step = event.shiftKey ? 0.05 : 0.01;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      points[i].x = clamp(points[i].x + moves[event.key][0]);
      points[i].y = clamp(points[i].y + moves[event.key][1]);
      select(i);
      say("Point " + (i + 1) + " at " + where(points[i]) + ".");
      event.preventDefault();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      removeAt(i);
      var next = marker(Math.max(0, i - 1));
      (next || photo).focus();
      event.preventDefault();
    }
  });
  stage.addEventListener("focusin", function (event) {
    var m = event.target.closest("[data-hint-marker]");
    if (m && dragging < 0) select(Number(m.getAttribute("data-hint-marker")) - 1);
  });

  // The table: edit x, y and colour; remove.
  rows.addEventListener("focusin", function (event) {
    var tr = event.target.closest("[data-hint-row]");
    if (tr) select(Number(tr.getAttribute("data-hint-row")) - 1);
  });
  rows.addEventListener("change", function (event) {
    var tr = event.target.closest("[data-hint-row]");
    if (!tr) return;
    var i = Number(tr.getAttribute("data-hint-row")) - 1;
    var p = points[i];
    if (event.target.hasAttribute("data-hint-x")) p.x = clamp(Number(event.target.value) / 100);
    else if (event.target.hasAttribute("data-hint-y")) p.y = clamp(Number(event.target.value) / 100);
    else if (event.target.hasAttribute("data-hint-color")) p.color = hex(event.target.value);
    else return;
    event.target.value = event.target.hasAttribute("data-hint-color") ? p.color :
      percent(event.target.hasAttribute("data-hint-x") ? p.x : p.y);
    update(i);
    say("Point " + (i + 1) + ": " + where(p) + ", colour " + p.color + ".");
  });
  rows.addEventListener("input", function (event) {  // the colour picker's live choice moves the marker's colour
    if (!event.target.hasAttribute("data-hint-color")) return;
    var i = Number(event.target.closest("[data-hint-row]").getAttribute("data-hint-row")) - 1;
    points[i].color = hex(event.target.value);
    update(i);
  });
  rows.addEventListener("click", function (event) {
    var button = event.target.closest("[data-hint-remove]");
    if (!button) return;
    var i = Number(button.closest("[data-hint-row]").getAttribute("data-hint-row")) - 1;
    removeAt(i);
    var next = rows.querySelector("[data-hint-remove]");
    (next || editor.querySelector("[data-hint-add]")).focus();
  });
  editor.querySelector("[data-hint-add]").addEventListener("click", function () { add(0.5, 0.5); });

  // A reference colour picture, read in this browser only: a click takes the pixel's colour for the selected point.
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
        say("Reference picture loaded: click a spot on it to give the selected point its colour.");
      };
      img.onerror = function () { say(file.name + " could not be read as a picture."); };
      img.src = reader.result;  // a data: URL (the Content Security Policy allows data: images)
    };
    reader.readAsDataURL(file);
  });
  reference.addEventListener("click", function (event) {
    if (selected < 0 || selected >= points.length) { say("Place or select a point first, then pick its colour."); return; }
    var box = reference.getBoundingClientRect();
    var x = Math.min(reference.width - 1, Math.floor((event.clientX - box.left) * reference.width / box.width));
    var y = Math.min(reference.height - 1, Math.floor((event.clientY - box.top) * reference.height / box.height));
    var px = reference.getContext("2d").getImageData(Math.max(0, x), Math.max(0, y), 1, 1).data;
    points[selected].color = "#" + [px[0], px[1], px[2]].map(function (v) { return (v < 16 ? "0" : "") + v.toString(16); }).join("");
    update(selected);
    say("Point " + (selected + 1) + " takes the colour " + points[selected].color + " from the reference picture.");
  });

  // The quick preview: a worker runs the network at preview size with these points; poll for the JPEG.
  previewButton.addEventListener("click", function () {
    var data = new FormData();
    var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var model = form.querySelector("[name=models]:checked");
    data.append("hints", field.value);
    if (model) data.append("model", model.value);
    previewButton.disabled = true;
    say("Making a quick preview with " + points.length + " point" + (points.length === 1 ? "" : "s") + "…");
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
                previewImage.src = job.image_url;
                previewFigure.hidden = false;
                previewImage.setAttribute("data-preview-id", job.id);
                finish("Preview ready (" + job.points + " point" + (job.points === 1 ? "" : "s") + ")." +
                  (job.note ? " " + job.note : ""));
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
  });

  // Start from the points given to the page (an earlier request's, or a refused submission's).
  try {
    (JSON.parse(editor.getAttribute("data-initial-hints") || "[]") || []).forEach(function (p) {
      if (p && typeof p === "object") points.push({ x: clamp(p.x), y: clamp(p.y), color: hex(p.color) });
    });
  } catch (e) { points = []; }
  points = points.slice(0, MAX_POINTS);
  render();
  if (points.length) say(points.length + " point" + (points.length === 1 ? "" : "s") + " loaded into the editor.");
})();
