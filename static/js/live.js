/* Live updates that keep the reader's place.
 * Swaps morph the new HTML into the page (idiomorph), so elements that stay keep their focus,
 * scroll position and state. A <details> the reader opened or closed stays so: the server's
 * `open` attribute never overrides the reader's choice. */
(function () {
  "use strict";
  if (typeof Idiomorph === "undefined") return; // a global binding of the vendored script
  var defaults = Idiomorph.defaults;
  defaults.ignoreActiveValue = true;
  defaults.callbacks.beforeAttributeUpdated = function (name, node) {
    return !(name === "open" && node.tagName === "DETAILS");
  };
})();

/* A run page polls its state. When the run finishes, the Cancel button disappears with the
 * swap; focus that was on it would fall to the page's start, so it moves to what replaced it:
 * the result's heading (or the failure or cancellation notice). */
(function () {
  "use strict";
  var cancelHadFocus = false;
  document.addEventListener("htmx:beforeSwap", function () {
    var active = document.activeElement;
    cancelHadFocus = !!(active && active.id === "cancel-run");
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!cancelHadFocus || document.getElementById("cancel-run")) return;
    cancelHadFocus = false;
    var target =
      document.getElementById("result-h") ||
      document.getElementById("run-outcome") ||
      document.getElementById("run-state-line");
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  });
})();
