// Training Lab live chart: one Plotly plot (or the run status line) that stays in the page and is
// updated in place.
//
// Streamlit's own st.plotly_chart gives each new figure a new element id, so every poll of a
// training run unmounts the plot and builds it again from nothing (Plotly.newPlot, modebar,
// axes, text measurement). Here the plot element lives on, and each new figure goes through
// Plotly.react, which redraws only what changed. A chart that is scrolled out of view, or in
// a hidden tab, keeps only its newest figure and draws it when it comes into view.
//
// Charts mounted with a `feed` fetch new figures themselves from the server's live route
// (lab/ui/live_routes.py) instead of waiting for a Streamlit rerun: all charts of one feed share
// one request per poll, an unchanged run answers in a few bytes, and no Streamlit script or
// React re-render runs per poll. When the runs end, the status line sends the `ended` trigger,
// and Streamlit reruns the page once to show the finished state.
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

// ---- drawing ---------------------------------------------------------------------------------

function draw(plot) {
  const next = plot.__next;
  if (!next) return;
  plot.__next = null;
  // Draws are chained so that figures arriving faster than Plotly draws keep their order.
  plot.__drawing = (plot.__drawing || Promise.resolve())
    .then(loadPlotly)
    .then((Plotly) => {
      const layout = Object.assign({}, next.figure.layout, { autosize: true });
      return Plotly.react(plot, next.figure.data, layout, next.config).then(() => bindPick(plot));
    })
    .catch((error) => {
      plot.textContent = "Chart unavailable: " + error.message;
    });
}

function bindPick(plot) {
  // A pickable chart (the network overview) sends the clicked point's customdata back to Python as the
  // `pick` trigger; bound once per plot, it always calls the latest render's setter.
  if (!plot.__pick || plot.__pickBound || !plot.on) return;
  plot.__pickBound = true;
  plot.on("plotly_click", (event) => {
    const point = event && event.points && event.points[0];
    if (point && plot.__pick) plot.__pick(point.customdata === undefined ? point.x : point.customdata);
  });
}

function visible(el) {
  return !document.hidden && el.__inView !== false;
}

function watch(el, show) {
  // Show deferred content as soon as the element scrolls into view or the tab is shown again.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) el.__inView = entry.isIntersecting;
    if (visible(el)) show(el);
  }, { rootMargin: "200px" });
  observer.observe(el);
  document.addEventListener("visibilitychange", () => visible(el) && show(el));
}

function setFigure(plot, figure, config) {
  plot.style.height = ((figure.layout && figure.layout.height) || 320) + "px";
  plot.__next = { figure, config };
  if (visible(plot)) draw(plot);
}

function showStatus(box, runs, mine) {
  box.replaceChildren();
  runs.forEach((run, i) => {
    const line = document.createElement("div");
    line.className = "tl-status-line";
    const label = document.createElement("strong");
    label.textContent = run.label;
    line.append(label, " · " + run.text + (mine[i] === false ? " · read-only (shared link)" : ""));
    const bar = document.createElement("div");
    bar.className = "tl-progress";
    const fill = document.createElement("div");
    fill.style.width = Math.round(100 * run.progress) + "%";
    bar.append(fill);
    box.append(line, bar);
  });
}

function showHints(box, hints) {
  // The diagnosis panel: a heading, then one paragraph per hint (icon, topic in bold, plain text).
  box.replaceChildren();
  const heading = document.createElement("p");
  const strong = document.createElement("strong");
  strong.textContent = "What the figures say";
  heading.append(strong);
  box.append(heading);
  if (!hints.length) {
    const empty = document.createElement("p");
    empty.className = "tl-hint-empty";
    empty.textContent = "Hints appear once the run has a few steps behind it.";
    box.append(empty);
  }
  for (const hint of hints) {
    const line = document.createElement("p");
    const topic = document.createElement("strong");
    topic.textContent = hint.topic;
    line.append(hint.icon ? hint.icon + " " : "", topic, ": " + hint.text);
    box.append(line);
    if (hint.verdict) {
      // Its fix was tried in run B (lab/ui/fixes.py): one line on whether it worked.
      const verdict = document.createElement("p");
      verdict.className = "tl-hint-verdict";
      verdict.textContent = hint.verdict;
      box.append(verdict);
    }
  }
}

// ---- the shared poller -----------------------------------------------------------------------

function feeds() {
  return window.__trainingLabFeeds || (window.__trainingLabFeeds = new Map());
}

const FIRST_POLL_MS = 250; // a new feed (a run just started) asks soon: its first steps are what Start should show

function schedule(feed, delay) {
  if (feed.timer || !feed.active || feed.subscribers.size === 0) return;
  feed.timer = setTimeout(() => poll(feed), delay === undefined ? feed.interval : delay);
}

