import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes set on every run, so operators can filter runs in the Temporal Web UI. */
export const FLOW_ID = defineSearchAttributeKey('HookflowFlowId', SearchAttributeType.KEYWORD);
export const FLOW_VERSION = defineSearchAttributeKey('HookflowFlowVersion', SearchAttributeType.INT);
export const METRIC = defineSearchAttributeKey('HookflowMetric', SearchAttributeType.KEYWORD);

/** The same attributes in the form `temporal server start-dev --search-attribute` takes. */
export const SEARCH_ATTRIBUTE_FLAGS: readonly string[] = [
  'HookflowFlowId=Keyword',
  'HookflowFlowVersion=Int',
  'HookflowMetric=Keyword',
];
