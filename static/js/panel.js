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

  // Wide tables scroll sideways inside a wrapper rather than widening the page on a phone (390 px): every table
  // not already in a .table-scroll box gets one, on load and after each htmx swap.
  function wrapTables(root) {
    var tables = (root || document).querySelectorAll("table");
    for (var i = 0; i < tables.length; i++) {
      var table = tables[i];
      var parent = table.parentElement;
      if (!parent || parent.classList.contains("table-scroll")) continue;
      var box = document.createElement("div");
      box.className = "table-scroll";
      parent.insertBefore(box, table);
      box.appendChild(table);
    }
  }
  document.addEventListener("DOMContentLoaded", function () { wrapTables(document); });
  document.addEventListener("htmx:afterSettle", function (event) { wrapTables(event.target); });
})();
