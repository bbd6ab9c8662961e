/**
 * The messages between the kernel and the page, one interface per message.
 *
 * `framecast/jupyter/messages.py` holds the same shapes as TypedDicts; a test checks that
 * the two agree key for key. Kernel to page: frames, cache chunks, selections, screenshot
 * requests and replies. Page to kernel: hello, ack, control, publish and screenshot.
 */

/** Where a field's array is among the message's binary buffers. */
export interface IFieldMeta {
  dtype: string;
  shape: number[];
  buffer: number;
}

/** How a trajectory of this kernel plays, so the page's clock can go on alone. */
export interface IPlayback {
  playing: boolean;
  fps: number;
  mode: string;
}

/** Kernel to viewer: the drawn fields of a frame, as binary buffers. */
export interface IFrameMessage {
  type: 'frame';
  index: number;
  reset: boolean;
  fields: Record<string, IFieldMeta>;
  /** The timeline of the frames from now on, when it changes. */
  timeline: string | null;
  /** The positions are left out: they are in the page's cache of the timeline. */
  cached: boolean;
  /** A published transition: the view goes there and stays. */
  jump: boolean;
  playback: IPlayback | null;
}

/** Kernel to viewer: a chunk of a trajectory's positions, frames first..first+count. */
export interface ICacheMessage {
  type: 'cache';
  timeline: string;
  frame_count: number;
  particles: number;
  first: number;
  count: number;
  /** How many frames, from the first, the page will hold once every chunk is in. */
  frames: number;
}

/** Kernel to viewer: highlight these particles. */
export interface ISelectionMessage {
  type: 'selection';
  particles: number[];
}

/** Kernel to viewer: answer with a PNG of the view. */
export interface IScreenshotRequest {
  type: 'screenshot';
  request: string;
}

/** Kernel to page: the answer to a request sent over the widget's own comm. */
export interface IReplyMessage {
  type: 'reply';
  request: string;
  received?: number;
  /** With `received` 0: how to reach someone. */
  hint?: string;
  error?: string;
  done?: string;
  /** After a control: the session's frame and whether it plays. */
  frame?: number;
  playing?: boolean;
}

/** Page to kernel: a view was drawn; `cache` is what the page holds already. */
export interface IHelloMessage {
  kind: 'hello';
  cache: { timeline: string; frames: number } | null;
}

/** Page to kernel: a frame is in (fire and forget: no reply). */
export interface IAckMessage {
  kind: 'ack';
  widget: string;
}

/** Page to kernel: a play control of a bar (`frame` for `seek`, a pause or a step;
 * `fps` for `speed`). */
export interface IControlMessage {
  kind: 'control';
  widget: string;
  request: string;
  action: string;
  frame?: number;
  fps?: number;
}

/** Page to kernel: a clicked link. */
export interface IPublishMessage {
  kind: 'publish';
  request: string;
  timeline: string;
  /** A recorded timeline's content fingerprint, where the link has one. */
  fingerprint?: string | null;
  transition: number;
}

/** Page to kernel: the PNG a screenshot request asked for. */
export interface IScreenshotMessage {
  kind: 'screenshot';
  widget: string;
  /** The screenshot request this answers. */
  shot: string;
  /** The PNG, base64. */
  png: string;
}

/** Page to kernel: shift-drag pulls `particle` toward `position` (nm), `start` first;
 * `stop` ends the pull. */
export interface IPullMessage {
  kind: 'pull';
  widget: string;
  request: string;
  particle?: number;
  position?: number[];
  start?: boolean;
  stop?: boolean;
}

/** One representation: `style` of the particles in buffer `buffer` (Int32, indices). */
export interface IRepresentationItem {
  id: string;
  style: string;
  colour: string;
  opacity: number;
  selection: string;
  buffer: number;
}

/** Kernel to viewer: the representations to draw (the session's, or the default for
 * its topology); buffer `solvent` holds the water and ion particles. */
export interface IRepresentationsMessage {
  type: 'representations';
  items: IRepresentationItem[];
  default: boolean;
  solvent: number;
  /** Counts the structures Mol* needs (another topology, another set of particles): the
   * page builds Mol*'s structure again only for another. */
  structure: number;
}

/** A label (`text` at the particles of buffer `a`) or a distance (between the centres of
 * buffers `a` and `b`). */
export interface IAnnotationItem {
  kind: string;
  text: string;
  a: number;
  b: number | null;
}

/** Kernel to viewer: this view's labels and distances. */
export interface IAnnotationsMessage {
  type: 'annotations';
  items: IAnnotationItem[];
}

/** Kernel to viewer: the structure for Mol* (buffer 0: a PDB text of the particles in
 * buffer 1, int32 indices) and, with `engine`, Mol* itself (buffer 2: gzipped). */
export interface IStructureMessage {
  type: 'structure';
  engine: boolean;
  structure: number;
}

/** Page to kernel: send the structure for Mol*, and the engine if `engine`. */
export interface IStructureRequest {
  kind: 'structure';
  engine: boolean;
  structure: number;
}

/** A series of a plot: its name and unit (kJ/mol, ps, nm...). */
export interface IPlotSeries {
  name: string;
  unit: string;
}

/** Kernel to plot: every point (buffers: the frames, the x values, one per series,
 * float64; NaN is a gap). */
export interface IPlotData {
  type: 'plot-data';
  series: IPlotSeries[];
  count: number;
}

/** Kernel to plot: new points of a growing simulation; `first` is the oldest frame the
 * engine keeps (older points go). */
export interface IPlotPoints {
  type: 'plot-points';
  frame: number[];
  x: (number | null)[];
  y: (number | null)[][];
  first: number | null;
}

/** Page to kernel: a click on a plot: go to `frame` (`move`: the session seeks there;
 * `publish`: the transition goes to every listener). */
export interface IPlotRequest {
  kind: 'plot';
  widget: string;
  request: string;
  frame: number;
  publish: boolean;
  move: boolean;
}

export type KernelMessage =
  | IFrameMessage
  | ICacheMessage
  | ISelectionMessage
  | IScreenshotRequest
  | IReplyMessage
  | IRepresentationsMessage
  | IAnnotationsMessage
  | IStructureMessage
  | IPlotData
  | IPlotPoints;
export type PageMessage =
  | IHelloMessage
  | IAckMessage
  | IControlMessage
  | IPublishMessage
  | IScreenshotMessage
  | IPullMessage
  | IStructureRequest
  | IPlotRequest;
