/** The panel's styles, added once per page (the builder's page owns the layout around it). */
const CSS = `
.wh-editor { display: grid; gap: 16px; min-width: 0; container-type: inline-size; }
.wh-editor section, .wh-editor details { min-width: 0; }
.wh-editor h4 { font-size: 14px; margin: 0 0 6px; }
.wh-editor .wh-label { display: block; font-size: 13px; font-weight: 600; margin: 8px 0 4px; }
.wh-editor input, .wh-editor select { font: inherit; font-size: 14px; padding: 6px 8px; border: 1px solid var(--line, #e3e7ee); border-radius: 6px; background: #fff; color: inherit; min-width: 0; }
.wh-editor input[type=url], .wh-editor input[type=search], .wh-editor input[type=email], .wh-editor select { width: 100%; }
.wh-editor input[readonly] { background: #f3f5f8; }
.wh-editor input[aria-invalid=true] { border-color: var(--bad, #d2463c); }
.wh-editor :focus-visible { outline: 2px solid var(--info, #3b6fd8); outline-offset: 1px; }
.wh-editor .wh-row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
.wh-editor .wh-row > input { flex: 1 1 140px; }
.wh-editor .wh-muted { color: var(--muted, #5f6b7a); font-size: 13px; margin: 4px 0; }
.wh-editor .wh-msg { font-size: 13px; margin: 4px 0 0; min-height: 0; }
.wh-editor .wh-msg:empty { display: none; }
.wh-editor .wh-bad { color: var(--bad, #d2463c); }
.wh-editor .wh-warn { color: #8a5d06; }
.wh-editor .wh-ok { color: var(--ok, #1f9d6b); }
.wh-editor ul.wh-check { margin: 6px 0 0; padding-left: 18px; font-size: 13px; }
.wh-editor .wh-headers { display: grid; gap: 6px; }
.wh-editor .wh-header { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.4fr) auto; gap: 6px; align-items: end; }
.wh-editor .wh-header input { width: 100%; }
.wh-editor .wh-header .wh-msg { grid-column: 1 / -1; }
.wh-editor .wh-header-actions { display: flex; gap: 4px; }
.wh-editor .wh-vars-list { list-style: none; margin: 6px 0 0; padding: 0; max-height: 280px; overflow: auto; border: 1px solid var(--line, #e3e7ee); border-radius: 6px; }
.wh-editor .wh-vars-list li { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 2px 6px; padding: 4px 6px; border-top: 1px solid var(--line, #e3e7ee); align-items: center; }
.wh-editor .wh-vars-list li:first-child { border-top: 0; }
.wh-editor button.wh-var { display: flex; flex-direction: column; align-items: flex-start; gap: 2px; text-align: left; white-space: normal; border-color: transparent; width: 100%; min-width: 0; }
.wh-editor button.wh-var:hover { border-color: var(--line, #e3e7ee); background: #f6f8fb; }
.wh-editor .wh-var-path { color: #7a3fc1; font-size: 12px; overflow-wrap: anywhere; }
.wh-editor .wh-var-example { color: var(--muted, #5f6b7a); font-size: 12px; overflow-wrap: anywhere; }
.wh-editor .wh-var-fields { grid-column: 1 / -1; font-size: 12px; }
.wh-editor pre.wh-output { background: #f3f5f8; border-radius: 6px; padding: 8px 10px; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; margin: 6px 0 0; max-height: 320px; overflow: auto; }
.wh-editor pre.wh-output:empty { display: none; }
.wh-editor .wh-actions { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
.wh-editor details summary { cursor: pointer; font-weight: 600; font-size: 14px; }
.wh-editor .wh-retry { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 8px 12px; }
.wh-editor .wh-retry input { width: 100%; }
.wh-editor ul.wh-problems { margin: 6px 0 0; padding-left: 18px; font-size: 13px; color: var(--bad, #d2463c); }
.wh-editor ul.wh-problems:empty { display: none; }
/* The panel sits in a narrow sidebar on wide screens too: it follows its own width, not the window's. */
@container (max-width: 460px) {
  .wh-editor .wh-header { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .wh-editor .wh-header-actions { grid-column: 1 / -1; justify-content: flex-end; }
}
@container (max-width: 300px) {
  .wh-editor .wh-header { grid-template-columns: minmax(0, 1fr); }
}
`;

export function injectWebhookEditorStyle(doc: Document): void {
  if (doc.getElementById('wh-editor-style')) return;
  const style = doc.createElement('style');
  style.id = 'wh-editor-style';
  style.textContent = CSS;
  doc.head.append(style);
}
