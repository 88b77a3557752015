import { describe, expect, it } from 'vitest';
import { CloserStack } from './closer-stack';

describe('CloserStack', () => {
  it('closes last opened first, goes on past a failing closer, and closes once', async () => {
    const order: string[] = [];
    const failed: string[] = [];
    const stack = new CloserStack((name, err) => failed.push(`${name}: ${(err as Error).message}`));
    stack.push('nats', async () => void order.push('nats'));
    stack.push('channels', () => void order.push('channels'));
    stack.push('sensors', () => {
      throw new Error('stuck');
    });
    stack.push('timer', () => void order.push('timer'));
    expect(stack.size).toBe(4);
    await Promise.all([stack.closeAll(), stack.closeAll()]);
    await stack.closeAll();
    expect(order).toEqual(['timer', 'channels', 'nats']);
    expect(failed).toEqual(['sensors: stuck']);
    expect(stack.size).toBe(0);
  });
});
