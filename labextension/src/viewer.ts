import { DOMWidgetModel, DOMWidgetView } from '@jupyter-widgets/base';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

import { channel } from './links';
import { Playhead, playheadFor, releasePlayhead, TrajectoryCache } from './playhead';
import { VERSION, versionProblem } from './version';

interface IFieldMeta {
  dtype: string;
  shape: number[];
  buffer: number;
}

interface IFrameMessage {
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
  playback: { playing: boolean; fps: number; mode: string } | null;
}

/** A chunk of a trajectory's positions for the page's cache: frames first..first+count. */
interface ICacheMessage {
  type: 'cache';
  timeline: string;
  frame_count: number;
  particles: number;
  first: number;
  count: number;
}

interface ISelectionMessage {
  type: 'selection';
  particles: number[];
}

interface IScreenshotMessage {
  type: 'screenshot';
  request: string;
}

/** The drawn fields of the current frame, merged from the kernel's updates. */
interface IFrame {
  index: number;
  positions?: Float32Array;
  elements?: Uint8Array;
  bonds?: Int32Array;
  box?: Float32Array;
  /** The residue of each particle, and the chain of each residue. */
  residues?: Int32Array;
  chains?: Int32Array;
}

// Jmol's element colours (CPK-like), by atomic number; others get a default.
const COLOURS: Record<number, number> = {
  1: 0xffffff, 2: 0xd9ffff, 3: 0xcc80ff, 5: 0xffb5b5, 6: 0x909090, 7: 0x3050f8, 8: 0xff0d0d,
  9: 0x90e050, 10: 0xb3e3f5, 11: 0xab5cf2, 12: 0x8aff00, 13: 0xbfa6a6, 14: 0xf0c8a0,
  15: 0xff8000, 16: 0xffff30, 17: 0x1ff01f, 18: 0x80d1e3, 19: 0x8f40d4, 20: 0x3dff00,
  25: 0x9c7ac7, 26: 0xe06633, 27: 0xf090a0, 28: 0x50d050, 29: 0xc88033, 30: 0x7d80b0,
  34: 0xffa100, 35: 0xa62929, 47: 0xc0c0c0, 53: 0x940094, 78: 0xd0d0e0, 79: 0xffd123
};
// Van der Waals radii (nm, Bondi and Alvarez) of common elements.
const VDW: Record<number, number> = {
  1: 0.12, 2: 0.14, 3: 0.182, 5: 0.192, 6: 0.17, 7: 0.155, 8: 0.152, 9: 0.147, 10: 0.154,
  11: 0.227, 12: 0.173, 13: 0.184, 14: 0.21, 15: 0.18, 16: 0.18, 17: 0.175, 18: 0.188,
  19: 0.275, 20: 0.231, 26: 0.204, 29: 0.14, 30: 0.139, 34: 0.19, 35: 0.185, 47: 0.172,
  53: 0.198, 78: 0.175, 79: 0.166
};
const DEFAULT_VDW = 0.17;
/** Drawn radius: a ball and stick where there are bonds, near-touching spheres otherwise. */
function radiusOf(element: number, bonded: boolean): number {
  return (VDW[element] ?? DEFAULT_VDW) * (bonded ? 0.3 : 0.9);
}
// Distinct colours for chains (Okabe-Ito and Tableau, readable on a dark background).
const CHAIN_COLOURS = [
  0x56b4e9, 0xe69f00, 0x009e73, 0xf0e442, 0xcc79a7, 0xd55e00, 0x0072b2, 0x9edae5, 0xff9896,
  0xc5b0d5
];
const DEFAULT_COLOUR = 0xff1493;
export type ColourBy = 'element' | 'residue' | 'chain';
export const COLOUR_BY: ColourBy[] = ['element', 'residue', 'chain'];

/** The colour of each particle (RGB, 0..1) by element, residue (a rainbow along the
 * chain, blue to red) or chain; the selection in gold. */
