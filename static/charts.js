// Usage charts: each <div data-chart="ID"> is drawn with uPlot from the
// table whose id is ID, so the chart and its table show the same numbers.
// Line colours reach a contrast of at least 4.5:1 on the white card (WCAG
// 1.4.11 asks 3:1 of graphics).
(() => {
  // Sets the time zone field of the range form to the browser's, and shows
  // the page again in it when it was shown in another.
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const field = document.querySelector('input[data-browser-tz]');
  if (field && tz && field.value !== tz) {
    const url = new URL(window.location.href);
    if (!url.searchParams.has('tz')) {
      url.searchParams.set('tz', tz);
      window.location.replace(url.toString());
      return;
    }
  }

  const colours = ['#1f5fbf', '#b3261e', '#1b7a3d', '#8a4b00', '#6b3fa0', '#00696f', '#444444'];
  const charts = [];

  for (const box of document.querySelectorAll('div[data-chart]')) {
    const table = document.getElementById(box.dataset.chart);
    if (!table) continue;
    const names = [...table.tHead.rows[0].cells].slice(1).map((c) => c.textContent.trim());
    const xs = [];
    const ys = names.map(() => []);
    for (const row of table.tBodies[0].rows) {
      xs.push(Number(row.dataset.t));
      [...row.cells].slice(1).forEach((cell, i) => {
        const text = cell.textContent.trim();
        ys[i].push(text === '' ? null : Number(text));
      });
    }
    const opts = {
      width: Math.max(box.clientWidth, 240),
      height: 240,
      series: [{}, ...names.map((label, i) => ({
        label,
        stroke: colours[i % colours.length],
        width: 2,
        spanGaps: false,
      }))],
      axes: [{}, { label: box.dataset.unit, size: 60 }],
      scales: { x: { time: true } },
    };
    charts.push({ box, plot: new uPlot(opts, [xs, ...ys], box) });
  }

  // Follows the page's width (phones, rotation).
  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const { box, plot } of charts) {
        plot.setSize({ width: Math.max(box.clientWidth, 240), height: 240 });
      }
    });
  });
})();
