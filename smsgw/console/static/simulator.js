// The Simulator without page reloads: each form is sent as it would be without script,
// and the part of the page it changes is taken from the page the server answers with.
// Without script (or if this fails) the forms post and redirect as usual.
(function () {
  "use strict";
  var busy = false;

  function bottom() {
    var screen = document.getElementById("conversation-screen");
    if (screen) { screen.scrollTop = screen.scrollHeight; }
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var next = fresh.getElementById("simulator");
    var here = document.getElementById("simulator");
    if (!next || !here) { return false; }
    here.replaceWith(next);
    var focus = next.querySelector("[autofocus]");
    if (focus) { focus.focus(); }
    bottom();
    return true;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-sim") || !window.fetch || busy) { return; }
    event.preventDefault();
    var button = event.submitter;
    var data = new FormData(form);
    if (button && button.name) { data.append(button.name, button.value); }
    function plainly() {            // post it the way it would go without script
      if (button && button.name) {
        var kept = document.createElement("input");
        kept.type = "hidden"; kept.name = button.name; kept.value = button.value;
        form.appendChild(kept);
      }
      form.submit();
    }
    busy = true;
    form.setAttribute("aria-busy", "true");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) { if (!swap(html)) { plainly(); } })
      .catch(plainly)
      .finally(function () { busy = false; form.removeAttribute("aria-busy"); });
  });

  // Enter sends the message, as on a phone; Shift+Enter starts a new line.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key !== "Enter" || event.shiftKey || !box.hasAttribute ||
        !box.hasAttribute("data-enter-sends")) { return; }
    event.preventDefault();
    box.form.requestSubmit();
  });

  bottom();
})();
