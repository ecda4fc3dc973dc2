// The console's one script: draws the charts whose ECharts options the server put in JSON blocks,
// and keeps a running run's DAG current by polling its state. No framework; served as a file so
// the Content-Security-Policy can forbid inline script.
'use strict';

function startCharts() {
  if (typeof window.echarts === 'undefined') return;
  var charts = [];
  document.querySelectorAll('[data-chart]').forEach(function (el) {
    var data = document.getElementById(el.getAttribute('data-chart'));
    if (!data) return;
    var chart = window.echarts.init(el, null, { renderer: 'canvas' });
    chart.setOption(JSON.parse(data.textContent));
    charts.push(chart);
  });
  window.addEventListener('resize', function () {
    charts.forEach(function (c) { c.resize(); });
  });
  window.sluiceCharts = charts;
}

function applyState(box, state) {
  Object.keys(state.nodes).forEach(function (id) {
    var n = state.nodes[id];
    var g = box.querySelector('g[data-node="' + CSS.escape(id) + '"]');
    if (!g) return;
    g.setAttribute('class', 'node n-' + n.status);
    var title = g.querySelector('title');
    if (title) title.textContent = id + ': ' + n.status;
    if (n.line) {
      var sub = g.querySelector('text.n-sub');
      if (sub) sub.textContent = n.line;
    }
  });
  var badge = document.querySelector('#run-status .badge');
  if (badge) {
    badge.textContent = state.status;
    badge.setAttribute('class', 'badge s-' + state.status);
  }
}

function startPolling() {
  var box = document.getElementById('run-dag');
  if (!box || box.getAttribute('data-final') === 'true') return;
  var url = box.getAttribute('data-state-url');
  var every = Number(box.getAttribute('data-poll-ms')) || 2000;
  function poll() {
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error('state: HTTP ' + r.status)); })
      .then(function (state) {
        applyState(box, state);
        box.setAttribute('data-polls', String(Number(box.getAttribute('data-polls') || 0) + 1));
        // The run ended: reload once, so the timeline, errors and artifacts are the final ones.
        if (state.final) window.location.reload();
        else setTimeout(poll, Math.max(every, Number(state.nextPollMs) || 0));
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
}

document.addEventListener('DOMContentLoaded', function () {
  startCharts();
  startPolling();
});
