// The reset link carries its code after '#', which browsers never send to a server
// (so it is in no log and no Referer): put it in the form.
(function () {
  'use strict';
  var code = window.location.hash.slice(1);
  var field = document.getElementById('code');
  if (code && field) {
    field.value = decodeURIComponent(code);
    history.replaceState(null, '', window.location.pathname);
  }
})();
