/* Polling that never wipes what a person is typing, for every page with a polled region (the runbook cockpit, the
 * health status); kept out of the templates (a Content-Security-Policy forbids inline script).
 *
 * 1. Polling never wipes what a person is typing: a region marked data-poll-guard (the runbook cockpit, the health status) skips its
 *    htmx refresh (and drops one already in flight) while one of its fields has focus, holds text not yet sent, or
 *    a <details> in it is open. Each skipped refresh counts in <body data-polls-held> (the browser tests wait for
 *    it).
 * (data-print controls are handled once for every page by static/js/panel.js.)
 */
(function () {
  "use strict";

  function isField(element) {
    return element && /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName) && element.type !== "hidden";
  }

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      // With no option marked selected in the HTML, the browser shows the first one: that is its default.
      var initial = Array.prototype.findIndex.call(field.options, function (option) { return option.defaultSelected; });
      return field.selectedIndex !== Math.max(initial, 0);
    }
    return field.value !== field.defaultValue;
  }

  function busy(region) {
    var active = document.activeElement;
    if (isField(active) && region.contains(active)) return true;
    if (region.querySelector("details[open]")) return true;
    return Array.prototype.some.call(region.querySelectorAll("input, textarea, select"), function (field) {
      return isField(field) && changed(field);
    });
  }

  function guarded(event) {
    var region = event.detail && event.detail.elt;
    return region && region.matches && region.matches("[data-poll-guard]") && busy(region);
  }

  function held() {
    document.body.dataset.pollsHeld = String(Number(document.body.dataset.pollsHeld || 0) + 1);
  }

  // Not even asked for while someone is busy in the region...
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (guarded(event)) {
      event.preventDefault();
      held();
    }
  });
  // ...and an answer already on its way when they started typing is dropped (the next refresh brings it).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (guarded(event)) {
      event.detail.shouldSwap = false;
      held();
    }
  });
})();
