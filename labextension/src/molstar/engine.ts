/**
 * framecast's Mol* engine: Mol*'s core (no React UI) drawing a viewer's rich
 * representations (cartoon, licorice, surface...) under framecast's three.js layer.
 *
 * Built as its own bundle (framecast/static/molstar.js) and loaded once per page, on
 * demand: the viewer module never carries it. The structure comes once per topology (a PDB
 * text from the kernel); each frame after moves it through Mol*'s coordinate-update
 * transform (`ModelWithCoordinates`), fed from the positions the viewer already holds.
 * The camera is three.js's: the viewer hands it over on every change, so both layers show
 * one view, and Mol*'s canvas takes no input (drag, zoom and shift-drag pulling stay
 * framecast's).
 */
import { Vec3 } from 'molstar/lib/mol-math/linear-algebra/3d/vec3';
import { Structure, StructureElement, StructureSelection } from 'molstar/lib/mol-model/structure';
import type { Frame } from 'molstar/lib/mol-model/structure/coordinates/coordinates';
import { StateTransforms } from 'molstar/lib/mol-plugin-state/transforms';
import { PluginContext } from 'molstar/lib/mol-plugin/context';
import { DefaultPluginSpec } from 'molstar/lib/mol-plugin/spec';
import { MolScriptBuilder as MS } from 'molstar/lib/mol-script/language/builder';
import type { Expression } from 'molstar/lib/mol-script/language/expression';
import { Script } from 'molstar/lib/mol-script/script';
import { Color } from 'molstar/lib/mol-util/color';
import { setSubtreeVisibility } from 'molstar/lib/mol-plugin/behavior/static/state';

import type { IAnnotation, ICamera, IRichItem } from './types';

export type { IAnnotation, ICamera, IRichItem };

const TYPES: Record<string, string> = {
  cartoon: 'cartoon',
  licorice: 'ball-and-stick',
  'ball-and-stick': 'ball-and-stick',
  spacefill: 'spacefill',
  surface: 'molecular-surface',
  points: 'point',
  lines: 'line'
};
const COLOURS: Record<string, string> = {
  element: 'element-symbol',
  residue: 'sequence-id',
  chain: 'chain-id',
  'secondary-structure': 'secondary-structure'
};
/** Labels readable on the dark view at a glance: white on a dark plate, a size in Å. */
const LABEL = {
  textSize: 2.2,
  // Lifted a little toward the camera (Å), out of the atoms it names.
  offsetZ: 2,
  textColor: Color(0xffffff),
  background: true,
  backgroundColor: Color(0x000000),
  backgroundOpacity: 0.6,
  backgroundMargin: 0.3
};
/** nm (framecast) to Å (Mol*). */
const ANGSTROM = 10;

function typeParams(item: IRichItem, moving: boolean): Record<string, unknown> {
  const params: Record<string, unknown> = { alpha: item.opacity, quality: moving ? 'lowest' : 'auto' };
  if (item.style === 'licorice') {
    Object.assign(params, { sizeAspectRatio: 1 });
  }
  return params;
}

function colourParams(colour: string): { name: string; params?: Record<string, unknown> } {
  if (colour.startsWith('#')) {
    return { name: 'uniform', params: { value: Color(parseInt(colour.slice(1), 16)) } };
  }
  return { name: COLOURS[colour] ?? 'element-symbol' };
}

/** A MolScript test of `particles` (file order), as runs: most selections are a few. */
function atomsOf(particles: Int32Array): Expression {
  const index = MS.struct.atomProperty.core.sourceIndex();
  const runs: Expression[] = [];
  for (let i = 0; i < particles.length; ) {
    let j = i;
    while (j + 1 < particles.length && particles[j + 1] === particles[j] + 1) {
      j++;
    }
    runs.push(MS.core.rel.inRange([index, particles[i], particles[j]]));
    i = j + 1;
  }
  const test = runs.length > 2000 ? MS.core.set.has([MS.core.type.set(Array.from(particles)), index]) : MS.core.logic.or(runs);
  return MS.struct.generator.atomGroups({ 'atom-test': runs.length === 1 ? runs[0] : test });
}

type Annotation = IAnnotation;

/** A structure in Mol*'s state tree, moved by its own coordinate node. */
interface IHeld {
  coordinates: string;
  structure: string;
}

