import { describe, expect, it } from 'vitest';
import { field, initials, secondsLeft, visitorName } from './format';

describe('format', () => {
  it('shows a dash for missing or blank fields', () => {
    expect(field(undefined)).toBe('-');
    expect(field(null)).toBe('-');
    expect(field('   ')).toBe('-');
    expect(field('x')).toBe('x');
  });
  it('names and initials', () => {
    expect(visitorName({ id: 1 })).toBe('A visitor');
    expect(visitorName({ id: 1, name: ' Ana ' })).toBe('Ana');
    expect(initials({ id: 1, name: 'Ana María López' })).toBe('AL');
    expect(initials({ id: 1 })).toBe('?');
  });
  it('counts down in whole seconds, never below zero', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(secondsLeft('2026-01-01T00:00:45Z', now)).toBe(45);
    expect(secondsLeft('2026-01-01T00:00:44.2Z', now)).toBe(45);
    expect(secondsLeft('2025-12-31T23:59:00Z', now)).toBe(0);
  });
});