async function poll(feed) {
  feed.timer = null;
  if (!feed.active || feed.subscribers.size === 0) return;
  if (document.hidden) {
    // A hidden tab asks for nothing; the page polls again as soon as it is shown.
    document.addEventListener("visibilitychange", () => schedule(feed), { once: true });
    return;
  }
  try {
    const url = new URL(feed.url, document.baseURI);
    url.searchParams.set("since", feed.version);
    const response = await fetch(url, { cache: "no-store" });
    if (response.ok) deliver(feed, await response.json());
  } catch (error) {
    // The server may be restarting: keep polling at the same pace; Streamlit shows its own banner.
  }
  schedule(feed);
}

function deliver(feed, payload) {
  feed.active = payload.active;
  if (!payload.unchanged) {
    feed.version = payload.version;
    for (const update of feed.subscribers.values()) update(payload);
  }
  if (!feed.active) for (const update of feed.subscribers.values()) update({ ended: true });
}

function subscribe(key, spec, version, update) {
  // One feed per URL; a component that moves to another feed (a new run) leaves the old one,
  // and a feed nobody listens to stops polling.
  for (const [url, other] of feeds()) {
    if (url !== spec.url && other.subscribers.delete(key) && other.subscribers.size === 0) {
      clearTimeout(other.timer);
      feeds().delete(url);
    }
  }
  let feed = feeds().get(spec.url);
  const fresh = !feed;
  if (fresh) {
    feed = { url: spec.url, version, active: true, interval: spec.interval_ms, subscribers: new Map(), timer: null };
    feeds().set(spec.url, feed);
  }
  feed.interval = spec.interval_ms;
  feed.version = version; // the page's own (fresh) figures; the next poll sends anything newer
  feed.active = spec.active;
  feed.subscribers.set(key, update);
  schedule(feed, fresh ? Math.min(FIRST_POLL_MS, feed.interval) : undefined);
}

function unsubscribeAll(key) {
  for (const [url, feed] of feeds()) {
    if (feed.subscribers.delete(key) && feed.subscribers.size === 0) {
      clearTimeout(feed.timer);
      feeds().delete(url);
    }
  }
}

// ---- the component ---------------------------------------------------------------------------

export default function (component) {
  const { data, parentElement, key, setTriggerValue } = component;
  const kind = data.kind || "plot";
  let el = parentElement.querySelector(":scope > .tl-live");
  const fresh = !el;
  if (fresh) {
    el = document.createElement("div");
    el.className = "tl-live " + (kind === "plot" ? "tl-live-chart" : "tl-" + kind);
    if (kind === "plot") {
      el.style.width = "100%";
      // A layout root: Plotly measures text after each change, and without containment every such
      // measurement lays out the whole page (thousands of Streamlit nodes), not just this chart.
      el.style.contain = "strict";
    }
    parentElement.appendChild(el);
  }
  if (data.pickable) el.__pick = (value) => setTriggerValue("pick", value);
  if (kind === "status") {
    showStatus(el, data.runs, data.mine || []);
  } else if (kind === "hints") {
    showHints(el, data.hints || []);
  } else if (kind === "waiter") {
    el.style.display = "none";
  } else if (el.__text !== data.figure) {
    // A rerun that brings the same figure (a layer chart between two snapshots) costs nothing here.
    el.__text = data.figure;
    const figure = JSON.parse(data.figure);
    el.style.height = ((figure.layout && figure.layout.height) || 320) + "px";
    el.__next = { figure, config: data.config };
    if (fresh) watch(el, draw); // the first observer callback draws it if it is on screen
    else if (visible(el)) draw(el);
  }
  if (data.feed) {
    let ended = false;
    let ready = false;
    subscribe(key, data.feed, data.version, (payload) => {
      if (payload.ended) {
        if (kind === "status" && !ended) {
          ended = true;
          setTriggerValue("ended", true); // one rerun shows the finished run's buttons and downloads
        }
        return;
      }
      if (kind === "status") showStatus(el, payload.runs, data.mine || []);
      else if (kind === "waiter") {
        // Reruns its fragment once, when the run knows its number of steps (the timeline needs it).
        if (!ready && payload.total_steps > 0) {
          ready = true;
          setTriggerValue("ready", true);
        }
      } else if (kind === "hints") showHints(el, payload.hints || []);
      else {
        el.__text = null; // the chart now shows a feed figure, so any figure from the next rerun is drawn
        setFigure(el, payload.figures[data.name], data.config);
      }
    });
  } else {
    unsubscribeAll(key);
  }
  return () => unsubscribeAll(key);
}
