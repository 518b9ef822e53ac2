// Training Lab live chart: one Plotly plot that stays in the page and is updated in place.
//
// Streamlit's own st.plotly_chart gives each new figure a new element id, so every poll of a
// training run unmounts the plot and builds it again from nothing (Plotly.newPlot, modebar,
// axes, text measurement). On a two-core laptop that alone kept the browser's main thread
// busy most of the time. Here the plot element lives on, and each new figure goes through
// Plotly.react, which redraws only what changed. A chart that is scrolled out of view, or in
// a hidden tab, keeps only its newest figure and draws it when it comes into view: a student
// watching the loss curve does not pay for the heatmaps further down the page.
const PLOTLY_URL = "app/static/plotly.min.js"; // copied from the plotly package by lab.ui.live_chart

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__trainingLabPlotly) {
    window.__trainingLabPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(PLOTLY_URL, document.baseURI).href;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        window.__trainingLabPlotly = null; // let a later render try again
        reject(new Error("could not load " + script.src));
      };
      document.head.appendChild(script);
    });
  }
  return window.__trainingLabPlotly;
}

function draw(plot) {
  const next = plot.__next;
  if (!next) return;
  plot.__next = null;
  // Draws are chained so that figures arriving faster than Plotly draws keep their order.
  plot.__drawing = (plot.__drawing || Promise.resolve())
    .then(loadPlotly)
    .then((Plotly) => {
      const layout = Object.assign({}, next.figure.layout, { autosize: true });
      return Plotly.react(plot, next.figure.data, layout, next.config);
    })
    .catch((error) => {
      plot.textContent = "Chart unavailable: " + error.message;
    });
}

function visible(plot) {
  return !document.hidden && plot.__inView !== false;
}

function watch(plot) {
  // Draw a deferred figure as soon as the chart scrolls into view or the tab is shown again.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) plot.__inView = entry.isIntersecting;
    if (visible(plot)) draw(plot);
  }, { rootMargin: "200px" });
  observer.observe(plot);
  document.addEventListener("visibilitychange", () => visible(plot) && draw(plot));
}

export default function (component) {
  const { data, parentElement } = component;
  let plot = parentElement.querySelector(":scope > .tl-live-chart");
  const fresh = !plot;
  if (fresh) {
    plot = document.createElement("div");
    plot.className = "tl-live-chart";
    plot.style.width = "100%";
    // A layout root: Plotly measures text after each change, and without containment every such
    // measurement lays out the whole page (thousands of Streamlit nodes), not just this chart.
    plot.style.contain = "strict";
    parentElement.appendChild(plot);
  }
  const figure = JSON.parse(data.figure);
  plot.style.height = ((figure.layout && figure.layout.height) || 320) + "px";
  plot.__next = { figure, config: data.config };
  if (fresh) watch(plot); // the first observer callback draws it if it is on screen
  else if (visible(plot)) draw(plot);
}
