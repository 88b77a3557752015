/** One forbidden action, tried again at each attempt (`attempt` lets it vary names). */
export type Attack = (attempt: number) => Promise<unknown>;

/** How often an attack was tried and how often it was denied. */
export interface AttackTally {
  attempts: number;
  denied: number;
}

/** Whether an error is nats-server's permission violation (in the error or its cause). */
export function isNatsPermissionError(err: unknown): boolean {
  return /Permissions Violation/i.test(`${String(err)} ${String((err as { cause?: unknown })?.cause ?? '')}`);
}

/**
 * Runs every attack `attempts` times, one after another, and counts the denials. An attempt
 * that succeeds or fails for another reason is not a denial (the caller's assertion then
 * fails); its error is logged so the reason is visible.
 */
export async function tallyAttacks(
  attacks: Record<string, Attack>,
  attempts: number,
  isDenied: (err: unknown) => boolean,
  log: (line: string) => void,
): Promise<{ results: Record<string, AttackTally>; attempts: number; denied: number }> {
  const results: Record<string, AttackTally> = {};
  for (const [name, attack] of Object.entries(attacks)) {
    const tally = { attempts: 0, denied: 0 };
    for (let i = 0; i < attempts; i += 1) {
      tally.attempts += 1;
      try {
        await attack(i);
        log(`${name}: attempt ${i} was allowed`);
      } catch (err) {
        if (isDenied(err)) tally.denied += 1;
        else log(`${name}: not a denial: ${String(err)}`);
      }
    }
    results[name] = tally;
  }
  const totals = Object.values(results).reduce((sum, r) => ({ attempts: sum.attempts + r.attempts, denied: sum.denied + r.denied }), { attempts: 0, denied: 0 });
  return { results, ...totals };
}
