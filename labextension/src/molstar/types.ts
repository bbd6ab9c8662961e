/**
 * What the viewer and the Mol* bundle say to each other. Types only: importing them
 * brings no code into either bundle.
 */

/** One representation as the viewer asks for it. */
export interface IRichItem {
  id: string;
  style: string;
  colour: string;
  opacity: number;
  /** Particle indices (the frame's order), hidden ones already taken out. */
  particles: Int32Array;
}

/** A label (`text` at the particles `a`) or a distance (`a` to `b`). */
export interface IAnnotation {
  kind: 'label' | 'distance';
  text?: string;
  a: Int32Array;
  b?: Int32Array;
}

/** three.js's camera, positions in nm. */
export interface ICamera {
  position: number[];
  target: number[];
  up: number[];
  /** Vertical field of view, degrees. */
  fov: number;
}
