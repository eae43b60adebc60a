// Clicking a transcript segment seeks the voicemail audio; the playing segment is highlighted.
document.querySelectorAll(".message").forEach(function (message) {
  var audio = message.querySelector("audio");
  if (!audio) return;
  var segments = message.querySelectorAll(".segments > span[data-start]");
  segments.forEach(function (segment) {
    segment.addEventListener("click", function () {
      audio.currentTime = parseFloat(segment.dataset.start);
      audio.play();
    });
  });
  audio.addEventListener("timeupdate", function () {
    segments.forEach(function (segment) {
      var start = parseFloat(segment.dataset.start), end = parseFloat(segment.dataset.end);
      segment.classList.toggle("active", audio.currentTime >= start && audio.currentTime < end);
    });
  });
});
