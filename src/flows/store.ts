import { FlowStore as DefinitionStore } from '../db/flow-store';
import type { FlowDefinition } from './model';

/** The flow store, typed with the flow model (the database layer is generic over it). */
export class FlowStore extends DefinitionStore<FlowDefinition> {}
