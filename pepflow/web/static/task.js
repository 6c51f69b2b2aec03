// The task's Camunda Form, rendered by form-js and prefilled with the task's variables
// (and the caller's draft on top). Validation as the GOV.UK Design System does it:
// nothing flagged before the person submits; then an error summary at the top whose
// links go to each field; the server's refusals shown the same way.
(function () {
  'use strict';
  var container = document.getElementById('form');
  if (!container) { return; }
  var key = container.dataset.key;
  var canComplete = container.dataset.canComplete === 'yes';
  var form = null;
  var schema = null;
  var errorsBox = document.getElementById('form-errors');

  function api() { return window.pep.api.apply(null, arguments); }

  function labelOf(fieldId) {
    var found = null;
    (function walk(components) {
      (components || []).forEach(function (c) {
        if (c.id === fieldId || c.key === fieldId) { found = c.label || c.key; }
        walk(c.components);
      });
    })(schema && schema.components);
    return found || fieldId;
  }

  function inputFor(fieldId) {
    return container.querySelector('[id$="' + fieldId + '"]') || container.querySelector('[name="' + fieldId + '"]');
  }

  function summary(items) {
    errorsBox.innerHTML = '';
    if (!items.length) { return; }
    var box = document.createElement('div');
    box.className = 'error-summary';
    box.setAttribute('role', 'alert');
    box.tabIndex = -1;
    var title = document.createElement('h2');
    title.textContent = 'There is a problem';
    box.appendChild(title);
    var list = document.createElement('ul');
    items.forEach(function (item) {
      var li = document.createElement('li');
      var input = item.field ? inputFor(item.field) : null;
      if (input && input.id) {
        var link = document.createElement('a');
        link.href = '#' + input.id;
        link.textContent = item.text;
        link.addEventListener('click', function (event) { event.preventDefault(); input.focus(); });
        li.appendChild(link);
      } else {
        li.textContent = item.text;
      }
      list.appendChild(li);
    });
    box.appendChild(list);
    errorsBox.appendChild(box);
    box.focus();
  }

  async function discard() {
    try {
      await api('DELETE', '/api/v1/user-tasks/' + key + '/draft');
      window.sessionStorage.setItem('pep-flash', 'Draft discarded: the form shows the task as it is.');
      window.location.reload();
    } catch (error) { window.pep.say(error.message, true); }
  }

  function showDraft(savedAt) {
    var info = document.getElementById('draft-info');
    info.textContent = '';
    if (!savedAt) { return; }
    info.appendChild(document.createTextNode('Reopened your draft saved ' +
      new Date(savedAt).toLocaleString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' }) + '. '));
    var button = document.createElement('button');
    button.type = 'button';
    button.id = 'discard-draft';
    button.textContent = 'Discard draft';
    button.addEventListener('click', discard);
    info.appendChild(button);
  }

  async function load() {
    var data = await api('GET', '/api/v1/user-tasks/' + key + '/form');
    schema = data.schema;
    showDraft(data.draftSavedAt);
    form = await FormViewer.createForm({ container: container, schema: data.schema, data: data.data });
    if (!canComplete) { form.setProperty('readOnly', true); }
    // focus the page's heading, not a field: reading starts at the top, and no field
    // is left (and flagged "required") before the person has typed anything
    document.getElementById('task-heading').focus();
  }

  function clientErrors(result) {
    return Object.keys(result.errors).map(function (fieldId) {
      return { field: fieldId, text: labelOf(fieldId) + ': ' + [].concat(result.errors[fieldId]).join('; ') };
    });
  }

  function serverErrors(error) {
    var detail = error.data && error.data.detail;
    if (detail && detail.problems && detail.problems.length) {
      var labelled = [];
      (function walk(components) {
        (components || []).forEach(function (c) { if (c.label && c.id) { labelled.push(c); } walk(c.components); });
      })(schema && schema.components);
      return detail.problems.map(function (p) {
        var component = labelled.filter(function (c) { return p.indexOf(c.label) === 0 || p.indexOf("'" + c.key + "'") >= 0; })[0];
        return { field: component ? component.id : null, text: p };
      });
    }
    return [{ field: null, text: error.message }];
  }

  var save = document.getElementById('save-draft');
  if (save) {
    save.addEventListener('click', async function () {
      try {
        // the form's own fields only (what a completion would send), never the task's variables
        var result = await api('PUT', '/api/v1/user-tasks/' + key + '/draft', { variables: form.submit().data });
        showDraft(result.savedAt);
        window.pep.say('Draft saved. You can reopen it later.');
      } catch (error) {
        window.pep.say(error.message, true);
        summary(serverErrors(error));
      }
    });
  }

  var complete = document.getElementById('complete');
  if (complete) {
    complete.addEventListener('click', async function () {
      var result = form.submit();
      var problems = clientErrors(result);
      summary(problems);
      if (problems.length) { return; }
      complete.disabled = true;
      try {
        await api('POST', '/api/v1/user-tasks/' + key + '/completion', { variables: result.data });
        window.sessionStorage.setItem('pep-flash', 'Task completed. Your next tasks are below.');
        window.location.href = '/tasks';
      } catch (error) {
        complete.disabled = false;
        summary(serverErrors(error));
      }
    });
  }

  // form-js's date picker drops or rewrites a typed date it does not take (31/11/2026
  // becomes 1 December; a past or ISO date is cleared): never silently. What the person
  // typed is compared with what the field holds after they leave it, and a difference
  // is said next to the field and announced.
  var typed = new WeakMap();
  container.addEventListener('input', function (event) {
    if (event.target.closest('.fjs-form-field-datetime')) { typed.set(event.target, event.target.value); }
  });
  container.addEventListener('focusout', function (event) {
    var input = event.target;
    var field = input.closest && input.closest('.fjs-form-field-datetime');
    if (!field || !typed.has(input)) { return; }
    var wrote = typed.get(input).trim();
    window.setTimeout(function () {
      var note = field.querySelector('.field-error.typed-date');
      if (note) { note.remove(); }
      if (!wrote || input.value.trim() === wrote) { return; }
      var message = document.createElement('p');
      message.className = 'field-error typed-date';
      message.id = (input.id || 'date') + '-typed-error';
      message.textContent = input.value
        ? 'You typed ' + wrote + ', which the date picker changed to ' + input.value + ': check it, and type the date as DD/MM/YYYY (for example 03/12/2026).'
        : 'You typed ' + wrote + ', which is not a date this field takes (it must be a real date, written DD/MM/YYYY, and not in the past): enter it again.';
      field.appendChild(message);
      input.setAttribute('aria-describedby', ((input.getAttribute('aria-describedby') || '') + ' ' + message.id).trim());
      window.pep.say(message.textContent, true);
    }, 50);
  });

  load().catch(function (error) { window.pep.say('The form could not be shown: ' + error.message, true); });
})();
