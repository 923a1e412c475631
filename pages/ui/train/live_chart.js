const THEME = __THEME__;
let plotlyLoading;

export default function ({ parentElement, data }) {
  if (data?.figure) draw(parentElement, data);
}

async function draw(host, frame) {
  const plots = (window.__moduleLabPlots ??= {});
  const plot = (plots[frame.name] ??= document.createElement("div"));
  if (frame.frame < (plot.frame ?? 0)) return;  // a frame replaced before its code ran
  plot.frame = frame.frame;
  if (plot.parentNode !== host) host.replaceChildren(plot);
  followReplacement(plot, host);
  let Plotly;
  try {
    Plotly = window.Plotly ?? (await loadPlotly(frame.plotly));
  } catch (error) {
    plot.textContent = "This chart needs plotly.js, which did not load. Reload the page to try again.";
    return console.error("Module Lab: plotly.js did not load", error);
  }
  if (plot.frame !== frame.frame) return;  // a newer frame came while plotly.js loaded
  const shows = `${frame.interactive} ${frame.figure}`;
  if (plot.shows === shows) return;  // the same figure again (a run's first frame is the start view)
  plot.shows = shows;
  const { data: traces, layout } = JSON.parse(frame.figure);
  layout.template = THEME;
  if (layout.title) layout.title.text = `<b>${layout.title.text ?? ""}</b>`;  // as Streamlit's theme does
  // Plotly fits the plot to the div when the window resizes; a div without its own height would
  // measure 0 once it has been moved between elements, and the chart would vanish.
  if (layout.height) plot.style.height = `${layout.height}px`;
  Plotly.react(plot, traces, layout, { staticPlot: !frame.interactive, responsive: true });
}

// Streamlit's own plotly.js chunk, the module its st.plotly_chart imports (it sets window.Plotly).
// Imported once the page has painted: its 4.7 MB take the browser ~0.6 s, and the controls come first.
function loadPlotly(chunk) {
  plotlyLoading ??= new Promise((resolve, reject) => requestAnimationFrame(() => setTimeout(() => {
    const streamlit = document.querySelector("script[src*='/static/js/index.']");
    import(new URL(chunk, streamlit.src).href).then(() => resolve(window.Plotly), reject);
  })));
  return plotlyLoading;
}

// The next frame is a new element. React swaps it in at once, but runs its code only after the
// browser may have painted the page without this chart (a blink, and the page below jumps up).
// A MutationObserver runs before that paint: it moves the plot into the new element right away.
function followReplacement(plot, host) {
  const container = host.closest("[data-testid='stElementContainer']");
  const block = container?.parentNode;
  if (!block) return;
  const index = Array.prototype.indexOf.call(block.children, container);
  plot.observer?.disconnect();
  plot.observer = new MutationObserver(() => {
    if (plot.isConnected) return;
    const next = block.children[index];
    const nextHost = next?.matches("[data-testid='stElementContainer']") &&
      next.querySelector("[data-testid='stBidiComponentRegular']");
    if (nextHost) nextHost.replaceChildren(plot);
    else plot.observer.disconnect();  // the run ended: an interactive chart (or nothing) took its place
  });
  plot.observer.observe(block, { childList: true });
}
