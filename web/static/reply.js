// The canned-response picker on the ticket page: the chosen text (placeholders already filled in
// by the server) goes into the reply box at the cursor, or replaces it when the box is empty.
document.querySelectorAll("select[data-target]").forEach(function (picker) {
  var box = document.getElementById(picker.dataset.target);
  if (!box) return;
  picker.addEventListener("change", function () {
    var option = picker.selectedOptions[0];
    if (!option || !option.dataset.text) return;
    var text = option.dataset.text;
    if (!box.value.trim()) {
      box.value = text;
    } else {
      var at = box.selectionStart || box.value.length;
      box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd || at);
    }
    picker.value = "";
    box.focus();
  });
});
