/** A tiny element builder: `h('button', { class: 'primary', onclick }, 'Save')`. Text is never parsed as HTML. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Reads the JSON a page embeds for its script (`<script type="application/json" id="…">`). */
export function pageData<T>(id: string): T {
  const el = document.getElementById(id);
  if (!el?.textContent) throw new Error(`page data #${id} is missing`);
  return JSON.parse(el.textContent) as T;
}
