/* Incident pages: copy the communication template with one click.
   A button with data-copy-target="<id>" copies that element's text; data-copy-status="<id>" names the
   aria-live element that says whether it worked. Loaded as a file (no inline script: Content-Security-Policy). */
(function () {
  "use strict";

  function say(statusId, text) {
    var element = statusId && document.getElementById(statusId);
    if (element) {
      element.textContent = text;
    }
  }

  function copyBySelection(text) {
    // For browsers without the asynchronous clipboard (pages served over plain http on a non-local host).
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    area.remove();
    return copied;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) {
      return;
    }
    var text = source.textContent;
    var statusId = button.dataset.copyStatus;
    var done = function () { say(statusId, "Copied: the template is on your clipboard."); };
    var failed = function () { say(statusId, "Could not copy: select the text and copy it by hand."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        if (copyBySelection(text)) { done(); } else { failed(); }
      });
    } else if (copyBySelection(text)) {
      done();
    } else {
      failed();
    }
  });
})();
