/**
 * The viewer's rich representations (cartoon, licorice, surface...), drawn by Mol* in a
 * layer under the three.js canvas, which keeps the camera, the input, the box and what no
 * representation covers.
 *
 * Mol* is not part of this bundle: the first view of a page that needs it asks the kernel
 * for it (gzipped, over the widget's comm), and every later view reuses the module, as the
 * viewer does with three.js. A view with no rich representation never loads it.
 */
import type { IAnnotation, ICamera, IRichItem } from '../molstar/types';
import type { IFrame } from './frames';
import { IModel, shared } from './host';
import type {
  IAnnotationsMessage,
  IRepresentationsMessage,
  IStructureMessage,
  IStructureRequest
} from './messages';

/** What the Mol* bundle (src/molstar/engine.ts) offers; typed here so that this bundle
 * carries none of it. */
export interface IMolstarLayer {
  el: HTMLElement;
  canvas: HTMLCanvasElement | null;
  updates: number;
  lastUpdateMs: number;
  resize(width: number, height: number): void;
  load(pdb: Uint8Array, count: number): Promise<void>;
  represent(items: IRichItem[]): Promise<void>;
  annotate(items: IAnnotation[]): Promise<void>;
  setPositions(positions: Float32Array): void;
  setMoving(moving: boolean): Promise<void>;
  setCamera(camera: ICamera): void;
  draw(): void;
  dispose(): void;
}
interface IEngine {
  MolstarLayer: { create(parent: HTMLElement, width: number, height: number): Promise<IMolstarLayer> };
}
/** Styles the three.js layer does not draw. */
const HIDDEN = 'hidden';
/** Frames closer together than this are "moving": Mol* draws at its lowest quality. */
const MOVING_MS = 400;

function int32(view: DataView | undefined): Int32Array {
  if (!view) {
    return new Int32Array(0);
  }
  return new Int32Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

async function gunzip(view: DataView): Promise<string> {
  const stream = new Blob([new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice()])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).text();
}

interface IEngineHolder {
  molstar?: Promise<IEngine>;
}

/** The page's Mol* module, if some view loaded it already. */
function engine(): Promise<IEngine> | undefined {
  return (shared() as IEngineHolder).molstar;
}

/** Load Mol* from its gzipped bundle, once per page. */
function loadEngine(view: DataView): Promise<IEngine> {
  const holder = shared() as IEngineHolder;
  holder.molstar ??= gunzip(view).then(
    source => import(/* webpackIgnore: true */ URL.createObjectURL(new Blob([source], { type: 'text/javascript' })))
  );
  return holder.molstar;
}

/** A viewer model's representations, kept across its views (one per model). */
export class RichState {
  message: IRepresentationsMessage | null = null;
  buffers: DataView[] = [];
  annotations: IAnnotation[] = [];
  /** Mol*'s structure (its number), once sent: a PDB text of the particles `subset`
   * (frame indices), in that order. */
  structure: { key: number; pdb: Uint8Array; subset: Int32Array; slots: Int32Array | null } | null = null;
  readonly views = new Set<RichLayer>();

  onMessage(message: IRepresentationsMessage | IAnnotationsMessage | IStructureMessage, buffers: DataView[]): void {
    if (message.type === 'representations') {
      this.message = message;
      this.buffers = buffers;
      this.views.forEach(view => view.representationsChanged());
    } else if (message.type === 'annotations') {
      this.annotations = message.items.map(item => ({
        kind: item.kind === 'distance' ? 'distance' : 'label',
        text: item.text,
        a: int32(buffers[item.a]),
        b: item.b === null ? undefined : int32(buffers[item.b])
      }));
      this.views.forEach(view => view.annotationsChanged());
    } else {
      const pdb = buffers[0];
      this.structure = {
        key: message.structure,
        subset: int32(buffers[1]),
        slots: null,
        pdb: new Uint8Array(pdb.buffer.slice(pdb.byteOffset, pdb.byteOffset + pdb.byteLength))
      };
      const loaded = message.engine && buffers[2] ? loadEngine(buffers[2]) : engine();
      this.views.forEach(view => view.structureArrived(loaded));
    }
  }

  /** Where each frame particle sits in Mol*'s structure (-1: not in it). */
  private slots(count: number): Int32Array {
    const structure = this.structure!;
    if (!structure.slots || structure.slots.length !== count) {
      structure.slots = new Int32Array(count).fill(-1);
      structure.subset.forEach((particle, slot) => {
        if (particle < count) {
          structure.slots![particle] = slot;
        }
      });
    }
    return structure.slots;
  }

  private map(particles: Int32Array): Int32Array {
    if (!this.structure) {
      return particles;
    }
    const last = this.structure.subset.length ? this.structure.subset[this.structure.subset.length - 1] : 0;
    const slots = this.slots(last + 1);
    return particles.map(i => (i < slots.length ? slots[i] : -1)).filter(slot => slot >= 0);
  }