export function particleColours(frame: IFrame, count: number, by: ColourBy, selected: Set<number>): Float32Array {
  const out = new Float32Array(count * 3);
  const colour = new THREE.Color();
  const residues = frame.residues;
  const lastResidue = residues && residues.length ? Math.max(1, residues[residues.length - 1]) : 1;
  for (let i = 0; i < count; i++) {
    const residue = residues ? residues[i] : -1;
    if (selected.has(i)) {
      colour.setHex(SELECTED_COLOUR);
    } else if (by === 'residue' && residue >= 0) {
      colour.setHSL((1 - residue / lastResidue) * 0.7, 0.75, 0.55);
    } else if (by === 'chain' && residue >= 0 && frame.chains) {
      colour.setHex(CHAIN_COLOURS[frame.chains[residue] % CHAIN_COLOURS.length]);
    } else {
      const element = frame.elements ? frame.elements[i] : 0;
      colour.setHex(COLOURS[element] ?? DEFAULT_COLOUR);
    }
    out[i * 3] = colour.r;
    out[i * 3 + 1] = colour.g;
    out[i * 3 + 2] = colour.b;
  }
  return out;
}
const SELECTED_COLOUR = 0xffd700;
/**
 * Above this many particles, particles are drawn as shaded point sprites (one vertex each)
 * instead of instanced spheres, so the view stays interactive. Software WebGL (no GPU)
 * rasterizes every triangle on the CPU, so there the threshold is much lower.
 */
const SPRITES_ABOVE = 20000;
const SPRITES_ABOVE_WITHOUT_GPU = 1000;

/** A round, shaded sprite: reads as a sphere at a fraction of the cost. */
function sphereSprite(): THREE.Texture {
  const size = 64;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const g = canvas.getContext('2d')!;
  const gradient = g.createRadialGradient(size * 0.38, size * 0.35, size * 0.05, size / 2, size / 2, size / 2);
  gradient.addColorStop(0, '#ffffff');
  gradient.addColorStop(0.45, '#d0d0d0');
  gradient.addColorStop(0.95, '#5a5a5a');
  gradient.addColorStop(1, 'rgba(0,0,0,0)');
  g.fillStyle = gradient;
  g.beginPath();
  g.arc(size / 2, size / 2, size / 2, 0, Math.PI * 2);
  g.fill();
  return new THREE.CanvasTexture(canvas);
}

function softwareRenderer(renderer: THREE.WebGLRenderer): boolean {
  const gl = renderer.getContext();
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return /swiftshader|llvmpipe|software/i.test(name);
}

function typed(view: DataView, meta: IFieldMeta): Float32Array | Uint8Array | Int32Array {
  // Copy into an aligned buffer: a DataView's offset need not be aligned for Float32Array.
  const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);
  switch (meta.dtype) {
    case '<f4':
      return new Float32Array(bytes);
    case '<i4':
      return new Int32Array(bytes);
    default:
      return new Uint8Array(bytes);
  }
}

/**
 * Receives frames as binary buffers and keeps the latest drawn fields. For a trajectory
 * it also fills the page's cache, and follows the timeline's playhead.
 */
export class ViewerModel extends DOMWidgetModel {
  frame: IFrame = { index: 0 };
  selection: number[] = [];
  playhead: Playhead | null = null;
  /** Frames received from the kernel. */
  received = 0;
  /** A transition of another timeline than the followed one, on show until a live frame. */
  private foreign: IFrame | null = null;
  /** A drawn view's element: acknowledgements go over the channel of its notebook. */
  node: HTMLElement | null = null;
  private unsubscribe: (() => void) | null = null;

  defaults(): Backbone.ObjectHash {
    return {
      ...super.defaults(),
      _model_name: 'ViewerModel',
      _model_module: 'framecast',
      _model_module_version: VERSION,
      _view_name: 'ViewerView',
      _view_module: 'framecast',
      _view_module_version: VERSION,
      python_version: '',
      listen: 'notebook',
      color_by: 'element',
      frame_index: 0,
      particle_count: 0,
      height: 420,
      in_process: false,
      spin: false
    };
  }

