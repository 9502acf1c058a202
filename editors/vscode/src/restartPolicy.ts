/**
 * Restart-on-crash limit: restart while fewer than `maxRestarts` crashes happened within
 * `windowMs`, then give up (the user can restart by hand).
 *
 * Pure logic: no `vscode` import.
 */
export class RestartPolicy {
  private readonly crashes: number[] = [];

  constructor(
    private readonly maxRestarts: number,
    private readonly windowMs: number = 3 * 60 * 1000,
  ) {}

  /** Records a crash at `now` and tells whether the server should be restarted. */
  shouldRestart(now: number): boolean {
    this.crashes.push(now);
    while (this.crashes.length > 0 && now - (this.crashes[0] ?? now) > this.windowMs) {
      this.crashes.shift();
    }
    return this.crashes.length <= this.maxRestarts;
  }

  /** Forgets earlier crashes (after a manual restart). */
  reset(): void {
    this.crashes.length = 0;
  }

  get recentCrashes(): number {
    return this.crashes.length;
  }
}