export class MolstarLayer {
  readonly el: HTMLDivElement;
  private plugin: PluginContext;
  private pdb: string | null = null;
  /** The structure every frame moves. */
  private live: IHeld | null = null;
  /** The structure surfaces are drawn on: moved only at rest (a surface of 10k atoms
   * costs seconds). Made when a surface is first asked for. */
  private rest: IHeld | null = null;
  private items: IRichItem[] = [];
  private moving = false;
  private count = 0;
  private busy: Promise<void> = Promise.resolve();
  private pendingFrame: Float32Array | null = null;
  private latest: Float32Array | null = null;
  private annotations: Annotation[] = [];
  /** Coordinate updates Mol* has taken in, and the last one's cost (ms). */
  updates = 0;
  lastUpdateMs = 0;

  private constructor(plugin: PluginContext, el: HTMLDivElement) {
    this.plugin = plugin;
    this.el = el;
  }

  /** A Mol* layer drawing into a new canvas inside `parent`. */
  static async create(parent: HTMLElement, width: number, height: number): Promise<MolstarLayer> {
    const el = document.createElement('div');
    el.className = 'fc-molstar';
    el.style.cssText = `position:absolute;left:0;width:${width}px;height:${height}px;pointer-events:none;`;
    const canvas = document.createElement('canvas');
    canvas.style.cssText = 'width:100%;height:100%;display:block;';
    el.appendChild(canvas);
    parent.appendChild(el);
    const plugin = new PluginContext(DefaultPluginSpec());
    await plugin.init();
    const ok = await plugin.initViewerAsync(canvas, el);
    if (!ok || !plugin.canvas3d) {
      el.remove();
      throw new Error('Mol* could not start WebGL here');
    }
    plugin.canvas3d.setProps({
      renderer: { backgroundColor: Color(0x1e1e1e) },
      camera: { helper: { axes: { name: 'off', params: {} } } },
      postprocessing: { occlusion: { name: 'off', params: {} }, outline: { name: 'off', params: {} } },
      multiSample: { mode: 'off' },
      cameraFog: { name: 'off', params: {} },
      transparentBackground: false
    } as never);
    return new MolstarLayer(plugin, el);
  }

  /** Size the layer as the three.js canvas. */
  resize(width: number, height: number): void {
    this.el.style.width = `${width}px`;
    this.el.style.height = `${height}px`;
    this.plugin.canvas3d?.handleResize();
  }

  /** Build the structure from a PDB text (positions in Å); replaces any previous one. */
  async load(pdb: Uint8Array, count: number): Promise<void> {
    await this.queue(async () => {
      await this.plugin.clear();
      this.pdb = new TextDecoder().decode(pdb);
      this.rest = null;
      this.live = await this.structure();
      this.count = count;
      await this.build();
    });
  }

  /** A structure of the PDB text, under a coordinate node of its own. */
  private async structure(): Promise<IHeld> {
    const data = await this.plugin.builders.data.rawData({ data: this.pdb!, label: 'framecast' });
    const trajectory = await this.plugin.builders.structure.parseTrajectory(data, 'pdb');
    const model = await this.plugin.builders.structure.createModel(trajectory);
    const coordinates = await this.plugin.build().to(model).apply(StateTransforms.Model.ModelWithCoordinates, {}).commit();
    const structure = await this.plugin.builders.structure.createStructure(coordinates);
    return { coordinates: coordinates.ref, structure: structure.ref };
  }

  /** Draw these representations (replacing the previous ones). */
  async represent(items: IRichItem[]): Promise<void> {
    this.items = items;
    await this.queue(() => this.build());
  }

  /** Labels and distances, moved with each frame by Mol*. */
  async annotate(annotations: Annotation[]): Promise<void> {
    this.annotations = annotations;
    await this.queue(() => this.build());
  }

  private async build(): Promise<void> {
    if (!this.live) {
      return;
    }
    const plugin = this.plugin;
    const builder = plugin.builders.structure;
    // Take the old components and measurements away, keep the structures.
    const update = plugin.build();
    for (const held of [this.live, this.rest]) {
      if (held) {
        for (const cell of plugin.state.data.selectQ(q => q.byRef(held.structure).children())) {
          update.delete(cell.transform.ref);
        }
      }
    }
    for (const cell of plugin.state.data.selectQ(q => q.ofTransformer(StateTransforms.Model.MultiStructureSelectionFromExpression))) {
      update.delete(cell.transform.ref);
    }
    await update.commit();
    if (this.items.some(item => item.style === 'surface') && !this.rest) {
      this.rest = await this.structure();
      await this.move(this.rest, this.latest);
    }
    for (const item of this.items) {
      const held = item.style === 'surface' ? this.rest : this.live;
      if (!held || !item.particles.length || !TYPES[item.style]) {
        continue;
      }
      const component = await builder.tryCreateComponentFromExpression(held.structure, atomsOf(item.particles), item.id, {
        label: `${item.style} ${item.id}`
      });
      if (!component) {
        continue;
      }
      await builder.representation.addRepresentation(component, {
        type: TYPES[item.style] as 'cartoon',
        typeParams: typeParams(item, this.moving) as never,
        color: colourParams(item.colour).name as 'element-symbol',
        colorParams: colourParams(item.colour).params as never
      });
    }
    if (this.rest) {
      setSubtreeVisibility(plugin.state.data, this.rest.structure, this.moving);
    }
    const whole = plugin.state.data.select(this.live.structure)[0]?.obj?.data as Structure | undefined;
    if (whole) {
      const measurement = plugin.managers.structure.measurement;
      for (const note of this.annotations) {
        const a = this.loci(whole, note.a);
        if (note.kind === 'label' && a) {
          await measurement.addLabel(a, { visualParams: { customText: note.text ?? '', ...LABEL } as never });
        } else if (note.kind === 'distance' && a && note.b) {
          const b = this.loci(whole, note.b);
          if (b) {
            await measurement.addDistance(a, b, { visualParams: { ...LABEL } as never });
          }
        }
      }
    }
  }

