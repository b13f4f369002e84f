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
