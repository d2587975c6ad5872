// Frame sliders (lenakernel.frame_slider) for assistive technology.
// ipywidgets 8 draws a SelectionSlider with noUiSlider, whose handle has no accessible
// name and announces the frame index (0, 1, 2, ...) as its value. For every frame
// slider on the page this script names the handle by the slider's visible label and
// sets aria-valuetext to what the page shows ("h = 0.0104"), after every move.
(function () {
  "use strict";
  var counter = 0;

  function describe(box) {
    var label = box.querySelector(".widget-label");
    var handle = box.querySelector(".noUi-handle");
    var readout = box.querySelector(".widget-readout");
    if (!label || !handle || !readout) return;
    if (!label.id) label.id = "lenakernel-slider-label-" + (++counter);
    if (handle.getAttribute("aria-labelledby") !== label.id) {
      handle.setAttribute("aria-labelledby", label.id);
    }
    var text = label.textContent.trim() + " = " + readout.textContent.trim();
    if (handle.getAttribute("aria-valuetext") !== text) {
      handle.setAttribute("aria-valuetext", text);
    }
  }

  function describeAll() {
    document.querySelectorAll(".lenakernel-frame-slider").forEach(describe);
  }

  function start() {
    describeAll();
    // Widgets render after the page loads, and noUiSlider rewrites the value text
    // on every move: describe again whenever the widgets change.
    new MutationObserver(describeAll).observe(document.body, {
      subtree: true, childList: true, characterData: true,
      attributes: true, attributeFilter: ["aria-valuenow", "aria-valuetext"],
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
