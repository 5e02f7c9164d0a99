// hanprompt pages: filter the side-by-side rows as you type, and open or close every full text.
(function () {
  "use strict";
  var norm = function (s) { return (s || "").normalize("NFC").toLowerCase(); };
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var rows = document.querySelectorAll(input.getAttribute("data-filter"));
    var count = document.getElementById(input.getAttribute("data-count"));
    var apply = function () {
      var wanted = norm(input.value).trim();
      var shown = 0;
      rows.forEach(function (row) {
        var hit = !wanted || norm(row.textContent).indexOf(wanted) !== -1;
        row.classList.toggle("hidden", !hit);
        if (hit) { shown += 1; }
      });
      if (count) { count.textContent = shown + " of " + rows.length; }
    };
    input.addEventListener("input", apply);
    apply();
  });
  document.querySelectorAll("button[data-details]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("data-details") === "open";
      document.querySelectorAll("details.full").forEach(function (d) { d.open = open; });
    });
  });
  document.documentElement.setAttribute("data-script", "ran");
})();
