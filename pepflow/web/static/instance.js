// The instance's diagram (bpmn-js navigated viewer): active, completed and incident
// elements marked, visit counts, zoom and fit buttons, and a click on an element (or
// the step list) scopes the history, visits and variables to that step.
(function () {
  'use strict';
  var box = document.getElementById('diagram');
  if (!box) { return; }
  function ids(name) { return (box.dataset[name] || '').split(',').filter(Boolean); }
  var visits = JSON.parse(box.dataset.visits || '{}');
  var picker = document.getElementById('pick-element');
  var scopeNote = document.getElementById('scope');
  var variablesTable = document.getElementById('variables');
  var scopes = variablesTable ? JSON.parse(variablesTable.dataset.scopes || '{}') : {};
  var viewer = null, canvas = null, registry = null, selected = null;

  function scope(elementId) {
    selected = elementId || null;
    document.querySelectorAll('#history-tree li[data-element], #visits tr[data-element], tr[data-element]').forEach(function (node) {
      node.classList.remove('selected-row');
      node.hidden = false;
    });
    document.querySelectorAll('#variables tr[data-variable]').forEach(function (row) { row.hidden = false; });
    if (canvas) {
      registry.getAll().forEach(function (el) { canvas.removeMarker(el.id, 'pep-selected'); });
    }
    if (!selected) {
      scopeNote.textContent = 'Showing every step.';
      if (picker) { picker.value = ''; }
      return;
    }
    var name = picker && picker.querySelector('option[value="' + CSS.escape(selected) + '"]');
    var label = name ? name.textContent : selected;
    if (canvas && registry.get(selected)) { canvas.addMarker(selected, 'pep-selected'); }
    if (picker) { picker.value = selected; }
    var shown = 0;
    document.querySelectorAll('#history-tree li[data-element]').forEach(function (li) {
      var mine = li.dataset.element === selected || li.querySelector('li[data-element="' + CSS.escape(selected) + '"]');
      li.hidden = !mine;
      if (li.dataset.element === selected) { li.classList.add('selected-row'); shown += 1; }
    });
    document.querySelectorAll('#visits tr[data-element]').forEach(function (row) { row.hidden = row.dataset.element !== selected; });
    var used = scopes[selected] || [];
    document.querySelectorAll('#variables tr[data-variable]').forEach(function (row) { row.hidden = used.indexOf(row.dataset.variable) < 0; });
    scopeNote.textContent = 'Showing the step “' + label + '”: ' + shown + ' visit(s) in the history, ' + used.length +
      ' variable(s) it uses. Choose “All steps” to show everything.';
  }

  if (picker) { picker.addEventListener('change', function () { scope(picker.value); }); }

  document.querySelectorAll('button[data-zoom]').forEach(function (button) {
    button.addEventListener('click', function () {
      if (!canvas) { return; }
      var how = button.dataset.zoom;
      if (how === 'fit') { canvas.zoom('fit-viewport', 'auto'); }
      else if (how === 'reset') { canvas.zoom(1); }
      else { canvas.zoom(canvas.zoom() * (how === 'in' ? 1.25 : 0.8)); }
    });
  });

  async function show() {
    var response = await fetch('/api/v1/process-instances/' + box.dataset.key + '/xml', { credentials: 'same-origin' });
    if (!response.ok) { throw new Error('diagram not available (' + response.status + ')'); }
    viewer = new BpmnJS({ container: box });
    await viewer.importXML(await response.text());
    canvas = viewer.get('canvas');
    registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    function mark(list, marker) {
      list.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, marker); } });
    }
    mark(ids('completed'), 'pep-completed');
    mark(ids('active'), 'pep-active');
    mark(ids('incidents'), 'pep-incident');
    var overlays = viewer.get('overlays');
    Object.keys(visits).forEach(function (id) {
      var el = registry.get(id);
      if (!el || el.waypoints) { return; }
      var badge = document.createElement('span');
      badge.className = 'visits';
      badge.textContent = visits[id];
      badge.title = visits[id] + ' visit(s)';
      overlays.add(id, { position: { bottom: 0, right: 0 }, html: badge });
    });
    viewer.get('eventBus').on('element.click', function (event) {
      var el = event.element;
      if (!el || el.type === 'bpmn:Process' || el.waypoints) { scope(null); return; }
      scope(el.id);
    });
    box.dataset.rendered = 'yes';
  }

  show().catch(function (error) { window.pep.say(error.message, true); });
})();
