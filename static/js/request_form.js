// Request form: add and remove equipment rows, and show availability as the dates change.
// The form works without this script (blank rows, "add a row" and "check availability"
// buttons); the script only saves round trips.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  ready(function () {
    var form = document.getElementById("request-form");
    if (!form) { return; }
    var lines = document.getElementById("lines");
    var addButton = document.getElementById("add-row");
    var table = document.getElementById("availability");
    var status = document.getElementById("availability-status");
    var maxRows = parseInt(form.dataset.maxRows || "40", 10);
    var removeLabel = document.documentElement.lang === "en" ? "Remove" : "Retirer";
    var lastRows = null;

    function rows() { return lines.querySelectorAll(".line-row"); }

    function addRemoveButton(row) {
      if (row.querySelector(".remove-row")) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button small remove-row";
      button.textContent = removeLabel;
      button.addEventListener("click", function () {
        if (rows().length > 1) {
          row.remove();
        } else {
          row.querySelector(".line-type").value = "0";
          row.querySelector(".line-quantity").value = "";
        }
        highlight();
      });
      row.appendChild(button);
    }

    function nextIndex() {
      var max = -1;
      rows().forEach(function (row) { max = Math.max(max, parseInt(row.dataset.index, 10)); });
      return max + 1;
    }

    function addRow() {
      var all = rows();
      if (all.length >= maxRows) { return; }
      var template = all[all.length - 1];
      var index = nextIndex();
      var row = template.cloneNode(true);
      row.dataset.index = String(index);
      row.querySelectorAll("[name], [id], label[for]").forEach(function (el) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/^lines-\d+-/, "lines-" + index + "-")); }
        });
      });
      row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
      row.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
      row.querySelector(".line-type").value = "0";
      row.querySelector(".line-quantity").value = "";
      var remove = row.querySelector(".remove-row");
      if (remove) { remove.remove(); }
      addRemoveButton(row);
      template.after(row);
      row.querySelector(".line-type").focus();
    }

    function wanted() {
      var result = {};
      rows().forEach(function (row) {
        var type = row.querySelector(".line-type").value;
        var qty = parseInt(row.querySelector(".line-quantity").value || "0", 10);
        if (type && type !== "0") { result[type] = (result[type] || 0) + (qty || 0); }
      });
      return result;
    }

    function highlight() {
      var want = wanted();
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        var asked = want[tr.dataset.type];
        tr.classList.toggle("wanted", asked !== undefined);
        tr.classList.toggle("short", asked !== undefined && asked > parseInt(tr.dataset.free || "0", 10));
      });
    }

    function cell(text, className) {
      var td = document.createElement("td");
      td.textContent = text;
      if (className) { td.className = className; }
      return td;
    }

    function render(types) {
      var body = table.querySelector("tbody");
      body.textContent = "";
      types.forEach(function (t) {
        var tr = document.createElement("tr");
        tr.dataset.type = String(t.type_id);
        tr.dataset.free = String(t.free);
        tr.appendChild(cell(t.name));
        tr.appendChild(cell(t.free + " / " + t.stock, "free"));
        tr.appendChild(cell(String(t.planned)));
        tr.appendChild(cell(String(t.requested_by_others)));
        body.appendChild(tr);
      });
      lastRows = types;
      highlight();
    }

    function refresh() {
      var start = form.querySelector("[name=start_dt]").value;
      var end = form.querySelector("[name=end_dt]").value;
      if (!start || !end) { return; }
      var params = new URLSearchParams({ start: start, end: end });
      var commune = form.querySelector("[name=commune_id]");
      if (commune && commune.value && commune.value !== "0") { params.set("commune_id", commune.value); }
      if (form.dataset.exclude) { params.set("exclude", form.dataset.exclude); }
      status.textContent = "…";
      fetch(form.dataset.availabilityUrl + "?" + params.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
        .then(function (result) {
          if (result[0]) {
            status.textContent = "";
            render(result[1].types);
          } else {
            status.textContent = result[1].error || "";
          }
        })
        .catch(function () { status.textContent = ""; });
    }

    // Staff: the commune selector narrows the sites, and a site names its commune.
    var communeSelect = form.querySelector("select[name=commune_id]");
    var siteSelect = form.querySelector("select[name=site_id]");

    function filterSites() {
      if (!communeSelect || !siteSelect || communeSelect.disabled) { return; }
      var chosen = communeSelect.value;
      var firstVisible = null;
      siteSelect.querySelectorAll("option").forEach(function (option) {
        var show = !chosen || chosen === "0" || option.dataset.commune === chosen;
        option.hidden = !show;
        option.disabled = !show;
        if (show && !firstVisible) { firstVisible = option; }
      });
      siteSelect.querySelectorAll("optgroup").forEach(function (group) {
        group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
      });
      var current = siteSelect.selectedOptions[0];
      if ((!current || current.hidden) && firstVisible) { siteSelect.value = firstVisible.value; }
    }

    if (communeSelect && siteSelect) {
      communeSelect.addEventListener("change", filterSites);
      siteSelect.addEventListener("change", function () {
        var option = siteSelect.selectedOptions[0];
        if (option && option.dataset.commune && (communeSelect.value === "0" || !communeSelect.value)) {
          communeSelect.value = option.dataset.commune;
          filterSites();
          refresh();
        }
      });
      filterSites();
    }

    rows().forEach(addRemoveButton);
    if (addButton) {
      addButton.addEventListener("click", function (event) { event.preventDefault(); addRow(); });
    }
    ["start_dt", "end_dt", "commune_id"].forEach(function (name) {
      var input = form.querySelector("[name=" + name + "]");
      if (input) { input.addEventListener("change", refresh); }
    });
    lines.addEventListener("change", highlight);
    lines.addEventListener("input", highlight);
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var free = tr.querySelector(".free");
      if (free) { tr.dataset.free = free.textContent.split("/")[0].trim(); }
    });
    if (!lastRows) { refresh(); }
  });
})();
