// The task's Camunda Form, rendered by form-js and prefilled with the task's variables.
(function () {
  'use strict';
  var container = document.getElementById('form');
  if (!container) { return; }
  var key = container.dataset.key;
  var canComplete = container.dataset.canComplete === 'yes';
  var form = null;

  function api() { return window.pep.api.apply(null, arguments); }

  async function load() {
    var data = await api('GET', '/api/v1/user-tasks/' + key + '/form');
    if (data.draftSavedAt) {
      document.getElementById('draft-info').textContent = 'Reopened your draft saved ' + new Date(data.draftSavedAt).toLocaleString('en-GB') + '.';
    }
    form = await FormViewer.createForm({ container: container, schema: data.schema, data: data.data });
    if (!canComplete) { form.setProperty('readOnly', true); }
    var first = container.querySelector('input, select, textarea');
    if (first && canComplete) { first.focus(); }
  }

  function values() {
    var result = form.submit();
    return result;
  }

  var save = document.getElementById('save-draft');
  if (save) {
    save.addEventListener('click', async function () {
      try {
        // the form's own fields only (what a completion would send), never the task's variables
        var result = values().data;
        await api('PUT', '/api/v1/user-tasks/' + key + '/draft', { variables: result });
        window.pep.say('Draft saved. You can reopen it later.');
      } catch (error) { window.pep.say(error.message, true); }
    });
  }

  var complete = document.getElementById('complete');
  if (complete) {
    complete.addEventListener('click', async function () {
      var errorsBox = document.getElementById('form-errors');
      errorsBox.textContent = '';
      var result = values();
      if (Object.keys(result.errors).length) {
        errorsBox.textContent = 'Please correct the fields marked in the form.';
        var bad = container.querySelector('[aria-invalid="true"]');
        if (bad) { bad.focus(); }
        return;
      }
      complete.disabled = true;
      try {
        await api('POST', '/api/v1/user-tasks/' + key + '/completion', { variables: result.data });
        window.pep.say('Task completed.');
        window.location.href = '/tasks';
      } catch (error) {
        complete.disabled = false;
        errorsBox.textContent = error.message;
      }
    });
  }

  load().catch(function (error) { window.pep.say('The form could not be shown: ' + error.message, true); });
})();
