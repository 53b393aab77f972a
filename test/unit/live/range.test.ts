import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../src/http/respond.js';

describe('parseRange', () => {
  const SIZE = 1000;

  it('no header: no range', () => {
    expect(parseRange(undefined, SIZE)).toBeUndefined();
    expect(parseRange('', SIZE)).toBeUndefined();
  });

  it('first and last byte', () => {
    expect(parseRange('bytes=0-99', SIZE)).toEqual([0, 99]);
    expect(parseRange('bytes=500-500', SIZE)).toEqual([500, 500]);
    expect(parseRange('bytes=0-999', SIZE)).toEqual([0, 999]);
    expect(parseRange(' bytes=10-19 ', SIZE)).toEqual([10, 19]);
  });

  it('open end: to the last byte', () => {
    expect(parseRange('bytes=100-', SIZE)).toEqual([100, 999]);
    expect(parseRange('bytes=0-', SIZE)).toEqual([0, 999]);
    expect(parseRange('bytes=999-', SIZE)).toEqual([999, 999]);
  });

  it('suffix: the last n bytes, all of it when n is larger than the file', () => {
    expect(parseRange('bytes=-50', SIZE)).toEqual([950, 999]);
    expect(parseRange('bytes=-1', SIZE)).toEqual([999, 999]);
    expect(parseRange('bytes=-5000', SIZE)).toEqual([0, 999]);
  });

  it('an end past the file is cut to the last byte', () => {
    expect(parseRange('bytes=900-5000', SIZE)).toEqual([900, 999]);
  });

  it('a start at or past the end is unsatisfiable', () => {
    expect(parseRange('bytes=1000-', SIZE)).toBe('invalid');
    expect(parseRange('bytes=1000-1100', SIZE)).toBe('invalid');
    expect(parseRange('bytes=5000-6000', SIZE)).toBe('invalid');
    expect(parseRange('bytes=0-', 0)).toBe('invalid');
    expect(parseRange('bytes=-10', 0)).toBe('invalid');
  });

  it('start after end is invalid', () => {
    expect(parseRange('bytes=100-50', SIZE)).toBe('invalid');
  });

  it.each([['bytes='], ['bytes=-'], ['bytes=-0'], ['bytes=abc-def'], ['bytes=1-2-3'], ['bytes 0-99'], ['items=0-99'], ['bytes=0-1,5-9'], ['bytes=-1-2'], ['0-99']])(
    'malformed: %s',
    (header) => {
      expect(parseRange(header, SIZE)).toBe('invalid');
    },
  );
});
