/**
 * Shift-drag an atom to pull it: the page asks the kernel to start an interaction (a
 * spring toward the pointer) on the live simulation, moves it as the pointer moves, and
 * stops it on release. The kernel writes NanoVer's `interaction.<id>` state key, so every
 * client sees the pull; it refuses one on a target that is not live, and the view says why
 * in its toolbar. While pulling, the view draws the spring from the atom to the pointer and
 * rings the atom.
 */
import * as THREE from 'three';
import type { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';

import { hiddenParticles, radiusOf } from './colours';
import type { Frames } from './frames';
import { IModel, request } from './host';

/** What a pull needs of the view that shows it. */
export interface IPullView {
  /** The three.js scene the spring is drawn in. */
  scene: THREE.Scene;
  /** The scene changed: draw it again. */
  redraw(): void;
  /** Say something where the user looks (the toolbar); '' clears it. */
  say(text: string): void;
  /** Particles no layer draws (hidden water, a hidden selection): never picked. */
  unseen?(count: number): Uint8Array | null;
}

/** The spring's colour: bright against the dark background and every element colour. */
const SPRING_COLOUR = 0xffd54f;

/** Pixels from the pointer within which an atom is picked. */
const PICK_PIXELS = 16;
/** Milliseconds between two moves sent to the kernel while dragging. */
const MOVE_EVERY = 50;

export class Pull {
  private particle = -1;
  private plane = new THREE.Plane();
  private lastSent = 0;
  private latest?: THREE.Vector3;
  private timer?: number;
  /** Where the pointer pulls to, while pulling. */
  private pointer?: THREE.Vector3;
  /** The spring's radius (nm), a fraction of the pulled atom's. */
  private thickness = 0.02;
  private readonly cleanups: (() => void)[] = [];
  /** The spring from the atom to the pointer, and the ring around the atom. */
  private readonly spring: THREE.Mesh;
  private readonly ring: THREE.Mesh;

  constructor(
    private readonly model: IModel,
    private readonly el: HTMLElement,
    private readonly canvas: HTMLCanvasElement,
    private readonly camera: THREE.PerspectiveCamera,
    private readonly controls: OrbitControls,
    private readonly frames: Frames,
    private readonly view: IPullView
  ) {
    // Drawn over everything (no depth test), so that atoms around it never hide the pull.
    const material = () => new THREE.MeshBasicMaterial({ color: SPRING_COLOUR, depthTest: false });
    // A unit cylinder along y, from its middle: stretched and turned between the two ends.
    this.spring = new THREE.Mesh(new THREE.CylinderGeometry(1, 1, 1, 8), material());
    this.ring = new THREE.Mesh(new THREE.SphereGeometry(1, 12, 8), material());
    (this.ring.material as THREE.MeshBasicMaterial).wireframe = true;
    this.spring.renderOrder = this.ring.renderOrder = 1;
    this.spring.frustumCulled = this.ring.frustumCulled = false;
    this.spring.visible = this.ring.visible = false;
    view.scene.add(this.spring, this.ring);
    this.cleanups.push(() => {
      view.scene.remove(this.spring, this.ring);
      this.spring.geometry.dispose();
      (this.spring.material as THREE.Material).dispose();
      this.ring.geometry.dispose();
      (this.ring.material as THREE.Material).dispose();
    });
    // Captured on the view's element, so a shift-press never reaches the orbit controls.
    const down = (event: PointerEvent) => this.down(event);
    const move = (event: PointerEvent) => this.move(event);
    const up = () => this.up();
    el.addEventListener('pointerdown', down, { capture: true });
    el.addEventListener('pointermove', move, { capture: true });
    el.addEventListener('pointerup', up, { capture: true });
    el.addEventListener('pointercancel', up, { capture: true });
    this.cleanups.push(() => {
      el.removeEventListener('pointerdown', down, { capture: true });
      el.removeEventListener('pointermove', move, { capture: true });
      el.removeEventListener('pointerup', up, { capture: true });
      el.removeEventListener('pointercancel', up, { capture: true });
    });
  }

  /** The atom nearest the pointer on screen, within PICK_PIXELS, or -1. */
  private pick(x: number, y: number): number {
    const frame = this.frames.current();
    const positions = frame.positions;
    if (!positions) {
      return -1;
    }
    // What is not drawn cannot be picked: virtual sites, hidden selections and water.
    // Atoms under a cartoon can: the cartoon is drawn from them.
    const virtual = hiddenParticles(frame);
    const unseen = this.view.unseen?.(positions.length / 3) ?? null;
    const hidden = virtual && unseen ? unseen.map((u, i) => u | virtual[i]) : (unseen ?? virtual);
    const rect = this.canvas.getBoundingClientRect();
    const point = new THREE.Vector3();
    let best = -1;
    let bestDistance = PICK_PIXELS * PICK_PIXELS;
    for (let i = 0; i < positions.length / 3; i++) {
      if (hidden?.[i]) {
        continue;
      }
      point.set(positions[i * 3], positions[i * 3 + 1], positions[i * 3 + 2]).project(this.camera);
      if (point.z < -1 || point.z > 1) {
        continue; // behind the camera or past the far plane
      }
      const dx = ((point.x + 1) / 2) * rect.width - x;
      const dy = ((1 - point.y) / 2) * rect.height - y;
      const distance = dx * dx + dy * dy;
      if (distance < bestDistance) {
        best = i;
        bestDistance = distance;
      }
    }
    return best;
  }

  private down(event: PointerEvent): void {
    if (!event.shiftKey || event.button !== 0) {
      return;
    }
    const rect = this.canvas.getBoundingClientRect();
    const particle = this.pick(event.clientX - rect.left, event.clientY - rect.top);
    if (particle < 0) {
      return;
    }
    event.stopPropagation();
    event.preventDefault();
    this.particle = particle;
    this.controls.enabled = false;
    const positions = this.frames.current().positions!;
    const atom = new THREE.Vector3(positions[particle * 3], positions[particle * 3 + 1], positions[particle * 3 + 2]);
    // Drag in the plane through the atom, facing the camera.
    this.plane.setFromNormalAndCoplanarPoint(this.camera.getWorldDirection(new THREE.Vector3()), atom);
    this.el.dataset.pulling = String(particle);
    const frame = this.frames.current();
    const radius = radiusOf(frame.elements ? frame.elements[particle] : 0, Boolean(frame.bonds?.length));
    this.ring.scale.setScalar(radius * 1.8);
    this.thickness = radius * 0.25;
    this.pointer = atom.clone();
    this.spring.visible = this.ring.visible = true;
    this.el.dataset.spring = 'shown';
    this.follow();
    this.view.say('');
    this.send(atom, true);
  }

  /**
   * Draw the spring from the atom, where the frame on show has it, to the pointer. The view
   * calls this on every frame, so the spring stretches as the atom follows.
   */
  follow(): void {
    const positions = this.frames.current().positions;
    if (this.particle < 0 || !this.pointer || !positions || this.particle * 3 + 2 >= positions.length) {
      return;
    }
    const i = this.particle * 3;
    const atom = new THREE.Vector3(positions[i], positions[i + 1], positions[i + 2]);
    const along = this.pointer.clone().sub(atom);
    const length = along.length();
    this.spring.position.copy(atom).addScaledVector(along, 0.5);
    if (length > 0) {
      this.spring.quaternion.setFromUnitVectors(new THREE.Vector3(0, 1, 0), along.divideScalar(length));
    }
    this.spring.scale.set(this.thickness, Math.max(length, 1e-6), this.thickness);
    this.ring.position.copy(atom);
    this.view.redraw();
  }

  private move(event: PointerEvent): void {
    if (this.particle < 0) {
      return;
    }
    event.stopPropagation();
    const rect = this.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(
      ((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1
    );
    const ray = new THREE.Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const target = new THREE.Vector3();
    if (!ray.ray.intersectPlane(this.plane, target)) {
      return;
    }
    this.pointer = target.clone();
    this.follow();
    // At most one move per MOVE_EVERY ms; the last one of a burst is sent when its turn
    // comes, so the pull always ends where the pointer stopped.
    this.latest = target;
    const wait = this.lastSent + MOVE_EVERY - performance.now();
    if (wait <= 0) {
      this.sendLatest();
    } else if (this.timer === undefined) {
      this.timer = window.setTimeout(() => this.sendLatest(), wait);
    }
  }

  private sendLatest(): void {
    this.timer = undefined;
    if (this.particle >= 0 && this.latest) {
      this.send(this.latest, false);
      this.latest = undefined;
    }
  }

  private up(): void {
    if (this.particle < 0) {
      return;
    }
    this.particle = -1;
    this.latest = undefined;
    window.clearTimeout(this.timer);
    this.timer = undefined;
    this.controls.enabled = true;
    this.pointer = undefined;
    this.spring.visible = this.ring.visible = false;
    delete this.el.dataset.spring;
    this.view.redraw();
    delete this.el.dataset.pulling;
    void this.ask({ stop: true });
  }

  private send(position: THREE.Vector3, start: boolean): void {
    this.lastSent = performance.now();
    void this.ask({ particle: this.particle, position: [position.x, position.y, position.z], start });
  }

  private async ask(content: Record<string, unknown>): Promise<void> {
    const reply = await request(this.model, this.el, {
      kind: 'pull',
      widget: String(this.model.get('_widget_id')),
      ...content
    });
    if (reply.error) {
      this.el.dataset.pullError = reply.error;
      this.view.say(`cannot pull: ${reply.error}`);
      // Refused: no spring stays drawn as if the atom were pulled.
      this.spring.visible = this.ring.visible = false;
      delete this.el.dataset.spring;
      this.view.redraw();
    } else if (!content.stop) {
      // A pull that went: the last refusal no longer holds (a stop says nothing of it).
      delete this.el.dataset.pullError;
    }
  }

  remove(): void {
    window.clearTimeout(this.timer);
    this.cleanups.splice(0).forEach(cleanup => cleanup());
  }
}
