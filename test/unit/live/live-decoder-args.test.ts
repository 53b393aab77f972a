import { describe, expect, it } from 'vitest';
import { liveDecoderArgs } from '../../../src/media/live-decoder.js';

const base = { codec: 'vp8', target: [256, 256], resize: 'letterbox' } as const;

/** The value following `flag` in `args`. */
function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

describe('liveDecoderArgs', () => {
  it.each([['5.1.6-0+deb12u1'], ['5.1'], ['6.0'], ['7.1.1'], ['n6.1.2']])(
    'uses -fps_mode passthrough for ffmpeg %s',
    (ffmpegVersion) => {
      const args = liveDecoderArgs({ ...base, ffmpegVersion });
      expect(after(args, '-fps_mode')).toBe('passthrough');
      expect(args).not.toContain('-vsync');
    },
  );

  // Git builds have no release number; the bundled @ffmpeg-installer one (N-47683, 2018) has no -fps_mode.
  it.each([['4.4.2-0ubuntu0.22.04.1'], ['4.3'], ['n4.4'], ['5.0.1'], ['3.4.11'], ['N-47683-g0e8eb07980-static'], ['2023-05-01-git-abc']])('uses -vsync passthrough for ffmpeg %s', (ffmpegVersion) => {
    const args = liveDecoderArgs({ ...base, ffmpegVersion });
    expect(after(args, '-vsync')).toBe('passthrough');
    expect(args).not.toContain('-fps_mode');
  });

  it('reads IVF from stdin and writes PPM images to stdout, and nothing else without a recording', () => {
    const args = liveDecoderArgs({ ...base, ffmpegVersion: '5.1.6' });
    expect(args.slice(args.indexOf('-f'), args.indexOf('-i') + 2)).toEqual(['-f', 'ivf', '-copyts', '-i', 'pipe:0']);
    expect(after(args, '-c:v')).toBe('ppm');
    expect(args.at(-1)).toBe('pipe:1');
    expect(args.filter((a) => a === '-map')).toHaveLength(1);
    expect(args).not.toContain('copy');
    expect(args).not.toContain('-y');
    expect(args.filter((a) => a === 'pipe:0' || a === 'pipe:1')).toEqual(['pipe:0', 'pipe:1']);
  });

  it('adds a stream-copied WebM recording for VP8', () => {
    const args = liveDecoderArgs({ ...base, ffmpegVersion: '5.1.6', recordingPath: '/rec/abc.webm' });
    expect(args.slice(args.indexOf('pipe:1') + 1)).toEqual(['-map', '0:v', '-c', 'copy', '-f', 'webm', '-cluster_time_limit', '1000', '-cluster_size_limit', '2097152', '-flush_packets', '1', '-y', '/rec/abc.webm']);
  });

  it('adds a stream-copied Matroska recording for H.264', () => {
    const args = liveDecoderArgs({ ...base, codec: 'h264', ffmpegVersion: '5.1.6', recordingPath: '/rec/abc.mkv' });
    expect(args.slice(args.indexOf('pipe:1') + 1)).toEqual(['-map', '0:v', '-c', 'copy', '-f', 'matroska', '-cluster_time_limit', '1000', '-cluster_size_limit', '2097152', '-flush_packets', '1', '-y', '/rec/abc.mkv']);
    expect(args).not.toContain('webm');
  });

  it('treats an empty recording path as none', () => {
    const args = liveDecoderArgs({ ...base, ffmpegVersion: '5.1.6', recordingPath: '' });
    expect(args.at(-1)).toBe('pipe:1');
  });

  it('scales with showinfo first: letterbox keeps the aspect, stretch fills the target', () => {
    const letterbox = after(liveDecoderArgs({ ...base, target: [416, 320], ffmpegVersion: '5.1.6' }), '-vf')!;
    expect(letterbox.startsWith('showinfo,scale=')).toBe(true);
    expect(letterbox).toContain('min(416/iw\\,320/ih)');
    const stretch = after(liveDecoderArgs({ ...base, target: [416, 320], resize: 'stretch', ffmpegVersion: '5.1.6' }), '-vf');
    expect(stretch).toBe('showinfo,scale=416:320');
  });

  it('asks for no buffering', () => {
    const args = liveDecoderArgs({ ...base, ffmpegVersion: '5.1.6' });
    expect(after(args, '-probesize')).toBe('32');
    expect(after(args, '-analyzeduration')).toBe('0');
    expect(after(args, '-flags')).toBe('low_delay');
    expect(after(args, '-threads')).toBe('1');
    expect(args).toContain('-nostdin');
  });
});
