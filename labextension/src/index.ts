/**
 * framecast for JupyterLab and Notebook 7.
 *
 * The widgets (control bar, viewer, links) are anywidget modules shipped in the Python
 * package and need nothing from here. This plugin adds two things where it is installed:
 * - renderers for `application/vnd.framecast.transition+json` (one link) and
 *   `application/vnd.framecast.transitions+json` (a table of links), so that a saved
 *   notebook shows working links when it is opened again;
 * - a channel to the kernel on a subshell (comm target `framecast.requests`), which the
 *   widgets use when it reaches their notebook, so clicks work while another cell is busy.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { channel } from './links';
import { TransitionLink, TransitionTable, TRANSITION_MIME, TRANSITIONS_MIME } from './renderers';
import { VERSION } from './version';
import { announceKernelLost, shared } from './widgets/host';

/** Above the widget view (-10): in a notebook, a saved link renders without its model. */
const IN_NOTEBOOKS = -20;
/** Below it: where there are no notebooks (Voilà), the links widget renders instead. */
const ELSEWHERE = 100;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'framecast:plugin',
  description: 'framecast transition links for saved notebooks, and a kernel channel',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    tracker: INotebookTracker | null
  ): void => {
    channel.tracker = tracker;
    shared().channel = channel;
    if (tracker) {
      // A restarted (or stopped, or replaced) kernel takes the widgets' models with it: the
      // widgets say so instead of looking alive.
      const watch = (panel: NotebookPanel) => {
        panel.sessionContext.statusChanged.connect((_, status) => {
          const kernel = panel.sessionContext.session?.kernel;
          if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
            if (kernel) {
              channel.kernelLost(kernel);
            }
            announceKernelLost(panel.node);
          }
        });
        panel.sessionContext.kernelChanged.connect((_, change) => {
          if (change.oldValue) {
            announceKernelLost(panel.node);
          }
        });
      };
      tracker.forEach(watch);
      tracker.widgetAdded.connect((_, panel) => watch(panel));
    }
    const rank = tracker ? IN_NOTEBOOKS : ELSEWHERE;
    const factory = (
      mimeType: string,
      make: (options: IRenderMime.IRendererOptions) => IRenderMime.IRenderer
    ): IRenderMime.IRendererFactory => ({
      safe: true,
      mimeTypes: [mimeType],
      defaultRank: rank,
      createRenderer: make
    });
    rendermime.addFactory(factory(TRANSITION_MIME, options => new TransitionLink(options, channel)), rank);
    rendermime.addFactory(factory(TRANSITIONS_MIME, options => new TransitionTable(options, channel)), rank);
    console.debug(`framecast ${VERSION} is active`);
  }
};

export default plugin;
