import { compileTemplate, TemplateRenderer } from '../src/templates';

/** A realistic order webhook: profile fields, a loop over line items, filters. */
export const ORDER_TEMPLATE = `{
  "customer": {
    "email": "{{ person.email }}",
    "name": "{{ person.first_name|default:"there"|title }} {{ person.last_name }}",
    "loyalty_id": "{{ person|lookup:"Loyalty ID" }}"
  },
  "order": {
    "id": "{{ event.order_id }}",
    "total": {{ event.value|floatformat:2 }},
    "placed": "{{ event.time|date:"Y-m-d H:i" }}",
    "items": [{% for item in event.items %}
      {"sku": "{{ item.sku }}", "name": "{{ item.name|truncatechars:40 }}", "qty": {{ item.quantity }},
       "line_total": {{ item.price|multiply:item.quantity }}}{% if not forloop.last %},{% endif %}{% endfor %}
    ],
    "count": {{ event.items|length }}
  }
}`;

export function orderContext(i: number) {
  return {
    person: {
      email: `user${i}@example.com`,
      first_name: 'ada',
      last_name: 'Lovelace',
      'Loyalty ID': `L-${i}`,
    },
    event: {
      order_id: `order-${i}`,
      value: 123.456,
      time: '2026-11-29T10:00:00Z',
      items: Array.from({ length: 5 }, (_, k) => ({
        sku: `SKU-${k}`,
        name: `Product "${k}" with a fairly long descriptive name`,
        quantity: k + 1,
        price: 9.99,
      })),
    },
  };
}

/**
 * Renders per second: the engine in-process (compiled once); through `TemplateRenderer.render`, the
 * worker's own path (the bench template renders on the caller's thread, metered, see
 * src/templates/in-process.ts); and through the thread pool alone, as every render went before.
 */
export async function benchTemplates(
  n = 20_000,
): Promise<{ inProcess: number; renderer: number; threads: number; bytes: number }> {
  const tpl = compileTemplate(ORDER_TEMPLATE);
  let bytes = 0;
  for (let i = 0; i < 500; i++) bytes = tpl.render(orderContext(i)).length; // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) tpl.render(orderContext(i));
  const inProcess = n / ((performance.now() - t0) / 1000);
  return {
    inProcess,
    renderer: await throughRenderer(new TemplateRenderer({ threads: 2 }), n),
    threads: await throughRenderer(new TemplateRenderer({ threads: 2, inProcess: false }), Math.floor(n / 2)),
    bytes,
  };
}

/** Renders per second through one renderer, 64 in flight, then closes it. */
async function throughRenderer(renderer: TemplateRenderer, n: number): Promise<number> {
  try {
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => renderer.render(ORDER_TEMPLATE, orderContext(i), 'bench')),
    );
    const t0 = performance.now();
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      inflight.push(renderer.render(ORDER_TEMPLATE, orderContext(i), 'bench'));
      if (inflight.length >= 64) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await renderer.close();
  }
}
