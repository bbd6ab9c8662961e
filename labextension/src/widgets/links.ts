/**
 * The transition-links widget (anywidget module): one link, or a table of a range's links,
 * in one widget model however many rows it has. A click publishes through the kernel and
 * the link says how many clients received it.
 */
import { IModel, KERNEL_LOST_TEXT, listenForReplies, request, warm, whenKernelLost } from './host';
import { ILinkData, IPublishTarget, ITableData, renderLink, renderTable } from './linkview';

function initialize({ model }: { model: IModel }): void {
  listenForReplies(model);
}

function render({ model, el }: { model: IModel; el: HTMLElement }): () => void {
  const publish = (target: IPublishTarget) => request(model, el, { kind: 'publish', ...target });
  const draw = () => {
    const data = model.get('data');
    if (model.get('kind') === 'table') {
      renderTable(el, data as ITableData, publish);
    } else {
      renderLink(el, data as ILinkData, publish);
    }
  };
  model.on('change:data', draw);
  draw();
  const unwatch = whenKernelLost(el, () => {
    const note = document.createElement('div');
    note.className = 'fc-notice';
    note.setAttribute('role', 'alert');
    note.textContent = KERNEL_LOST_TEXT;
    el.appendChild(note);
  });
  warm(el);
  return () => {
    unwatch();
    model.off('change:data', draw);
  };
}

export default { initialize, render };
