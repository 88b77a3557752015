import { describe, expect, it } from 'vitest';
import { LeadershipConfigError, loadLeadershipConfig } from './leadership.config';
import { fenceAt, fenceMarginMs, parseLeaderRecord } from './leader-lease';

describe('leader election settings', () => {
  it('is off by default, with a 6 s lease, 500 ms polls and an instance id of host, pid and a random part', () => {
    const config = loadLeadershipConfig({});
    expect(config).toMatchObject({ enabled: false, leaseTtlMs: 6_000, pollIntervalMs: 500 });
    expect(config.instanceId).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{6}$`));
    expect(loadLeadershipConfig({}).instanceId).not.toBe(config.instanceId);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['TRUE', true],
    ['false', false],
    ['0', false],
    ['', false],
  ])('BENCHFARM_HA=%j -> enabled %s', (value, enabled) => {
    expect(loadLeadershipConfig({ BENCHFARM_HA: value }).enabled).toBe(enabled);
  });

  it('takes the TTL, poll interval and instance id from their variables', () => {
    expect(loadLeadershipConfig({ BENCHFARM_HA: 'true', BENCHFARM_HA_LEASE_TTL_MS: '3000', BENCHFARM_HA_POLL_MS: '200', BENCHFARM_HA_INSTANCE_ID: 'coord-b' })).toEqual({
      enabled: true,
      leaseTtlMs: 3_000,
      pollIntervalMs: 200,
      instanceId: 'coord-b',
    });
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadLeadershipConfig({ BENCHFARM_HA: 'yes', BENCHFARM_HA_LEASE_TTL_MS: '900', BENCHFARM_HA_POLL_MS: 'fast', BENCHFARM_HA_INSTANCE_ID: 'a b' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LeadershipConfigError);
    expect((error as LeadershipConfigError).issues).toEqual([
      'BENCHFARM_HA: "yes" must be true, false, 1 or 0',
      'BENCHFARM_HA_LEASE_TTL_MS: "900" must be an integer from 1500 to 600000',
      'BENCHFARM_HA_POLL_MS: "fast" must be an integer from 50 to 60000',
      'BENCHFARM_HA_INSTANCE_ID: "a b" must be 1-128 characters of A-Z a-z 0-9 _ . -',
    ]);
  });

  it('refuses a poll interval as long as the lease', () => {
    expect(() => loadLeadershipConfig({ BENCHFARM_HA_LEASE_TTL_MS: '2000', BENCHFARM_HA_POLL_MS: '2000' })).toThrow(/BENCHFARM_HA_POLL_MS: 2000 must be below BENCHFARM_HA_LEASE_TTL_MS \(2000\)/);
  });
});

describe('leader record and fence (pure)', () => {
  it('parses a record and refuses what is not one', () => {
    const record = { instanceId: 'a', host: 'h', pid: 7, state: 'serving', httpUrl: 'http://h:8080', grpcAddress: 'h:50051', sinceUnixMs: 1, renewedAtUnixMs: 2 };
    expect(parseLeaderRecord(new TextEncoder().encode(JSON.stringify(record)))).toEqual(record);
    expect(parseLeaderRecord(new TextEncoder().encode(JSON.stringify({ ...record, state: 'leading' })))).toBeUndefined();
    expect(parseLeaderRecord(new TextEncoder().encode(JSON.stringify({ ...record, pid: '7' })))).toBeUndefined();
    expect(parseLeaderRecord(new TextEncoder().encode('not json'))).toBeUndefined();
    expect(parseLeaderRecord(new Uint8Array(5_000).fill(32))).toBeUndefined();
  });

  it.each([
    [6_000, 1_000, 5_000],
    [1_500, 250, 1_250],
    [30_000, 1_000, 29_000],
  ])('TTL %i ms: margin %i ms, fence %i ms after the confirmed renewal was sent', (ttlMs, margin, after) => {
    expect(fenceMarginMs(ttlMs)).toBe(margin);
    expect(fenceAt(10_000, ttlMs) - 10_000).toBe(after);
  });
});
