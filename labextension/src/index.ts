/**
 * framecast for JupyterLab and Notebook 7.
 *
 * One plugin that registers:
 * - the `framecast` widget module: the control bar of a `framecast.Session`;
 * - renderers for `application/vnd.framecast.transition+json` (one link) and
 *   `application/vnd.framecast.transitions+json` (a table of links).
 *
 * A click on a link publishes the transition through the kernel that displayed it, over a
 * single comm per kernel (target `framecast.transitions`), however many links the page has.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { IJupyterWidgetRegistry } from '@jupyter-widgets/base';

import { channel } from './links';
import { TransitionLink, TransitionTable, TRANSITION_MIME, TRANSITIONS_MIME } from './renderers';
import { SessionControlsModel, SessionControlsView } from './controls';
import { ViewerModel, ViewerView } from './viewer';
import { VERSION } from './version';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'framecast:plugin',
  description: 'framecast session controls and transition links',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [INotebookTracker, IJupyterWidgetRegistry],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    tracker: INotebookTracker | null,
    widgets: IJupyterWidgetRegistry | null
  ): void => {
    channel.tracker = tracker;
    const links = channel;
    const factory = (
      mimeType: string,
      make: (options: IRenderMime.IRendererOptions) => IRenderMime.IRenderer
    ): IRenderMime.IRendererFactory => ({
      safe: true,
      mimeTypes: [mimeType],
      defaultRank: 0,
      createRenderer: make
    });
    rendermime.addFactory(
      factory(TRANSITION_MIME, options => new TransitionLink(options, links)),
      0
    );
    rendermime.addFactory(
      factory(TRANSITIONS_MIME, options => new TransitionTable(options, links)),
      0
    );
    if (widgets) {
      widgets.registerWidget({
        name: 'framecast',
        version: VERSION,
        exports: { SessionControlsModel, SessionControlsView, ViewerModel, ViewerView }
      });
    }
    console.debug(`framecast ${VERSION} is active`);
  }
};

export default plugin;
