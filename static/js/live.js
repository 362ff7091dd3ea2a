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
