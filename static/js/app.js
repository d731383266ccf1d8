// Our own script, kept tiny. Everything works without it; it only adds the income helper.
// The income never leaves the browser: its input has no name, so no form submits it.
(function () {
  "use strict";

  function parseAmount(text) {
    var value = parseFloat(String(text).replace(",", "."));
    return isFinite(value) && value > 0 ? value : null;
  }

  function showHelpers(root) {
    root.querySelectorAll(".income-helper[hidden]").forEach(function (helper) {
      helper.hidden = false;
    });
  }

  function suggest(income, percent) {
    return Math.max(1, Math.round((income * percent) / 100));
  }

  document.addEventListener("DOMContentLoaded", function () {
    showHelpers(document);
  });
  document.addEventListener("htmx:load", function (event) {
    showHelpers(event.target);
  });

  document.addEventListener("input", function (event) {
    if (event.target.id !== "income") return;
    var income = parseAmount(event.target.value);
    var helper = event.target.closest(".income-helper");
    helper.querySelectorAll("button[data-percent]").forEach(function (button) {
      var percent = Number(button.dataset.percent);
      button.disabled = income === null;
      button.textContent = income === null
        ? percent + " %"
        : percent + " %: " + suggest(income, percent);
    });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".income-helper button[data-percent]");
    if (!button) return;
    var form = button.closest("form");
    var income = parseAmount(form.querySelector("#income").value);
    if (income === null) return;
    var custom = form.querySelector("[name=custom_amount]");
    var other = form.querySelector("[name=amount][value=custom]");
    custom.value = String(suggest(income, Number(button.dataset.percent)));
    if (other) other.checked = true;
    custom.focus();
  });
})();

// The amount a supporter sees ticked is the amount charged: typing an amount ticks "Other",
// and ticking a preset clears what was typed.
(function () {
  "use strict";
  document.addEventListener("input", function (event) {
    if (event.target.name !== "custom_amount") return;
    var other = event.target.form.querySelector("[name=amount][value=custom]");
    if (other && event.target.value.trim() !== "") other.checked = true;
  });
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.name !== "amount" || input.value === "custom") return;
    var custom = input.form.querySelector("[name=custom_amount]");
    if (custom) custom.value = "";
  });
})();

// After a form comes back with a mistake, put the cursor on the first field to fix.
// After a change, the swapped card's status line takes the focus, so a screen reader says
// what is now true.
document.addEventListener("htmx:afterSwap", function (event) {
  "use strict";
  var invalid = event.detail.target.querySelector("[aria-invalid=true]");
  var changed = document.querySelector("[data-focus-after-swap]");
  if (invalid) invalid.focus();
  else if (changed && event.detail.elt.closest && event.detail.elt.closest(".pledge")) changed.focus();
});
