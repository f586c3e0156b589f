import { describe, it, expect } from 'vitest';
import { expectedWaitSeconds } from '../../src/handoff/expected-wait.ts';

describe('expected wait', () => {
  const base = { position: 1, agentsOnline: 1, avgHandlingSeconds: null, defaultHandlingSeconds: 300, chatsPerAgent: 2 };

  it('shares the handling time out over the agents on duty and their parallel chats, per place in the queue', () => {
    expect(expectedWaitSeconds(base)).toBe(150);
    expect(expectedWaitSeconds({ ...base, position: 3 })).toBe(450);
    expect(expectedWaitSeconds({ ...base, agentsOnline: 3 })).toBe(50);
    expect(expectedWaitSeconds({ ...base, avgHandlingSeconds: 600 })).toBe(300);
  });

  it('assumes one agent while nobody is on duty and keeps each place between 30 s and 30 min', () => {
    expect(expectedWaitSeconds({ ...base, agentsOnline: 0 })).toBe(150);
    expect(expectedWaitSeconds({ ...base, agentsOnline: 50 })).toBe(30);
    expect(expectedWaitSeconds({ ...base, avgHandlingSeconds: 100_000, position: 2 })).toBe(3600);
  });
});
