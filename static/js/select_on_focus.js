// Selects the whole text of a read-only field when it gets the focus (calendar links),
// so that it can be copied at once. No inline handler: the Content Security Policy
// allows scripts from files only.
document.querySelectorAll("input[data-select-on-focus]").forEach(function (input) {
  input.addEventListener("focus", function () {
    input.select();
  });
});
