// The task list refreshes itself: every 15 seconds (and when the tab comes back) it
// fetches this same page and swaps the list in, so the next step shows up right after
// the last one was completed. Focus stays where it was; a change is announced politely.
(function () {
  'use strict';
  var box = document.getElementById('task-list');
  if (!box) { return; }
  var errors = document.getElementById('filter-errors');
  if (errors) { errors.focus(); }
  var busy = false;

  async function refresh() {
    if (busy || document.hidden) { return; }
    if (box.contains(document.activeElement) && document.activeElement !== document.body) { return; }
    busy = true;
    try {
      var response = await fetch(window.location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } });
      if (!response.ok) { return; }
      var html = new DOMParser().parseFromString(await response.text(), 'text/html');
      var fresh = html.getElementById('task-list');
      if (!fresh) { return; }
      var before = box.querySelector('#task-count') && box.querySelector('#task-count').firstChild.textContent;
      var keysBefore = Array.prototype.map.call(box.querySelectorAll('tr[data-task]'), function (r) { return r.dataset.task; }).join(',');
      var keysAfter = Array.prototype.map.call(fresh.querySelectorAll('tr[data-task]'), function (r) { return r.dataset.task; }).join(',');
      box.innerHTML = fresh.innerHTML;
      var stamp = box.querySelector('#refreshed');
      if (stamp) { stamp.textContent = 'Updated ' + new Date().toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' }) + '; this list refreshes itself.'; }
      if (keysBefore !== keysAfter) {
        var after = box.querySelector('#task-count') && box.querySelector('#task-count').firstChild.textContent;
        window.pep.say('The task list changed: ' + (after || '').trim() + (before && before !== after ? ' (was ' + before.trim() + ')' : ''));
      }
    } catch (e) {
      /* offline for a moment: the next round tries again */
    } finally {
      busy = false;
    }
  }

  window.setInterval(refresh, 15000);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { refresh(); } });
  window.pep.refreshTasks = refresh;
})();
