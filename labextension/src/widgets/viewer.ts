/**
 * The viewer widget (anywidget module): a 3D view of a session's frames, with its own
 * compact play bar for a trajectory the page holds, so it plays and scrubs inside one
 * output even where outputs are isolated iframes (Colab) or a cell keeps the kernel busy.
 */
import { VERSION, versionProblem } from '../version';
import { act } from './act';
import { Frames } from './frames';
import { IModel, KERNEL_LOST_TEXT, listenForReplies, whenKernelLost } from './host';
import { PlayBar } from './playbar';
import { Scene } from './scene';

const states = new Map<string, Frames>();

function framesOf(model: IModel): Frames {
  const id = String(model.get('_widget_id'));
  let frames = states.get(id);
  if (!frames) {
    frames = new Frames(model);
    states.set(id, frames);
  }
  return frames;
}

function initialize({ model }: { model: IModel }): () => void {
  listenForReplies(model);
  framesOf(model);
  return () => {
    const id = String(model.get('_widget_id'));
    states.get(id)?.dispose();
    states.delete(id);
  };
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  const problem = versionProblem(model.get('python_version'));
  if (problem) {
    const note = document.createElement('div');
    note.className = 'fc-version-mismatch';
    note.textContent = problem;
    el.appendChild(note);
    return () => undefined;
  }
  const frames = framesOf(model);
  const toolbar = document.createElement('div');
  toolbar.className = 'fc-viewer-toolbar';
  el.appendChild(toolbar);
  const scene = new Scene(model, frames, el);
  scene.render(toolbar);
  // A session of this kernel follows the play bar; a remote one is another's to drive.
  let lost = false;
  const closed = () => lost || Boolean(model.get('ended'));
  const bar = new PlayBar(
    frames,
    (action, extra) => {
      if (model.get('in_process') && !closed()) {
        void act(model, el, frames.playhead, action, extra).then(reply => {
          if (reply.error) {
            scene.say(`${action} failed: ${reply.error}`);
          }
        });
      }
    },
    closed
  );
  el.appendChild(bar.el);
  const onClosed = () => {
    el.dataset.ended = String(closed());
    if (closed()) {
      frames.playhead?.pause(); // nothing plays on as if the session were alive
      scene.say(String(model.get('ended') || ''));
    }
    bar.frame();
  };
  model.on('change:ended', onClosed);
  onClosed();
  const unwatch = whenKernelLost(el, () => {
    lost = true;
    onClosed();
    scene.say(KERNEL_LOST_TEXT);
  });
  return () => {
    unwatch();
    model.off('change:ended', onClosed);
    bar.remove();
    scene.remove();
  };
}

export default { initialize, render };
export { VERSION };