  /** Items addressed by their place in Mol*'s structure. */
  mapped(items: IRichItem[]): IRichItem[] {
    return items.map(item => ({ ...item, particles: this.map(item.particles) }));
  }

  /** Annotations addressed by their place in Mol*'s structure. */
  mappedAnnotations(): IAnnotation[] {
    return this.annotations.map(note => ({
      ...note,
      a: this.map(note.a),
      b: note.b ? this.map(note.b) : undefined
    }));
  }

  /** The positions of Mol*'s particles, gathered from a frame's. */
  gather(positions: Float32Array): Float32Array | null {
    const subset = this.structure?.subset;
    if (!subset) {
      return null;
    }
    const out = new Float32Array(subset.length * 3);
    for (let k = 0; k < subset.length; k++) {
      const i = subset[k] * 3;
      if (i + 2 >= positions.length) {
        return null; // a frame of another target: not this structure's
      }
      out[k * 3] = positions[i];
      out[k * 3 + 1] = positions[i + 1];
      out[k * 3 + 2] = positions[i + 2];
    }
    return out;
  }

  /** Mol*'s items: each rich representation, without hidden particles. */
  items(hideSolvent: boolean): IRichItem[] {
    const message = this.message;
    if (!message) {
      return [];
    }
    const hidden = this.hiddenMask(hideSolvent);
    return message.items
      .filter(item => item.style !== HIDDEN)
      .map(item => {
        const particles = int32(this.buffers[item.buffer]);
        return {
          id: item.id,
          style: item.style,
          colour: item.colour,
          opacity: item.opacity,
          particles: hidden ? particles.filter(i => !hidden.has(i)) : particles
        };
      })
      .filter(item => item.particles.length > 0);
  }

  private hiddenMask(hideSolvent: boolean): Set<number> | null {
    const message = this.message!;
    const hidden = new Set<number>();
    for (const item of message.items) {
      if (item.style === HIDDEN) {
        int32(this.buffers[item.buffer]).forEach(i => hidden.add(i));
      }
    }
    if (hideSolvent) {
      int32(this.buffers[message.solvent]).forEach(i => hidden.add(i));
    }
    return hidden.size ? hidden : null;
  }

  /** The particles no layer draws (1): hidden ones, and the solvent when hidden. */
  unseen(count: number, hideSolvent: boolean): Uint8Array | null {
    const message = this.message;
    if (!message) {
      return null;
    }
    const mask = new Uint8Array(count);
    const mark = (view: DataView | undefined) => int32(view).forEach(i => i < count && (mask[i] = 1));
    message.items.filter(item => item.style === HIDDEN).forEach(item => mark(this.buffers[item.buffer]));
    if (hideSolvent) {
      mark(this.buffers[message.solvent]);
    }
    return mask;
  }

  /** The particles three.js must not draw (1): those Mol* draws, hidden ones, and the
   * solvent when hidden. Null when three.js draws every particle. */
  covered(count: number, hideSolvent: boolean): Uint8Array | null {
    const message = this.message;
    if (!message) {
      return null;
    }
    const mask = new Uint8Array(count);
    let any = false;
    const mark = (view: DataView | undefined) =>
      int32(view).forEach(i => {
        if (i < count) {
          mask[i] = 1;
          any = true;
        }
      });
    message.items.forEach(item => mark(this.buffers[item.buffer]));
    if (hideSolvent) {
      mark(this.buffers[message.solvent]);
    }
    return any ? mask : null;
  }
}

/** The Mol* layer of one view: loads Mol* when a rich representation first needs it. */
export class RichLayer {
  private layer: IMolstarLayer | null = null;
  private starting = false;
  /** The structure Mol* holds. */
  private loadedFor = -1;
  private asked = -1;
  private retry = false;
  private lastFrameAt = 0;
  private moving = false;
  private placed?: Float32Array;
  private restTimer = 0;
  private problem = '';

  constructor(
    private readonly model: IModel,
    private readonly state: RichState,
    private readonly view: {
      el: HTMLElement;
      size(): [number, number];
      current(): IFrame;
      changed(): void;
      say(text: string): void;
    }
  ) {
    state.views.add(this);
  }

  /** The structure the kernel says Mol* needs (-1 before it said). */
  private topology(): number {
    return this.state.message?.structure ?? -1;
  }

  get active(): boolean {
    return this.layer !== null && this.loadedFor === this.topology();
  }

  /** The view's canvas on top of Mol*'s, to compose a screenshot. */
  get canvas(): HTMLCanvasElement | null {
    return this.active ? this.layer!.canvas : null;
  }

  private hideSolvent(): boolean {
    return Boolean(this.model.get('hide_solvent'));
  }

  /** The particles three.js must not draw. */
  covered(count: number): Uint8Array | null {
    return this.state.covered(count, this.hideSolvent());
  }

  /** The particles no layer draws (the camera frames the others). */
  unseen(count: number): Uint8Array | null {
    return this.state.unseen(count, this.hideSolvent());
  }

