import { describe, expect, it } from 'vitest';
import { parseCpuinfoModel, parseProcStatusBytes } from './machine';

const STATUS = `Name:\tnode
VmPeak:\t 1234568 kB
VmHWM:\t  141396 kB
VmRSS:\t  137104 kB
RssAnon:\t   60000 kB
`;

describe('parseProcStatusBytes', () => {
  it.each([
    { key: 'VmHWM' as const, bytes: 141_396 * 1024 },
    { key: 'VmRSS' as const, bytes: 137_104 * 1024 },
  ])('$key', ({ key, bytes }) => {
    expect(parseProcStatusBytes(STATUS, key)).toBe(bytes);
  });

  it('is undefined when the line is missing (kernel threads have no Vm lines)', () => {
    expect(parseProcStatusBytes('Name:\tkthreadd\n', 'VmHWM')).toBeUndefined();
  });
});

describe('parseCpuinfoModel', () => {
  it.each([
    { name: 'x86', text: 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 1\nmodel name\t: AMD EPYC 7B13\n', model: 'AMD EPYC 7B13' },
    { name: 'Raspberry Pi', text: 'processor\t: 0\nBogoMIPS\t: 108.00\n\nRevision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n', model: 'Raspberry Pi 5 Model B Rev 1.0' },
    { name: 'old ARM', text: 'Processor\t: ARMv7\nHardware\t: BCM2835\n', model: 'BCM2835' },
    { name: 'nothing', text: 'processor\t: 0\n', model: undefined },
  ])('$name', ({ text, model }) => {
    expect(parseCpuinfoModel(text)).toBe(model);
  });
});
