/**
 * A play control sent to the kernel: the session does it too, and its answer settles the
 * page's playhead, so the page, its bars and the session agree on the frame.
 */
import type { Playhead } from '../playhead';
import { IModel, Reply, request } from './host';

/** Controls that leave the playhead paused on a frame: the kernel goes to that frame. */
const SETTLING = new Set(['pause', 'step', 'step_back']);

/**
 * Ask the kernel to do `action` for the widget `model` names. When `playhead` is local
 * (the page did the action already), a pause or a step carries the frame the page now
 * shows: the page's clock and the kernel's differ by a few frames, and the frame kept is
 * the one the user saw. The answer moves the playhead to where the session is, unless the
 * page acted again meanwhile. Resolves with the kernel's reply.
 */
export async function act(
  model: IModel,
  node: HTMLElement,
  playhead: Playhead | null,
  action: string,
  extra: { frame?: number; fps?: number } = {}
): Promise<Reply> {
  const local = playhead?.local ? playhead : null;
  const frame = extra.frame ?? (local && SETTLING.has(action) ? local.frame : undefined);
  const actions = local?.actions;
  const reply = await request(model, node, {
    kind: 'control',
    widget: String(model.get('_widget_id')),
    action,
    frame,
    fps: extra.fps
  });
  if (local && !reply.error && reply.frame !== undefined && local.actions === actions) {
    local.settle({ frame: reply.frame, playing: reply.playing });
  }
  return reply;
}