  representationsChanged(): void {
    this.view.changed();
    this.update();
  }

  annotationsChanged(): void {
    this.update();
  }

  /** Called on each new frame and when anything changed: load what is needed, move Mol*. */
  update(): void {
    const items = this.state.items(this.hideSolvent());
    const wanted = items.length > 0 || this.state.annotations.length > 0;
    const topology = this.topology();
    this.view.el.dataset.rich = String(items.length);
    if (!wanted) {
      // Nothing for Mol* to draw (another target, or the representations cleared): let
      // go of it and its WebGL context; nothing of the old structure stays in the page.
      this.setVisible(false);
      this.layer?.dispose();
      this.layer = null;
      this.loadedFor = -1;
      delete this.view.el.dataset.molstar;
      return;
    }
    const structure = this.state.structure;
    if (!structure || structure.key !== topology) {
      if (this.asked !== topology) {
        this.asked = topology;
        const request: IStructureRequest = { kind: 'structure', engine: !engine(), structure: topology };
        this.model.send(request);
        this.view.el.dataset.molstar = 'loading';
      }
      return;
    }
    if (!this.layer || this.loadedFor !== topology) {
      this.structureArrived(engine());
      return;
    }
    this.setVisible(true);
    const annotations = this.state.mappedAnnotations();
    void this.layer
      .represent(this.state.mapped(items))
      .then(() => this.layer?.annotate(annotations))
      .then(() => (this.view.el.dataset.annotations = String(annotations.length)));
  }

  /** The structure came (and maybe Mol*): start the layer, load it, draw. */
  structureArrived(loaded: Promise<IEngine> | undefined): void {
    const structure = this.state.structure;
    if (this.starting) {
      this.retry = true; // another structure came while one loads: look again after
      return;
    }
    if (!loaded || !structure || structure.key !== this.topology()) {
      return;
    }
    if (!this.state.items(this.hideSolvent()).length && !this.state.annotations.length) {
      return; // asked for, then no longer needed (another target, cleared)
    }
    this.starting = true;
    const [width, height] = this.view.size();
    void (async () => {
      try {
        const module = await loaded;
        this.layer ??= await module.MolstarLayer.create(this.view.el, width, height);
        this.layer.el.style.zIndex = '0';
        await this.layer.load(structure.pdb, structure.subset.length);
        this.loadedFor = structure.key;
        this.view.el.dataset.molstarFor = String(structure.key);
        this.placed = undefined;
        this.view.el.dataset.molstar = 'ready';
        this.setVisible(true);
        await this.layer.represent(this.state.mapped(this.state.items(this.hideSolvent())));
        await this.layer.annotate(this.state.mappedAnnotations());
        this.view.el.dataset.annotations = String(this.state.annotations.length);
        this.frame();
        this.view.changed();
      } catch (error) {
        this.problem = `Mol* could not draw: ${error}`;
        this.view.el.dataset.molstar = 'failed';
        this.view.say(this.problem);
      } finally {
        this.starting = false;
        if (this.retry) {
          this.retry = false;
          this.update();
        }
      }
    })();
  }

  private setVisible(visible: boolean): void {
    if (this.layer) {
      this.layer.el.style.display = visible ? '' : 'none';
    }
    this.view.el.classList.toggle('fc-rich', visible && this.layer !== null);
  }

  /** A new frame: move Mol*'s structure, at low quality while frames keep coming. */
  frame(): void {
    if (!this.active) {
      return;
    }
    const positions = this.view.current().positions;
    if (!positions || positions === this.placed) {
      return;
    }
    this.placed = positions;
    const now = performance.now();
    const moving = now - this.lastFrameAt < MOVING_MS;
    this.lastFrameAt = now;
    if (moving !== this.moving) {
      this.moving = moving;
      void this.layer!.setMoving(moving);
    }
    const gathered = this.state.gather(positions);
    if (gathered) {
      this.layer!.setPositions(gathered);
    }
    this.view.el.dataset.molstarUpdates = String(this.layer!.updates);
    this.view.el.dataset.molstarMs = this.layer!.lastUpdateMs.toFixed(1);
    // At rest again: draw at full quality (and compute surfaces) once frames stop.
    clearTimeout(this.restTimer);
    this.restTimer = window.setTimeout(() => {
      if (this.moving && this.layer) {
        this.moving = false;
        void this.layer.setMoving(false);
      }
    }, MOVING_MS * 2);
  }

  camera(camera: ICamera): void {
    if (this.active) {
      this.layer!.setCamera(camera);
    }
  }

  resize(width: number, height: number): void {
    this.layer?.resize(width, height);
  }

  /** Draw Mol* now (before a screenshot). */
  draw(): void {
    this.layer?.draw();
  }

  remove(): void {
    clearTimeout(this.restTimer);
    this.state.views.delete(this);
    this.layer?.dispose();
    this.layer = null;
  }
}
