/**
 * The plot widget (anywidget module): series over a session's timeline, drawn by uPlot.
 * A playhead follows the session's frame; a click goes there (the session seeks and the
 * transition is published to every listener), shift-click publishes only; a drag selects
 * a range (`plot.selected` in Python); arrows move the cursor, Enter goes there.
 */
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css';

import { Playhead, playheadFor, releasePlayhead } from '../playhead';
import { VERSION, versionProblem } from '../version';
import type { IPlotData, IPlotPoints, IPlotSeries } from './messages';
import { describeReply, IModel, KERNEL_LOST_TEXT, listenForReplies, request, warm, whenKernelLost } from './host';

/** Okabe and Ito's colours: told apart with every common colour blindness. */
const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442'];

function floats(view: DataView): (number | null)[] {
  const values = new Float64Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  // uPlot draws a gap at null: a frame without the key is a gap, not a zero.
  return Array.from(values, v => (Number.isFinite(v) ? v : null));
}

function initialize({ model }: { model: IModel }): void {
  listenForReplies(model);
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  const problem = versionProblem(model.get('python_version'));
  if (problem) {
    el.textContent = problem;
    return () => undefined;
  }
  el.classList.add('fc-plot');
  el.tabIndex = 0;
  // Arrows and Enter are the plot's while it has the focus, not the notebook's shortcuts
  // (Lumino leaves alone keys from inside an element marked so).
  el.dataset.lmSuppressShortcuts = 'true';
  el.setAttribute('role', 'application');
  el.setAttribute('aria-label', 'Plot: click a point to send every viewer to that frame');
  const style = document.createElement('style');
  style.textContent = uplotCss; // inside the widget: marimo's shadow roots see no page style
  const chart = document.createElement('div');
  chart.className = 'fc-plot-chart';
  const status = document.createElement('div');
  status.className = 'fc-plot-status';
  status.setAttribute('aria-live', 'polite');
  status.textContent = 'click: go there (session and viewers) \u00b7 shift-click: publish only \u00b7 drag: select';
  el.append(style, chart, status);

  let plot: uPlot | null = null;
  let series: IPlotSeries[] = [];
  /** Per point: its frame, its x value, and each series' value (null: a gap). */
  let frames: number[] = [];
  let xs: (number | null)[] = [];
  let ys: (number | null)[][] = [];
  const playhead = document.createElement('div');
  playhead.className = 'fc-plot-playhead';
  const aligned = () => [xs, ...ys] as uPlot.AlignedData;

  const colour = () => getComputedStyle(el).color || '#333';
  const width = () => Math.max(el.clientWidth, 320);
  const build = () => {
    plot?.destroy();
    const units = [...new Set(series.map(s => s.unit))];
    const axes: uPlot.Axis[] = [
      { label: String(model.get('x_label')), stroke: colour(), grid: { stroke: 'rgba(128,128,128,0.2)' } }
    ];
    units.slice(0, 2).forEach((unit, i) => {
      const named = series.filter(s => s.unit === unit).map(s => s.name);
      axes.push({
        scale: unit || 'value',
        // The axis says the unit (and the name, when it is short enough to fit along it);
        // the legend names every series.
        label: unit ? (named.length === 1 && named[0].length <= 18 ? `${named[0]} (${unit})` : unit) : '',
        stroke: colour(),
        side: i === 0 ? 3 : 1,
        grid: { show: i === 0, stroke: 'rgba(128,128,128,0.2)' },
        size: 70
      });
    });
    plot = new uPlot(
      {
        width: width(),
        height: Number(model.get('height')) || 240,
        scales: { x: { time: false } },
        axes,
        series: [
          { label: String(model.get('x_label')) },
          ...series.map((s, i) => ({
            label: s.unit ? `${s.name} (${s.unit})` : s.name,
            stroke: COLOURS[i % COLOURS.length],
            width: 1.5,
            scale: s.unit || 'value',
            spanGaps: false
          }))
        ],
        cursor: { drag: { x: true, y: false, setScale: false } },
        hooks: { setSelect: [u => selected(u)], draw: [() => placePlayhead()] }
      },
      aligned(),
      chart
    );
    plot.over.appendChild(playhead);
    plot.over.addEventListener('click', onClick);
  };

  /** A drag: the range of frames, for Python's `plot.selected`. */
  const selected = (u: uPlot) => {
    if (u.select.width < 2 || !frames.length) {
      return;
    }
    const first = frames[Math.max(0, u.posToIdx(u.select.left))];
    const last = frames[Math.min(frames.length - 1, u.posToIdx(u.select.left + u.select.width))];
    model.set('selected', [first, last]);
    model.save_changes();
    el.dataset.selected = `${first}-${last}`;
    status.textContent = `selected frames ${first}\u2013${last}: plot.selected in Python`;
  };

  // The page's playhead of the timeline on show: where the page holds a trajectory (a
  // viewer's cache), it plays on its own clock, even while a cell keeps the kernel busy,
  // and in an exported page with no kernel at all.
  let page: Playhead | null = null;
  let unsubscribe: (() => void) | null = null;
  const attach = () => {
    const timeline = String(model.get('timeline') || '');
    if (page?.timeline === timeline) {
      return;
    }
    unsubscribe?.();
    if (page) {
      releasePlayhead(page);
    }
    page = timeline ? playheadFor(timeline) : null;
    unsubscribe = page ? page.subscribe(() => placePlayhead()) : null;
  };
  const shownFrame = () => (page?.local ? page.frame : Number(model.get('frame')));

  /** The playhead at the shown frame: a line over the plot, no redraw of the data. */
  const placePlayhead = () => {
    const frame = shownFrame();
    el.dataset.playhead = String(frame);
    let index = frames.indexOf(frame);
    if (index < 0 && frames.length) {
      index = frame > frames[frames.length - 1] ? frames.length - 1 : 0;
    }
    const x = index >= 0 ? xs[index] : null;
    if (!plot || x === null || x === undefined) {
      playhead.style.display = 'none';
      return;
    }
    playhead.style.display = '';
    playhead.style.left = `${plot.valToPos(x, 'x')}px`;
  };

  /** Go to the frame of point `index`: the session seeks there and listeners follow
   * (`publishOnly`: listeners only). */
  const go = async (index: number, publishOnly: boolean) => {
    const frame = frames[index];
    if (frame === undefined) {
      return;
    }
    if (page?.local && !publishOnly) {
      page.seek(frame); // the page goes there at once; the kernel follows
    }
    if (model.get('standalone')) {
      status.textContent = `frame ${frame}`; // an exported page: no kernel to tell
      el.dataset.went = String(frame);
      return;
    }
    status.textContent = `frame ${frame}: sending\u2026`;
    const reply = await request(model, el, {
      kind: 'plot',
      widget: String(model.get('_widget_id')),
      frame,
      publish: true,
      move: !publishOnly
    });
    const said = describeReply(reply);
    status.textContent = reply.error
      ? said
      : `frame ${frame}: ${publishOnly ? 'published to' : 'went there, sent to'} ${said}`;
    el.dataset.sent = reply.error ? 'error' : String(reply.received ?? 0);
    el.dataset.went = String(frame);
  };

  const onClick = (event: MouseEvent) => {
    if (!plot || plot.select.width > 2) {
      return; // the end of a drag, not a click
    }
    const index = plot.cursor.idx;
    if (index !== null && index !== undefined) {
      void go(index, event.shiftKey);
    }
  };

  // Keyboard: arrows move the cursor along the points, Enter goes there.
  let keyed = -1;
  el.addEventListener('keydown', event => {
    if (!plot || !frames.length) {
      return;
    }
    if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
      const here = keyed >= 0 ? keyed : (plot.cursor.idx ?? frames.length - 1);
      keyed = Math.max(0, Math.min(frames.length - 1, here + (event.key === 'ArrowLeft' ? -1 : 1)));
      const x = xs[keyed];
      if (x !== null) {
        plot.setCursor({ left: plot.valToPos(x, 'x'), top: 10 });
      }
      event.preventDefault();
    } else if (event.key === 'Enter' && keyed >= 0) {
      void go(keyed, event.shiftKey);
      event.preventDefault();
    } else {
      return;
    }
    event.stopPropagation();
  });

  let pending = 0;
  const redraw = () => {
    if (!pending) {
      pending = requestAnimationFrame(() => {
        pending = 0;
        plot?.setData(aligned());
        el.dataset.points = String(frames.length);
      });
    }
  };

  const onMessage = (message: IPlotData | IPlotPoints, buffers: DataView[]) => {
    if (message.type === 'plot-data') {
      // Buffers: the frames, the x values, then one per series.
      series = message.series;
      frames = floats(buffers[0]).map(v => v ?? -1);
      xs = floats(buffers[1]);
      ys = buffers.slice(2).map(floats);
      build();
      el.dataset.points = String(frames.length);
    } else if (message.type === 'plot-points') {
      frames.push(...message.frame);
      xs.push(...message.x);
      message.y.forEach((values, i) => ys[i]?.push(...values));
      // The engine's bounded history: points older than its first kept frame go.
      let drop = 0;
      while (message.first !== null && drop < frames.length && frames[drop] < message.first) {
        drop++;
      }
      if (drop) {
        frames.splice(0, drop);
        xs.splice(0, drop);
        ys.forEach(column => column.splice(0, drop));
      }
      redraw();
    }
  };
  model.on('msg:custom', onMessage);
  const onFrame = () => placePlayhead();
  model.on('change:frame', onFrame);
  const onTimeline = () => {
    attach();
    placePlayhead();
  };
  model.on('change:timeline', onTimeline);
  attach();
  const resize = new ResizeObserver(() => plot?.setSize({ width: width(), height: Number(model.get('height')) || 240 }));
  resize.observe(el);
  model.send({ kind: 'hello' });
  warm(el);
  const unwatch = whenKernelLost(el, () => (status.textContent = KERNEL_LOST_TEXT));
  return () => {
    unwatch();
    resize.disconnect();
    model.off('msg:custom', onMessage);
    model.off('change:frame', onFrame);
    model.off('change:timeline', onTimeline);
    unsubscribe?.();
    if (page) {
      releasePlayhead(page);
    }
    plot?.destroy();
  };
}

export default { initialize, render };
export { VERSION };
