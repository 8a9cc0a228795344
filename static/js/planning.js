// Follows a solver run: polls the JSON status and moves the progress bar; when the run
// ends, goes to the plan (or reloads to show why it stopped). Without JavaScript the
// page refreshes itself (meta refresh), so this only makes it smoother.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("job-bar");
  var stage = document.getElementById("job-stage");
  var percent = document.getElementById("job-percent");
  var refresh = document.querySelector("meta[http-equiv=refresh]");
  if (refresh) { refresh.parentNode.removeChild(refresh); }

  function show(state) {
    var value = Math.round((state.progress || 0) * 100);
    bar.style.width = value + "%";
    bar.parentNode.setAttribute("aria-valuenow", String(value));
    percent.textContent = value + " %";
    stage.textContent = state.stage_label || "";
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        show(state);
        if (state.done) {
          if (state.plan_url) { window.location.assign(state.plan_url); }
          else { window.location.reload(); }
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
