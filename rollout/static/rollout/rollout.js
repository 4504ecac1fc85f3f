/* Behaviour of the rollout pages, kept out of the templates (a Content-Security-Policy forbids inline script).
 *
 * 1. Polling never wipes what a person is typing: a region marked data-poll-guard (the runbook cockpit) skips its
 *    htmx refresh while one of its fields has focus, holds text not yet sent, or a <details> in it is open. Each
 *    skipped refresh counts in <body data-polls-held> (the browser tests wait for it).
 * 2. Links and buttons marked data-print print the page (the deployment record).
 */
(function () {
  "use strict";

  function isField(element) {
    return element && /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName) && element.type !== "hidden";
  }

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
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

  document.addEventListener("htmx:beforeRequest", function (event) {
    var region = event.detail && event.detail.elt;
    if (!region || !region.matches || !region.matches("[data-poll-guard]")) return;
    if (busy(region)) {
      event.preventDefault();
      document.body.dataset.pollsHeld = String(Number(document.body.dataset.pollsHeld || 0) + 1);
    }
  });

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-print]");
    if (trigger) {
      event.preventDefault();
      window.print();
    }
  });
})();