  initialize(attributes: any, options: any): void {
    super.initialize(attributes, options);
    this.on('msg:custom', this.onMessage, this);
    this.on('comm:close', () => this.attach(null));
  }

  /**
   * The frame to draw: the playhead's, from the cache, once the page holds the whole
   * trajectory; otherwise the last frame the kernel sent.
   */
  current(): IFrame {
    if (this.foreign) {
      return this.foreign;
    }
    const playhead = this.playhead;
    const positions = playhead?.local ? playhead.cache!.positions(playhead.frame) : undefined;
    return positions ? { ...this.frame, index: playhead!.frame, positions } : this.frame;
  }

  /**
   * Tell the kernel this frame is in: it keeps only a couple of frames in flight, so a
   * page that falls behind gets the latest frame instead of a backlog. Over the framecast
   * channel, which a busy cell does not block; over the widget's comm where there is none.
   */
  private acknowledge(): void {
    if (this.node && channel.kernelFor(this.node)) {
      void channel.request(this.node, { kind: 'ack', model_id: this.model_id });
    } else {
      this.send({ type: 'ack' }, {});
    }
  }

  /** What the page caches, for the kernel: it sends no cache the page already holds. */
  cacheHeld(): { timeline: string; frames: number } | null {
    const cache = this.playhead?.cache;
    return cache ? { timeline: this.playhead!.timeline, frames: cache.leading } : null;
  }

  /** Follow the playhead of `timeline` (null: none), letting go of the previous one. */
  private attach(timeline: string | null): void {
    if (this.playhead?.timeline === timeline) {
      return;
    }
    if (this.playhead) {
      this.unsubscribe?.();
      releasePlayhead(this.playhead);
      this.playhead = null;
      this.unsubscribe = null;
    }
    if (timeline) {
      this.playhead = playheadFor(timeline);
      this.unsubscribe = this.playhead.subscribe(() => this.trigger('framecast:frame'));
    }
  }

  private onCache(message: ICacheMessage, buffer: DataView): void {
    this.attach(message.timeline);
    const playhead = this.playhead!;
    const cache = playhead.cache;
    if (!cache || cache.frameCount !== message.frame_count || cache.particles !== message.particles) {
      playhead.cache = new TrajectoryCache(message.frame_count, message.particles);
    }
    playhead.cache!.add(message.first, message.count, buffer);
    this.trigger('framecast:frame');
  }

  private onMessage(
    message: IFrameMessage | ICacheMessage | ISelectionMessage | IScreenshotMessage,
    buffers: DataView[]
  ): void {
    if (message.type === 'cache') {
      this.onCache(message, buffers[0]);
      return;
    }
    if (message.type === 'screenshot') {
      this.trigger('framecast:screenshot', message.request);
      return;
    }
    if (message.type === 'selection') {
      this.selection = message.particles;
      this.trigger('framecast:selection');
      return;
    }
    // A transition of another timeline is shown as sent, until the next live frame; it
    // changes neither the frame the live deltas merge into nor the timeline followed.
    const foreign = message.jump && message.timeline !== (this.playhead?.timeline ?? null);
    const frame: IFrame = message.reset ? { index: message.index } : { ...this.frame };
    frame.index = message.index;
    if ((message.reset || message.timeline) && !foreign) {
      this.attach(message.timeline);
    }
    const get = (key: string) =>
      message.fields[key] ? typed(buffers[message.fields[key].buffer], message.fields[key]) : undefined;
    frame.positions = (get('particle.positions') as Float32Array) ?? frame.positions;
    frame.elements = (get('particle.elements') as Uint8Array) ?? frame.elements;
    frame.bonds = (get('bond.pairs') as Int32Array) ?? frame.bonds;
    frame.box = (get('system.box.vectors') as Float32Array) ?? frame.box;
    frame.residues = (get('particle.residues') as Int32Array) ?? frame.residues;
    frame.chains = (get('residue.chains') as Int32Array) ?? frame.chains;
    if (message.cached) {
      frame.positions = this.playhead?.cache?.positions(message.index) ?? frame.positions;
    }
    this.foreign = foreign ? frame : null;
    if (!foreign) {
      this.frame = frame;
    }
    this.received += 1;
    this.acknowledge();
    if (foreign) {
      // shown as sent
    } else if (this.playhead && message.jump) {
      this.playhead.jump(message.index);
    } else if (this.playhead) {
      this.playhead.fromKernel({ frame: message.index, ...(message.playback ?? {}) });
    }
    this.trigger('framecast:frame');
  }
}

