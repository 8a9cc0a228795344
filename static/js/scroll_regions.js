// Tables wider than the screen scroll sideways in their .table-wrap: a wrap that scrolls
// takes the keyboard focus (arrow keys then scroll it) and is named after its table's
// caption or its section's heading, so that a keyboard user can reach all of it (RGAA 7.3).
(function () {
  "use strict";
  function nameOf(wrap) {
    var caption = wrap.querySelector("caption");
    if (caption) { return caption.textContent.trim(); }
    var section = wrap.closest("section, details, main");
    var heading = section && section.querySelector("h1, h2, h3");
    return heading ? heading.textContent.trim() : document.title;
  }
  function update() {
    var wraps = document.querySelectorAll(".table-wrap:not([data-region-fixed])");
    for (var i = 0; i < wraps.length; i++) {
      var wrap = wraps[i];
      if (wrap.scrollWidth > wrap.clientWidth) {
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        if (!wrap.hasAttribute("aria-label")) { wrap.setAttribute("aria-label", nameOf(wrap)); }
      } else if (wrap.getAttribute("role") === "region") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    }
  }
  document.addEventListener("DOMContentLoaded", update);
  window.addEventListener("resize", update);
  document.addEventListener("toggle", update, true);
})();
