/** How particles are coloured and sized: Jmol element colours, residues, chains, selection. */
import * as THREE from 'three';

import type { IFrame } from './frames';

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
export function radiusOf(element: number, bonded: boolean): number {
  return (VDW[element] ?? DEFAULT_VDW) * (bonded ? 0.3 : 0.9);
}
// Distinct colours for chains (Okabe-Ito and Tableau, readable on a dark background).
const CHAIN_COLOURS = [
  0x56b4e9, 0xe69f00, 0x009e73, 0xf0e442, 0xcc79a7, 0xd55e00, 0x0072b2, 0x9edae5, 0xff9896,
  0xc5b0d5
];
const DEFAULT_COLOUR = 0xff1493;
const SELECTED_COLOUR = 0xffd700;
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

/**
 * The particles not drawn: those of element 0 (no element: TIP4P's virtual site `MW`, a
 * dummy atom) in a frame whose other particles have elements. A frame with no element at
 * all keeps every particle. Null when every particle is drawn.
 */
export function hiddenParticles(frame: IFrame): Uint8Array | null {
  const elements = frame.elements;
  if (!elements || !elements.some(element => element !== 0) || elements.every(element => element !== 0)) {
    return null;
  }
  return elements.map(element => (element === 0 ? 1 : 0));
}
