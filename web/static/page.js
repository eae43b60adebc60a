// Behaviour that would otherwise be inline (the Content-Security-Policy forbids inline script and
// style attributes): confirmation before destructive forms, and the heights of chart bars.
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});
// Setting a style property from an allowed script is permitted by style-src 'self'; a style
// attribute in the markup is not.
document.querySelectorAll("[data-height]").forEach(function (bar) {
  bar.style.height = parseFloat(bar.dataset.height) + "%";
});
