import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { openDatabase } from '../db';
import { DeliveryStore } from '../db/delivery-store';
import { EventStore } from '../db/event-store';
import { FlowStore } from '../db/flow-store';
import { EventService } from '../events/service';
import { FlowService } from '../flows/service';
import type { Logger } from '../logger';
import { RunService } from '../runs/service';
import { createSecretBox } from '../secrets/from-config';
import { createApp } from './app';

export interface RunningApi {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Builds the API's collaborators from config and listens. */
export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const db = await openDatabase(config.dbPath);
  const secrets = createSecretBox(config, logger);
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const flowStore = new FlowStore(db);
  const eventStore = new EventStore(db);
  const deliveryStore = new DeliveryStore(db);
  const app = createApp({
    config,
    db,
    client,
    logger,
    flows: new FlowService(flowStore, secrets),
    events: new EventService(eventStore, flowStore, client, config, logger),
    runs: new RunService(client, eventStore, flowStore, deliveryStore, config),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.api.port, config.api.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : config.api.port;
  return {
    server,
    url: `http://${config.api.host}:${port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await connection.close();
      await db.destroy();
    },
  };
}
