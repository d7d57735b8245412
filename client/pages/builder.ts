import { pageData } from '../lib/dom';
import { Builder } from '../builder/builder';
import type { BuilderPageData } from '../builder/types';
import { mountWebhookEditor } from '../builder/webhook-editor';

/** The flow builder page (`/flows/:id`): the server embeds the flow and the viewer's rights. */
const root = document.getElementById('builder');
if (root) new Builder(root, pageData<BuilderPageData>('builder-data'), mountWebhookEditor).start();