  private loci(structure: Structure, particles: Int32Array): StructureElement.Loci | null {
    const selection = Script.getStructureSelection(atomsOf(particles), structure);
    const loci = StructureSelection.toLociWithSourceUnits(selection);
    return StructureElement.Loci.isEmpty(loci) ? null : loci;
  }

  /** Move the structure to `positions` (nm): while Mol* still draws the previous frame,
   * the latest positions wait, and later ones replace them. */
  setPositions(positions: Float32Array): void {
    if (!this.live || positions.length !== this.count * 3) {
      return;
    }
    this.latest = positions;
    const idle = this.pendingFrame === null;
    this.pendingFrame = positions;
    if (idle) {
      void this.queue(async () => {
        const next = this.pendingFrame;
        this.pendingFrame = null;
        const started = performance.now();
        await this.move(this.live, next);
        if (!this.moving) {
          await this.move(this.rest, next);
        }
        this.updates += 1;
        this.lastUpdateMs = performance.now() - started;
      });
    }
  }

  private async move(held: IHeld | null, positions: Float32Array | null): Promise<void> {
    if (!held || !positions) {
      return;
    }
    const n = positions.length / 3;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    const z = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = positions[i * 3] * ANGSTROM;
      y[i] = positions[i * 3 + 1] * ANGSTROM;
      z[i] = positions[i * 3 + 2] * ANGSTROM;
    }
    const frame: Frame = { elementCount: n, time: { value: 0, unit: 'step' }, x, y, z, xyzOrdering: { isIdentity: true } };
    await this.plugin.build().to(held.coordinates).update({ atomicCoordinateFrame: frame }).commit();
  }

  /** While frames move, draw at the lowest quality and hide surfaces; at rest, draw at
   * full quality, surfaces moved to the frame on show. */
  async setMoving(moving: boolean): Promise<void> {
    if (moving === this.moving) {
      return;
    }
    this.moving = moving;
    await this.queue(async () => {
      const update = this.plugin.build();
      this.plugin.state.data.cells.forEach(cell => {
        if (cell.transform.transformer === StateTransforms.Representation.StructureRepresentation3D) {
          update.to(cell.transform.ref).update((old: { type: { params: Record<string, unknown> } }) => {
            old.type.params = { ...old.type.params, quality: moving ? 'lowest' : 'auto' };
          });
        }
      });
      await update.commit();
      if (this.rest) {
        if (!moving) {
          await this.move(this.rest, this.latest);
        }
        setSubtreeVisibility(this.plugin.state.data, this.rest.structure, moving);
      }
    });
  }

  /** Look through three.js's camera (positions in nm). */
  setCamera(camera: ICamera): void {
    const canvas3d = this.plugin.canvas3d;
    if (!canvas3d) {
      return;
    }
    const scale = (v: number[]) => Vec3.create(v[0] * ANGSTROM, v[1] * ANGSTROM, v[2] * ANGSTROM);
    canvas3d.camera.setState(
      { position: scale(camera.position), target: scale(camera.target), up: Vec3.create(camera.up[0], camera.up[1], camera.up[2]), fov: (camera.fov * Math.PI) / 180 },
      0
    );
  }

  /** Draw now (a screenshot). */
  draw(): void {
    this.plugin.canvas3d?.commit(true);
  }

  /** The layer's canvas, to compose screenshots. */
  get canvas(): HTMLCanvasElement | null {
    return this.el.querySelector('canvas');
  }

  private queue(work: () => Promise<void>): Promise<void> {
    this.busy = this.busy.then(work, work).catch(error => console.error('framecast Mol*:', error));
    return this.busy;
  }

  dispose(): void {
    this.plugin.dispose();
    this.el.remove();
  }
}
