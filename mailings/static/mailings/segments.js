// The admin's mailing form: characters and SMS segments as the operator types (the same
// rule as mailings/segments.py, 3GPP TS 23.038), and the preview's figures from the server
// (recipients, suppressed, parts, cost) before saving. Served by the project; loads nothing
// from anywhere else.
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENSION = "^{}\\[~]|€\f";

  function parts(units, single, multi) {
    return units <= single ? 1 : Math.ceil(units / multi);
  }

  function count(text) {
    var septets = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (BASIC.indexOf(ch) >= 0) { septets += 1; }
      else if (EXTENSION.indexOf(ch) >= 0) { septets += 2; }
      else {
        // JavaScript strings are UTF-16: length is already in code units.
        return { encoding: "UCS-2", characters: text.length, segments: parts(text.length, 70, 67) };
      }
    }
    return { encoding: "GSM-7", characters: septets, segments: parts(septets, 160, 153) };
  }

  function field(name) { return document.getElementById("id_" + name); }

  function formBody(form) {
    var data = new FormData(form);
    var body = new URLSearchParams();
    data.forEach(function (value, key) {
      if (typeof value === "string") { body.append(key, value); }
    });
    return body;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var text = field("text");
    if (!text) { return; }
    var counter = document.createElement("div");
    counter.id = "segment-counter";
    counter.className = "help";
    text.parentNode.appendChild(counter);
    var preview = document.createElement("div");
    preview.id = "mailing-preview";
    preview.className = "help";
    text.parentNode.appendChild(preview);
    // Below the text box, one line each (the admin lays a field's row out as a flex box).
    text.parentNode.style.flexWrap = "wrap";
    counter.style.flexBasis = preview.style.flexBasis = "100%";
    counter.style.marginLeft = preview.style.marginLeft = "0";
    var form = text.form;
    var previewUrl = form.getAttribute("data-preview-url") ||
      document.getElementById("mailing-preview-url").getAttribute("data-url");
    var timer = null;

    function showCount() {
      var c = count(text.value);
      counter.textContent = c.characters + " characters (" + c.encoding + "), " +
        c.segments + " segment" + (c.segments === 1 ? "" : "s");
    }

    function showPreview() {
      var request = new XMLHttpRequest();
      request.open("POST", previewUrl);
      request.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
      request.onload = function () {
        if (request.status !== 200) { preview.textContent = ""; return; }
        var p = JSON.parse(request.responseText);
        if (p.errors) { preview.textContent = ""; return; }
        var cost = p.cost ? ", cost " + p.cost.amount + " " + p.cost.currency : "";
        preview.textContent = "Would reach " + p.recipients + " recipient" +
          (p.recipients === 1 ? "" : "s") + " (suppressed: " + p.suppressed.stop_list +
          " stop list, " + p.suppressed.no_consent + " no consent), " + p.parts +
          " parts" + cost + "; " + p.in_window_now + " inside their window now.";
      };
      request.send(formBody(form));
    }

    function changed() {
      showCount();
      clearTimeout(timer);
      timer = setTimeout(showPreview, 300);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    changed();
  });
})();
