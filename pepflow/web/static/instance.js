// The instance's diagram (bpmn-js navigated viewer) with active, completed and
// incident elements marked.
(function () {
  'use strict';
  var box = document.getElementById('diagram');
  if (!box) { return; }
  function ids(name) { return (box.dataset[name] || '').split(',').filter(Boolean); }

  async function show() {
    var response = await fetch('/api/v1/process-instances/' + box.dataset.key + '/xml', { credentials: 'same-origin' });
    if (!response.ok) { throw new Error('diagram not available (' + response.status + ')'); }
    var viewer = new BpmnJS({ container: box });
    await viewer.importXML(await response.text());
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    function mark(list, marker) {
      list.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, marker); } });
    }
    mark(ids('completed'), 'pep-completed');
    mark(ids('active'), 'pep-active');
    mark(ids('incidents'), 'pep-incident');
    box.dataset.rendered = 'yes';
  }

  show().catch(function (error) { window.pep.say(error.message, true); });
})();
