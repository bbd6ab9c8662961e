/**
 * The transition-links widget (anywidget module): one link, or a table of a range's links,
 * in one widget model however many rows it has. A click publishes through the kernel and
 * the link says how many clients received it.
 */
import { IModel, listenForReplies, request, warm } from './host';
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
  warm(el);
  return () => model.off('change:data', draw);
}

export default { initialize, render };
