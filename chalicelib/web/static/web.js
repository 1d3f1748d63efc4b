/* Resident pages: small helpers only. Every page works without this file. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.className += " js";

  // Inside LINE (LIFF): the ID token goes with each form; the sign-in page posts itself with it.
  var liffId = document.body.getAttribute("data-liff-id");
  function withToken(token) {
    var inputs = document.querySelectorAll("input.js-id-token");
    for (var i = 0; i < inputs.length; i++) { if (!inputs[i].value) inputs[i].value = token; }
    var signin = document.querySelector("form.js-liff-signin");
    if (signin) signin.submit();
    // What works only signed in on LINE (a ticket's notices): shown now, its "open in LINE" note gone.
    Array.prototype.forEach.call(document.querySelectorAll(".js-liff-only"), function (el) {
      el.className = el.className.replace(" hidden", "");
    });
    var lineOnly = document.getElementById("line-only");
    if (lineOnly) lineOnly.className += " hidden";
    showWatch(token);
  }
  // A ticket page opened again: whether its notices are on, and from how many people ahead.
  function showWatch(token) {
    var state = document.getElementById("watch-state");
    if (!state || !window.fetch) return;
    fetch(state.getAttribute("data-url"), { headers: { Authorization: "Bearer " + token } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (watch) {
        if (!watch) return;
        state.textContent = watch.message;
        state.className = state.className.replace("hidden", "");
        var ahead = document.getElementById("f-ahead");
        if (watch.watching && ahead) ahead.value = String(watch.ahead);
      }).catch(function () {});
  }
  var signinForm = document.querySelector("form.js-liff-signin");
  if (liffId && window.liff) {
    window.liff.init({ liffId: liffId }).then(function () {
      if (!window.liff.isLoggedIn()) { window.liff.login(); return; }
      var token = window.liff.getIDToken();
      if (token) withToken(token);
    }).catch(function () { showMissing(); });
  } else if (signinForm) {
    showMissing();
  }
  function showMissing() {
    var note = document.querySelector(".js-liff-missing");
    if (note) note.className = note.className.replace("hidden", "");
    // Not "signing in…" any more: it never will outside LINE (a walkthrough).
    var checking = document.querySelector(".js-liff-checking");
    if (checking) checking.className += " hidden";
  }

  // "Show the access code": the field is masked until the resident asks to see it.
  Array.prototype.forEach.call(document.querySelectorAll("input.js-show-code"), function (box) {
    box.addEventListener("change", function () {
      document.getElementById(box.getAttribute("data-for")).type = box.checked ? "text" : "password";
    });
  });

  // The error summary gets the focus, so a screen reader hears it first.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // Photos: ask for a presigned POST, send the file straight to storage, keep its upload id.
  var photos = document.querySelectorAll("input.js-photo");
  Array.prototype.forEach.call(photos, function (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var target = document.getElementById(input.getAttribute("data-target"));
      var status = document.getElementById(input.id + "-status");
      if (!file || !target) return;
      fetch("/uploads", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ contentType: file.type || "image/jpeg" })
      }).then(function (r) { if (!r.ok) throw r; return r.json(); }).then(function (upload) {
        var data = new FormData();
        Object.keys(upload.fields).forEach(function (k) { data.append(k, upload.fields[k]); });
        data.append("file", file);
        return fetch(upload.url, { method: "POST", body: data }).then(function (r) {
          if (!r.ok) throw r;
          var ids = target.value ? target.value.split(" ") : [];
          ids.push(upload.uploadId);
          target.value = ids.join(" ");
          status.textContent = input.getAttribute("data-added").replace("{n}", ids.length);
          input.value = "";
        });
      }).catch(function () { status.textContent = input.getAttribute("data-failed"); });
    });
  });

  // Location: fill in latitude and longitude from the phone, when the resident asks.
  var locate = document.querySelectorAll("button.js-locate");
  Array.prototype.forEach.call(locate, function (button) {
    button.addEventListener("click", function () {
      var id = button.getAttribute("data-for");
      var status = document.getElementById(id + "-status");
      if (!navigator.geolocation) { status.textContent = status.getAttribute("data-failed"); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById(id + "-latitude").value = pos.coords.latitude.toFixed(6);
        document.getElementById(id + "-longitude").value = pos.coords.longitude.toFixed(6);
        status.textContent = status.getAttribute("data-ok");
      }, function () { status.textContent = status.getAttribute("data-failed"); }, { timeout: 10000 });
    });
  });
  // Payment: ask for the state every few seconds; once it changed (paid, closed, or money taken
  // that did not pay the fee), press "check again" (a plain post), which shows what it is.
  var live = document.getElementById("pay-live");
  var check = document.getElementById("pay-check");
  if (live && check && window.fetch) {
    var tries = 0;
    var heldBefore = Number(live.getAttribute("data-held")) || 0;
    var poll = function () {
      if (++tries > 120) return;
      var token = check.querySelector("input[name=id_token]").value;
      var headers = token ? { Authorization: "Bearer " + token }
        : { "X-Access-Secret": check.querySelector("input[name=code]").value };
      fetch(live.getAttribute("data-poll"), { headers: headers, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (state) {
          if (state && (state.state !== "payable" || (state.held || []).length > heldBefore)) {
            if (state.state === "paid") live.textContent = live.getAttribute("data-paid");
            check.submit();
          } else setTimeout(poll, 5000);
        }).catch(function () { setTimeout(poll, 10000); });
    };
    setTimeout(poll, 5000);
  }
})();
