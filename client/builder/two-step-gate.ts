/**
 * Asks the builder once whether the viewer may edit a webhook's URL, headers or body (two-step
 * authentication on). Edits made while the question is open wait for the answer; a "no" is asked
 * again at the next edit, since the viewer may have set two-step up in the meantime.
 */
export class TwoStepGate {
  private allowed = false;
  private open: Promise<boolean> | undefined;

  constructor(private readonly ask: () => Promise<boolean>) {}

  get ok(): boolean {
    return this.allowed;
  }

  get pending(): boolean {
    return this.open !== undefined;
  }

  check(): Promise<boolean> {
    if (this.allowed) return Promise.resolve(true);
    this.open ??= this.ask()
      .catch(() => false)
      .then((ok) => {
        this.open = undefined;
        if (ok) this.allowed = true;
        return ok;
      });
    return this.open;
  }
}
