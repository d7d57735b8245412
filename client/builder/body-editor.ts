import type { CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import { autocompletion } from '@codemirror/autocomplete';
import { json } from '@codemirror/lang-json';
import { bracketMatching } from '@codemirror/language';
import type { Diagnostic } from '@codemirror/lint';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { minimalSetup } from 'codemirror';
import type { Extension } from '@codemirror/state';
import { Annotation, Compartment, EditorState } from '@codemirror/state';
import type { DecorationSet, ViewUpdate } from '@codemirror/view';
import {
  Decoration,
  EditorView,
  MatchDecorator,
  ViewPlugin,
  highlightActiveLine,
  highlightActiveLineGutter,
  lineNumbers,
} from '@codemirror/view';

/** A problem to pin in the body: 1-based line and column, as the API reports them. */
export interface PinnedProblem {
  message: string;
  line?: number;
  column?: number;
  severity?: 'error' | 'warning';
}

/** Marks our own document replacements (a revert), which are not user edits. */
const programmatic = Annotation.define<boolean>();

/** Django/nunjucks tags: `{{ … }}` variables, `{% … %}` tags and `{# … #}` comments. */
const templateTagDecorator = new MatchDecorator({
  regexp: /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g,
  decoration: (m) => {
    const kind = m[0].startsWith('{{') ? 'var' : m[0].startsWith('{%') ? 'tag' : 'comment';
    return Decoration.mark({ class: `cm-tpl cm-tpl-${kind}` });
  },
});

const templateTags = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = templateTagDecorator.createDeco(view);
    }
    update(u: ViewUpdate) {
      this.decorations = templateTagDecorator.updateDeco(u, this.decorations);
    }
  },
  { decorations: (v) => v.decorations },
);

const theme = EditorView.theme({
  '&': {
    fontSize: '13px',
    border: '1px solid var(--line, #e3e7ee)',
    borderRadius: '6px',
    background: '#fff',
  },
  '&.cm-focused': { outline: '2px solid var(--info, #3b6fd8)', outlineOffset: '1px' },
  '.cm-content': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', minHeight: '140px' },
  '.cm-scroller': { maxHeight: '360px', overflow: 'auto' },
  '.cm-tpl-var': { color: '#7a3fc1', background: '#f3ecfc', borderRadius: '3px' },
  '.cm-tpl-tag': { color: '#a0520b', background: '#fdf1e3', borderRadius: '3px' },
  '.cm-tpl-comment': { color: '#6b7480', fontStyle: 'italic' },
});

export interface BodyEditorOptions {
  doc: string;
  readOnly: boolean;
  label: string;
  describedBy: string;
  /** The variables to complete inside `{{ … }}` (Ctrl+Space): the text after `{{ ` and its example. */
  completions(): { label: string; detail: string }[];
  /** Every change of the document, whether typed, pasted or inserted from the variables panel. */
  onEdit(doc: string, before: string): void;
}

/**
 * The webhook body's editor: CodeMirror 6 with line numbers, JSON highlighting and template-tag
 * highlighting. Brackets are deliberately not closed automatically: what is typed is what is stored.
 */
export class BodyEditor {
  readonly view: EditorView;
  private readonly editable = new Compartment();

  constructor(parent: HTMLElement, opts: BodyEditorOptions) {
    const extensions: Extension[] = [
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightActiveLine(),
      // History, default keys and highlighting; basicSetup is avoided because it closes brackets.
      minimalSetup,
      bracketMatching(),
      json(),
      templateTags,
      lintGutter(),
      // Only on request (Ctrl+Space): a popup that opened while typing would take the Enter key.
      autocompletion({ override: [(c) => BodyEditor.complete(c, opts)], activateOnTyping: false }),
      EditorView.lineWrapping,
      theme,
      EditorView.contentAttributes.of({
        'aria-label': opts.label,
        'aria-describedby': opts.describedBy,
        'aria-multiline': 'true',
      }),
      this.editable.of(BodyEditor.editability(opts.readOnly)),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        if (u.transactions.some((t) => t.annotation(programmatic))) return;
        opts.onEdit(u.state.doc.toString(), u.startState.doc.toString());
      }),
    ];
    this.view = new EditorView({ parent, state: EditorState.create({ doc: opts.doc, extensions }) });
  }

  /** Inside `{{ `, the variables whose text starts like what is typed after it. */
  private static complete(context: CompletionContext, opts: BodyEditorOptions): CompletionResult | null {
    const before = context.matchBefore(/\{\{\s*[\w.|:"' -]*$/);
    if (!before) return null;
    const typed = /^\{\{\s*/.exec(before.text)![0].length;
    return {
      from: before.from + typed,
      options: opts.completions().map((c) => ({ label: c.label, detail: c.detail, type: 'variable' })),
      validFor: /^[\w.|:"' -]*$/,
    };
  }

  private static editability(readOnly: boolean): Extension {
    return [EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)];
  }

  get doc(): string {
    return this.view.state.doc.toString();
  }

  setReadOnly(readOnly: boolean): void {
    this.view.dispatch({ effects: this.editable.reconfigure(BodyEditor.editability(readOnly)) });
  }

  /** Replaces the whole text without counting as a user edit (a revert, or a saved step's body). */
  replace(doc: string): void {
    this.view.dispatch({
      changes: { from: 0, to: this.view.state.doc.length, insert: doc },
      annotations: programmatic.of(true),
    });
  }

  /** Inserts at the cursor (replacing a selection), leaves the cursor after it and focuses the editor. */
  insertAtCursor(text: string): void {
    const { from, to } = this.view.state.selection.main;
    this.view.dispatch({
      changes: { from, to, insert: text },
      selection: { anchor: from + text.length },
      scrollIntoView: true,
      userEvent: 'input.variable',
    });
    this.view.focus();
  }

  /** Pins problems to their line and column as lint diagnostics (an empty list clears them). */
  pin(problems: PinnedProblem[]): void {
    const doc = this.view.state.doc;
    const diagnostics: Diagnostic[] = problems.map((p) => {
      const lineNo = Math.min(Math.max(p.line ?? 1, 1), doc.lines);
      const line = doc.line(lineNo);
      const from =
        p.column !== undefined ? Math.min(line.from + Math.max(p.column - 1, 0), line.to) : line.from;
      const to = p.column !== undefined ? Math.min(from + 1, line.to) : line.to;
      return { from, to: Math.max(to, from), severity: p.severity ?? 'error', message: p.message };
    });
    this.view.dispatch(setDiagnostics(this.view.state, diagnostics));
  }

  focus(): void {
    this.view.focus();
  }

  destroy(): void {
    this.view.destroy();
  }
}
