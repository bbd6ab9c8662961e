/** A three.js view of a viewer's frames: instanced spheres or sprites, bonds, the box. */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

import { COLOUR_BY, ColourBy, hiddenParticles, particleColours, radiusOf } from './colours';
import type { Frames, IFrame, IViewOfFrames } from './frames';
import { IModel, notify, warm } from './host';
import { Pull } from './pull';
import { RichLayer } from './rich';

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

function sameValues(a: Float32Array, b: Float32Array): boolean {
  return a === b || (a.length === b.length && a.every((value, i) => value === b[i]));
}

/** A three.js view: instanced spheres by element, bonds, the box, orbit controls. */
export class Scene implements IViewOfFrames {
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
  /** The particles not drawn (see `hiddenParticles`), worked out once per topology. */
  private hidden: Uint8Array | null = null;
  private hiddenCount = 0;
  private hiddenFor?: Uint8Array;
  /** The bond pairs the bond geometry was built for. */
  private bondsFor?: Int32Array;
  /** The bonds drawn: those of particles three.js draws. */
  private bondPairs?: Int32Array;
  private box?: THREE.LineSegments;
  private label!: HTMLSpanElement;
  /** What the user must know now (a refused pull, a closed session): stays until the next
   * action. */
  private notice!: HTMLSpanElement;
  /** How far the page's cache of a trajectory is filled, shown while it fills. */
  private caching!: HTMLProgressElement;
  private pull?: Pull;
  private rich?: RichLayer;
  /** Whether the particles three.js hides were worked out with the current representations. */
  private coveredStale = true;
  /** The target whose representations the camera was framed for. */
  private framedFor = -1;
  private solventToggle?: HTMLLabelElement;
  private animation = 0;
  private drawn = 0;
  /** Frames whose positions were placed in the scene: what the user sees move. */
  private shown = 0;
  private dirty = true;
  private fitted = false;
  /** The positions last placed in the scene. */
  private placed?: Float32Array;
  /** The target (``Frames.generation``) the scene was built for. */
  private builtFor = -1;
  /** The box vectors the box was drawn for. */
  private boxFor?: Float32Array;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly model: IModel,
    private readonly frames: Frames,
    readonly el: HTMLElement
  ) {}

  /** Follow a model event until the view is removed. */
  private listen(event: string, callback: () => void): void {
    this.model.on(event, callback);
    this.cleanups.push(() => this.model.off(event, callback));
  }

  /** Build the toolbar and the canvas, then draw on every animation frame. */
  render(toolbar: HTMLElement): void {
    this.el.classList.add('fc-viewer');
    const reset = document.createElement('button');
    reset.className = 'fc-button fc-reset-camera';
    reset.textContent = 'reset camera';
    reset.setAttribute('aria-label', 'Reset camera');
    reset.addEventListener('click', () => this.fit());
    this.label = document.createElement('span');
    this.label.className = 'fc-viewer-frame';
    const colourBy = document.createElement('select');
    colourBy.className = 'fc-colour-by';
    colourBy.title = 'colour particles by';
    colourBy.setAttribute('aria-label', 'Colour by');
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
    this.listen('change:color_by', () => {
      colourBy.value = this.model.get('color_by');
      this.onColourBy();
    });
    this.el.dataset.colourBy = colourBy.value;
    this.label.setAttribute('aria-live', 'polite');
    const hint = document.createElement('span');
    hint.className = 'fc-viewer-hint';
    hint.textContent = 'drag to turn \u00b7 scroll to zoom \u00b7 shift-drag an atom to pull it (live simulations)';
    this.notice = document.createElement('span');
    this.notice.className = 'fc-notice';
    this.notice.setAttribute('role', 'alert');
    const solvent = document.createElement('label');
    solvent.className = 'fc-hide-solvent';
    const solventBox = document.createElement('input');
    solventBox.type = 'checkbox';
    solventBox.setAttribute('aria-label', 'Hide water and ions');
    solventBox.checked = Boolean(this.model.get('hide_solvent'));
    solventBox.addEventListener('change', () => {
      this.model.set('hide_solvent', solventBox.checked);
      this.model.save_changes();
    });
    solvent.append(solventBox, document.createTextNode(' hide water and ions'));
    solvent.hidden = true; // shown once the kernel says the system has some
    this.solventToggle = solvent;
    this.listen('change:hide_solvent', () => {
      solventBox.checked = Boolean(this.model.get('hide_solvent'));
      this.representationsChanged();
    });
    this.caching = document.createElement('progress');
    this.caching.className = 'fc-viewer-caching';
    this.caching.setAttribute('aria-label', 'Frames cached in the page');
    this.caching.hidden = true;
    toolbar.append(reset, colourBy, solvent, this.label, this.caching, hint, this.notice);

    // alpha: over Mol*'s layer (rich representations), this canvas clears to transparent.
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true, alpha: true });
    if (softwareRenderer(this.renderer)) {
      // Without a GPU every pixel is shaded on the CPU, shared with the kernel: no
      // multisampling (4x the fill), and sprites for all but small systems.
      this.renderer.dispose();
      this.renderer = new THREE.WebGLRenderer({ antialias: false, preserveDrawingBuffer: true, alpha: true });
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
    const pull = new Pull(this.model, this.el, this.renderer.domElement, this.camera, this.controls, this.frames, {
      scene: this.scene,
      redraw: () => (this.dirty = true),
      say: text => this.say(text),
      unseen: count => this.rich?.unseen(count) ?? null
    });
    this.pull = pull;
    this.cleanups.push(() => pull.remove());
    const rich = new RichLayer(this.model, this.frames.rich, {
      el: this.el,
      size: () => this.size(),
      current: () => this.frames.current(),
      changed: () => this.representationsChanged(),
      say: text => this.say(text)
    });
    this.rich = rich;
    this.cleanups.push(() => rich.remove());

    this.frames.node = this.el;
    this.frames.views.add(this);
    this.cleanups.push(() => this.frames.views.delete(this));
    this.resize();
    // The element is sized once it is in the page: measure again then.
    const observer = new ResizeObserver(() => this.resize());
    observer.observe(this.el);
    this.cleanups.push(() => observer.disconnect());
    this.frame();
    this.model.send({ kind: 'hello', cache: this.frames.cacheHeld() });
    // Open the kernel channel while the kernel is idle: acks and screenshots go over it.
    warm(this.el);
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
    const [width, height] = this.size();
    this.renderer.setSize(width, height);
    this.rich?.resize(width, height);
    this.placeRichLayer();
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  private size(): [number, number] {
    return [Math.max(this.el.clientWidth, 320), Number(this.model.get('height')) || 420];
  }

  /** Mol*'s layer sits exactly under the three.js canvas. */
  private placeRichLayer(): void {
    const layer = this.el.querySelector<HTMLElement>('.fc-molstar');
    if (layer && this.renderer) {
      layer.style.top = `${this.renderer.domElement.offsetTop}px`;
      layer.style.left = `${this.renderer.domElement.offsetLeft}px`;
    }
  }

  /** The representations (or the solvent toggle) changed: three.js draws again what no
   * representation covers, and Mol* what they ask for. */
  private representationsChanged(): void {
    this.coveredStale = true;
    const message = this.frames.rich.message;
    if (this.solventToggle) {
      const solvent = message ? this.frames.rich.buffers[message.solvent] : undefined;
      this.solventToggle.hidden = !solvent || solvent.byteLength === 0;
    }
    this.rich?.update();
    this.placeRichLayer();
    const frame = this.frames.current();
    if (this.framedFor !== this.frames.generation && frame.positions) {
      // The first representations of a target: frame what they show (a protein, not the
      // box of water it hides).
      this.framedFor = this.frames.generation;
      this.fit();
    }
    if (frame.positions && this.spheres) {
      this.placeSpheres(frame);
    }
    this.colourSprites();
    if (this.sprites) {
      const count = (this.sprites.geometry.getAttribute('position') as THREE.BufferAttribute).count;
      this.sprites.visible = this.hiddenCount < count;
    }
    this.drawBonds(frame, true);
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
    const rich = this.rich?.active ?? false;
    this.renderer.setClearAlpha(rich ? 0 : 1);
    if (rich && this.controls) {
      const camera = this.camera;
      this.rich!.camera({
        position: camera.position.toArray(),
        target: this.controls.target.toArray(),
        up: camera.up.toArray(),
        fov: camera.fov
      });
    }
    this.renderer.render(this.scene, this.camera);
    this.drawn += 1;
    this.el.dataset.drawn = String(this.drawn);
  }

  frame(): void {
    const model = this.frames;
    const frame = model.current();
    this.el.dataset.frame = String(frame.index);
    this.el.dataset.received = String(model.received);
    const cache = model.playhead?.cache;
    this.el.dataset.cached = String(cache?.count ?? 0);
    this.el.dataset.local = String(Boolean(model.playhead?.local));
    this.el.dataset.generation = String(model.generation);
    if (this.label) {
      // While chunks come: "caching 120/400 frames" and a bar; then what the page holds.
      const filling = Boolean(cache?.filling);
      let cached = '';
      if (cache) {
        cached = filling
          ? ` \u00b7 caching ${cache.count}/${cache.goal} frames`
          : ` \u00b7 ${cache.count}/${cache.frameCount} frames cached`;
      }
      this.label.textContent = `frame ${frame.index}${cached}`;
      this.caching.hidden = !filling;
      if (filling) {
        this.caching.max = cache!.goal;
        this.caching.value = cache!.count;
      }
    }
    if (this.builtFor !== model.generation) {
      // Another target: drop the old particles, bonds, colours and box, and frame the new
      // one when its positions come.
      this.builtFor = model.generation;
      this.clear();
      this.coveredStale = true;
      this.rich?.update();
    }
    this.rich?.frame();
    if (!frame.positions || frame.positions === this.placed) {
      return; // nothing new to place (a cache chunk, or the same frame again)
    }
    this.placed = frame.positions;
    this.shown += 1;
    this.el.dataset.shown = String(this.shown);
    const count = frame.positions.length / 3;
    if (count > this.spritesAbove) {
      this.removeSpheres();
      this.placeSprites(frame, count);
    } else {
      this.removeSprites();
      if (!this.spheres || this.spheres.count !== count) {
        this.buildSpheres(count);
      }
      this.placeSpheres(frame);
    }
    this.el.dataset.style = count > this.spritesAbove ? 'sprites' : 'spheres';
    // What the scene draws now, whatever drew it before: a test (and a curious user in the
    // inspector) can tell that nothing of an old target is left.
    const sprites = this.sprites ? (this.sprites.geometry.getAttribute('position') as THREE.BufferAttribute).count : 0;
    this.el.dataset.particles = String((this.spheres?.count ?? 0) + sprites);
    this.el.dataset.hidden = String(this.hiddenIn(frame) ? this.hiddenCount : 0);
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
    this.pull?.follow();
    if (!this.fitted) {
      this.fit();
    }
    this.dirty = true;
  }

  /** The particles of `frame` not drawn: worked out again only for new elements, not on
   * every frame. */
  private hiddenIn(frame: IFrame): Uint8Array | null {
    if (this.hiddenFor !== frame.elements || this.coveredStale) {
      this.hiddenFor = frame.elements;
      this.coveredStale = false;
      const virtual = hiddenParticles(frame);
      const count = frame.positions ? frame.positions.length / 3 : (frame.elements?.length ?? 0);
      const covered = this.rich?.covered(count) ?? null;
      this.hidden = covered && virtual ? covered.map((c, i) => c | virtual[i]) : (covered ?? virtual);
      this.hiddenCount = this.hidden ? this.hidden.reduce((sum, h) => sum + h, 0) : 0;
      this.el.dataset.hidden = String(this.hiddenCount);
    }
    return this.hidden;
  }

  /** Show `text` in the toolbar until the next action ('' clears it). */
  say(text: string): void {
    if (this.notice) {
      this.notice.textContent = text;
    }
  }

  /** Take everything of the old target out of the scene. */
  private clear(): void {
    this.removeSpheres();
    this.removeSprites();
    this.removeBonds();
    this.removeBox();
    this.colouredFor = undefined;
    this.colouredResidues = undefined;
    this.placed = undefined;
    this.fitted = false;
    this.dirty = true;
  }

  /** Take `object` out of the scene and free its geometry, material and texture. */
  private drop(object: THREE.Mesh | THREE.Points | THREE.LineSegments | undefined): undefined {
    if (object) {
      this.scene.remove(object);
      object.geometry.dispose();
      const material = object.material as THREE.Material & { map?: THREE.Texture | null };
      material.map?.dispose();
      material.dispose();
    }
    return undefined;
  }

  private removeSpheres(): void {
    this.spheres = this.drop(this.spheres);
  }

  private removeSprites(): void {
    this.sprites = this.drop(this.sprites);
  }

  private removeBonds(): void {
    this.bonds = this.drop(this.bonds);
    this.bondsFor = undefined;
  }

  private removeBox(): void {
    this.box = this.drop(this.box);
    this.boxFor = undefined;
  }

  private buildSpheres(count: number): void {
    this.removeSpheres();
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
      this.removeSprites();
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute('position', new THREE.BufferAttribute(new Float32Array(count * 3), 3));
      // RGBA: a hidden particle's alpha is 0, and the alpha test drops its sprite.
      geometry.setAttribute('color', new THREE.BufferAttribute(new Float32Array(count * 4), 4));
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
    this.hiddenIn(frame);
    this.sprites.visible = this.hiddenCount < count;
  }

  /** The colours of the current frame's particles, by the chosen scheme. */
  private colours(count: number): Float32Array {
    const by = (this.model.get('color_by') as ColourBy) ?? 'element';
    return particleColours(this.frames.current(), count, by, new Set(this.frames.selection));
  }

  private colourSprites(): void {
    if (!this.sprites) {
      return;
    }
    const attribute = this.sprites.geometry.getAttribute('color') as THREE.BufferAttribute;
    const colours = this.colours(attribute.count);
    const hidden = this.hiddenIn(this.frames.current());
    const rgba = attribute.array as Float32Array;
    for (let i = 0; i < attribute.count; i++) {
      rgba.set(colours.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = hidden?.[i] ? 0 : 1;
    }
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
    const frame = this.frames.current();
    this.bondsFor = undefined;
    this.drawBonds(frame);
    this.el.dataset.colourBy = String(this.model.get('color_by'));
    this.dirty = true;
  }

  private placeSpheres(frame: IFrame): void {
    const spheres = this.spheres!;
    const positions = frame.positions!;
    const matrices = spheres.instanceMatrix.array as Float32Array;
    const selected = new Set(this.frames.selection);
    const bonded = Boolean(frame.bonds && frame.bonds.length);
    const hidden = this.hiddenIn(frame);
    for (let i = 0; i < spheres.count; i++) {
      const element = frame.elements ? frame.elements[i] : 0;
      // A hidden particle is a sphere of radius 0: nothing to draw.
      const radius = hidden?.[i] ? 0 : radiusOf(element, bonded) * (selected.has(i) ? 1.4 : 1);
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
    // Every particle hidden or drawn by Mol* (a cartoon): draw no sphere at all. A sphere
    // of radius 0 still costs its triangles, on the CPU without a GPU.
    spheres.visible = this.hiddenCount < spheres.count;
  }

  /** Bonds as line segments, each half in its atom's colour. The geometry is built once
   * per topology and colour scheme; a new frame only moves its points. */
  private drawBonds(frame: IFrame, rebuild = false): void {
    if (!frame.bonds || !frame.positions || frame.bonds.length === 0) {
      this.removeBonds();
      return;
    }
    const positions = frame.positions;
    if (this.bondsFor !== frame.bonds || !this.bonds || rebuild) {
      this.removeBonds();
      // Bonds of hidden particles (or of those a representation draws) are left out.
      const hidden = this.hiddenIn(frame);
      const all = frame.bonds;
      this.bondPairs = hidden ? all.filter((_, k) => !hidden[all[k - (k % 2)]] && !hidden[all[k - (k % 2) + 1]]) : all;
      const pairs = this.bondPairs;
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
      this.bondsFor = frame.bonds;
    }
    const pairs = this.bondPairs!;
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

  /** The box, drawn again when its vectors change, taken away when a frame has none. */
  private drawBox(frame: IFrame): void {
    if (!frame.box) {
      this.removeBox();
      return;
    }
    if (this.box && this.boxFor && sameValues(this.boxFor, frame.box)) {
      return;
    }
    this.removeBox();
    this.boxFor = frame.box;
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

  selection(): void {
    this.colour();
    this.colourSprites();
    const frame = this.frames.current();
    if (frame.positions && this.spheres) {
      this.placeSpheres(frame);
    }
    this.el.dataset.selected = String(this.frames.selection.length);
    this.dirty = true;
  }

  /** Answer `viewer.screenshot()` with a PNG of the view. */
  screenshot(request: string): void {
    if (!this.renderer) {
      return;
    }
    this.dirty = true;
    this.draw();
    const png = this.composed().toDataURL('image/png').split(',')[1];
    notify(this.model, this.el, {
      kind: 'screenshot',
      widget: String(this.model.get('_widget_id')),
      shot: request,
      png
    });
  }

  /** The view as the user sees it: Mol*'s layer (rich representations) under three.js's. */
  private composed(): HTMLCanvasElement {
    const top = this.renderer!.domElement;
    const under = this.rich?.canvas;
    if (!under) {
      return top;
    }
    this.rich!.draw();
    const out = document.createElement('canvas');
    out.width = top.width;
    out.height = top.height;
    const g = out.getContext('2d')!;
    g.drawImage(under, 0, 0, out.width, out.height);
    g.drawImage(top, 0, 0);
    return out;
  }

  /** Point the camera at the whole system. */
  fit(): void {
    const frame = this.frames.current();
    if (!frame.positions || !this.controls) {
      return;
    }
    const bounds = new THREE.Box3();
    const point = new THREE.Vector3();
    // Frame what is drawn: a protein in a water box, not the box of hidden water.
    const unseen = this.rich?.unseen(frame.positions.length / 3);
    const framed = unseen && unseen.some(u => !u) ? unseen : null;
    for (let i = 0; i < frame.positions.length; i += 3) {
      if (!framed?.[i / 3]) {
        bounds.expandByPoint(point.set(frame.positions[i], frame.positions[i + 1], frame.positions[i + 2]));
      }
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

  /** Stop drawing and let go of everything the view holds. */
  remove(): void {
    cancelAnimationFrame(this.animation);
    this.cleanups.splice(0).forEach(cleanup => cleanup());
    this.controls?.dispose();
    this.renderer?.dispose();
  }
}
