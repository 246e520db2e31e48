// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Before/after slider: the range input moves the clip edge of the colorized image.
  document.querySelectorAll("[data-compare]").forEach(function (box) {
    var range = box.querySelector(".compare-range");
    if (!range) return;
    var update = function () { box.style.setProperty("--pos", range.value + "%"); };
    range.addEventListener("input", update);
    update();
  });

  // A slug field follows its title until someone edits it (the server makes the same slug when it is left empty).
  document.querySelectorAll("input[data-slug-from]").forEach(function (slug) {
    var title = slug.form && slug.form.querySelector("[name=" + slug.getAttribute("data-slug-from") + "]");
    if (!title) return;
    var edited = slug.value !== "";
    slug.addEventListener("input", function () { edited = slug.value !== ""; });
    title.addEventListener("input", function () {
      if (edited) return;
      slug.value = title.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
        .replace(/[^\w\s-]/g, "").trim().replace(/[-\s]+/g, "-");
    });
  });

  // Uploads: refuse before sending when the chosen files exceed the request limit the server (and nginx) holds.
  document.querySelectorAll("form[data-max-bytes]").forEach(function (form) {
    var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
    form.addEventListener("submit", function (event) {
      var total = 0;
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
      });
      if (total > limit) {
        event.preventDefault();
        var note = form.parentNode.querySelector("[data-limit-note]");
        if (note) {
          note.textContent = "These files add up to " + Math.ceil(total / 1048576) + " MB; at most " +
            Math.floor(limit / 1048576) + " MB may be sent at once. Choose fewer or smaller files.";
          note.className = "msg msg-error";
        }
      }
    });
  });

  // Film: play and pause the original and the colorization together.
  document.querySelectorAll("[data-players]").forEach(function (box) {
    var videos = box.querySelectorAll("video");
    var button = box.querySelector("[data-play-both]");
    if (!button || videos.length !== 2) return;
    button.addEventListener("click", function () {
      var playing = !videos[0].paused;
      videos.forEach(function (v) { if (playing) { v.pause(); } else { v.currentTime = videos[0].currentTime; v.play(); } });
      button.textContent = playing ? "Play both" : "Pause both";
    });
  });

  // Progress of running jobs: poll the status URL; reload the page when one finishes.
  var polled = document.querySelectorAll("[data-poll]");
  if (polled.length) {
    var tick = function () {
      polled.forEach(function (row) {
        fetch(row.getAttribute("data-poll"), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (job) {
            if (!job) return;
            var bar = row.querySelector("progress");
            if (bar) bar.value = job.progress;
            var pct = row.querySelector("[data-percent]");
            if (pct) pct.textContent = job.progress + "%";
            var status = row.querySelector("[data-status]");
            if (status && job.status !== "pending" && job.status !== "running") { window.location.reload(); }
            else if (status) { status.textContent = job.status === "running" ? "Running" : "Waiting"; }
          })
          .catch(function () {});
      });
    };
    setInterval(tick, 2000);
  }

  // CSV import: the preview of the first rows follows the column drop-downs (without script, the "Update the
  // preview" button does the same). The chosen files are not sent for a preview.
  document.querySelectorAll("form[data-import-mapping]").forEach(function (form) {
    var box = form.querySelector("[data-import-preview]");
    var button = form.querySelector("[data-preview-button]");
    if (!box || !window.fetch || !window.FormData) return;
    var latest = 0;
    var refresh = function () {
      var data = new FormData(form);
      data.delete("files");
      data.set("action", "preview");
      var mine = ++latest;
      box.setAttribute("aria-busy", "true");
      fetch(form.getAttribute("action") || window.location.href, {
        method: "POST", body: data, credentials: "same-origin", headers: {"X-Import-Preview": "1"}
      }).then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { if (mine === latest) { box.innerHTML = html; box.removeAttribute("aria-busy"); } })
        .catch(function () { if (button) button.style.display = ""; });
    };
    if (button) button.style.display = "none";  // (the hidden attribute loses to .button's display)
    form.querySelectorAll("select[name^=map_]").forEach(function (select) {
      select.addEventListener("change", refresh);
    });
  });
})();
