// Keyboard shortcuts for the support page (progressive enhancement: every page works without this).
//   /      focus the search box (on the messages page; elsewhere go there)
//   g m    messages, g p partners
(function () {
  "use strict";
  var pending = null;
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(document.activeElement)) { return; }
    if (ev.key === "/") {
      var q = document.getElementById("q");
      ev.preventDefault();
      if (q) { q.focus(); q.select(); } else { window.location.href = "/ui/messages"; }
      return;
    }
    if (pending === "g") {
      pending = null;
      if (ev.key === "m") { window.location.href = "/ui/messages"; }
      if (ev.key === "p") { window.location.href = "/ui/partners"; }
      return;
    }
    if (ev.key === "g") { pending = "g"; window.setTimeout(function () { pending = null; }, 1500); }
  });
})();
