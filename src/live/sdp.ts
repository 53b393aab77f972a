/** Small, pure SDP helpers for the signalling edge. */
import { AppError } from '../errors.js';

const MAX_SDP_BYTES = 64 * 1024;
/** Media sections in one offer: a camera needs one video section, perhaps audio and a data channel. */
export const MAX_SDP_SECTIONS = 8;
/** ICE candidates one session takes, in its offer and trickled (WHIP PATCH and live.ice) together. */
export const MAX_ICE_CANDIDATES = 64;
/** ICE candidates in one trickle request (a WHIP PATCH body or one live.ice message). */
export const MAX_ICE_PER_REQUEST = 32;

/** Counts the lines of `text` that start with `prefix`, stopping as soon as the count passes `max`. */
export function countLines(text: string, prefix: string, max: number): number {
  let n = 0;
  for (let at = text.startsWith(prefix) ? 0 : text.indexOf(`\n${prefix}`); at !== -1; at = text.indexOf(`\n${prefix}`, at + 1)) {
    if (++n > max) break;
  }
  return n;
}

/** Checks that a client's offer is an SDP offer with a video section; throws VALIDATION_FAILED otherwise. */
export function assertVideoOffer(sdp: unknown): asserts sdp is string {
  if (typeof sdp !== 'string' || sdp.length === 0) throw new AppError('VALIDATION_FAILED', 'The offer must be an SDP string.');
  if (sdp.length > MAX_SDP_BYTES) throw new AppError('VALIDATION_FAILED', `The offer is larger than ${MAX_SDP_BYTES} bytes.`);
  if (!/^v=0\r?\n/.test(sdp)) throw new AppError('VALIDATION_FAILED', 'The offer is not SDP (it must start with "v=0").');
  // Bound the work a peer connection does on it before handing it over (each section and candidate costs).
  if (countLines(sdp, 'm=', MAX_SDP_SECTIONS) > MAX_SDP_SECTIONS) {
    throw new AppError('VALIDATION_FAILED', `The offer has more than ${MAX_SDP_SECTIONS} media sections.`);
  }
  if (countLines(sdp, 'a=candidate:', MAX_ICE_CANDIDATES) > MAX_ICE_CANDIDATES) {
    throw new AppError('VALIDATION_FAILED', `The offer has more than ${MAX_ICE_CANDIDATES} ICE candidates.`);
  }
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
export type LiveCodec = 'vp8' | 'h264';

export function liveCodecOf(mimeType: string): LiveCodec | undefined {
  const m = mimeType.toLowerCase();
  return m === 'video/vp8' ? 'vp8' : m === 'video/h264' ? 'h264' : undefined;
}

/**
 * The candidates of a WHIP trickle body (RFC 8840 `application/trickle-ice-sdpfrag`), as RTCIceCandidateInit
 * objects. Refuses more than MAX_ICE_PER_REQUEST before building any of them.
 */
export function trickleCandidates(fragment: string): Array<{ candidate: string; sdpMLineIndex: number; sdpMid?: string }> {
  if (countLines(fragment, 'a=candidate:', MAX_ICE_PER_REQUEST) > MAX_ICE_PER_REQUEST) {
    throw new AppError('VALIDATION_FAILED', `Send at most ${MAX_ICE_PER_REQUEST} candidates in one request.`);
  }
  const lines = fragment.split(/\r?\n/);
  const mid = lines.find((l) => l.startsWith('a=mid:'))?.slice('a=mid:'.length).trim();
  return lines
    .filter((l) => l.startsWith('a=candidate:'))
    .map((l) => ({ candidate: l.slice(2).trim(), sdpMLineIndex: 0, ...(mid ? { sdpMid: mid } : {}) }));
}

/**
 * Trickled candidates as werift takes them: each a candidate string (its m-line index defaults to 0, the video
 * section) or {candidate, sdpMid, sdpMLineIndex}. VALIDATION_FAILED for more than MAX_ICE_PER_REQUEST or any
 * malformed one, before any is used.
 */
export function iceCandidateInits(candidates: readonly unknown[]): Array<{ candidate: string; sdpMLineIndex: number; sdpMid?: string }> {
  if (candidates.length > MAX_ICE_PER_REQUEST) {
    throw new AppError('VALIDATION_FAILED', `Send at most ${MAX_ICE_PER_REQUEST} candidates in one request.`);
  }
  return candidates.map((candidate) => {
    const c = typeof candidate === 'string' ? { candidate, sdpMLineIndex: 0 } : candidate;
    const o = c as { candidate?: unknown; sdpMid?: unknown; sdpMLineIndex?: unknown } | null;
    if (
      typeof o !== 'object' || o === null || typeof o.candidate !== 'string' || o.candidate.length > 512 ||
      (o.sdpMid !== undefined && o.sdpMid !== null && typeof o.sdpMid !== 'string') ||
      (o.sdpMLineIndex !== undefined && o.sdpMLineIndex !== null && !Number.isInteger(o.sdpMLineIndex))
    ) {
      throw new AppError('VALIDATION_FAILED', 'candidate must be an ICE candidate string or {candidate, sdpMid, sdpMLineIndex}.');
    }
    return { candidate: o.candidate, sdpMLineIndex: typeof o.sdpMLineIndex === 'number' ? o.sdpMLineIndex : 0, ...(typeof o.sdpMid === 'string' ? { sdpMid: o.sdpMid } : {}) };
  });
}
