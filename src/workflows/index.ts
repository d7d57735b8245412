// The worker's `workflowsPath`: every workflow type hookflow registers.
export { flowRun, flowRunV2, runStateQuery } from './flow-run';
export { resendDelivery } from './resend-delivery';
export { dateSweep } from './date-sweep';
export { priceDropFanOut, fanOutPagesQuery } from './price-drop-fan-out';
