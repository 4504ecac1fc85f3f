// The panel's few behaviours that are not htmx, bound from data- attributes: the Content-Security-Policy refuses
// inline handlers (onclick=) and inline <script>, so they live here.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var printer = event.target.closest("[data-print]");
    if (printer) {
      event.preventDefault();
      window.print();
    }
  });
})();
