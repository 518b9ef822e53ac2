// Reads the boxes of every Plotly chart's title, axis titles, tick labels and legend from its SVG and
// reports pairs that overlap and text cut off at the chart's edge (tests/e2e/test_layout.py).
// Written as one arrow function so Playwright's page.evaluate can run it as is.
(root) => {
  const boxes = (plot, selector, what) =>
    Array.from(plot.querySelectorAll(selector))
      .map((el) => ({ what, r: el.getBoundingClientRect(), text: (el.textContent || "").slice(0, 60) }))
      .filter((b) => b.r.width > 0 && b.r.height > 0);
  const overlap = (a, b) => {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return w > 1 && h > 1;
  };
  const out = [];
  const scope = root ? document.querySelector(root) : document;
  for (const plot of scope.querySelectorAll(".js-plotly-plot")) {
    const holder = plot.closest("[class*='st-key-']");
    const key = holder ? (holder.className.match(/st-key-([\w-]+)/) || [])[1] : plot.id;
    const svg = plot.querySelector(".main-svg");
    if (!svg) continue;
    const frame = svg.getBoundingClientRect();
    const items = [
      ...boxes(plot, ".g-gtitle text", "title"),
      ...boxes(plot, "[class^='g-x'][class$='title'] text", "x title"),
      ...boxes(plot, "[class^='g-y'][class$='title'] text", "y title"),
      ...boxes(plot, ".legend .bg", "legend"),
      ...boxes(plot, ".colorbar .cbtitle text", "colorbar title"),
    ];
    // Tick labels, one box each (named by axis): a legend or title on top of them hides the scale.
    for (const t of plot.querySelectorAll(".xaxislayer-above text, .yaxislayer-above text")) {
      const cls = (t.closest("g") && t.closest("g").getAttribute("class")) || "";
      const axis = (cls.match(/^([xy]\d*)tick/) || [null, "tick"])[1];
      const r = t.getBoundingClientRect();
      if (r.width > 0) items.push({ what: `ticks ${axis}`, r, text: (t.textContent || "").slice(0, 20) });
    }
    const problems = [];
    for (let i = 0; i < items.length; i++) {
      const a = items[i];
      if (a.r.left < frame.left - 1 || a.r.right > frame.right + 1 || a.r.top < frame.top - 1 || a.r.bottom > frame.bottom + 1)
        problems.push(`${a.what} '${a.text}' cut off`);
      for (let j = i + 1; j < items.length; j++) {
        const b = items[j];
        if (a.what === b.what && a.what.startsWith("ticks")) continue; // labels of one axis: Plotly spaces them
        if (overlap(a.r, b.r)) problems.push(`${a.what} '${a.text}' overlaps ${b.what} '${b.text}'`);
      }
    }
    out.push({ key, width: frame.width, height: frame.height, n: items.length, problems });
  }
  return out;
}
