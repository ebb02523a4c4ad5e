/**
 * Undo steps for what DLS starts while the Nest app is still being created (the embedded PostgreSQL is started by a
 * provider factory). If creation fails there is no app to `close()`, so no shutdown hook runs: `createApp` runs these
 * steps instead, newest first. Once the app exists, `app.close()` stops everything through the shutdown hooks.
 */
export class StartupRollback {
  private readonly steps: { what: string; undo: () => Promise<void> }[] = [];

  add(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /** Runs every step (newest first); a failing step is reported and the rest still run. */
  async run(report: (message: string) => void = () => undefined): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      await step.undo().catch((e: unknown) => report(`could not stop ${step.what}: ${e instanceof Error ? e.message : String(e)}`));
    }
  }
}
