import { booleanString, csv, labelSelector, listMessage } from './list-query.js';

/** CC's StacksListMessage. */
export const StackListMessage = listMessage({
  params: {
    guids: csv('Stack guids'),
    names: csv('Stack names'),
    default: booleanString('Only the default stack (true) or the others (false)'),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at', 'name'],
  defaultOrder: 'name',
});
