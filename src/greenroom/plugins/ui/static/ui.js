// greenroom's progressive enhancement. Every page works without it; it only adds a copy
// button and the sign-in call for providers that authenticate through an access proxy.
(function () {
  "use strict";

  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    var status = document.querySelector("[data-copy-status]");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent).then(function () {
        if (status) { status.textContent = "Copied to the clipboard."; }
      }, function () {
        if (status) { status.textContent = "Copying failed: select the text and copy it."; }
      });
    });
  }

  function setupProxySignIn(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var url = button.getAttribute("data-proxy-sign-in");
      var next = button.getAttribute("data-next") || "/";
      fetch(url, { method: "GET", credentials: "same-origin", headers: { "X-Requested-With": "XMLHttpRequest" } })
        .then(function (response) {
          if (response.ok) {
            window.location.assign(next.charAt(0) === "/" && next.charAt(1) !== "/" ? next : "/");
          } else {
            button.textContent = "Sign-in through the proxy failed (" + response.status + ")";
          }
        });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(setupCopy);
    document.querySelectorAll("button[data-proxy-sign-in]").forEach(setupProxySignIn);
  });
}());
