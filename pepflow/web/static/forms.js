// Forms that post JSON to the API and show refusals as the GOV.UK Design System does:
// an error summary at the top (focused, each message a link to its field) and the
// message next to the field; nothing is flagged before the person submits.
// <form data-api="/api/v1/..." data-method="POST" data-done="message" data-reload="yes">
(function () {
  'use strict';

  function clearErrors(form) {
    form.querySelectorAll('.field-error').forEach(function (el) { el.remove(); });
    form.querySelectorAll('[aria-invalid]').forEach(function (el) {
      el.removeAttribute('aria-invalid');
      var described = (el.getAttribute('aria-describedby') || '').split(' ').filter(function (id) { return id.indexOf('-error') < 0; });
      if (described.length) { el.setAttribute('aria-describedby', described.join(' ')); } else { el.removeAttribute('aria-describedby'); }
    });
    var summary = form.querySelector('.error-summary');
    if (summary) { summary.remove(); }
  }

  function fieldFor(form, name) {
    return form.querySelector('[name="' + name + '"]');
  }

  function showErrors(form, fields, message) {
    clearErrors(form);
    var summary = document.createElement('div');
    summary.className = 'error-summary';
    summary.setAttribute('role', 'alert');
    summary.tabIndex = -1;
    var title = document.createElement('h2');
    title.textContent = 'There is a problem';
    summary.appendChild(title);
    var list = document.createElement('ul');
    var names = Object.keys(fields || {});
    names.forEach(function (name) {
      var input = fieldFor(form, name);
      var item = document.createElement('li');
      if (input) {
        if (!input.id) { input.id = form.id + '-' + name; }
        var link = document.createElement('a');
        link.href = '#' + input.id;
        link.textContent = fields[name];
        link.addEventListener('click', function (event) { event.preventDefault(); input.focus(); });
        item.appendChild(link);
        var inline = document.createElement('p');
        inline.className = 'field-error';
        inline.id = input.id + '-error';
        inline.innerHTML = '<span class="visually-hidden">Error:</span> ';
        inline.appendChild(document.createTextNode(fields[name]));
        input.parentNode.insertBefore(inline, input);
        input.setAttribute('aria-invalid', 'true');
        var described = input.getAttribute('aria-describedby');
        input.setAttribute('aria-describedby', (described ? described + ' ' : '') + inline.id);
      } else {
        item.textContent = fields[name];
      }
      list.appendChild(item);
    });
    if (!names.length) {
      var only = document.createElement('li');
      only.textContent = message;
      list.appendChild(only);
    }
    summary.appendChild(list);
    form.insertBefore(summary, form.firstChild);
    summary.focus();
  }

  function body(form) {
    var data = {};
    new FormData(form).forEach(function (value, key) {
      if (key === 'csrf_token') { return; }
      data[key] = value === '' ? null : value;
    });
    return data;
  }

  document.querySelectorAll('form[data-api]').forEach(function (form) {
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      var url = form.dataset.api;
      var pathField = form.querySelector('[data-path]');
      if (pathField) {  // the person the form is about is part of the address
        if (!pathField.value) {
          var missing = {};
          missing[pathField.name] = pathField.dataset.missing || 'Choose a worker';
          showErrors(form, missing, missing[pathField.name]);
          return;
        }
        url = pathField.dataset.path.replace('{id}', encodeURIComponent(pathField.value));
      }
      var button = form.querySelector('button[type="submit"]');
      if (button) { button.disabled = true; }
      try {
        var data = body(form);
        if (pathField) { delete data[pathField.name]; }
        var result = await window.pep.api(form.dataset.method || 'POST', url, data);
        clearErrors(form);
        var done = form.dataset.done || 'Saved.';
        if (result && typeof result.movedTasks === 'number') { done += ' ' + result.movedTasks + ' open task(s) moved.'; }
        if (result && result.summary) { done = result.summary; }
        window.pep.say(done);
        if (form.dataset.reload === 'yes') {
          window.sessionStorage.setItem('pep-flash', done);
          window.location.reload();
        } else {
          form.reset();
        }
      } catch (error) {
        var fields = error.data && error.data.detail && error.data.detail.fields;
        showErrors(form, fields || {}, error.message);
      } finally {
        if (button) { button.disabled = false; }
      }
    });
  });

  window.pep.showErrors = showErrors;
})();
