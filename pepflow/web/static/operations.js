// Operations: retry all or selected incidents, cancel one or several instances with
// a reason (a <dialog>; the reason goes to the audit log).
(function () {
  'use strict';
  var api = window.pep.api, say = window.pep.say;

  function picked(selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector + ':checked'), function (box) { return Number(box.value); });
  }
  function watch(selector, button) {
    if (!button) { return; }
    document.querySelectorAll(selector).forEach(function (box) {
      box.addEventListener('change', function () { button.disabled = picked(selector).length === 0; });
    });
  }
  function report(result, what) {
    var text = result[what].length + ' done.';
    if (result.failed.length) {
      text += ' Not done: ' + result.failed.map(function (f) { return (f.incidentKey || f.processInstanceKey) + ' (' + f.detail + ')'; }).join('; ');
    }
    say(text, result.failed.length > 0);
    if (!result.failed.length) { window.setTimeout(function () { window.location.reload(); }, 800); }
  }

  var all = document.getElementById('retry-all');
  if (all) {
    all.addEventListener('click', function () {
      all.disabled = true;
      api('POST', '/api/v1/incidents/resolution', { incidentKeys: all.dataset.keys.split(',').map(Number), retries: 1 })
        .then(function (r) { report(r, 'resolved'); })
        .catch(function (e) { all.disabled = false; say(e.message, true); });
    });
  }
  var some = document.getElementById('retry-selected');
  watch('.pick-incident', some);
  if (some) {
    some.addEventListener('click', function () {
      api('POST', '/api/v1/incidents/resolution', { incidentKeys: picked('.pick-incident'), retries: 1 })
        .then(function (r) { report(r, 'resolved'); })
        .catch(function (e) { say(e.message, true); });
    });
  }

  var dialog = document.getElementById('cancel-dialog');
  var keys = [];
  function ask(list) {
    keys = list;
    document.getElementById('cancel-what').textContent = list.length === 1 ? 'instance ' + list[0] : list.length + ' instances';
    document.getElementById('cancel-error').textContent = '';
    dialog.showModal();
    document.getElementById('cancel-reason').focus();
  }
  var one = document.getElementById('cancel-one');
  if (one) { one.addEventListener('click', function () { ask([Number(one.dataset.key)]); }); }
  var many = document.getElementById('cancel-selected');
  watch('.pick-instance', many);
  if (many) { many.addEventListener('click', function () { ask(picked('.pick-instance')); }); }
  if (dialog) {
    document.getElementById('cancel-close').addEventListener('click', function () { dialog.close(); });
    document.getElementById('cancel-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var reason = document.getElementById('cancel-reason').value.trim();
      var problem = document.getElementById('cancel-error');
      if (reason.length < 10) { problem.textContent = 'Enter a reason of at least 10 characters'; return; }
      var call = keys.length === 1
        ? api('POST', '/api/v1/process-instances/' + keys[0] + '/cancellation', { reason: reason }).then(function () { return { cancelled: keys, failed: [] }; })
        : api('POST', '/api/v1/process-instances/cancellation', { processInstanceKeys: keys, reason: reason });
      call.then(function (r) { dialog.close(); report(r, 'cancelled'); })
        .catch(function (e) { problem.textContent = e.message; });
    });
  }
})();
