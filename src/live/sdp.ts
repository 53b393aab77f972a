/** Small, pure SDP helpers for the signalling edge. */
import { AppError } from '../errors.js';

const MAX_SDP_BYTES = 64 * 1024;

/** Checks that a client's offer is an SDP offer with a video section; throws VALIDATION_FAILED otherwise. */
export function assertVideoOffer(sdp: unknown): asserts sdp is string {
  if (typeof sdp !== 'string' || sdp.length === 0) throw new AppError('VALIDATION_FAILED', 'The offer must be an SDP string.');
  if (sdp.length > MAX_SDP_BYTES) throw new AppError('VALIDATION_FAILED', `The offer is larger than ${MAX_SDP_BYTES} bytes.`);
  if (!/^v=0\r?\n/.test(sdp)) throw new AppError('VALIDATION_FAILED', 'The offer is not SDP (it must start with "v=0").');
  const video = sdp.split(/^(?=m=)/m).filter((section) => section.startsWith('m=video '));
  if (video.length === 0) throw new AppError('VALIDATION_FAILED', 'The offer has no video section (m=video).');
  // A section without a direction attribute is sendrecv (RFC 4566).
  const sends = video.some((section) => !/^a=(?:recvonly|inactive)\s*$/m.test(section) && !/^m=video 0 /.test(section));
  if (!sends) throw new AppError('VALIDATION_FAILED', 'The offer does not send video (its video section must be sendonly or sendrecv).');
}

/**
 * For a server behind 1:1 NAT: next to every IPv4 host candidate, announce the same port on the public
 * address. The original candidates stay, so clients on the same network still connect directly.
 */
export function announceAddress(sdp: string, address: string | undefined): string {
  if (!address) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  for (const line of sdp.split(eol)) {
    out.push(line);
    // a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ host ...
    const m = /^a=candidate:(\S+) (\d+) (\S+) (\d+) (\d{1,3}(?:\.\d{1,3}){3}) (\d+) typ host(.*)$/.exec(line);
    if (m && m[5] !== address) {
      const priority = Math.max(1, Number(m[4]) - 1);
      out.push(`a=candidate:${m[1]}n ${m[2]} ${m[3]} ${priority} ${address} ${m[6]} typ host${m[7]}`);
    }
  }
  return out.join(eol);
}

/** Which codec a negotiated mime type is, for the codecs this server decodes. */
export function liveCodecOf(mimeType: string): 'vp8' | 'h264' | undefined {
  const m = mimeType.toLowerCase();
  return m === 'video/vp8' ? 'vp8' : m === 'video/h264' ? 'h264' : undefined;
}
