// Small progressive enhancements; every page works without them.
document.addEventListener("htmx:configRequest", function (event) {
  // CSRF for htmx POSTs: the token of the page's first form.
  var token = document.querySelector("input[name=csrf]");
  if (token && event.detail.verb !== "get") { event.detail.parameters.csrf = token.value; }
});
// Move focus to the error summary so that screen readers announce it.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("erreurs");
  if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }
});
// Pick-lists searchable by typing: hide the options whose label does not contain the text.
function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
document.addEventListener("input", function (event) {
  var input = event.target;
  if (!input.classList || !input.classList.contains("picklist-filter")) { return; }
  var list = document.getElementById(input.getAttribute("data-list"));
  var wanted = fold(input.value.trim());
  list.querySelectorAll("li").forEach(function (li) {
    li.hidden = wanted !== "" && fold(li.textContent).indexOf(wanted) === -1;
  });
});
// Enter in a search field must not submit the step form around it.
document.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && event.target.type === "search") { event.preventDefault(); }
});
// A commune checked in the search results joins the chosen ones (the results are replaced at each search).
document.addEventListener("change", function (event) {
  var box = event.target;
  var found = document.getElementById("communes-trouvees");
  var chosen = document.getElementById("communes-choisies");
  if (!found || !chosen || !box.checked || !found.contains(box)) { return; }
  if (chosen.querySelector("input[value='" + box.value + "']")) { box.closest("li").remove(); return; }
  chosen.appendChild(box.closest("li"));
});
