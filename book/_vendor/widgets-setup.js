// Loaded after require.js and before embed-amd.js on pages with widgets (nb_ipywidgets_js).
// 1. embed-amd.js finds its icon fonts next to its own module URL; point that module
//    path at _static, where the fonts are served, instead of the page's folder.
// 2. @jupyter-widgets/html-manager 1.x typesets widget labels with the MathJax 2 call
//    MathJax.Hub.Queue; the book loads MathJax 3, so provide that one call.
(function () {
  var root = document.documentElement.dataset.content_root || "";
  require.config({ paths: { "@jupyter-widgets/html-manager/dist": root + "_static" } });
  function addHub() {
    var mj = window.MathJax;
    if (mj && !mj.Hub) {
      mj.Hub = {
        Queue: function (job) {
          var element = job && job[2];
          if (window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise(element ? [element] : undefined);
          }
        },
      };
    }
  }
  addHub();  // the configuration object, before MathJax 3 has loaded
  document.addEventListener("DOMContentLoaded", addHub);  // MathJax 3 itself (deferred)
})();
