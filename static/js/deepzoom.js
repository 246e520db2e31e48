// Deep zoom on the item page: OpenSeadragon (vendored, static/vendor/openseadragon) on the IIIF level-0 tiles
// the worker made (portal/gallery/deepzoom.py). One viewer; the buttons above it switch between the AI
// colorization and the original, zoom, and go back to the whole image. The viewer itself takes the keyboard
// once focused (+/- zoom, arrows or W A S D move, 0 whole image).
(function () {
  "use strict";
  var box = document.querySelector("[data-deep-zoom]");
  if (!box || !window.OpenSeadragon) return;
  var holder = box.querySelector("[data-deep-zoom-viewer]");
  holder.dataset.tilesLoaded = "0";

  // OpenSeadragon adds an inline <style> (hiding the focus outline on touch screens) unless it finds one already;
  // this site's policy allows no inline style, and the outline should stay: tell it there is one.
  var query = document.querySelector;
  document.querySelector = function (selector) {
    return selector === "style[data-openseadragon-mobile-css]" ? document.head : query.call(document, selector);
  };
  var viewer;
  try {
    viewer = OpenSeadragon({
      element: holder,
      prefixUrl: box.dataset.images,
      showNavigationControl: false, // our own buttons, reachable with the keyboard
      gestureSettingsMouse: { clickToZoom: false },
      visibilityRatio: 1,
      minZoomImageRatio: 1,
      maxZoomPixelRatio: 2
    });
  } finally {
    document.querySelector = query;
  }
  viewer.canvas.setAttribute("role", "application"); // keys go to the viewer
  viewer.canvas.setAttribute("aria-describedby", "deep-zoom-help");

  viewer.addHandler("tile-loaded", function () {
    holder.dataset.tilesLoaded = String(Number(holder.dataset.tilesLoaded) + 1);
  });
  viewer.addHandler("open-failed", function () {
    holder.dataset.failed = "1";
  });

  // info.json names its tiles by the address the worker was given; here they come from this page's own
  // origin, whichever name the visitor used to reach it (the page's policy allows images from it only).
  function open(info, label) {
    holder.dataset.label = label;
    viewer.canvas.setAttribute("aria-label", label + ": deep zoom view");
    fetch(info)
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.status);
        return answer.json();
      })
      .then(function (json) {
        json.id = new URL(info, window.location.href).href.replace(/\/info\.json$/, "");
        viewer.open(json);
      })
      .catch(function () {
        holder.dataset.failed = "1";
      });
  }

  box.querySelectorAll("[data-deep-zoom-source]").forEach(function (button) {
    button.addEventListener("click", function () {
      box.querySelectorAll("[data-deep-zoom-source]").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
      open(button.dataset.deepZoomSource, button.textContent);
    });
  });
  var actions = {
    in: function () { viewer.viewport.zoomBy(1.5); },
    out: function () { viewer.viewport.zoomBy(1 / 1.5); },
    home: function () { viewer.viewport.goHome(); }
  };
  box.querySelectorAll("[data-deep-zoom-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      actions[button.dataset.deepZoomAction]();
      viewer.viewport.applyConstraints();
    });
  });

  open(holder.dataset.first, holder.dataset.label);
})();
