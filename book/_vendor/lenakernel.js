/* lenakernel: a display formula wider than the column scrolls sideways in its own box;
   such a box becomes a tab stop, so that it can be scrolled from the keyboard (WCAG
   2.1.1; axe: scrollable-region-focusable). Formulas that fit are not tab stops (MathJax
   menu setting inTabOrder: false in _config.yml). The theme does the same for code,
   outputs and tables. Named in _config.yml (html_js_files). */
(function () {
  "use strict";

  function markScrollingFormulas() {
    document.querySelectorAll("div.math mjx-container").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && box.dataset.lkScrolls !== "yes") {
        box.dataset.lkScrolls = "yes";
        box.dataset.lkTabindex = box.getAttribute("tabindex") || "";
        box.setAttribute("tabindex", "0");
      } else if (!scrolls && box.dataset.lkScrolls === "yes") {
        box.dataset.lkScrolls = "no";
        if (box.dataset.lkTabindex) {
          box.setAttribute("tabindex", box.dataset.lkTabindex);
        } else {
          box.removeAttribute("tabindex");
        }
      }
    });
  }

  var pending = null;
  function later() {
    clearTimeout(pending);
    pending = setTimeout(markScrollingFormulas, 200);
  }

  window.addEventListener("load", function () {
    var startup = window.MathJax && window.MathJax.startup;
    if (startup && startup.promise) {
      startup.promise.then(markScrollingFormulas);
    } else {
      markScrollingFormulas();
    }
    window.addEventListener("resize", later);
  });
})();
