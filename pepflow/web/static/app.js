// Shared page behaviour: calls to the JSON API with the CSRF token.
(function () {
  'use strict';
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function say(text, isError) {
    var box = document.getElementById('status');
    if (!box) { return; }
    box.textContent = text;
    box.className = isError ? 'status error' : 'status ok';
  }

  async function api(method, url, body) {
    var options = { method: method, headers: { 'X-CSRF-Token': csrf, 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    var response = await fetch(url, options);
    var data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (e) { data = null; }
    }
    if (!response.ok) {
      var detail = data && data.detail;
      if (detail && typeof detail === 'object') {
        detail = (detail.message || '') + (detail.problems ? ' ' + detail.problems.join('; ') : '');
        if (!detail.trim()) { detail = JSON.stringify(data.detail); }
      }
      var error = new Error(detail || ('request failed: ' + response.status));
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  var actions = {
    claim: function (key) { return api('POST', '/api/v1/user-tasks/' + key + '/assignment', {}); },
    unclaim: function (key) { return api('DELETE', '/api/v1/user-tasks/' + key + '/assignee'); },
    retry: function (key) { return api('POST', '/api/v1/incidents/' + key + '/resolution', { retries: 1 }); },
    unlock: function (key) { return api('POST', '/api/v1/users/' + key + '/unlock'); },
    disable: function (key) { return api('POST', '/api/v1/users/' + key + '/disable'); },
    enable: function (key) { return api('POST', '/api/v1/users/' + key + '/enable'); },
    revoke: function (key) { return api('DELETE', '/api/v1/users/' + key + '/sessions'); },
    reset: function (key) {
      return api('POST', '/api/v1/users/' + key + '/password-reset').then(function (r) {
        var box = document.getElementById('reset-code');
        box.textContent = 'One-time reset code for ' + r.username + ' (valid ' + r.expiresInHours + ' hours; give it by phone or in person, never by e-mail): ' + r.code +
          ' - or the link ' + window.location.origin + r.link;
        return 'keep';
      });
    }
  };

  document.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-action]');
    if (!button) { return; }
    var action = actions[button.dataset.action];
    if (!action) { return; }
    button.disabled = true;
    action(button.dataset.key).then(function (result) {
      say('Done.');
      if (result === 'keep') { button.disabled = false; return; }
      window.location.reload();
    }).catch(function (error) {
      button.disabled = false;
      say(error.message, true);
    });
  });

  // A returned school form: what the read-back found stays on the page until the
  // person moves on (no reload): each flag with where it was and the school's words,
  // each change against an earlier return, and where to review it.
  function showUpload(result, box) {
    box.textContent = '';
    var summary = document.createElement('p');
    summary.className = result.needsReview ? 'status error' : 'status ok';
    summary.textContent = result.summary;
    box.appendChild(summary);
    var lines = (result.warnings || []).slice();
    var invalid = result.invalidFields || {};
    Object.keys(invalid).forEach(function (name) {
      if (!lines.some(function (line) { return line.indexOf(invalid[name]) !== -1; })) {
        lines.push('not readable: ' + name + ': "' + invalid[name] + '"');
      }
    });
    if (lines.length) {
      var list = document.createElement('ul');
      list.className = 'findings';
      lines.forEach(function (line) {
        var item = document.createElement('li');
        item.textContent = line.trim();
        list.appendChild(item);
      });
      box.appendChild(list);
    }
    var next = document.createElement('p');
    if (result.needsReview && result.schoolReturnId) {
      var link = document.createElement('a');
      link.href = '/reviews/' + result.schoolReturnId;
      link.textContent = 'Review returned form ' + result.schoolReturnId;
      next.appendChild(link);
      next.appendChild(document.createTextNode(' (business support accept it, correct it or ask the school again).'));
    } else {
      var again = document.createElement('a');
      again.href = window.location.pathname;
      again.textContent = 'Show the PEP with the form taken in';
      next.appendChild(again);
    }
    box.appendChild(next);
  }

  var upload = document.getElementById('upload');
  if (upload) {
    upload.addEventListener('submit', function (event) {
      event.preventDefault();
      var data = new FormData(upload);
      var box = document.getElementById('upload-result');
      api('POST', upload.action, data).then(function (result) {
        say(result.needsReview ? 'Form received: it waits for review.' : 'Form received and taken in.');
        showUpload(result, box);
      }).catch(function (error) { say(error.message, true); box.textContent = error.message; });
    });
  }

  var account = document.getElementById('new-account');
  if (account) {
    account.addEventListener('submit', function (event) {
      event.preventDefault();
      var f = new FormData(account);
      api('POST', '/api/v1/users', { username: f.get('username'), staffId: f.get('staffId'), password: f.get('password') || null })
        .then(function () { window.location.reload(); })
        .catch(function (error) { say(error.message, true); });
    });
  }

  var allocate = document.getElementById('allocate');
  if (allocate) {
    allocate.addEventListener('submit', function (event) {
      event.preventDefault();
      var f = new FormData(allocate);
      api('POST', '/api/v1/children/' + allocate.dataset.child + '/allocations',
          { role: f.get('role'), staffId: f.get('staffId') || null, startsOn: f.get('startsOn') || null })
        .then(function (r) { say('Allocated; ' + r.movedTasks.length + ' open task(s) moved.'); window.setTimeout(function () { window.location.reload(); }, 800); })
        .catch(function (error) { say(error.message, true); });
    });
  }

  var venue = document.getElementById('venue-details');
  if (venue) {
    venue.addEventListener('submit', function (event) {
      event.preventDefault();
      api('PUT', '/api/v1/peps/' + venue.dataset.pep + '/meeting-venue', { details: new FormData(venue).get('details') })
        .then(function () { say('Venue details saved in the PEP record.'); })
        .catch(function (error) { say(error.message, true); });
    });
  }

  var comments = document.getElementById('return-comments');
  if (comments) {
    comments.addEventListener('submit', function (event) {
      event.preventDefault();
      api('PUT', '/api/v1/peps/' + comments.dataset.pep + '/return-comments', { text: new FormData(comments).get('text') })
        .then(function () { say('Comments saved in the PEP record; business support sees them when typing up.'); })
        .catch(function (error) { say(error.message, true); });
    });
  }

  window.pep = { api: api, say: say };
  var flash = window.sessionStorage.getItem('pep-flash');
  if (flash) {
    window.sessionStorage.removeItem('pep-flash');
    say(flash);
  }
})();