/** A three.js view: instanced spheres by element, bonds, the box, orbit controls. */
export class ViewerView extends DOMWidgetView {
  private renderer?: THREE.WebGLRenderer;
  private scene = new THREE.Scene();
  private camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
  private controls?: OrbitControls;
  private spheres?: THREE.InstancedMesh;
  private sprites?: THREE.Points;
  private spritesAbove = SPRITES_ABOVE;
  private bonds?: THREE.LineSegments;
  /** The topology the particles were last coloured for. */
  private colouredFor?: Uint8Array;
  private colouredResidues?: Int32Array;
  /** The bond pairs the bond geometry was built for. */
  private bondsFor?: Int32Array;
  private box?: THREE.LineSegments;
  private label!: HTMLSpanElement;
  private animation = 0;
  private drawn = 0;
  /** Frames whose positions were placed in the scene: what the user sees move. */
  private shown = 0;
  private dirty = true;
  private fitted = false;
  /** The positions last placed in the scene. */
  private placed?: Float32Array;

  render(): void {
    this.el.classList.add('fc-viewer');
    const problem = versionProblem(this.model.get('python_version'));
    if (problem) {
      const note = document.createElement('div');
      note.className = 'fc-version-mismatch';
      note.textContent = problem;
      this.el.appendChild(note);
      return;
    }
    const toolbar = document.createElement('div');
    toolbar.className = 'fc-viewer-toolbar';
    const reset = document.createElement('button');
    reset.className = 'fc-button fc-reset-camera';
    reset.textContent = 'reset camera';
    reset.addEventListener('click', () => this.fit());
    this.label = document.createElement('span');
    this.label.className = 'fc-viewer-frame';
    const colourBy = document.createElement('select');
    colourBy.className = 'fc-colour-by';
    colourBy.title = 'colour particles by';
    for (const scheme of COLOUR_BY) {
      const option = document.createElement('option');
      option.value = scheme;
      option.textContent = `colour by ${scheme}`;
      colourBy.appendChild(option);
    }
    colourBy.value = this.model.get('color_by') ?? 'element';
    colourBy.addEventListener('change', () => {
      this.model.set('color_by', colourBy.value);
      this.model.save_changes();
    });
    this.listenTo(this.model, 'change:color_by', () => {
      colourBy.value = this.model.get('color_by');
      this.onColourBy();
    });
    this.el.dataset.colourBy = colourBy.value;
    toolbar.append(reset, colourBy, this.label);
    this.el.appendChild(toolbar);

    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    if (softwareRenderer(this.renderer)) {
      // Without a GPU every pixel is shaded on the CPU, shared with the kernel: no
      // multisampling (4x the fill), and sprites for all but small systems.
      this.renderer.dispose();
      this.renderer = new THREE.WebGLRenderer({ antialias: false, preserveDrawingBuffer: true });
      this.spritesAbove = SPRITES_ABOVE_WITHOUT_GPU;
    }
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(0x1e1e1e);
    this.renderer.domElement.className = 'fc-viewer-canvas';
    this.el.appendChild(this.renderer.domElement);
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.6));
    const light = new THREE.DirectionalLight(0xffffff, 1.6);
    light.position.set(1, 1, 2);
    this.camera.add(light);
    this.scene.add(this.camera);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.addEventListener('change', () => (this.dirty = true));

    (this.model as ViewerModel).node = this.el;
    this.listenTo(this.model, 'framecast:frame', this.onFrame);
    this.listenTo(this.model, 'framecast:selection', this.onSelection);
    this.listenTo(this.model, 'framecast:screenshot', this.onScreenshot);
    this.resize();
    void this.displayed.then(() => this.resize());
    this.onFrame();
    this.send({ type: 'hello', cache: (this.model as ViewerModel).cacheHeld() });
    // Open the kernel channel while the kernel is idle: screenshots answer over it.
    channel.warmWhenAttached(this.el);
    const loop = () => {
      this.animation = requestAnimationFrame(loop);
      this.draw();
    };
    loop();
  }

  private resize(): void {
    if (!this.renderer) {
      return;
    }
    const width = Math.max(this.el.clientWidth, 320);
    const height = Number(this.model.get('height')) || 420;
    this.renderer.setSize(width, height);
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  private draw(): void {
    if (this.controls && this.model.get('spin')) {
      this.controls.autoRotate = true;
      this.controls.update(); // moves the camera, which marks the view dirty
    } else if (this.controls) {
      this.controls.autoRotate = false;
    }
    if (!this.renderer || !this.dirty) {
      return;
    }
    this.dirty = false;
    this.renderer.render(this.scene, this.camera);
    this.drawn += 1;
    this.el.dataset.drawn = String(this.drawn);
  }

  private onFrame(): void {
    const model = this.model as ViewerModel;
    const frame = model.current();
    this.el.dataset.frame = String(frame.index);
    this.el.dataset.received = String(model.received);
    const cache = model.playhead?.cache;
    this.el.dataset.cached = String(cache?.count ?? 0);
    this.el.dataset.local = String(Boolean(model.playhead?.local));
    if (this.label) {
      const cached = cache ? ` \u00b7 ${cache.count}/${cache.frameCount} frames cached` : '';
      this.label.textContent = `frame ${frame.index}${cached}`;
    }
    if (!frame.positions || frame.positions === this.placed) {
      return; // nothing new to place (a cache chunk, or the same frame again)
    }
    this.placed = frame.positions;
    this.shown += 1;
    this.el.dataset.shown = String(this.shown);
    const count = frame.positions.length / 3;
    if (count > this.spritesAbove) {
      this.placeSprites(frame, count);
    } else {
      if (!this.spheres || this.spheres.count !== count) {
        this.buildSpheres(count);
      }
      this.placeSpheres(frame);
    }
    this.el.dataset.style = count > this.spritesAbove ? 'sprites' : 'spheres';
    if (this.colouredFor !== frame.elements || this.colouredResidues !== frame.residues) {
      // A new topology of the same size (another target): colour it afresh.
      this.colouredFor = frame.elements;
      this.colouredResidues = frame.residues;
      this.colour();
      this.colourSprites();
      this.bondsFor = undefined;
    }
    this.drawBonds(frame);
    this.drawBox(frame);
    if (!this.fitted) {
      this.fit();
    }
    this.dirty = true;
  }

  private buildSpheres(count: number): void {
    if (this.spheres) {
      this.scene.remove(this.spheres);
      this.spheres.geometry.dispose();
    }
    const detail = count > 5000 ? [8, 6] : [14, 10];
    const geometry = new THREE.SphereGeometry(1, detail[0], detail[1]);
    const material = new THREE.MeshStandardMaterial({ roughness: 0.5, metalness: 0.1 });
    this.spheres = new THREE.InstancedMesh(geometry, material, count);
    this.spheres.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    this.spheres.frustumCulled = false;
    this.scene.add(this.spheres);
    this.colour();
  }

  private placeSprites(frame: IFrame, count: number): void {
    const positions = frame.positions!;
    if (!this.sprites || (this.sprites.geometry.getAttribute('position') as THREE.BufferAttribute).count !== count) {
      if (this.sprites) {
        this.scene.remove(this.sprites);
        this.sprites.geometry.dispose();
      }
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(count * 3), 3));
      geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(count * 3), 3));
      const element = frame.elements ? frame.elements[0] : 0;
      const material = new THREE.PointsMaterial({
        size: 2 * radiusOf(element, Boolean(frame.bonds && frame.bonds.length)),
        sizeAttenuation: true,
        vertexColors: true,
        map: sphereSprite(),
        alphaTest: 0.5
      });
      this.sprites = new THREE.Points(geometry, material);
      this.sprites.frustumCulled = false;
      this.scene.add(this.sprites);
      this.colourSprites();
    }
    const attribute = this.sprites.geometry.getAttribute('position') as THREE.BufferAttribute;
    (attribute.array as Float32Array).set(positions);
    attribute.needsUpdate = true;
  }

  /** The colours of the current frame's particles, by the chosen scheme. */
  private colours(count: number): Float32Array {
    const model = this.model as ViewerModel;
    const by = (model.get('color_by') as ColourBy) ?? 'element';
    return particleColours(model.current(), count, by, new Set(model.selection));
  }

  private colourSprites(): void {
    if (!this.sprites) {
      return;
    }
    const attribute = this.sprites.geometry.getAttribute('color') as THREE.BufferAttribute;
    (attribute.array as Float32Array).set(this.colours(attribute.count));
    attribute.needsUpdate = true;
  }

  private colour(): void {
    if (!this.spheres) {
      return;
    }
    const colours = this.colours(this.spheres.count);
    const colour = new THREE.Color();
    for (let i = 0; i < this.spheres.count; i++) {
      this.spheres.setColorAt(i, colour.setRGB(colours[i * 3], colours[i * 3 + 1], colours[i * 3 + 2]));
    }
    if (this.spheres.instanceColor) {
      this.spheres.instanceColor.needsUpdate = true;
    }
  }

  /** Colour by another scheme: spheres, sprites and bonds. */
  private onColourBy(): void {
    this.colour();
    this.colourSprites();
    const frame = (this.model as ViewerModel).current();
    this.bondsFor = undefined;
    this.drawBonds(frame);
    this.el.dataset.colourBy = String(this.model.get('color_by'));
    this.dirty = true;
  }

  private placeSpheres(frame: IFrame): void {
    const spheres = this.spheres!;
    const positions = frame.positions!;
    const matrices = spheres.instanceMatrix.array as Float32Array;
    const selected = new Set((this.model as ViewerModel).selection);
    const bonded = Boolean(frame.bonds && frame.bonds.length);
    for (let i = 0; i < spheres.count; i++) {
      const element = frame.elements ? frame.elements[i] : 0;
      const radius = radiusOf(element, bonded) * (selected.has(i) ? 1.4 : 1);
      const m = i * 16;
      // A scale and a translation, written straight into the instance buffer.
      matrices.fill(0, m, m + 16);
      matrices[m] = radius;
      matrices[m + 5] = radius;
      matrices[m + 10] = radius;
      matrices[m + 12] = positions[i * 3];
      matrices[m + 13] = positions[i * 3 + 1];
      matrices[m + 14] = positions[i * 3 + 2];
      matrices[m + 15] = 1;
    }
    spheres.instanceMatrix.needsUpdate = true;
  }

  /** Bonds as line segments, each half in its atom's colour. The geometry is built once
   * per topology and colour scheme; a new frame only moves its points. */
  private drawBonds(frame: IFrame): void {
    const pairs = frame.bonds;
    if (!pairs || !frame.positions || pairs.length === 0) {
      if (this.bonds) {
        this.scene.remove(this.bonds);
        this.bonds.geometry.dispose();
        this.bonds = undefined;
      }
      this.bondsFor = undefined;
      return;
    }
    const positions = frame.positions;
    if (this.bondsFor !== pairs || !this.bonds) {
      if (this.bonds) {
        this.scene.remove(this.bonds);
        this.bonds.geometry.dispose();
      }
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(pairs.length * 6), 3));
      const atomColours = this.colours(positions.length / 3);
      const colours = new Float32Array(pairs.length * 6);
      for (let b = 0; b < pairs.length; b += 2) {
        for (const [end, atom] of [[0, pairs[b]], [1, pairs[b]], [2, pairs[b + 1]], [3, pairs[b + 1]]]) {
          colours.set(atomColours.subarray(atom * 3, atom * 3 + 3), (b * 2 + end) * 3);
        }
      }
      geometry.setAttribute('color', new THREE.BufferAttribute(colours, 3));
      this.bonds = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ vertexColors: true }));
      this.bonds.frustumCulled = false;
      this.scene.add(this.bonds);
      this.bondsFor = pairs;
    }
    // Each bond is two segments: atom to midpoint, midpoint to the other atom.
    const attribute = this.bonds.geometry.getAttribute('position') as THREE.BufferAttribute;
    const points = attribute.array as Float32Array;
    for (let b = 0; b < pairs.length; b += 2) {
      const i = pairs[b] * 3;
      const j = pairs[b + 1] * 3;
      const o = b * 6;
      for (let k = 0; k < 3; k++) {
        const middle = (positions[i + k] + positions[j + k]) / 2;
        points[o + k] = positions[i + k];
        points[o + 3 + k] = middle;
        points[o + 6 + k] = middle;
        points[o + 9 + k] = positions[j + k];
      }
    }
    attribute.needsUpdate = true;
  }

  private drawBox(frame: IFrame): void {
    if (!frame.box || this.box) {
      return;
    }
    const [a, b, c] = [0, 3, 6].map(i => new THREE.Vector3(frame.box![i], frame.box![i + 1], frame.box![i + 2]));
    const corners = [0, 1, 2, 3, 4, 5, 6, 7].map(k =>
      new THREE.Vector3()
        .addScaledVector(a, k & 1)
        .addScaledVector(b, (k >> 1) & 1)
        .addScaledVector(c, (k >> 2) & 1)
    );
    const edges = [0, 1, 1, 3, 3, 2, 2, 0, 4, 5, 5, 7, 7, 6, 6, 4, 0, 4, 1, 5, 2, 6, 3, 7];
    const geometry = new THREE.BufferGeometry().setFromPoints(edges.map(k => corners[k]));
    this.box = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: 0x4fc3f7 }));
    this.scene.add(this.box);
  }

  private onSelection(): void {
    this.colour();
    this.colourSprites();
    const frame = (this.model as ViewerModel).current();
    if (frame.positions && this.spheres) {
      this.placeSpheres(frame);
    }
    this.el.dataset.selected = String((this.model as ViewerModel).selection.length);
    this.dirty = true;
  }

  /** Answer `viewer.screenshot()` with a PNG of the view, over the framecast channel. */
  private onScreenshot(request: string): void {
    if (!this.renderer) {
      return;
    }
    this.dirty = true;
    this.draw();
    const png = this.renderer.domElement.toDataURL('image/png').split(',')[1];
    void channel.request(this.el, {
      kind: 'screenshot',
      model_id: this.model.model_id,
      shot: request,
      png
    });
  }

  /** Point the camera at the whole system. */
  fit(): void {
    const frame = (this.model as ViewerModel).current();
    if (!frame.positions || !this.controls) {
      return;
    }
    const bounds = new THREE.Box3();
    const point = new THREE.Vector3();
    for (let i = 0; i < frame.positions.length; i += 3) {
      bounds.expandByPoint(point.set(frame.positions[i], frame.positions[i + 1], frame.positions[i + 2]));
    }
    const centre = bounds.getCenter(new THREE.Vector3());
    const size = Math.max(bounds.getSize(new THREE.Vector3()).length(), 0.5);
    this.camera.position.copy(centre).add(new THREE.Vector3(0.3, 0.4, 1).normalize().multiplyScalar(size * 1.3));
    this.camera.near = size / 100;
    this.camera.far = size * 20;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(centre);
    this.controls.update();
    this.fitted = true;
    this.dirty = true;
  }

  remove(): void {
    cancelAnimationFrame(this.animation);
    this.controls?.dispose();
    this.renderer?.dispose();
    super.remove();
  }
}
